"""`gd status` names a pointer a git merge left conflicted, with the way out."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import make_tree

REL = ".gitdata/datasets/p/n.yaml"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


def close_version(gd, tmp_path: Path, files: dict[str, str]) -> str:
    src = make_tree(tmp_path / f"src-{len(list(tmp_path.iterdir()))}", files)
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return vid


def conflicted_repo(gd, tmp_path: Path) -> Path:
    """A repository (no gd init: no merge driver) stopped in a merge on the pointer."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    os.chdir(repo)
    close_version(gd, tmp_path, {"a.txt": "a"})
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "side")
    close_version(gd, tmp_path, {"b.txt": "b"})
    git(repo, "commit", "-qam", "side")
    git(repo, "checkout", "-q", "main")
    close_version(gd, tmp_path, {"c.txt": "c"})
    git(repo, "commit", "-qam", "main")
    assert git(repo, "merge", "side", check=False).returncode != 0
    assert "<<<<<<<" in (repo / REL).read_text()
    return repo


def test_status_reports_a_conflicted_pointer(gd, tmp_path: Path):
    conflicted_repo(gd, tmp_path)
    rows = gd("status", "--json").json()
    assert [(r["path"], r["state"]) for r in rows] == [(REL, "conflicted")]
    assert (rows[0]["project"], rows[0]["name"]) == ("p", "n")
    text = gd("status")
    assert f"conflicted: {REL} (run gd merge --resolve)" in text.stderr
    assert "malformed" not in text.stdout + text.stderr
    check = gd("status", "--check", ok=False)
    assert check.exit_code == 10 and "conflicted" in check.stderr


def test_markers_committed_by_mistake_still_read_as_conflicted(gd, tmp_path: Path):
    repo = conflicted_repo(gd, tmp_path)
    git(repo, "add", REL)  # the index no longer holds the conflict, the file still does
    rows = gd("status", "--json").json()
    assert [r["state"] for r in rows] == ["conflicted"]


def test_resolved_pointer_is_no_longer_conflicted(gd, tmp_path: Path):
    conflicted_repo(gd, tmp_path)
    gd("merge", "--resolve")
    rows = gd("status", "--json").json()
    assert [r["state"] for r in rows] == ["modified"]
