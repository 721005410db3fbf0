"""The HTML builder escapes everything it is given; the SVG pieces draw what they get."""

from __future__ import annotations

import re

from gitdata.config import human_size
from gitdata.ui import svg
from gitdata.ui.html import Html, esc, join, link, query, table, tag


def test_everything_given_is_escaped() -> None:
    evil = '<script>alert("x")</script>&'
    out = tag("p", evil, title=evil, class_='a"b')
    assert "<script>" not in out and out.count("&lt;script&gt;") == 2
    assert 'class="a&quot;b"' in out
    assert join([evil, Html("<b>ok</b>")]) == esc(evil) + "<b>ok</b>"
    assert link("/x?a=1&b=2", "t") == '<a href="/x?a=1&amp;b=2">t</a>'
    assert "&lt;" in table(["<h>"], [["<c>"]])


def test_query_encodes_values() -> None:
    assert query("/compare", source="a b", target="&") == "/compare?source=a+b&target=%26"
    assert query("/x", q="", page=None) == "/x"


def test_human_sizes() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 5 * 2**20, 3 * 2**40)] == [
        "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3.0 TiB"
    ]  # fmt: skip


def test_dag_draws_a_link_per_node_and_a_path_per_edge() -> None:
    nodes = [
        svg.DagNode("m", "merge <x>", 0, 0),
        svg.DagNode("a", "a", 1, 0),
        svg.DagNode("b", "b", 2, 1, squashed=True),
        svg.DagNode("r", "root", 3, 0),
    ]
    edges = [("m", "a"), ("m", "b"), ("a", "r"), ("b", "r"), ("a", "gone")]
    out = svg.dag(nodes, edges, current="m", href=lambda vid: f"/version/{vid}")
    assert out.count('<path class="edge"') == 4  # the edge to a node not drawn is left out
    assert re.findall(r'<a href="(/version/\w+)">', out) == [f"/version/{n}" for n in "mabr"]
    assert 'class="node current"' in out and 'class="node squash"' in out
    assert "merge &lt;x&gt;" in out
    assert svg.dag([], []) == ""


def test_charts_handle_empty_and_zero_values() -> None:
    assert "nothing to show" in svg.bars([])
    assert "nothing to show" in svg.line([])
    assert "<svg" in svg.bars([("a", 0), ("b", 0)])
    assert "+1 ~0 -2" in svg.stacked([("1.0.0", 1, 0, 2)])
    assert "<polyline" in svg.line([("only", 5)])
