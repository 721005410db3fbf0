"""The benchmark scripts import each other as top-level modules (run as scripts,
their folder is on sys.path): the tests put that folder there too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``benchmarks/`` on sys.path for the test; its path."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield BENCHMARKS
