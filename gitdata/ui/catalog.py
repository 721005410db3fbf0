"""What the pages show, read through the library's API only (no second store reader).

A :class:`Catalog` is bound to one store (and, inside a repository, its git
history).  It keeps the last few versions it opened, so paging a listing of a
million files decodes the manifest once, not once per page.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from gitdata.api import Dataset
from gitdata.core.ids import is_version_id
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.summary import ChangeSummary, Tally, holdings
from gitdata.errors import InvalidInputError

T = TypeVar("T")
# seconds a version's record (with its metadata events) is shown before it is read again
METADATA_MAX_AGE = 5.0


def check_version_id(text: str) -> str:
    """``text`` if it looks like a version id (32 lowercase hex digits), else an error."""
    if not is_version_id(text):
        raise InvalidInputError(f"{text[:40]!r} is not a version id")
    return text


@dataclass
class DatasetRow:
    """One dataset (project/name) and its versions, newest last."""

    project: str
    name: str
    versions: list[dict[str, Any]]

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def tags(self) -> list[str]:
        seen: dict[str, None] = {}
        for v in self.versions:
            for t in v["tags"]:
                seen.setdefault(t, None)
        return list(seen)


@dataclass
class FilePage:
    """One page of a version's file listing."""

    entries: list[FileEntry]
    total: int  # files matching the filter
    page: int
    pages: int
    per_page: int
    query: str = ""


@dataclass
class Comparison:
    """Two versions and what changed from ``source`` to ``target``."""

    source: Dataset
    target: Dataset
    summary: ChangeSummary


class _Recent(Generic[T]):
    """The last ``size`` values made, by key; safe to share between server threads
    (two threads may both make a missing value: the later one is kept)."""

    def __init__(self, size: int, max_age: float | None = None) -> None:
        self._size = size
        self._max_age = max_age
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and (self._max_age is None or now - hit[0] <= self._max_age):
                self._items.move_to_end(key)
                return hit[1]
        value = make()
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def _matches(row: dict[str, Any], needle: str) -> bool:
    hay = " ".join([row["project"], row["name"], row["description"], *row["tags"]]).lower()
    return needle in hay


class Catalog:
    """The store (and the repository's pointer history) as the web UI reads it."""

    def __init__(self, storage: str | None = None, keep: int = 4) -> None:
        self.storage = storage
        # records only (small); re-read after a few seconds, since a version's name,
        # description and published mark can change (metadata events, format.md §13)
        self._datasets: _Recent[Dataset] = _Recent(256, max_age=METADATA_MAX_AGE)
        self._manifests: _Recent[Manifest] = _Recent(keep)  # up to a million entries each
        self._contents: _Recent[tuple[list[Tally], list[Tally]]] = _Recent(keep)
        self._summaries: _Recent[ChangeSummary] = _Recent(keep)
        self._comparisons: _Recent[ChangeSummary] = _Recent(keep)

    # ------------------------------------------------------------ datasets
    def datasets(self, query: str = "") -> list[DatasetRow]:
        """Every dataset with a closed version, grouped by project/name, sorted; with
        ``query``, those whose project, name, tags or description contain it (any case)."""
        rows = Dataset.list_datasets(storage=self.storage)
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault((row["project"], row["name"]), []).append(row)
        needle = query.strip().lower()
        out = []
        for (project, name), versions in sorted(grouped.items()):
            versions.sort(key=lambda r: r["created"])
            if needle and not any(_matches(v, needle) for v in versions):
                continue
            out.append(DatasetRow(project, name, versions))
        return out

    def versions_of(self, project: str, name: str) -> list[dict[str, Any]]:
        """The closed versions of one dataset, oldest first, with their records' stats."""
        rows = [
            r
            for r in Dataset.list_datasets(storage=self.storage)
            if (r["project"], r["name"]) == (project, name)
        ]
        rows.sort(key=lambda r: r["created"])
        for row in rows:
            record = self.version(row["id"]).record
            row["stats"] = dict(record.stats) if record else {}
        return rows

    # ------------------------------------------------------------ one version
    def version(self, version_id: str) -> Dataset:
        """The closed version ``version_id`` (DatasetNotFoundError when there is none);
        its record only: the manifest is read by :meth:`manifest`."""
        check_version_id(version_id)
        return self._datasets.get(
            version_id, lambda: Dataset.get(dataset_id=version_id, storage=self.storage)
        )

    def manifest(self, version_id: str) -> Manifest:
        """Its manifest, decoded once while it stays among the last few opened."""
        return self._manifests.get(version_id, lambda: self.version(version_id).get_manifest())

    def content(self, version_id: str) -> tuple[list[Tally], list[Tally]]:
        """What the version holds, tallied by top-level folder and by file type."""
        return self._contents.get(
            version_id,
            lambda: holdings((e.path, e.size) for e in self.manifest(version_id)),
        )

    def change_summary(self, version_id: str) -> ChangeSummary:
        """The version's changes against its merged parents (the library's summary)."""
        return self._summaries.get(version_id, lambda: self.version(version_id).change_summary())

    def files(
        self, version_id: str, page: int = 1, per_page: int = 100, query: str = ""
    ) -> FilePage:
        """One page of the version's files in path order; ``query`` is a substring of the
        path, or a glob when it holds ``*``, ``?`` or ``[``."""
        manifest = self.manifest(version_id)
        per_page = max(1, min(per_page, 1000))
        filtered: list[FileEntry] | None = None
        if query:
            if any(c in query for c in "*?["):
                filtered = [e for e in manifest if fnmatch.fnmatchcase(e.path, query)]
            else:
                filtered = [e for e in manifest if query in e.path]
        total = len(manifest) if filtered is None else len(filtered)
        pages = max(1, -(-total // per_page))
        page = max(1, min(page, pages))
        start = (page - 1) * per_page
        # unfiltered, only the page's rows are read, as the manifest streams (its pages)
        rows = list(islice(manifest if filtered is None else filtered, start, start + per_page))
        return FilePage(rows, total, page, pages, per_page, query)

    def lineage(self, version_id: str) -> dict[str, list[str]]:
        """id -> parent ids of the version and every ancestor still in the store."""
        return self.version(version_id).get_dependency_graph()

    def compare(self, source_id: str, target_id: str) -> Comparison:
        """What changed from ``source_id`` to ``target_id`` (renames paired by content)."""
        source, target = self.version(source_id), self.version(target_id)

        def compute() -> ChangeSummary:
            # versions that share manifest pages are compared on their differences only
            return target.compare_summary(source)

        return Comparison(
            source, target, self._comparisons.get(f"{source_id}..{target_id}", compute)
        )
