"""One add never drops files: two local files landing at one dataset path are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import InvalidInputError
from tests.conftest import make_tree


def test_several_sources_with_a_shared_name_are_refused_and_nothing_is_added(tmp_path: Path):
    images = make_tree(tmp_path / "images", {"a.png": "img-a", "b.png": "img-b", "only.png": "i"})
    labels = make_tree(tmp_path / "labels", {"a.png": "lab-a", "b.png": "lab-b"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(make_tree(tmp_path / "first", {"keep.txt": "k"}))
    with pytest.raises(InvalidInputError) as info:
        ds.add_files([images, labels])
    err = info.value
    assert err.count == 2 and err.paths == ["a.png", "b.png"]
    # names the colliding paths, where each came from, and the way out
    for word in ("a.png", str(images / "a.png"), str(labels / "a.png"), str(images), str(labels)):
        assert word in err.message
    assert "--dataset-folder" in err.hint
    assert Dataset.get(dataset_id=ds.id).list_files() == ["keep.txt"]


def test_the_message_shows_the_first_few_collisions_and_counts_the_rest(tmp_path: Path):
    names = {f"f{i}.txt": str(i) for i in range(7)}
    one = make_tree(tmp_path / "one", names)
    two = make_tree(tmp_path / "two", {k: v + "x" for k, v in names.items()})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(InvalidInputError) as info:
        ds.add_files([one, two])
    assert info.value.count == 7 and len(info.value.paths) == 3
    assert "and 4 more" in info.value.message
    assert ds.list_files() == []


def test_single_files_mapping_to_one_path_are_refused(tmp_path: Path):
    make_tree(tmp_path, {"x/data.csv": "1", "y/data.csv": "2"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(InvalidInputError, match="data.csv"):
        ds.add_files([tmp_path / "x" / "data.csv", tmp_path / "y" / "data.csv"])
    assert ds.list_files() == []


def test_the_same_file_named_twice_is_no_collision(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    assert ds.add_files([src, src / "a.txt", str(src)]) == 2
    assert ds.list_files() == ["a.txt", "sub/b.txt"]


def test_sources_under_different_dataset_folders_do_not_collide(tmp_path: Path):
    images = make_tree(tmp_path / "images", {"a.png": "img"})
    labels = make_tree(tmp_path / "labels", {"a.png": "lab"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(images, dataset_path="images")
    ds.add_files(labels, dataset_path="labels")
    assert ds.list_files() == ["images/a.png", "labels/a.png"]


def test_a_missing_source_adds_nothing_from_the_others(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(FileNotFoundError):
        ds.add_files([src, tmp_path / "missing"])
    assert ds.list_files() == []
