"""close writes and stages the pointer; get resolves through it, also at a revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import DatasetNotFoundError
from tests.conftest import make_tree, read_tree


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return path


def version(src: Path, parents=None) -> Dataset:
    ds = Dataset.create(dataset_project="team/vision", dataset_name="cats", parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def test_close_writes_pointer_and_get_follows_it(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "1"})
    v1 = version(src)
    rel = ".gitdata/datasets/team/vision/cats.yaml"
    assert v1.pointer_path == repo / rel
    assert git(repo, "diff", "--cached", "--name-only").split() == [rel]
    assert v1.id in (repo / rel).read_text()
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "data-v1")
    (src / "b.txt").write_text("2")
    v2 = version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    got = Dataset.get(dataset_project="team/vision", dataset_name="cats")
    assert got.id == v2.id and got.resolved_from.startswith("pointer")
    assert (
        Dataset.get(dataset_project="team/vision", dataset_name="cats", rev="data-v1").id == v1.id
    )
    old = Dataset.get(dataset_project="team/vision", dataset_name="cats", rev="HEAD~1")
    assert read_tree(Path(old.get_local_copy())) == {"a.txt": b"1"}


def test_pointer_pins_even_when_store_has_newer(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "1"})
    v1 = version(src)
    git(repo, "commit", "-qm", "v1")
    # a newer version made outside the repo does not move the pin
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    import os

    os.chdir(outside)
    (src / "c.txt").write_text("3")
    newer = version(src, [v1.id])
    assert newer.pointer_path is None
    assert Dataset.get(dataset_project="team/vision", dataset_name="cats").id == newer.id
    os.chdir(repo)
    assert Dataset.get(dataset_project="team/vision", dataset_name="cats").id == v1.id


def test_rev_without_pointer(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "1"})
    version(src)
    git(repo, "commit", "-qm", "v1")
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_project="team/vision", dataset_name="dogs", rev="HEAD")


def test_unknown_keys_in_pointer_survive_a_new_close(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "1"})
    v1 = version(src)
    pointer = repo / ".gitdata/datasets/team/vision/cats.yaml"
    pointer.write_text(pointer.read_text() + "owner: data-team\n")
    (src / "b.txt").write_text("2")
    version(src, [v1.id])
    assert "owner: data-team" in pointer.read_text()
