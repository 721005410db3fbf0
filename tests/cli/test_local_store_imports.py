"""On a local store, the everyday commands never import fsspec (its import is a
sizeable part of a command's start-up); an external link still works through it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]

_COMMANDS = """
import sys
from gitdata.cli.main import run
src, copy = sys.argv[1], sys.argv[2]
for args in (
    ["create", "--project", "p", "--name", "n"],
    ["add", "--files", src],
    ["close"],
    ["sync", "--project", "p", "--name", "n", "--folder", src, "--version", "2.0.0"],
    ["get", "--project", "p", "--name", "n", "--copy", copy],
    ["verify", "--remote"],
    ["delete", "--project", "p", "--name", "n"],
):
    sys.argv = ["gd", "-q", *args]
    try:
        run()
    except SystemExit as exc:
        if exc.code:
            raise SystemExit(f"gd {' '.join(args)} exited {exc.code}")
print("fsspec" in sys.modules, any(m.startswith("fsspec") for m in sys.modules))
"""


def test_local_store_commands_do_not_import_fsspec(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "d/b.txt": "b"})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GD_STORAGE": str(tmp_path / "store")}
    r = subprocess.run(
        [sys.executable, "-c", _COMMANDS, str(src), str(tmp_path / "copy")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False False"
    assert (tmp_path / "copy" / "d" / "b.txt").read_text() == "b"
