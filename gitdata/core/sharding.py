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
    # Boundaries by cumulative weight; each file goes to the part its midpoint falls in.
    out: list[T] = []
    running = 0
    for e in ordered:
        w = max(size_of(e), 1)
        mid = running + w / 2
        running += w
        if min(int(mid * num_parts / total), num_parts - 1) == part:
            out.append(e)
    if len(ordered) >= num_parts and not out:
        # Weights so skewed that a part came out empty: fall back to even counts.
        n = len(ordered)
        out = list(ordered[part * n // num_parts : (part + 1) * n // num_parts])
    return out
