"""pyarrow opens the Parquet parts of a version as one dataset, through fsspec.

    python examples/reading/read_pyarrow.py [examples/tables]

pyarrow takes the filesystem object and paths without the ``gd://`` prefix.
"""

from __future__ import annotations

import sys

import fsspec
import pyarrow.dataset as pads


def main(base: str) -> None:
    fs = fsspec.filesystem("gd")
    dataset = pads.dataset(f"{base}/parquet", filesystem=fs, format="parquet")
    table = dataset.to_table(filter=pads.field("label") == "cat")
    print(f"{len(dataset.files)} parquet files, {dataset.count_rows()} rows")
    print(f"cats: {table.num_rows} rows")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/tables")
