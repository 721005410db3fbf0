"""Dataset.iter_file_batches: the files of iter_file_entries as runs of columns,
with the same filters, order and fields, for drafts, small and paged versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitdata import Dataset
from gitdata.core import pages
from tests.conftest import closed_version, make_tree


def _rows(batches: Any) -> list[dict[str, Any]]:
    out = []
    for b in batches:
        urls = b.urls if b.urls is not None else [None] * len(b.paths)
        for path, size, sha, url in zip(b.paths, b.sizes, b.sha256s, urls, strict=True):
            out.append({"path": path, "size": size, "sha256": sha} | ({"url": url} if url else {}))
    return out


FILTERS: list[dict[str, Any]] = [
    {},
    {"patterns": ["d1/*"]},
    {"patterns": ["*.txt"], "recursive": False},
    {"patterns": ["d0/f3.bin", "nothing*"]},
]


@pytest.fixture
def paged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Versions of a few dozen files are paged, a few files a page."""
    monkeypatch.setattr(pages, "PAGED_FROM_FILES", 4)
    monkeypatch.setattr(pages, "PAGE_MIN_FILES", 2)
    monkeypatch.setattr(pages, "PAGE_MAX_FILES", 5)


@pytest.mark.parametrize("how", ["small", "paged"])
@pytest.mark.parametrize("filters", FILTERS)
def test_batches_hold_the_rows_of_iter_file_entries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    how: str,
    filters: dict[str, Any],
):
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    if how == "paged":
        request.getfixturevalue("paged")
    files: dict[str, bytes | str] = {f"d{i % 3}/f{i}.bin": b"%d" % i for i in range(30)}
    files["top.txt"] = "t"
    parent = closed_version(tmp_path / "a", files)
    changed = {"d1/f4.bin": "changed", "d1/new.txt": "new", "zz/last.bin": "z"}
    make_tree(tmp_path / "a", changed)
    (tmp_path / "a" / "d0" / "f3.bin").unlink()
    child = Dataset.create(dataset_project="p", dataset_name="ds", parent_datasets=[parent.id])
    child.sync_folder(tmp_path / "a")
    want_draft = list(child.iter_file_entries(**filters))
    assert _rows(child.iter_file_batches(**filters)) == want_draft  # a draft
    child.upload()
    child.finalize()
    closed = Dataset.get(dataset_id=child.id)
    assert isinstance(closed.get_manifest(), pages.PagedManifest) == (how == "paged")
    for ds in (parent, closed):
        assert _rows(ds.iter_file_batches(**filters)) == list(ds.iter_file_entries(**filters))
    assert list(closed.iter_file_entries(**filters)) == want_draft
    if not filters:
        expected = sorted({*files, *changed} - {"d0/f3.bin"}, key=str.encode)
        assert [r["path"] for r in want_draft] == expected


def test_modified_only_keeps_what_the_version_changed(tmp_path: Path, monkeypatch, paged):
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    files: dict[str, bytes | str] = {f"d/f{i:02d}.bin": b"%d" % i for i in range(20)}
    parent = closed_version(tmp_path / "a", files)
    make_tree(tmp_path / "a", {"d/f07.bin": "edited", "e/new.bin": "n"})
    child = closed_version(tmp_path / "a", {}, parents=[parent.id])
    got = _rows(child.iter_file_batches(dataset_id=child.id))
    assert [r["path"] for r in got] == ["d/f07.bin", "e/new.bin"]
    assert got == list(child.iter_file_entries(dataset_id=child.id))
    assert len(_rows(child.iter_file_batches())) == 21
