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
from collections.abc import Callable, Iterator
from operator import attrgetter, itemgetter
from typing import NamedTuple

from gitdata.cache import StatCache
from gitdata.core.manifest import FileEntry
from gitdata.core.pages import PagedManifest, PageRef

# a file's flags in its column: these bits set
EXECUTABLE = 1
LINK = 2
_PATH = itemgetter(FileEntry._fields.index("path"))
_SHA = itemgetter(FileEntry._fields.index("sha256"))
_EXECUTABLE = attrgetter("executable")
_URL = attrgetter("url")


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
    columns = columns_of(manifest.page_entries(i))
    if stat_cache is not None:
        packed = pack(columns)
        if packed is not None:
            stat_cache.store_page_columns(ref.page, *packed)
    return columns


def remembering(stat_cache: StatCache) -> Callable[[PageRef, list[FileEntry]], None]:
    """A writer's page hook (gitdata.core.pages.PageHook) that remembers the columns of
    each page it wrote and checked, so the first sync of a child reads none of them."""

    def remember(ref: PageRef, entries: list[FileEntry]) -> None:
        packed = pack(columns_of(entries))
        if packed is not None:
            stat_cache.store_page_columns(ref.page, *packed)

    return remember


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
