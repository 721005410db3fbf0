"""Splitting a version into parts for ``get --part I --num-parts N``.

Files are ordered by (chunk, path) and cut into ``num_parts`` contiguous
ranges of about equal bytes, so a part touches few chunks and every part of
a version with at least ``num_parts`` files is non-empty.  The split is a
pure function of the manifest: every worker computes the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from gitdata.errors import InvalidInputError

T = TypeVar("T")


def select_part(
    entries: Sequence[T], part: int, num_parts: int, *, size_of, chunk_of, path_of
) -> list[T]:
    """Return the files of part ``part`` (0-based) out of ``num_parts``."""
    if num_parts < 1:
        raise InvalidInputError(f"--num-parts must be at least 1, got {num_parts}")
    if not 0 <= part < num_parts:
        raise InvalidInputError(f"--part must be between 0 and {num_parts - 1}, got {part}")
    ordered = sorted(entries, key=lambda e: (chunk_of(e), path_of(e).encode()))
    total = sum(max(size_of(e), 1) for e in ordered)
    # Each file goes to the part its weight midpoint falls in.
    assignment: list[int] = []
    running = 0
    for e in ordered:
        w = max(size_of(e), 1)
        assignment.append(min(int((running + w / 2) * num_parts / total), num_parts - 1))
        running += w
    n = len(ordered)
    if n >= num_parts and len(set(assignment)) < num_parts:
        # Weights so skewed that some part came out empty: split by count instead.
        # Decided from the whole manifest, so every worker picks the same split.
        assignment = [i * num_parts // n for i in range(n)]
    return [e for e, a in zip(ordered, assignment, strict=True) if a == part]
