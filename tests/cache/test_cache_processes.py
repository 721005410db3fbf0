"""Real processes sharing one cache: concurrent writers, and eviction waiting for readers."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha, tmp_entries

from gitdata.cache import LocalCache

N_BLOBS = 400
N_KEYS = 12
SPAWN = multiprocessing.get_context("spawn")


def _content(i: int) -> bytes:
    return f"content {i}".encode() * (1 + i % 7)


def _listing(key_index: int) -> list[tuple[str, str]]:
    return [(f"d{i % 5}/s{i % 3}/f{i}", sha(_content(i))) for i in range(key_index, N_BLOBS, 3)]


def _writer(root: str, start, results) -> None:
    cache = LocalCache(Path(root))
    start.wait(60)  # both processes begin at the same moment
    for i in range(N_BLOBS):
        cache.put_blob_bytes(sha(_content(i)), _content(i))
    paths = []
    for k in range(N_KEYS):
        with cache.shared_lock():
            paths.append(str(cache.publish_copy(ckey(f"v{k}"), _listing(k))))
            cache.touch([s for _, s in _listing(k)], ckey(f"v{k}"))
    results.put(paths)


def test_two_processes_put_and_publish_the_same_content(tmp_path: Path):
    root = tmp_path / "cache"
    start, results = SPAWN.Barrier(2), SPAWN.Queue()
    procs = [SPAWN.Process(target=_writer, args=(str(root), start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120), results.get(timeout=120)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert outcomes[0] == outcomes[1]
    cache = LocalCache(root)
    assert cache.usage().blobs == N_BLOBS and cache.usage().copies == N_KEYS
    assert cache.verify_all() == []
    for k in range(N_KEYS):
        copy = cache.copy_path(ckey(f"v{k}"))
        for rel, s in _listing(k):
            assert (copy / rel).stat().st_ino == cache.blob_path(s).stat().st_ino
        assert sum(1 for p in copy.rglob("*") if p.is_file()) == len(_listing(k))
    assert tmp_entries(cache) == []


def _pruner(root: str, started: str, done: str) -> None:
    Path(started).touch()
    LocalCache(Path(root)).prune(0)
    Path(done).touch()


def test_prune_in_another_process_waits_for_shared_lock(tmp_path: Path):
    cache = LocalCache(tmp_path / "cache")
    files = put_files(cache, {"a": b"x" * 100})
    started, done = tmp_path / "started", tmp_path / "done"
    with cache.shared_lock():
        proc = SPAWN.Process(target=_pruner, args=(str(cache.root), str(started), str(done)))
        proc.start()
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists()
        time.sleep(0.5)
        assert not done.exists()  # blocked on our shared lock
        assert cache.has_blob(files[0][1])
    proc.join(60)
    assert proc.exitcode == 0 and done.exists()
    assert not cache.has_blob(files[0][1])


def test_lock_nesting_in_one_thread(cache: LocalCache):
    with cache.exclusive_lock(), cache.shared_lock(), cache.exclusive_lock():
        pass  # exclusive covers nested shared/exclusive use
    with cache.shared_lock(), cache.shared_lock(), pytest.raises(RuntimeError):  # noqa: SIM117
        with cache.exclusive_lock():
            pass  # would deadlock on our own shared lock
    with cache.exclusive_lock():
        pass  # everything was released


def _as_nobody(root: str, errors) -> None:
    try:
        os.setgid(65534)
        os.setuid(65534)
        cache = LocalCache(Path(root) / "cache")
        files = put_files(cache, {"a/b/c": b"1", "a/d": b"2"})
        copy = cache.publish_copy(ckey("v"), files)
        assert stat.S_IMODE((copy / "a").stat().st_mode) == 0o555
        try:
            (copy / "a/new").write_bytes(b"")
        except PermissionError:
            pass
        else:
            raise AssertionError("a copy's folder accepted a new file")
        assert cache.prune(1).removed_copies == 1
        files = put_files(cache, {"a/b/c": b"1", "a/d": b"2"})
        cache.publish_copy(ckey("w"), files)
        cache.clear()
        assert cache.usage().blobs == 0 and not cache.has_copy(ckey("w"))
    except BaseException as exc:  # report to the parent, which asserts
        errors.put(repr(exc))
    else:
        errors.put(None)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
def test_read_only_trees_removable_without_privileges():
    root = tempfile.mkdtemp(prefix="gd-cache-nobody-")
    try:
        os.chown(root, 65534, 65534)
        ctx = multiprocessing.get_context("fork")
        errors = ctx.Queue()
        proc = ctx.Process(target=_as_nobody, args=(root, errors))
        proc.start()
        assert errors.get(timeout=60) is None
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(root)


def _locked_by_someone(root: Path) -> bool:
    fd = os.open(root / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.parametrize("operation", ["publish_copy", "link_tree", "copy_tree"])
def test_materialising_holds_the_shared_lock(
    cache: LocalCache, tmp_path: Path, monkeypatch, operation
):
    import gitdata.cache.local as local

    files = put_files(cache, {"a": b"1"})
    seen: list[bool] = []
    for name in ("link_files", "copy_files"):
        real = getattr(local, name)

        def spy(*args, _real=real, **kwargs):
            seen.append(_locked_by_someone(cache.root))
            return _real(*args, **kwargs)

        monkeypatch.setattr(local, name, spy)
    if operation == "publish_copy":
        cache.publish_copy(ckey("v"), files)
    else:
        getattr(cache, operation)(files, tmp_path / "t")
    assert seen == [True]
    assert not _locked_by_someone(cache.root)  # released afterwards
