"""state.db: when each blob and copy was last used, which blobs each copy holds,
and the stat of each blob when its content was last known good.

Pure bookkeeping: if the database is lost the cache still works (last use then
falls back to each blob's write time, copies of unknown content are checked
by inode before eviction, and blobs with no known-good stat are rehashed
before they are served).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from gitdata.cache.sqlitedb import SafeDB, write_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_use (sha TEXT PRIMARY KEY, used REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS copy_use (key TEXT PRIMARY KEY, used REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS copy_blob (sha TEXT, key TEXT, PRIMARY KEY (sha, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_ok (
    sha TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ino INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scans (what TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
"""

# (size, mtime_ns, inode) of a blob file when its content matched its name
BlobStat = tuple[int, int, int]


class UseLog:
    """Last-use times and copy membership, kept in one sqlite file."""

    def __init__(self, path: Path) -> None:
        self._db = SafeDB(path, _SCHEMA)

    def touch(self, shas: Iterable[str], copy_key: str | None, now: float) -> None:
        """Mark blobs (and a copy) used at ``now``: one transaction."""
        rows = [(sha, now) for sha in shas]

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany("INSERT OR REPLACE INTO blob_use (sha, used) VALUES (?, ?)", rows)
                if copy_key is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO copy_use (key, used) VALUES (?, ?)", (copy_key, now)
                    )

        self._db.run(work, None)

    def record_copy(self, key: str, shas: Iterable[str]) -> None:
        """Remember which blobs copy ``key`` holds."""
        rows = [(sha, key) for sha in set(shas)]

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute("DELETE FROM copy_blob WHERE key = ?", (key,))
                conn.executemany("INSERT OR IGNORE INTO copy_blob (sha, key) VALUES (?, ?)", rows)

        self._db.run(work, None)

    def record_good(self, rows: list[tuple[str, BlobStat]]) -> None:
        """Remember the stat of blobs whose content was just written or verified."""
        values = [(sha, *st) for sha, st in rows]
        if not values:
            return

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO blob_ok (sha, size, mtime_ns, ino) VALUES (?, ?, ?, ?)",
                    values,
                )

        self._db.run(work, None)

    def good_stats(self, shas: Iterable[str]) -> dict[str, BlobStat]:
        """The known-good stat of each of ``shas`` on record (empty if unknown)."""
        wanted = json.dumps(sorted(set(shas)))

        def work(conn: sqlite3.Connection) -> dict[str, BlobStat]:
            rows = conn.execute(
                "SELECT b.sha, b.size, b.mtime_ns, b.ino "
                "FROM json_each(?) AS j JOIN blob_ok AS b ON b.sha = j.value",
                (wanted,),
            )
            return {sha: (size, mtime_ns, ino) for sha, size, mtime_ns, ino in rows}

        return self._db.run(work, {})

    def recorded_bytes(self) -> int | None:
        """The bytes of every blob with a known-good stat on record (None if unknown):
        what a get asks before it decides a full scan of the cache is needed."""
        return self._db.run(
            lambda conn: int(
                conn.execute("SELECT coalesce(sum(size), 0) FROM blob_ok").fetchone()[0]
            ),
            None,
        )

    def last_scan(self) -> float | None:
        """When the cache's blobs were last all listed and measured (None: never)."""

        def work(conn: sqlite3.Connection) -> float | None:
            row = conn.execute("SELECT at FROM scans WHERE what = 'usage'").fetchone()
            return None if row is None else float(row[0])

        return self._db.run(work, None)

    def note_scan(self, now: float) -> None:
        """Remember that the blobs were all measured at ``now``."""

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.execute("INSERT OR REPLACE INTO scans (what, at) VALUES ('usage', ?)", (now,))

        self._db.run(work, None)

    def last_used(self) -> dict[str, float]:
        """sha256 -> last use time for every blob on record (empty if unknown)."""
        return self._db.run(
            lambda conn: dict(conn.execute("SELECT sha, used FROM blob_use").fetchall()), {}
        )

    def known_copies(self) -> set[str] | None:
        """Keys whose content is on record, or None if the record cannot be read."""
        return self._db.run(
            lambda conn: {k for (k,) in conn.execute("SELECT DISTINCT key FROM copy_blob")}, None
        )

    def copies_containing(self, shas: Iterable[str]) -> set[str] | None:
        """Keys of recorded copies holding any of ``shas`` (None if unknown)."""
        wanted = json.dumps(sorted(set(shas)))

        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                "SELECT DISTINCT c.key FROM json_each(?) AS j JOIN copy_blob AS c ON c.sha = j.value",
                (wanted,),
            )
            return {k for (k,) in rows}

        return self._db.run(work, None)

    def forget(self, shas: Iterable[str], keys: Iterable[str]) -> None:
        """Drop the records of removed blobs and copies."""
        sha_rows = [(s,) for s in shas]
        key_rows = [(k,) for k in keys]

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany("DELETE FROM blob_use WHERE sha = ?", sha_rows)
                conn.executemany("DELETE FROM blob_ok WHERE sha = ?", sha_rows)
                conn.executemany("DELETE FROM copy_use WHERE key = ?", key_rows)
                conn.executemany("DELETE FROM copy_blob WHERE key = ?", key_rows)

        self._db.run(work, None)

    def clear(self) -> None:
        """Forget everything."""

        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                for table in ("blob_use", "copy_use", "copy_blob", "blob_ok", "scans"):
                    conn.execute(f"DELETE FROM {table}")

        self._db.run(work, None)

    def close(self) -> None:
        self._db.close()
