"""The change-set summary of two file maps: what a person wants to see of a diff.

Pure logic, plain data in and out (the CLI's ``gd show`` / ``gd compare`` and a web
UI render the same :class:`ChangeSummary`).  Built in one pass over each file map:

- files are *added*, *modified* (same path, other sha256 or executable bit) or *removed*;
- a removed and an added path with the same sha256 pair up as a *rename* (paired by
  grouping on sha256, in path order: never a comparison of every pair);
- totals by top-level folder (``"images/"``; ``""`` for files at the top) and by file
  type (the lower-cased extension, ``".jpg"``; ``""`` for none);
- the largest changes (the larger of the old and new size), top N.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitdata.core.lineage import ChangeSet
from gitdata.core.paths import match_pattern

ADDED = "added"
MODIFIED = "modified"
REMOVED = "removed"
RENAMED = "renamed"
KINDS = (ADDED, MODIFIED, REMOVED, RENAMED)


class HasSizeSha(Protocol):
    """What the summary reads of a file entry (FileEntry, a draft's file, ...)."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    @property
    def executable(self) -> bool: ...


@dataclass(slots=True)
class FileChange:
    """One changed file.  ``old_path`` is set for renames only; ``old_size`` is 0 for
    an added file and ``size`` 0 for a removed one.  (Not frozen: a summary of a
    million files builds a million of these, and a frozen init costs four times more.)"""

    kind: str
    path: str
    size: int
    old_size: int = 0
    old_path: str | None = None

    @property
    def delta(self) -> int:
        """How many bytes the version grew by through this change (negative: shrank)."""
        return self.size - self.old_size

    @property
    def weight(self) -> int:
        """How large the change is: the larger of the old and new size."""
        return max(self.size, self.old_size)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (``from`` only for renames)."""
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        if self.old_path is not None:
            out["from"] = self.old_path
        out.update(size=self.size, old_size=self.old_size, delta=self.delta)
        return out


@dataclass
class Tally:
    """Files and bytes per kind of change, for one group (or for everything).

    Bytes are the new size for added, modified and renamed files and the old size
    for removed ones; ``delta`` is the net growth of the version's total bytes."""

    key: str = ""
    added: int = 0
    modified: int = 0
    removed: int = 0
    renamed: int = 0
    added_bytes: int = 0
    modified_bytes: int = 0
    removed_bytes: int = 0
    renamed_bytes: int = 0
    delta: int = 0

    @property
    def files(self) -> int:
        """Changed files of every kind."""
        return self.added + self.modified + self.removed + self.renamed

    def count(self, change: FileChange) -> None:
        """Add one change to the tally."""
        if change.kind == ADDED:
            self.added += 1
            self.added_bytes += change.size
        elif change.kind == MODIFIED:
            self.modified += 1
            self.modified_bytes += change.size
        elif change.kind == REMOVED:
            self.removed += 1
            self.removed_bytes += change.old_size
        else:
            self.renamed += 1
            self.renamed_bytes += change.size
        self.delta += change.size - change.old_size

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "key": self.key,
            "files": self.files,
            "added": self.added,
            "modified": self.modified,
            "removed": self.removed,
            "renamed": self.renamed,
            "added_bytes": self.added_bytes,
            "modified_bytes": self.modified_bytes,
            "removed_bytes": self.removed_bytes,
            "renamed_bytes": self.renamed_bytes,
            "delta": self.delta,
        }


def top_folder(path: str) -> str:
    """``"images/cats/a.jpg"`` -> ``"images/"``; a file at the top -> ``""``."""
    head, sep, _ = path.partition("/")
    return head + "/" if sep else ""


def file_type(path: str) -> str:
    """The lower-cased extension of the file name (``".jpg"``); ``""`` for none.

    A name that only starts with a dot (``.gitignore``) has no extension."""
    name = path.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return "." + ext.lower() if dot and stem and ext else ""


@dataclass
class ChangeSummary:
    """Every change between two file maps, its totals, and its totals by group.

    Each list is sorted by path (renames by their new path)."""

    added: list[FileChange] = field(default_factory=list)
    modified: list[FileChange] = field(default_factory=list)
    removed: list[FileChange] = field(default_factory=list)
    renamed: list[FileChange] = field(default_factory=list)
    totals: Tally = field(default_factory=Tally)
    by_folder: list[Tally] = field(default_factory=list)
    by_type: list[Tally] = field(default_factory=list)

    @classmethod
    def from_changes(cls, changes: Iterable[FileChange]) -> ChangeSummary:
        """Group and total ``changes`` (one pass)."""
        out = cls()
        lists = {ADDED: out.added, MODIFIED: out.modified, REMOVED: out.removed}
        folders: dict[str, Tally] = {}
        types: dict[str, Tally] = {}
        for change in changes:
            lists.get(change.kind, out.renamed).append(change)
            out.totals.count(change)
            for groups, key in (
                (folders, top_folder(change.path)),
                (types, file_type(change.path)),
            ):
                tally = groups.get(key)
                if tally is None:
                    tally = groups[key] = Tally(key)
                tally.count(change)
        for kind_list in (out.added, out.modified, out.removed, out.renamed):
            kind_list.sort(key=lambda c: c.path.encode())
        out.by_folder = sorted(folders.values(), key=_group_order)
        out.by_type = sorted(types.values(), key=_group_order)
        return out

    def changes(self) -> list[FileChange]:
        """Every change: added, modified, removed, renamed (each in path order)."""
        return self.added + self.modified + self.removed + self.renamed

    def is_empty(self) -> bool:
        """True when nothing changed."""
        return self.totals.files == 0

    def largest(self, limit: int) -> list[FileChange]:
        """The ``limit`` largest changes (by :attr:`FileChange.weight`, then path)."""
        return largest(self.changes(), limit)

    def largest_of(self, kind: str, limit: int) -> list[FileChange]:
        """The ``limit`` largest changes of one kind (``"added"``, ``"renamed"``, ...)."""
        of_kind = {ADDED: self.added, MODIFIED: self.modified, REMOVED: self.removed}
        return largest(of_kind.get(kind, self.renamed if kind == RENAMED else []), limit)

    def filtered(self, keep: Callable[[str], bool]) -> ChangeSummary:
        """Only the changes whose path (or, for a rename, either path) ``keep`` accepts."""
        return ChangeSummary.from_changes(
            c
            for c in self.changes()
            if keep(c.path) or (c.old_path is not None and keep(c.old_path))
        )

    def matching(self, *patterns: str) -> ChangeSummary:
        """Only the changes under a path or matching a wildcard (as ``gd list --filter``);
        with several patterns, those matching any of them."""
        return self.filtered(lambda path: any(match_pattern(path, p) for p in patterns))

    def change_set(self) -> ChangeSet:
        """The plain change set (a rename is a removed and an added path again)."""
        return ChangeSet(
            added=sorted([c.path for c in self.added] + [c.path for c in self.renamed]),
            modified=[c.path for c in self.modified],
            removed=sorted(
                [c.path for c in self.removed] + [c.old_path or "" for c in self.renamed]
            ),
        )

    def paths(self) -> dict[str, Any]:
        """The changed paths by kind, a rename only under ``renamed`` (as
        ``{"from", "to"}``, in new-path order), not also as a removed and an added path."""
        return {
            ADDED: [c.path for c in self.added],
            MODIFIED: [c.path for c in self.modified],
            REMOVED: [c.path for c in self.removed],
            RENAMED: [{"from": c.old_path, "to": c.path} for c in self.renamed],
        }

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        """Plain JSON-able form: totals, groups and the ``limit`` largest changes
        (every change when ``limit`` is None)."""
        changes = self.changes()
        shown = largest(changes, limit) if limit is not None else changes
        return {
            "totals": self.totals.to_dict(),
            "by_folder": [t.to_dict() for t in self.by_folder],
            "by_type": [t.to_dict() for t in self.by_type],
            "largest": [c.to_dict() for c in shown],
        }


def _group_order(tally: Tally) -> tuple[int, int, bytes]:
    """The groups with the most changed bytes first, then the most files, then by name."""
    changed = tally.added_bytes + tally.modified_bytes + tally.removed_bytes
    return (-changed, -tally.files, tally.key.encode())


def largest(changes: Iterable[FileChange], limit: int) -> list[FileChange]:
    """The ``limit`` largest of ``changes`` by weight (ties: path order), largest first."""
    return heapq.nsmallest(max(limit, 0), changes, key=lambda c: (-c.weight, c.path.encode()))


def summarize(
    old: Mapping[str, HasSizeSha], new: Mapping[str, HasSizeSha], *, renames: bool = True
) -> ChangeSummary:
    """The summary of going from file map ``old`` to ``new`` (path -> entry).

    With ``renames``, a removed path and an added path holding the same sha256 are
    one rename; several removed and added paths with one sha256 pair up in path
    order, the rest stay removed / added.  Linear in the number of files."""
    changes: list[FileChange] = []
    added: list[str] = []
    for path, entry in new.items():
        before = old.get(path)
        if before is None:
            added.append(path)
        elif before.sha256 != entry.sha256 or before.executable != entry.executable:
            changes.append(FileChange(MODIFIED, path, entry.size, before.size))
    removed = [path for path in old if path not in new]
    gone_by_sha: dict[str, list[str]] = {}
    if renames and added and removed:
        for path in sorted(removed, key=str.encode, reverse=True):
            gone_by_sha.setdefault(old[path].sha256, []).append(path)
    for path in sorted(added, key=str.encode):
        entry = new[path]
        sources = gone_by_sha.get(entry.sha256)
        if sources:
            source = sources.pop()  # the smallest remaining path of that content
            changes.append(FileChange(RENAMED, path, entry.size, old[source].size, source))
        else:
            changes.append(FileChange(ADDED, path, entry.size))
    renamed_from = {c.old_path for c in changes if c.kind == RENAMED}
    for path in removed:
        if path not in renamed_from:
            changes.append(FileChange(REMOVED, path, 0, old[path].size))
    return ChangeSummary.from_changes(changes)


def holdings(files: Iterable[tuple[str, int]]) -> tuple[list[Tally], list[Tally]]:
    """What a version holds, by top-level folder and by file type: each (path, size)
    counted as an added file of that size.  One pass, no object per file (a million
    files in about a second), largest groups first."""
    folders: dict[str, list[int]] = {}
    types: dict[str, list[int]] = {}
    for path, size in files:
        for groups, key in ((folders, top_folder(path)), (types, file_type(path))):
            group = groups.get(key)
            if group is None:
                groups[key] = [1, size]
            else:
                group[0] += 1
                group[1] += size

    def tallies(groups: dict[str, list[int]]) -> list[Tally]:
        out = [Tally(key, added=n, added_bytes=b, delta=b) for key, (n, b) in groups.items()]
        return sorted(out, key=_group_order)

    return tallies(folders), tallies(types)
