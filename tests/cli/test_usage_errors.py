"""Options that do not go together are usage errors: exit 2, in click's usage style."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "--part", "1"], "--part and --num-parts go together"),
        (["get", "--num-parts", "2"], "--part and --num-parts go together"),
        (["get", "--rev", "HEAD"], "--rev goes with --project and --name"),
        (["sync", "--folder", ".", "--project", "p"], "--project and --name go together"),
        (["sync", "--folder", ".", "--parents", "a" * 32], "--parents goes with --project/--name"),
        (["sync", "--folder", ".", "--tags", "t"], "--tags goes with --project/--name"),
        (["merge", "a" * 32, "b" * 32, "--prefer", "mine"], "--prefer 'mine'"),
        (["merge", "--resolve", "a" * 32], "or --resolve, not both"),
        (["get", "--id", "a" * 32, "--project", "p", "--name", "n"], "not both"),
    ],
)
def test_combinations_checked_by_hand_are_usage_errors(gd, tmp_path: Path, args, message):
    r = gd(*args, ok=False)
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr and "Usage: gd" in r.stderr
    assert not (tmp_path / "xdg-state" / "gitdata" / "drafts").exists()
