"""`gd get --link/--copy DIR --overwrite` replaces only an empty folder or a tree gd made."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree, read_tree

V1 = {"a.txt": "one", "sub/b.txt": "bee"}
V2 = {"a.txt": "ONE", "new/c.txt": "sea"}
MODES = ["--link", "--copy"]


def version(gd, files: dict[str, str], src: Path, name: str = "n") -> str:
    make_tree(src, files)
    did = gd("create", "--project", "p", "--name", name, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return did


@pytest.fixture
def v1(gd, tmp_path: Path) -> str:
    return version(gd, V1, tmp_path / "src1")


def everything(root: Path) -> set[str]:
    out = set()
    for dirpath, dirs, names in os.walk(root):
        out.update(os.path.relpath(os.path.join(dirpath, n), root) for n in dirs + names)
    return out


def refused(r, code: int, *words: str) -> None:
    assert r.exit_code == code, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("gd: error:") and "Traceback" not in r.stderr
    for w in words:
        assert w in first, first


def git_repo(path: Path) -> Path:
    make_tree(path, {"train.py": "print(1)\n"})
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True)
    return path


@pytest.mark.parametrize("mode", MODES)
def test_dot_in_a_repository_root_is_refused(gd, v1: str, tmp_path: Path, mode, monkeypatch):
    """The reported case: `gd get --link . --overwrite` in a repo root deleted the repo."""
    repo = git_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    before = everything(repo)
    refused(gd("get", "--id", v1, mode, ".", "--overwrite", ok=False), 8, "current folder")
    assert everything(repo) == before and os.getcwd() == str(repo)


@pytest.mark.parametrize("mode", MODES)
def test_a_repository_root_is_refused_from_outside(gd, v1: str, tmp_path: Path, mode):
    repo = git_repo(tmp_path / "repo")
    before = everything(repo)
    refused(gd("get", "--id", v1, mode, str(repo), "--overwrite", ok=False), 8, ".git")
    assert everything(repo) == before


def test_a_folder_with_a_nested_repository_is_refused(gd, v1: str, tmp_path: Path):
    outer = make_tree(tmp_path / "outer", {"notes.md": "n"})
    git_repo(outer / "third_party" / "lib")
    before = everything(outer)
    r = gd("get", "--id", v1, "--copy", str(outer), "--overwrite", ok=False)
    refused(r, 8, "third_party/lib/.git")
    assert everything(outer) == before


def test_an_ancestor_of_the_current_folder_is_refused(gd, v1: str, tmp_path: Path, monkeypatch):
    top = make_tree(tmp_path / "top", {"keep.txt": "k", "here/x.txt": "x"})
    monkeypatch.chdir(top / "here")
    before = everything(top)
    refused(gd("get", "--id", v1, "--copy", "..", "--overwrite", ok=False), 8, "current folder")
    assert everything(top) == before


def test_home_is_refused(gd, v1: str, tmp_path: Path):
    home = Path(os.environ["HOME"])  # the test's own HOME; the store and cache live here
    make_tree(home, {"thesis.tex": "years of work"})
    before = everything(home)
    refused(gd("get", "--id", v1, "--link", "~", "--overwrite", ok=False), 8, "home folder")
    after = everything(home)
    assert (home / "thesis.tex").read_text() == "years of work"
    assert {p for p in before if not p.startswith(".cache")} <= after  # sqlite files may churn


@pytest.mark.parametrize("mode", MODES)
def test_foreign_files_are_named_and_kept(gd, v1: str, tmp_path: Path, mode: str):
    busy = make_tree(tmp_path / "busy", {f"results/run{i}.csv": str(i) for i in range(7)})
    before = read_tree(busy)
    r = gd("get", "--id", v1, mode, str(busy), "--overwrite", ok=False)
    refused(r, 8, "7 files", "results/run0.csv", "results/run4.csv")
    assert "results/run6.csv" not in r.stderr
    assert read_tree(busy) == before


def test_files_added_to_a_link_tree_are_named_and_kept(gd, v1: str, tmp_path: Path):
    tree = tmp_path / "tree"
    gd("get", "--id", v1, "--link", str(tree))
    (tree / "sub" / "mine.txt").write_text("mine")
    r = gd("get", "--id", v1, "--link", str(tree), "--overwrite", ok=False)
    refused(r, 8, "1 file", "added since gd made it", "sub/mine.txt")
    assert (tree / "sub" / "mine.txt").read_text() == "mine"


def test_a_symlinked_target_is_refused(gd, v1: str, tmp_path: Path):
    real = tmp_path / "real"
    gd("get", "--id", v1, "--copy", str(real))
    (tmp_path / "alias").symlink_to(real)
    r = gd("get", "--id", v1, "--copy", str(tmp_path / "alias"), "--overwrite", ok=False)
    refused(r, 4, "symlink")
    assert read_tree(real) == {k: v.encode() for k, v in V1.items()}


def test_without_overwrite_the_message_says_what_to_do(gd, v1: str, tmp_path: Path):
    busy = make_tree(tmp_path / "busy", {"mine.txt": "m"})
    r = gd("get", "--id", v1, "--copy", str(busy), ok=False)
    refused(r, 8, "not empty", "mine.txt")
    assert "replaces only a tree gd made" in r.stderr
    tree = tmp_path / "tree"
    gd("get", "--id", v1, "--copy", str(tree))
    r = gd("get", "--id", v1, "--copy", str(tree), ok=False)
    refused(r, 8, "not empty", "tree gd made")
    assert "pass --overwrite" in r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_overwrite_of_an_empty_folder_and_of_a_tree_gd_made(gd, v1: str, tmp_path: Path, mode):
    empty = tmp_path / "empty"
    empty.mkdir()
    gd("get", "--id", v1, mode, str(empty), "--overwrite")
    assert read_tree(empty) == {k: v.encode() for k, v in V1.items()}
    gd("get", "--id", v1, mode, str(empty), "--overwrite")
    assert read_tree(empty) == {k: v.encode() for k, v in V1.items()}


@pytest.mark.parametrize("mode", MODES)
def test_overwrite_from_one_version_to_another(gd, v1: str, tmp_path: Path, mode: str):
    v2 = version(gd, V2, tmp_path / "src2", name="other")
    tree = tmp_path / "tree"
    gd("get", "--id", v1, mode, str(tree))
    gd("get", "--id", v2, mode, str(tree), "--overwrite")
    assert read_tree(tree) == {k: v.encode() for k, v in V2.items()}
    assert not (tree / "sub").exists()


def test_real_process_in_a_repository_root(gd, v1: str, tmp_path: Path):
    """As a user runs it: its own process, cwd the repository root."""
    repo = git_repo(tmp_path / "repo")
    before = everything(repo)
    r = run_gd("get", "--id", v1, "--link", ".", "--overwrite", env=dict(os.environ), cwd=repo)
    assert r.returncode == 8, r.stderr
    assert r.stderr.startswith("gd: error: refusing to replace")
    assert everything(repo) == before
