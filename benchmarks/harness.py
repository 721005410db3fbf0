"""What the benchmark scripts share: an isolated home, the real `gd` in a
subprocess, a timer that flushes dirty pages first, one child process timed with
its own peak RSS, and the machine's description."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Measured:
    """One child process: wall seconds, its own peak RSS, exit code and output."""

    seconds: float
    rss_kib: int
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        """stdout decoded (undecodable bytes replaced)."""
        return self.stdout.decode(errors="replace")


def run_measured(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Measured:
    """Run ``argv`` once, timed from start to exit after an ``os.sync()``.

    The peak RSS is that child's own (``os.wait4`` rusage), not the maximum over
    every child this process ever had. Output goes to temporary files, so a child
    writing a lot never blocks on a full pipe. A KeyboardInterrupt kills the child.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.sync()
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds=seconds,
            rss_kib=usage.ru_maxrss,
            returncode=proc.returncode,
            stdout=out.read(),
            stderr=err.read().decode(errors="replace"),
        )


def remove_tree(path: Path) -> None:
    """``shutil.rmtree`` that also removes read-only folders (caches, --link trees)."""

    def retry(func: Callable[..., Any], name: str, _exc: object) -> None:
        parent = os.path.dirname(name)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IRWXU)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, os.stat(name).st_mode | stat.S_IRWXU)
            shutil.rmtree(name, onerror=retry)  # noqa: B023 (same handler, one level down)
        else:
            func(name)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=retry)


def machine_info() -> dict[str, Any]:
    """CPU count and model, RAM, Python, the project's commit and the date (UTC)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_bytes": ram,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "gd_commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
