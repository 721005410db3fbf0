"""`gd gc` lists what it removes (project/name, version, id, size) and, on a
terminal, asks first; --yes, --dry-run and piped input do not ask."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitdata.cli import output
from gitdata.cli.main import app
from tests.conftest import make_tree


@pytest.fixture
def orphan(gd, tmp_path: Path, monkeypatch) -> str:
    """A closed version no pointer reaches; the working directory is then a git repo."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    did = gd("create", "--project", "vision", "--name", "orphan", "--json").json()["id"]
    gd("add", "--files", str(make_tree(tmp_path / "src", {"a.txt": "a" * 3000})))
    gd("close")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    return did


def _still_there(gd, did: str) -> bool:
    return gd("show", "--id", did, ok=False).exit_code == 0


def test_on_a_terminal_gc_lists_and_asks(gd, orphan: str, monkeypatch):
    monkeypatch.setattr(output, "stdin_is_tty", lambda: True)
    said_no = CliRunner().invoke(app, ["gc", "--grace", "0"], input="n\n")
    assert said_no.exit_code == 0, said_no.stderr
    assert f"will remove: vision/orphan 1.0.0 {orphan} (" in said_no.stderr
    assert "remove 1 version(s) and 2 object(s)" in said_no.stderr
    assert "gc cancelled: nothing was removed" in said_no.stdout
    assert _still_there(gd, orphan)
    said_yes = CliRunner().invoke(app, ["gc", "--grace", "0"], input="y\n")
    assert said_yes.exit_code == 0 and "removed 1 version(s)" in said_yes.stdout
    assert not _still_there(gd, orphan)


def test_yes_skips_the_question(gd, orphan: str, monkeypatch):
    monkeypatch.setattr(output, "stdin_is_tty", lambda: True)
    r = gd("gc", "--grace", "0", "--yes")  # the runner's stdin is empty: no question read
    assert "remove 1 version(s)?" not in r.stderr and "removed 1 version(s)" in r.stdout
    assert f"removed: vision/orphan 1.0.0 {orphan}" in r.stderr
    assert not _still_there(gd, orphan)


def test_dry_run_and_piped_input_do_not_ask(gd, orphan: str, monkeypatch):
    dry = gd("gc", "--grace", "0", "--dry-run", "--json").json()
    assert dry["removed"] == [
        {
            "project": "vision",
            "name": "orphan",
            "version": "1.0.0",
            "id": orphan,
            "bytes": dry["freed_bytes"],
        }
    ]
    listed = gd("gc", "--grace", "0", "--dry-run")
    assert f"would remove: vision/orphan 1.0.0 {orphan}" in listed.stderr
    assert _still_there(gd, orphan)
    monkeypatch.setattr(output, "stdin_is_tty", lambda: True)
    asked = gd("gc", "--grace", "0", "--dry-run")
    assert "?" not in asked.stderr and _still_there(gd, orphan)
    monkeypatch.setattr(output, "stdin_is_tty", lambda: False)
    assert "removed 1 version(s)" in gd("gc", "--grace", "0").stdout
    assert not _still_there(gd, orphan)
