"""Pointer, record and manifest are cross-checked wherever they meet (docs/format.md §9):
resolving a version through a pointer (gd get [--rev], Dataset.get), gd status --remote
--check, the pre-commit and pre-push hooks, gd diff, bound folders (gd checkout and the
post-checkout hook) and merges of pointers (the merge driver, gd merge --resolve).  Real
git repositories throughout."""

from __future__ import annotations

import json
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
from tests.conftest import make_tree, read_tree
from tests.ops.test_git_hooks import close_version, env, gd, git
from tests.ops.test_git_merge import branches

CATS = ".gitdata/datasets/vision/cats.yaml"


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


# ------------------------------------------------------------ pre-push

ZERO = "0" * 40


def pre_push(repo: Path) -> subprocess.CompletedProcess:
    """``gd hook pre-push`` by hand (as CI runs it) for pushing main, new to the remote."""
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    return subprocess.run(
        [sys.executable, "-m", "gitdata", "hook", "pre-push"],
        cwd=repo,
        input=f"refs/heads/main {sha} refs/heads/main {ZERO}\n",
        capture_output=True,
        text=True,
        env=env(),
    )


POINTER_EDITS = [
    ("id", lambda cats, dogs: (cats.id, dogs.id)),
    ("manifest", lambda cats, dogs: (cats.record.manifest, dogs.record.manifest)),
    ("version", lambda cats, dogs: ("version: 1.0.0", "version: 1.0.7")),
    ("stats.files", lambda cats, dogs: ("files: 1", "files: 2")),
    ("project/name", lambda cats, dogs: ("name: cats", "name: dogs")),
]


@pytest.mark.parametrize(("field", "edit"), POINTER_EDITS)
def test_pre_push_refuses_a_pushed_pointer_that_does_not_match(repo: Path, two, field, edit):
    cats, dogs = two
    assert pre_push(repo).returncode == 0  # the honest commit goes through
    edit_pointer(repo, *edit(cats, dogs))
    git(repo, "commit", "-qam", f"hand-edited {field}", "--no-verify")
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    r = pre_push(repo)
    assert r.returncode == 10, r.stderr
    # the id case names a version pushed (and found) before: each file is still checked
    assert f"pointer {CATS}@{sha[:12]}: '{field}'" in r.stderr
    assert "do not match the store's record" in r.stderr


def test_git_push_refuses_a_pointer_whose_record_was_replaced(repo: Path, two, tmp_path: Path):
    cats, dogs = two
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    install_hooks(find_repo(repo).repo)
    edit_record(cats.id, manifest=dogs.record.manifest)
    r = git(repo, "push", "-q", "origin", "main", check=False)
    sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert r.returncode != 0
    assert f"pointer {CATS}@{sha[:12]}: 'manifest'" in r.stderr
    assert git(repo, "--git-dir", str(bare), "branch", "--list").stdout == ""  # nothing pushed
    edit_record(cats.id, manifest=cats.record.manifest)
    r = git(repo, "push", "-q", "origin", "main", check=False)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------ gd diff


def test_diff_refuses_a_working_tree_pointer_that_does_not_match(repo: Path, two):
    cats, dogs = two
    # same id, another manifest: not a cosmetic change
    edit_pointer(repo, cats.record.manifest, dogs.record.manifest)
    r = gd(repo, "diff")
    assert r.returncode == 5, r.stdout + r.stderr
    assert f"pointer {CATS}: 'manifest'" in r.stderr
    assert r.stderr.count("gd: error:") == 1 and "hint:" in r.stderr


def test_diff_between_revisions_cross_checks_both_sides(repo: Path, two, tmp_path: Path):
    cats, dogs = two
    edit_pointer(repo, cats.id, dogs.id)  # cats now claims dogs' version
    git(repo, "commit", "-qam", "forged", "--no-verify")
    r = gd(repo, "diff", "HEAD~1", "HEAD", "--files")
    assert r.returncode == 5, r.stdout
    assert f"pointer {CATS}@HEAD: 'id' {dogs.id} is " in r.stderr and "d1.txt" not in r.stdout
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    close(tmp_path, "cats", {"a.txt": "cat2"})  # an honest new version in the working tree
    assert gd(repo, "diff").returncode == 0
    edit_record(cats.id, manifest=dogs.record.manifest)  # the old side's record swapped
    r = gd(repo, "diff")
    assert r.returncode == 5 and f"pointer {CATS}@HEAD: 'manifest'" in r.stderr


# ------------------------------------------------------------ gd checkout / post-checkout


def bind_both(repo: Path) -> None:
    for name in ("cats", "dogs"):
        r = gd(
            repo, "get", "--project", "vision", "--name", name, "--link", f"{name}-data", "--bind"
        )
        assert r.returncode == 0, r.stderr


def test_checkout_refuses_a_mismatched_folder_and_updates_the_others(
    repo: Path, two, tmp_path: Path
):
    cats, dogs = two
    install_hooks(find_repo(repo).repo)
    bind_both(repo)
    git(repo, "tag", "v1")
    cats2 = close(tmp_path, "cats", {"a.txt": "cat2", "b.txt": "new"})
    dogs2 = close(tmp_path, "dogs", {"d1.txt": "dog v2"})
    edit_pointer(repo, cats2.id, dogs2.id)  # the cats pointer names dogs' version
    git(repo, "commit", "-qam", "v2, cats forged", "--no-verify")
    git(repo, "checkout", "-q", "v1")  # both folders hold v1 already
    r = git(repo, "checkout", "-q", "main", check=False)
    assert r.returncode != 0  # the hook's status; the checkout itself happened
    assert git(repo, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/main"
    assert f"gitdata: cats-data: not updated: pointer {CATS}: 'id'" in r.stderr
    assert (repo / "dogs-data/d1.txt").read_text() == "dog v2"  # the other folder moved on
    assert read_tree(repo / "cats-data") == {"a.txt": b"cat"}  # nothing written into it
    r = gd(repo, "checkout")
    assert r.returncode == 5
    assert f"gd: error: pointer {CATS}: 'id' {dogs2.id} is " in r.stderr
    assert r.stderr.count("gd: error:") == 1 and "not updated" not in r.stderr
    rows = json.loads(gd(repo, "checkout", "--json").stdout)
    assert [(u["path"], bool(u["error"]), u["up_to_date"]) for u in rows] == [
        ("cats-data", True, False),
        ("dogs-data", False, True),
    ]
    # two folders refused: one error naming both, each reason on its own line
    edit_pointer_file(repo, ".gitdata/datasets/vision/dogs.yaml", dogs2.id, cats2.id)
    r = gd(repo, "checkout")
    assert r.returncode == 5
    assert "gd: error: 2 bound folders not updated: cats-data, dogs-data" in r.stderr
    assert "gitdata: dogs-data: not updated: pointer .gitdata/datasets/vision/dogs.yaml" in (
        r.stderr
    )
    assert (repo / "dogs-data/d1.txt").read_text() == "dog v2"


def edit_pointer_file(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    path.write_text(path.read_text().replace(old, new))


# ------------------------------------------------------------ merge driver / gd merge --resolve


def test_merge_refuses_a_side_whose_pointer_names_another_dataset(repo: Path, tmp_path: Path):
    ours, _ = branches(repo, tmp_path, {"a": "0"}, {"a": "ours"}, {"b": "theirs"})
    dogs = close_version(make_tree(tmp_path / "dogs", {"d": "dog"}), name="dogs")
    edit_pointer(repo, ours, dogs.id)
    git(repo, "commit", "-qam", "cats pointer forged to dogs", "--no-verify")
    closed = len(Dataset.list_datasets(dataset_project="vision"))
    r = git(repo, "merge", "--no-edit", "feat", check=False)
    assert r.returncode != 0
    assert f"pointer {CATS} (ours): 'id' {dogs.id} is " in r.stderr
    assert CATS in git(repo, "ls-files", "-u").stdout  # left to the user
    r = gd(repo, "merge", "--resolve", "--prefer", "theirs")
    assert r.returncode == 5 and f"pointer {CATS} (ours): 'id'" in r.stderr
    assert CATS in git(repo, "ls-files", "-u").stdout  # nothing resolved
    assert len(Dataset.list_datasets(dataset_project="vision")) == closed  # nothing merged
