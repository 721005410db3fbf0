"""Choosing what to evict: least recently used first, until the cache fits its budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlobInfo:
    """What a directory scan tells about one blob."""

    size: int
    mtime: float
    inode: int


def eviction_order(blobs: dict[str, BlobInfo], last_used: dict[str, float]) -> list[str]:
    """Blob hashes, least recently used first.

    A blob's last use is its latest recorded use, or the time it was written
    if that is later (a blob never used yet is as fresh as its write).  Ties
    break by hash so the order is deterministic.
    """
    return sorted(blobs, key=lambda sha: (max(last_used.get(sha, 0.0), blobs[sha].mtime), sha))


def plan_eviction(blobs: dict[str, BlobInfo], last_used: dict[str, float], limit: int) -> list[str]:
    """The least recently used blobs whose removal brings the total size to ``limit`` or below."""
    remaining = sum(info.size for info in blobs.values())
    doomed: list[str] = []
    for sha in eviction_order(blobs, last_used):
        if remaining <= limit:
            break
        doomed.append(sha)
        remaining -= blobs[sha].size
    return doomed
