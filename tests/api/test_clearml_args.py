"""Every argument of the ClearML-shaped API does what ClearML documents, or says it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import DatasetNotFoundError
from gitdata.ops.context import Context
from tests.conftest import make_tree

FILES = {"a.txt": "alpha", "sub/b.txt": "beta", "sub/c.bin": b"C" * 3000}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", FILES)


def closed(src: Path, project: str = "proj", name: str = "ds", **kw) -> Dataset:
    ds = Dataset.create(dataset_project=project, dataset_name=name, **kw)
    ds.add_files(src)
    ds.upload()
    assert ds.finalize()
    return ds


def objects() -> set[str]:
    return set(Context().store.list("objects/"))


def test_delete_files_false_removes_the_record_and_keeps_the_objects(src: Path):
    ds = closed(src)
    before = objects()
    assert before
    Dataset.delete(dataset_id=ds.id, delete_files=False)
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_id=ds.id)
    assert objects() == before
    assert Context().store.list("versions/") == []
