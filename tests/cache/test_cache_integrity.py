"""Serving from the cache notices a blob changed in place (one stat per blob, no hashing
while nothing changed), and verify hashes every blob."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha

import gitdata.cache.local as local_mod
from gitdata.cache import LocalCache


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the cache hashes, in order."""
    seen: list[str] = []
    real = local_mod.hash_file

    def counting(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(local_mod, "hash_file", counting)
    return seen


def _write_in_place(path: Path, data: bytes) -> None:
    """What root (or a chmod) can do to a read-only file of a linked tree: same inode."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.write(data)
    os.chmod(path, 0o444)


def test_unchanged_blobs_are_served_without_hashing(cache: LocalCache, hashes: list[str]):
    files = put_files(cache, {f"f{i}": f"content {i}".encode() for i in range(50)})
    assert cache.check_blobs(s for _, s in files) == set()
    assert hashes == []
    other = LocalCache(cache.root)  # another process: the record is in state.db
    assert other.check_blobs(s for _, s in files) == set()
    assert hashes == []


def test_an_in_place_write_through_a_link_is_caught(cache: LocalCache, tmp_path: Path):
    files = put_files(cache, {"a": b"original", "b": b"other"})
    cache.link_tree(files, tmp_path / "linked")
    _write_in_place(tmp_path / "linked" / "a", b"ORIGINAL")  # same size
    assert cache.check_blobs(s for _, s in files) == {sha(b"original")}
    assert not cache.has_blob(sha(b"original"))  # removed: the caller fetches it again
    assert cache.has_blob(sha(b"other"))


def test_a_copy_with_a_changed_file_is_dropped(cache: LocalCache):
    files = put_files(cache, {"a": b"original", "d/b": b"other"})
    path = cache.publish_copy(ckey("v"), files)
    assert cache.check_copy(ckey("v"), files)
    _write_in_place(path / "d" / "b", b"OTHER")
    assert not cache.check_copy(ckey("v"), files)
    assert not cache.has_copy(ckey("v")) and not cache.has_blob(sha(b"other"))
    assert cache.has_blob(sha(b"original"))


def test_a_copy_file_replaced_by_another_is_caught(cache: LocalCache):
    files = put_files(cache, {"a": b"original"})
    path = cache.publish_copy(ckey("v"), files)
    os.chmod(path, 0o755)
    (path / "a").unlink()
    (path / "a").write_bytes(b"replaced")
    assert not cache.check_copy(ckey("v"), files)
    assert not cache.has_copy(ckey("v")) and cache.has_blob(sha(b"original"))


def test_publish_copy_rebuilds_from_a_corrupt_blob_through_fill(cache: LocalCache, tmp_path):
    files = put_files(cache, {"a": b"original"})
    cache.link_tree(files, tmp_path / "linked")
    _write_in_place(tmp_path / "linked" / "a", b"ORIGINAL")
    filled: list[tuple[str, str]] = []

    def fill(staging: Path, missing: list[tuple[str, str]]) -> None:
        filled.extend(missing)
        fd = os.open(staging / "a", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, b"original")
        os.close(fd)

    path = cache.publish_copy(ckey("v"), files, fill)
    assert filled == files and (path / "a").read_bytes() == b"original"


def test_blobs_without_a_record_are_hashed_once(cache: LocalCache, hashes: list[str]):
    files = put_files(cache, {"a": b"1", "b": b"2"})
    cache.close()
    (cache.root / "state.db").unlink()  # lost bookkeeping (or a cache of an older gd)
    old = time.time() - 3600
    for _, s in files:
        os.utime(cache.blob_path(s), (old, old))
    fresh = LocalCache(cache.root)
    assert fresh.check_blobs(s for _, s in files) == set()
    assert len(hashes) == 2
    assert fresh.check_blobs(s for _, s in files) == set()
    assert len(hashes) == 2  # recorded as good the first time


def test_verify_hashes_every_blob_and_records_them(cache: LocalCache, hashes, tmp_path):
    files = put_files(cache, {"a": b"original", "b": b"other"})
    cache.publish_copy(ckey("v"), files)
    cache.link_tree(files, tmp_path / "linked")
    _write_in_place(tmp_path / "linked" / "b", b"OTHER")
    assert cache.verify_all() == [sha(b"other")]
    assert len(hashes) == 2
    assert not cache.has_copy(ckey("v")) and not cache.has_blob(sha(b"other"))
    del hashes[:]
    assert cache.check_blobs([sha(b"original")]) == set() and hashes == []


def test_missing_blobs_are_reported(cache: LocalCache):
    assert cache.check_blobs([sha(b"never")]) == {sha(b"never")}
