"""Packing a draft's content into chunks (ops/upload.py): a chunk is named by the sha256
of its bytes whether they were hashed as written (members read whole) or read back
after a streamed member's header was patched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ops import upload as upload_mod
from tests.conftest import make_tree


def _chunks(store: Path) -> dict[str, bytes]:
    """Every zip chunk of a local store: object name -> bytes."""
    out = {}
    for obj in (store / "objects").glob("*/*"):
        data = obj.read_bytes()
        if data[:4] == b"PK\x03\x04":
            out[obj.name] = data
    return out


@pytest.mark.parametrize("streamed", [False, True], ids=["read-whole", "streamed"])
def test_every_chunk_is_named_by_the_hash_of_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streamed: bool
):
    if streamed:
        monkeypatch.setattr(upload_mod, "_SMALL_FILE", 0)  # every member streamed
    files = {f"d{i % 3}/f{i}.bin": bytes([i]) * (60_000 + 1_000 * i) for i in range(30)}
    src = make_tree(tmp_path / "src", files)
    store = tmp_path / "store"
    ds = Dataset.create(dataset_project="p", dataset_name="n", output_uri=str(store))
    ds.add_files(src)
    ds.upload(chunk_size=1)  # 3 MB in chunks of about 1 MB
    ds.finalize()
    chunks = _chunks(store)
    assert len(chunks) >= 3
    for name, data in chunks.items():
        assert hashlib.sha256(data).hexdigest() == name
    closed = Dataset.get(dataset_id=ds.id)
    assert {p: closed.read_bytes(p) for p in files} == files


def test_an_upload_in_batches_stores_each_content_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_pages: None
):
    """Pending files are taken 7 at a time: content a batch stored is referenced by the
    later batches, never sent again, and the first version (paged: 40 files) closes
    streamed from the draft."""
    import zipfile

    monkeypatch.setattr(upload_mod, "_UPLOAD_BATCH", 7)
    files = {f"d{i % 4}/f{i:02d}.bin": f"content {i % 10}".encode() for i in range(40)}
    src = make_tree(tmp_path / "src", files)
    store = tmp_path / "store"
    ds = Dataset.create(dataset_project="p", dataset_name="n", output_uri=str(store))
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    members = [
        name
        for obj in (store / "objects").glob("*/*")
        if obj.read_bytes()[:4] == b"PK\x03\x04"
        for name in zipfile.ZipFile(obj).namelist()
    ]
    assert len(members) == 10  # one member per content
    closed = Dataset.get(dataset_id=ds.id)
    assert {p: closed.read_bytes(p) for p in files} == files
