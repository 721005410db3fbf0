"""A draft's files as changes over its parents' merged files (ops/draftfiles.py)."""

from __future__ import annotations

import pytest

from gitdata.core.manifest import FileEntry, Manifest
from gitdata.ops.draftfiles import DraftFile, DraftFiles

SHA = "ab" * 32


def entry(path: str, size: int = 1, sha: str = SHA) -> FileEntry:
    return FileEntry(path, size, sha, "cd" * 32, 0, size)


def base() -> Manifest:
    return Manifest([entry("a"), entry("b/c"), entry("b/d")])


@pytest.fixture
def files() -> DraftFiles:
    return DraftFiles(base)


def test_the_base_is_read_only_when_needed():
    loads: list[int] = []

    def load() -> Manifest:
        loads.append(1)
        return base()

    files = DraftFiles(load)
    files["new"] = DraftFile(2, SHA, source="/tmp/new")
    assert files.changed.keys() == {"new"} and loads == []
    assert len(files) == 4 and loads == [1]
    assert "a" in files and loads == [1]


def test_a_file_read_from_the_base_is_a_copy_until_assigned_back(files):
    f = files["a"]
    f.executable = True
    assert files["a"].executable is False and files.changed == {}
    files["a"] = f
    assert files["a"].executable is True and set(files.changed) == {"a"}


def test_removing_a_base_path_records_it_and_adding_it_back_forgets_that(files):
    del files["b/c"]
    assert "b/c" not in files and files.removed == {"b/c"} and len(files) == 2
    with pytest.raises(KeyError):
        files["b/c"]
    with pytest.raises(KeyError):
        del files["b/c"]
    files["b/c"] = DraftFile(3, SHA, source="/x")
    assert files.removed == frozenset() and files["b/c"].size == 3 and len(files) == 3


def test_removing_a_changed_base_path_still_removes_the_base_file(files):
    files["a"] = DraftFile(5, SHA, source="/y")
    del files["a"]
    assert "a" not in files and files.removed == {"a"} and files.changed == {}


def test_removing_a_path_only_the_draft_has_leaves_no_trace(files):
    files["z"] = DraftFile(1, SHA, source="/z")
    del files["z"]
    assert files.changed == {} and files.removed == frozenset() and len(files) == 3


def test_iteration_gives_every_path_once_with_the_drafts_own_files(files):
    files["b/c"] = DraftFile(9, SHA, source="/c")
    files["e"] = DraftFile(1, SHA, source="/e")
    del files["a"]
    assert list(files) == ["b/c", "b/d", "e"]
    assert {p: f.size for p, f in files.items()} == {"b/c": 9, "b/d": 1, "e": 1}
    assert [f.size for f in files.values()] == [9, 1, 1]
    assert [p for p, _ in files.pending()] == ["b/c", "e"]


def test_entries_pass_base_entries_through_and_build_the_drafts_own(files):
    files["b/c"] = DraftFile(1, SHA, chunk="ef" * 32, offset=4, length=1)
    got = list(files.entries())
    assert got[0] is files.base.get("a")
    assert got[1] == FileEntry("b/c", 1, SHA, "ef" * 32, 4, 1)


def test_same_as_tells_an_unchanged_file(files):
    base = files.base.get("a")
    assert DraftFile.from_entry(base).same_as(base)
    assert not DraftFile(1, SHA, source="/a").same_as(base)  # not stored yet
    assert not DraftFile.from_entry(base).same_as(None)


def test_files_of_a_draft_without_parents():
    own = DraftFiles.of({"x": DraftFile(1, SHA, source="/x")})
    assert list(own) == ["x"] and len(own) == 1 and own.base == Manifest()
