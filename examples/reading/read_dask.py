"""Dask reads a version's CSV parts on a local cluster of two worker processes: the
``gd`` filesystem is pickled to the workers and each opens the parts it is given.

    python examples/reading/read_dask.py [gd://examples/tables]
"""

from __future__ import annotations

import sys

import dask.dataframe as dd
from distributed import Client, LocalCluster


def main(base: str) -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        frame = dd.read_csv(f"{base}/csv/*.csv")
        per_label = frame.groupby("label")["score"].sum().compute().sort_index()
        workers = len(client.scheduler_info()["workers"])
        print(f"{frame.npartitions} partitions on {workers} workers, {len(frame)} rows")
        print("score sums: " + ", ".join(f"{k}={v}" for k, v in per_label.items()))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gd://examples/tables")
