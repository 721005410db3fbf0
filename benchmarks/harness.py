"""What the benchmark scripts share: an isolated home, the real `gd` in a
subprocess, and a timer that flushes dirty pages first."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
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


def outside_project(folder: Path) -> Path:
    """``folder``, or exit if it lies inside the project's source tree.

    gd writes and stages a pointer in the git repository enclosing its cwd: run
    from inside the project, a benchmark leaves its datasets' pointers in
    gitdata's own repository. Benchmarks work in temporary folders only.
    """
    resolved = Path(folder).resolve()
    if resolved == ROOT or ROOT in resolved.parents:
        raise SystemExit(
            f"refusing to run gd in {folder}: it is inside the project ({ROOT}), whose "
            "repository would receive the benchmark's pointers; use a temporary folder"
        )
    return resolved


def chdir_outside_project(folder: Path) -> None:
    """``os.chdir(folder)`` for benchmarks that use the API in-process, guarded as above."""
    os.chdir(outside_project(folder))


def gd_runner(env: dict[str, str], cwd: Path) -> Callable[..., str]:
    """``run(*args)``: `gd -q ARGS` in its own process; its stdout, or exit on failure.
    Refuses a ``cwd`` inside the project (see :func:`outside_project`)."""
    gd = [sys.executable, "-m", "gitdata", "-q"]
    outside_project(cwd)

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


@contextlib.contextmanager
def local_s3() -> Iterator[None]:
    """A local Ceph RGW for the block, its variables exported (tests/servers/manage.py);
    one already configured (GD_TEST_S3_ENDPOINT_URL set) is used as it is."""
    if os.environ.get("GD_TEST_S3_ENDPOINT_URL"):
        yield
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import manage

    folder = Path(tempfile.gettempdir()) / f"gd-bench-{uuid.uuid4().hex[:6]}"
    os.environ.update(manage.start(folder, ["s3"]))
    try:
        yield
    finally:
        manage.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
