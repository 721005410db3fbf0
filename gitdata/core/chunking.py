"""Planning which new files go into which chunk.

Files are grouped by folder (so a chunk tends to hold one folder, which is
what partial gets and ranged reads want), ordered by path, de-duplicated by
content, and cut into chunks of about ``target_bytes``.  A file larger than
the target gets a chunk of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitdata.core.paths import parent_folder

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A file whose content is not yet in any chunk."""

    path: str
    sha256: str
    size: int


def plan_chunks(
    files: Iterable[PendingFile], target_bytes: int = DEFAULT_CHUNK_BYTES
) -> list[list[PendingFile]]:
    """Split ``files`` into chunk groups; each content hash appears in exactly one group."""
    if target_bytes <= 0:
        raise ValueError("chunk size must be positive")
    ordered = sorted(files, key=lambda f: (parent_folder(f.path).encode(), f.path.encode()))
    seen: set[str] = set()
    groups: list[list[PendingFile]] = []
    current: list[PendingFile] = []
    current_bytes = 0
    for f in ordered:
        if f.sha256 in seen:
            continue
        seen.add(f.sha256)
        if f.size >= target_bytes:
            groups.append([f])
            continue
        if current and current_bytes + f.size > target_bytes:
            groups.append(current)
            current, current_bytes = [], 0
        current.append(f)
        current_bytes += f.size
    if current:
        groups.append(current)
    return groups
