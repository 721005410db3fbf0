from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha, tmp_entries

from gitdata.cache import LocalCache
from gitdata.errors import IntegrityError, InvalidInputError, LocalPathNotFoundError

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def test_put_has_verify_round_trip(cache: LocalCache):
    data = b"hello"
    path = cache.put_blob_bytes(sha(data), data)
    assert path == cache.blob_path(sha(data))
    assert path.parent.name == sha(data)[:2]
    assert path.read_bytes() == data
    assert cache.has_blob(sha(data)) and cache.has_blob(sha(data), 5)
    assert not cache.has_blob(sha(data), 6)
    assert not cache.has_blob(sha(b"other"))
    assert cache.verify_blob(sha(data))
    assert cache.put_blob_bytes(sha(data), data) == path  # idempotent
    assert tmp_entries(cache) == []


def test_blob_files_are_read_only(cache: LocalCache, tmp_path: Path):
    p1 = cache.put_blob_bytes(sha(b"a"), b"a")
    src = tmp_path / "src"
    src.write_bytes(b"b")
    p2 = cache.put_blob_file(sha(b"b"), src)
    for p in (p1, p2):
        assert os.stat(p).st_mode & WRITE_BITS == 0
    assert p2.read_bytes() == b"b"


def test_put_blob_file_streams_large_content(cache: LocalCache, tmp_path: Path):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB blocks and a tail
    src = tmp_path / "big"
    src.write_bytes(data)
    path = cache.put_blob_file(sha(data), src)
    assert path.read_bytes() == data
    assert cache.put_blob_file(sha(data), src) == path


def test_wrong_hash_refused_and_nothing_left(cache: LocalCache, tmp_path: Path):
    with pytest.raises(IntegrityError) as info:
        cache.put_blob_bytes(sha(b"a"), b"b")
    assert info.value.expected == sha(b"a") and info.value.actual == sha(b"b")
    src = tmp_path / "f"
    src.write_bytes(b"b")
    with pytest.raises(IntegrityError):
        cache.put_blob_file(sha(b"a"), src)
    assert not cache.has_blob(sha(b"a")) and not cache.has_blob(sha(b"b"))
    assert cache.usage().blobs == 0
    assert tmp_entries(cache) == []


def test_put_file_checks_source_even_when_blob_present(cache: LocalCache, tmp_path: Path):
    cache.put_blob_bytes(sha(b"x"), b"x")
    src = tmp_path / "f"
    src.write_bytes(b"y")  # same size, wrong content
    with pytest.raises(IntegrityError):
        cache.put_blob_file(sha(b"x"), src)
    with pytest.raises(LocalPathNotFoundError):
        cache.put_blob_file(sha(b"x"), tmp_path / "missing")


def test_put_repairs_a_truncated_blob(cache: LocalCache):
    s = sha(b"content")
    p = cache.put_blob_bytes(s, b"content")
    p.chmod(0o644)
    p.write_bytes(b"cont")
    assert not cache.has_blob(s, 7)
    cache.put_blob_bytes(s, b"content")
    assert p.read_bytes() == b"content"


@pytest.mark.parametrize("bad", ["../" + "a" * 61, "A" * 64, "abc", "g" * 64, ""])
def test_malformed_hashes_refused(cache: LocalCache, bad: str):
    with pytest.raises(InvalidInputError):
        cache.blob_path(bad)
    with pytest.raises(InvalidInputError):
        cache.put_blob_bytes(bad, b"x", verified=True)


def test_verify_blob_removes_corrupt_content(cache: LocalCache):
    s = sha(b"good")
    p = cache.put_blob_bytes(s, b"good")
    p.chmod(0o644)
    p.write_bytes(b"evil")
    assert not cache.verify_blob(s)
    assert not cache.has_blob(s) and not p.exists()
    assert not cache.verify_blob(s)  # absent: still False, no error


def test_remove_blob_takes_copies_holding_it(cache: LocalCache):
    files = put_files(cache, {"a": b"1", "b": b"2"})
    cache.publish_copy(ckey("holds-1"), files[:1])
    cache.publish_copy(ckey("holds-2"), files[1:])
    cache.remove_blob(files[0][1])
    assert not cache.has_blob(files[0][1])
    assert not cache.has_copy(ckey("holds-1")) and cache.has_copy(ckey("holds-2"))
    cache.remove_blob(files[0][1])  # already gone: fine


def test_verify_all_reports_and_removes_corrupt(cache: LocalCache):
    files = put_files(cache, {"ok": b"fine", "bad": b"will rot"})
    cache.publish_copy(ckey("v"), files)
    blob = cache.blob_path(files[1][1])
    blob.chmod(0o644)
    blob.write_bytes(b"has rot!")  # the copy's hardlink rots with it
    assert cache.verify_all() == [files[1][1]]
    assert cache.has_blob(files[0][1]) and not cache.has_blob(files[1][1])
    assert not cache.has_copy(ckey("v"))
    assert cache.verify_all() == []


def test_salvage_keeps_complete_verified_files_only(cache: LocalCache, tmp_path: Path):
    """What an interrupted download wrote: whole files become blobs, the rest is skipped."""
    staging = tmp_path / "staging"
    (staging / "d").mkdir(parents=True)
    whole, partial, wrong = b"complete content", b"half of the cont", b"bit rot"
    (staging / "d/whole.bin").write_bytes(whole)
    (staging / "partial.bin").write_bytes(partial[:4])  # cut off mid-write
    (staging / "wrong.bin").write_bytes(wrong)
    files = [
        ("d/whole.bin", sha(whole)),
        ("again.bin", sha(whole)),  # the same content at a second path: kept once
        ("partial.bin", sha(partial)),
        ("wrong.bin", sha(b"something else")),
        ("never-written.bin", sha(b"never")),
    ]
    assert cache.salvage(staging, files) == 1
    assert cache.has_blob(sha(whole), len(whole)) and cache.verify_blob(sha(whole))
    assert not cache.has_blob(sha(partial)) and not cache.has_blob(sha(b"something else"))
    assert os.stat(cache.blob_path(sha(whole))).st_mode & WRITE_BITS == 0
    assert cache.salvage(staging, files) == 0  # already kept


def test_blobs_if_few_lists_a_small_cache_and_gives_up_on_a_big_one(cache: LocalCache):
    assert cache.blobs_if_few(10) == set()  # no blobs folder yet
    contents = [f"blob {i}".encode() for i in range(5)]
    for data in contents:
        cache.put_blob_bytes(sha(data), data)
    (cache.blobs_dir / "stray-file").write_bytes(b"not a fan-out folder")
    assert cache.blobs_if_few(5) == {sha(d) for d in contents}
    assert cache.blobs_if_few(4) is None  # more than the limit: the caller stats each
