"""Training code that only reads a dataset: the one line ClearML users already write.

Run inside the quickstart repository (or anywhere, with an id):

    python examples/train.py --project quickstart --name flowers
    python examples/train.py --id 0123...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gitdata import Dataset  # was: from clearml import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--id")
    parser.add_argument("--project", default="quickstart")
    parser.add_argument("--name", default="flowers")
    args = parser.parse_args()

    if args.id:
        ds = Dataset.get(dataset_id=args.id)
    else:
        ds = Dataset.get(dataset_project=args.project, dataset_name=args.name)
    root = Path(ds.get_local_copy())

    # A stand-in for a training loop: read every label.
    labels = sorted((p.name, p.read_text().strip()) for p in root.glob("labels/*.txt"))
    print(f"{ds.project}/{ds.name} {ds.version}: {len(labels)} labels from {root}")
    for name, label in labels:
        print(f"  {name}: {label}")


if __name__ == "__main__":
    main()
