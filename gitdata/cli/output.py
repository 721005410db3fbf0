"""Rendering results: JSON on stdout, rich tables, messages, progress bars."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from gitdata.cli.app import FLAGS
from gitdata.config import human_size  # noqa: F401 - the commands format sizes through output
from gitdata.errors import mask_credentials


def is_quiet() -> bool:
    """-q was given."""
    return FLAGS["quiet"]


# Characters a terminal acts on (C0 and C1 controls: newline, ESC for ANSI
# sequences, ...) and the Unicode line separators and bidirectional overrides
# that reorder what is shown.  Dataset paths never hold a backslash, so the
# escaped form cannot be mistaken for a real name.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# ... but for the tabs and newlines that separate the cells and rows of a block
_UNSAFE_BUT_SEPARATORS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: control characters escaped
    (``\\n``, ``\\t``, ``\\x1b``, ``\\u202e``); JSON output keeps names exact."""

    def escape(m: re.Match[str]) -> str:
        ch = m.group()
        return _NAMED_ESCAPES.get(ch) or (
            f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
        )

    return _UNSAFE.sub(escape, text)


def shown(text: str) -> str:
    """What a plain-text line shows of ``text``: URL credentials masked, controls escaped."""
    return printable(mask_credentials(text))


def _tab_line(cells: list[str]) -> str:
    """One tab-separated line of cells, each as :func:`shown` shows it.  Checked on
    the joined line first: a line with no URL, no control character and only the
    separating tabs is the common case, and needs no work per cell."""
    line = "\t".join(cells)
    if (
        "://" not in line
        and line.count("\t") == len(cells) - 1
        and _UNSAFE.search(line.replace("\t", " ")) is None
    ):
        return line + "\n"
    return "\t".join(shown(c) for c in cells) + "\n"


def _masked(data: Any) -> Any:
    """``data`` with URL credentials masked in every string (dataset paths, which
    never hold ``://``, are left exactly as they are)."""
    if isinstance(data, str):
        return mask_credentials(data)
    if isinstance(data, dict):
        return {k: _masked(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_masked(v) for v in data]
    return data


def _json_text(data: Any) -> str:
    """``data`` as the indented JSON text gd prints (URL credentials masked)."""
    text = json.dumps(_masked(data), indent=2, ensure_ascii=False, default=str)
    # json escapes C0 controls itself; DEL, C1 and the bidi / line-separator
    # characters become \uXXXX too (the same string once parsed)
    text = _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return mask_credentials(text)


def emit_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout (URL credentials masked)."""
    sys.stdout.write(_json_text(data) + "\n")
    FLAGS["emitted"] = True


def emit_json_rows(rows: Iterable[Any]) -> None:
    """A JSON array written row by row as the rows come (the same text
    :func:`emit_json` writes for the whole list, without holding it)."""
    out = sys.stdout
    opening = "[\n"
    batch: list[str] = []

    def flush() -> None:
        nonlocal opening
        text = ",\n".join(batch)
        if _UNSAFE_IN_JSON.search(text):  # (the same substitution _json_text makes)
            text = _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        out.write(opening + text)
        FLAGS["emitted"] = True  # an error from here on must not print a second document
        opening = ",\n"
        batch.clear()

    for row in rows:
        batch.append(_element_text(row))
        if opening == "[\n" or len(batch) >= PAGE:
            flush()
    if batch:
        flush()
    out.write("[]\n" if opening == "[\n" else "\n]\n")
    FLAGS["emitted"] = True


_encode_string = json.encoder.encode_basestring  # json.dumps(s, ensure_ascii=False), in C


def _element_text(row: Any) -> str:
    """``row`` as one element of an indented JSON array: :func:`_json_text` indented
    a level.  A flat object of strings and integers (a listing's row), the common
    case, is written directly (``json.dumps`` with an indent runs in Python, about
    10 us a row); the characters ``_json_text`` escapes are escaped by the caller."""
    if type(row) is dict and row:
        parts = []
        for key, value in row.items():
            kind = type(value)
            if type(key) is not str or not (kind is str or kind is int or value is None):
                break
            shown_value = (
                _encode_string(value)
                if kind is str
                else ("null" if value is None else int.__repr__(value))
            )
            parts.append(f"    {_encode_string(key)}: {shown_value}")
        else:
            text = "  {\n" + ",\n".join(parts) + "\n  }"
            if "://" not in text:
                return text
    return "  " + _json_text(row).replace("\n", "\n  ")


def say(message: str) -> None:
    """A result line on stdout (see :func:`shown`)."""
    sys.stdout.write(shown(message) + "\n")


def note(message: str) -> None:
    """An informational line on stderr (suppressed by -q)."""
    if not is_quiet():
        sys.stderr.write(shown(message) + "\n")


def warn(message: str) -> None:
    """A warning line on stderr (shown even with -q)."""
    sys.stderr.write(f"gd: warning: {shown(message)}\n")


def list_some(items: list[str], limit: int = 20) -> str:
    """'a, b, c' or 'a, b, ... (and 7 more)'."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} (and {len(items) - limit} more)"


def warn_merge_conflicts(conflicts: list[dict[str, Any]]) -> None:
    """Tell the user which paths the parents changed differently (the later one was kept)."""
    if conflicts:
        paths = sorted({c["path"] for c in conflicts})
        warn(
            f"{len(paths)} path(s) changed differently by the merged versions; "
            f"the later version's file was kept: {list_some(paths)}"
        )


def print_table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines (header first) when piped.

    Cells are shown with :func:`shown` (a tab or newline in a name cannot split a
    line) and never read as rich markup."""
    rows = [[shown(str(c)) for c in row] for row in rows]
    if not sys.stdout.isatty():
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*[Text(c) for c in row])
    Console(soft_wrap=True).print(table)


def stdout_is_tty() -> bool:
    """stdout is a terminal (a separate function so tests can pretend)."""
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    """stderr is a terminal: progress bars are drawn there (tests pretend through this)."""
    return sys.stderr.isatty()


def stdin_is_tty() -> bool:
    """stdin is a terminal: gd may ask a question (tests pretend through this)."""
    return sys.stdin.isatty()


def stream_rows(
    columns: list[str], rows: Iterable[list[Any]], right: frozenset[int] = frozenset()
) -> None:
    """Rows written as they come, never held as one table.

    Piped: tab-separated lines (header first).  On a terminal: plain columns
    aligned on the widths of the first :data:`PAGE` rows (a longer cell pushes
    its row right instead of reflowing the rest); columns in ``right`` are
    right-aligned.  Cells are shown with :func:`shown`."""
    out = sys.stdout
    if not stdout_is_tty():
        out.write("\t".join(columns) + "\n")
        lines: list[str] = []
        for row in rows:
            lines.append(_tab_line([str(c) for c in row]))
            if len(lines) >= PAGE:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        return
    it = iter(rows)
    page = [[shown(str(c)) for c in row] for row in islice(it, PAGE)]
    widths = [max([len(col)] + [len(r[i]) for r in page]) for i, col in enumerate(columns)]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip() + "\n"

    out.write(line(columns))
    out.write("".join(line(r) for r in page))
    out.flush()
    batch: list[str] = []
    for row in it:
        batch.append(line([shown(str(c)) for c in row]))
        if len(batch) >= PAGE:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))


def stream_column_batches(
    columns: list[str],
    batches: Iterable[Sequence[Sequence[str]]],
    right: frozenset[int] = frozenset(),
) -> None:
    """:func:`stream_rows` for rows that come as runs of columns (each batch holds one
    sequence of cells per column).  Piped, a run with no URL and no control character
    is written as one block, with no work per row; anything else goes row by row."""
    if stdout_is_tty():
        each = (list(row) for batch in batches for row in zip(*batch, strict=True))
        stream_rows(columns, each, right)
        return
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    seps = len(columns) - 1
    for batch in batches:
        if not batch[0]:
            continue
        text = "\n".join(map("\t".join, zip(*batch, strict=True))) + "\n"
        rows = len(batch[0])
        if (
            "://" in text
            or text.count("\t") != rows * seps
            or text.count("\n") != rows
            or _UNSAFE_BUT_SEPARATORS.search(text) is not None
        ):
            text = "".join(_tab_line(list(row)) for row in zip(*batch, strict=True))
        out.write(text)


PAGE = 1000


class RichProgress:
    """The library's Progress protocol drawn as a rich progress bar on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task = None
        self._lock = threading.Lock()

    @classmethod
    def maybe(cls):
        """A bar when stderr is a terminal, and neither -q nor --json is on; otherwise
        the null progress."""
        from gitdata.core.progress import NULL_PROGRESS

        if is_quiet() or FLAGS["json"] or not stderr_is_tty():
            return NULL_PROGRESS
        return cls()

    def start(self, description: str, total: int | None) -> None:
        """A phase counted in bytes: sizes and speed."""
        from rich.progress import DownloadColumn, TransferSpeedColumn

        self._begin(description, total, [DownloadColumn(), TransferSpeedColumn()])

    def start_items(self, description: str, total: int | None) -> None:
        """A phase counted in items (files, objects): ``n/total``."""
        from rich.progress import MofNCompleteColumn

        self._begin(description, total, [MofNCompleteColumn()])

    def _begin(self, description: str, total: int | None, counts: list[Any]) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.finish()
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            *counts,
            TimeRemainingColumn(),
            transient=True,
            console=_stderr_console(),
        )
        self._bar.start()
        _LIVE_BARS.add(self)
        self._task = self._bar.add_task(mask_credentials(description), total=total)

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.advance(self._task, amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        _LIVE_BARS.discard(self)


_LIVE_BARS: set[RichProgress] = set()


def stop_progress_bars() -> None:
    """Take down bars a failed or interrupted command left running (and restore
    the cursor)."""
    for bar in list(_LIVE_BARS):
        bar.finish()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
