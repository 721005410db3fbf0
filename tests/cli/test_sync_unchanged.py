"""A one-shot `gd sync` of a folder that holds exactly its parent makes no version."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_tree

SYNC = ("sync", "--project", "p", "--name", "n")


def _ids(gd) -> list[str]:
    return [row["id"] for row in gd("search", "--project", "p", "--json").json()]


def test_an_unchanged_folder_makes_no_new_version(gd, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})
    first = gd(*SYNC, "--folder", str(src), "--json").json()
    again = gd(*SYNC, "--folder", str(src), "--json").json()
    assert again["id"] == first["id"] and again["unchanged"] is True
    assert (again["added"], again["modified"], again["removed"]) == (0, 0, 0)
    assert _ids(gd) == [first["id"]]
    text = gd(*SYNC, "--folder", str(src))
    assert "no change against p/n 1.0.0: no new version made" in text.stderr
    assert gd("list", "--json").json()  # the current dataset is still the version
    (src / "a.txt").write_text("changed")
    changed = gd(*SYNC, "--folder", str(src), "--json").json()
    assert changed["id"] != first["id"] and changed["modified"] == 1
    assert "unchanged" not in changed
    assert len(_ids(gd)) == 2
    tagged = gd(*SYNC, "--folder", str(src), "--tags", "nightly", "--json").json()
    assert "unchanged" not in tagged and len(_ids(gd)) == 3  # a version was asked for


def test_a_merge_of_two_parents_is_a_version_even_without_changes(gd, tmp_path: Path):
    one = gd(*SYNC, "--folder", str(make_tree(tmp_path / "one", {"a": "1"})), "--json").json()
    two = gd(
        "sync",
        "--project",
        "p",
        "--name",
        "m",
        "--folder",
        str(make_tree(tmp_path / "two", {"b": "2"})),
        "--json",
    ).json()
    both = make_tree(tmp_path / "both", {"a": "1", "b": "2"})
    merged = gd(*SYNC, "--folder", str(both), "--parents", one["id"], two["id"], "--json").json()
    assert merged["id"] not in (one["id"], two["id"]) and "unchanged" not in merged
