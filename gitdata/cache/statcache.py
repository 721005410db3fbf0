"""The stat cache: skip rehashing files whose inode, mtime and size are unchanged.

sqlite3 in WAL mode with a busy timeout, so several processes can share it.
It is only an optimisation: a busy, unreadable or corrupt database never
breaks the caller (a corrupt one is recreated) and everything is rehashed.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import sqlite3
import time
from array import array
from collections.abc import Iterable, Sequence
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import NamedTuple, Protocol, cast

from gitdata.cache.sqlitedb import SafeDB, write_transaction


class StatLike(Protocol):
    """The fields of a stat result the cache compares (an ``os.stat_result`` has them)."""

    @property
    def st_ino(self) -> int: ...
    @property
    def st_mtime_ns(self) -> int: ...
    @property
    def st_size(self) -> int: ...
    @property
    def st_mode(self) -> int: ...


class FileStat(NamedTuple):
    """The stat fields gd keeps of a scanned file: a tenth of an ``os.stat_result``'s
    memory, which matters for a scan of a million files."""

    st_ino: int
    st_mtime_ns: int
    st_size: int
    st_mode: int

    @classmethod
    def of(cls, st: StatLike) -> FileStat:
        """The kept fields of ``st``."""
        return cls(st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY, ino INTEGER, mtime_ns INTEGER, size INTEGER, sha256 TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run (
    first TEXT PRIMARY KEY, digest TEXT, shas BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    first TEXT PRIMARY KEY, names TEXT, stats BLOB, shas BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS page (
    sha TEXT PRIMARY KEY, paths BLOB, shas BLOB, flags BLOB, seal TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS page_places (
    sha TEXT PRIMARY KEY, sizes BLOB, places BLOB, chunks BLOB, seal TEXT
) WITHOUT ROWID;
"""
# ``runs``: a run of one folder's files (a sync's batch) by the path of its first file:
# the sha256 of its folder and names, the files' (inode, mtime, size) as three columns
# of 64-bit integers, and their hashes (32 bytes each).  Read with one query and
# compared as bytes, where the rows of ``stat`` would cost a tuple each; a run with a
# few files changed still gives the others' hashes.  Stored only for runs with no
# racily clean file, so a file that matches is as safe as its row.  (``run``, of a
# digest of names and stats together, is what an earlier gd wrote: no longer read.)
# ``page``: the columns a sync compares of a manifest page, by the page object's sha256
# (a content hash: the same page of any store reads the same): its paths (UTF-8, joined
# by NUL), its files' hashes (32 bytes each) and one byte of flags each, written only
# from a page read and verified, and sealed with a digest of all of it, so a damaged
# row is never taken for the page (see :meth:`StatCache.page_columns`).

# A file modified within this window of being hashed may change again within
# the same mtime tick without its stat changing ("racily clean", as git calls
# it); such entries are not stored.  Filesystems with whole-second timestamps
# get a 2 s window; nanosecond ones (ext4, xfs, btrfs) tick every few ms.
_RACY_NS_COARSE = 2_000_000_000
_RACY_NS_FINE = 100_000_000

Row = tuple[str, int, int, int, str]
FileKey = tuple[int, int, int]  # a file's (inode, mtime_ns, size)
_ROW_KEY = itemgetter(0, 1, 2, 3)  # (path, ino, mtime_ns, size)
_ROW_SHA = itemgetter(4)
_INO = attrgetter("st_ino")
_MTIME = attrgetter("st_mtime_ns")
_SIZE = attrgetter("st_size")
_KEY_INO = itemgetter(0)
_KEY_MTIME = itemgetter(1)
_KEY_SIZE = itemgetter(2)


def _racy(st: StatLike, now_ns: int) -> bool:
    return _racy_mtime(st.st_mtime_ns, now_ns)


def _racy_mtime(mtime_ns: int, now_ns: int) -> bool:
    window = _RACY_NS_COARSE if mtime_ns % 1_000_000_000 == 0 else _RACY_NS_FINE
    return now_ns - mtime_ns <= window


def _storable(path: str) -> bool:
    """sqlite holds UTF-8: a name with undecodable bytes (surrogates) is never cached."""
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _run_names(base: str, names: Sequence[str]) -> str | None:
    """sha256 of a run's folder and names, or None when they cannot be written
    unambiguously: the folder, a NUL, the names joined by newlines (none may hold one,
    nor a NUL or a "/")."""
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1 or "\x00" in joined or "/" in joined:
        return None
    try:
        data = b"".join([base.encode("utf-8"), b"\x00", joined.encode("utf-8")])
    except UnicodeEncodeError:
        return None  # (a surrogate)
    return hashlib.sha256(data).hexdigest()


def _patch_limit(n: int) -> int:
    """How many of a run's ``n`` files may differ from it, their hashes then read from
    their own rows, before the run is written again (a sync that changes one file in
    each of a thousand folders rewrites no run: 56 bytes a file of each, about 56 MB)."""
    return max(8, n // 16)


def _run_stats(inos: Iterable[int], mtimes: Iterable[int], sizes: Iterable[int]) -> bytes | None:
    """A run's (inode, mtime, size) as three columns of 64-bit integers, or None for
    a number past 64 bits."""
    try:
        return b"".join(
            [array("Q", inos).tobytes(), array("q", mtimes).tobytes(), array("Q", sizes).tobytes()]
        )
    except (OverflowError, TypeError):
        return None


def _matching(hexes: Sequence[str | None], stored: bytes, now: bytes) -> list[str | None]:
    """The hashes of a run's files whose (inode, mtime, size) are as stored, None for
    the others (``stored`` and ``now``: :func:`_run_stats` of as many files)."""
    n = len(hexes)
    same = list(map(operator.eq, array("Q", stored), array("Q", now)))
    kept = map(operator.and_, map(operator.and_, same[:n], same[n : 2 * n]), same[2 * n :])
    return [h if k else None for h, k in zip(hexes, kept, strict=True)]


def _shas_blob(shas: Sequence[str]) -> bytes | None:
    """Hex hashes as 32 bytes each, or None when one is not 64 hex digits."""
    try:
        blob = bytes.fromhex("".join(shas))
    except ValueError:
        return None
    return blob if len(blob) == 32 * len(shas) else None


def _page_seal(page: str, paths: bytes, shas: bytes, flags: bytes, kind: str = "columns") -> str:
    """The digest a page's remembered columns (or places) are sealed with: the page
    hash and the three columns, each after its length, so no two rows can share one."""
    head = f"gd page {kind} 1\x00{page}\x00{len(paths)} {len(shas)} {len(flags)}\x00"
    return hashlib.sha256(b"".join([head.encode("utf-8"), paths, shas, flags])).hexdigest()


def _select(conn: sqlite3.Connection, paths: list[str]) -> list[Row]:
    """Rows for ``paths`` (and perhaps others): one query per folder they are in.

    The files of one folder share a prefix, and one primary-key range scan over it
    is the fastest read (a range over several folders would read every folder
    between them too)."""
    folders: dict[str, list[str]] = {}
    for p in paths:
        folders.setdefault(p[: p.rfind("/") + 1], []).append(p)
    if len(folders) == 1:
        return _select_one(conn, paths)
    return [row for group in folders.values() for row in _select_one(conn, group)]


def _select_one(conn: sqlite3.Connection, paths: list[str]) -> list[Row]:
    """Rows for ``paths`` (and perhaps others): one query either way.

    One primary-key range scan over their common prefix, unless that range holds
    many more rows than were asked for: then a join against the asked paths reads
    only those.
    """
    low = os.path.commonprefix(paths)
    cap = 2 * len(paths) + 64
    rows = conn.execute(
        "SELECT path, ino, mtime_ns, size, sha256 FROM stat "
        "WHERE path >= ? AND path < ? ORDER BY path LIMIT ?",
        (low, low + "\U0010ffff", cap),
    ).fetchall()
    if len(rows) < cap:
        return rows
    return conn.execute(
        "SELECT s.path, s.ino, s.mtime_ns, s.size, s.sha256 "
        "FROM json_each(?) AS j JOIN stat AS s ON s.path = j.value",
        (json.dumps(paths),),
    ).fetchall()


def _select_run(conn: sqlite3.Connection, first: str) -> tuple[str, bytes, bytes] | None:
    """The names' digest, stats and hashes of the run remembered for the path ``first``."""
    row = conn.execute("SELECT names, stats, shas FROM runs WHERE first = ?", (first,)).fetchone()
    if row is None or not isinstance(row[0], str):
        return None
    if not isinstance(row[1], bytes) or not isinstance(row[2], bytes):
        return None
    return row[0], row[1], row[2]


class StatCache:
    """Absolute path -> sha256, valid while the file's (inode, mtime_ns, size) match."""

    def __init__(self, db_path: Path, *, timeout: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self._db = SafeDB(self.db_path, _SCHEMA, timeout=timeout)
        # first path -> names digest of the runs a lookup found with a few files changed:
        # those files' rows tell their hashes, so the run is not written again
        self._patched: dict[str, str] = {}

    def lookup_many(self, items: Sequence[tuple[str, StatLike]]) -> dict[str, str]:
        """Known sha256 of each path whose inode, mtime_ns and size still match."""
        wanted = {path: st for path, st in items if _storable(path)}
        if not wanted:
            return {}
        nothing: list[tuple[str, int, int, int, str]] = []
        rows = self._db.run(lambda conn: _select(conn, list(wanted)), nothing)
        out: dict[str, str] = {}
        for path, ino, mtime_ns, size, sha in rows:
            st = wanted.get(path)
            if (
                st is not None
                and st.st_ino == ino
                and st.st_mtime_ns == mtime_ns
                and st.st_size == size
            ):
                out[path] = sha
        return out

    def lookup_run(
        self, base: str, names: Sequence[str], stats: Sequence[StatLike]
    ) -> list[str | None]:
        """:meth:`lookup_many` of the files ``base + name`` (of one folder, ``base``
        ending in "/", ``names`` sorted) as a list in the order of ``names``: a hash
        or None.

        Built for a sync's million unchanged files, with no Python code run per file:
        a run remembered with :meth:`store_run` is one query and one digest; others
        are their rows, compared as (path, inode, mtime, size) keys of one dict (and
        remembered as a run when every file matched).  A run that matches but for a
        few files (:func:`_patch_limit`), whose rows give their hashes, is kept as it
        is: neither this lookup nor the next :meth:`store_runs` of the same files
        writes it again."""
        if not names:
            return []
        n = len(names)
        # (None for a name that is not UTF-8: such a file is never stored)
        key = _run_names(base, names)
        now = _run_stats(map(_INO, stats), map(_MTIME, stats), map(_SIZE, stats))
        found: list[str | None] | None = None
        if key is not None and now is not None:
            got = self._db.run(lambda conn: _select_run(conn, base + names[0]), None)
            if (
                got is not None
                and got[0] == key
                and len(got[1]) == len(now) == 24 * n
                and len(got[2]) == 32 * n
            ):
                hexes: list[str | None] = list(got[2].hex(",", 32).split(","))
                if got[1] == now:
                    return hexes
                found = _matching(hexes, got[1], now)  # a few files changed
                if found.count(None) <= _patch_limit(n):
                    self._patched[base + names[0]] = key
                else:
                    self._patched.pop(base + names[0], None)
        paths = list(map(base.__add__, names))
        if found is not None:
            wanted = [p for p, sha in zip(paths, found, strict=True) if sha is None]
        else:
            wanted = paths
        if not (base.isascii() and "".join(names).isascii()):
            asked = [p for p in wanted if _storable(p)]
        else:
            asked = wanted
        if not asked:
            return found if found is not None else [None] * n
        nothing: list[Row] = []
        rows = self._db.run(lambda conn: _select_one(conn, asked), nothing)
        known = dict(zip(map(_ROW_KEY, rows), map(_ROW_SHA, rows), strict=True))
        from_rows = list(
            map(
                known.get,
                zip(paths, map(_INO, stats), map(_MTIME, stats), map(_SIZE, stats), strict=True),
            )
        )
        patched = found is not None and self._patched.get(paths[0]) == key
        if found is None:
            found = from_rows
        else:
            found = [a if a is not None else b for a, b in zip(found, from_rows, strict=True)]
        if key is not None and now is not None and None not in found and not patched:
            # (rows and runs are never stored racily clean: neither is this run)
            blob = _shas_blob(cast(list[str], found))
            if blob is not None:
                self._write_runs([(paths[0], key, now, blob)])
        return found

    def store_run(
        self, base: str, names: Sequence[str], stats: Sequence[FileKey], shas: Sequence[str]
    ) -> None:
        """Remember the hashes of a run of one folder's files (``base + name``, names
        sorted) whose (inode, mtime, size) are ``stats``, the stat of the bytes hashed:
        one row for :meth:`lookup_run`.  Nothing is stored when a file may be racily
        clean (see :meth:`store_many`)."""
        self.store_runs([(base, names, stats, shas)])

    def store_runs(
        self, runs: Sequence[tuple[str, Sequence[str], Sequence[FileKey], Sequence[str]]]
    ) -> None:
        """:meth:`store_run` of each of ``runs`` (base, names, stats, hashes), in one
        transaction."""
        now = time.time_ns()
        rows: list[tuple[str, str, bytes, bytes]] = []
        for base, names, stats, shas in runs:
            if not names:
                continue
            mtimes = list(map(_KEY_MTIME, stats))
            if now - max(mtimes) <= _RACY_NS_COARSE and any(_racy_mtime(m, now) for m in mtimes):
                continue
            key = _run_names(base, names)
            if key is not None and self._patched.pop(base + names[0], None) == key:
                continue  # the run on record holds but for a few files, which have rows
            columns = _run_stats(map(_KEY_INO, stats), mtimes, map(_KEY_SIZE, stats))
            blob = _shas_blob(shas)
            if (
                key is not None
                and columns is not None
                and blob is not None
                and len(columns) == 24 * len(names)
                and len(blob) == 32 * len(names)
            ):
                rows.append((base + names[0], key, columns, blob))
        if rows:
            self._write_runs(rows)

    def _write_runs(self, rows: list[tuple[str, str, bytes, bytes]]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO runs (first, names, stats, shas) VALUES (?, ?, ?, ?)",
                    rows,
                )

        self._db.run(work, None)

    def store_many(self, items: Sequence[tuple[str, StatLike, str]]) -> None:
        """Remember hashes in one transaction (racily-clean files are skipped)."""
        now = time.time_ns()
        rows = [
            (path, st.st_ino, st.st_mtime_ns, st.st_size, sha)
            for path, st, sha in items
            if _storable(path) and not _racy(st, now)
        ]
        if not rows:
            return

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO stat (path, ino, mtime_ns, size, sha256) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )

        self._db.run(work, None)

    # the page tables: (columns of the three sealed values, the seal's kind)
    _PAGE_TABLES = {
        "page": (("paths", "shas", "flags"), "columns"),
        "page_places": (("sizes", "places", "chunks"), "places"),
    }

    def _sealed(self, table: str, page: str) -> tuple[bytes, bytes, bytes] | None:
        """The three values ``table`` holds for ``page``, or None when it holds none
        or the row does not match its seal (damaged: never trusted)."""
        names, kind = self._PAGE_TABLES[table]

        def work(conn: sqlite3.Connection) -> tuple[bytes, bytes, bytes] | None:
            row = conn.execute(
                f"SELECT {', '.join(names)}, seal FROM {table} WHERE sha = ?", (page,)
            ).fetchone()
            if row is None or not all(isinstance(v, bytes) for v in row[:3]):
                return None
            a, b, c, seal = row
            if not isinstance(seal, str) or seal != _page_seal(page, a, b, c, kind=kind):
                return None
            return a, b, c

        return self._db.run(work, None)

    def _seal(self, table: str, page: str, a: bytes, b: bytes, c: bytes) -> None:
        """Remember three values for ``page`` in ``table``, with their seal."""
        names, kind = self._PAGE_TABLES[table]
        row = (page, a, b, c, _page_seal(page, a, b, c, kind=kind))

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute(
                    f"INSERT OR REPLACE INTO {table} (sha, {', '.join(names)}, seal) "
                    "VALUES (?, ?, ?, ?, ?)",
                    row,
                )

        self._db.run(work, None)

    def page_columns(self, page: str) -> tuple[bytes, bytes, bytes] | None:
        """The columns remembered for the manifest page whose object hash is ``page``:
        (paths joined by NUL as UTF-8, hashes as 32 bytes each, flags), or None when
        none are, or the row does not match its seal (damaged: never trusted)."""
        return self._sealed("page", page)

    def store_page_columns(self, page: str, paths: bytes, shas: bytes, flags: bytes) -> None:
        """Remember the columns of the page ``page`` (see :meth:`page_columns`); the
        caller read them from that page's verified bytes."""
        self._seal("page", page, paths, shas, flags)

    def page_places(self, page: str) -> tuple[bytes, bytes, bytes] | None:
        """The sizes and chunk places remembered for the page ``page`` (see
        :meth:`store_page_places`), or None when none are or the row does not match
        its seal."""
        return self._sealed("page_places", page)

    def store_page_places(self, page: str, sizes: bytes, places: bytes, chunks: bytes) -> None:
        """Remember the sizes and chunk places of the files of the page ``page``, in
        the order of its columns (:meth:`page_columns`); the caller read them from that
        page's verified bytes."""
        self._seal("page_places", page, sizes, places, chunks)

    def close(self) -> None:
        """Close the database (reopened on next use)."""
        self._db.close()
