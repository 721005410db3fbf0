"""Benchmark the web UI over a version of N files (default 1,000,000).

The pages read only records and manifests, so the store is written directly through
the library's encoders (no file contents, no chunks): one version of N files in
1,000 folders, and a child with 1% of them changed, renamed or removed.  Then a UI
server answers, one request at a time, as a browser would ask:

  the dataset list; the version page cold (manifest decoded, summaries computed) and
  warm; listing pages (the first, one in the middle, a substring and a glob filter);
  the comparison of the two versions.

Prints a Markdown table (seconds, and bytes sent: a page stays small however many
files the version has).  Usage: python benchmarks/bench_ui.py [--files 1000000]
Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import isolated_env  # noqa: E402

from gitdata.core.ids import new_version_id  # noqa: E402
from gitdata.core.manifest import FileEntry, Manifest  # noqa: E402
from gitdata.core.pages import encode_paged  # noqa: E402
from gitdata.core.record import VersionRecord, utc_now  # noqa: E402
from gitdata.ops.context import Context  # noqa: E402
from gitdata.ops.reader import encode_record  # noqa: E402
from gitdata.storage.keys import object_key, version_key  # noqa: E402


def sha(i: int, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}{i}".encode()).hexdigest()


def write_version(
    ctx: Context,
    entries: list[FileEntry],
    parents: list[str],
    version: str,
    changes: tuple[int, int, int],
) -> str:
    manifest = Manifest(entries)
    encoded = encode_paged(manifest)  # as close writes a big version (format 3)
    for page_sha, page in encoded.objects.items():
        ctx.store.put_bytes(object_key(page_sha), page)
    manifest_sha = encoded.sha256
    ctx.store.put_bytes(object_key(manifest_sha), encoded.root)
    vid = new_version_id()
    added, modified, removed = changes
    record = VersionRecord(
        id=vid,
        project="bench",
        name="big",
        version=version,
        parents=parents,
        manifest=manifest_sha,
        stats={
            "files": len(manifest),
            "bytes": manifest.total_size,
            "added": added,
            "modified": modified,
            "removed": removed,
        },
        created=utc_now(),
    )
    ctx.store.put_bytes(version_key(vid), encode_record(record))
    return vid


def build(ctx: Context, n: int) -> tuple[str, str]:
    chunk = sha(0, "chunk")
    exts = (".jpg", ".png", ".txt", ".json")
    base = [
        FileEntry(
            f"d{i % 1000:03d}/f{i:07d}{exts[i % 4]}",
            1000 + i % 5000,
            sha(i),
            chunk,
            i * 10,
            1000 + i % 5000,
        )
        for i in range(n)
    ]
    v1 = write_version(ctx, base, [], "1.0.0", (n, 0, 0))
    step = 100  # 1% of the files change
    child = []
    for i, e in enumerate(base):
        if i % step == 0:
            continue  # removed
        if i % step == 1:
            child.append(FileEntry(e.path, e.size + 7, sha(i, "new"), chunk, e.offset, e.size + 7))
        elif i % step == 2:
            child.append(FileEntry("moved/" + e.path, e.size, e.sha256, chunk, e.offset, e.size))
        else:
            child.append(e)
    v2 = write_version(ctx, child, [v1], "1.0.1", (n // step, n // step, 2 * n // step))
    return v1, v2


def timed_get(port: int, path: str) -> tuple[float, int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    took = time.perf_counter() - start
    conn.close()
    return took, len(body), r.status


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gd-bench-ui-") as tmp:
        os.environ.update(isolated_env(Path(tmp)))  # this process reads the store itself
        os.chdir(tmp)
        store = str(Path(tmp) / "store")
        ctx = Context.for_storage(store)
        ctx.store_for_writing(store)
        start = time.perf_counter()
        v1, v2 = build(Context.for_storage(store), args.files)
        built = time.perf_counter() - start

        from gitdata.ui.catalog import Catalog
        from gitdata.ui.server import make_server, serve_in_background

        server = make_server(Catalog(store), "127.0.0.1", 0, repo=False)
        serve_in_background(server)
        port = server.server_address[1]
        steps = [
            ("dataset list", "/"),
            ("version page, cold (manifest decoded, summaries made)", f"/version/{v2}"),
            ("version page, warm", f"/version/{v2}"),
            ("listing, first page", f"/version/{v2}/files"),
            ("listing, page 5,000", f"/version/{v2}/files?page=5000"),
            ("listing, substring filter", f"/version/{v2}/files?q=f00012"),
            ("listing, glob filter", f"/version/{v2}/files?q=d999/*.png"),
            ("compare the two versions, cold", f"/compare?source={v1}&target={v2}"),
            ("compare the two versions, warm", f"/compare?source={v1}&target={v2}"),
        ]
        rows = []
        for label, path in steps:
            took, size, status = timed_get(port, path)
            assert status == 200, (label, status)
            rows.append((label, took, size))
        server.shutdown()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.files:,} files; store written in {built:.1f} s; "
        f"{platform.python_version()}, {os.cpu_count()} cores"
    )
    print()
    print("| request | seconds | bytes sent |")
    print("|---|---:|---:|")
    for label, took, size in rows:
        print(f"| {label} | {took:.2f} | {size:,} |")
    print(f"\nPeak memory of the process (store building included): {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
