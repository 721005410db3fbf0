"""A get streams a paged version page by page and still refuses a file/folder clash
that only the whole file list shows (docs/format.md §4b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.core import pages
from gitdata.errors import FormatError
from gitdata.ops import commit
from gitdata.ops.context import Context
from tests.conftest import make_tree


@pytest.fixture
def clashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dataset:
    """A paged version holding 'a' and 'a/b' on different pages (written by a writer
    whose own clash check is broken: fault injection)."""
    monkeypatch.setattr(pages, "PAGED_FROM_FILES", 20)
    monkeypatch.setattr(pages, "PAGE_MIN_FILES", 5)
    monkeypatch.setattr(pages, "PAGE_CUT_MASK", 7)
    monkeypatch.setattr(pages, "PAGE_MAX_FILES", 12)
    files = {f"a-{i:02d}": f"x{i}" for i in range(30)}
    one = make_tree(tmp_path / "one", {"a": "file", **files})
    two = make_tree(tmp_path / "two", {"a/b": "inside"})
    monkeypatch.setattr(commit, "file_folder_clash", lambda paths: None)
    monkeypatch.setattr(commit, "_refuse_clash", lambda draft, clash: None)  # (streamed close)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(one)
    ds.add_files(two)
    ds.finalize(auto_upload=True)
    manifest = Dataset.get(dataset_id=ds.id).get_manifest()
    assert manifest.objects() and len(manifest.objects()) >= 3  # paged, over pages
    Context().cache.clear()
    return Dataset.get(dataset_id=ds.id)


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_a_get_of_a_paged_version_catches_a_file_folder_clash(
    clashing: Dataset, tmp_path: Path, mode: str
):
    out = tmp_path / "out"
    get = clashing.get_linked_copy if mode == "link" else clashing.get_mutable_local_copy
    with pytest.raises(FormatError, match="'a' is a file and also the folder of 'a/b'"):
        get(out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    cache = Context().cache
    assert not any(cache.has_blob(e.sha256) for e in clashing.get_manifest())  # before fetching
