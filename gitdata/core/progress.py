"""Progress reporting without printing: the library calls these, the CLI renders them."""

from __future__ import annotations

import threading
from typing import Protocol


class Progress(Protocol):
    """Receives progress of one long operation (bytes or items)."""

    def start(self, description: str, total: int | None) -> None:
        """A phase begins; ``total`` is in the phase's unit, or None if unknown."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` more units are done.  Must be thread-safe."""

    def finish(self) -> None:
        """The current phase ended."""


class NullProgress:
    """A Progress that ignores everything (the default)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


NULL_PROGRESS = NullProgress()


def start_counting(progress: Progress, description: str, total: int | None) -> None:
    """Begin a phase counted in items (files, objects), not bytes: through the
    progress's optional ``start_items`` (the CLI's bar then shows ``n/total``
    instead of sizes), else its ``start``."""
    start_items = getattr(progress, "start_items", None)
    if callable(start_items):
        start_items(description, total)
    else:
        progress.start(description, total)


class ByteShare:
    """Reports a transfer's bytes to ``progress`` as its share of ``units``.

    A chunk of ``size`` bytes carries ``units`` of content (their sizes differ by
    zip headers, or by compression): each byte sent advances the bar by
    ``units / size``, and :meth:`complete` settles the rest, so the phase's total
    comes out exact whatever the store reported.
    """

    def __init__(self, progress: Progress, units: int, size: int) -> None:
        self._progress = progress
        self._units = units
        self._size = max(size, 1)
        self._bytes = 0
        self._reported = 0
        self._lock = threading.Lock()

    def __call__(self, nbytes: int) -> None:
        with self._lock:
            self._bytes = min(self._size, self._bytes + nbytes)
            due = self._units * self._bytes // self._size - self._reported
            self._reported += due
        if due > 0:
            self._progress.advance(due)

    def complete(self) -> None:
        with self._lock:
            due = self._units - self._reported
            self._reported = self._units
        if due > 0:
            self._progress.advance(due)
