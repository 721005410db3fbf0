"""gd set-description / rename / move / publish through the CLI, with their errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli.conftest import run_gd
from tests.conftest import make_tree


def version(gd, tmp_path: Path, name: str = "cats") -> str:
    src = make_tree(tmp_path / f"src-{name}", {"a.txt": "a", "sub/b.txt": "b"})
    vid = gd("create", "--project", "vision", "--name", name, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return vid


def test_set_description_shows_in_show_and_search(gd, tmp_path: Path):
    vid = version(gd, tmp_path)
    out = gd("set-description", "--id", vid[:8], "--description", "labels fixed", "--json").json()
    assert out == {"id": vid, "description": "labels fixed"}
    shown = gd("show", "--id", vid, "--json").json()
    assert shown["description"] == "labels fixed"
    assert shown["metadata_history"][0]["set"] == {"description": "labels fixed"}
    rows = gd("search", "--json").json()
    assert rows[0]["description"] == "labels fixed" and rows[0]["published"] is False
    text = gd("set-description", "--id", vid, "--description", "again").stderr
    assert text == "" or "error" not in text


def test_rename_and_move(gd, tmp_path: Path):
    vid = version(gd, tmp_path)
    out = gd("rename", "--project", "vision", "--name", "cats", "--new-name", "felines", "--json")
    assert out.json()["ids"] == [vid] and out.json()["set"] == {"name": "felines"}
    assert gd("list", "--project", "vision", "--name", "felines").exit_code == 0
    moved = gd("move", "--project", "vision", "--name", "felines", "--new-project", "zoo")
    assert "vision/felines -> zoo/felines: 1 version(s)" in moved.stdout
    shown = gd("show", "--id", vid, "--json").json()
    assert (shown["project"], shown["name"]) == ("zoo", "felines")
    assert shown["former_names"] == ["vision/cats", "vision/felines"]
    # the old name no longer resolves
    assert gd("list", "--project", "vision", "--name", "cats", ok=False).exit_code == 3


def test_metadata_errors_are_one_line_with_exit_codes(gd, tmp_path: Path):
    version(gd, tmp_path)
    version(gd, tmp_path, "dogs")
    taken = gd("rename", "--project", "vision", "--name", "cats", "--new-name", "dogs", ok=False)
    assert taken.exit_code == 8 and "exists already" in taken.stderr
    unknown = gd("move", "--project", "vision", "--name", "cows", "--new-project", "z", ok=False)
    assert unknown.exit_code == 3
    hostile = gd(
        "rename", "--project", "vision", "--name", "cats", "--new-name", "a/../b", ok=False
    )
    assert hostile.exit_code == 4
    missing = gd("set-description", "--id", "abcdef12", "--description", "x", ok=False)
    assert missing.exit_code == 3
    usage = gd("rename", "--project", "vision", "--name", "cats", ok=False)
    assert usage.exit_code == 2
    for r in (taken, unknown, hostile, missing):
        assert "Traceback" not in r.stderr
    as_json = gd("publish", "--id", "abcdef12", "--json", ok=False)
    assert as_json.exit_code == 3 and as_json.json()["error"]["code"] == 3


def test_publish_then_delete_needs_force(gd, tmp_path: Path):
    draft = gd("create", "--project", "vision", "--name", "cats", "--json").json()["id"]
    refused = gd("publish", "--id", draft, ok=False)
    assert refused.exit_code == 4 and "gd close" in refused.stderr
    gd("delete", "--id", draft)
    vid = version(gd, tmp_path)
    assert "published vision/cats" in gd("publish", "--id", vid).stdout
    assert gd("publish", "--id", vid, "--json").json()["unchanged"] is True
    assert gd("show", "--id", vid, "--json").json()["published"] is True
    kept = gd("delete", "--id", vid, ok=False)
    assert kept.exit_code == 8 and "--force" in kept.stderr
    gd("delete", "--id", vid, "--force")


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)


def test_rename_in_a_repo_commits_through_the_hooks(tmp_path: Path):
    """A user's whole flow in real processes: the pre-commit hook accepts the moved
    pointer, and the commit before the rename still checks out its data."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ)
    git(repo, "init", "-q", "-b", "main")
    assert run_gd("init", env=env, cwd=repo).returncode == 0
    make_tree(repo / "src", {"x.txt": "x"})
    for args in (
        ("create", "--project", "vision", "--name", "cats"),
        ("add", "--files", "src"),
        ("close",),
    ):
        r = run_gd(*args, env=env, cwd=repo)
        assert r.returncode == 0, r.stderr
    assert git(repo, "commit", "-qm", "v1").returncode == 0
    r = run_gd(
        "rename",
        "--project",
        "vision",
        "--name",
        "cats",
        "--new-name",
        "felines",
        env=env,
        cwd=repo,
    )
    assert r.returncode == 0 and "staged" in r.stderr
    done = git(repo, "commit", "-qm", "rename")
    assert done.returncode == 0, done.stderr
    tree = git(repo, "ls-tree", "-r", "--name-only", "HEAD").stdout
    assert ".gitdata/datasets/vision/felines.yaml" in tree and "cats.yaml" not in tree
    old = run_gd(
        "get",
        "--project",
        "vision",
        "--name",
        "cats",
        "--rev",
        "HEAD~1",
        "--copy",
        str(tmp_path / "old"),
        env=env,
        cwd=repo,
    )
    assert old.returncode == 0, old.stderr
    assert (tmp_path / "old" / "x.txt").read_text() == "x"
    st = run_gd("status", env=env, cwd=repo)
    assert st.returncode == 0 and "felines" in st.stdout
