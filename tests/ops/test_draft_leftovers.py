"""Drafts a killed one-shot sync or close leaves behind are resumed, finished or removed."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdata.ops.context import Context
from tests.conftest import make_tree

ONE_SHOT = ("sync", "--project", "p", "--name", "n")


def _drafts_dir() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "drafts"


def _left() -> list[str]:
    folder = _drafts_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _killed(method: str, *args: str) -> None:
    """Run gd, dying (as with kill -9: no cleanup) on the first call of StateDir.<method>."""
    driver = f"""
import os, sys
from gitdata.ops.state import StateDir
def die(*a, **k):
    os._exit(137)
setattr(StateDir, {method!r}, die)
from gitdata.cli.main import run
sys.argv = ['gd', *sys.argv[1:]]
run()
"""
    r = subprocess.run([sys.executable, "-c", driver, *args], capture_output=True, text=True)
    assert r.returncode == 137, r.stderr


def _gd(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "gitdata", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def _closed() -> list[dict]:
    found = json.loads(_gd("search", "--project", "p", "--json").stdout)
    return [v for v in found if v["state"] == "closed"]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {f"f{i}.txt": f"file {i}" for i in range(5)})


@pytest.mark.parametrize(
    "method",
    [
        "save_draft",  # killed as the draft is being written: only the marker exists
        "set_current",  # killed right after the draft was written
    ],
)
def test_a_kill_while_a_one_shot_creates_its_draft_leaves_nothing_behind(src: Path, method):
    _killed(method, *ONE_SHOT, "--folder", str(src))
    done = json.loads(_gd(*ONE_SHOT, "--folder", str(src), "--json").stdout)
    assert done["state"] == "closed"
    assert _left() == [], "the rerun resumed or removed what the kill left"
    assert [v["id"] for v in _closed()] == [done["id"]]


@pytest.mark.parametrize("parents", [False, True])
def test_a_one_shot_killed_after_its_record_is_recognised_as_closed(
    src: Path, tmp_path: Path, parents: bool
):
    first = json.loads(_gd(*ONE_SHOT, "--folder", str(src), "--json").stdout)["id"]
    more = ("--parents", first) if parents else ()
    (src / "new.txt").write_text("new")
    _killed("delete_draft", *ONE_SHOT, "--folder", str(src), *more)
    [killed] = [v["id"] for v in _closed() if v["id"] != first]  # its record was written
    rerun = subprocess.run(
        [sys.executable, "-m", "gitdata", *ONE_SHOT, "--folder", str(src), *more, "--json"],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["resumed"] is False
    assert not [n for n in _left() if n.endswith((".db", ".json"))]
    assert _left() == []
    assert killed in {v["id"] for v in _closed()}


def test_a_close_killed_after_its_record_is_finished_by_the_next_close(src: Path):
    draft = json.loads(_gd("create", "--project", "p", "--name", "n", "--json").stdout)["id"]
    _gd("add", "--files", str(src))
    _killed("delete_draft", "close", "--id", draft)
    assert f"{draft}.db" in _left()
    _gd("close", "--id", draft)
    assert _left() == []
    shown = json.loads(_gd("show", "--id", draft, "--json").stdout)
    assert shown["state"] == "closed"
    assert Context().state.current() == draft


def test_any_command_naming_a_close_killed_after_its_record_sees_it_closed(src: Path):
    draft = json.loads(_gd("create", "--project", "p", "--name", "n", "--json").stdout)["id"]
    _gd("add", "--files", str(src))
    _killed("delete_draft", "close", "--id", draft)
    assert f"{draft}.db" in _left()
    checked = json.loads(_gd("verify", "--id", draft, "--remote", "--json").stdout)
    assert checked["ok"] is True
    assert _left() == [], "the leftover draft of a finished close goes"
    assert json.loads(_gd("show", "--id", draft, "--json").stdout)["state"] == "closed"


def test_only_markers_and_locks_nobody_holds_and_whose_draft_is_gone_are_removed():
    state = Context().state
    folder = state.drafts_dir
    folder.mkdir(parents=True)
    orphan, held, alive = "a" * 32, "b" * 32, "c" * 32
    for vid in (orphan, held, alive):
        (folder / f"{vid}.oneshot").write_text("{}")
        (folder / f"{vid}.lock").write_text("")
    (folder / f"{alive}.json").write_text("{}")
    (folder / "notes.lock").write_text("not an id: not gd's")
    (folder / f".{alive}.json.x1.tmp").write_text("old")
    t = time.time() - 2 * 3600
    os.utime(folder / f".{alive}.json.x1.tmp", (t, t))
    (folder / f".{alive}.json.x2.tmp").write_text("being written")
    fd = os.open(folder / f"{held}.oneshot", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a running one-shot between its marker and draft
        assert state.remove_leftovers() == 4  # orphan's two, held's lock, the old temp file
    finally:
        os.close(fd)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            f"{held}.oneshot",
            f"{alive}.oneshot",
            f"{alive}.lock",
            f"{alive}.json",
            "notes.lock",
            f".{alive}.json.x2.tmp",
        ]
    )
    assert state.remove_leftovers() == 1 and not (folder / f"{held}.oneshot").exists()
