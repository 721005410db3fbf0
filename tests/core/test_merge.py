"""The three-way merge rule of docs/format.md §7, path by path and over whole DAGs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitdata.core.merge import (
    Conflict,
    merge_bases,
    merge_three,
    merged_view,
    resolve,
    undecided,
)


@dataclass(frozen=True)
class E:
    sha256: str
    tag: str = ""
    executable: bool = False


def files(**paths: str | None) -> dict[str, E]:
    return {p: E(s) for p, s in paths.items() if s is not None}


# One path "f".  base: None (absent) or "X".  Each side: absent (None), unchanged
# content "X", a modification "Y", or a different modification "Z".
# expected: the merged content, or "CONFLICT" (then the view holds theirs).
RULE_TABLE = [
    # base absent
    (None, None, None, None),
    (None, "Y", None, "Y"),  # added by ours
    (None, None, "Y", "Y"),  # added by theirs
    (None, "Y", "Y", "Y"),  # added the same on both
    (None, "Y", "Z", "CONFLICT"),  # add/add, different content
    # base present
    ("X", "X", "X", "X"),  # untouched
    ("X", "Y", "X", "Y"),  # modified by ours
    ("X", "X", "Y", "Y"),  # modified by theirs
    ("X", "Y", "Y", "Y"),  # same modification
    ("X", "Y", "Z", "CONFLICT"),  # modify/modify
    ("X", None, "X", None),  # deleted by ours
    ("X", "X", None, None),  # deleted by theirs
    ("X", None, None, None),  # deleted by both
    ("X", None, "Y", "CONFLICT"),  # delete/modify
    ("X", "Y", None, "CONFLICT"),  # modify/delete
]


@pytest.mark.parametrize(("base", "ours", "theirs", "expected"), RULE_TABLE)
def test_rule_for_one_path(base, ours, theirs, expected) -> None:
    b = {"f": base} if base else {}
    result = merge_three(b, files(f=ours), files(f=theirs))
    if expected == "CONFLICT":
        assert [c.path for c in result.conflicts] == ["f"]
        assert result.files.get("f") == (E(theirs) if theirs else None)
    else:
        assert result.conflicts == []
        got = result.files.get("f")
        assert (got.sha256 if got else None) == expected


def test_conflict_kinds() -> None:
    assert Conflict("f", None, "a", "b").kind == "add/add"
    assert Conflict("f", "x", None, "b").kind == "delete/modify"
    assert Conflict("f", "x", "a", None).kind == "modify/delete"
    assert Conflict("f", "x", "a", "b").kind == "modify/modify"


def test_same_content_keeps_our_entry() -> None:
    """Equal content stored in two chunks is no conflict; the first parent's entry stays."""
    result = merge_three({}, {"f": E("a", "ours")}, {"f": E("a", "theirs")})
    assert result.files["f"].tag == "ours"


class Dag:
    """A tiny version DAG: id -> (parents, files)."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[list[str], dict[str, E]]] = {}

    def add(self, vid: str, parents: list[str], content: dict[str, str]) -> str:
        self.nodes[vid] = (parents, {p: E(s) for p, s in content.items()})
        return vid

    def parents_of(self, vid: str) -> list[str]:
        return self.nodes[vid][0]

    def files_of(self, vid: str) -> dict[str, E]:
        return self.nodes[vid][1]

    def view(self, parents: list[str]):
        return merged_view(parents, self.files_of, self.parents_of)


def shas(result) -> dict[str, str]:
    return {p: e.sha256 for p, e in result.files.items()}


def test_issue_scenario_keeps_both_sides() -> None:
    """base {a,b,c}; feat deletes a and edits c; main edits b -> nothing lost or resurrected."""
    g = Dag()
    g.add("base", [], {"a": "a0", "b": "b0", "c": "c0"})
    g.add("main", ["base"], {"a": "a0", "b": "b1", "c": "c0"})
    g.add("feat", ["base"], {"b": "b0", "c": "c1"})
    result = g.view(["main", "feat"])
    assert result.conflicts == []
    assert shas(result) == {"b": "b1", "c": "c1"}


def test_parent_that_is_an_ancestor_adds_nothing_it_removed() -> None:
    g = Dag()
    g.add("v1", [], {"a": "1", "gone": "g"})
    g.add("v2", ["v1"], {"a": "2"})
    assert shas(g.view(["v2", "v1"])) == {"a": "2"}
    assert shas(g.view(["v1", "v2"])) == {"a": "2"}


def test_unrelated_parents_follow_clearml_order_rule() -> None:
    g = Dag()
    g.add("x", [], {"shared": "x", "onlyx": "1"})
    g.add("y", [], {"shared": "y", "onlyy": "2"})
    result = g.view(["x", "y"])
    assert shas(result) == {"shared": "y", "onlyx": "1", "onlyy": "2"}
    assert [(c.path, c.kind) for c in result.conflicts] == [("shared", "add/add")]


def test_criss_cross_history_uses_a_virtual_base() -> None:
    """Two merge bases (criss-cross): they are merged first, then used as the base."""
    g = Dag()
    g.add("root", [], {"f": "0", "g": "0", "h": "0"})
    g.add("l1", ["root"], {"f": "L", "g": "0", "h": "0"})
    g.add("r1", ["root"], {"f": "0", "g": "R", "h": "0"})
    # criss-cross: each side merges the other's first step, so l1 and r1 are both bases
    g.add("l2", ["l1", "r1"], {"f": "L", "g": "R", "h": "0"})
    g.add("r2", ["r1", "l1"], {"f": "L", "g": "R", "h": "0"})
    g.add("l3", ["l2"], {"f": "L", "g": "R", "h": "Lh"})
    g.add("r3", ["r2"], {"f": "L2", "g": "R", "h": "0"})
    assert merge_bases(["l3"], ["r3"], g.parents_of) == ["l1", "r1"]
    result = g.view(["l3", "r3"])
    assert result.conflicts == []
    assert shas(result) == {"f": "L2", "g": "R", "h": "Lh"}


def test_criss_cross_conflict_in_virtual_base_stays_conflicted() -> None:
    g = Dag()
    g.add("root", [], {"f": "0"})
    g.add("a", ["root"], {"f": "A"})
    g.add("b", ["root"], {"f": "B"})
    g.add("ab", ["a", "b"], {"f": "A"})  # resolved towards a
    g.add("ba", ["b", "a"], {"f": "B"})  # resolved towards b
    result = g.view(["ab", "ba"])
    assert [c.path for c in result.conflicts] == ["f"]


def test_three_parents_merge_left_to_right() -> None:
    g = Dag()
    g.add("base", [], {"a": "0", "b": "0", "c": "0", "d": "0"})
    g.add("p1", ["base"], {"a": "1", "b": "0", "c": "0", "d": "0"})
    g.add("p2", ["base"], {"a": "0", "b": "2", "c": "0"})  # edits b, deletes d
    g.add("p3", ["base"], {"a": "0", "b": "0", "c": "3", "d": "0", "e": "3"})
    result = g.view(["p1", "p2", "p3"])
    assert result.conflicts == []
    assert shas(result) == {"a": "1", "b": "2", "c": "3", "e": "3"}


def test_resolve_prefer_and_take() -> None:
    ours = files(f="o", g="o", h=None)
    theirs = files(f="t", g="t", h="t")
    base = {"f": "b", "g": "b", "h": "b"}
    result = merge_three(base, ours, theirs)
    assert result.conflict_paths() == ["f", "g", "h"]
    assert undecided(result, prefer=None, take={"f": "ours"}) == ["g", "h"]
    picked = resolve(result, ours, theirs, prefer="theirs", take={"f": "ours"})
    assert {p: e.sha256 for p, e in picked.items()} == {"f": "o", "g": "t", "h": "t"}
    picked = resolve(result, ours, theirs, prefer="ours")
    assert {p: e.sha256 for p, e in picked.items()} == {"f": "o", "g": "o"}
    with pytest.raises(ValueError, match="not a conflicted path"):
        resolve(result, ours, theirs, prefer="ours", take={"nope": "ours"})


# ------------------------------------------------------------------ properties

_contents = st.sampled_from(["p", "q", "r", "s"])
_tree = st.dictionaries(st.sampled_from(list("abcdef")), _contents, max_size=6)


def apply_edits(tree: dict[str, str], edits: dict[str, str | None]) -> dict[str, str]:
    """``tree`` with ``edits`` applied: a value sets a path, None deletes it."""
    out = dict(tree)
    for path, value in edits.items():
        if value is None:
            out.pop(path, None)
        else:
            out[path] = value
    return out


_edits = st.dictionaries(st.sampled_from(list("abcdefg")), st.none() | _contents, max_size=5)


@settings(max_examples=200, deadline=None)
@given(root=_tree, chain=st.lists(_edits, min_size=1, max_size=4), pick=st.integers(0, 3))
def test_merging_with_own_ancestor_gives_the_version(root, chain, pick) -> None:
    g = Dag()
    prev = g.add("v0", [], root)
    content = root
    for i, edits in enumerate(chain, start=1):
        content = apply_edits(content, edits)
        prev = g.add(f"v{i}", [prev], content)
    ancestor = f"v{min(pick, len(chain) - 1)}"
    for order in ([prev, ancestor], [ancestor, prev]):
        result = g.view(order)
        assert result.conflicts == []
        assert shas(result) == content


@settings(max_examples=300, deadline=None)
@given(root=_tree, left=_edits, right=_edits, third=_edits)
def test_conflict_free_merge_is_independent_of_parent_order(root, left, right, third) -> None:
    g = Dag()
    g.add("base", [], root)
    g.add("l", ["base"], apply_edits(root, left))
    g.add("r", ["base"], apply_edits(root, right))
    g.add("t", ["base"], apply_edits(root, third))
    two = g.view(["l", "r"])
    if not two.conflicts:
        assert shas(two) == shas(g.view(["r", "l"]))
    three = g.view(["l", "r", "t"])
    if not three.conflicts:
        for order in (["t", "l", "r"], ["r", "t", "l"]):
            other = g.view(order)
            if not other.conflicts:
                assert shas(other) == shas(three)


# ------------------------------------------------------------------ the executable bit


def _x(sha: str, executable: bool = False) -> E:
    return E(sha, executable=executable)


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        (True, False, True),  # only ours made it executable: kept
        (False, True, True),  # only theirs: kept
        (True, True, True),  # both the same: fine
        (False, False, False),
    ],
)
def test_a_one_sided_chmod_is_kept(ours, theirs, expected) -> None:
    base = {"f": "a"}
    result = merge_three(base, {"f": _x("a", ours)}, {"f": _x("a", theirs)})
    assert result.conflicts == []
    assert result.files["f"].executable is expected


def test_a_chmod_against_an_edit_conflicts() -> None:
    """One side's chmod and the other's edit change the file differently: a conflict."""
    result = merge_three({"f": "a"}, {"f": _x("a", True)}, {"f": _x("b")})
    assert [(c.path, c.kind, c.ours, c.theirs) for c in result.conflicts] == [
        ("f", "modify/modify", "a", "b")
    ]


def test_different_modes_added_on_both_sides_conflict() -> None:
    result = merge_three({}, {"f": _x("a", True)}, {"f": _x("a")})
    assert [c.kind for c in result.conflicts] == ["add/add"]


def test_a_chmod_over_the_dag_survives_a_merge() -> None:
    """base -> ours chmods +x, theirs edits another file: the view keeps both."""
    maps = {
        "b": {"f": _x("a"), "g": _x("c")},
        "o": {"f": _x("a", True), "g": _x("c")},
        "t": {"f": _x("a"), "g": _x("d")},
    }
    parents = {"b": [], "o": ["b"], "t": ["b"]}
    result = merged_view(["o", "t"], maps.__getitem__, parents.__getitem__)
    assert result.conflicts == []
    assert result.files["f"].executable and result.files["g"].sha256 == "d"


def test_ours_deleting_a_file_theirs_chmodded_conflicts() -> None:
    result = merge_three({"f": "a"}, {}, {"f": _x("a", True)})
    assert [c.kind for c in result.conflicts] == ["delete/modify"]
