"""Benchmark incremental versions of a large dataset in a store that holds others.

The store holds OTHER datasets x VERSIONS small versions (default 50 x 4 = 200
records) and one dataset of N files of S bytes (default 20,000 x 4 KiB).  Each
run changes CHANGED files of it (a third modified, a third added, a third
deleted; default 300) and times, through the real `gd` CLI (one process per
command):

  1. the one-shot `gd sync --project P --name N --folder F`
  2. `gd create --parents LATEST` + `gd sync --folder F` + `gd close`

and, in the same run, interpreter start-up as `python -m gitdata --version`,
so gd's own time is the step minus start-up (per process).

Usage: python benchmarks/bench_resync.py [--files 20000] [--changed 300] [--repeat 5]
Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from harness import ROOT, chdir_outside_project, gd_runner, isolated_env, measure


def make_store(tmp: Path, args: argparse.Namespace, env: dict[str, str]) -> Path:
    """The other datasets and the large one, closed through the API in this process."""
    os.environ.update(env)
    chdir_outside_project(tmp)
    if str(ROOT) not in sys.path:  # this checkout's gitdata, as the `gd` processes run it
        sys.path.insert(0, str(ROOT))
    from gitdata import Dataset

    for d in range(args.others):
        parent = None
        for v in range(args.versions):
            src = tmp / "small" / f"{d}-{v}"
            src.mkdir(parents=True)
            for i in range(5):
                (src / f"f{i}.txt").write_bytes(os.urandom(64))
            ds = Dataset.create(
                dataset_name=f"ds{d}",
                dataset_project="other",
                parent_datasets=[parent] if parent else None,
            )
            ds.sync_folder(src)
            ds.finalize(auto_upload=True)
            parent = ds.id
    data = tmp / "data"
    for i in range(args.files):
        folder = data / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(args.size))
    ds = Dataset.create(dataset_name="big", dataset_project="bench")
    ds.sync_folder(data)
    ds.finalize(auto_upload=True)
    return data


def change(data: Path, count: int, size: int, round_no: int) -> None:
    """Modify, add and delete a third of ``count`` files each, spread over the folders."""
    files = sorted(data.rglob("*.bin"))
    third = count // 3
    step = max(1, len(files) // (2 * third))
    picked = files[::step][: 2 * third]
    for p in picked[:third]:
        p.write_bytes(os.urandom(size))
    for p in picked[third:]:
        p.unlink()
    folders = sorted(p for p in data.iterdir() if p.is_dir())
    for i in range(count - 2 * third):
        (folders[i % len(folders)] / f"new-{round_no}-{i}.bin").write_bytes(os.urandom(size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--changed", type=int, default=300)
    parser.add_argument("--others", type=int, default=50, help="other datasets in the store")
    parser.add_argument("--versions", type=int, default=4, help="versions of each other one")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gd-bench-") as name:
        tmp = Path(name)
        env = isolated_env(tmp / "home", str(tmp / "store"))
        data = make_store(tmp, args, env)
        run = gd_runner(env, tmp)

        def timed(step: str, fn) -> None:
            results.setdefault(step, []).append(measure(fn))

        for r in range(args.repeat):
            timed("start-up (`python -m gitdata --version`)", lambda: run("--version"))
            change(data, args.changed, args.size, 2 * r)
            timed(
                f"one-shot `gd sync --project --name --folder`, {args.changed} changes",
                lambda: run("sync", "--project", "bench", "--name", "big", "--folder", str(data)),
            )
            change(data, args.changed, args.size, 2 * r + 1)
            found = json.loads(run("search", "--project", "bench", "--name", "big", "--json"))
            latest = max(found, key=lambda v: v["created"])["id"]
            timed(
                f"`gd create --parents` + `gd sync` + `gd close`, {args.changed} changes",
                lambda latest=latest: (
                    run("create", "--project", "bench", "--name", "big", "--parents", latest),
                    run("sync", "--folder", str(data)),
                    run("close"),
                ),
            )

    print(
        f"\n{args.files:,} files x {args.size:,} B, {args.others * args.versions} other records, "
        f"{args.repeat} runs, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores\n"
    )
    print("| step | best (s) | median (s) |")
    print("|---|---|---|")
    for step, times in results.items():
        times.sort()
        print(f"| {step} | {times[0]:.2f} | {times[len(times) // 2]:.2f} |")


if __name__ == "__main__":
    main()
