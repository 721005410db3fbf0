from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from gitdata.core.lineage import ancestors, diff
from gitdata.core.merge import merged_view


@dataclass(frozen=True)
class E:
    sha256: str
    executable: bool = False


maps = st.dictionaries(st.sampled_from("abcdefg"), st.sampled_from("123").map(E), max_size=7)


@given(st.lists(maps, max_size=4))
def test_unrelated_parents_later_parent_wins(parents):
    """Parents with no common ancestor merge as ClearML does: the later file wins."""
    ids = [f"p{i}" for i in range(len(parents))]
    merged = merged_view(ids, lambda v: parents[int(v[1:])], lambda v: []).files
    for p, e in merged.items():
        last = [m[p] for m in parents if p in m][-1]
        assert e == last
    assert set(merged) == set().union(*parents) if parents else merged == {}


@given(maps, maps)
def test_diff_laws(old, new):
    c = diff(old, new)
    assert set(c.added) == set(new) - set(old)
    assert set(c.removed) == set(old) - set(new)
    assert all(old[p] != new[p] for p in c.modified)
    # applying the change set to old gives new (by path set and content)
    result = {p: e for p, e in old.items() if p not in c.removed}
    result.update({p: new[p] for p in c.added + c.modified})
    assert result == new


@given(maps)
def test_diff_with_itself_is_empty(m):
    assert diff(m, m).is_empty()


def test_ancestors_walks_dag_once_and_tolerates_missing():
    graph = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}
    out = ancestors(["d"], lambda v: graph.get(v, []))
    assert sorted(out) == ["a", "b", "c", "d"]
    assert ancestors(["x"], lambda v: graph.get(v, [])) == ["x"]
