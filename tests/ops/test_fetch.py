"""Big members are fetched and written in pieces; chunks read whole are downloaded once
per get, whatever the number of batches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.core import zipchunk
from gitdata.errors import IntegrityError
from gitdata.ops import fetch, materialize
from gitdata.ops.context import Context
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree

PIECE = 64 * 1024


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Members over 64 KiB are streamed, 64 KiB at a time."""
    monkeypatch.setattr(fetch, "STREAM_FROM", PIECE)
    monkeypatch.setattr(zipchunk, "STREAM_PIECE", PIECE)


def version(tmp_path: Path, files: dict[str, bytes], compression: str | None = None) -> Dataset:
    make_tree(tmp_path / "src", files)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(tmp_path / "src")
    ds.upload(chunk_size=64, compression=compression)
    ds.finalize()
    Context().cache.clear()
    return Dataset.get(dataset_id=ds.id)


def big(seed: int, size: int = 5 * PIECE + 123) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


def corrupt_member(ds: Dataset, path: str) -> None:
    """Flip one byte in the middle of a member's data in the store (a bad disk)."""
    entry = ds.get_manifest().get(path)
    assert entry is not None
    chunk = Path(Context().settings.storage) / "objects" / entry.chunk[:2] / entry.chunk
    chunk.chmod(0o644)
    with open(chunk, "r+b") as fh:
        fh.seek(entry.offset + entry.length // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("mode", ["link", "copy"])
def test_big_members_are_streamed_and_land_intact(
    tmp_path: Path, small_pieces, mode: str, compression: str | None
):
    files = {"a/big": big(1), "b/same": big(1), "c/other": big(2), "small": b"s"}
    ds = version(tmp_path, files, compression)
    out = tmp_path / "out"
    if mode == "link":
        ds.get_linked_copy(out)
    else:
        ds.get_mutable_local_copy(out)
    assert read_tree(out) == files


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_a_streamed_member_with_a_corrupt_byte_is_refused(tmp_path: Path, small_pieces, mode):
    ds = version(tmp_path, {"a/big": big(1), "b/fine": big(2)})
    corrupt_member(ds, "a/big")
    out = tmp_path / "out"
    get = ds.get_linked_copy if mode == "link" else ds.get_mutable_local_copy
    with pytest.raises(IntegrityError, match="corrupt"):
        get(out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    cache = Context().cache
    entry = ds.get_manifest().get("a/big")
    assert entry is not None and not cache.has_blob(entry.sha256)
    assert [p.name for p in cache.tmp_dir.iterdir()] == []  # no partial blob, no chunk


def test_a_chunk_read_whole_is_downloaded_once_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    files = {f"d{i % 3}/f{i:02d}": f"content {i}\n".encode() * 20 for i in range(40)}
    ds = version(tmp_path, files)
    assert len(ds.get_manifest().chunks()) == 1
    downloads: list[str] = []
    get_file = FsspecStore.get_file

    def counting(self, key: str, *args, **kwargs):
        downloads.append(key)
        return get_file(self, key, *args, **kwargs)

    monkeypatch.setattr(FsspecStore, "get_file", counting)
    monkeypatch.setattr(materialize, "BATCH_FILES", 7)
    ds.get_linked_copy(tmp_path / "link")
    assert read_tree(tmp_path / "link") == files
    Context().cache.clear()
    ds.get_mutable_local_copy(tmp_path / "copy")
    assert read_tree(tmp_path / "copy") == files
    assert len(downloads) == 2  # one per get, not one per batch
    assert [p.name for p in Context().cache.tmp_dir.iterdir()] == []
