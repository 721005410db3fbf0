"""Every command's --help: an uncut summary, a paragraph, examples, named metavars."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command

from gitdata.cli.app import MULTI_VALUE_OPTIONS
from gitdata.cli.main import app

# options whose value is an id, a path or a URL: the metavar must say which
THING_METAVARS = {
    "--id": "ID",
    "--ids": "ID ...",
    "--parents": "ID ...",
    "--source": "ID",
    "--target": "ID",
    "--storage": "URL",
    "--to": "URL",
    "--from": "URL",
    "--folder": "DIR",
    "--dataset-folder": "DIR",
    "--copy": "DIR",
    "--link": "DIR",
    "--output": "FILE",
    "--repo": "PATH",
}


def leaf_commands() -> list[tuple[str, object]]:
    """(``"cache prune"``-style name, click command) of every command people run."""
    out: list[tuple[str, object]] = []

    def walk(prefix: str, group) -> None:
        for name, cmd in group.commands.items():
            if cmd.hidden:
                continue
            full = f"{prefix} {name}".strip()
            out.append((full, cmd))
            if hasattr(cmd, "commands"):
                walk(full, cmd)

    walk("", get_command(app))
    return out


COMMANDS = leaf_commands()
NAMES = [name for name, _ in COMMANDS]


def test_every_command_is_walked():
    assert len(COMMANDS) > 30
    assert {"create", "add", "status", "cache", "cache prune", "merge"} <= set(NAMES)


def listed_summaries(gd, args: list[str]) -> dict[str, str]:
    """Command name -> the summary ``gd [GROUP] --help`` prints beside it."""
    text = gd(*args, "--help").stdout
    section = text.split("Commands:", 1)[1]
    out = {}
    for line in section.splitlines():
        m = re.match(r"  (\S+)\s+(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


@pytest.mark.parametrize("group", [[], ["cache"]], ids=["gd", "gd cache"])
def test_summaries_are_not_cut(gd, group: list[str]):
    listed = listed_summaries(gd, group)
    for full, cmd in COMMANDS:
        parts = full.split()
        if parts[:-1] != group:
            continue
        first = (cmd.help or "").strip().splitlines()[0]
        shown = listed[parts[-1]]
        assert not shown.endswith("..."), f"gd {full}: summary cut: {shown!r}"
        assert shown == first, f"gd {full}: summary {shown!r} is not its first line {first!r}"
        assert first.endswith("."), f"gd {full}: summary is not one sentence: {first!r}"


@pytest.mark.parametrize("name", NAMES)
def test_help_has_a_paragraph_and_examples(gd, name: str):
    text = gd(*name.split(), "--help").stdout
    description = text.split("Options:", 1)[0]
    assert "Examples:" in description, f"gd {name} --help has no Examples section"
    before, examples = description.split("Examples:", 1)
    paragraphs = [p for p in before.split("\n\n")[1:] if p.strip()]
    assert len(paragraphs) >= 2, f"gd {name}: a summary and a paragraph are wanted"
    lines = [ln.strip() for ln in examples.splitlines()]
    runs = [ln for ln in lines if ln.startswith(f"gd {name}")]
    assert len(runs) >= 2, f"gd {name}: wants 2 or more examples, has {runs}"


@pytest.mark.parametrize("name", NAMES)
def test_metavars_name_the_thing(gd, name: str):
    cmd = dict(COMMANDS)[name]
    for param in cmd.params:  # type: ignore[attr-defined]
        if type(param).__name__ != "TyperOption" or param.is_flag:
            continue
        flag = max(param.opts, key=len)
        metavar = param.metavar or ""
        assert metavar and metavar != "<str>", f"gd {name} {flag}: no metavar"
        # TEXT only for free text; an id, a path or a URL is named
        assert metavar != "TEXT" or flag == "--description", f"gd {name} {flag}: TEXT"
        assert metavar == metavar.strip() and not metavar.startswith("<")
        want = THING_METAVARS.get(flag)
        if want is not None:
            assert metavar == want, f"gd {name} {flag}: metavar {metavar!r}, want {want!r}"
        if param.multiple:
            said = metavar.endswith(" ...") or "repeat" in (param.help or "")
            assert said, f"gd {name} {flag} takes several values: its help must say so"
        if flag in MULTI_VALUE_OPTIONS:
            assert metavar.endswith(" ..."), f"gd {name} {flag}: several after one flag"
    text = gd(*name.split(), "--help").stdout
    assert "<str>" not in text and " TEXT " not in text.replace("--description TEXT", "")


@pytest.mark.parametrize("name", NAMES)
def test_examples_use_real_flags(gd, name: str):
    import shlex

    cmd = dict(COMMANDS)[name]
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}  # type: ignore[attr-defined]
    examples = gd(*name.split(), "--help").stdout.split("Examples:", 1)[1].split("Options:")[0]
    for line in examples.splitlines():
        line = line.strip()
        if not line.startswith(f"gd {name}"):
            continue
        words = shlex.split(line.split(">")[0])[1:]
        sub = [w for w in words if not w.startswith("-")][: len(name.split())]
        if sub != name.split():
            continue  # `gd cache prune` shown in `gd cache --help`
        flags = {w.split("=")[0] for w in words if w.startswith("-")}
        assert flags <= known, f"{line!r}: unknown {sorted(flags - known)}"
