"""What the benchmark scripts share: an isolated home, the real `gd` in a
subprocess, and a timer that flushes dirty pages first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def isolated_env(home: Path, storage: str | None = None) -> dict[str, str]:
    """The current environment with HOME, the XDG folders (and GD_STORAGE) under ``home``."""
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("GD_CACHE_DIR", None)
    env.pop("GD_STORAGE", None)
    if storage is not None:
        env["GD_STORAGE"] = storage
    return env


def gd_runner(env: dict[str, str], cwd: Path) -> Callable[..., str]:
    """``run(*args)``: `gd -q ARGS` in its own process; its stdout, or exit on failure."""
    gd = [sys.executable, "-m", "gitdata", "-q"]

    def run(*args: str) -> str:
        r = subprocess.run([*gd, *args], env=env, capture_output=True, text=True, cwd=cwd)
        if r.returncode:
            raise SystemExit(f"gd {' '.join(args)} failed:\n{r.stderr}")
        return r.stdout.strip()

    return run


def measure(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` took, after flushing dirty pages so earlier writes are not billed."""
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
