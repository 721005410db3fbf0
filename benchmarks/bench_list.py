"""`gd list` of 30,000 files: written to a terminal (a pseudo-terminal) against piped.

The terminal run reads the pty until gd exits, so its time includes writing every
row to the terminal; the piped run writes to a pipe read the same way.

Usage: python benchmarks/bench_list.py [--files 30000] [--repeat 3]
Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import gd_runner, isolated_env


def make_tree(root: Path, count: int) -> None:
    for i in range(count):
        folder = root / f"d{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file_{i:06d}.txt").write_bytes(b"%d" % i)


def run_list(cmd: list[str], env: dict[str, str], cwd: Path, terminal: bool) -> float:
    """Seconds from start to exit of ``cmd``, its stdout a pty or a pipe, read to the end."""
    if terminal:
        master, slave = pty.openpty()
        out_fd, child_out = master, slave
    else:
        out_fd, child_out = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=child_out, stderr=subprocess.DEVNULL)
    os.close(child_out)
    total = 0
    while True:
        try:
            data = os.read(out_fd, 1 << 16)
        except OSError:  # the pty's reader gets EIO once the child has gone
            break
        if not data:
            break
        total += len(data)
    proc.wait()
    took = time.perf_counter() - start
    os.close(out_fd)
    if proc.returncode or total == 0:
        raise SystemExit(f"gd list failed ({proc.returncode}, {total} bytes)")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=30000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = isolated_env(base / "home", storage=str(base / "store"))
        env["COLUMNS"] = "120"
        work = base / "work"
        work.mkdir()
        make_tree(base / "src", args.files)
        gd = gd_runner(env, work)
        did = gd("create", "--project", "bench", "--name", "list")
        gd("add", "--files", str(base / "src"))
        gd("close")
        cmd = [sys.executable, "-m", "gitdata", "list", "--id", did]
        times: dict[str, list[float]] = {"piped": [], "terminal (pty)": []}
        for _ in range(args.repeat):
            times["piped"].append(run_list(cmd, env, work, terminal=False))
            times["terminal (pty)"].append(run_list(cmd, env, work, terminal=True))
    print(f"`gd list` of {args.files:,} files, {args.repeat} runs\n")
    print("| output | best (s) | median (s) |")
    print("|---|---|---|")
    for label, ts in times.items():
        print(f"| {label} | {min(ts):.2f} | {statistics.median(ts):.2f} |")


if __name__ == "__main__":
    main()
