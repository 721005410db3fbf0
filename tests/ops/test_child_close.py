"""Closing a child of one paged parent from its changes alone (ops/commit.py,
_write_child): what it writes, what it counts, what it refuses, what it never reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spec_reader import read_store

from gitdata import Dataset
from gitdata.errors import InvalidInputError
from gitdata.ops import reader
from gitdata.ops.context import Context
from tests.conftest import make_tree, read_tree

pytestmark = pytest.mark.usefixtures("small_pages")


def files(n: int) -> dict[str, str]:
    return {f"d{i // 10}/f{i:03d}.txt": f"file {i}\n" for i in range(n)}


@pytest.fixture
def parent(tmp_path: Path) -> tuple[Dataset, Path]:
    src = make_tree(tmp_path / "src", files(100))
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    return ds, src


def child_of(parent: Dataset) -> Dataset:
    return Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])


def contents(ds: Dataset) -> dict[str, bytes]:
    return read_store(Path(Context().settings.storage))[ds.id]


def test_a_child_is_closed_without_reading_a_page_of_its_parent(parent, monkeypatch):
    ds, src = parent
    (src / "d3/f031.txt").write_text("changed\n")
    (src / "d4/f040.txt").unlink()
    (src / "d9/new.txt").write_text("new\n")
    page_shas = set(reader.load_manifest(Context(), ds.record.manifest).objects())
    child = child_of(ds)
    child.add_files(src / "d3/f031.txt", dataset_path="d3")
    child.add_files(src / "d9/new.txt", dataset_path="d9")
    child.remove_files("d4/f040.txt")
    child.upload()
    read: list[str] = []
    real = reader.load_manifest_object

    def spy(ctx, sha, what="manifest"):
        read.append(sha)
        return real(ctx, sha, what)

    monkeypatch.setattr(reader, "load_manifest_object", spy)
    import gitdata.ops.commit as commit

    monkeypatch.setattr(commit, "load_manifest_object", spy)
    reader._MANIFESTS.clear()  # as a new process: nothing decoded yet
    child.finalize()
    # of the parent's pages, the close reads only those the lookups of its three
    # paths and the new path's folder check need (a whole close reads every page)
    assert len(page_shas) >= 9
    assert len(set(read) & page_shas) <= 4
    expected = {p: (src / p).read_bytes() for p in read_tree(src)}
    assert contents(child) == expected
    assert child.record.stats == {
        "files": 100,
        "bytes": sum(len(b) for b in expected.values()),
        "added": 1,
        "modified": 1,
        "removed": 1,
    }


def test_a_childs_rename_and_mode_change_count_as_the_whole_close_counts_them(parent):
    ds, src = parent
    os.rename(src / "d1/f010.txt", src / "d1/moved.txt")
    os.chmod(src / "d2/f020.txt", 0o755)
    child = child_of(ds)
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    stats = child.record.stats
    assert (stats["added"], stats["removed"], stats["modified"]) == (0, 0, 1)
    assert stats["renamed"] == 1 and stats["files"] == 100
    got = Dataset.get(dataset_id=child.id).get_local_copy()
    assert os.access(Path(got) / "d2/f020.txt", os.X_OK)
    assert (Path(got) / "d1/moved.txt").read_text() == "file 10\n"


def test_a_child_with_no_change_keeps_the_parents_file_list(parent):
    ds, src = parent
    child = child_of(ds)
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert contents(child) == contents(ds)
    assert child.record.stats["files"] == 100


def test_a_new_file_under_a_parents_file_is_refused(parent, tmp_path):
    ds, _ = parent
    make_tree(tmp_path / "odd", {"f001.txt/inner.txt": "x"})
    child = child_of(ds)
    child.add_files(tmp_path / "odd", dataset_path="d0")
    with pytest.raises(InvalidInputError, match="'d0/f001.txt' is a file and also the folder"):
        child.finalize(auto_upload=True)
    assert Dataset.get(dataset_id=child.id).is_final() is False  # the draft is kept


def test_a_new_file_where_the_parent_has_a_folder_is_refused(parent, tmp_path):
    ds, _ = parent
    make_tree(tmp_path / "odd", {"d1": "a file named like a folder"})
    child = child_of(ds)
    child.add_files(tmp_path / "odd/d1")
    with pytest.raises(InvalidInputError, match="'d1' is a file and also the folder"):
        child.finalize(auto_upload=True)


def test_a_file_may_take_the_place_of_a_folder_the_child_emptied(parent, tmp_path):
    ds, src = parent
    make_tree(tmp_path / "odd", {"d1": "now a file"})
    child = child_of(ds)
    child.remove_files("d1/*")
    child.add_files(tmp_path / "odd/d1")
    child.finalize(auto_upload=True)
    got = contents(child)
    assert got["d1"] == b"now a file" and not any(p.startswith("d1/") for p in got)
    assert child.record.stats["files"] == 91


def test_a_child_past_the_delta_bound_is_paged_afresh_with_the_same_content(parent):
    ds, src = parent
    for i in range(0, 100, 7):  # 15 changes: more than the delta holds
        (src / f"d{i // 10}/f{i:03d}.txt").write_text(f"changed {i}\n")
    child = child_of(ds)
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert contents(child) == {p: (src / p).read_bytes() for p in read_tree(src)}
    assert child.record.stats["modified"] == 15


def test_a_child_shrinking_below_the_paging_bound_is_written_whole(parent):
    ds, src = parent
    child = child_of(ds)
    child.remove_files("d[1-9]/*")
    child.finalize(auto_upload=True)
    assert len(contents(child)) == 10
    assert child.record.stats["removed"] == 90


def test_a_paged_first_version_with_a_file_folder_clash_is_refused(tmp_path: Path):
    """A first version closes streamed from the draft (ops/commit.py, _write_first):
    its clash check is the sorted one, and a refused close writes no record."""
    one = make_tree(tmp_path / "one", {"a": "a file", **files(30)})
    two = make_tree(tmp_path / "two", {"a/b": "under a"})
    ds = Dataset.create(dataset_project="p", dataset_name="first")
    ds.add_files(one)
    ds.add_files(two)
    with pytest.raises(InvalidInputError, match="'a' is a file and also the folder of 'a/b'"):
        ds.finalize(auto_upload=True)
    store = Path(Context().settings.storage)
    assert not list((store / "versions").glob("*.yaml"))
    assert Context().state.has_draft(ds.id)  # kept, to be mended
