"""``gd merge-driver`` with arguments it cannot use (a missing file, a folder, a
read-only target) says so in one line with a hint, never with a traceback, and
leaves the files as they were."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd

POINTER = "format: 1\nid: " + "0" * 32 + "\n"


def _one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("gd: error: merge driver: "), lines
    assert all(w in lines[0] for w in words), lines
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "%O %A %B %P" in lines[1]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


@pytest.fixture
def sides(tmp_path: Path) -> Path:
    for name in ("base", "ours", "theirs"):
        (tmp_path / name).write_text(POINTER)
    (tmp_path / "folder").mkdir()
    return tmp_path


def test_missing_file(sides: Path):
    for args, side in (
        (["gone", "ours", "theirs"], "base"),
        (["base", "gone", "theirs"], "ours"),
        (["base", "ours", "gone"], "theirs"),
    ):
        proc = run_gd("merge-driver", *args, "p.yaml", env=dict(os.environ), cwd=sides)
        _one_line_error(proc, 3, f"the {side} file 'gone' does not exist")
    assert (sides / "ours").read_text() == POINTER


def test_unreadable_path(sides: Path):
    proc = run_gd(
        "merge-driver", "base", "folder", "theirs", "p.yaml", env=dict(os.environ), cwd=sides
    )
    _one_line_error(proc, 4, "cannot read the ours file 'folder'")


def test_missing_argument_is_a_usage_error(sides: Path):
    proc = run_gd("merge-driver", "base", "ours", env=dict(os.environ), cwd=sides)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr
    assert "Traceback" not in proc.stderr
