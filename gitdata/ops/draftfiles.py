"""A draft's files: its own changes laid over the merged files of its parents.

A child of a version with a million files usually changes a few of them.  Its draft
keeps only those changes (``changed``: path -> :class:`DraftFile`, ``removed``: the
parents' paths it deleted) and reads everything else from the parents' merged view,
which for a single paged parent is that parent's manifest, read page by page.  So
opening, editing, saving and closing such a draft costs its changes, not the
dataset's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import TypeVar

from gitdata.core.manifest import METHOD_STORED, FileEntry, Manifest, link_entry

T = TypeVar("T")


@dataclass(slots=True)
class DraftFile:
    """One file of a draft: its content hash, where to read it, where it is stored."""

    size: int
    sha256: str
    source: str | None = None  # absolute local path, for content not yet uploaded
    mtime_ns: int | None = None
    chunk: str | None = None
    offset: int | None = None
    length: int | None = None
    method: str = METHOD_STORED
    url: str | None = None  # an external file: its content stays at this URL
    etag: str | None = None
    executable: bool = False  # the owner's execute bit when it was added

    @property
    def stored(self) -> bool:
        """True once the content sits in a chunk of the store (or is a link: never uploaded)."""
        return self.chunk is not None or self.url is not None

    def to_entry(self, path: str) -> FileEntry:
        """The manifest entry (only valid once stored)."""
        if self.url is not None:
            return link_entry(path, self.size, self.sha256, self.url, self.etag)
        assert self.chunk is not None and self.offset is not None and self.length is not None
        return FileEntry(
            path,
            self.size,
            self.sha256,
            self.chunk,
            self.offset,
            self.length,
            self.method,
            executable=self.executable,
        )

    def same_as(self, entry: FileEntry | None) -> bool:
        """Whether this file is stored exactly as ``entry`` (so it is no change)."""
        return entry is not None and self.stored and self.to_entry(entry.path) == entry

    @classmethod
    def from_entry(cls, entry: FileEntry) -> DraftFile:
        """A draft file inherited from a stored version."""
        if entry.is_link:
            return cls(entry.size, entry.sha256, url=entry.url, etag=entry.etag)
        return cls(
            entry.size,
            entry.sha256,
            None,
            None,
            entry.chunk,
            entry.offset,
            entry.length,
            entry.method,
            entry.url,
            entry.etag,
            entry.executable,
        )


class DraftFiles(MutableMapping[str, DraftFile]):
    """path -> :class:`DraftFile` of a draft: ``changed`` and ``removed`` over a base.

    The base (the parents' merged files, as a :class:`Manifest`) is loaded on first
    use.  A file read from the base is a fresh :class:`DraftFile` each time: to change
    one, assign it back (``files[path] = f``).  Iteration yields the base's paths (in
    its order) and then the paths only ``changed`` holds.
    """

    __slots__ = ("_load_base", "_base", "_changed", "_removed", "_len")

    def __init__(
        self,
        load_base: Callable[[], Manifest] | Manifest | None = None,
        changed: dict[str, DraftFile] | None = None,
        removed: Iterable[str] = (),
    ) -> None:
        if isinstance(load_base, Manifest):
            self._base: Manifest | None = load_base
            self._load_base: Callable[[], Manifest] | None = None
        else:
            self._base = None if load_base is not None else Manifest()
            self._load_base = load_base
        self._changed: dict[str, DraftFile] = changed if changed is not None else {}
        self._removed: set[str] = set(removed)
        self._len: int | None = None

    @classmethod
    def of(cls, files: dict[str, DraftFile]) -> DraftFiles:
        """Files with no base: every one is the draft's own (a squash, a first version)."""
        return cls(None, dict(files))

    # ------------------------------------------------------------------ parts
    @property
    def base(self) -> Manifest:
        """The parents' merged files (loaded on first use)."""
        if self._base is None:
            assert self._load_base is not None
            self._base = self._load_base()
            self._load_base = None
        return self._base

    @property
    def changed(self) -> dict[str, DraftFile]:
        """The draft's own files: added, replaced, or not yet uploaded.  Read only:
        change the draft through the mapping."""
        return self._changed

    @property
    def removed(self) -> frozenset[str]:
        """The base's paths the draft deleted."""
        return frozenset(self._removed)

    def pending(self) -> Iterator[tuple[str, DraftFile]]:
        """The files whose content is not in the store yet (only changes can be)."""
        return ((p, f) for p, f in self._changed.items() if not f.stored)

    def items_under(self, folder: str) -> Iterator[tuple[str, DraftFile | FileEntry]]:
        """The draft's files in ``folder`` ("" for all) and below, in the order of
        their paths' UTF-8 bytes (the order of a base's entries): the draft's own as
        :class:`DraftFile`, those of the base as their :class:`FileEntry` (read only)."""
        prefix = f"{folder}/" if folder else ""

        def inside(p: str) -> bool:
            return p == folder or p.startswith(prefix) if folder else True

        base = self.base
        changed = self._changed
        extra = sorted((p for p in changed if inside(p) and p not in base), key=str.encode)
        k = 0
        for e in base:
            p = e.path
            if not inside(p):
                if folder and p > prefix:
                    break  # sorted: nothing further is inside
                continue
            while k < len(extra) and extra[k] < p:  # (str order: the bytes' order)
                yield extra[k], changed[extra[k]]
                k += 1
            mine = changed.get(p)
            if mine is not None:
                yield p, mine
            elif p not in self._removed:
                yield p, e
        for p in extra[k:]:
            yield p, changed[p]

    # ------------------------------------------------------------------ mapping
    def __getitem__(self, path: str) -> DraftFile:
        f = self._changed.get(path)
        if f is not None:
            return f
        if path in self._removed:
            raise KeyError(path)
        e = self.base.get(path)
        if e is None:
            raise KeyError(path)
        return DraftFile.from_entry(e)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if path in self._changed:
            return True
        return path not in self._removed and path in self.base

    def __setitem__(self, path: str, f: DraftFile) -> None:
        self._changed[path] = f
        self._removed.discard(path)
        self._len = None

    def remove(self, path: str, *, in_base: bool | None = None) -> None:
        """``del files[path]``; ``in_base`` True when the caller knows ``path`` is a
        base file (met while iterating the base): no lookup then."""
        if in_base is None:
            del self[path]
            return
        self._changed.pop(path, None)
        self._removed.add(path)
        self._len = None

    def __delitem__(self, path: str) -> None:
        if path in self._changed:
            del self._changed[path]
            if path in self.base:
                self._removed.add(path)
        elif path not in self._removed and path in self.base:
            self._removed.add(path)
        else:
            raise KeyError(path)
        self._len = None

    def __len__(self) -> int:
        if self._len is None:
            base = self.base
            in_order = sorted(self._changed, key=str.encode)  # lookups in page order
            extra = sum(1 for p in in_order if p not in base)
            self._len = len(base) - len(self._removed) + extra
        return self._len

    def __iter__(self) -> Iterator[str]:
        return self._walk(lambda p, _: p, _path_of)

    def items(self):
        """(path, file) pairs; base files are built as they are reached."""
        return self._walk(lambda p, f: (p, f), lambda e: (e.path, DraftFile.from_entry(e)))

    def values(self):
        return self._walk(lambda _, f: f, DraftFile.from_entry)

    def entries(self) -> Iterator[FileEntry]:
        """Every file as a manifest entry (only valid once all are stored); base
        entries are passed through as they are."""
        return self._walk(lambda p, f: f.to_entry(p), lambda e: e)

    def _walk(
        self, own: Callable[[str, DraftFile], T], inherited: Callable[[FileEntry], T]
    ) -> Iterator[T]:
        """``own(path, file)`` for each of the draft's files and ``inherited(entry)``
        for each base file it keeps: the base's order, then the draft's new paths."""
        changed, removed = self._changed, self._removed
        seen: set[str] = set()
        for e in self.base:
            p = e.path
            f = changed.get(p)
            if f is not None:
                seen.add(p)
                yield own(p, f)
            elif p not in removed:
                yield inherited(e)
        for p, f in changed.items():
            if p not in seen:
                yield own(p, f)


def _path_of(e: FileEntry) -> str:
    return e.path
