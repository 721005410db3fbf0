"""Make the small version the reading examples read: project ``examples``, dataset
``tables``, four CSV parts, four Parquet parts and a JSON Lines file of the same rows.

    python examples/reading/make_sample.py          # prints the new version's id

It writes into the configured store (``GD_STORAGE``, or the embedded default).
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from gitdata import Dataset

PARTS = 4
ROWS_PER_PART = 250


def rows(part: int) -> list[dict[str, object]]:
    """Deterministic rows: an id, a label and a score."""
    base = part * ROWS_PER_PART
    return [
        {"id": base + i, "label": ("cat", "dog", "bird")[(base + i) % 3], "score": (base + i) % 97}
        for i in range(ROWS_PER_PART)
    ]


def write_tree(root: Path) -> None:
    (root / "csv").mkdir(parents=True)
    (root / "jsonl").mkdir()
    for part in range(PARTS):
        with open(root / "csv" / f"part-{part}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["id", "label", "score"])
            writer.writeheader()
            writer.writerows(rows(part))
    with open(root / "jsonl" / "all.jsonl", "w") as fh:
        for part in range(PARTS):
            for row in rows(part):
                fh.write(json.dumps(row) + "\n")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # the Parquet parts need pyarrow; the CSV ones do not
        return
    (root / "parquet").mkdir()
    for part in range(PARTS):
        pq.write_table(pa.Table.from_pylist(rows(part)), root / "parquet" / f"part-{part}.parquet")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_tree(Path(tmp))
        ds = Dataset.create(dataset_project="examples", dataset_name="tables")
        ds.add_files(tmp)
        ds.upload()
        ds.finalize()
    print(ds.id)


if __name__ == "__main__":
    main()
