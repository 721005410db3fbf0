"""The cache's inter-process lock: flock on one file, shared or exclusive.

Materialising (publishing copies, linking, copying) holds it shared; pruning,
clearing and verifying hold it exclusive, so content is never evicted while
another process is using it.  A thread that already holds the lock of a cache
may take it again (nested use is a no-op); asking for exclusive while holding
shared would deadlock, so it raises instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_held = threading.local()  # per thread: lock file path -> "shared" | "exclusive"


def _held_modes() -> dict[str, str]:
    modes = getattr(_held, "modes", None)
    if modes is None:
        modes = _held.modes = {}
    return modes


class CacheLock:
    """flock-based readers/writer lock on ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.abspath(path))

    @contextlib.contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        """Hold the lock (blocking until it is granted) for the ``with`` body."""
        key = str(self.path)
        modes = _held_modes()
        held = modes.get(key)
        if held is not None:
            if exclusive and held == "shared":
                raise RuntimeError("cannot take the cache lock exclusive while holding it shared")
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            modes[key] = "exclusive" if exclusive else "shared"
            try:
                yield
            finally:
                del modes[key]
        finally:
            os.close(fd)  # closing releases the flock

    @contextlib.contextmanager
    def try_exclusive(self) -> Iterator[bool]:
        """Hold the lock exclusive for the ``with`` body if no one else holds it
        now; yields whether it was granted (never waits)."""
        key = str(self.path)
        modes = _held_modes()
        if key in modes:
            yield modes[key] == "exclusive"
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            modes[key] = "exclusive"
            try:
                yield True
            finally:
                del modes[key]
        finally:
            os.close(fd)
