from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha, tmp_entries

from gitdata.cache import LocalCache
from gitdata.errors import IntegrityError, InvalidInputError, UnsafePathError


def test_publish_copy_builds_hardlinked_read_only_tree(cache: LocalCache):
    files = put_files(cache, {"a/x": b"1", "a/b/y": b"2", "z": b"1"})
    path = cache.publish_copy(ckey("v1"), files)
    assert path == cache.copy_path(ckey("v1")) and cache.has_copy(ckey("v1"))
    assert (path / "a/x").read_bytes() == b"1" and (path / "a/b/y").read_bytes() == b"2"
    assert (path / "z").stat().st_ino == cache.blob_path(sha(b"1")).stat().st_ino
    for folder in (path, path / "a", path / "a/b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert tmp_entries(cache) == []
    assert cache.usage().bytes == 2  # copies are hardlinks: no extra bytes


def test_publish_copy_is_idempotent(cache: LocalCache):
    files = put_files(cache, {"f": b"data"})
    path = cache.publish_copy(ckey("v1"), files)
    inode = (path / "f").stat().st_ino
    assert cache.publish_copy(ckey("v1"), files) == path
    assert (path / "f").stat().st_ino == inode
    assert tmp_entries(cache) == []


def test_publish_copy_loses_race_gracefully(cache: LocalCache, monkeypatch):
    files = put_files(cache, {"f": b"data", "d/g": b"more"})
    other = LocalCache(cache.root)  # stands for another process
    real_build = LocalCache._build_copy

    def racing_build(self, key, files, staging, fill, *more):
        if self is cache:
            other.publish_copy(key, files)  # the other process wins the rename
        return real_build(self, key, files, staging, fill, *more)

    monkeypatch.setattr(LocalCache, "_build_copy", racing_build)
    path = cache.publish_copy(ckey("v1"), files)
    assert (path / "d/g").read_bytes() == b"more"
    assert sorted(p.name for p in path.iterdir()) == ["d", "f"]
    assert tmp_entries(cache) == []


def test_publish_copy_missing_blob_fails_cleanly(cache: LocalCache):
    files = put_files(cache, {"a": b"1"}) + [("b", sha(b"never stored"))]
    with pytest.raises(IntegrityError) as info:
        cache.publish_copy(ckey("v1"), files)
    assert info.value.sha256 == sha(b"never stored")
    assert not cache.has_copy(ckey("v1"))
    assert tmp_entries(cache) == []


def test_publish_copy_fill_writes_missing_content_once(cache: LocalCache):
    files = put_files(cache, {"have": b"cached"})
    files += [("new/one", sha(b"fresh")), ("new/two", sha(b"fresh")), ("n3", sha(b"x"))]
    asked: list[list[tuple[str, str]]] = []

    def fill(staging: Path, missing: list[tuple[str, str]]) -> None:
        asked.append(missing)
        content = {sha(b"fresh"): b"fresh", sha(b"x"): b"x"}
        for rel, s in missing:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(staging / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            os.write(fd, content[s])
            os.close(fd)

    path = cache.publish_copy(ckey("v1"), files, fill)
    assert asked == [[("new/one", sha(b"fresh")), ("n3", sha(b"x"))]]  # one path per content
    assert (path / "new/two").read_bytes() == b"fresh"
    assert cache.has_blob(sha(b"fresh"), 5) and cache.has_blob(sha(b"x"), 1)
    # the written file became the blob: one inode for blob, first and second path
    inodes = {(path / p).stat().st_ino for p in ("new/one", "new/two")}
    assert inodes == {cache.blob_path(sha(b"fresh")).stat().st_ino}
    assert stat.S_IMODE((path / "new").stat().st_mode) == 0o555


def test_publish_copy_copies_when_a_blob_has_too_many_links(cache: LocalCache, monkeypatch):
    files = put_files(cache, {"a": b"1", "b": b"2"})
    real_link = os.link

    def link(src, dst, *a, **kw):
        if str(src).endswith(sha(b"1")):
            raise OSError(errno.EMLINK, "too many links")
        return real_link(src, dst, *a, **kw)

    monkeypatch.setattr(os, "link", link)
    path = cache.publish_copy(ckey("v1"), files)
    assert (path / "a").read_bytes() == b"1"
    assert (path / "a").stat().st_ino != cache.blob_path(sha(b"1")).stat().st_ino
    assert (path / "a").stat().st_mode & 0o222 == 0
    assert (path / "b").stat().st_ino == cache.blob_path(sha(b"2")).stat().st_ino


@pytest.mark.parametrize(
    "key", ["../evil", "a/b", "", ".", "..", "v 1", "v\x00", "thesis", "0123abcd", "A" * 32]
)
def test_bad_copy_keys_refused(cache: LocalCache, key: str):
    with pytest.raises(InvalidInputError):
        cache.copy_path(key)
    with pytest.raises(InvalidInputError):
        cache.publish_copy(key, [])


def test_good_copy_keys_accepted(cache: LocalCache):
    files = put_files(cache, {"f": b"1"})
    for key in ("0123abcd" * 4, "0123abcd" * 4 + ".part-1-of-4"):
        assert cache.publish_copy(key, files).name == key


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b", "a//b", "a/./b", "a\x00b", "d/"])
def test_publish_copy_refuses_unsafe_paths(cache: LocalCache, bad: str):
    files = put_files(cache, {"ok": b"1"})
    with pytest.raises(UnsafePathError):
        cache.publish_copy(ckey("v1"), files + [(bad, files[0][1])])
    assert not cache.has_copy(ckey("v1"))
    assert tmp_entries(cache) == []
