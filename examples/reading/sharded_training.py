"""Sharded reading for ``torchrun``-style training: each process takes its own part of
a version with ``get_local_copy(part=rank, num_parts=world_size)``.

    torchrun --nproc-per-node 2 examples/reading/sharded_training.py --project examples --name tables
    RANK=1 WORLD_SIZE=2 python examples/reading/sharded_training.py --id 0123...

The rank and world size come from ``--rank`` / ``--world-size`` or, when those are not
given, from the ``RANK`` and ``WORLD_SIZE`` variables torchrun sets (one process of
rank 0 without either).  torch itself is not needed to run this example.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gitdata import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--id")
    parser.add_argument("--project", default="examples")
    parser.add_argument("--name", default="tables")
    parser.add_argument("--rank", type=int, default=int(os.environ.get("RANK", "0")))
    parser.add_argument("--world-size", type=int, default=int(os.environ.get("WORLD_SIZE", "1")))
    args = parser.parse_args()
    if not 0 <= args.rank < args.world_size:
        parser.error(f"rank {args.rank} is not in 0..{args.world_size - 1}")

    if args.id:
        ds = Dataset.get(dataset_id=args.id)
    else:
        ds = Dataset.get(dataset_project=args.project, dataset_name=args.name)
    root = Path(ds.get_local_copy(part=args.rank, num_parts=args.world_size))

    # A stand-in for a training loop over this rank's files only.
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith(".")]  # (not the copy's own marker)
    print(f"rank {args.rank}/{args.world_size}: {len(files)} files")
    for f in files:
        print(f"  {f}")


if __name__ == "__main__":
    main()
