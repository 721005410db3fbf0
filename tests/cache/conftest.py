"""Fixtures for the cache layer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata.cache import LocalCache


@pytest.fixture
def cache(tmp_path: Path) -> LocalCache:
    return LocalCache(tmp_path / "cache")
