"""A paged base's files as columns (paths, hashes, flags), read page by page.

A sync of a folder of a million files that changes a few compares each run of the
walk with the base's entries at the same paths.  Built as entries, that is every page
decoded and an object made per file; as columns it is three slices of a page's lists,
compared with the walk's in C.  The columns of a page the delta does not touch are
remembered in the stat cache by the page's object hash (a content hash), written only
from a page read and verified here, and sealed: a row that does not match its seal,
or does not agree with the root's reference of the page (count, first and last path),
is not taken, and the page is decoded again.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator
from operator import attrgetter, itemgetter
from typing import NamedTuple

from gitdata.cache import StatCache
from gitdata.core.manifest import METHOD_DEFLATE, METHOD_STORED, FileEntry
from gitdata.core.pages import PagedManifest, PageRef

# a file's flags in its column: these bits set
EXECUTABLE = 1
LINK = 2
_PATH = itemgetter(FileEntry._fields.index("path"))
_SHA = itemgetter(FileEntry._fields.index("sha256"))
_EXECUTABLE = attrgetter("executable")
_URL = attrgetter("url")
_SIZE = attrgetter("size")


class Columns(NamedTuple):
    """Entries of a base, in path order, as three columns."""

    paths: list[str]
    shas: list[str]  # lowercase hex
    flags: bytes  # one byte each: EXECUTABLE, LINK


_NONE = Columns([], [], b"")


def columns_of(entries: list[FileEntry]) -> Columns:
    """The columns of ``entries``."""
    flags = bytes(
        (EXECUTABLE if x else 0) | (LINK if u is not None else 0)
        for x, u in zip(map(_EXECUTABLE, entries), map(_URL, entries), strict=True)
    )
    return Columns(list(map(_PATH, entries)), list(map(_SHA, entries)), flags)


def pack(columns: Columns) -> tuple[bytes, bytes, bytes] | None:
    """The columns as the stat cache keeps them, or None when they cannot be kept
    unambiguously (a path holding a NUL, which no dataset path does)."""
    joined = "\x00".join(columns.paths)
    if joined.count("\x00") != len(columns.paths) - 1:
        return None
    try:
        return joined.encode("utf-8"), bytes.fromhex("".join(columns.shas)), columns.flags
    except (UnicodeEncodeError, ValueError):
        return None


def unpack(ref: PageRef, paths: bytes, shas: bytes, flags: bytes) -> Columns | None:
    """Columns kept for the page ``ref``, or None unless they agree with the reference
    (count, first and last path) and with each other."""
    try:
        names = paths.decode("utf-8").split("\x00")
    except UnicodeDecodeError:
        return None
    n = ref.count
    if len(names) != n or len(shas) != 32 * n or len(flags) != n:
        return None
    if names[0] != ref.first or names[-1] != ref.last:
        return None
    return Columns(names, shas.hex(",", 32).split(","), flags)


def pack_places(entries: list[FileEntry]) -> tuple[bytes, bytes, bytes] | None:
    """The sizes and chunk places of ``entries`` as the stat cache keeps them: sizes
    and (chunk index, offset, length, 1 if deflated) as 64-bit integers, the distinct
    chunks' hashes as 32 bytes each; None for a page that holds an external file."""
    chunks: dict[str, int] = {}
    places: list[int] = []
    try:
        for e in entries:
            if e.url is not None or e.chunk is None:
                return None
            index = chunks.setdefault(e.chunk, len(chunks))
            places += (index, e.offset, e.length, 0 if e.method == METHOD_STORED else 1)
        if any(e.method not in (METHOD_STORED, METHOD_DEFLATE) for e in entries):
            return None
        return (
            array("Q", map(_SIZE, entries)).tobytes(),
            array("Q", places).tobytes(),
            bytes.fromhex("".join(chunks)),
        )
    except (OverflowError, TypeError, ValueError):
        return None


def _remember(stat_cache: StatCache, ref: PageRef, entries: list[FileEntry], cols: Columns) -> None:
    packed = pack(cols)
    if packed is not None:
        stat_cache.store_page_columns(ref.page, *packed)
    places = pack_places(entries)
    if places is not None:
        stat_cache.store_page_places(ref.page, *places)


def page_columns(manifest: PagedManifest, i: int, stat_cache: StatCache | None) -> Columns:
    """The columns of page ``i`` of ``manifest`` as its object holds them (the delta
    not applied): remembered ones when they hold, else the page decoded (and its
    columns remembered)."""
    ref = manifest.page_refs[i]
    if stat_cache is not None:
        kept = stat_cache.page_columns(ref.page)
        if kept is not None:
            got = unpack(ref, *kept)
            if got is not None:
                return got
    entries = manifest.page_entries(i)
    columns = columns_of(entries)
    if stat_cache is not None:
        _remember(stat_cache, ref, entries, columns)
    return columns


def remembering(stat_cache: StatCache) -> Callable[[PageRef, list[FileEntry]], None]:
    """A writer's page hook (gitdata.core.pages.PageHook) that remembers the columns of
    each page it wrote and checked, so the first sync of a child reads none of them."""

    def remember(ref: PageRef, entries: list[FileEntry]) -> None:
        _remember(stat_cache, ref, entries, columns_of(entries))

    return remember


def _page_entry_at(ref: PageRef, stat_cache: StatCache) -> Callable[[str], FileEntry | None] | None:
    """A lookup of one path of the page ``ref`` from its remembered columns and places
    (None when they are not remembered, or do not agree with the reference or with
    each other)."""
    kept = stat_cache.page_columns(ref.page)
    places = stat_cache.page_places(ref.page)
    if kept is None or places is None:
        return None
    cols = unpack(ref, *kept)
    if cols is None:
        return None
    n = ref.count
    sizes, where, chunk_bytes = array("Q"), array("Q"), places[2]
    try:
        sizes.frombytes(places[0])
        where.frombytes(places[1])
    except ValueError:
        return None
    if len(sizes) != n or len(where) != 4 * n or len(chunk_bytes) % 32:
        return None
    chunks = chunk_bytes.hex(",", 32).split(",") if chunk_bytes else []
    if max(where[0::4]) >= len(chunks) or max(where[3::4]) > 1:
        return None
    paths = cols.paths

    def entry(path: str) -> FileEntry | None:
        j = bisect.bisect_left(paths, path)
        if j == n or paths[j] != path:
            return None
        index, offset, length, deflated = where[4 * j : 4 * j + 4]
        method = METHOD_DEFLATE if deflated else METHOD_STORED
        executable = bool(cols.flags[j] & EXECUTABLE)
        return FileEntry(
            path,
            sizes[j],
            cols.shas[j],
            chunks[index],
            offset,
            length,
            method,
            executable=executable,
        )

    return entry


def lookup_entries(
    manifest: PagedManifest, paths: list[str], stat_cache: StatCache | None
) -> dict[str, FileEntry]:
    """``manifest.get`` of each of ``paths`` (best sorted) it holds, in the order given:
    a path of a page whose columns and places are remembered is built from them, others
    are read (the delta, and pages not remembered, as :meth:`PagedManifest.get` reads
    them).  One page's columns are held at a time."""
    delta = manifest.delta
    refs = manifest.page_refs
    firsts = [r.first for r in refs]
    # the last page's lookup only (``paths`` come sorted: each page is met once)
    page: tuple[int, Callable[[str], FileEntry | None] | None] = (-1, None)
    out: dict[str, FileEntry] = {}
    for path in paths:
        e: FileEntry | None
        i = bisect.bisect_right(firsts, path) - 1
        if path in delta.upserts or path in delta.removed or stat_cache is None or i < 0:
            e = manifest.get(path)
        elif path > refs[i].last:
            e = None  # between two pages, and not in the delta
        else:
            if page[0] != i:
                page = (i, _page_entry_at(refs[i], stat_cache))
            at = page[1]
            e = at(path) if at is not None else manifest.get(path)
        if e is not None:
            out[path] = e
    return out


class BaseCursor:
    """The files of a paged manifest under a folder prefix ("" or "dir/"), in path
    order, taken in ranges from a position that only moves forward; a page is read
    when the position reaches it."""

    def __init__(self, manifest: PagedManifest, prefix: str, stat_cache: StatCache | None):
        self._m = manifest
        self._prefix = prefix
        self._stat_cache = stat_cache
        self._touched = manifest.touched_pages()
        firsts = [r.first for r in manifest.page_refs]
        self._i = max(0, bisect.bisect_right(firsts, prefix) - 1)
        self._cols = self._load(self._i)
        self._j = bisect.bisect_left(self._cols.paths, prefix)

    def _load(self, i: int) -> Columns:
        if i >= len(self._m.page_refs):
            return _NONE
        if i in self._touched:
            return columns_of(self._m.page_view(i))
        return page_columns(self._m, i, self._stat_cache)

    def _next_page(self) -> bool:
        """Move to the start of the next page; False past the last."""
        if self._i + 1 >= len(self._m.page_refs):
            self._j = len(self._cols.paths)
            return False
        self._i += 1
        self._cols = self._load(self._i)
        self._j = 0
        return True

    def take_upto(self, last: str) -> Columns:
        """The files from the position whose paths are at most ``last`` (a path under
        the prefix), the position moved past them."""
        parts: list[Columns] = []
        while True:
            cols, j = self._cols, self._j
            k = bisect.bisect_right(cols.paths, last, j)
            if k > j:
                parts.append(Columns(cols.paths[j:k], cols.shas[j:k], cols.flags[j:k]))
            self._j = k
            if k < len(cols.paths) or not self._next_page():
                break
        if len(parts) == 1:
            return parts[0]
        return Columns(
            [p for c in parts for p in c.paths],
            [s for c in parts for s in c.shas],
            b"".join(c.flags for c in parts),
        )

    def rest(self) -> Iterator[str]:
        """The paths under the prefix from the position on, the position moved past them."""
        prefix = self._prefix
        refs = self._m.page_refs
        while True:
            paths = self._cols.paths
            for j in range(self._j, len(paths)):
                if not paths[j].startswith(prefix):
                    self._j = j
                    return
                yield paths[j]
            nxt = self._i + 1
            if (
                nxt < len(refs)
                and nxt not in self._touched
                and not refs[nxt].first.startswith(prefix)
            ):
                return  # (sorted: no later page holds a path under the prefix)
            if not self._next_page():
                return
