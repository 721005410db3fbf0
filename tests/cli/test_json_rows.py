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
