"""Store-wide deduplication (the store content index, docs/format.md §14), through the real `gd` CLI.

Two unrelated datasets (no parent relation) in one local store, the second holding
the first's files plus one new file:
  1. the 420 KB case: 20 files x 21 KB, one new 10 KB file; the bytes the second
     close adds to the store's objects/
  2. N files of S bytes (default 20,000 x 4 KiB): the time of `gd close` (upload and
     commit) of the first dataset (writes the index) and of the second (looks up
     N pending contents and references them)

``--root`` runs another gitdata source tree (e.g. a checkout without the index) for
a before/after comparison.  Usage:
    python benchmarks/bench_dedup.py [--files 20000] [--size 4096] [--repeat 3] [--root PATH]
Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness import gd_runner, isolated_env, measure


def make_files(root: Path, count: int, size: int) -> None:
    for i in range(count):
        folder = root / f"d{i // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(size))


def stored_bytes(store: Path) -> int:
    objects = store / "objects"
    return sum(p.stat().st_size for p in objects.rglob("*") if p.is_file())


def copy_plus_one(src: Path, dst: Path, extra: int) -> None:
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (dst / "extra").mkdir(parents=True, exist_ok=True)
    (dst / "extra" / "new.bin").write_bytes(os.urandom(extra))


def run_once(tmp: Path, args, out: dict[str, list[float]]) -> None:
    store = tmp / "store"
    env = isolated_env(tmp / "home", str(store))
    if args.root:
        env["PYTHONPATH"] = str(Path(args.root).resolve())
    run = gd_runner(env, tmp)

    def close(name: str, folder: Path) -> float:
        run("create", "--project", "bench", "--name", name)
        run("add", "--files", str(folder))
        return measure(lambda: run("close"))

    small = tmp / "small"
    make_files(small, 20, 21_000)
    copy_plus_one(small, tmp / "small2", 10_000)
    close("small-1", small)
    before = stored_bytes(store)
    close("small-2", tmp / "small2")
    out.setdefault("420 KB case: bytes the second close stored", []).append(
        stored_bytes(store) - before
    )
    big = tmp / "big"
    make_files(big, args.files, args.size)
    copy_plus_one(big, tmp / "big2", args.size)
    out.setdefault(f"close, {args.files:,} new files (s)", []).append(close("big-1", big))
    before = stored_bytes(store)
    out.setdefault(f"close, {args.files:,} files held by another dataset + 1 (s)", []).append(
        close("big-2", tmp / "big2")
    )
    out.setdefault("  bytes that close stored", []).append(stored_bytes(store) - before)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", default=None, help="the gitdata source tree to run")
    args = parser.parse_args()
    out: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="gd-bench-") as tmp:
            run_once(Path(tmp), args, out)
    print("| step | best | median |")
    print("|---|---|---|")
    for step, values in out.items():
        ordered = sorted(values)
        print(f"| {step} | {ordered[0]:,.2f} | {ordered[len(ordered) // 2]:,.2f} |")


if __name__ == "__main__":
    main()
