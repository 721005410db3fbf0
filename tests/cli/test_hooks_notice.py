"""A clone that holds pointers but not gd's hooks is told so, with the fix (gd init)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import make_tree

NOTICE = "hooks not installed: run gd init"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def close_version(gd, tmp_path: Path, name: str) -> str:
    src = make_tree(tmp_path / f"src-{name}", {f"{name}.txt": name})
    vid = gd("create", "--project", "p", "--name", name, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return vid


def origin_with_pointer(gd, tmp_path: Path) -> Path:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    os.chdir(origin)
    gd("init", "--storage", str(tmp_path / "store"))
    close_version(gd, tmp_path, "n")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "pointer")
    return origin


def test_fresh_clone_is_told_and_gd_init_fixes_it(gd, tmp_path: Path):
    origin = origin_with_pointer(gd, tmp_path)
    assert NOTICE not in gd("status").stderr
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    os.chdir(clone)
    text = gd("status")
    assert NOTICE in text.stderr and "pre-commit" in text.stderr
    assert "merge driver" in text.stderr
    as_json = gd("status", "--json")
    assert as_json.json()[0]["state"] == "clean"  # stdout stays one JSON document
    assert NOTICE in as_json.stderr
    assert NOTICE in gd("checkout").stderr
    assert NOTICE in gd("merge", "--resolve").stderr
    gd("init")
    assert NOTICE not in gd("status").stderr


def test_close_in_a_clone_without_hooks_warns(gd, tmp_path: Path):
    origin = origin_with_pointer(gd, tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    os.chdir(clone)
    src = make_tree(tmp_path / "more", {"m.txt": "m"})
    gd("create", "--project", "p", "--name", "other")
    gd("add", "--files", str(src))
    assert NOTICE in gd("close").stderr
    # one hook missing is enough to be told
    gd("init")
    (clone / ".git" / "hooks" / "pre-push").unlink()
    r = gd("status")
    assert NOTICE in r.stderr and "(missing: pre-push)" in r.stderr


def test_no_notice_without_pointers(gd, tmp_path: Path):
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    os.chdir(repo)
    r = gd("status")
    assert NOTICE not in r.stderr
    close_version(gd, tmp_path, "first")  # the first pointer: now the hooks matter
    assert NOTICE in gd("status").stderr
