"""The record index: a local sqlite table of one store's version record headers.

Records are immutable (docs/format.md §2), so what a record says about itself
(id, project, name, version, created, tags) can be kept once it has been read.
The index holds only that: which records exist is always the store's own
listing, and metadata events are applied on top by the caller (ops/records.py).
Like the stat cache it is an optimisation: busy, unreadable or corrupt, it
reads as empty (a corrupt file is deleted and rebuilt) and never fails a caller.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from gitdata.cache.owned import RECORD_INDEX
from gitdata.cache.sqlitedb import SafeDB, write_transaction
from gitdata.core.record import RecordHeader

INDEX_NAME = RECORD_INDEX  # records/<store>/index.db, beside the record copies
# the table's name carries its layout: a later layout uses a new table
_SCHEMA = """
CREATE TABLE IF NOT EXISTS header_v1 (
    id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL,
    version TEXT NOT NULL, created TEXT NOT NULL, tags TEXT NOT NULL
) WITHOUT ROWID;
"""


def _header(row: tuple[str, str, str, str, str, str]) -> RecordHeader | None:
    """A row back as a header; None for a row that does not read as one."""
    vid, project, name, version, created, tags = row
    try:
        parsed = [] if tags == "[]" else json.loads(tags)  # most records have no tags
    except ValueError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        return None
    return RecordHeader(vid, project, name, version, created, tuple(parsed))


class RecordIndex:
    """Version id -> :class:`RecordHeader` of one store, shared by processes."""

    def __init__(self, db_path: Path, *, timeout: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self._db = SafeDB(self.db_path, _SCHEMA, timeout=timeout)

    def headers(self) -> dict[str, RecordHeader]:
        """Every header held (rows that do not read back are left out)."""
        empty: list[tuple[str, str, str, str, str, str]] = []
        rows = self._db.run(
            lambda conn: conn.execute(
                "SELECT id, project, name, version, created, tags FROM header_v1"
            ).fetchall(),
            empty,
        )
        out: dict[str, RecordHeader] = {}
        for row in rows:
            header = _header(row)
            if header is not None:
                out[header.id] = header
        return out

    def add(self, headers: Iterable[RecordHeader]) -> None:
        """Remember ``headers`` (one transaction; skipped when the database is busy)."""
        rows = [
            (h.id, h.project, h.name, h.version, h.created, json.dumps(list(h.tags)))
            for h in headers
        ]
        if rows:
            self._write(
                "INSERT OR REPLACE INTO header_v1 (id, project, name, version, created, tags) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def drop(self, ids: Iterable[str]) -> None:
        """Forget the headers of ``ids`` (records no longer in the store)."""
        rows = [(i,) for i in ids]
        if rows:
            self._write("DELETE FROM header_v1 WHERE id = ?", rows)

    def _write(self, sql: str, rows: Sequence[tuple[str, ...]]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with write_transaction(conn):
                conn.executemany(sql, rows)

        self._db.run(work, None)

    def close(self) -> None:
        """Close the database (reopened on next use)."""
        self._db.close()
