"""`get_local_copy` / `get_mutable_local_copy` / `get_linked_copy(dataset_path=..., only_added=...)`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import InvalidInputError, LocalPathNotFoundError
from tests.conftest import closed_version, read_tree

V1 = {"train/a.jpg": "A", "train/b.png": "B", "val/c.jpg": "C", "README": "read me"}


@pytest.fixture
def ds(tmp_path: Path) -> Dataset:
    return closed_version(tmp_path / "src", V1)


def test_dataset_path_narrows_the_cached_copy(ds: Dataset):
    path = Path(ds.get_local_copy(dataset_path="train"))
    assert read_tree(path) == {"train/a.jpg": b"A", "train/b.png": b"B"}
    assert Path(ds.get_local_copy()) != path
    jpgs = Path(ds.get_local_copy(dataset_path=["*.jpg", "README"]))
    assert read_tree(jpgs) == {"train/a.jpg": b"A", "val/c.jpg": b"C", "README": b"read me"}


@pytest.mark.parametrize("method", ["get_linked_copy", "get_mutable_local_copy"])
def test_dataset_path_narrows_a_tree_and_verify_checks_those_files(
    ds: Dataset, tmp_path: Path, method: str
):
    target = tmp_path / "out"
    getattr(ds, method)(target, dataset_path="val/")
    assert read_tree(target) == {"val/c.jpg": b"C"}
    report = ds.verify(target)
    assert report.ok and report.checked == 1
    assert report.selection is not None and report.selection.patterns == ("val",)
    assert ds.verify_dataset_hash(target) == []


def test_a_tree_of_another_version_is_checked_against_the_whole_version(
    ds: Dataset, tmp_path: Path
):
    other = closed_version(tmp_path / "src2", {"x": "x"})
    target = tmp_path / "out"
    other.get_linked_copy(target, dataset_path="x")
    report = ds.verify(target)
    assert report.selection is None and not report.ok
    assert sorted(report.missing) == sorted(V1)


def test_only_added_against_the_merged_parents(ds: Dataset, tmp_path: Path):
    child = closed_version(
        tmp_path / "src2", {"val/c.jpg": "C2", "test/d.jpg": "D"}, parents=[ds.id]
    )
    assert read_tree(Path(child.get_local_copy(only_added=True))) == {
        "val/c.jpg": b"C2",
        "test/d.jpg": b"D",
    }
    assert read_tree(Path(child.get_local_copy(only_added=True, dataset_path="test"))) == {
        "test/d.jpg": b"D"
    }


def test_nothing_matching_raises_a_lookup_error_and_writes_nothing(ds: Dataset, tmp_path: Path):
    target = tmp_path / "out"
    with pytest.raises(LookupError, match="no file matches"):
        ds.get_linked_copy(target, dataset_path="*.gif")
    with pytest.raises(LocalPathNotFoundError):
        ds.get_local_copy(dataset_path="nowhere/")
    assert not target.exists()


def test_bad_patterns_raise_invalid_input(ds: Dataset):
    with pytest.raises(InvalidInputError):
        ds.get_local_copy(dataset_path=[""])
    with pytest.raises(InvalidInputError):
        ds.get_local_copy(dataset_path=[3])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="go together"):
        ds.get_local_copy(dataset_path="train", part=0)
