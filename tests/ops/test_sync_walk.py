"""Sync compares the folder with the draft as two streams in path order
(ops/drafts.sync_folder over ops/scan.iter_folder): names chosen so that a folder's
walk order and the paths' byte order differ unless the walk sorts folders as
"name/"."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import UnsafePathError
from gitdata.ops import drafts
from gitdata.ops.scan import iter_folder, iter_folder_runs
from tests.conftest import make_tree, read_tree

TRICKY = {  # (no "a" beside "a/": a disk cannot hold both)
    "a-b/x": "1",
    "a/x": "2",
    "a/y/z": "3",
    "a.txt": "4",
    "a0": "5",
    "b/é.txt": "6",
    "b/e.txt": "7",
    "B": "8",
}


def test_the_walk_yields_paths_in_the_order_of_their_bytes(tmp_path):
    make_tree(tmp_path / "src", TRICKY)
    got = [f.rel for f in iter_folder(tmp_path / "src")]
    assert got == sorted(TRICKY, key=str.encode)


@pytest.fixture(autouse=True, params=["whole", "paged"])
def small_batches(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Batches of two files; and each test run twice: over parents of one manifest
    object, and over paged ones of two or three files a page (a fresh draft's sync
    then compares columns: ops/basecolumns)."""
    monkeypatch.setattr(drafts, "_SYNC_BATCH", 2)
    if request.param == "paged":
        from gitdata.core import pages

        monkeypatch.setattr(pages, "PAGED_FROM_FILES", 2)
        monkeypatch.setattr(pages, "PAGE_MIN_FILES", 2)
        monkeypatch.setattr(pages, "PAGE_CUT_MASK", 1)
        monkeypatch.setattr(pages, "PAGE_MAX_FILES", 3)


def closed_with(tmp_path: Path, tree: dict[str, str]) -> Dataset:
    src = make_tree(tmp_path / "first", tree)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    return ds


def test_a_sync_in_small_batches_adds_changes_and_removes_exactly(tmp_path):
    start = {"a-b/x": "1", "a/x": "2", "a/old": "gone", "a.txt": "4", "z": "gone too"}
    parent = closed_with(tmp_path, start)
    now = make_tree(tmp_path / "now", TRICKY)
    (now / "a/x").write_text("2 changed")
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    result = drafts.sync_folder(child._ctx, child.id, now)
    assert (result.removed, result.modified) == (2, 1)
    assert result.added == len(TRICKY) - 3
    child.finalize(auto_upload=True)
    got = read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))
    assert got == {p: (now / p).read_bytes() for p in read_tree(now)}


def test_a_sync_into_a_folder_leaves_the_paths_beside_it_alone(tmp_path):
    parent = closed_with(
        tmp_path, {"data-x": "beside", "data.txt": "beside", "data/old": "in", "data0": "beside"}
    )
    now = make_tree(tmp_path / "now", {"new": "n", "sub/deep": "d"})
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    result = drafts.sync_folder(child._ctx, child.id, now, dataset_path="data")
    assert (result.added, result.modified, result.removed) == (2, 0, 1)
    child.finalize(auto_upload=True)
    got = read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))
    assert set(got) == {"data-x", "data.txt", "data0", "data/new", "data/sub/deep"}


def test_a_file_named_like_the_synced_folder_is_replaced_by_the_folder(tmp_path):
    parent = closed_with(tmp_path, {"data": "a file", "keep": "k"})
    now = make_tree(tmp_path / "now", {"inner": "i"})
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    result = drafts.sync_folder(child._ctx, child.id, now, dataset_path="data")
    assert (result.added, result.removed) == (1, 1)
    child.finalize(auto_upload=True)
    got = read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))
    assert set(got) == {"data/inner", "keep"}


def test_a_sync_that_fails_in_a_later_batch_changes_nothing(tmp_path):
    parent = closed_with(tmp_path, {"a": "1", "b": "2"})
    now = make_tree(tmp_path / "now", {"a": "1 changed", "b": "2", "c": "3", "z/d": "4"})
    os.symlink(tmp_path / "first", now / "z/e")  # found in the third batch
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    with pytest.raises(UnsafePathError, match="points outside the added folder"):
        drafts.sync_folder(child._ctx, child.id, now)
    reopened = Dataset.get(dataset_id=child.id)
    assert sorted(reopened.list_files()) == ["a", "b"]
    assert reopened.list_modified_files() == [] and reopened.list_added_files() == []


def test_an_add_that_fails_in_a_later_batch_changes_nothing(tmp_path):
    src = make_tree(tmp_path / "src", {"a": "1", "b": "2", "c": "3", "z/d": "4"})
    os.symlink(tmp_path, src / "z/e")  # found in the third batch
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(UnsafePathError, match="points outside the added folder"):
        ds.add_files(src)
    assert Dataset.get(dataset_id=ds.id).list_files() == []
    os.unlink(src / "z/e")
    assert ds.add_files(src) == 4
    assert sorted(Dataset.get(dataset_id=ds.id).list_files()) == ["a", "b", "c", "z/d"]


def test_the_walk_gives_runs_of_one_folders_files_between_its_subfolders(tmp_path):
    make_tree(tmp_path / "src", TRICKY)
    runs = [(r.prefix, r.names) for r in iter_folder_runs(tmp_path / "src")]
    assert runs == [
        ("", ["B"]),
        ("a-b/", ["x"]),
        ("", ["a.txt"]),
        ("a/", ["x"]),
        ("a/y/", ["z"]),
        ("", ["a0"]),
        ("b/", ["e.txt", "é.txt"]),
    ]
    for r in iter_folder_runs(tmp_path / "src"):
        assert r.base == f"{tmp_path / 'src'}/{r.prefix}"
        assert [st.st_size for st in r.stats] == [len(TRICKY[r.prefix + n]) for n in r.names]


def settled_tree(root: Path, tree: dict[str, str]) -> Path:
    """``make_tree`` with mtimes safely in the past: the stat cache keeps such files."""
    make_tree(root, tree)
    old = time.time() - 10
    for rel in tree:
        os.utime(root / rel, (old, old))
    return root


def counting_places(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    placed: list[str] = []
    real = drafts._place

    def place(draft, path, *args, **kwargs):
        placed.append(path)
        return real(draft, path, *args, **kwargs)

    monkeypatch.setattr(drafts, "_place", place)
    return placed


def test_known_unchanged_files_are_passed_over_and_a_mode_change_is_not(tmp_path, monkeypatch):
    src = settled_tree(tmp_path / "src", {f"d/f{i}": str(i) for i in range(7)} | {"top": "t"})
    parent = Dataset.create(dataset_project="p", dataset_name="n")
    drafts.sync_folder(parent._ctx, parent.id, src)  # hashes every file, once
    parent.finalize(auto_upload=True)
    placed = counting_places(monkeypatch)
    same = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    assert drafts.sync_folder(same._ctx, same.id, src) == drafts.SyncResult(0, 0, 0)
    assert placed == []  # every batch passed over whole
    os.chmod(src / "d/f3", 0o755)  # the mode alone: size and mtime stay
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    assert drafts.sync_folder(child._ctx, child.id, src) == drafts.SyncResult(0, 0, 1)
    assert placed == ["d/f3"]
    child.finalize(auto_upload=True)
    manifest = Dataset.get(dataset_id=child.id)._manifest()
    assert [e.path for e in manifest if e.executable] == ["d/f3"]


def test_a_file_gone_from_among_known_files_is_removed_and_only_it(tmp_path):
    tree = {f"d/f{i}": str(i) for i in range(6)}
    src = settled_tree(tmp_path / "src", tree)
    parent = closed_with(tmp_path, tree)
    os.unlink(src / "d/f2")
    (src / "d/f4").write_text("four")  # content changed: hashed again
    os.utime(src / "d/f4", (time.time() - 10, time.time() - 10))
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    drafts.sync_folder(child._ctx, child.id, src)  # (the stat cache learns these files)
    again = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    assert drafts.sync_folder(again._ctx, again.id, src) == drafts.SyncResult(1, 0, 1)
    again.finalize(auto_upload=True)
    got = read_tree(Path(Dataset.get(dataset_id=again.id).get_local_copy()))
    assert got == {p: (src / p).read_bytes() for p in read_tree(src)}


def test_a_sync_over_the_drafts_own_files_keeps_them(tmp_path):
    src = settled_tree(tmp_path / "src", {"a": "1", "b/c": "2", "b/d": "3"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    assert drafts.sync_folder(ds._ctx, ds.id, src) == drafts.SyncResult(0, 0, 0)
    (src / "b/d").write_text("3 changed")
    assert drafts.sync_folder(ds._ctx, ds.id, src) == drafts.SyncResult(0, 0, 1)
    ds.finalize(auto_upload=True)
    got = read_tree(Path(Dataset.get(dataset_id=ds.id).get_local_copy()))
    assert got == {p: (src / p).read_bytes() for p in read_tree(src)}


def test_an_add_remembers_its_runs_so_a_sync_reads_no_files_rows(tmp_path, monkeypatch):
    from gitdata.cache import statcache

    tree = {f"d/f{i}": str(i) for i in range(5)} | {"e/g": "g", "top": "t"}
    src = settled_tree(tmp_path / "src", tree)
    parent = Dataset.create(dataset_project="p", dataset_name="n")
    parent.add_files(src)  # (in batches of two files: runs cut as a sync cuts them)
    parent.finalize(auto_upload=True)
    rows: list[int] = []
    real = statcache._select_one
    monkeypatch.setattr(statcache, "_select_one", lambda *a: rows.append(1) or real(*a))
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    assert drafts.sync_folder(child._ctx, child.id, src) == drafts.SyncResult(0, 0, 0)
    assert rows == []
    (src / "d/f3").write_text("changed")
    again = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    assert drafts.sync_folder(again._ctx, again.id, src) == drafts.SyncResult(0, 0, 1)
