"""What the benchmark scripts share: an isolated home, the real `gd` in a
subprocess, a timer that flushes dirty pages first, one child process timed with
its own peak RSS, and the machine's description."""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
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
    # A user's interpreter caches bytecode; a sandbox that turns that off would add the
    # compiling of every module (about 0.3 s) to each command measured.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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
    """One child process: wall seconds, its own peak RSS, exit code and output, and its
    CPU seconds (user + system: what a slow disk does not inflate)."""

    seconds: float
    rss_kib: int
    returncode: int
    stdout: bytes
    stderr: str
    cpu_seconds: float = 0.0

    @property
    def text(self) -> str:
        """stdout decoded (undecodable bytes replaced)."""
        return self.stdout.decode(errors="replace")


class _Spawner:
    """The spawner.py process, started on first use and kept for the next commands."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def run(
        self, argv: Sequence[str], env: dict[str, str], cwd: Path, out: Path, err: Path
    ) -> tuple[float, float, int, int]:
        """(seconds, CPU seconds, peak RSS KiB, wait status) of ``argv``; its output
        into out, err."""
        if self._proc is None or self._proc.poll() is not None:
            script = Path(__file__).with_name("spawner.py")
            self._proc = subprocess.Popen(
                [sys.executable, "-S", str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            request = {
                "argv": list(argv),
                "env": env,
                "cwd": str(cwd),
                "out": str(out),
                "err": str(err),
            }
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except BaseException:
            self.close()
            raise
        if not line:
            raise RuntimeError("the benchmark's spawner process died")
        reply = json.loads(line)
        return reply["seconds"], reply["cpu_seconds"], reply["rss_kib"], reply["status"]

    def close(self) -> None:
        """Stop the spawner (and the command it runs, if any)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait()
        self._proc = None


_SPAWNER = _Spawner()
atexit.register(_SPAWNER.close)


def run_measured(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Measured:
    """Run ``argv`` once, timed from start to exit after an ``os.sync()``.

    The peak RSS is that child's own (``os.wait4`` rusage), not the maximum over
    every child this process ever had; the child is forked from the small
    spawner.py process, since Linux counts the memory of the process a child was
    forked from in its peak. Output goes to temporary files, so a child writing a
    lot never blocks on a full pipe. A KeyboardInterrupt kills the child.
    """
    with tempfile.TemporaryDirectory(prefix="gd-bench-out-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        seconds, cpu_seconds, rss_kib, status = _SPAWNER.run(argv, env, cwd, out, err)
        return Measured(
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            rss_kib=rss_kib,
            returncode=os.waitstatus_to_exitcode(status),
            stdout=out.read_bytes() if out.exists() else b"",
            stderr=err.read_text(errors="replace") if err.exists() else "",
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
