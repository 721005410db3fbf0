"""A fresh draft's sync over a paged base compares columns (ops/basecolumns), taking
the columns of pages it read before from the stat cache: every change of a folder
whose other files are unchanged is still found, and remembered columns that are
damaged or do not fit the page are not trusted."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.core.pages import PagedManifest
from gitdata.ops import basecolumns, drafts
from tests.conftest import make_tree, read_tree

TREE = {f"d{d}/f{i:02d}": f"{d}-{i}" for d in range(3) for i in range(30)} | {"top": "t"}


@pytest.fixture(autouse=True)
def paged(small_pages: None) -> None:
    """Versions of this module's 91 files are paged, 5 to 12 files a page."""


def settle(root: Path) -> None:
    """Every file's mtime safely in the past: the stat cache keeps it."""
    old = time.time() - 10
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            os.utime(Path(dirpath) / name, (old, old))


def parent_of(tmp_path: Path, tree: dict[str, str] = TREE) -> tuple[Dataset, Path]:
    src = make_tree(tmp_path / "src", tree)
    settle(src)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    assert isinstance(ds._manifest(), PagedManifest)
    return ds, src


def sync_child(parent: Dataset, src: Path, **kwargs) -> tuple[Dataset, drafts.SyncResult]:
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    return child, drafts.sync_folder(child._ctx, child.id, src, **kwargs)


def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pages the sync decodes (their columns not taken from the stat cache)."""
    seen: list[int] = []
    real = PagedManifest.page_entries

    def page_entries(self, i):
        seen.append(i)
        return real(self, i)

    monkeypatch.setattr(PagedManifest, "page_entries", page_entries)
    return seen


def files_of(ds: Dataset) -> dict[str, bytes]:
    return read_tree(Path(Dataset.get(dataset_id=ds.id).get_local_copy()))


def test_an_unchanged_folder_decodes_each_page_once_then_none(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    _, first = sync_child(parent, src)  # (learns the runs and the pages' columns)
    assert first == drafts.SyncResult(0, 0, 0)
    seen = decodes(monkeypatch)
    _, again = sync_child(parent, src)
    assert again == drafts.SyncResult(0, 0, 0)
    assert seen == []


def test_a_change_an_addition_and_a_removal_in_one_remembered_run_are_found(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    sync_child(parent, src)  # the pages' columns remembered
    (src / "d1/f07").write_text("changed")
    (src / "d1/f07b").write_text("new")
    os.unlink(src / "d1/f20")
    os.chmod(src / "d2/f03", 0o755)  # a mode change alone
    settle(src)
    seen = decodes(monkeypatch)
    child, result = sync_child(parent, src)
    assert result == drafts.SyncResult(1, 1, 2)
    assert seen == []  # (the mode change reads its one entry through a lookup)
    child.finalize(auto_upload=True)
    assert files_of(child) == read_tree(src)
    assert [e.path for e in child._manifest() if e.executable] == ["d2/f03"]


def test_a_sync_into_a_dataset_folder_keeps_the_paths_beside_it(tmp_path):
    tree = {f"data/f{i:02d}": str(i) for i in range(40)}
    tree |= {"data-x": "beside", "data.txt": "beside", "data0/y": "beside", "a": "before"}
    parent, src = parent_of(tmp_path, tree)
    now = make_tree(tmp_path / "now", {f"f{i:02d}": str(i) for i in range(1, 41)})
    settle(now)
    child, result = sync_child(parent, now, dataset_path="data")
    assert result == drafts.SyncResult(1, 1, 0)
    child.finalize(auto_upload=True)
    got = files_of(child)
    assert {p for p in got if not p.startswith("data/")} == {"data-x", "data.txt", "data0/y", "a"}
    assert {p: v for p, v in got.items() if p.startswith("data/")} == {
        f"data/{p}": v for p, v in read_tree(now).items()
    }


def test_a_parent_with_a_delta_is_read_as_its_file_list(tmp_path):
    parent, src = parent_of(tmp_path)
    (src / "d0/f05").write_text("in the delta")
    os.unlink(src / "d2/f11")
    (src / "d2/f11x").write_text("added in the delta")
    settle(src)
    middle, result = sync_child(parent, src)
    assert result == drafts.SyncResult(1, 1, 1)
    middle.finalize(auto_upload=True)
    assert middle._manifest().touched_pages()  # (a child with a delta)
    (src / "d2/f12").write_text("changed after")
    (src / "d0/f05").write_text("in the delta, changed again")
    settle(src)
    child, result = sync_child(middle, src)
    assert result == drafts.SyncResult(0, 0, 2)
    child.finalize(auto_upload=True)
    assert files_of(child) == read_tree(src)


def page_rows(db: Path) -> list[tuple[str, bytes]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT sha, shas FROM page").fetchall()
    finally:
        conn.close()


def test_damaged_or_foreign_columns_are_not_trusted(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    sync_child(parent, src)
    db = parent._ctx.stat_cache.db_path
    parent._ctx.stat_cache.close()
    rows = page_rows(db)
    manifest = parent._manifest()
    assert {sha for sha, _ in rows} == {r.page for r in manifest.page_refs}
    # a change whose new hash the columns of its page were made to claim: taken on
    # trust, the change would be missed
    (src / "d1/f07").write_text("changed")
    settle(src)
    i = next(i for i, r in enumerate(manifest.page_refs) if r.first <= "d1/f07" <= r.last)
    ref = manifest.page_refs[i]
    cols = basecolumns.columns_of(manifest.page_entries(i))
    new = bytes.fromhex(drafts.hash_files.__globals__["hash_source"](str(src / "d1/f07"))[0])
    shas = bytearray(bytes.fromhex("".join(cols.shas)))
    at = cols.paths.index("d1/f07")
    shas[32 * at : 32 * at + 32] = new
    conn = sqlite3.connect(db)
    with conn:  # damaged: the seal no longer matches
        conn.execute("UPDATE page SET shas = ? WHERE sha = ?", (bytes(shas), ref.page))
    conn.close()
    _, result = sync_child(parent, src)
    assert result == drafts.SyncResult(0, 0, 1)
    # another page's columns, sealed under this page's hash (as if from another
    # store or dataset): they disagree with the root's reference of the page
    other = manifest.page_refs[i + 1]
    assert basecolumns.unpack(ref, *packed_of(manifest, i + 1)) is None
    parent._ctx.stat_cache.store_page_columns(ref.page, *packed_of(manifest, i + 1))
    seen = decodes(monkeypatch)
    _, result = sync_child(parent, src)
    assert result == drafts.SyncResult(0, 0, 1)
    assert i in seen and other.page != ref.page


def packed_of(manifest: PagedManifest, i: int) -> tuple[bytes, bytes, bytes]:
    packed = basecolumns.pack(basecolumns.columns_of(manifest.page_entries(i)))
    assert packed is not None
    return packed


def test_a_draft_with_files_of_its_own_syncs_as_before(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    extra = make_tree(tmp_path / "extra", {"x": "own"})
    child.add_files(extra / "x")
    called: list[int] = []
    monkeypatch.setattr(drafts, "_sync_by_columns", lambda *a: called.append(1))
    (src / "d0/f00").write_text("changed")
    result = drafts.sync_folder(child._ctx, child.id, src)
    assert result == drafts.SyncResult(1, 0, 1) and called == []


def test_a_first_close_remembers_its_pages_so_the_first_sync_decodes_none(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    db = parent._ctx.stat_cache.db_path
    assert {sha for sha, _ in page_rows(db)} == {r.page for r in parent._manifest().page_refs}
    seen = decodes(monkeypatch)
    (src / "d2/f29").write_text("changed")
    settle(src)
    child, result = sync_child(parent, src)
    assert result == drafts.SyncResult(0, 0, 1)
    assert seen == []
    child.finalize(auto_upload=True)
    assert files_of(child) == read_tree(src)


def test_a_compacted_child_remembers_its_fresh_pages(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    for i in range(12):  # past the delta's bound of 10: the child is paged afresh
        (src / f"d1/f{i:02d}").write_text(f"changed {i}")
    settle(src)
    child, result = sync_child(parent, src)
    assert result == drafts.SyncResult(0, 0, 12)
    child.finalize(auto_upload=True)
    manifest = child._manifest()
    assert not manifest.touched_pages()  # (no delta)
    rows = {sha for sha, _ in page_rows(parent._ctx.stat_cache.db_path)}
    assert {r.page for r in manifest.page_refs} <= rows
    seen = decodes(monkeypatch)
    _, again = sync_child(child, src)
    assert again == drafts.SyncResult(0, 0, 0) and seen == []


def test_an_emptied_folder_and_a_new_one_beside_it(tmp_path):
    parent, src = parent_of(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    child, result = sync_child(parent, empty, dataset_path="d1")
    assert result == drafts.SyncResult(30, 0, 0)
    child.finalize(auto_upload=True)
    assert {p.split("/")[0] for p in files_of(child)} == {"d0", "d2", "top"}
    fresh = make_tree(tmp_path / "fresh", {"x": "1", "y/z": "2"})
    settle(fresh)
    other, result = sync_child(parent, fresh, dataset_path="c")  # (sorts before them all)
    assert result == drafts.SyncResult(0, 2, 0)
    other.finalize(auto_upload=True)
    assert files_of(other) == read_tree(src) | {"c/x": b"1", "c/y/z": b"2"}


def test_a_file_back_to_content_the_stat_cache_knows_is_a_modification(tmp_path):
    parent, src = parent_of(tmp_path)
    (src / "d0/f01").write_text("other")
    settle(src)
    first, result = sync_child(parent, src)  # (hashes it: the stat cache knows it now)
    assert result == drafts.SyncResult(0, 0, 1)
    first.finalize(auto_upload=True)
    again, result = sync_child(parent, src)  # its hash known, not the parent's
    assert result == drafts.SyncResult(0, 0, 1)
    again.finalize(auto_upload=True)
    assert files_of(again) == read_tree(src)


def test_remembered_places_give_the_entries_a_page_holds(tmp_path):
    tree = TREE | {"x/run.sh": "#!/bin/sh"}
    parent, src = parent_of(tmp_path, tree)
    os.chmod(src / "x/run.sh", 0o755)
    settle(src)
    middle, _ = sync_child(parent, src)  # (an executable file, and a delta)
    middle.finalize(auto_upload=True)
    manifest = middle._manifest()
    sc = middle._ctx.stat_cache
    wanted = [e.path for e in manifest] + ["d0/none", "zz", "a"]
    got = basecolumns.lookup_entries(manifest, wanted, sc)
    assert got == {p: e for p in wanted if (e := manifest.get(p)) is not None}
    assert got["x/run.sh"].executable
    # damaged places are not used: the page is read instead
    db = sc.db_path
    sc.close()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE page_places SET sizes = zeroblob(length(sizes))")
    conn.close()
    assert basecolumns.lookup_entries(manifest, wanted, sc) == got


def test_the_close_of_a_scattered_child_reads_no_page(tmp_path, monkeypatch):
    parent, src = parent_of(tmp_path)
    for d in range(3):
        (src / f"d{d}/f{d * 7:02d}").write_text(f"changed {d}")
    settle(src)
    child, result = sync_child(parent, src)
    assert result == drafts.SyncResult(0, 0, 3)
    read: list[int] = []
    real = PagedManifest._page
    monkeypatch.setattr(PagedManifest, "_page", lambda self, i: read.append(i) or real(self, i))
    child.finalize(auto_upload=True)
    assert read == []
    monkeypatch.setattr(PagedManifest, "_page", real)
    assert files_of(child) == read_tree(src)
    assert child._manifest().get("d1/f07").size == len("changed 1")
