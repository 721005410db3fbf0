"""Change sets and the dependency graph (the parent merge itself is in core.merge)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class _HasSha(Protocol):
    @property
    def sha256(self) -> str: ...

    @property
    def executable(self) -> bool: ...


@dataclass
class ChangeSet:
    """Paths added, modified (same path, new content) and removed between two file maps."""

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Counts only, as stored in version stats."""
        return {
            "added": len(self.added),
            "modified": len(self.modified),
            "removed": len(self.removed),
        }

    def is_empty(self) -> bool:
        """True when nothing changed."""
        return not (self.added or self.modified or self.removed)

    def stored_counts(
        self, old: Mapping[str, _HasSha], new: Mapping[str, _HasSha]
    ) -> dict[str, int]:
        """Counts as a record stores them: a removed and an added path with one sha256
        are one rename (``renamed``, only when there are any), counted in neither
        ``added`` nor ``removed``; several of one sha256 pair up as far as they go."""
        renamed = rename_count(self, old, new)
        out = {
            "added": len(self.added) - renamed,
            "modified": len(self.modified),
            "removed": len(self.removed) - renamed,
        }
        if renamed:
            out["renamed"] = renamed
        return out


def rename_count(changes: ChangeSet, old: Mapping[str, _HasSha], new: Mapping[str, _HasSha]) -> int:
    """How many renames the change set holds: per sha256, the smaller of its removed
    and its added paths (the pairs core.summary.summarize reports)."""
    if not changes.added or not changes.removed:
        return 0
    gone: dict[str, int] = {}
    for path in changes.removed:
        sha = old[path].sha256
        gone[sha] = gone.get(sha, 0) + 1
    paired = 0
    for path in changes.added:
        sha = new[path].sha256
        if gone.get(sha, 0) > 0:
            gone[sha] -= 1
            paired += 1
    return paired


def diff(old: Mapping[str, _HasSha], new: Mapping[str, _HasSha]) -> ChangeSet:
    """Compare two file maps by content hash and executable bit; lists are sorted."""
    added = sorted(p for p in new if p not in old)
    removed = sorted(p for p in old if p not in new)
    modified = sorted(
        p
        for p, e in new.items()
        if p in old and (old[p].sha256, old[p].executable) != (e.sha256, e.executable)
    )
    return ChangeSet(added, modified, removed)


def ancestors(start: Iterable[str], parents_of: Callable[[str], list[str]]) -> list[str]:
    """Every ancestor reachable from ``start`` (ids), breadth first, each once.

    ``parents_of`` returns [] for an id it cannot resolve, so a partially
    deleted lineage is walked as far as it exists.
    """
    seen: dict[str, None] = {}
    frontier = list(start)
    while frontier:
        nxt: list[str] = []
        for vid in frontier:
            if vid in seen:
                continue
            seen[vid] = None
            nxt.extend(parents_of(vid))
        frontier = nxt
    return list(seen)
