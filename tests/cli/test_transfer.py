"""gd cat / Dataset.read_bytes (ranged reads), verify --remote [--deep], push / pull."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ops.context import Context
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree


@pytest.fixture
def version(tmp_path: Path) -> Dataset:
    src = make_tree(tmp_path / "src", {f"d/f{i}.txt": f"file {i}\n" * 50 for i in range(20)})
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    Context().cache.clear()
    return ds


def test_read_bytes_uses_ranged_reads(version: Dataset, monkeypatch):
    def no_whole_chunks(*a, **k):
        raise AssertionError("a whole chunk was downloaded")

    monkeypatch.setattr(FsspecStore, "get_file", no_whole_chunks)
    ds = Dataset.get(dataset_id=version.id)
    assert ds.read_bytes("d/f3.txt") == b"file 3\n" * 50
    with ds.open("d/f4.txt", "r") as fh:
        assert fh.readline() == "file 4\n"
    with pytest.raises(LookupError):
        ds.read_bytes("d/missing.txt")
    with pytest.raises(ValueError):
        ds.read_bytes("../etc/passwd")


def test_gd_cat(gd, version: Dataset):
    r = gd("cat", "--id", version.id, "d/f7.txt")
    assert r.stdout == "file 7\n" * 50


def _chunk_path(version: Dataset) -> Path:
    from gitdata.ops.reader import load_manifest

    ctx = Context()
    chunk = next(iter(load_manifest(ctx, version.record.manifest))).chunk
    return Path(ctx.settings.storage) / f"objects/{chunk[:2]}/{chunk}"


def test_verify_remote_and_deep(gd, version: Dataset):
    assert gd("verify", "--id", version.id, "--remote", "--json").json()["ok"]
    chunk = _chunk_path(version)
    os.chmod(chunk, 0o644)
    data = bytearray(chunk.read_bytes())
    data[200] ^= 0xFF
    chunk.write_bytes(bytes(data))
    assert gd("verify", "--id", version.id, "--remote", "--json").json()["ok"]  # sizes still fine
    r = gd("verify", "--id", version.id, "--remote", "--deep", "--json", ok=False)
    assert r.exit_code == 9 and r.json()["remote"]["corrupt"]
    chunk.unlink()
    r = gd("verify", "--id", version.id, "--remote", ok=False)
    assert r.exit_code == 9 and "missing from store" in r.stderr


def test_push_and_pull_between_stores(gd, version: Dataset, tmp_path: Path):
    other = tmp_path / "other-store"
    first = gd("push", "--id", version.id, "--to", str(other), "--json").json()
    assert first["versions"] == 1 and first["objects"] >= 2
    assert gd("push", "--id", version.id, "--to", str(other), "--json").json()["objects"] == 0
    back = tmp_path / "third-store"
    os.environ["GD_STORAGE"] = str(back)
    try:
        pulled = gd("pull", "--from", str(other), "--id", version.id, "--json").json()
        assert pulled["versions"] == 1
        got = Dataset.get(dataset_id=version.id, storage=str(back))
        assert len(read_tree(Path(got.get_local_copy()))) == 20
    finally:
        del os.environ["GD_STORAGE"]
