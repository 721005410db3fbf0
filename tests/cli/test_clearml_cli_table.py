"""docs/clearml.md's table of clearml-data commands and flags matches gd's CLI.

Every row marked ``supported`` must name a gd command that has that flag
(read from the click command typer builds for ``gitdata.cli.main.app``), so the
table cannot claim a flag gd lost, or miss one renamed.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from gitdata.cli.main import app

DOC = Path(__file__).parents[2] / "docs" / "clearml.md"
STATUSES = {"supported", "planned"}


def table_rows() -> list[tuple[str, str, str]]:
    """(command, flag or '', status) of each row of the commands-and-flags table."""
    section = DOC.read_text().split("## Commands and flags", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("command", "") or set(cells[0]) <= {"-"}:
            continue
        command, flag, status, _ = cells
        rows.append((command, flag.strip("`"), status))
    return rows


def gd_options() -> dict[str, set[str]]:
    """gd command name -> every option string it accepts."""
    group = get_command(app)
    out: dict[str, set[str]] = {}
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        out[name] = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    return out


def test_the_table_is_read():
    rows = table_rows()
    assert len(rows) > 60
    assert all(status in STATUSES for _, _, status in rows), [
        r for r in rows if r[2] not in STATUSES
    ]
    assert all(re.fullmatch(r"(--[a-z][a-z-]*)?", flag) for _, flag, _ in rows)


def test_every_supported_row_exists_in_gd():
    options = gd_options()
    missing = []
    for command, flag, status in table_rows():
        if status != "supported":
            continue
        if command not in options:
            missing.append(command)
        elif flag and flag not in options[command]:
            missing.append(f"{command} {flag}")
    assert missing == [], f"docs/clearml.md claims what gd lacks: {missing}"


def test_the_rows_the_brief_names_are_supported():
    supported = {(c, f) for c, f, s in table_rows() if s == "supported"}
    for command, flags in {
        "create": ["--version", "--output-uri"],
        "close": ["--disable-upload", "--verbose"],
        "sync": ["--skip-close", "--chunk-size", "--version", "--output-uri"],
        "list": ["--version", "--filter", "--modified"],
        "delete": ["--project", "--name", "--version", "--entire-dataset", "--force"],
        "search": ["--not-only-completed", "--non-recursive-project-search"],
    }.items():
        for flag in flags:
            assert (command, flag) in supported, f"{command} {flag}"
    for command in (
        "add",
        "remove",
        "upload",
        "close",
        "sync",
        "get",
        "squash",
        "compare",
        "verify",
    ):
        assert (command, "--verbose") in supported, command


def test_a_planned_row_is_not_claimed_by_gd_yet():
    """When a planned command or flag lands in gd, its row should say supported."""
    options = gd_options()
    landed = [
        f"{command} {flag}".strip()
        for command, flag, status in table_rows()
        if status == "planned" and command in options and (not flag or flag in options[command])
    ]
    assert landed == [], f"mark these supported in docs/clearml.md: {landed}"
