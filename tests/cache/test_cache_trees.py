from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from cachehelpers import put_files, sha

from gitdata.cache import LocalCache
from gitdata.errors import IntegrityError, UnsafePathError


class RecordingProgress:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def start(self, description: str, total: int | None) -> None:
        self.calls.append(("start", total))

    def advance(self, amount: int = 1) -> None:
        self.calls.append(("advance", amount))

    def finish(self) -> None:
        self.calls.append(("finish",))


def test_link_tree_hardlinks_blobs(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"1", "d/e/b": b"2", "d/c": b"1"})
    target = tmp_path / "out"
    cache.link_tree(files, target)
    assert (target / "d/e/b").read_bytes() == b"2"
    assert (target / "d/c").stat().st_ino == cache.blob_path(sha(b"1")).stat().st_ino
    assert not (target / "a").is_symlink()


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM])
def test_link_tree_falls_back_to_symlinks(cache: LocalCache, tmp_path: Path, monkeypatch, code):
    files = put_files(cache, {"a": b"1", "d/b": b"2"})
    calls = []

    def no_link(src, dst, *a, **kw):
        calls.append(dst)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_link)
    cache.link_tree(files, tmp_path / "t")
    assert (tmp_path / "t/a").is_symlink() and (tmp_path / "t/d/b").read_bytes() == b"2"
    assert os.readlink(tmp_path / "t/a") == str(cache.blob_path(sha(b"1")))
    assert len(calls) == 1  # after the first refusal, no more hardlink attempts


def test_link_tree_other_errors_are_not_hidden(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"1"})
    (tmp_path / "t").mkdir()
    (tmp_path / "t/a").write_bytes(b"already here")
    with pytest.raises(FileExistsError):
        cache.link_tree(files, tmp_path / "t")
    assert not (tmp_path / "t/a").is_symlink()


def test_link_tree_missing_blob(cache: LocalCache, tmp_path: Path):
    with pytest.raises(IntegrityError):
        cache.link_tree([("a", sha(b"absent"))], tmp_path / "t")


def test_copy_tree_makes_independent_writable_files(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"one", "d/b": b"two", "d/c": b"one"})
    target = tmp_path / "t"
    progress = RecordingProgress()
    assert cache.copy_tree(files, target, progress) == []
    assert progress.calls == [("start", 3)] + [("advance", 1)] * 3 + [("finish",)]
    for rel, content in (("a", b"one"), ("d/b", b"two"), ("d/c", b"one")):
        p = target / rel
        assert p.read_bytes() == content
        assert p.stat().st_mode & stat.S_IWUSR
        assert p.stat().st_ino != cache.blob_path(sha(content)).stat().st_ino
    (target / "a").write_bytes(b"changed")
    assert cache.blob_path(sha(b"one")).read_bytes() == b"one"
    assert sorted(p.name for p in target.rglob(".*")) == []  # no temporary files left


def test_copy_tree_detects_corrupt_and_missing_blobs(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"one", "b": b"two", "c/again": b"two"})
    files.append(("gone", sha(b"never stored")))
    blob = cache.blob_path(sha(b"two"))
    blob.chmod(0o644)
    blob.write_bytes(b"TWO")
    bad = cache.copy_tree(files, tmp_path / "t")
    assert bad == ["b", "c/again", "gone"]
    assert not cache.has_blob(sha(b"two"))  # the corrupt blob left the cache
    assert cache.has_blob(sha(b"one"))
    assert not (tmp_path / "t/b").exists() and not (tmp_path / "t/c/again").exists()
    assert (tmp_path / "t/a").read_bytes() == b"one"
    assert [p.name for p in (tmp_path / "t").rglob(".gd-*")] == []


def test_copy_tree_never_leaves_partial_file_under_final_name(
    cache: LocalCache, tmp_path: Path, monkeypatch
):
    files = put_files(cache, {"d/a": b"x" * 5000})

    def failing_replace(src, dst, *a, **kw):
        raise OSError(errno.EIO, "simulated crash before publishing")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        cache.copy_tree(files, tmp_path / "t")
    assert list((tmp_path / "t/d").iterdir()) == []  # neither final nor temporary file


def test_copy_tree_writes_under_a_temporary_name(cache: LocalCache, tmp_path: Path, monkeypatch):
    files = put_files(cache, {"d/a": b"y" * 5000})
    final = tmp_path / "t/d/a"
    seen_while_writing: list[bool] = []
    real_write, real_range = os.write, os.copy_file_range

    def spying_write(fd, data):
        seen_while_writing.append(final.exists())
        return real_write(fd, data)

    def spying_range(*args, **kwargs):
        seen_while_writing.append(final.exists())
        return real_range(*args, **kwargs)

    monkeypatch.setattr(os, "write", spying_write)
    monkeypatch.setattr(os, "copy_file_range", spying_range)
    assert cache.copy_tree(files, tmp_path / "t") == []
    assert seen_while_writing and not any(seen_while_writing)
    assert final.read_bytes() == b"y" * 5000


def test_copy_tree_overwrites_existing_file(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"new"})
    (tmp_path / "t").mkdir()
    (tmp_path / "t/a").write_bytes(b"old content")
    assert cache.copy_tree(files, tmp_path / "t") == []
    assert (tmp_path / "t/a").read_bytes() == b"new"


BAD_PATHS = ["../x", "/abs", "a/../../b", "a//b", "a/./b", "a\x00b", "..", ""]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_unsafe_relative_paths_refused_before_writing(cache: LocalCache, tmp_path: Path, bad):
    files = put_files(cache, {"ok": b"1"})
    listing = files + [(bad, files[0][1])]
    with pytest.raises(UnsafePathError):
        cache.link_tree(listing, tmp_path / "t")
    with pytest.raises(UnsafePathError):
        cache.copy_tree(listing, tmp_path / "t2")
    assert not (tmp_path / "t/ok").exists() and not (tmp_path / "t2/ok").exists()
    assert not (tmp_path / "x").exists() and not (tmp_path / "b").exists()
