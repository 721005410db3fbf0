"""What killed processes leave in the cache is reported by `gd cache` and removed by prune."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cachehelpers import ckey, put_files, sha, tmp_entries
from typer.testing import CliRunner

from gitdata.cache import LocalCache
from gitdata.cache.local import Leftovers

HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t), follow_symlinks=False)


def _killed_publish(cache: LocalCache) -> None:
    """A real process that dies (as with kill -9) while filling a copy it publishes."""
    driver = f"""
import os
from pathlib import Path
from gitdata.cache import LocalCache
cache = LocalCache(Path({str(cache.root)!r}))
def fill(staging, missing):
    for rel, _ in missing:
        (staging / rel).write_bytes(b"n" * 3000)
    os._exit(137)
cache.publish_copy({ckey("v")!r}, [("a.bin", {sha(b"n" * 3000)!r})], fill)
"""
    r = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True)
    assert r.returncode == 137, r.stderr


def test_a_killed_publish_is_reported_and_pruned_at_once(cache: LocalCache):
    put_files(cache, {"x": b"x" * 10})
    _killed_publish(cache)
    [left] = tmp_entries(cache)
    assert left.startswith("copy-")
    assert cache.leftovers() == Leftovers(1, 3000)
    report = cache.prune()
    assert (report.removed_leftovers, report.leftover_bytes) == (1, 3000)
    assert tmp_entries(cache) == [] and cache.leftovers() == Leftovers(0, 0)
    assert cache.has_blob(sha(b"x" * 10))  # prune without a budget evicts no content


def test_entries_a_running_process_may_use_are_left_alone(cache: LocalCache):
    files = put_files(cache, {"a": b"a" * 100})
    tmp = cache.root / "tmp"
    (tmp / "copy-live").mkdir(parents=True)
    os.link(cache.blob_path(files[0][1]), tmp / "copy-live" / "a")  # shares the blob: frees 0
    (tmp / "get-live.zip").write_bytes(b"z" * 50)
    (tmp / "blob-1-2-3").write_bytes(b"b" * 70)  # written without the lock: needs an hour
    (tmp / "chunk-old.zip").write_bytes(b"c" * 40)
    _age(tmp / "chunk-old.zip", 2 * HOUR)
    records = cache.root / "records" / ("0" * 16)
    records.mkdir(parents=True)
    (records / ".abc.yaml.x1.tmp").write_bytes(b"r" * 5)
    _age(records / ".abc.yaml.x1.tmp", 2 * HOUR)
    (records / ".new.yaml.x2.tmp").write_bytes(b"r" * 5)  # being written now

    assert cache.leftovers() == Leftovers(4, 40 + 5 + 50)  # copy-live frees nothing
    with cache.shared_lock():  # a get using the cache: its staging may be live
        assert cache.leftovers() == Leftovers(2, 45)
    dry = cache.prune(dry_run=True)
    assert (dry.removed_leftovers, dry.leftover_bytes) == (4, 95)
    assert len(tmp_entries(cache)) == 4
    done = cache.prune()
    assert (done.removed_leftovers, done.leftover_bytes) == (4, 95)
    assert tmp_entries(cache) == ["blob-1-2-3"]
    assert sorted(p.name for p in records.iterdir()) == [".new.yaml.x2.tmp"]
    assert cache.has_blob(files[0][1])


def test_only_gds_shapes_are_removed_and_never_through_a_link(cache: LocalCache, tmp_path):
    put_files(cache, {"a": b"a"})
    tmp = cache.root / "tmp"
    (tmp / "project").mkdir(parents=True)
    (tmp / "project" / "main.py").write_text("x")
    _age(tmp / "project", 2 * HOUR)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "copy-precious").mkdir()
    (tmp / "copy-link").symlink_to(outside / "copy-precious")
    _age(tmp / "copy-link", 2 * HOUR)
    assert cache.leftovers() == Leftovers(0, 0)
    cache.prune()
    assert (outside / "copy-precious").is_dir()
    assert tmp_entries(cache) == ["copy-link", "project"]  # gd never makes links there


def test_gd_cache_reports_and_prune_removes_leftovers(tmp_path: Path, monkeypatch):
    from gitdata.cli.main import app

    root = tmp_path / "gdcache"
    monkeypatch.setenv("GD_CACHE_DIR", str(root))
    cache = LocalCache(root)
    put_files(cache, {"a": b"a"})
    (root / "tmp" / "get-1.zip").write_bytes(b"g" * 2048)
    runner = CliRunner()
    info = json.loads(runner.invoke(app, ["cache", "--json"]).stdout)
    assert info["leftovers"] == {"entries": 1, "bytes": 2048}
    shown = runner.invoke(app, ["cache"])
    assert shown.exit_code == 0 and "1 (2.0 KiB)" in shown.stdout
    assert "gd cache prune removes them" in shown.stderr
    pruned = json.loads(runner.invoke(app, ["cache", "prune", "--json"]).stdout)
    assert (pruned["removed_leftovers"], pruned["leftover_bytes"]) == (1, 2048)
    info = json.loads(runner.invoke(app, ["cache", "--json"]).stdout)
    assert info["leftovers"] == {"entries": 0, "bytes": 0}
    assert "none" in runner.invoke(app, ["cache"]).stdout
