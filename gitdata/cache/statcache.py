"""The stat cache: skip rehashing files whose inode, mtime and size are unchanged.

sqlite3 in WAL mode with a busy timeout, so several processes can share it.
It is only an optimisation: a busy, unreadable or corrupt database never
breaks the caller (a corrupt one is recreated) and everything is rehashed.
"""

from __future__ import annotations

import hashlib
import json
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
"""
# ``run``: a run of one folder's files (a sync's batch) by the path of its first file:
# the sha256 of every path and (inode, mtime, size) of the run, and the files' hashes
# (32 bytes each).  Read with one query and compared with one digest, where the rows
# of ``stat`` would cost a tuple each.  Stored only for runs with no racily clean
# file, so a run that matches is as safe as each of its files' rows.

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


def _run_digest(
    base: str,
    names: Sequence[str],
    inos: Iterable[int],
    mtimes: Iterable[int],
    sizes: Iterable[int],
) -> str | None:
    """sha256 of a run's folder, names and their (inode, mtime, size), or None when
    they cannot be written unambiguously: the folder, a NUL, the names joined by
    newlines (none may hold one, nor a NUL or a "/"), a NUL, then the three columns
    as 64-bit integers."""
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1 or "\x00" in joined or "/" in joined:
        return None
    try:
        parts = [
            base.encode("utf-8"),
            b"\x00",
            joined.encode("utf-8"),
            b"\x00",
            array("Q", inos).tobytes(),
            array("q", mtimes).tobytes(),
            array("Q", sizes).tobytes(),
        ]
    except (UnicodeEncodeError, OverflowError, TypeError):
        return None  # (a surrogate, or a number past 64 bits)
    return hashlib.sha256(b"".join(parts)).hexdigest()


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


def _select_run(conn: sqlite3.Connection, first: str) -> tuple[str, bytes] | None:
    """The digest and hashes of the run remembered for the path ``first``."""
    row = conn.execute("SELECT digest, shas FROM run WHERE first = ?", (first,)).fetchone()
    if row is None or not isinstance(row[0], str) or not isinstance(row[1], bytes):
        return None
    return row[0], row[1]


class StatCache:
    """Absolute path -> sha256, valid while the file's (inode, mtime_ns, size) match."""

    def __init__(self, db_path: Path, *, timeout: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self._db = SafeDB(self.db_path, _SCHEMA, timeout=timeout)

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
        remembered as a run when every file matched)."""
        if not names:
            return []
        # (None for a name that is not UTF-8: such a file is never stored)
        digest = _run_digest(base, names, map(_INO, stats), map(_MTIME, stats), map(_SIZE, stats))
        if digest is not None:
            got = self._db.run(lambda conn: _select_run(conn, base + names[0]), None)
            if got is not None and got[0] == digest and len(got[1]) == 32 * len(names):
                return list(got[1].hex(",", 32).split(","))
        paths = list(map(base.__add__, names))
        if not (base.isascii() and "".join(names).isascii()):
            asked = [p for p in paths if _storable(p)]
        else:
            asked = paths
        if not asked:
            return [None] * len(paths)
        nothing: list[Row] = []
        rows = self._db.run(lambda conn: _select_one(conn, asked), nothing)
        known = dict(zip(map(_ROW_KEY, rows), map(_ROW_SHA, rows), strict=True))
        found = list(
            map(
                known.get,
                zip(paths, map(_INO, stats), map(_MTIME, stats), map(_SIZE, stats), strict=True),
            )
        )
        if digest is not None and None not in found:
            # (rows are never stored racily clean: neither is this run)
            self._write_run(paths[0], digest, cast(list[str], found))
        return found

    def store_run(
        self, base: str, names: Sequence[str], stats: Sequence[FileKey], shas: Sequence[str]
    ) -> None:
        """Remember the hashes of a run of one folder's files (``base + name``, names
        sorted) whose (inode, mtime, size) are ``stats``, the stat of the bytes hashed:
        one row for :meth:`lookup_run`.  Nothing is stored when a file may be racily
        clean (see :meth:`store_many`)."""
        if not names:
            return
        now = time.time_ns()
        mtimes = list(map(_KEY_MTIME, stats))
        if now - max(mtimes) <= _RACY_NS_COARSE and any(_racy_mtime(m, now) for m in mtimes):
            return
        digest = _run_digest(base, names, map(_KEY_INO, stats), mtimes, map(_KEY_SIZE, stats))
        if digest is not None:
            self._write_run(base + names[0], digest, shas)

    def _write_run(self, first: str, digest: str, shas: Sequence[str]) -> None:
        try:
            blob = bytes.fromhex("".join(shas))
        except ValueError:
            return
        if len(blob) != 32 * len(shas):
            return

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO run (first, digest, shas) VALUES (?, ?, ?)",
                    (first, digest, blob),
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

    def close(self) -> None:
        """Close the database (reopened on next use)."""
        self._db.close()
