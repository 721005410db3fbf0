"""Rich terminal views of versions: ``gd show``, ``gd compare`` and ``gd graph``.

The commands gather plain data from the library (:class:`ChangeSummary`,
:class:`Lineage`) and hand it here.  Every string that comes from a dataset (names,
tags, descriptions, paths) is shown through :func:`gitdata.cli.output.shown` inside a
``rich.text.Text``: control characters escaped, never read as markup.  Colour only
on a terminal; the width is the terminal's (or ``COLUMNS``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitdata.cli.output import human_size, shown

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from gitdata.api import ChangeSummary, FileChange, Lineage, Tally

DEFAULT_LIMIT = 20
_MARKS = {"added": "+", "modified": "~", "removed": "-", "renamed": ">"}
_STYLES = {"added": "green", "modified": "yellow", "removed": "red", "renamed": "cyan"}


def change_lines(paths: dict[str, Any]) -> list[str]:
    """One line per changed path: ``+`` added, ``~`` modified, ``-`` removed, ``>`` a
    rename (``> old -> new``); ``paths`` as :meth:`ChangeSummary.paths` gives them."""
    lines = [
        f"{_MARKS[kind]} {p}" for kind in ("added", "modified", "removed") for p in paths[kind]
    ]
    lines += [f"> {r['from']} -> {r['to']}" for r in paths.get("renamed", [])]
    return lines


def _console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, markup=False, emoji=False)


def _text(value: object, style: str = "") -> Text:
    """A dataset-supplied value as inert text (escaped, never markup)."""
    from rich.text import Text

    return Text(shown(str(value)), style=style)


def signed_size(n: int) -> str:
    """+1.5 KiB / -10 B / 0 B."""
    if n == 0:
        return "0 B"
    return ("+" if n > 0 else "-") + human_size(abs(n))


def _table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for col in columns:
        right = col in ("files", "size", "old size", "new size", "delta", "net")
        table.add_column(col, overflow="fold", justify="right" if right else "left")
    return table


def _more(console: Console, total: int, limit: int) -> None:
    if total > limit:
        console.print(f"  ... and {total - limit} more", style="dim")


def totals_line(t: Tally) -> str:
    """'+3 added (1.0 KiB), -2 removed (5 B), >1 renamed (3 B); net +1.0 KiB' (kinds
    without changes left out)."""
    if t.files == 0:
        return "no changes"
    parts = [
        f"{mark}{n} {kind} ({human_size(size)})"
        for mark, n, kind, size in (
            ("+", t.added, "added", t.added_bytes),
            ("~", t.modified, "modified", t.modified_bytes),
            ("-", t.removed, "removed", t.removed_bytes),
            (">", t.renamed, "renamed", t.renamed_bytes),
        )
        if n
    ]
    return ", ".join(parts) + f"; net {signed_size(t.delta)}"


def _group_cell(files: int, size: int) -> str:
    return f"{files} ({human_size(size)})" if files else ""


def _group_table(console: Console, title: str, label: str, groups: list[Tally], limit: int) -> None:
    table = _table(label, "files", "added", "modified", "removed", "renamed", "net", title=title)
    for g in groups[:limit]:
        table.add_row(
            _text(g.key or ("(top level)" if label == "folder" else "(none)")),
            str(g.files),
            _group_cell(g.added, g.added_bytes),
            _group_cell(g.modified, g.modified_bytes),
            _group_cell(g.removed, g.removed_bytes),
            _group_cell(g.renamed, g.renamed_bytes),
            signed_size(g.delta),
        )
    console.print(table)
    _more(console, len(groups), limit)


def _change_path(c: FileChange) -> Text:
    if c.old_path is None:
        return _text(c.path)
    out = _text(c.old_path)
    out.append(" -> ")
    out.append_text(_text(c.path))
    return out


def _largest_table(console: Console, summary: ChangeSummary, limit: int) -> None:
    table = _table("", "path", "size", "delta", title="Largest changes")
    for c in summary.largest(limit):
        table.add_row(
            _text(_MARKS[c.kind], _STYLES[c.kind]),
            _change_path(c),
            human_size(c.weight),
            signed_size(c.delta),
        )
    console.print(table)
    _more(console, summary.totals.files, limit)


def show_version(
    info: dict[str, Any],
    summary: ChangeSummary,
    *,
    merged_line: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> None:
    """``gd show``: identity, parents, totals, the change summary and the largest changes.

    ``info`` is the command's JSON document (id, project, name, ...)."""
    from rich.text import Text

    console = _console()
    head = _text(f"{info['project']}/{info['name']} {info['version']}", "bold")
    head.append(f"  ({info['state']})")
    console.print(head)
    rows: list[tuple[str, object]] = [
        ("id", info["id"]),
        ("project", info["project"]),
        ("name", info["name"]),
        ("version", info["version"]),
        ("tags", ", ".join(info["tags"]) or "-"),
    ]
    lines = str(info["description"]).split("\n") if info["description"] else ["-"]
    rows.extend(("description" if i == 0 else "", ln) for i, ln in enumerate(lines))
    rows += [("created", info.get("created") or "-"), ("store", info.get("store") or "-")]
    rows += [("parents", ", ".join(info["parents"]) or "none")]
    if info.get("squashed_from"):
        rows.append(("squash of", ", ".join(info["squashed_from"])))
    if info.get("published"):
        rows.append(("published", "yes"))
    if info.get("former_names"):
        rows.append(("formerly", ", ".join(info["former_names"])))
    changed = len(info.get("metadata_history") or [])
    if changed:
        rows.append(
            (
                "changed",
                f"{changed} metadata change(s), the last at {info['metadata_history'][-1]['at']}",
            )
        )
    rows.append(("totals", f"{info['files']} files, {human_size(info['bytes'])}"))
    for label, value in rows:
        line = Text(f"{label:<13}", style="dim")
        line.append_text(_text(value))
        console.print(line)
    console.print()
    line = _text("changes: ", "bold")
    line.append_text(_text(totals_line(summary.totals)))
    console.print(line, soft_wrap=True)
    if merged_line:
        console.print(_text(merged_line), soft_wrap=True)
    if summary.is_empty():
        return
    console.print()
    _group_table(console, "By top-level folder", "folder", summary.by_folder, limit)
    console.print()
    _group_table(console, "By file type", "type", summary.by_type, limit)
    console.print()
    _largest_table(console, summary, limit)


def _list_table(
    console: Console, summary: ChangeSummary, kind: str, columns: Sequence[str], limit: int
) -> None:
    total = getattr(summary.totals, kind)
    if not total:
        return
    table = _table(*columns, title=f"{kind.capitalize()} ({total})")
    for c in summary.largest_of(kind, limit):
        if c.kind == "added":
            table.add_row(_text(c.path), human_size(c.size))
        elif c.kind == "removed":
            table.add_row(_text(c.path), human_size(c.old_size))
        elif c.kind == "modified":
            table.add_row(
                _text(c.path), human_size(c.old_size), human_size(c.size), signed_size(c.delta)
            )
        else:
            table.add_row(_text(c.old_path or ""), _text(c.path), human_size(c.size))
    console.print()
    console.print(table)
    _more(console, total, limit)


def compare_versions(
    source: str, target: str, summary: ChangeSummary, *, limit: int = DEFAULT_LIMIT
) -> None:
    """``gd compare``: a summary line, then the added, removed, modified and renamed
    files (largest first, ``limit`` of each)."""
    console = _console()
    line = _text(f"{source[:8]} -> {target[:8]}: ", "bold")
    line.append_text(_text(totals_line(summary.totals)))
    console.print(line, soft_wrap=True)
    _list_table(console, summary, "added", ("path", "size"), limit)
    _list_table(console, summary, "removed", ("path", "size"), limit)
    _list_table(console, summary, "modified", ("path", "old size", "new size", "delta"), limit)
    _list_table(console, summary, "renamed", ("from", "to", "size"), limit)


def _node_label(node: Any, hidden: list[str]) -> Text:
    label = _text(node.version, "bold")
    label.append("  ")
    label.append_text(_text(node.id[:8], "yellow"))
    label.append("  ")
    label.append_text(_text(f"{node.project}/{node.name}"))
    stats = node.stats
    if stats:
        # a merge's own change set is usually empty: show what it brought in, as git does
        pre = "merged_" if "merged_added" in stats else ""
        label.append(
            f"  {stats.get('files', 0)} files {human_size(stats.get('bytes', 0))}"
            f"  +{stats.get(pre + 'added', 0)} ~{stats.get(pre + 'modified', 0)}"
            f" -{stats.get(pre + 'removed', 0)}"
            + (f" >{stats['renamed']}" if not pre and stats.get("renamed") else "")
        )
    if node.state != "closed":
        label.append(f"  ({node.state})", style="magenta")
    if node.squashed_from:
        label.append("  squash of " + ", ".join(s[:8] for s in node.squashed_from), style="magenta")
    if len(node.parents) > 1:
        label.append(f"  merge of {len(node.parents)}", style="cyan")
    if hidden:
        label.append(f"  ({len(hidden)} parent(s) not shown: {', '.join(h[:8] for h in hidden)})")
    if node.tags:
        label.append("  [")
        label.append_text(_text(", ".join(node.tags), "green"))
        label.append("]")
    return label


def lineage_graph(graph: Lineage) -> None:
    """``gd graph``: the DAG as ``git log --graph`` draws it, one version per row."""
    from rich.text import Text

    console = _console()
    nodes = {n.id: n for n in graph.nodes}
    for row in graph.layout.rows:
        line = Text(row.glyphs)
        if row.node is not None:
            line.append(" ")
            line.append_text(_node_label(nodes[row.node], graph.hidden_parents.get(row.node, [])))
        console.print(line, soft_wrap=True)
