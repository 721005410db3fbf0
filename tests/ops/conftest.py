"""Fixtures shared by the ops tests."""

from __future__ import annotations

import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository (branch main) that is also the working directory."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def in_thread() -> Iterator[Callable[[Callable[[], object]], dict]]:
    """Run a callable on a daemon thread: its value, error and warnings land in the
    returned dict (and ``thread``); every thread is joined at teardown."""
    threads: list[threading.Thread] = []

    def start(fn: Callable[[], object]) -> dict:
        out: dict = {}

        def run() -> None:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out["value"] = fn()
                out["warnings"] = [str(w.message) for w in caught]
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                out["error"] = exc

        t = threading.Thread(target=run, daemon=True)
        t.start()
        out["thread"] = t
        threads.append(t)
        return out

    yield start
    for t in threads:
        t.join(30)
