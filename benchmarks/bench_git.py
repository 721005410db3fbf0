"""Benchmark git-facing commands in a repository with many datasets and commits.

Builds a repository with D datasets (3 closed versions each, tiny files) and C
commits that move their pointers around, then times the real `gd` command (one
process per run, interpreter start-up included):

  gd status                         (no store access)
  gd get --rev HEAD~N --link DIR    (an old commit's pin, warm cache)
  gd log --project P --name N       (walks all C commits)
  gd diff HEAD~N HEAD               (pointer differences, manifests from the cache)

Usage: python benchmarks/bench_git.py [--datasets 50] [--commits 1000] [--repeat 5]
Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import chdir_outside_project, isolated_env, outside_project


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gd-bench-git-") as tmp:
        run(Path(tmp), args)


def run(tmp: Path, args) -> None:
    env = {
        **isolated_env(tmp / "home"),
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    os.environ.update(env)
    repo_dir = tmp / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo_dir)], check=True)
    chdir_outside_project(tmp)  # build versions outside the repo: pointers are written below

    import pygit2

    from gitdata import Dataset
    from gitdata.gitio.pointer import encode_pointer, pointer_from_record, pointer_relpath

    t = time.perf_counter()
    versions: dict[int, list] = {}
    for d in range(args.datasets):
        parents: list[str] = []
        versions[d] = []
        for v in range(3):
            src = tmp / "src" / f"d{d}"
            src.mkdir(parents=True, exist_ok=True)
            for f in range(3):
                (src / f"f{f}.txt").write_text(f"dataset {d} version {v} file {f}\n")
            ds = Dataset.create(
                dataset_project="bench", dataset_name=f"ds{d:03d}", parent_datasets=parents
            )
            ds.sync_folder(src)
            ds.finalize(auto_upload=True)
            versions[d].append(ds.record)
            parents = [ds.id]
    build_versions = time.perf_counter() - t

    t = time.perf_counter()
    repo = pygit2.Repository(str(repo_dir))
    sig = pygit2.Signature("bench", "bench@example.com")
    parent_ids: list = []
    for i in range(args.commits):
        d = i % args.datasets
        record = versions[d][(i // args.datasets) % 3]
        rel = pointer_relpath(record.project, record.name)
        pointer = pointer_from_record(record)
        path = repo_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(encode_pointer(pointer))
        repo.index.add(rel)
        repo.index.write()
        tree = repo.index.write_tree()
        oid = repo.create_commit("HEAD", sig, sig, f"data change {i}", tree, parent_ids)
        parent_ids = [oid]
    build_commits = time.perf_counter() - t

    outside_project(repo_dir)

    def gd(*cmd: str) -> float:
        start = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "gitdata", "-q", *cmd],
            cwd=repo_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        if r.returncode:
            raise SystemExit(f"gd {' '.join(cmd)} failed:\n{r.stderr}")
        return elapsed

    old = min(args.commits - 1, args.commits * 9 // 10)
    steps = {
        "gd status": ["status"],
        "gd status --json": ["status", "--json"],
        f"gd get --rev HEAD~{old} --link (warm cache)": [
            "get",
            "--project",
            "bench",
            "--name",
            "ds000",
            "--rev",
            f"HEAD~{old}",
            "--link",
            "LINK",
            "--overwrite",
        ],
        f"gd log (walks {args.commits} commits)": [
            "log",
            "--project",
            "bench",
            "--name",
            "ds000",
            "--json",
        ],
        f"gd diff HEAD~{args.datasets} HEAD": ["diff", f"HEAD~{args.datasets}", "HEAD", "--json"],
    }
    gd(*steps[f"gd get --rev HEAD~{old} --link (warm cache)"])  # warm the cache once
    print(
        f"\n{args.datasets} datasets, {args.commits} commits; built in "
        f"{build_versions:.1f} s (versions) + {build_commits:.1f} s (commits); {args.repeat} runs each\n"
    )
    print("| command | best (s) | median (s) |")
    print("|---|---|---|")
    for label, cmd in steps.items():
        times = sorted(gd(*cmd) for _ in range(args.repeat))
        print(f"| {label} | {times[0]:.3f} | {statistics.median(times):.3f} |")


if __name__ == "__main__":
    main()
