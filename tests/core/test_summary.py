"""The change-set summary: kinds, renames by sha256, groups, largest changes."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from gitdata.core.lineage import diff
from gitdata.core.summary import file_type, summarize, top_folder


@dataclass(frozen=True)
class E:
    size: int
    sha256: str
    executable: bool = False


def test_kinds_sizes_and_renames():
    old = {
        "img/a.jpg": E(100, "a"),
        "img/b.jpg": E(200, "b"),
        "labels/x.txt": E(5, "x"),
        "README": E(7, "r"),
    }
    new = {
        "img/a.jpg": E(150, "a2"),  # modified
        "moved/b.jpg": E(200, "b"),  # renamed from img/b.jpg
        "README": E(7, "r"),  # unchanged
        "new.CSV": E(3, "n"),  # added
    }
    s = summarize(old, new)
    assert [(c.path, c.old_size, c.size, c.delta) for c in s.modified] == [
        ("img/a.jpg", 100, 150, 50)
    ]
    assert [(c.old_path, c.path) for c in s.renamed] == [("img/b.jpg", "moved/b.jpg")]
    assert [c.path for c in s.added] == ["new.CSV"]
    assert [(c.path, c.old_size) for c in s.removed] == [("labels/x.txt", 5)]
    t = s.totals
    assert (t.added, t.modified, t.removed, t.renamed, t.files) == (1, 1, 1, 1, 4)
    assert (t.added_bytes, t.modified_bytes, t.removed_bytes, t.renamed_bytes) == (3, 150, 5, 200)
    assert t.delta == 3 + 50 - 5
    folders = {g.key: g for g in s.by_folder}
    assert set(folders) == {"img/", "moved/", "labels/", ""}
    assert folders["moved/"].renamed == 1 and folders[""].added == 1
    types = {g.key: g for g in s.by_type}
    assert set(types) == {".jpg", ".txt", ".csv"}
    assert types[".jpg"].modified == 1 and types[".jpg"].renamed == 1
    # largest first (the larger of old and new size), then path
    assert [c.path for c in s.largest(2)] == ["moved/b.jpg", "img/a.jpg"]
    # the plain change set is what diff gives (a rename is a removal and an addition)
    assert s.change_set() == diff(old, new)


def test_renames_pair_up_in_path_order_and_extra_copies_stay():
    old = {"a/1": E(1, "s"), "a/2": E(1, "s")}
    new = {"b/1": E(1, "s"), "b/2": E(1, "s"), "b/3": E(1, "s")}
    s = summarize(old, new)
    assert [(c.old_path, c.path) for c in s.renamed] == [("a/1", "b/1"), ("a/2", "b/2")]
    assert [c.path for c in s.added] == ["b/3"] and not s.removed
    plain = summarize(old, new, renames=False)
    assert not plain.renamed and len(plain.added) == 3 and len(plain.removed) == 2


def test_paths_lists_a_rename_only_as_renamed():
    old = {"a/1": E(1, "s"), "a/2": E(1, "s"), "gone": E(2, "g"), "m": E(3, "x")}
    new = {"b/2": E(1, "s"), "b/1": E(1, "s"), "new": E(4, "n"), "m": E(3, "y")}
    assert summarize(old, new).paths() == {
        "added": ["new"],
        "modified": ["m"],
        "removed": ["gone"],
        "renamed": [{"from": "a/1", "to": "b/1"}, {"from": "a/2", "to": "b/2"}],
    }
    plain = summarize(old, new, renames=False).paths()
    assert plain["renamed"] == [] and plain["added"] == ["b/1", "b/2", "new"]


def test_filtered_keeps_a_rename_when_either_side_matches():
    old = {"a/x": E(1, "s"), "a/y": E(2, "t")}
    new = {"b/x": E(1, "s"), "c/z": E(3, "u")}
    s = summarize(old, new).matching("a")
    assert [(c.old_path, c.path) for c in s.renamed] == [("a/x", "b/x")]
    assert [c.path for c in s.removed] == ["a/y"] and not s.added
    assert s.totals.files == 2
    assert summarize(old, new).matching("*.nothing").is_empty()


def test_groups_and_types_of_odd_names():
    assert top_folder("a/b/c.txt") == "a/" and top_folder("c.txt") == ""
    assert file_type("x/.gitignore") == "" and file_type("Makefile") == ""
    assert file_type("a.tar.GZ") == ".gz" and file_type("dir.v1/file") == ""


def test_to_dict_limits_the_largest_list():
    old: dict[str, E] = {}
    new = {f"f{i:03d}": E(i, str(i)) for i in range(50)}
    d = summarize(old, new).to_dict(limit=5)
    assert d["totals"]["added"] == 50
    assert [c["path"] for c in d["largest"]] == ["f049", "f048", "f047", "f046", "f045"]
    assert d["by_folder"][0]["key"] == ""


# one content, one size: sha256 names the bytes
entries = st.sampled_from([E(1, "a"), E(2, "b"), E(2, "c"), E(0, "d")])
maps = st.dictionaries(st.sampled_from(["a", "b", "d/c", "d/e.x", "f.x"]), entries, max_size=5)


@given(maps, maps)
def test_summary_accounts_for_every_difference(old, new):
    s = summarize(old, new)
    assert s.change_set() == diff(old, new)
    assert s.totals.delta == sum(e.size for e in new.values()) - sum(e.size for e in old.values())
    assert sum(g.files for g in s.by_folder) == s.totals.files == sum(g.files for g in s.by_type)
    for c in s.renamed:
        assert c.old_path is not None and old[c.old_path].sha256 == new[c.path].sha256


def test_holdings_tally_by_folder_and_type() -> None:
    from gitdata.core.summary import holdings

    folders, types = holdings([("img/a.JPG", 10), ("img/b.jpg", 5), ("notes", 3), ("t/x.csv", 1)])
    assert [(t.key, t.added, t.added_bytes) for t in folders] == [
        ("img/", 2, 15),
        ("", 1, 3),
        ("t/", 1, 1),
    ]
    assert [(t.key, t.added, t.added_bytes) for t in types] == [
        (".jpg", 2, 15),
        ("", 1, 3),
        (".csv", 1, 1),
    ]
