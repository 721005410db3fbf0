"""kill -9 at 20 points each during close, one-shot sync and get; nothing is ever lost.

Each operation runs as a real `gd` process and is killed with SIGKILL after a delay
spread evenly over the time an uninterrupted run takes (fixed points, not chance).
After every kill: every closed version in the store verifies deeply, the target of a
get holds no file with wrong content, and rerunning the command completes. At the end
the independent spec reader (tests/spec_reader.py) reads every version the suite closed
and agrees with gd about each. The figures are in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitdata.storage import open_store
from tests.conftest import make_tree, read_tree
from tests.storage.spec_check import spec_reader_agrees_with_gd

POINTS = 20
pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "GD_STORAGE": str(tmp_path / "store")}


def _gd(env, cwd, *args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", *args], env=env, cwd=cwd, capture_output=True, text=True
    )
    if check and r.returncode:
        raise AssertionError(f"gd {' '.join(args)} -> {r.returncode}\n{r.stderr}")
    return r


def _timed(env, cwd, *args) -> float:
    start = time.monotonic()
    _gd(env, cwd, *args)
    return time.monotonic() - start


def _kill_after(env, cwd, delay: float, *args) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitdata", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


_VERIFIED: set[str] = set()


def _spec_reader_agrees(env, tmp_path: Path) -> int:
    """The spec reader reads every closed version as gd does (file list, sizes and
    sha256; it checks each file's bytes against its sha256 itself)."""
    store = open_store(env["GD_STORAGE"])
    return spec_reader_agrees_with_gd(store, tmp_path / "spec-mirror", compare_bytes=False)


def _every_version_verifies(env, cwd) -> int:
    """Deep-verify each closed version not verified before (closed versions are
    immutable, so one that verified once stays verified); return how many exist."""
    found = json.loads(_gd(env, cwd, "search", "--json").stdout)
    for row in found:
        if row["id"] in _VERIFIED:
            continue
        r = _gd(env, cwd, "verify", "--id", row["id"], "--remote", "--deep", "--json", check=False)
        assert r.returncode == 0, f"closed version {row['id']} damaged after a kill: {r.stdout}"
        _VERIFIED.add(row["id"])
    return len(found)


def _open_drafts() -> list[str]:
    drafts = Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    return sorted(p.name for p in drafts.glob("*.db")) if drafts.is_dir() else []


def _source(tmp_path: Path, name: str, seed: int) -> Path:
    import random

    rnd = random.Random(seed)
    files = {f"d{i % 7}/f{i}.bin": rnd.randbytes(rnd.randint(0, 6000)) for i in range(200)}
    files["big.bin"] = rnd.randbytes(1_500_000)
    return make_tree(tmp_path / name, files)


def test_kill_during_close_and_one_shot_sync(tmp_path: Path):
    env, cwd = _env(tmp_path), tmp_path
    src = _source(tmp_path, "src", 1)
    args = ("sync", "--project", "k", "--name", "sync", "--folder", str(src))
    full = _timed(env, cwd, *args)
    closed = 1
    for i in range(POINTS):
        (src / f"d0/f{i}.bin").write_bytes(os.urandom(100 + i))  # a new version each time
        _kill_after(env, cwd, full * i / POINTS, *args)
        after_kill = _every_version_verifies(env, cwd)
        assert after_kill in (closed, closed + 1)  # killed before or after its commit point
        # resumes an interrupted draft, or removes one whose record was written
        rerun = _gd(env, cwd, *args, check=False)
        assert rerun.returncode == 0, rerun.stderr
        before, closed = closed, _every_version_verifies(env, cwd)
        # one new version either way: the kill's (the rerun then finds no change and
        # makes none), or the rerun's
        assert closed == before + 1
        assert _open_drafts() == [], f"kill at point {i}: a draft was left behind"
    # close of a hand-made draft, killed at 20 points
    for i in range(POINTS):
        draft = json.loads(
            _gd(env, cwd, "create", "--project", "k", "--name", "hand", "--json").stdout
        )
        _gd(env, cwd, "add", "--files", str(src))
        _kill_after(env, cwd, full * i / POINTS, "close", "--id", draft["id"])
        _every_version_verifies(env, cwd)
        status = _gd(env, cwd, "show", "--id", draft["id"], "--json", check=False)
        if status.returncode == 0 and json.loads(status.stdout)["state"] == "draft":
            _gd(env, cwd, "close", "--id", draft["id"])  # resumes the upload
        assert (
            json.loads(_gd(env, cwd, "show", "--id", draft["id"], "--json").stdout)["state"]
            == "closed"
        )
        assert _open_drafts() == [], f"kill at point {i} of close: a draft was left behind"
    assert _spec_reader_agrees(env, tmp_path) == _every_version_verifies(env, cwd)


def test_kill_during_get_leaves_no_wrong_file(tmp_path: Path):
    env, cwd = _env(tmp_path), tmp_path
    src = _source(tmp_path, "src", 2)
    vid = json.loads(
        _gd(
            env, cwd, "sync", "--project", "k", "--name", "get", "--folder", str(src), "--json"
        ).stdout
    )["id"]
    expected = read_tree(src)
    for mode in ("--copy", "--link"):
        target = tmp_path / f"out{mode}"
        full = _timed(env, cwd, "get", "--id", vid, mode, str(target))
        for i in range(POINTS):
            _gd(env, cwd, "cache", "clear")  # cold: the kill lands in the download too
            if target.exists():
                _gd(env, cwd, "get", "--id", vid, mode, str(target), "--overwrite")
                _gd(env, cwd, "cache", "clear")
            shutil.rmtree(target, ignore_errors=True)
            _kill_after(env, cwd, full * i / POINTS, "get", "--id", vid, mode, str(target))
            if target.exists():
                got = read_tree(target)
                wrong = [p for p, data in got.items() if expected.get(p) != data]
                assert not wrong, f"kill at point {i}: files with wrong content {wrong[:3]}"
            shutil.rmtree(target, ignore_errors=True)
            _gd(env, cwd, "get", "--id", vid, mode, str(target))  # rerun completes
            assert read_tree(target) == expected
            left = sorted(p.name for p in tmp_path.glob(f".{target.name}.gd-*"))
            assert left == [], f"kill at point {i}: the rerun left {left} beside the target"
    assert _spec_reader_agrees(env, tmp_path) == 1
