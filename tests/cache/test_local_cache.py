from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from gitdata.cache import LocalCache, StatCache
from gitdata.errors import IntegrityError, InvalidInputError, UnsafePathError


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def cache(tmp_path: Path) -> LocalCache:
    return LocalCache(tmp_path / "cache")


def test_put_has_verify(cache: LocalCache):
    data = b"hello"
    path = cache.put_blob_bytes(sha(data), data)
    assert path.read_bytes() == data
    assert cache.has_blob(sha(data)) and cache.has_blob(sha(data), 5)
    assert not cache.has_blob(sha(data), 6)
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert cache.verify_blob(sha(data))
    assert cache.put_blob_bytes(sha(data), data) == path  # idempotent


def test_wrong_hash_refused_and_nothing_left(cache: LocalCache, tmp_path: Path):
    with pytest.raises(IntegrityError):
        cache.put_blob_bytes(sha(b"a"), b"b")
    src = tmp_path / "f"
    src.write_bytes(b"b")
    with pytest.raises(IntegrityError):
        cache.put_blob_file(sha(b"a"), src)
    assert cache.usage().blobs == 0
    assert not any((cache.root / "tmp").iterdir())


def test_corrupt_blob_detected(cache: LocalCache):
    s = sha(b"good")
    p = cache.put_blob_bytes(s, b"good")
    p.chmod(0o644)
    p.write_bytes(b"evil")
    assert not cache.verify_blob(s)
    assert not cache.has_blob(s)
    p = cache.put_blob_bytes(s, b"good")
    p.chmod(0o644)
    p.write_bytes(b"bad!")
    assert cache.verify_all() == [s]


def _files(cache: LocalCache, contents: dict[str, bytes]) -> list[tuple[str, str]]:
    for data in contents.values():
        cache.put_blob_bytes(sha(data), data)
    return [(p, sha(d)) for p, d in contents.items()]


def test_publish_copy_is_atomic_and_idempotent(cache: LocalCache):
    files = _files(cache, {"a/x": b"1", "a/b/y": b"2", "z": b"1"})
    path = cache.publish_copy("v1", files)
    assert (path / "a/x").read_bytes() == b"1" and (path / "z").read_bytes() == b"1"
    assert os.stat(path / "a/x").st_ino == os.stat(cache.blob_path(sha(b"1"))).st_ino
    assert cache.publish_copy("v1", files) == path
    assert not list((cache.root / "tmp").iterdir())
    with pytest.raises(InvalidInputError):
        cache.copy_path("../evil")


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b", "a//b", "a\x00b"])
def test_unsafe_relative_paths_refused(cache: LocalCache, tmp_path: Path, bad: str):
    files = _files(cache, {"ok": b"1"})
    with pytest.raises(UnsafePathError):
        cache.link_tree([(bad, files[0][1])], tmp_path / "t")
    with pytest.raises(UnsafePathError):
        cache.copy_tree([(bad, files[0][1])], tmp_path / "t2")


def test_link_tree_falls_back_to_symlinks(cache: LocalCache, tmp_path: Path, monkeypatch):
    files = _files(cache, {"a": b"1", "d/b": b"2"})

    def no_link(src, dst, **kw):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    cache.link_tree(files, tmp_path / "t")
    assert (tmp_path / "t/a").is_symlink() and (tmp_path / "t/d/b").read_bytes() == b"2"


def test_copy_tree_writable_and_detects_corruption(cache: LocalCache, tmp_path: Path):
    files = _files(cache, {"a": b"one", "b": b"two"})
    blob = cache.blob_path(sha(b"two"))
    blob.chmod(0o644)
    blob.write_bytes(b"TWO")
    bad = cache.copy_tree(files, tmp_path / "t")
    assert bad == ["b"]
    assert not cache.has_blob(sha(b"two"))
    assert not (tmp_path / "t/b").exists()
    (tmp_path / "t/a").write_bytes(b"changed")  # writable, independent
    assert cache.blob_path(sha(b"one")).read_bytes() == b"one"


def test_prune_lru_removes_copies_with_their_blobs(cache: LocalCache):
    old = _files(cache, {"f": b"o" * 1000})
    cache.publish_copy("old", old)
    cache.touch([old[0][1]], "old")
    time.sleep(0.01)
    new = _files(cache, {"f": b"n" * 1000})
    cache.publish_copy("new", new)
    cache.touch([new[0][1]], "new")
    report = cache.prune(1500, dry_run=True)
    assert report.removed_blobs == 1 and cache.has_copy("old")  # dry run changes nothing
    report = cache.prune(1500)
    assert (report.removed_blobs, report.removed_copies, report.freed_bytes) == (1, 1, 1000)
    assert not cache.has_copy("old") and cache.has_copy("new")
    assert cache.usage().bytes == 1000
    cache.clear()
    assert cache.usage().bytes == 0 and not cache.has_copy("new")


def _worker(root: str, n: int, q) -> None:
    c = LocalCache(Path(root))
    files = []
    for i in range(n):
        data = f"content {i}".encode()
        c.put_blob_bytes(sha(data), data)
        files.append((f"d{i % 5}/f{i}", sha(data)))
    with c.shared_lock():
        path = c.publish_copy("shared", files)
    q.put(str(path))


def test_two_processes_share_one_cache(tmp_path: Path):
    root = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(root), 300, q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    paths = {q.get(timeout=5), q.get(timeout=5)}
    assert len(paths) == 1
    c = LocalCache(root)
    assert c.usage().blobs == 300
    assert c.verify_all() == []
    assert len(list(Path(paths.pop()).rglob("f*"))) == 300
    assert not list((root / "tmp").iterdir())


def _hold_shared(root: str, ready, release) -> None:
    c = LocalCache(Path(root))
    with c.shared_lock():
        ready.set()
        release.wait(30)


def test_prune_waits_for_readers(tmp_path: Path):
    root = tmp_path / "cache"
    cache = LocalCache(root)
    _files(cache, {"a": b"x" * 100})
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_shared, args=(str(root), ready, release))
    p.start()
    assert ready.wait(30)
    import threading

    done = threading.Event()
    t = threading.Thread(target=lambda: (cache.prune(0), done.set()))
    t.start()
    assert not done.wait(0.5)  # blocked by the other process's shared lock
    assert cache.usage().blobs == 1
    release.set()
    t.join(30)
    p.join(30)
    assert done.is_set() and cache.usage().blobs == 0


def test_stat_cache_hits_and_misses(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    old = time.time() - 10
    os.utime(f, (old, old))
    st = os.stat(f)
    sc.store_many([(str(f), st, "h1")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "h1"}
    f.write_bytes(b"abcd")
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}


def test_stat_cache_skips_racily_clean_files(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    f = tmp_path / "fresh"
    f.write_bytes(b"abc")
    now = time.time_ns()
    os.utime(f, ns=(now, now))  # just modified: its mtime tick is not over
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}
    # whole-second timestamps (coarse filesystems) get a 2 s window
    coarse = (now // 10**9 - 1) * 10**9
    os.utime(f, ns=(coarse, coarse))
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}


def test_stat_cache_recovers_from_corrupt_db(tmp_path: Path):
    db = tmp_path / "stat.db"
    db.write_bytes(b"this is not sqlite" * 100)
    sc = StatCache(db)
    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}
    old = time.time() - 10
    os.utime(f, (old, old))
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "h"}
