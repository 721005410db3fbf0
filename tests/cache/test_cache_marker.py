"""gd deletes only what it made: the cache marker, and removals limited to gd's own shapes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from cachehelpers import ckey, put_files, sha

from gitdata.cache import LocalCache
from gitdata.cache.fsutil import remove_tree
from gitdata.cache.local import CACHE_MARKER
from gitdata.errors import ConflictError

OLD = time.time() - 7200  # older than any staging gd would keep


def _foreign(root: Path) -> dict[str, bytes]:
    """Files a user put into (or next to) a cache folder."""
    files = {
        "blobs/photo.jpg": b"jpeg",
        "blobs/ab/notes.txt": b"notes",
        "blobs/zz/" + "a" * 64: b"not gd's shape: zz is not its prefix",
        "copies/thesis/chapter1.tex": b"\\chapter{One}",
        "copies/README": b"mine",
        "tmp/project/main.py": b"print(1)",
        "tmp/notes.txt": b"keep",
        "diary.txt": b"dear diary",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    for rel in ("tmp/project", "tmp/project/main.py", "tmp/notes.txt"):
        os.utime(root / rel, (OLD, OLD))
    return files


def _still_there(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


def test_a_new_cache_gets_its_marker(cache: LocalCache):
    assert not cache.root.exists()
    put_files(cache, {"a": b"1"})
    marker = cache.root / CACHE_MARKER
    assert json.loads(marker.read_text()) == {"gitdata": "cache", "format": 1}


def test_an_empty_folder_becomes_a_cache(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    cache = LocalCache(tmp_path / "empty")
    put_files(cache, {"a": b"1"})
    assert (tmp_path / "empty" / CACHE_MARKER).is_file()


def test_clear_removes_only_what_gd_made(cache: LocalCache):
    files = put_files(cache, {"a": b"1", "d/b": b"2"})
    cache.publish_copy(ckey("v"), files)
    foreign = _foreign(cache.root)
    cache.clear()
    _still_there(cache.root, foreign)
    assert not cache.has_copy(ckey("v"))
    assert not any(cache.has_blob(s) for _, s in files)
    assert cache.usage().blobs == 0 and (cache.root / CACHE_MARKER).is_file()


def test_prune_and_its_tmp_sweep_leave_foreign_entries(cache: LocalCache):
    files = put_files(cache, {"a": b"1" * 100, "b": b"2" * 100})
    cache.publish_copy(ckey("v"), files)
    foreign = _foreign(cache.root)
    stale = cache.root / "tmp" / "blob-1-2-3"  # staging a crashed gd left
    stale.write_bytes(b"x")
    os.utime(stale, (OLD, OLD))
    report = cache.prune(0)
    assert report.removed_blobs == 2 and report.removed_copies == 1
    assert not stale.exists()
    _still_there(cache.root, foreign)


def test_verify_leaves_foreign_files(cache: LocalCache):
    put_files(cache, {"a": b"1"})
    foreign = _foreign(cache.root)
    assert cache.verify_all() == []
    _still_there(cache.root, foreign)


@pytest.mark.parametrize("operation", ["clear", "prune", "verify"])
def test_an_unmarked_folder_with_other_files_is_refused(tmp_path: Path, operation: str):
    root = tmp_path / "project"
    foreign = _foreign(root)
    blob = root / "blobs" / "ab" / ("ab" + "0" * 62)  # even a gd-shaped name is not removed
    blob.write_bytes(b"?")
    foreign[str(blob.relative_to(root))] = b"?"
    cache = LocalCache(root)
    with pytest.raises(ConflictError) as info:
        {"clear": cache.clear, "prune": lambda: cache.prune(0), "verify": cache.verify_all}[
            operation
        ]()
    assert str(info.value) == (
        f"{root} does not look like a gitdata cache (no marker); nothing removed"
    )
    assert info.value.hint and "GD_CACHE_DIR" in info.value.hint
    _still_there(root, foreign)
    assert not (root / CACHE_MARKER).exists()


def test_an_unmarked_folder_with_other_files_is_not_written_to(tmp_path: Path):
    root = tmp_path / "home"
    foreign = _foreign(root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    cache = LocalCache(root)
    with pytest.raises(ConflictError) as info:
        cache.put_blob_bytes(sha(b"1"), b"1")
    assert "does not look like a gitdata cache" in str(info.value)
    assert "diary.txt" in str(info.value)  # names what gd did not make
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    _still_there(root, foreign)


def test_a_cache_of_older_gd_is_adopted(cache: LocalCache):
    files = put_files(cache, {"a": b"1" * 10, "d/b": b"2"})
    cache.publish_copy(ckey("v"), files)
    cache.touch([s for _, s in files], ckey("v"))
    (cache.root / "records" / "0123456789abcdef").mkdir(parents=True)
    (cache.root / "records" / "0123456789abcdef" / (ckey("v") + ".yaml")).write_text("id: x\n")
    (cache.root / "stat.db").write_bytes(b"")
    (cache.root / CACHE_MARKER).unlink()  # made before caches had a marker
    cache.close()
    old = LocalCache(cache.root)
    assert old.prune(0).removed_blobs == 2
    assert (cache.root / CACHE_MARKER).is_file()


def test_an_unmarked_cache_holding_a_foreign_file_is_refused(cache: LocalCache):
    files = put_files(cache, {"a": b"1"})
    (cache.root / CACHE_MARKER).unlink()
    (cache.root / "copies" / "thesis").mkdir(parents=True)
    with pytest.raises(ConflictError):
        LocalCache(cache.root).clear()
    assert cache.has_blob(files[0][1]) and (cache.root / "copies" / "thesis").is_dir()


def test_a_missing_cache_is_not_created_by_removals(tmp_path: Path):
    cache = LocalCache(tmp_path / "nowhere")
    cache.clear()
    assert cache.prune(0).removed_blobs == 0
    assert cache.verify_all() == []
    assert not (tmp_path / "nowhere").exists()


def test_a_symlinked_cache_folder_is_not_followed_by_clear(cache: LocalCache, tmp_path: Path):
    put_files(cache, {"a": b"1"})
    elsewhere = tmp_path / "photos"
    (elsewhere / "ab").mkdir(parents=True)
    precious = elsewhere / "ab" / ("ab" + "1" * 62)
    precious.write_bytes(b"precious")
    cache.clear()
    remove_tree(cache.root / "blobs")
    os.symlink(elsewhere, cache.root / "blobs")
    cache.clear()
    assert precious.read_bytes() == b"precious"


def test_an_unmarked_cache_with_record_indexes_is_adopted(cache: LocalCache):
    put_files(cache, {"a": b"1"})
    store = cache.root / "records" / "0123456789abcdef"
    store.mkdir(parents=True)
    (store / (ckey("v") + ".yaml")).write_text("id: x\n")
    for name in ("index.db", "index.db-wal", "index.db-shm"):
        (store / name).write_bytes(b"")
    (cache.root / CACHE_MARKER).unlink()
    cache.close()
    assert LocalCache(cache.root).prune(0).removed_blobs == 1
    assert (cache.root / CACHE_MARKER).is_file()
    assert (store / "index.db").is_file()  # the index is not the cache's to remove
    (store / "index.db.bak").write_bytes(b"")  # a name gd does not make is still foreign
    (cache.root / CACHE_MARKER).unlink()
    with pytest.raises(ConflictError):
        LocalCache(cache.root).clear()


def test_an_unmarked_cache_with_cached_events_is_adopted(cache: LocalCache):
    """A first command that reads metadata events caches them under records/<store>/events/
    (ops/events.py); such a cache is gd's own."""
    put_files(cache, {"a": b"1"})
    events = cache.root / "records" / "0123456789abcdef" / "events"
    events.mkdir(parents=True)
    (events / "20261202T120000.000000Z-0123abcd.yaml").write_text("format: 1\n")
    (events / ".20261202T120000.000000Z-0123abcd.yaml.x1.tmp").write_text("")
    (cache.root / CACHE_MARKER).unlink()
    cache.close()
    assert LocalCache(cache.root).prune(0).removed_blobs == 1
    assert (cache.root / CACHE_MARKER).is_file()
    (events / "notes.txt").write_text("mine")  # a name gd does not make is still foreign
    (cache.root / CACHE_MARKER).unlink()
    with pytest.raises(ConflictError):
        LocalCache(cache.root).clear()
    assert (events / "notes.txt").is_file()
