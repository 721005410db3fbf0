"""Hugging Face ``datasets`` loads a version's CSV parts from ``gd://`` URLs.

python examples/reading/read_hf_datasets.py [gd://examples/tables]
"""

from __future__ import annotations

import sys
import tempfile

from datasets import load_dataset


def main(base: str) -> None:
    with tempfile.TemporaryDirectory() as cache:  # keep the example's Arrow cache apart
        splits = load_dataset("csv", data_files={"train": f"{base}/csv/*.csv"}, cache_dir=cache)
        train = splits["train"]
        print(f"train: {train.num_rows} rows, features {sorted(train.features)}")
        print(f"labels: {sorted(set(train['label']))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gd://examples/tables")
