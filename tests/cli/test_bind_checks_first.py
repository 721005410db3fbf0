"""gd get --bind checks the repository and the folder before it writes a single file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_tree


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})


def close_version(gd, src: Path) -> str:
    gd("sync", "--project", "vision", "--name", "cats", "--folder", str(src))
    return gd("show", "--project", "vision", "--name", "cats", "--json").json()["id"]


def test_bind_outside_a_repository_leaves_no_folder(gd, src: Path, tmp_path: Path):
    vid = close_version(gd, src)
    for flag in ("--link", "--copy"):
        r = gd("get", "--id", vid, flag, "d", "--bind", ok=False)
        assert r.exit_code == 3 and "not inside a git repository" in r.stderr
        assert not Path("d").exists()
        assert not list(Path().glob(".d.gd-tmp-*"))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return path


def test_bind_to_a_folder_outside_the_repository_leaves_no_tree(
    gd, repo: Path, src: Path, tmp_path: Path
):
    close_version(gd, src)
    pointer = repo / ".gitdata/datasets/vision/cats.yaml"
    before = pointer.read_text()
    outside = tmp_path / "outside"
    for target in (str(outside), "../outside2", str(repo), ".git/data"):
        r = gd("get", "--project", "vision", "--name", "cats", "--link", target, "--bind", ok=False)
        assert r.exit_code == 4, r.stderr
        assert "gd: error:" in r.stderr and "hint:" in r.stderr
    assert not outside.exists() and not (tmp_path / "outside2").exists()
    assert not (repo / ".git/data").exists()
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitdata"]
    assert pointer.read_text() == before and "bind:" not in before
    assert not (repo / ".gitignore").exists()


def test_bind_of_a_version_the_pointer_does_not_pin_leaves_no_tree(
    gd, repo: Path, src: Path, tmp_path: Path
):
    old = close_version(gd, src)
    (src / "a.txt").write_text("changed")
    close_version(gd, src)  # the pointer now pins the newer version
    r = gd("get", "--id", old, "--copy", "data", "--bind", ok=False)
    assert r.exit_code == 4 and "pointer" in r.stderr
    assert not (repo / "data").exists()


def test_bind_inside_the_repository_still_works(gd, repo: Path, src: Path):
    close_version(gd, src)
    gd("get", "--project", "vision", "--name", "cats", "--link", "data", "--bind")
    assert sorted(p.name for p in (repo / "data").iterdir()) == [
        ".gitdata-tree.json",
        "a.txt",
        "sub",
    ]
    assert "/data/" in (repo / ".git/info/exclude").read_text()
    bindings = (repo / ".git/gitdata/bindings.json").read_text()
    assert '"path": "data"' in bindings  # this clone's state; the pointer is unchanged
