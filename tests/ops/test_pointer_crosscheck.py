"""Pointer, record and manifest are cross-checked wherever they meet (docs/format.md §9):
resolving a version through a pointer (gd get [--rev], Dataset.get), gd status --remote
--check and the pre-commit hook.  Real git repositories throughout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.errors import IntegrityError
from gitdata.gitio.hooks import install_hooks
from gitdata.gitio.repo import find_repo
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]
CATS = ".gitdata/datasets/vision/cats.yaml"


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env())
    if check and r.returncode:
        raise AssertionError(f"git {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


def gd(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gitdata", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env(),
    )


def close(tmp_path: Path, name: str, files: dict[str, str]) -> Dataset:
    ds = Dataset.create(dataset_project="vision", dataset_name=name)
    ds.sync_folder(make_tree(tmp_path / f"src-{name}", files))
    ds.finalize(auto_upload=True)
    return ds


@pytest.fixture
def two(repo: Path, tmp_path: Path) -> tuple[Dataset, Dataset]:
    """vision/cats (1 file) and vision/dogs (2 files), both committed."""
    cats = close(tmp_path, "cats", {"a.txt": "cat"})
    dogs = close(tmp_path, "dogs", {"d1.txt": "dog", "d2.txt": "dog2"})
    git(repo, "commit", "-qm", "cats and dogs")
    return cats, dogs


def store_root() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "gitdata" / "store"


def forget_local_records() -> None:
    """Another machine: no local copies of version records."""
    shutil.rmtree(Path(os.environ["XDG_CACHE_HOME"]) / "gitdata" / "records", ignore_errors=True)


def edit_record(version_id: str, **changes) -> None:
    path = store_root() / "versions" / f"{version_id}.yaml"
    doc = load_yaml_mapping(path.read_bytes(), str(path))
    for key, value in changes.items():
        if key == "files":
            doc["stats"]["files"] = value
        else:
            doc[key] = value
    path.chmod(0o644)
    path.write_text(dump_yaml(doc))
    forget_local_records()


def edit_pointer(repo: Path, old: str, new: str) -> None:
    path = repo / CATS
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


# ------------------------------------------------------------ gd get --rev / Dataset.get


def test_record_with_another_datasets_manifest_is_refused_at_rev(repo: Path, two):
    cats, dogs = two
    edit_record(cats.id, manifest=dogs.record.manifest)  # the store's record was swapped
    with pytest.raises(IntegrityError, match=rf"pointer {CATS}@HEAD: 'manifest'") as info:
        Dataset.get(dataset_project="vision", dataset_name="cats", rev="HEAD")
    assert info.value.file == f"{CATS}@HEAD" and info.value.field == "manifest"
    target = repo.parent / "copy"
    r = gd(
        repo, "get", "--project", "vision", "--name", "cats", "--rev", "HEAD", "--copy", str(target)
    )
    assert r.returncode == 5, r.stderr
    assert f"{CATS}@HEAD" in r.stderr and "'manifest'" in r.stderr
    assert not target.exists()  # nothing was served


def test_pointer_naming_another_datasets_id_is_refused_by_get(repo: Path, two):
    cats, dogs = two
    edit_pointer(repo, cats.id, dogs.id)
    with pytest.raises(IntegrityError, match=rf"pointer {CATS}: 'id' {dogs.id} is .*vision/dogs"):
        Dataset.get(dataset_project="vision", dataset_name="cats")
    r = gd(
        repo, "get", "--project", "vision", "--name", "cats", "--copy", str(repo.parent / "copy")
    )
    assert r.returncode == 5 and "'id'" in r.stderr and CATS in r.stderr
    assert not (repo.parent / "copy").exists()


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("manifest", lambda cats, dogs: (cats.record.manifest, dogs.record.manifest)),
        ("version", lambda cats, dogs: ("version: 1.0.0", "version: 1.0.7")),
        ("stats.files", lambda cats, dogs: ("files: 1", "files: 2")),
        ("project/name", lambda cats, dogs: ("name: cats", "name: dogs")),
    ],
)
def test_hand_edited_pointer_fields_are_refused_by_get(repo: Path, two, field: str, edit):
    cats, dogs = two
    edit_pointer(repo, *edit(cats, dogs))
    with pytest.raises(IntegrityError, match=rf"pointer {CATS}: '{field}'"):
        Dataset.get(dataset_project="vision", dataset_name="cats", dataset_version=None)


def test_record_whose_stats_disagree_with_its_manifest_is_refused(repo: Path, two):
    cats, _ = two
    edit_record(cats.id, files=1)  # unchanged: still fine
    assert Dataset.get(dataset_project="vision", dataset_name="cats", rev="HEAD").id == cats.id
    edit_record(cats.id, files=5)
    edit_pointer(repo, "files: 1", "files: 5")  # both agree, the manifest does not
    with pytest.raises(IntegrityError, match=r"'stats.files' .* holds 1 files"):
        Dataset.get(dataset_project="vision", dataset_name="cats")


# ------------------------------------------------------------ gd status --remote --check


def test_status_remote_check_reports_mismatches(repo: Path, two):
    cats, dogs = two
    r = gd(repo, "status", "--remote", "--check")
    assert r.returncode == 0, r.stderr
    edit_pointer(repo, cats.record.manifest, dogs.record.manifest)
    r = gd(repo, "status", "--remote", "--check")
    assert r.returncode == 10
    assert CATS in r.stderr and "'manifest'" in r.stderr
    assert gd(repo, "status").returncode == 0  # no store access, nothing to compare
    git(repo, "checkout", "--", CATS)
    edit_record(cats.id, manifest=dogs.record.manifest)
    r = gd(repo, "status", "--remote", "--check", "--json")
    assert r.returncode == 10 and "'manifest'" in r.stderr


# ------------------------------------------------------------ pre-commit


def test_pre_commit_refuses_pointer_naming_another_dataset(repo: Path, two):
    cats, dogs = two
    install_hooks(find_repo(repo).repo)
    edit_pointer(repo, cats.id, dogs.id)
    git(repo, "add", CATS)
    r = git(repo, "commit", "-qm", "cats now point at dogs", check=False)
    assert r.returncode != 0
    assert CATS in r.stderr and "'id'" in r.stderr and "vision/dogs" in r.stderr
    git(repo, "checkout", "HEAD", "--", CATS)
    edit_pointer(repo, cats.record.manifest, dogs.record.manifest)
    git(repo, "add", CATS)
    r = git(repo, "commit", "-qm", "cats with the dogs' manifest", check=False)
    assert r.returncode != 0 and "'manifest'" in r.stderr
    git(repo, "checkout", "HEAD", "--", CATS)
    (repo / ".gitdata/datasets/vision/tigers.yaml").write_text((repo / CATS).read_text())
    git(repo, "add", ".gitdata")
    r = git(repo, "commit", "-qm", "copied pointer", check=False)
    assert r.returncode != 0 and "'project/name'" in r.stderr and "tigers.yaml" in r.stderr


def test_status_cross_checks_a_closed_pointer_while_a_draft_of_it_is_open(repo: Path, two):
    cats, dogs = two
    Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[cats.id])
    edit_pointer(repo, cats.record.manifest, dogs.record.manifest)
    r = gd(repo, "status", "--remote", "--check")
    assert r.returncode == 10 and "'manifest'" in r.stderr
