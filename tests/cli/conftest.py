from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitdata.cli.main import app


class Result:
    def __init__(self, r) -> None:
        self.exit_code = r.exit_code
        self.stdout = r.stdout
        self.stderr = r.stderr
        self.exception = r.exception

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def gd() -> Callable[..., Result]:
    """Run `gd ARGS...` in-process through typer's runner."""
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        r = Result(runner.invoke(app, list(args)))
        if ok and r.exit_code != 0:
            raise AssertionError(
                f"gd {' '.join(args)} -> {r.exit_code}\n{r.stdout}\n{r.stderr}\n{r.exception!r}"
            )
        return r

    return run


def run_gd(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`gd ARGS...` in its own process (as a user runs it), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "gitdata", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
