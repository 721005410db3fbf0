"""Progress reporting without printing: the library calls these, the CLI renders them."""

from __future__ import annotations

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
