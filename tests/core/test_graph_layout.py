"""The lineage DAG laid out as git log --graph draws it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gitdata.core.graph_layout import (
    SQUASH,
    VersionNode,
    layout,
    lineage,
    squash_sources,
    topo_order,
)


def drawing(parents, order=None, glyphs=None) -> list[str]:
    return [
        f"{r.glyphs} {r.node}" if r.node else r.glyphs for r in layout(parents, order, glyphs).rows
    ]


def test_linear_history_is_one_lane():
    assert drawing({"c": ["b"], "b": ["a"], "a": []}) == ["* c", "* b", "* a"]


def test_merge_opens_a_lane_and_the_fork_closes_it():
    parents = {"m": ["a", "b"], "a": ["base"], "b": ["base"], "base": []}
    assert drawing(parents, ["m", "b", "a", "base"]) == [
        "* m",
        "|\\",
        "| * b",
        "* | a",
        "|/",
        "* base",
    ]
    placed = {n.id: (n.row, n.column) for n in layout(parents, ["m", "b", "a", "base"]).nodes}
    assert placed == {"m": (0, 0), "b": (2, 1), "a": (3, 0), "base": (5, 0)}


def test_octopus_merge_moves_one_column_per_row():
    parents = {"m": ["a", "b", "c"], "a": ["r"], "b": ["r"], "c": ["r"], "r": []}
    assert drawing(parents, ["m", "c", "b", "a", "r"]) == [
        "* m",
        "|\\",
        "| |\\",
        "| | * c",
        "| * | b",
        "| |/",
        "* | a",
        "|/",
        "* r",
    ]


def test_unrelated_roots_get_their_own_lane_and_it_closes():
    parents = {"y": ["x"], "c": ["b"], "x": [], "b": ["a"], "a": []}
    assert drawing(parents, ["y", "c", "x", "b", "a"]) == [
        "* y",
        "| * c",
        "* | x",
        " /",
        "* b",
        "* a",
    ]


def test_lines_that_swap_lanes_cross():
    # n (lane 0) joins a (lane 2) while l's lane moves left past it: an X
    parents = {"u": ["n"], "v": ["l"], "w": ["a"], "n": ["a"], "l": [], "a": []}
    assert drawing(parents, ["u", "v", "w", "n", "l", "a"]) == [
        "* u",
        "| * v",
        "| | * w",
        "* | | n",
        " X /",
        "* | l",
        " /",
        "* a",
    ]


def test_missing_parents_and_cycles_do_not_break_the_walk():
    assert drawing({"a": ["gone"]}) == ["* a"]
    order = topo_order({"x": ["y"], "y": ["x"]}, ["x", "y"])
    assert sorted(order) == ["x", "y"]
    assert len(layout({"x": ["y"], "y": ["x"]}).nodes) == 2


def test_glyphs_mark_squashed_versions():
    assert drawing({"s": [], "a": []}, ["s", "a"], {"s": SQUASH}) == ["S s", "* a"]


def test_squash_sources_come_from_metadata_of_a_version_without_parents():
    ids = ["1" * 32, "2" * 32]
    assert squash_sources([], {"squashed_from": ids}) == ids
    assert squash_sources(["3" * 32], {"squashed_from": ids}) == []
    assert squash_sources([], {"squashed_from": "nope"}) == []
    assert squash_sources([], {"squashed_from": ["not an id"]}) == []


def test_lineage_orders_newest_first_and_lists_hidden_parents():
    nodes = [
        VersionNode("a" * 32, "p", "n", "1.0.0", [], created="2024-01-01"),
        VersionNode("b" * 32, "p", "n", "1.0.1", ["a" * 32, "f" * 32], created="2024-01-02"),
        VersionNode(
            "c" * 32,
            "p",
            "flat",
            "1.0.0",
            [],
            created="2024-01-03",
            squashed_from=["a" * 32, "b" * 32],
        ),  # fmt: skip
    ]
    lin = lineage(nodes)
    assert [n.id[0] for n in lin.nodes] == ["c", "b", "a"]
    assert lin.hidden_parents == {"b" * 32: ["f" * 32]}
    d = lin.to_dict()
    assert d["edges"] == [{"child": "b" * 32, "parent": "a" * 32}]
    assert [n["column"] for n in d["nodes"]] == [0, 0, 0]  # each lane closes at its root
    assert lin.layout.rows[0].glyphs.startswith(SQUASH)


dags = st.integers(1, 9).flatmap(
    lambda n: st.lists(st.lists(st.integers(0, 8), max_size=3), min_size=n, max_size=n).map(
        lambda ps: {f"v{i}": [f"v{j}" for j in p if j > i and j < n] for i, p in enumerate(ps)}
    )
)


@given(dags)
def test_every_version_once_children_first_lines_well_formed(parents):
    out = layout(parents, sorted(parents))
    rows = [n.id for n in out.nodes]
    assert sorted(rows) == sorted(parents)
    pos = {v: i for i, v in enumerate(rows)}
    for child, parent in out.edges:
        assert pos[child] < pos[parent]
    for n in out.nodes:
        assert out.rows[n.row].node == n.id and out.rows[n.row].glyphs[2 * n.column] == "*"
    for r in out.rows:
        assert set(r.glyphs) <= set("*|/\\X ")
