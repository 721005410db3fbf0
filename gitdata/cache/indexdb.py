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
from gitdata.core.ids import is_sha256

INDEX_DB = "index.db"
# Hashes are kept as 32-byte blobs and each entry names its index object by a small
# integer, so a row is a fifth of the text one of the first layout (tables
# index_objects / index_entries, dropped here: their rows come back from the store's
# index objects on the next listing); inserting a close's 20,000 entries took about
# half as long.
_SCHEMA = """
DROP TABLE IF EXISTS index_entries;
DROP TABLE IF EXISTS index_objects;
CREATE TABLE IF NOT EXISTS content_objects (
    id INTEGER PRIMARY KEY, store TEXT NOT NULL, key TEXT NOT NULL, UNIQUE (store, key)
);
CREATE TABLE IF NOT EXISTS content_entries (
    sha BLOB NOT NULL, object INTEGER NOT NULL, size INTEGER NOT NULL, chunk BLOB NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, method TEXT NOT NULL,
    PRIMARY KEY (sha, object)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS content_entries_by_object ON content_entries (object);
CREATE TABLE IF NOT EXISTS covered_versions (
    store TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (store, version)
) WITHOUT ROWID;
"""
_BATCH = 500  # hashes per query: below every sqlite build's limit of bound parameters


def _blob(sha: str) -> bytes | None:
    """A sha256 in hex as its 32 bytes; None for anything else."""
    return bytes.fromhex(sha) if is_sha256(sha) else None


class IndexDB:
    """Index objects seen and their entries, per store (see module doc)."""

    def __init__(self, cache_dir: Path) -> None:
        self._db = SafeDB(Path(cache_dir) / INDEX_DB, _SCHEMA)

    def known_objects(self, store: str) -> set[str] | None:
        """The index object keys read for ``store``; None when the database is unusable."""

        def work(conn: sqlite3.Connection) -> set[str] | None:
            rows = conn.execute("SELECT key FROM content_objects WHERE store = ?", (store,))
            return {key for (key,) in rows}

        return self._db.run(work, None)

    def add_object(self, store: str, key: str, entries: Iterable[IndexEntry]) -> bool:
        """Record the index object ``key`` and its entries (one transaction).  Entries
        whose hashes are not sha256 hex are left out (they could never be hits)."""

        def work(conn: sqlite3.Connection) -> bool:
            with write_transaction(conn):
                conn.execute(
                    "INSERT OR IGNORE INTO content_objects (store, key) VALUES (?, ?)", (store, key)
                )
                ((object_id,),) = conn.execute(
                    "SELECT id FROM content_objects WHERE store = ? AND key = ?", (store, key)
                ).fetchall()
                rows = []
                for e in entries:
                    sha, chunk = _blob(e.sha256), _blob(e.chunk)
                    if sha is not None and chunk is not None:
                        rows.append((sha, object_id, e.size, chunk, e.offset, e.length, e.method))
                conn.executemany(
                    "INSERT OR IGNORE INTO content_entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
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
                    for (object_id,) in conn.execute(
                        "SELECT id FROM content_objects WHERE store = ? AND key = ?", (store, key)
                    ).fetchall():
                        conn.execute("DELETE FROM content_entries WHERE object = ?", (object_id,))
                        conn.execute("DELETE FROM content_objects WHERE id = ?", (object_id,))
            return True

        return self._db.run(work, False)

    def lookup(self, store: str, shas: Iterable[str]) -> dict[str, list[IndexEntry]]:
        """content sha256 -> the entries the index holds for it, for each of ``shas``
        it knows (batched queries of :data:`_BATCH` hashes over the primary key)."""
        asked = set(shas)

        def work(conn: sqlite3.Connection) -> dict[str, list[IndexEntry]]:
            out: dict[str, list[IndexEntry]] = {}
            if not conn.execute(
                "SELECT 1 FROM content_objects WHERE store = ? LIMIT 1", (store,)
            ).fetchall():
                return out  # a store with no index yet (its first close): nothing to ask
            wanted = sorted({b for b in map(_blob, asked) if b is not None})
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                rows = conn.execute(
                    "SELECT e.sha, e.size, e.chunk, e.offset, e.length, e.method "
                    "FROM content_entries AS e JOIN content_objects AS o ON o.id = e.object "
                    f"WHERE o.store = ? AND e.sha IN ({', '.join('?' * len(batch))})",
                    (store, *batch),
                )
                for sha, size, chunk, offset, length, method in rows:
                    entry = IndexEntry(sha.hex(), size, chunk.hex(), offset, length, method)
                    out.setdefault(entry.sha256, []).append(entry)
            return out

        return self._db.run(work, {})

    def close(self) -> None:
        self._db.close()
