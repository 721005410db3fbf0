"""Store locks: writers share the store, deleters (gc, delete) have it alone.

Object stores offer no atomic create-if-absent everywhere, so a lock is an
ordinary object ``locks/<random id>.yaml`` and taking one is "write mine, then
list them all": of two processes that both write before they list, at least one
sees the other's lock (the store is strongly consistent), and that one backs
off.  A holder rewrites its lock while it runs; a lock its holder stopped
rewriting for longer than the ``stale_after`` it declares is ignored, so a
killed process blocks nobody for long.  Ages are measured in the store's own
clock (object modification times), never by comparing two machines' clocks.
The protocol is docs/format.md §11.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.config import DEFAULT_LOCK_STALE
from gitdata.errors import (
    GitDataError,
    NotFoundError,
    StorageUnavailableError,
    StoreLockedError,
)

LOCKS_PREFIX = "locks/"
LOCK_FORMAT = 1
DEFAULT_STALE_SECONDS = DEFAULT_LOCK_STALE
# A holder rewrites its lock this often (a fraction of its stale time) ...
_REFRESH_FRACTION = 6
# ... and trusts it, before a commit point or a delete, only this long after the
# last rewrite that succeeded; later it rewrites and lists the locks again first.
_TRUST_FRACTION = 2


@dataclass(frozen=True)
class LockInfo:
    """One lock found in the store."""

    key: str
    exclusive: bool
    operation: str
    host: str
    pid: int
    created: str
    stale_after: float
    modified: float  # store time of the last rewrite

    def describe(self) -> str:
        """``gd gc on host build-7 (pid 4242) since 2024-05-01T10:00:00Z``."""
        return f"gd {self.operation} on host {self.host} (pid {self.pid}) since {self.created}"


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read_lock(store: Any, key: str, modified: float) -> LockInfo | None:
    """The lock at ``key``; None when it vanished (released) meanwhile.

    A lock that cannot be read is taken as exclusive with the default stale
    time: it blocks everyone, but only until it goes stale.
    """
    try:
        doc = load_yaml_mapping(store.get_bytes(key), key)
        stale_after = float(doc["stale_after"])
        if doc.get("format") != LOCK_FORMAT or not 1 <= stale_after < float("inf"):
            raise ValueError("unknown lock format or stale time")
        return LockInfo(
            key=key,
            exclusive=bool(doc["exclusive"]),
            operation=str(doc.get("operation", "?")),
            host=str(doc.get("host", "?")),
            pid=int(doc.get("pid", 0)),
            created=str(doc.get("created", "?")),
            stale_after=stale_after,
            modified=modified,
        )
    except NotFoundError:
        return None
    except (GitDataError, KeyError, TypeError, ValueError):
        return LockInfo(
            key, True, "(unreadable lock)", "?", 0, "?", DEFAULT_STALE_SECONDS, modified
        )


class StoreLock:
    """A shared or exclusive lock on one store (see module doc); use :func:`store_lock`."""

    def __init__(self, store: Any, *, exclusive: bool, operation: str, stale_after: int) -> None:
        if stale_after <= 0:
            raise ValueError("stale_after must be positive")
        self.store = store
        self.exclusive = exclusive
        self.operation = operation
        self.stale_after = int(stale_after)
        self.key = f"{LOCKS_PREFIX}{secrets.token_hex(16)}.yaml"
        self.created = _utc_now()
        self._last_ok = 0.0  # monotonic time of the last rewrite that succeeded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ the object
    def _body(self) -> bytes:
        return dump_yaml(
            {
                "format": LOCK_FORMAT,
                "exclusive": self.exclusive,
                "operation": self.operation,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "created": self.created,
                "refreshed": _utc_now(),
                "stale_after": self.stale_after,
            }
        ).encode("utf-8")

    def _write(self) -> None:
        started = time.monotonic()
        self.store.put_bytes(self.key, self._body(), overwrite=True)
        self._last_ok = started

    def conflicts(self) -> list[LockInfo]:
        """Other locks that are not stale and conflict with this one."""
        listed = self.store.list_info(LOCKS_PREFIX)
        mine = [modified for key, _, modified in listed if key == self.key]
        for _ in range(2):  # a store that does not show a write at once: ask again
            if mine:
                break
            time.sleep(0.2)
            listed = self.store.list_info(LOCKS_PREFIX)
            mine = [modified for key, _, modified in listed if key == self.key]
        if not mine:
            raise StorageUnavailableError(
                f"{self.store.url} does not list the lock gd just wrote ({self.key})",
                hint="the store must show a write to the next listing; try again",
            )
        now = mine[0] if mine[0] != float("inf") else time.time()
        out = []
        for key, _, modified in listed:
            if key == self.key or not key.endswith(".yaml"):
                continue
            info = _read_lock(self.store, key, modified)
            if info is None or now - info.modified > info.stale_after:
                continue
            if info.exclusive or self.exclusive:
                out.append(info)
        return out

    def stale_locks(self) -> list[str]:
        """Keys of locks whose holders stopped refreshing them (to clean up)."""
        listed = self.store.list_info(LOCKS_PREFIX)
        mine = [modified for key, _, modified in listed if key == self.key]
        now = mine[0] if mine and mine[0] != float("inf") else time.time()
        out = []
        for key, _, modified in listed:
            if key == self.key:
                continue
            info = _read_lock(self.store, key, modified)
            if info is not None and now - info.modified > info.stale_after:
                out.append(key)
        return out

    def _refuse(self, holders: list[LockInfo]) -> StoreLockedError:
        names = ", ".join(h.describe() for h in holders[:3])
        if len(holders) > 3:
            names += f" and {len(holders) - 3} more"
        if self.exclusive:
            what = f"gd {self.operation} needs {self.store.url} to itself, but it is in use by"
            hint = "run it again when they have finished"
        else:
            what = f"{self.store.url} is locked by"
            hint = "run the command again when it has finished"
        return StoreLockedError(
            f"{what} {names}",
            holders=[h.describe() for h in holders],
            locks=[h.key for h in holders],
            hint=f"{hint}; a lock left by a killed process stops counting "
            f"{int(holders[0].stale_after)}s after its last refresh",
        )

    # ------------------------------------------------------------ lifecycle
    def acquire(self) -> None:
        """Write the lock, then refuse (removing it again) if a conflicting one exists."""
        self._write()
        try:
            holders = self.conflicts()
        except BaseException:
            self._remove()
            raise
        if holders:
            self._remove()
            raise self._refuse(holders)
        self._thread = threading.Thread(
            target=self._refresh_loop, name=f"gd-lock-{self.key}", daemon=True
        )
        self._thread.start()

    def confirm(self) -> None:
        """Rewrite the lock and list again: call right before a commit point or a
        delete.  Raises :class:`StoreLockedError` (the lock is kept) when a
        conflicting lock appeared while this one may have looked stale."""
        self._write()
        holders = self.conflicts()
        if holders:
            raise self._refuse(holders)

    def ensure_fresh(self) -> None:
        """:meth:`confirm`, unless the last successful rewrite is recent enough."""
        if time.monotonic() - self._last_ok > self.stale_after / _TRUST_FRACTION:
            self.confirm()

    def _refresh_loop(self) -> None:
        interval = self.stale_after / _REFRESH_FRACTION
        while not self._stop.wait(interval):
            with contextlib.suppress(Exception):  # retried next round; confirm() checks
                self._write()

    def _remove(self) -> None:
        with contextlib.suppress(GitDataError, OSError):
            self.store.delete(self.key)

    def release(self) -> None:
        """Stop refreshing and delete the lock (a failure leaves it to go stale)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._remove()


_held = threading.local()


@contextlib.contextmanager
def store_lock(
    store: Any,
    *,
    exclusive: bool,
    operation: str,
    stale_after: int = DEFAULT_STALE_SECONDS,
) -> Iterator[StoreLock]:
    """Hold a lock on ``store`` for the body.  Re-entrant within one thread: a
    shared lock inside a lock this thread already holds on the same store
    reuses it (so ``close`` and the upload it runs share one lock)."""
    held: dict[str, StoreLock] = getattr(_held, "locks", None) or {}
    _held.locks = held
    outer = held.get(store.url)
    if outer is not None:
        if exclusive and not outer.exclusive:
            raise RuntimeError("an exclusive store lock was asked for inside a shared one")
        yield outer
        return
    lock = StoreLock(store, exclusive=exclusive, operation=operation, stale_after=stale_after)
    lock.acquire()
    held[store.url] = lock
    try:
        yield lock
    finally:
        held.pop(store.url, None)
        lock.release()
