"""A small sqlite3 wrapper that never breaks its caller.

Bookkeeping databases (the stat cache, last-use records) are an optimisation:
when one is busy beyond its timeout the operation is skipped, and when one is
corrupt it is deleted and recreated.  Callers get a default value instead of
an exception.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SafeDB:
    """A lazily opened sqlite3 database in WAL mode, shared by threads and processes."""

    def __init__(self, path: Path, schema: str, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.schema = schema
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(self.schema)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _discard(self) -> None:
        """Close and delete the database files (it is recreated on next use)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def run(self, work: Callable[[sqlite3.Connection], T], default: T) -> T:
        """``work(conn)``, or ``default`` if the database is busy, unreachable or corrupt."""
        with self._mutex:
            for _attempt in range(2):
                conn = None
                try:
                    conn = self._connect()
                    return work(conn)
                except sqlite3.OperationalError:
                    # Busy past the timeout, disk full, unopenable: skip, keep the file.
                    self._rollback(conn)
                    return default
                except sqlite3.DatabaseError:
                    # Not a database / malformed: start afresh, then try once more.
                    self._discard()
                except OSError:
                    return default
            return default

    @staticmethod
    def _rollback(conn: sqlite3.Connection | None) -> None:
        if conn is not None and conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")
