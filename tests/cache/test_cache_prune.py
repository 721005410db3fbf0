from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha, tmp_entries

from gitdata.cache import LocalCache, PruneReport, local
from gitdata.errors import InvalidInputError


def age(cache: LocalCache, content: bytes, seconds: float) -> None:
    """Make a blob look written ``seconds`` ago."""
    t = time.time() - seconds
    os.utime(cache.blob_path(sha(content)), (t, t))


def test_usage_counts_each_blob_once(cache: LocalCache):
    assert (cache.usage().bytes, cache.usage().blobs, cache.usage().copies) == (0, 0, 0)
    files = put_files(cache, {"a": b"x" * 100, "b": b"y" * 50, "c": b"x" * 100})
    cache.publish_copy(ckey("v1"), files)
    cache.publish_copy(ckey("v2"), files[:1])
    usage = cache.usage()
    assert (usage.bytes, usage.blobs, usage.copies) == (150, 2, 2)


def test_prune_evicts_least_recently_used_first(cache: LocalCache):
    contents = [bytes([65 + i]) * 100 for i in range(4)]  # A.., B.., C.., D..
    for i, c in enumerate(contents):
        put_files(cache, {"f": c})
        age(cache, c, 100 - i)  # written in order A, B, C, D
    cache.touch([sha(contents[0])])  # A used just now: the freshest
    report = cache.prune(250)
    assert report == PruneReport(
        removed_blobs=2, removed_copies=0, freed_bytes=200, remaining_bytes=200
    )
    kept = [c[:1] for c in contents if cache.has_blob(sha(c))]
    assert kept == [b"A", b"D"]


def test_prune_removes_copies_with_their_blobs(cache: LocalCache):
    old = put_files(cache, {"f": b"o" * 1000, "g": b"shared"})
    cache.publish_copy(ckey("old"), old)
    cache.touch([s for _, s in old], ckey("old"))
    time.sleep(0.02)
    new = put_files(cache, {"f": b"n" * 1000, "g": b"shared"})
    cache.publish_copy(ckey("new"), new)
    cache.touch([s for _, s in new], ckey("new"))
    report = cache.prune(1500)
    assert (report.removed_blobs, report.removed_copies, report.freed_bytes) == (1, 1, 1000)
    assert not cache.has_copy(ckey("old")) and cache.has_copy(ckey("new"))
    assert (cache.copy_path(ckey("new")) / "g").read_bytes() == b"shared"
    assert cache.usage().bytes == 1006
    assert tmp_entries(cache) == []  # the removed tree does not linger in tmp/


def test_dry_run_prunes_nothing(cache: LocalCache):
    files = put_files(cache, {"f": b"a" * 100, "g": b"b" * 100})
    cache.publish_copy(ckey("v"), files)
    before = sorted(p.name for p in cache.root.rglob("*"))
    report = cache.prune(0, dry_run=True)
    assert (report.removed_blobs, report.removed_copies, report.freed_bytes) == (2, 1, 200)
    assert report.remaining_bytes == 0
    assert sorted(p.name for p in cache.root.rglob("*")) == before
    assert cache.has_copy(ckey("v")) and cache.usage().bytes == 200


def test_prune_without_limit_or_within_it_keeps_everything(tmp_path: Path):
    unlimited = LocalCache(tmp_path / "c1")
    put_files(unlimited, {"f": b"x" * 10})
    assert unlimited.prune() == PruneReport(0, 0, 0, 10)
    budget = LocalCache(tmp_path / "c2", size_limit=15)
    put_files(budget, {"f": b"x" * 10, "g": b"y" * 10})
    report = budget.prune()  # default: the cache's own size limit
    assert report.removed_blobs == 1 and report.remaining_bytes == 10
    with pytest.raises(InvalidInputError):
        budget.prune(-1)


def test_prune_with_lost_bookkeeping_checks_copies_by_inode(cache: LocalCache):
    keep = put_files(cache, {"k": b"keep" * 100})
    drop = put_files(cache, {"d": b"drop"})
    cache.publish_copy(ckey("keeper"), keep)
    cache.publish_copy(ckey("dropper"), drop)
    age(cache, b"drop", 1000)
    cache.close()
    (cache.root / "state.db").write_bytes(b"garbage, not sqlite" * 50)
    report = cache.prune(400)
    assert report.removed_blobs == 1
    assert not cache.has_copy(ckey("dropper")) and cache.has_copy(ckey("keeper"))


def test_corrupt_state_db_does_not_break_touch_or_prune(cache: LocalCache):
    files = put_files(cache, {"f": b"x" * 10})
    (cache.root / "state.db").write_bytes(b"\x00" * 4096)
    cache.touch([s for _, s in files], ckey("k"))
    assert cache.prune(0).removed_blobs == 1


def test_prune_sweeps_stale_staging_only(cache: LocalCache):
    put_files(cache, {"f": b"x"})
    tmp = cache.root / "tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "blob-stale").write_bytes(b"left by a crash")
    (tmp / "copy-stale").mkdir()
    (tmp / "copy-stale/f").write_bytes(b"")
    # written without the cache lock, so prune cannot tell it is not being written
    (tmp / "chunk-recent.zip").write_bytes(b"another process is writing this")
    old = time.time() - 7200
    os.utime(tmp / "blob-stale", (old, old))
    os.utime(tmp / "copy-stale", (old, old))
    cache.prune(10**9)
    assert tmp_entries(cache) == ["chunk-recent.zip"]


def test_clear_removes_read_only_copies_and_blobs(cache: LocalCache):
    files = put_files(cache, {"a/b/c": b"1", "d": b"2"})
    cache.publish_copy(ckey("v"), files)
    cache.touch([s for _, s in files], ckey("v"))
    cache.clear()
    assert cache.usage() == type(cache.usage())(0, 0, 0)
    assert not cache.has_copy(ckey("v")) and not cache.has_blob(files[0][1])
    assert tmp_entries(cache) == []
    put_files(cache, {"again": b"1"})  # still usable afterwards
    assert cache.usage().blobs == 1


def test_may_exceed_trusts_the_record_and_lists_the_cache_only_when_needed(
    cache: LocalCache, monkeypatch: pytest.MonkeyPatch
):
    put_files(cache, {"a": b"x" * 100, "b": b"y" * 50})
    listed = []
    usage = LocalCache.usage

    def counting(self: LocalCache):
        listed.append(1)
        return usage(self)

    monkeypatch.setattr(LocalCache, "usage", counting)
    assert not cache.may_exceed(1000)  # no full listing on record yet: one is made
    assert len(listed) == 1
    assert not cache.may_exceed(1000)  # the record (150 bytes) is enough now
    assert len(listed) == 1
    assert cache.may_exceed(120)  # over the limit by the record: measured, and over
    assert len(listed) == 2


def test_may_exceed_counts_blobs_it_has_no_record_of_once_the_record_is_old(
    cache: LocalCache, monkeypatch: pytest.MonkeyPatch
):
    put_files(cache, {"a": b"x" * 100})
    assert not cache.may_exceed(150)
    # a blob the record does not know (its state.db was lost, or an older gd wrote it)
    stray = b"z" * 100
    cache.blob_path(sha(stray)).parent.mkdir(parents=True, exist_ok=True)
    cache.blob_path(sha(stray)).write_bytes(stray)
    assert not cache.may_exceed(150)  # trusted while the last listing is recent
    later = time.time() + local.USAGE_RESCAN_SECONDS + 1
    monkeypatch.setattr(local.time, "time", lambda: later)
    assert cache.may_exceed(150)  # listed again: 200 bytes
