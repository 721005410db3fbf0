"""Dataset.add_external_files, link_entries, get_num_chunks and dataset_version."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import DatasetStateError, ExternalFileNotFoundError, InvalidInputError
from tests.conftest import make_tree


def test_links_from_a_list_of_urls(tmp_path: Path):
    one = make_tree(tmp_path / "one", {"a.csv": "a"})
    two = make_tree(tmp_path / "two", {"b.csv": "b", "c.txt": "c"})
    ds = Dataset.create(dataset_project="p", dataset_name="links")
    added = ds.add_external_files(
        [one.as_uri(), two.as_uri()], wildcard="*.csv", dataset_path="ext", max_workers=2
    )
    assert added == 2
    assert [e["path"] for e in ds.link_entries] == ["ext/a.csv", "ext/b.csv"]
    assert ds.add_external_files(one.as_uri(), dataset_path="ext") == 0  # unchanged
    ds.finalize(auto_upload=True)
    got = Dataset.get(dataset_id=ds.id)
    assert got.link_entries_dict["ext/b.csv"]["url"] == (two / "b.csv").as_uri()
    assert set(got.file_entries_dict) == {"ext/a.csv", "ext/b.csv"}
    assert got.read_bytes("ext/a.csv") == b"a"
    assert got.dataset_version == got.version == "1.0.0"


def test_refusals_change_nothing(tmp_path: Path):
    remote = make_tree(tmp_path / "r", {"a.csv": "a", "sub/a.csv": "b"})
    ds = Dataset.create(dataset_project="p", dataset_name="links")
    with pytest.raises(ExternalFileNotFoundError):
        ds.add_external_files([remote.as_uri(), (tmp_path / "nothing").as_uri()])
    with pytest.raises(InvalidInputError):
        ds.add_external_files("s3://KEY:SECRET@bucket/x")
    with pytest.raises(InvalidInputError):
        ds.add_external_files("relative/path")
    with pytest.raises(InvalidInputError):  # a.csv and sub/a.csv both land at a.csv
        ds.add_external_files([(remote / "a.csv").as_uri(), (remote / "sub/a.csv").as_uri()])
    assert ds.list_files() == []
    ds.add_external_files(remote.as_uri())
    ds.finalize(auto_upload=True)
    with pytest.raises(DatasetStateError):
        ds.add_external_files(remote.as_uri())


def test_get_num_chunks(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a/x.bin": b"x" * 3000, "b/y.bin": b"y" * 3000})
    parent = Dataset.create(dataset_project="p", dataset_name="chunks")
    parent.add_files(src)
    parent.upload(chunk_size=0.001)  # about 1 kB: one chunk per file
    parent.finalize()
    assert parent.get_num_chunks() == 2
    child = Dataset.create(dataset_project="p", dataset_name="chunks", parent_datasets=[parent.id])
    child.add_files(make_tree(tmp_path / "new", {"z.bin": b"z" * 10}))
    child.add_external_files((src / "a" / "x.bin").as_uri(), dataset_path="linked")
    child.finalize(auto_upload=True)
    assert child.get_num_chunks() == 3
    assert child.get_num_chunks(include_parents=False) == 1  # the link is in no chunk
