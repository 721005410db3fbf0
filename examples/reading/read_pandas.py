"""pandas reads a version's files straight from ``gd://`` URLs: no copy, no checkout.

python examples/reading/read_pandas.py [gd://examples/tables]
"""

from __future__ import annotations

import sys

import pandas as pd


def main(base: str) -> None:
    one = pd.read_csv(f"{base}/csv/part-0.csv")
    table = pd.read_parquet(f"{base}/parquet/part-1.parquet")
    lines = pd.read_json(f"{base}/jsonl/all.jsonl", lines=True)
    print(f"csv part-0: {len(one)} rows, columns {list(one.columns)}")
    print(f"parquet part-1: {len(table)} rows, first id {table['id'].iloc[0]}")
    print(f"jsonl: {len(lines)} rows, {lines['label'].nunique()} labels")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gd://examples/tables")
