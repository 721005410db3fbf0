"""The `gd` entry point makes the cyclic garbage collector run rarely; the library
alone leaves its caller's interpreter as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitdata.cli.main import GC_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import gc, sys
import gitdata.api  # the library imported and used on its own
before = gc.get_threshold()
from gitdata.cli.main import run
sys.argv = ["gd", "--version"]
try:
    run()
except SystemExit:
    pass
print(before, gc.get_threshold(), gc.get_freeze_count() > 0)
"""


def test_the_cli_entry_point_tunes_the_collector_and_the_library_does_not(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    line = r.stdout.strip().splitlines()[-1]
    assert line == f"{(700, 10, 10)} {GC_THRESHOLDS} True", line
