"""The stat cache: skip rehashing files whose inode, mtime and size are unchanged.

sqlite3 (WAL, busy timeout) so several processes can share it.  A damaged
database never breaks the caller: it is recreated and everything is rehashed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

# A file modified within this window of being hashed may change again within
# the same mtime tick without its stat changing ("racily clean", as git calls
# it); such entries are not stored.  Filesystems with whole-second timestamps
# get a 2 s window; nanosecond ones (ext4, xfs, btrfs) tick every few ms.
_RACY_NS_COARSE = 2_000_000_000
_RACY_NS_FINE = 100_000_000


def _racy(st: os.stat_result, now_ns: int) -> bool:
    window = _RACY_NS_COARSE if st.st_mtime_ns % 1_000_000_000 == 0 else _RACY_NS_FINE
    return now_ns - st.st_mtime_ns <= window


class StatCache:
    """path -> sha256, valid while (inode, mtime_ns, size) match."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.db_path, timeout=10, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, "
                "mtime_ns INTEGER, size INTEGER, sha256 TEXT) WITHOUT ROWID"
            )
            self._conn = conn
        return self._conn

    def _reset(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.db_path}{suffix}")

    def lookup_many(self, items: list[tuple[str, os.stat_result]]) -> dict[str, str]:
        """Known sha256 for each path whose inode, mtime_ns and size still match."""
        if not items:
            return {}
        try:
            return self._lookup(items)
        except sqlite3.DatabaseError:
            self._reset()
            return {}

    def _lookup(self, items: list[tuple[str, os.stat_result]]) -> dict[str, str]:
        conn = self._connect()
        wanted = {p: st for p, st in items}
        # Paths from one scan share a prefix: one primary-key range scan over it
        # beats a query (or a temp-table join) per path.
        low = os.path.commonpath(list(wanted)) if len(wanted) > 1 else next(iter(wanted))
        high = low + "\U0010ffff"
        rows = conn.execute(
            "SELECT path, ino, mtime_ns, size, sha256 FROM stat WHERE path >= ? AND path <= ?",
            (low, high),
        ).fetchall()
        out = {}
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

    def store_many(self, items: list[tuple[str, os.stat_result, str]]) -> None:
        """Remember hashes (skipping racily-clean files); failures are ignored."""
        now = time.time_ns()
        rows = [
            (p, st.st_ino, st.st_mtime_ns, st.st_size, sha)
            for p, st, sha in items
            if not _racy(st, now)
        ]
        if not rows:
            return
        try:
            conn = self._connect()
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            self._reset()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
