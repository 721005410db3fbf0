"""ByteShare: transfer bytes reported in content units, exact in total."""

from __future__ import annotations

from gitdata.core.progress import ByteShare


class Recorder:
    def __init__(self) -> None:
        self.steps: list[int] = []

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        self.steps.append(amount)

    def finish(self) -> None:
        pass


def test_bytes_are_scaled_to_units_and_complete_settles_the_rest():
    bar = Recorder()
    share = ByteShare(bar, units=1000, size=1100)  # zip headers: more bytes than content
    share(550)
    assert sum(bar.steps) == 500
    share(550)
    share(10_000)  # a backend over-reporting cannot push past the units
    assert sum(bar.steps) == 1000
    share.complete()
    assert sum(bar.steps) == 1000


def test_complete_reports_what_the_backend_never_did():
    bar = Recorder()
    share = ByteShare(bar, units=64, size=100)
    share(10)  # e.g. a single PUT that reports nothing until the end
    share.complete()
    assert sum(bar.steps) == 64 and all(step > 0 for step in bar.steps)


def test_start_counting_uses_start_items_when_there_is_one():
    from gitdata.core.progress import start_counting

    calls: list[tuple[str, str, int | None]] = []

    class Plain:
        def start(self, description: str, total: int | None) -> None:
            calls.append(("start", description, total))

    class Counting(Plain):
        def start_items(self, description: str, total: int | None) -> None:
            calls.append(("items", description, total))

    start_counting(Plain(), "checking sizes", 3)
    start_counting(Counting(), "checking sizes", 4)
    assert calls == [("start", "checking sizes", 3), ("items", "checking sizes", 4)]
