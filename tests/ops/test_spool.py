"""Content captured when it is added (gitdata/ops/spool.py): spool chunks in a local
store's tmp/, published whole by the upload or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import LocalPathUnreadableError
from gitdata.ops import upload as upload_mod
from gitdata.ops.context import Context
from gitdata.ops.remote import verify_remote
from tests.conftest import make_tree, read_tree


def _store() -> Path:
    return Path(Context().settings.storage)


def _spools() -> list[Path]:
    tmp = _store() / "tmp"
    return sorted(tmp.glob("spool-*")) if tmp.exists() else []


def _stored_bytes() -> bytes:
    """Every chunk and manifest object of the store, concatenated."""
    objects = _store() / "objects"
    return b"".join(p.read_bytes() for p in sorted(objects.rglob("*")) if p.is_file())


def _deep_ok(ds: Dataset) -> bool:
    """``gd verify --remote --deep``: every object there, every chunk hashing to its name."""
    ctx = Context()
    record = ctx.record(ds.id)
    manifest = ctx.manifest(record.manifest)
    return verify_remote(ctx, ds.id, record.manifest, manifest, deep=True).ok


def _unique(i: int) -> bytes:
    return f"content {i} ".encode() * 40 + os.urandom(8).hex().encode()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {f"d{i % 3}/f{i}.bin": _unique(i) for i in range(30)})


def _no_source_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, dataset_path: str) -> int:
        raise AssertionError(f"the upload read {source} again")

    monkeypatch.setattr(upload_mod, "_open_pending", refuse)


def test_a_close_publishes_the_chunks_the_add_packed_and_reads_no_source(
    src: Path, monkeypatch: pytest.MonkeyPatch
):
    expected = read_tree(src)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    assert len(_spools()) == 1
    _no_source_reads(monkeypatch)
    ds.finalize(auto_upload=True)
    assert _spools() == []  # renamed into objects/
    assert read_tree(Path(ds.get_local_copy())) == expected
    assert _deep_ok(ds)


def test_files_deleted_after_the_add_are_stored_from_what_it_captured(src: Path):
    expected = read_tree(src)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    for p in src.rglob("*.bin"):
        p.unlink()
    ds.finalize(auto_upload=True)
    assert read_tree(Path(ds.get_local_copy())) == expected


def test_a_chunk_holding_content_no_longer_wanted_is_not_published(
    src: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file removed from the draft after the add: its bytes must not reach the
    store inside a chunk nobody references; the other files are packed again."""
    gone = (src / "d0" / "f0.bin").read_bytes()
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.remove_files("d0/f0.bin")
    ds.finalize(auto_upload=True)
    assert gone not in _stored_bytes()
    assert _spools() == []  # the unused chunk is removed with the upload
    files = read_tree(Path(ds.get_local_copy()))
    assert "d0/f0.bin" not in files and len(files) == 29


@pytest.mark.parametrize("damage", ["flipped", "truncated", "missing", "symlink"])
def test_a_damaged_or_missing_spool_chunk_falls_back_to_the_sources(
    src: Path, tmp_path: Path, damage: str
):
    expected = read_tree(src)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    (spool,) = _spools()
    data = spool.read_bytes()
    if damage == "flipped":
        spool.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncated":
        spool.write_bytes(data[:-10])
    elif damage == "missing":
        spool.unlink()
    else:
        outside = tmp_path / "elsewhere.zip"
        outside.write_bytes(data)
        spool.unlink()
        spool.symlink_to(outside)
    ds.finalize(auto_upload=True)
    assert read_tree(Path(ds.get_local_copy())) == expected
    assert _deep_ok(ds)
    assert not any(p.is_symlink() for p in (_store() / "objects").rglob("*"))
    if damage == "symlink":
        assert (tmp_path / "elsewhere.zip").read_bytes() == data  # never moved nor removed


def test_content_added_twice_and_content_the_store_holds_is_stored_once(src: Path, tmp_path: Path):
    first = Dataset.create(dataset_project="p", dataset_name="a")
    first.add_files(src)
    first.finalize(auto_upload=True)
    before = _stored_bytes()
    again = make_tree(tmp_path / "again", {"x.bin": b"new file " * 50})
    second = Dataset.create(dataset_project="p", dataset_name="b")  # no parent relation
    second.add_files(tmp_path / "src" / "d1")
    second.add_files(again)  # a second add, a second spool chunk
    second.add_files(tmp_path / "src" / "d1", dataset_path="copy")  # the same bytes again
    second.finalize(auto_upload=True)
    stored = _stored_bytes()
    for p in (src / "d1").iterdir():
        assert stored.count(p.read_bytes()) == 1, p  # referenced, never stored again
    assert stored.count(b"new file " * 50) == 1
    assert len(stored) - len(before) < 10_000  # the new file's chunk, manifests, index
    assert _spools() == []


def test_an_upload_at_another_chunk_size_packs_from_the_sources(src: Path):
    expected = read_tree(src)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.upload(chunk_size=0.001)  # MB: chunks of about 1 KB, not the add's
    ds.finalize()
    assert read_tree(Path(ds.get_local_copy())) == expected
    assert _spools() == []
    chunks = [p for p in (_store() / "objects").rglob("*") if p.is_file()]
    assert len(chunks) > 10


def test_a_failed_add_leaves_no_spool_chunk(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real_open = os.open
    bad = str(src / "d2" / "f29.bin")

    def deny(path, flags, *args, **kwargs):
        if os.fspath(path) == bad:
            raise PermissionError(13, "Permission denied", bad)
        return real_open(path, flags, *args, **kwargs)

    ds = Dataset.create(dataset_project="p", dataset_name="n")
    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(LocalPathUnreadableError):
        ds.add_files(src)
    monkeypatch.setattr(os, "open", real_open)
    assert _spools() == []
    assert ds.list_files() == []


def test_deleting_a_draft_removes_its_spool_chunks_and_nothing_else(src: Path):
    keep = Dataset.create(dataset_project="p", dataset_name="kept")
    keep.add_files(src / "d0")
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    tmp = _store() / "tmp"
    other = tmp / "not-ours.zip"
    other.write_bytes(b"someone else's file")
    assert len(_spools()) == 2
    Dataset.delete(dataset_id=ds.id)
    (left,) = _spools()
    assert left.name.startswith(f"spool-{keep.id}-")  # the other draft's chunk stays
    assert other.read_bytes() == b"someone else's file"
    keep.finalize(auto_upload=True)
    assert _spools() == []


def test_a_spool_chunk_a_killed_add_left_goes_with_the_upload(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    tmp = _store() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    orphan = tmp / f"spool-{ds.id}-{'0' * 16}.zip"
    orphan.write_bytes(b"half a chunk: the add that wrote it was killed")
    foreign = tmp / f"spool-{'f' * 32}-{'0' * 16}.zip"  # another draft's
    foreign.write_bytes(b"not ours")
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    assert not orphan.exists() and foreign.read_bytes() == b"not ours"
