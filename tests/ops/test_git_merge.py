"""git merge of branches that both moved a dataset: a three-way merge, never a guess.

The merged version's content must equal what git itself gives for the same files
tracked directly in a plain repository, whenever there is no conflict.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.gitio.repo import find_repo
from tests.conftest import make_tree, read_tree
from tests.core.test_merge import apply_edits
from tests.ops.test_git_hooks import close_version, gd, git

POINTER = ".gitdata/datasets/vision/cats.yaml"


def plain_git_merge(
    tmp: Path, base: dict[str, str], ours: dict[str, str | None], theirs: dict[str, str | None]
) -> dict[str, bytes]:
    """What git merges for the same files tracked directly (the reference)."""
    repo = tmp / "plain"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")

    def commit(files: dict[str, str], message: str) -> None:
        for f in repo.iterdir():
            if f.name != ".git":
                shutil.rmtree(f) if f.is_dir() else f.unlink()
        make_tree(repo, files)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message, "--allow-empty")

    commit(base, "base")
    git(repo, "checkout", "-qb", "feat")
    commit(apply_edits(base, theirs), "theirs")
    git(repo, "checkout", "-q", "main")
    commit(apply_edits(base, ours), "ours")
    git(repo, "merge", "-q", "--no-edit", "feat")
    return {k: v for k, v in read_tree(repo).items() if not k.startswith(".git/")}


def branches(repo: Path, tmp: Path, base, ours, theirs) -> tuple[str, str]:
    """Commit base on main, theirs on branch feat, ours on main; return their version ids."""
    assert gd(repo, "init").returncode == 0
    v1 = close_version(make_tree(tmp / "base", base))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    git(repo, "checkout", "-qb", "feat")
    close_version(make_tree(tmp / "t", apply_edits(base, theirs)), [v1.id])
    git(repo, "commit", "-qm", "theirs")
    git(repo, "checkout", "-q", "main")
    close_version(make_tree(tmp / "o", apply_edits(base, ours)), [v1.id])
    git(repo, "commit", "-qm", "ours")
    pointers = find_repo(repo)
    return pointers.read_pointer("vision", "cats").id, pointers.read_pointer(
        "vision", "cats", "feat"
    ).id


SCENARIOS = {
    # the reproduction: feat deletes a and edits c; main edits b
    "issue": ({"a": "a0", "b": "b0", "c": "c0"}, {"b": "b1"}, {"a": None, "c": "c1"}),
    "adds-and-deletes": (
        {"keep": "k", "d1": "1", "d2": "2", "m": "m0", "sub/x": "x"},
        {"d1": None, "new/ours.txt": "o", "m": "m1", "same": "s"},
        {"d2": None, "sub/x": None, "sub/y": "y", "same": "s"},
    ),
    "both-delete-same": ({"a": "1", "b": "2"}, {"a": None}, {"a": None, "c": "3"}),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_git_merge_equals_plain_git(repo: Path, tmp_path: Path, scenario: str):
    base, ours, theirs = SCENARIOS[scenario]
    expected = plain_git_merge(tmp_path, base, ours, theirs)
    ours_id, theirs_id = branches(repo, tmp_path, base, ours, theirs)
    r = git(repo, "merge", "-q", "--no-edit", "feat", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    merged = find_repo(repo).read_pointer("vision", "cats", "HEAD")
    assert merged.parents == [ours_id, theirs_id]
    got = read_tree(Path(Dataset.get(dataset_id=merged.id).get_local_copy()))
    assert got == expected
    # the merge reports what it took from the other side (against the first parent)
    shown = json.loads(gd(repo, "show", "--id", merged.id, "--json").stdout)
    first = {k: v.encode() for k, v in apply_edits(base, ours).items()}
    brought = sum(1 for p in set(first) | set(expected) if first.get(p) != expected.get(p))
    assert brought > 0
    assert shown["merged_from_others"]["total"] == brought


def test_conflict_is_left_to_git_then_resolved(repo: Path, tmp_path: Path):
    base = {"shared.txt": "base", "x.txt": "x", "gone.txt": "g"}
    ours = {"shared.txt": "ours", "o.txt": "o", "gone.txt": "edited"}
    theirs = {"shared.txt": "theirs", "t.txt": "t", "gone.txt": None}
    ours_id, theirs_id = branches(repo, tmp_path, base, ours, theirs)
    r = git(repo, "merge", "--no-edit", "feat", check=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "2 path(s) changed differently" in out and "gone.txt, shared.txt" in out
    unmerged = git(repo, "ls-files", "-u").stdout
    assert POINTER in unmerged  # git shows the pointer conflicted
    # no version was guessed: only the three closed ones exist
    assert len(Dataset.list_datasets(dataset_project="vision")) == 3

    refused = gd(repo, "merge", "--resolve")
    assert refused.returncode == 8 and "--prefer" in refused.stderr
    assert POINTER in git(repo, "ls-files", "-u").stdout  # still conflicted

    done = gd(repo, "merge", "--resolve", "--prefer", "theirs", "--take", "gone.txt=ours", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"resolved": [POINTER]}
    git(repo, "commit", "-qm", "merged")
    merged = find_repo(repo).read_pointer("vision", "cats", "HEAD")
    assert merged.parents == [ours_id, theirs_id]
    got = read_tree(Path(Dataset.get(dataset_id=merged.id).get_local_copy()))
    assert got == {
        "shared.txt": b"theirs",
        "gone.txt": b"edited",
        "x.txt": b"x",
        "o.txt": b"o",
        "t.txt": b"t",
    }


def test_gd_merge_refuses_conflicts_and_leaves_nothing(repo: Path, tmp_path: Path):
    base = {"f": "0"}
    ours_id, theirs_id = branches(repo, tmp_path, base, {"f": "ours"}, {"f": "theirs"})
    before = gd(repo, "status", "--json").stdout
    r = gd(repo, "merge", ours_id, theirs_id)
    assert r.returncode == 8
    assert "1 path(s) changed differently on both sides: f" in r.stderr
    assert "Traceback" not in r.stderr
    assert gd(repo, "status", "--json").stdout == before  # no draft, same current dataset
    ok = gd(repo, "merge", ours_id, theirs_id, "--prefer", "ours", "--json")
    assert ok.returncode == 0, ok.stderr
    merged = Dataset.get(dataset_id=json.loads(ok.stdout)["id"])
    assert read_tree(Path(merged.get_local_copy())) == {"f": b"ours"}
    bad = gd(repo, "merge", ours_id, theirs_id, "--take", "f=mine")
    assert bad.returncode == 4 and "PATH=ours or PATH=theirs" in bad.stderr


def test_log_reports_what_a_merge_brought_in(repo: Path, tmp_path: Path):
    base, ours, theirs = SCENARIOS["issue"]
    branches(repo, tmp_path, base, ours, theirs)
    git(repo, "merge", "-q", "--no-edit", "feat")
    rows = json.loads(gd(repo, "log", "--project", "vision", "--name", "cats", "--json").stdout)
    merged = rows[0]["stats"]
    # feat deleted a and edited c: both came in against main's version
    assert (merged["merged_added"], merged["merged_modified"], merged["merged_removed"]) == (
        0,
        1,
        1,
    )
    assert (merged["added"], merged["modified"], merged["removed"]) == (0, 0, 0)
    table = gd(repo, "log", "--project", "vision", "--name", "cats").stdout
    assert table.splitlines()[1].split("\t")[5:8] == ["0", "1", "1"]
