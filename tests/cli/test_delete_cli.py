"""`gd delete` in a git repository: a version a ref pins is refused (exit 8) unless --force."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree

POINTER = ".gitdata/datasets/vision/cats.yaml"


def git(repo: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, f"git {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return path


def new_version(gd, src: Path, name: str = "cats") -> str:
    vid = gd("create", "--project", "vision", "--name", name, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return vid


def test_delete_of_the_head_pinned_version_is_refused(gd, repo: Path, tmp_path: Path):
    vid = new_version(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    git(repo, "commit", "-qm", "data v1")
    r = gd("delete", "--id", vid, ok=False)
    assert r.exit_code == 8
    assert f"pinned by refs/heads/main ({POINTER})" in r.stderr and "--force" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # one line, and its hint
    # nothing was deleted: a fresh process still gets the version the commit pins
    proc = run_gd(
        "get", "--project", "vision", "--name", "cats", "--rev", "HEAD", "--copy", "out",
        env=dict(os.environ), cwd=repo,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (repo / "out/a.txt").read_text() == "one"


def test_json_error_names_the_refs(gd, repo: Path, tmp_path: Path):
    vid = new_version(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    git(repo, "commit", "-qm", "data v1")
    git(repo, "tag", "v1")
    r = gd("delete", "--id", vid, "--json", ok=False)
    assert r.exit_code == 8
    assert "refs/heads/main, refs/tags/v1" in r.stderr


def test_staged_pointer_pins_the_version(gd, repo: Path, tmp_path: Path):
    vid = new_version(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))  # staged, no commit
    r = gd("delete", "--id", vid, ok=False)
    assert r.exit_code == 8 and "the index" in r.stderr


def test_force_deletes_a_pinned_version(gd, repo: Path, tmp_path: Path):
    vid = new_version(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    git(repo, "commit", "-qm", "data v1")
    assert gd("delete", "--id", vid, "--force", "--json").json()["deleted"] == "version"
    assert gd("get", "--id", vid, ok=False).exit_code == 3


def test_unpinned_version_in_a_repo_is_deleted(gd, repo: Path, tmp_path: Path, monkeypatch):
    new_version(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    git(repo, "commit", "-qm", "data v1")
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    loose = new_version(gd, make_tree(tmp_path / "loose", {"b.txt": "two"}), name="loose")
    monkeypatch.chdir(repo)
    assert gd("delete", "--id", loose, "--json").json()["deleted"] == "version"
    assert gd("get", "--id", loose, ok=False).exit_code == 3
