"""A draft's own files on disk: ``drafts/<id>.db``, a sqlite database.

A first version of a million files is a draft of a million changes; kept as Python
objects that is over half a gigabyte.  Here they are rows of a table keyed by the
path's UTF-8 bytes (so a scan in key order is manifest order), and a command holds
only the rows it is looking at plus a bounded write buffer.

Every edit of a command goes into one open transaction: :meth:`DbChanges.commit`
makes them durable at once (a save), :meth:`DbChanges.rollback` drops them (a failed
command), so a failing command changes nothing, as with a file rewritten atomically.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from gitdata.core.manifest import METHOD_STORED, FileEntry
from gitdata.errors import FormatError
from gitdata.ops.draftfiles import DraftFile, entry_of

DB_FORMAT = 2  # format 1: drafts/<id>.json (read, and rewritten as a database on save)
_BUFFER = 16384  # edits held in memory before they are written to the open transaction
_PAGE = 2048  # rows read per query while iterating
_BUSY_MS = 30_000
_IN_BATCH = 500  # values per "IN (...)" query
_CACHE_KIB = 16384  # sqlite's page cache (its default, 2 MiB, makes big edits spill early)

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # path: UTF-8 bytes (memcmp order is manifest order); source: os.fsencode bytes
    "CREATE TABLE files (path BLOB PRIMARY KEY, size INTEGER NOT NULL, "
    "sha256 TEXT NOT NULL, source BLOB, mtime_ns INTEGER, chunk TEXT, "
    "offset INTEGER, length INTEGER, method TEXT NOT NULL, url TEXT, etag TEXT, "
    "executable INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE removed (path BLOB PRIMARY KEY) WITHOUT ROWID",
)
# Spool chunks (ops/spool.py): made with the database, or on first use in one that an
# older gd made (readers then find no such table: no spool chunks).
_SPOOL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS spool_chunks (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
    "size INTEGER NOT NULL, members INTEGER NOT NULL, compression TEXT NOT NULL, "
    "target INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS spooled (sha256 TEXT PRIMARY KEY, chunk TEXT NOT NULL, "
    "offset INTEGER NOT NULL, length INTEGER NOT NULL, method TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS spooled_by_chunk ON spooled (chunk)",
)
_COLUMNS = (
    "path, size, sha256, source, mtime_ns, chunk, offset, length, method, url, etag, executable"
)
_PENDING = "chunk IS NULL AND url IS NULL"

_MISSING = object()


_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_LOW_SPACE = 1024 * 1024


@contextlib.contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """A sqlite write failure as the ``OSError`` it is (a full disk: ENOSPC, naming
    ``path``), so the boundary can say which disk; others pass as they are."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary not in (_SQLITE_FULL, _SQLITE_IOERR):
            raise
        number = errno.EIO
        try:
            st = os.statvfs(path.parent)
            full = st.f_bavail * st.f_frsize < _LOW_SPACE
        except OSError:
            full = False
        if primary == _SQLITE_FULL or full:
            number = errno.ENOSPC
        raise OSError(number, os.strerror(number), str(path)) from None


def damaged(path: Path | str) -> FormatError:
    """The error for a draft file that cannot be read as one."""
    return FormatError(f"draft file {path} is damaged", file=str(path))


def _key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _path(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def _row(key: bytes, f: DraftFile) -> tuple[Any, ...]:
    source = None if f.source is None else os.fsencode(f.source)
    return (
        key,
        f.size,
        f.sha256,
        source,
        f.mtime_ns,
        f.chunk,
        f.offset,
        f.length,
        f.method,
        f.url,
        f.etag,
        1 if f.executable else 0,
    )


def _file(row: tuple[Any, ...]) -> DraftFile:
    source = row[3]
    return DraftFile(
        row[1],
        row[2],
        None if source is None else os.fsdecode(source),
        row[4],
        row[5],
        row[6],
        row[7],
        row[8] or METHOD_STORED,
        row[9],
        row[10],
        bool(row[11]),
    )


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the draft database at ``path`` (autocommit: transactions are
    begun explicitly).  Usable from the upload's worker threads, one at a time."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def create(
    path: Path,
    meta: dict[str, Any],
    changes: Iterable[tuple[str, DraftFile]],
    removed: Iterable[str],
) -> None:
    """Write a complete draft database at ``path`` (a temporary name the caller then
    renames into place: the build keeps no journal)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for statement in (*_SCHEMA, *_SPOOL_SCHEMA):
            conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('draft', ?)", (json.dumps(meta),))
        conn.executemany(
            f"INSERT OR REPLACE INTO files VALUES ({', '.join('?' * 12)})",
            (_row(_key(p), f) for p, f in changes),
        )
        conn.executemany("INSERT OR IGNORE INTO removed VALUES (?)", ((_key(p),) for p in removed))
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: every later open uses it
    finally:
        conn.close()


@dataclass(frozen=True)
class SpoolChunk:
    """A spool chunk (ops/spool.py): its file name in the store's tmp/, the sha256 and
    size of its bytes, its compression and the chunk size it was cut at, and sha256 ->
    (offset, length, method) of each content it holds."""

    name: str
    sha256: str
    size: int
    compression: str
    target: int
    members: dict[str, tuple[int, int, str]]


def read_meta(conn: sqlite3.Connection, source: str) -> dict[str, Any]:
    """The draft's metadata document (FormatError when it is not one of ours)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'draft'").fetchone()
        doc = json.loads(row[0]) if row is not None else None
    except (sqlite3.Error, ValueError, TypeError):
        doc = None
    if not isinstance(doc, dict):
        raise damaged(source)
    if doc.get("format") != DB_FORMAT:
        raise FormatError(f"draft {source} has an unknown format", file=source)
    return doc


def read_meta_file(path: Path) -> dict[str, Any] | None:
    """The metadata of the draft database at ``path``, or None if it cannot be read."""
    try:
        conn = connect(path)
    except sqlite3.Error:
        return None
    try:
        return read_meta(conn, str(path))
    except FormatError:
        return None
    finally:
        conn.close()


def read_roots(path: Path) -> tuple[list[str], set[str]] | None:
    """(parents, chunks its files name) of the draft database at ``path``; None if it
    cannot be read."""
    try:
        conn = connect(path)
    except sqlite3.Error:
        return None
    try:
        doc = read_meta(conn, str(path))
        chunks = {
            r[0] for r in conn.execute("SELECT DISTINCT chunk FROM files WHERE chunk IS NOT NULL")
        }
        parents = [p for p in doc.get("parents") or [] if isinstance(p, str)]
        return parents, chunks
    except (FormatError, sqlite3.Error):
        return None
    finally:
        conn.close()


class DbChanges:
    """path -> :class:`DraftFile`, the draft's own files, over a draft database.

    Reads see this command's edits; edits are buffered and written into the open
    transaction some thousands at a time.  Iteration is in the order of the paths'
    UTF-8 bytes and reads a page of rows per query, so it may go on while the
    caller edits paths it has passed.  A file read here is a copy: to change one,
    assign it back.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, frozen: bool = False) -> None:
        self._conn = conn
        self.path = path  # the database file
        self._frozen = frozen  # a snapshot (a read transaction held): never written
        self._buffer: dict[str, DraftFile | None] = {}  # None: deleted
        self._in_transaction = False

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A read that fails on a damaged database raises FormatError naming it."""
        try:
            with disk_errors(self.path):
                yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise damaged(self.path) from None

    def data_version(self) -> int:
        """Changes when another connection commits to the database (sqlite's
        ``PRAGMA data_version``): this process's copy is then out of date."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def begin(self) -> None:
        if self._frozen:
            raise RuntimeError("a draft snapshot is read only")
        if not self._in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")
            self._in_transaction = True

    def flush(self) -> None:
        """Write the buffered edits into the open transaction."""
        if not self._buffer:
            return
        with disk_errors(self.path):
            self._flush()

    def _flush(self) -> None:
        self.begin()
        put = [(_row(_key(p), f)) for p, f in self._buffer.items() if f is not None]
        gone = [(_key(p),) for p, f in self._buffer.items() if f is None]
        if put:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO files VALUES ({', '.join('?' * 12)})", put
            )
        if gone:
            self._conn.executemany("DELETE FROM files WHERE path = ?", gone)
        self._buffer.clear()

    def save_removed(self, removed: Iterable[str]) -> None:
        """Replace the stored set of the base's deleted paths."""
        self.begin()
        self._conn.execute("DELETE FROM removed")
        self._conn.executemany(
            "INSERT OR IGNORE INTO removed VALUES (?)", ((_key(p),) for p in removed)
        )

    def commit(self, meta: dict[str, Any], removed: Iterable[str] | None) -> None:
        """Make every edit durable, with the metadata (and the removed paths when
        they changed)."""
        self.flush()
        self.begin()
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('draft', ?)", (json.dumps(meta),))
        if removed is not None:
            self.save_removed(removed)
        self._conn.execute("COMMIT")
        self._in_transaction = False

    def rollback(self) -> None:
        """Drop every edit since the last commit."""
        self._buffer.clear()
        if self._in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            self._in_transaction = False

    def close(self) -> None:
        self.rollback()
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def stored_removed(self) -> list[str]:
        return [_path(r[0]) for r in self._conn.execute("SELECT path FROM removed")]

    # ------------------------------------------------------------ mapping
    def get(self, path: str, default: Any = None) -> Any:
        f = self._buffer.get(path, _MISSING)
        if f is not _MISSING:
            return default if f is None else f
        with self._reading():
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE path = ?", (_key(path),)
            ).fetchone()
        return default if row is None else _file(row)

    def __getitem__(self, path: str) -> DraftFile:
        f = self.get(path)
        if f is None:
            raise KeyError(path)
        return f

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def __setitem__(self, path: str, f: DraftFile) -> None:
        self._buffer[path] = f
        if len(self._buffer) >= _BUFFER:
            self.flush()

    def pop(self, path: str, default: Any = None) -> Any:
        f = self.get(path)
        if f is None:
            return default
        self._buffer[path] = None
        if len(self._buffer) >= _BUFFER:
            self.flush()
        return f

    def __delitem__(self, path: str) -> None:
        if self.pop(path) is None:
            raise KeyError(path)

    def __len__(self) -> int:
        self.flush()
        return int(self._conn.execute("SELECT count(*) FROM files").fetchone()[0])

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def keys(self) -> Iterator[str]:
        return (p for p, _ in self.items())

    def values(self) -> Iterator[DraftFile]:
        return (f for _, f in self.items())

    def items(self) -> Iterator[tuple[str, DraftFile]]:
        """Every (path, file), in path order."""
        return self._scan("")

    def items_in(self, folder: str) -> Iterator[tuple[str, DraftFile]]:
        """The files in ``folder`` ("" for all) and below, in path order."""
        if not folder:
            return self._scan("")
        return self._in_folder(folder)

    def _in_folder(self, folder: str) -> Iterator[tuple[str, DraftFile]]:
        exact = self.get(folder)  # a file at the folder's own path sorts first
        if exact is not None:
            yield folder, exact
        # ("0" follows "/"): the paths below the folder are [folder/, folder0)
        yield from self._scan("", lo=_key(folder + "/"), hi=_key(folder + "0"))

    def pending(self) -> Iterator[tuple[str, DraftFile]]:
        """The files whose content is not in the store yet, in path order."""
        return self._scan(_PENDING)

    def first_pending(self) -> str | None:
        return next((p for p, _ in self.pending()), None)

    def count_pending(self) -> int:
        self.flush()
        return int(self._conn.execute(f"SELECT count(*) FROM files WHERE {_PENDING}").fetchone()[0])

    def stored_with(self, shas: Iterable[str]) -> dict[str, DraftFile]:
        """sha256 -> one of the draft's own stored files holding it, for ``shas``."""
        if not self.any_stored():
            return {}  # (a first upload: no index on sha256 needed)
        with disk_errors(self.path):
            # made when first needed, inside the transaction: a failed command drops it
            self.begin()
            self._conn.execute("CREATE INDEX IF NOT EXISTS files_by_sha ON files (sha256)")
        out: dict[str, DraftFile] = {}
        wanted = iter(shas)
        while batch := list(islice(wanted, _IN_BATCH)):
            marks = ", ".join("?" * len(batch))
            for row in self._conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE sha256 IN ({marks}) AND chunk IS NOT NULL",
                batch,
            ):
                out.setdefault(row[2], _file(row))
        return out

    def get_many(self, paths: list[str]) -> dict[str, DraftFile]:
        """path -> file for each of ``paths`` the draft holds (a query per some hundred)."""
        out: dict[str, DraftFile] = {}
        asked: list[bytes] = []
        for p in paths:
            f = self._buffer.get(p, _MISSING)
            if f is _MISSING:
                asked.append(_key(p))
            elif f is not None:
                out[p] = f  # type: ignore[assignment]
        for start in range(0, len(asked), _IN_BATCH):
            batch = asked[start : start + _IN_BATCH]
            marks = ", ".join("?" * len(batch))
            with self._reading():
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM files WHERE path IN ({marks})", batch
                ).fetchall()
            for row in rows:
                out[_path(row[0])] = _file(row)
        return out

    def entries(self) -> Iterator[FileEntry]:
        """Every file as a manifest entry (only valid once all are stored), in path
        order, built straight from the rows."""
        columns = "path, size, sha256, chunk, offset, length, method, url, etag, executable"
        for key, size, sha, chunk, offset, length, method, url, etag, x in self._rows(columns, ""):
            yield entry_of(_path(key), size, sha, chunk, offset, length, method, url, etag, bool(x))

    # ------------------------------------------------------------ spool chunks
    def _has_spool_tables(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spooled'"
        ).fetchone()
        return row is not None

    def add_spools(self, chunks: Iterable[SpoolChunk]) -> None:
        """Record spool chunks and the contents they hold (in the open transaction;
        a content an earlier chunk holds keeps that chunk)."""
        with disk_errors(self.path):
            self.begin()
            for statement in _SPOOL_SCHEMA:
                self._conn.execute(statement)
            for c in chunks:
                self._conn.execute(
                    "INSERT OR REPLACE INTO spool_chunks VALUES (?, ?, ?, ?, ?, ?)",
                    (c.name, c.sha256, c.size, len(c.members), c.compression, c.target),
                )
                self._conn.executemany(
                    "INSERT OR IGNORE INTO spooled VALUES (?, ?, ?, ?, ?)",
                    ((sha, c.name, *where) for sha, where in c.members.items()),
                )

    def spooled_in(self, shas: Iterable[str]) -> dict[str, tuple[str, int, int, str]]:
        """sha256 -> (spool chunk, offset, length, method) for those of ``shas`` a
        spool chunk holds (one query)."""
        if not self._has_spool_tables():
            return {}
        wanted = json.dumps(sorted(set(shas)))
        with self._reading():
            rows = self._conn.execute(
                "SELECT s.sha256, s.chunk, s.offset, s.length, s.method "
                "FROM json_each(?) AS j JOIN spooled AS s ON s.sha256 = j.value",
                (wanted,),
            ).fetchall()
        return {sha: (chunk, offset, length, method) for sha, chunk, offset, length, method in rows}

    def store_spooled(self, name: str, chunk_sha256: str) -> int:
        """Record that the spool chunk ``name`` is now the store's chunk ``chunk_sha256``:
        every pending file of a content it holds is stored there (one statement, in the
        open transaction), and the spool chunk is forgotten.  How many files."""
        self.flush()  # (an edit still buffered would overwrite the rows set here)
        with disk_errors(self.path):
            self.begin()
            where = "(SELECT {} FROM spooled AS s WHERE s.sha256 = files.sha256)"
            cursor = self._conn.execute(
                f"UPDATE files SET chunk = ?, offset = {where.format('offset')}, "
                f"length = {where.format('length')}, method = {where.format('method')} "
                f"WHERE {_PENDING} AND sha256 IN (SELECT sha256 FROM spooled WHERE chunk = ?)",
                (chunk_sha256, name),
            )
            count = cursor.rowcount
        self.drop_spools([name])
        return count

    def spool_chunks(self) -> dict[str, tuple[str, int, int, str, int]]:
        """name -> (sha256, size, contents, compression, chunk size) of every spool
        chunk recorded."""
        if not self._has_spool_tables():
            return {}
        with self._reading():
            rows = self._conn.execute(
                "SELECT name, sha256, size, members, compression, target FROM spool_chunks"
            ).fetchall()
        return {name: (sha, size, n, comp, cut) for name, sha, size, n, comp, cut in rows}

    def drop_spools(self, names: Iterable[str]) -> None:
        """Forget spool chunks and the contents they hold (in the open transaction)."""
        rows = [(n,) for n in names]
        if not rows or not self._has_spool_tables():
            return
        with disk_errors(self.path):
            self.begin()
            self._conn.executemany("DELETE FROM spooled WHERE chunk = ?", rows)
            self._conn.executemany("DELETE FROM spool_chunks WHERE name = ?", rows)

    def own_chunks(self) -> set[str]:
        """The chunks this draft's uploads made (files with a local source)."""
        self.flush()
        return {
            r[0]
            for r in self._conn.execute(
                "SELECT DISTINCT chunk FROM files WHERE chunk IS NOT NULL AND source IS NOT NULL"
            )
        }

    def any_stored(self) -> bool:
        self.flush()
        return (
            self._conn.execute("SELECT 1 FROM files WHERE chunk IS NOT NULL LIMIT 1").fetchone()
            is not None
        )

    def _scan(
        self, where: str, lo: bytes | None = None, hi: bytes | None = None
    ) -> Iterator[tuple[str, DraftFile]]:
        """(path, file) in key order, a page per query (see :meth:`_rows`)."""
        for row in self._rows(_COLUMNS, where, lo, hi):
            yield _path(row[0]), _file(row)

    def _rows(
        self, columns: str, where: str, lo: bytes | None = None, hi: bytes | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """Rows in key order (``columns`` starts with path), a page per query; the
        buffer is written first, then before each page (so edits to paths passed
        already are allowed)."""
        after = lo
        first = True
        while True:
            self.flush()
            conds = [where] if where else []
            args: list[Any] = []
            if after is not None:
                conds.append("path >= ?" if first else "path > ?")
                args.append(after)
            if hi is not None:
                conds.append("path < ?")
                args.append(hi)
            sql = f"SELECT {columns} FROM files"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            sql += f" ORDER BY path LIMIT {_PAGE}"
            with self._reading():
                rows = self._conn.execute(sql, args).fetchall()
            first = False
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]
