"""Upload and cold-get throughput to a local Ceph RADOS Gateway (S3), through the real CLI.

Two datasets, as the storage issue asks:
  - 512 MiB as 8 files of 64 MiB (large objects: bandwidth-bound)
  - 20,000 files of 4 KiB (small files packed into chunks: per-file work)

For each: `gd add` (hashing), `gd close` (packing and uploading the chunks),
cold `gd get --copy` and cold `gd get` (empty cache: every byte read from S3).
The servers come from tests/servers/manage.py unless their variables are
already exported (then those are used).

Usage: python benchmarks/bench_cloud.py [--repeat 3] [--workers 8]
Prints a Markdown table for docs/benchmarks.md. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import uuid
from pathlib import Path

from harness import gd_runner, isolated_env, local_s3, measure

MiB = 1024 * 1024


def make_large(root: Path) -> int:
    root.mkdir(parents=True)
    for i in range(8):
        with open(root / f"shard-{i}.bin", "wb") as fh:
            for _ in range(64):
                fh.write(os.urandom(MiB))
    return 8 * 64 * MiB


def make_small(root: Path) -> int:
    for i in range(20_000):
        folder = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(4096))
    return 20_000 * 4096


def raw_upload(data: Path, bucket: str, workers: int) -> None:
    """What the S3 server and s3fs alone need for the same bytes (one object per file)."""
    from concurrent.futures import ThreadPoolExecutor

    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(f"{bucket}-raw")
    files = sorted(p for p in data.rglob("*") if p.is_file())
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: fs.put_file(str(p), f"{bucket}-raw/{p.name}"), files))
    fs.rm(f"{bucket}-raw", recursive=True)


def raw_create(root: Path) -> None:
    """What the filesystem alone needs to create 20,000 files of 4 KiB."""
    payload = os.urandom(4096)
    for i in range(20_000):
        folder = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        fd = os.open(folder / f"f{i:06d}.bin", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, payload)
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, int]]] = {}
    with local_s3():
        for _ in range(args.repeat):
            for name, maker in (
                ("512 MiB as 8 x 64 MiB", make_large),
                ("20,000 x 4 KiB", make_small),
            ):
                with tempfile.TemporaryDirectory(prefix="gd-bench-cloud-") as tmp:
                    run_once(Path(tmp), name, maker, args.workers, results)

    print(
        f"\nCeph RGW on 127.0.0.1 (memstore), --max-workers {args.workers}, {args.repeat} runs, "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores\n"
    )
    print("| dataset | step | best (s) | median (s) | best MiB/s |")
    print("|---|---|---|---|---|")
    for step, runs in results.items():
        runs.sort()
        best, size = runs[0]
        dataset, _, what = step.partition(": ")
        print(
            f"| {dataset} | {what} | {best:.2f} | {runs[len(runs) // 2][0]:.2f} "
            f"| {size / MiB / best:.0f} |"
        )


def run_once(tmp: Path, name: str, maker, workers: int, results) -> None:
    bucket = f"gd-bench-{uuid.uuid4().hex[:10]}"
    env = isolated_env(tmp / "home", f"s3://{bucket}/bench")
    data = tmp / "data"
    size = maker(data)
    run = gd_runner(env, tmp)

    def timed(step: str, fn) -> None:
        results.setdefault(f"{name}: {step}", []).append((measure(fn), size))

    if size >= 100 * MiB:  # 20,000 single PUTs would only measure request overhead
        timed(
            "floor: the same files put with s3fs, no gd", lambda: raw_upload(data, bucket, workers)
        )
    else:
        timed("floor: create the files with os.open/write, no gd", lambda: raw_create(tmp / "raw"))
    vid = run("--create-bucket", "create", "--project", "bench", "--name", "cloud")
    timed("add (hash)", lambda: run("add", "--files", str(data)))
    timed("close (pack + upload)", lambda: run("close", "--max-workers", str(workers)))
    run("cache", "clear")
    timed(
        "cold get --copy",
        lambda: run("get", "--id", vid, "--copy", str(tmp / "copy"), "--max-workers", str(workers)),
    )
    shutil.rmtree(tmp / "copy")
    run("cache", "clear")
    timed("cold get (cached copy)", lambda: run("get", "--id", vid, "--max-workers", str(workers)))
    run("cache", "clear")
    shutil.rmtree(data)


if __name__ == "__main__":
    main()
