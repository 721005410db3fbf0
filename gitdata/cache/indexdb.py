"""The local copy of stores' content indexes (docs/format.md §10 and §14).

One sqlite database in the cache folder, ``index.db``, holds for each store
(keyed by the same 16 hex digits as its records folder) the index objects read
so far and their entries.  Lookups are batched sqlite queries, so a million
entries cost disk, not memory.  Like every bookkeeping database it is only an
optimisation: when busy or damaged it answers "nothing known" (and a damaged
one is recreated), and the store's index objects fill it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from gitdata.cache.sqlitedb import SafeDB, write_transaction
from gitdata.core.contentindex import IndexEntry

INDEX_DB = "index.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_objects (
    store TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (store, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_entries (
    store TEXT NOT NULL, sha TEXT NOT NULL, source TEXT NOT NULL,
    size INTEGER NOT NULL, chunk TEXT NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, method TEXT NOT NULL,
    PRIMARY KEY (store, sha, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_entries_by_source ON index_entries (store, source);
CREATE TABLE IF NOT EXISTS covered_versions (
    store TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (store, version)
) WITHOUT ROWID;
"""
_BATCH = 500  # hashes per query: below every sqlite build's limit of bound parameters


class IndexDB:
    """Index objects seen and their entries, per store (see module doc)."""

    def __init__(self, cache_dir: Path) -> None:
        self._db = SafeDB(Path(cache_dir) / INDEX_DB, _SCHEMA)

    def known_objects(self, store: str) -> set[str] | None:
        """The index object keys read for ``store``; None when the database is unusable."""

        def work(conn: sqlite3.Connection) -> set[str] | None:
            rows = conn.execute("SELECT key FROM index_objects WHERE store = ?", (store,))
            return {key for (key,) in rows}

        return self._db.run(work, None)

    def add_object(self, store: str, key: str, entries: Iterable[IndexEntry]) -> bool:
        """Record the index object ``key`` and its entries (one transaction)."""

        def work(conn: sqlite3.Connection) -> bool:
            with write_transaction(conn):
                conn.executemany(
                    "INSERT OR IGNORE INTO index_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (store, e.sha256, key, e.size, e.chunk, e.offset, e.length, e.method)
                        for e in entries
                    ),
                )
                conn.execute("INSERT OR IGNORE INTO index_objects VALUES (?, ?)", (store, key))
            return True

        return self._db.run(work, False)

    def covers(self, store: str, versions: Iterable[str]) -> bool:
        """Whether every content of each of ``versions`` has an entry here (see
        :meth:`mark_covered`); False when unsure."""
        wanted = sorted(set(versions))

        def work(conn: sqlite3.Connection) -> bool:
            marks = ", ".join("?" * len(wanted))
            rows = conn.execute(
                f"SELECT COUNT(*) FROM covered_versions WHERE store = ? AND version IN ({marks})",
                (store, *wanted),
            )
            return bool(rows.fetchone()[0] == len(wanted))

        return bool(wanted) and self._db.run(work, False)

    def mark_covered(self, store: str, version: str) -> bool:
        """Note that every content of ``version`` has an entry here: its close indexed
        what it newly stored and its parents were covered."""

        def work(conn: sqlite3.Connection) -> bool:
            with write_transaction(conn):
                conn.execute(
                    "INSERT OR IGNORE INTO covered_versions VALUES (?, ?)", (store, version)
                )
            return True

        return self._db.run(work, False)

    def drop_objects(self, store: str, keys: Iterable[str]) -> bool:
        """Forget index objects the store no longer has, with their entries (and
        every version's coverage in that store: it may have relied on them)."""
        keys = list(keys)

        def work(conn: sqlite3.Connection) -> bool:
            with write_transaction(conn):
                if keys:
                    conn.execute("DELETE FROM covered_versions WHERE store = ?", (store,))
                for key in keys:
                    conn.execute(
                        "DELETE FROM index_entries WHERE store = ? AND source = ?", (store, key)
                    )
                    conn.execute(
                        "DELETE FROM index_objects WHERE store = ? AND key = ?", (store, key)
                    )
            return True

        return self._db.run(work, False)

    def lookup(self, store: str, shas: Iterable[str]) -> dict[str, list[IndexEntry]]:
        """content sha256 -> the entries the index holds for it, for each of ``shas``
        it knows (batched queries of :data:`_BATCH` hashes over the primary key)."""
        wanted = sorted(set(shas))

        def work(conn: sqlite3.Connection) -> dict[str, list[IndexEntry]]:
            out: dict[str, list[IndexEntry]] = {}
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                rows = conn.execute(
                    "SELECT sha, size, chunk, offset, length, method FROM index_entries "
                    f"WHERE store = ? AND sha IN ({', '.join('?' * len(batch))})",
                    (store, *batch),
                )
                for sha, size, chunk, offset, length, method in rows:
                    entry = IndexEntry(sha, size, chunk, offset, length, method)
                    out.setdefault(sha, []).append(entry)
            return out

        return self._db.run(work, {})

    def close(self) -> None:
        self._db.close()
