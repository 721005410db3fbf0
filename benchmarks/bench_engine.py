"""Benchmark the engine on a local store through the real `gd` CLI.

Measures, for N files of S bytes (default 20,000 x 4 KiB):
  1. create + add + close           (one `gd` process per command, as a user runs it)
  2. cold `gd get --copy`           (empty cache: straight from the store's chunks)
  3. cold `gd get`                  (fills the cache, publishes the read-only copy)
  4. warm `gd get --link`           (blobs cached: hardlinks only)
  5. re-sync with 100 changed files (one `gd sync --project --name`: create child, sync, close)

Dirty pages are flushed (os.sync) before each timed step, so a step is not
charged for the previous step's writeback.  The "floor" step creates the same
files with plain os.open/os.write and no gd: on a virtual disk whose
file-creation speed varies, read the gd steps against it.

Usage: python benchmarks/bench_engine.py [--files 20000] [--size 4096] [--repeat 3]
Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from harness import gd_runner, isolated_env, measure


def make_files(root: Path, count: int, size: int) -> None:
    for i in range(count):
        folder = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait after deleting")
    args = parser.parse_args()

    results: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="gd-bench-") as tmp:
            run_once(Path(tmp), args, results)

    print(
        f"\n{args.files:,} files x {args.size:,} B, {args.repeat} runs, "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores\n"
    )
    print("| step | best (s) | median (s) |")
    print("|---|---|---|")
    for step, times in results.items():
        times.sort()
        print(f"| {step} | {times[0]:.2f} | {times[len(times) // 2]:.2f} |")


def run_once(tmp: Path, args, results: dict[str, list[float]]) -> None:
    env = isolated_env(tmp / "home", str(tmp / "store"))
    data = tmp / "data"
    make_files(data, args.files, args.size)
    run = gd_runner(env, tmp)

    def timed(step: str, fn) -> None:
        results.setdefault(step, []).append(measure(fn))

    ids: list[str] = []
    timed(
        "create + add + close",
        lambda: (
            ids.append(run("create", "--project", "bench", "--name", "ds")),
            run("add", "--files", str(data)),
            run("close"),
        ),
    )
    run("cache", "clear")  # cold: no content cached (the stat cache stays)
    os.sync()
    time.sleep(args.settle)  # let the filesystem finish discarding what was deleted
    payload = os.urandom(args.size)

    def floor() -> None:
        # What the filesystem alone needs to create the same files (no gd at all).
        for i in range(args.files):
            folder = tmp / "floor" / f"d{i // 1000:03d}"
            if i % 1000 == 0:
                folder.mkdir(parents=True)
            fd = os.open(folder / f"f{i:06d}.bin", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, payload)
            os.close(fd)

    timed("floor: create the files with plain os.open/write (no gd)", floor)
    timed("cold get --copy", lambda: run("get", "--id", ids[0], "--copy", str(tmp / "copy")))
    timed("cold get (cached read-only copy)", lambda: run("get", "--id", ids[0]))
    timed("warm get --link", lambda: run("get", "--id", ids[0], "--link", str(tmp / "linked")))
    step = max(1, args.files // args.changed)  # changes spread over the folders
    for i in range(0, min(args.files, step * args.changed), step):
        (data / f"d{i // 1000:03d}" / f"f{i:06d}.bin").write_bytes(os.urandom(args.size))
    timed(
        f"re-sync, {args.changed} changed (create + sync + close)",
        lambda: run("sync", "--project", "bench", "--name", "ds", "--folder", str(data)),
    )


if __name__ == "__main__":
    main()
