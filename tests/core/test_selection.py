"""Selections of a partial get: their cache keys and the order of their steps."""

from __future__ import annotations

import pytest

from gitdata.cache.owned import is_copy_key
from gitdata.core.manifest import FileEntry
from gitdata.core.selection import Selection, select
from gitdata.errors import LocalPathNotFoundError

VID = "0123abcd" * 4


def entry(path: str, chunk: str = "c" * 64) -> FileEntry:
    return FileEntry(path=path, size=1, sha256="a" * 64, chunk=chunk, offset=0, length=1)


def test_copy_keys_tell_selections_apart_and_the_cache_accepts_them():
    keys = {
        Selection.of().copy_key(VID),
        Selection.of("a").copy_key(VID),
        Selection.of("b").copy_key(VID),
        Selection.of("a", only_added=True).copy_key(VID),
        Selection.of("a", part=0, num_parts=2).copy_key(VID),
        Selection.of(only_added=True).copy_key(VID),
    }
    assert len(keys) == 6 and all(is_copy_key(k) for k in keys)
    assert Selection.of().copy_key(VID) == VID
    assert Selection.of(["b", "a/", "a"]).copy_key(VID) == Selection.of(["a", "b"]).copy_key(VID)


def test_filter_first_then_added_then_part():
    entries = [entry(p) for p in ("a/1", "a/2", "a/3", "a/4", "b/1")]
    sel = Selection.of("a", only_added=True, part=0, num_parts=2)
    picked = select(entries, sel, changed=lambda: {"a/1", "a/2", "b/1"})
    other = select(entries, Selection.of("a", only_added=True, part=1, num_parts=2),
                   changed=lambda: {"a/1", "a/2", "b/1"})  # fmt: skip
    assert sorted(e.path for e in picked + other) == ["a/1", "a/2"]


def test_an_empty_shard_is_no_error_but_an_empty_filter_is():
    entries = [entry("a")]
    shards = [select(entries, Selection.of(part=i, num_parts=2)) for i in range(2)]
    assert sorted(len(s) for s in shards) == [0, 1]
    with pytest.raises(LocalPathNotFoundError, match="no file matches"):
        select(entries, Selection.of("zz"))
