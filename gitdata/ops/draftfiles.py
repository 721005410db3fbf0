"""A draft's files: its own changes laid over the merged files of its parents.

A child of a version with a million files usually changes a few of them.  Its draft
keeps only those changes (``changed``: path -> :class:`DraftFile`, ``removed``: the
parents' paths it deleted) and reads everything else from the parents' merged view,
which for a single paged parent is that parent's manifest, read page by page.  So
opening, editing, saving and closing such a draft costs its changes, not the
dataset's size.  The changes themselves live in memory (:class:`MemoryChanges`) or,
for a draft of the state folder, in its database (gitdata.ops.draftdb), so a first
version of a million files is not a million Python objects either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from gitdata.core.manifest import METHOD_STORED, FileEntry, Manifest, link_entry

T = TypeVar("T")


def entry_of(
    path: str,
    size: int,
    sha256: str,
    chunk: str | None,
    offset: int | None,
    length: int | None,
    method: str,
    url: str | None,
    etag: str | None,
    executable: bool,
) -> FileEntry:
    """The manifest entry of a draft's file from its fields (only valid once stored)."""
    if url is not None:
        return link_entry(path, size, sha256, url, etag)
    assert chunk is not None and offset is not None and length is not None, path
    return FileEntry(path, size, sha256, chunk, offset, length, method, executable=executable)


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
        return entry_of(
            path,
            self.size,
            self.sha256,
            self.chunk,
            self.offset,
            self.length,
            self.method,
            self.url,
            self.etag,
            self.executable,
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


class Changes(Protocol):
    """A draft's own files, path -> :class:`DraftFile`: :class:`MemoryChanges` or
    gitdata.ops.draftdb.DbChanges.  A file read from one may be a copy: to change it,
    assign it back."""

    def get(self, path: str, default: Any = None) -> Any: ...
    def __getitem__(self, path: str) -> DraftFile: ...
    def __setitem__(self, path: str, f: DraftFile) -> None: ...
    def __contains__(self, path: object) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def pop(self, path: str, default: Any = None) -> Any: ...
    def keys(self) -> Iterable[str]: ...
    def values(self) -> Iterable[DraftFile]: ...
    def items(self) -> Iterable[tuple[str, DraftFile]]: ...
    def items_in(self, folder: str) -> Iterator[tuple[str, DraftFile]]: ...
    def pending(self) -> Iterator[tuple[str, DraftFile]]: ...
    def first_pending(self) -> str | None: ...
    def count_pending(self) -> int: ...
    def stored_with(self, shas: Iterable[str]) -> dict[str, DraftFile]: ...
    def own_chunks(self) -> set[str]: ...
    def any_stored(self) -> bool: ...
    def get_many(self, paths: list[str]) -> dict[str, DraftFile]: ...
    def entries(self) -> Iterator[FileEntry]: ...


def _inside(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


class MemoryChanges(dict[str, DraftFile]):
    """:class:`Changes` in a dict (drafts built in memory: a squash, tests)."""

    def items_in(self, folder: str) -> Iterator[tuple[str, DraftFile]]:
        """The files in ``folder`` ("" for all) and below, in path order (a snapshot
        of the paths: the caller may edit while it iterates)."""
        paths = sorted((p for p in self if _inside(p, folder)), key=str.encode)
        return ((p, self[p]) for p in paths if p in self)

    def pending(self) -> Iterator[tuple[str, DraftFile]]:
        return ((p, f) for p, f in self.items_in("") if not f.stored)

    def first_pending(self) -> str | None:
        return next((p for p, _ in self.pending()), None)

    def count_pending(self) -> int:
        return sum(1 for f in self.values() if not f.stored)

    def stored_with(self, shas: Iterable[str]) -> dict[str, DraftFile]:
        wanted = set(shas)
        out: dict[str, DraftFile] = {}
        for f in self.values():
            if f.chunk is not None and f.sha256 in wanted:
                out.setdefault(f.sha256, f)
        return out

    def own_chunks(self) -> set[str]:
        return {f.chunk for f in self.values() if f.chunk is not None and f.source is not None}

    def any_stored(self) -> bool:
        return any(f.chunk is not None for f in self.values())

    def get_many(self, paths: list[str]) -> dict[str, DraftFile]:
        return {p: f for p in paths if (f := self.get(p)) is not None}

    def entries(self) -> Iterator[FileEntry]:
        return (f.to_entry(p) for p, f in self.items_in(""))


class DraftFiles(MutableMapping[str, DraftFile]):
    """path -> :class:`DraftFile` of a draft: ``changed`` and ``removed`` over a base.

    The base (the parents' merged files, as a :class:`Manifest`) is loaded on first
    use.  A file read from the base (or from changes kept in a database) is a fresh
    :class:`DraftFile` each time: to change one, assign it back (``files[path] = f``).
    Iteration is in the order of the paths' UTF-8 bytes (manifest order).
    """

    __slots__ = ("_load_base", "_base", "_changed", "_removed", "_removed_dirty", "_len")

    def __init__(
        self,
        load_base: Callable[[], Manifest] | Manifest | None = None,
        changed: Changes | dict[str, DraftFile] | None = None,
        removed: Iterable[str] = (),
    ) -> None:
        if isinstance(load_base, Manifest):
            self._base: Manifest | None = load_base
            self._load_base: Callable[[], Manifest] | None = None
        else:
            self._base = None if load_base is not None else Manifest()
            self._load_base = load_base
        if changed is None:
            changed = MemoryChanges()
        elif type(changed) is dict:
            changed = MemoryChanges(changed)
        self._changed: Changes = changed  # type: ignore[assignment]
        self._removed: set[str] = set(removed)
        self._removed_dirty = False
        self._len: int | None = None

    @classmethod
    def of(cls, files: dict[str, DraftFile]) -> DraftFiles:
        """Files with no base: every one is the draft's own (a squash, a first version)."""
        return cls(None, MemoryChanges(files))

    def rebind(self, changed: Changes) -> None:
        """Keep the draft's own files in ``changed`` from now on (which holds them)."""
        self._changed = changed
        self._removed_dirty = False

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
    def has_base(self) -> bool:
        """Whether the draft has parents' files under its own (False: a first version)."""
        return self._load_base is not None or (self._base is not None and len(self._base) > 0)

    @property
    def changed(self) -> Changes:
        """The draft's own files: added, replaced, or not yet uploaded.  Read only:
        change the draft through the mapping."""
        return self._changed

    @property
    def removed(self) -> frozenset[str]:
        """The base's paths the draft deleted."""
        return frozenset(self._removed)

    @property
    def removed_changed(self) -> bool:
        """Whether ``removed`` changed since the draft was read or saved."""
        return self._removed_dirty

    def mark_saved(self) -> None:
        self._removed_dirty = False

    @property
    def pristine(self) -> bool:
        """Whether the draft holds nothing of its own: its files are its base's."""
        return not self._removed and len(self._changed) == 0

    def pending(self) -> Iterator[tuple[str, DraftFile]]:
        """The files whose content is not in the store yet (only changes can be)."""
        return self._changed.pending()

    def items_under(self, folder: str) -> Iterator[tuple[str, DraftFile | FileEntry]]:
        """The draft's files in ``folder`` ("" for all) and below, in the order of
        their paths' UTF-8 bytes (the order of a base's entries): the draft's own as
        :class:`DraftFile`, those of the base as their :class:`FileEntry` (read only).

        The caller may edit paths the iteration has reached."""
        prefix = f"{folder}/" if folder else ""
        base = self.base
        mine = self._changed.items_in(folder)
        have, held = next(mine, (None, None))
        removed = self._removed
        for e in base:
            p = e.path
            if not (not folder or p == folder or p.startswith(prefix)):
                if folder and p > prefix:
                    break  # sorted: nothing further is inside
                continue
            while have is not None and have < p:  # (str order: the bytes' order)
                yield have, held  # type: ignore[misc]
                have, held = next(mine, (None, None))
            if have == p:
                yield have, held  # type: ignore[misc]
                have, held = next(mine, (None, None))
            elif p not in removed:
                yield p, e
        while have is not None:
            yield have, held  # type: ignore[misc]
            have, held = next(mine, (None, None))

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

    def lookup(self, path: str) -> DraftFile | FileEntry | None:
        """What the draft holds at ``path``: its own file, a base entry (read only), or None."""
        f = self._changed.get(path)
        if f is not None:
            return f
        if path in self._removed or not self.has_base:
            return None
        return self.base.get(path)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if path in self._changed:
            return True
        return path not in self._removed and self.has_base and path in self.base

    def __setitem__(self, path: str, f: DraftFile) -> None:
        self._changed[path] = f
        if path in self._removed:
            self._removed.discard(path)
            self._removed_dirty = True
        self._len = None

    def remove(self, path: str, *, in_base: bool | None = None) -> None:
        """``del files[path]``; ``in_base`` True when the caller knows ``path`` is a
        base file (met while iterating the base): no lookup then."""
        if in_base is None:
            del self[path]
            return
        self._changed.pop(path, None)
        self._removed.add(path)
        self._removed_dirty = True
        self._len = None

    def __delitem__(self, path: str) -> None:
        if self._changed.pop(path, None) is not None:
            if self.has_base and path in self.base:
                self._removed.add(path)
                self._removed_dirty = True
        elif path not in self._removed and self.has_base and path in self.base:
            self._removed.add(path)
            self._removed_dirty = True
        else:
            raise KeyError(path)
        self._len = None

    def __len__(self) -> int:
        if self._len is None:
            if not self.has_base:
                self._len = len(self._changed)
            else:
                base = self.base
                extra = sum(1 for p, _ in self._changed.items_in("") if p not in base)
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
        """Every file as a manifest entry (only valid once all are stored), in path
        order; base entries are passed through as they are."""
        if not self.has_base:
            return self._changed.entries()
        return self._walk(lambda p, f: f.to_entry(p), lambda e: e)

    def lookup_many(self, paths: list[str]) -> dict[str, DraftFile | FileEntry]:
        """:meth:`lookup` of each of ``paths`` the draft holds, asked at once."""
        out: dict[str, DraftFile | FileEntry] = dict(self._changed.get_many(paths))
        if self.has_base:
            base, removed = self.base, self._removed
            for p in sorted((p for p in paths if p not in out), key=str.encode):
                if p not in removed and (e := base.get(p)) is not None:
                    out[p] = e
        return out

    def _walk(
        self, own: Callable[[str, DraftFile], T], inherited: Callable[[FileEntry], T]
    ) -> Iterator[T]:
        """``own(path, file)`` for each of the draft's files and ``inherited(entry)``
        for each base file it keeps, in path order."""
        for p, held in self.items_under(""):
            if isinstance(held, DraftFile):
                yield own(p, held)
            else:
                yield inherited(held)


def _path_of(e: FileEntry) -> str:
    return e.path
