"""How long the existence check of many objects takes on an object store with latency.

`gd close`, `gd verify --remote` and `gd push` ask the store which of a version's
objects exist (`Store.exists_many`): one listing per objects/ folder holding
several of them. This times it for N objects on a local Ceph RGW reached through
the test suite's fault proxy, which adds a fixed delay each way (a nearby region).

Usage: python benchmarks/bench_exists.py [--objects 400] [--latency-ms 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
import uuid

from harness import ROOT, local_s3

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from servers.faultproxy import FaultProxy

    from gitdata.storage import object_key, open_store
    from gitdata.storage.transfer import run_parallel

    with local_s3():
        url = f"s3://gd-bench-{uuid.uuid4().hex[:10]}/store"
        direct = open_store(url)
        direct.ensure_initialized(create_bucket=True)
        keys = [
            object_key(hashlib.sha256(str(i).encode()).hexdigest()) for i in range(args.objects)
        ]
        run_parallel(lambda k: direct.put_bytes(k, b"x"), keys, 16)
        with FaultProxy("127.0.0.1", int(os.environ["GD_TEST_S3_PORT"])) as proxy:
            proxy.latency = args.latency_ms / 1000
            os.environ["AWS_ENDPOINT_URL_S3"] = proxy.url
            store = open_store(url)
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                found = store.exists_many(keys)
                times.append(time.perf_counter() - t)
                assert len(found) == len(keys)
    print(
        f"exists_many of {args.objects} objects, {args.latency_ms:g} ms each way: "
        f"best {min(times):.2f} s, median {statistics.median(times):.2f} s"
    )


if __name__ == "__main__":
    main()
