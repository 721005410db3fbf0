"""`get_mutable_local_copy` / `get_linked_copy(..., overwrite=True)` replace only an empty
folder or a tree gd made; everything else raises and keeps every file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import ConflictError, GitDataError, TargetNotEmptyError
from tests.conftest import closed_version, make_tree, read_tree

V1 = {"a.txt": "one", "sub/b.txt": "bee"}
V2 = {"a.txt": "ONE", "c/d.txt": "dee"}


@pytest.fixture
def ds(tmp_path: Path) -> Dataset:
    return closed_version(tmp_path / "src", V1)


def getter(ds: Dataset, mode: str):
    return ds.get_linked_copy if mode == "link" else ds.get_mutable_local_copy


def everything(root: Path) -> set[str]:
    out = set()
    for dirpath, dirs, names in os.walk(root):
        out.update(os.path.relpath(os.path.join(dirpath, n), root) for n in dirs + names)
    return out


def as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode() for k, v in files.items()}


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_current_folder_is_refused(ds: Dataset, tmp_path: Path, mode: str, monkeypatch):
    here = make_tree(tmp_path / "here", {"train.py": "x"})
    monkeypatch.chdir(here)
    with pytest.raises(ConflictError, match="current folder"):
        getter(ds, mode)(".", overwrite=True)
    assert read_tree(here) == {"train.py": b"x"} and os.getcwd() == str(here)


def test_ancestor_of_the_current_folder_is_refused(ds: Dataset, tmp_path: Path, monkeypatch):
    top = make_tree(tmp_path / "top", {"keep": "k", "a/b/c": "c"})
    monkeypatch.chdir(top / "a" / "b")
    with pytest.raises(ConflictError):
        ds.get_mutable_local_copy(top, overwrite=True)
    assert read_tree(top) == {"keep": b"k", "a/b/c": b"c"}


def test_repository_root_is_refused(ds: Dataset, tmp_path: Path):
    repo = make_tree(tmp_path / "repo", {"code.py": "1"})
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    before = everything(repo)
    with pytest.raises(ConflictError, match=r"\.git"):
        ds.get_linked_copy(repo, overwrite=True)
    assert everything(repo) == before


def test_nested_git_is_refused(ds: Dataset, tmp_path: Path):
    outer = make_tree(tmp_path / "outer", {"x": "x", "deps/lib/.git": "gitdir: ../../.g\n"})
    before = everything(outer)
    with pytest.raises(ConflictError, match="deps/lib/.git"):
        ds.get_mutable_local_copy(outer, overwrite=True)
    assert everything(outer) == before


def test_home_is_refused(ds: Dataset):
    home = Path(os.environ["HOME"])
    make_tree(home, {"notes.txt": "mine"})
    with pytest.raises(ConflictError, match="home folder"):
        ds.get_mutable_local_copy("~", overwrite=True)
    assert (home / "notes.txt").read_text() == "mine"


def test_foreign_files_are_named_and_kept(ds: Dataset, tmp_path: Path):
    busy = make_tree(tmp_path / "busy", {"z.txt": "z", "m/1": "1", "m/2": "2"})
    with pytest.raises(TargetNotEmptyError) as info:
        ds.get_mutable_local_copy(busy, overwrite=True)
    err = info.value
    assert isinstance(err, FileExistsError) and isinstance(err, GitDataError)
    assert err.count == 3 and err.foreign == ["m/1", "m/2", "z.txt"]
    assert "3 files" in str(err) and "m/1, m/2, z.txt" in str(err)
    assert read_tree(busy) == {"z.txt": b"z", "m/1": b"1", "m/2": b"2"}


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_empty_folder_and_own_tree_are_replaced(ds: Dataset, tmp_path: Path, mode: str):
    empty = tmp_path / "empty"
    empty.mkdir()
    get = getter(ds, mode)
    assert read_tree(Path(get(empty, overwrite=True))) == as_bytes(V1)
    assert read_tree(Path(get(empty, overwrite=True))) == as_bytes(V1)


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_one_version_to_another(ds: Dataset, tmp_path: Path, mode: str):
    other = closed_version(tmp_path / "src2", V2, name="other")
    tree = Path(getter(ds, mode)(tmp_path / "tree"))
    getter(other, mode)(tree, overwrite=True)
    assert read_tree(tree) == as_bytes(V2)
    assert other.verify_dataset_hash(str(tree)) == []
