"""gd add / sync of data inside the git work tree: the .gitignore line, offered or written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_tree


@pytest.fixture
def repo(tmp_path: Path, gd) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    os.chdir(path)
    gd("create", "--project", "p", "--name", "n")
    return path


def ignored(repo: Path, rel: str) -> bool:
    r = subprocess.run(["git", "check-ignore", "-q", rel], cwd=repo, check=False)
    return r.returncode == 0


def test_add_offers_the_line_and_writes_nothing(gd, repo: Path):
    make_tree(repo / "data" / "images", {"a.png": "a"})
    r = gd("add", "--files", "data/images")
    assert "add /data/images/ to" in r.stderr and "--gitignore" in r.stderr
    assert not (repo / ".gitignore").exists()


def test_add_gitignore_appends_once(gd, repo: Path):
    make_tree(repo / "data", {"a.csv": "a", "sub/b.csv": "b"})
    (repo / ".gitignore").write_text("*.pyc")  # no final newline
    os.chdir(repo / "data")  # a relative source from a sub-folder
    r = gd("add", "--files", "sub", "a.csv", "--gitignore")
    assert "added /data/sub/ to .gitignore" in r.stderr
    assert (repo / ".gitignore").read_text() == "*.pyc\n/data/sub/\n/data/a.csv\n"
    assert ignored(repo, "data/sub/b.csv") and ignored(repo, "data/a.csv")
    again = gd("add", "--files", "sub", "--gitignore")
    assert "added" not in again.stderr and "not ignored" not in again.stderr
    assert (repo / ".gitignore").read_text().count("/data/sub/") == 1


def test_already_ignored_or_outside_gets_no_note(gd, repo: Path, tmp_path: Path):
    make_tree(repo / "cache", {"x": "x"})
    (repo / ".gitignore").write_text("cache/\n")
    outside = make_tree(tmp_path / "outside", {"y": "y"})
    r = gd("add", "--files", "cache", str(outside), "--gitignore")
    assert "gitignore" not in r.stderr and "not ignored" not in r.stderr
    assert (repo / ".gitignore").read_text() == "cache/\n"


def test_special_characters_are_escaped(gd, repo: Path):
    make_tree(repo, {"odd[1]*.txt": "z"})
    gd("add", "--files", "odd[1]*.txt", "--gitignore")
    assert (repo / ".gitignore").read_text() == "/odd\\[1\\]\\*.txt\n"
    assert ignored(repo, "odd[1]*.txt")


def test_a_symlinked_gitignore_is_refused_and_nothing_changes(gd, repo: Path, tmp_path: Path):
    elsewhere = tmp_path / "shared-ignore"
    elsewhere.write_text("keep\n")
    (repo / ".gitignore").symlink_to(elsewhere)
    make_tree(repo / "data", {"a": "a"})
    r = gd("add", "--files", "data", "--gitignore", ok=False)
    assert r.exit_code == 4 and "symlink" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert elsewhere.read_text() == "keep\n"
    assert gd("list", "--json").json() == []  # the draft did not change


def test_sync_gitignore(gd, repo: Path):
    make_tree(repo / "folder", {"f.txt": "f"})
    gd("sync", "--folder", "folder", "--gitignore")
    assert (repo / ".gitignore").read_text() == "/folder/\n"
    offered = gd("sync", "--folder", "folder")
    assert "not ignored" not in offered.stderr
