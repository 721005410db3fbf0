"""Interrupted uploads resume; a crash before the record leaves no visible version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import StorageUnavailableError
from gitdata.ops.context import Context
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {f"d{i % 4}/f{i}.bin": os.urandom(3000) for i in range(40)})


def test_interrupted_upload_resumes_without_resending(src: Path, monkeypatch):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    calls: list[str] = []
    failed: list[bool] = []
    real_put_file = FsspecStore.put_file

    def flaky(self, key, local_path, **kw):
        calls.append(key)
        if len(calls) == 3 and not failed:
            failed.append(True)
            raise StorageUnavailableError("connection lost", key=key)
        return real_put_file(self, key, local_path, **kw)

    monkeypatch.setattr(FsspecStore, "put_file", flaky)
    with pytest.raises(StorageUnavailableError):
        ds.upload(chunk_size=0.01, max_workers=1)  # ~10 KB chunks: many chunks
    shipped = set(calls[:2])
    store_tmp = Path(Context().settings.storage) / "tmp"
    left = [p for p in store_tmp.iterdir() if not p.name.startswith("spool-")]
    assert not left, "a half-written chunk was left in the store"  # (spool: whole chunks)
    assert not Context().store.exists_many(["versions/" + ds.id + ".yaml"])
    calls.clear()
    again = Dataset.get(dataset_id=ds.id)  # a new process would see the saved draft
    again.upload(chunk_size=0.01, max_workers=1)
    assert not shipped & set(calls), "chunks stored before the interruption were sent again"
    again.finalize()
    assert read_tree(Path(again.get_local_copy())) == read_tree(src)


def test_resumed_upload_resends_chunks_the_store_lost(src: Path):
    """Saved upload progress is trusted only as far as the store confirms it."""
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.upload(chunk_size=0.01, max_workers=1)
    store_root = Path(Context().settings.storage)
    chunks = sorted(store_root.glob("objects/**/*"), key=str)
    chunks = [c for c in chunks if c.is_file()]
    assert len(chunks) > 2
    for lost in chunks[:2]:  # e.g. a backend that crashed before making them durable
        lost.unlink()
    again = Dataset.get(dataset_id=ds.id)
    again.upload(chunk_size=0.01, max_workers=1)  # must notice and re-send them
    again.finalize()
    Context().cache.clear()
    assert Dataset.get(dataset_id=ds.id).verify_dataset_hash() == []
    assert read_tree(Path(Dataset.get(dataset_id=ds.id).get_local_copy())) == read_tree(src)


def test_crash_before_record_leaves_no_version(src: Path, monkeypatch):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.upload()
    real_put_bytes = FsspecStore.put_bytes

    def crash_on_record(self, key, data, **kw):
        if key.startswith("versions/"):
            raise StorageUnavailableError("power cut", key=key)
        return real_put_bytes(self, key, data, **kw)

    monkeypatch.setattr(FsspecStore, "put_bytes", crash_on_record)
    with pytest.raises(StorageUnavailableError):
        ds.finalize()
    monkeypatch.setattr(FsspecStore, "put_bytes", real_put_bytes)
    assert Dataset.list_datasets() == []  # nothing half-visible
    again = Dataset.get(dataset_id=ds.id)
    assert not again.is_final()
    assert again.finalize()
    assert [r["id"] for r in Dataset.list_datasets()] == [ds.id]


def test_failed_edit_changes_nothing(src: Path, tmp_path: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    before = ds.list_files()
    evil = make_tree(tmp_path / "evil", {"ok.txt": "x"})
    outside = make_tree(tmp_path / "outside", {"secret": "s"})
    os.symlink(outside / "secret", evil / "link")
    with pytest.raises(ValueError):
        ds.add_files(evil)
    assert Dataset.get(dataset_id=ds.id).list_files() == before


@pytest.mark.parametrize("mode", ["cached", "copy"])
def test_interrupted_get_keeps_what_it_verified(src: Path, tmp_path: Path, monkeypatch, mode):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.upload(chunk_size=0.01)  # ~10 KB chunks, each read by ranged requests
    ds.finalize()
    Context().cache.clear()
    reads: list[str] = []
    real_get_range = FsspecStore.get_range

    def cut_after_ten(self, key, start, length):
        reads.append(key)
        if len(reads) > 10:
            raise StorageUnavailableError("connection reset", key=key)
        return real_get_range(self, key, start, length)

    def get(target: Path):
        again = Dataset.get(dataset_id=ds.id)
        if mode == "copy":
            return again.get_mutable_local_copy(str(target), max_workers=1)
        return again.get_local_copy(max_workers=1)

    monkeypatch.setattr(FsspecStore, "get_range", cut_after_ten)
    target = tmp_path / "copy"
    with pytest.raises(StorageUnavailableError):
        get(target)
    assert not target.exists()  # nothing under the final name
    assert not list(tmp_path.glob(".copy.gd-tmp-*"))  # and no staging left
    monkeypatch.setattr(FsspecStore, "get_range", real_get_range)

    counted: list[str] = []

    def counting(self, key, start, length):
        counted.append(key)
        return real_get_range(self, key, start, length)

    monkeypatch.setattr(FsspecStore, "get_range", counting)
    path = get(target)
    assert read_tree(Path(path)) == read_tree(src)
    assert len(counted) == 40 - 10  # the ten verified files were not fetched again
