"""How materialize reads chunk members: ranged reads unless most of a chunk is wanted."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ops import materialize
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree

MB = 1024 * 1024


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """("range", length) and ("file", 0) for each chunk read of the store."""
    seen: list[tuple[str, int]] = []
    get_range, get_file = FsspecStore.get_range, FsspecStore.get_file

    def ranged(self, key: str, start: int, length: int) -> bytes:
        seen.append(("range", length))
        return get_range(self, key, start, length)

    def whole(self, key: str, *args, **kwargs):
        seen.append(("file", 0))
        return get_file(self, key, *args, **kwargs)

    monkeypatch.setattr(FsspecStore, "get_range", ranged)
    monkeypatch.setattr(FsspecStore, "get_file", whole)
    return seen


def version(tmp_path: Path, files: dict[str, bytes]) -> Dataset:
    make_tree(tmp_path / "src", files)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(tmp_path / "src")
    ds.upload(chunk_size=64)
    ds.finalize()
    return Dataset.get(dataset_id=ds.id)


def test_nine_small_members_beside_a_big_one_are_read_by_ranges(tmp_path: Path, calls):
    files = {f"s{i}": f"small {i}".encode() for i in range(9)}
    files["big"] = bytes(range(256)) * (10 * MB // 256)
    ds = version(tmp_path, files)
    manifest = ds.get_manifest()
    assert len(manifest.chunks()) == 1
    small = [e for e in manifest if e.path != "big"]
    materialize.ensure_blobs(ds._ctx, small)  # "big" sorts first: it lies before them
    assert [kind for kind, _ in calls] == ["range"] * 9
    assert all(ds._ctx.cache.has_blob(e.sha256, e.size) for e in small)


def test_most_of_a_chunk_wanted_is_one_download(tmp_path: Path, calls):
    files = {f"s{i}": f"small {i}".encode() * 100 for i in range(30)}
    ds = version(tmp_path, files)
    materialize.ensure_blobs(ds._ctx, list(ds.get_manifest()))
    assert calls == [("file", 0)]
