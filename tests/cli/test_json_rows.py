"""`gd list --json` streams its array: the text equals the one-document output."""

from __future__ import annotations

import io
import json
import sys

import pytest

from gitdata.cli import output


def _captured(monkeypatch: pytest.MonkeyPatch, call) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    call()
    return buf.getvalue()


@pytest.mark.parametrize("count", [0, 1, 2, output.PAGE, output.PAGE + 3])
def test_streamed_rows_are_the_same_text_as_one_document(monkeypatch, count):
    rows = [
        {"path": f"d/é{i}\u2028.txt", "size": i, "sha256": "ab" * 32}
        | ({"url": "https://user:SECRET@host/x"} if i % 2 else {})
        for i in range(count)
    ]
    whole = _captured(monkeypatch, lambda: output.emit_json(rows))
    streamed = _captured(monkeypatch, lambda: output.emit_json_rows(iter(rows)))
    assert streamed == whole
    assert json.loads(streamed) == json.loads(whole)
    assert "SECRET" not in streamed


@pytest.mark.parametrize(
    "row",
    [
        {"path": 'x\n\t\x01\x7f\x9f\u202e\u2066"\\', "size": 0, "sha256": "0"},
        {"a": None, "b": True, "c": False, "d": -3},
        {"f": 1.5},
        {"nested": {"x": [1, "s3://K:SECRET@b/k"]}},
        {},
        {"url": "gs://TOKEN@bucket/x", "size": 2},
        {1: "key not a string"},
    ],
)
def test_each_kind_of_row_is_the_text_of_one_document(monkeypatch, row):
    """Flat rows of strings and integers are written directly; they and every other
    row read as :func:`output.emit_json` writes them."""
    rows = [row, {"path": "plain", "size": 1, "sha256": "ab"}]
    whole = _captured(monkeypatch, lambda: output.emit_json(rows))
    assert _captured(monkeypatch, lambda: output.emit_json_rows(iter(rows))) == whole
    assert "SECRET" not in whole and "TOKEN" not in whole


def test_an_error_half_way_leaves_the_flag_that_suppresses_a_second_document(monkeypatch):
    def rows():
        yield {"path": "a"}
        raise OSError("disk gone")

    monkeypatch.setitem(output.FLAGS, "emitted", False)
    with pytest.raises(OSError):
        _captured(monkeypatch, lambda: output.emit_json_rows(rows()))
    assert output.FLAGS["emitted"] is True


@pytest.mark.parametrize(
    "cells",
    [
        ["a", "b", "c"],
        ["a\tb", "c"],
        ["x\x1b[31m", "y"],
        ["s3://KEY:SECRET@b/x", "1"],
        ["é\u202eé", "z"],
        ["", ""],
        ["\t", ""],
        ["line\nbreak", "x"],
    ],
)
def test_a_piped_row_shows_each_cell_as_shown_does(cells):
    """Piped rows are checked whole first; the result is the same as cell by cell."""
    assert output._tab_line(cells) == "\t".join(output.shown(c) for c in cells) + "\n"


@pytest.mark.parametrize("tty", [False, True])
def test_column_batches_show_what_rows_show(monkeypatch, tty: bool):
    """A run of columns written as one block reads exactly as the same rows written
    one by one, hostile cells (tabs, newlines, controls, URLs with secrets) included."""
    cells = [
        ["a", "b"],
        ["a\tb", "c"],
        ["x\x1b[31m", "y"],
        ["s3://KEY:SECRET@b/x", "1"],
        ["é\u202eé", "z"],
        ["line\nbreak", "x"],
        ["cr\rhere", "x"],
    ]
    rows = [row for row in cells for _ in range(3)]
    batches = [[["p0", "p1"], ["1", "2"]], [[], []]]
    batches += [
        [[r[0] for r in rows[i : i + 3]], [r[1] for r in rows[i : i + 3]]]
        for i in range(0, len(rows), 3)
    ]
    flat = [["p0", "1"], ["p1", "2"], *rows]
    monkeypatch.setattr(output, "stdout_is_tty", lambda: tty)
    by_rows = _captured(monkeypatch, lambda: output.stream_rows(["path", "n"], iter(flat)))
    by_batches = _captured(
        monkeypatch, lambda: output.stream_column_batches(["path", "n"], iter(batches))
    )
    assert by_batches == by_rows
    assert "SECRET" not in by_batches and "\x1b" not in by_batches and "\r" not in by_batches
