"""The current dataset is kept per git work tree, machine-wide outside one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_tree


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    return path


def draft_files(gd, vid: str) -> list[str]:
    return sorted(row["path"] for row in gd("list", "--id", vid, "--json").json())


def test_two_repos_keep_their_own_current_dataset(gd, tmp_path: Path):
    a, b = new_repo(tmp_path / "a"), new_repo(tmp_path / "b")
    src = make_tree(tmp_path / "src", {"x.txt": "x"})
    os.chdir(a)
    in_a = gd("create", "--project", "p", "--name", "a", "--json").json()["id"]
    os.chdir(b)
    in_b = gd("create", "--project", "p", "--name", "b", "--json").json()["id"]
    os.chdir(a)
    assert gd("add", "--files", str(src), "--json").json()["id"] == in_a
    assert draft_files(gd, in_a) == ["x.txt"]
    assert draft_files(gd, in_b) == []
    # a sub-folder of the work tree is the same repository
    (b / "sub").mkdir()
    os.chdir(b / "sub")
    assert gd("add", "--files", str(src), "--json").json()["id"] == in_b


def test_outside_a_repo_the_marker_is_machine_wide(gd, tmp_path: Path):
    repo = new_repo(tmp_path / "repo")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.chdir(outside)
    machine = gd("create", "--project", "p", "--name", "m", "--json").json()["id"]
    state = Path(os.environ["XDG_STATE_HOME"]) / "gitdata"
    assert (state / "current").read_text().strip() == machine
    os.chdir(repo)
    # the repository has no current dataset of its own yet
    r = gd("add", "--files", str(make_tree(tmp_path / "s", {"y": "y"})), ok=False)
    assert r.exit_code != 0
    assert draft_files(gd, machine) == []
    in_repo = gd("create", "--project", "p", "--name", "r", "--json").json()["id"]
    assert (state / "current").read_text().strip() == machine
    markers = list((state / "repos").glob("*.json"))
    assert len(markers) == 1 and in_repo in markers[0].read_text()


@pytest.mark.parametrize("content", ["not json", '{"current": "zz"}', "[]"])
def test_a_damaged_repo_marker_reads_as_none(gd, tmp_path: Path, content: str):
    repo = new_repo(tmp_path / "repo")
    os.chdir(repo)
    gd("create", "--project", "p", "--name", "r")
    marker = next((Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "repos").glob("*.json"))
    marker.write_text(content)
    r = gd("close", ok=False)
    assert r.exit_code != 0 and "Traceback" not in r.stderr
