"""Upload and get progress moves while one big chunk is in flight (object stores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ops.context import Context
from tests.conftest import cloud_url, make_tree

pytestmark = pytest.mark.cloud
SIZE = 110 * 1024 * 1024  # s3fs sends 100 MiB and more in 50 MiB parts: three reports


class Recorder:
    def __init__(self) -> None:
        self.phases: dict[str, list[int]] = {}
        self._current = ""

    def start(self, description: str, total: int | None) -> None:
        self._current = description
        self.phases[description] = [total or 0]

    def advance(self, amount: int = 1) -> None:
        self.phases[self._current].append(amount)

    def finish(self) -> None:
        pass


def test_one_big_file_reports_progress_as_it_goes(storage_servers, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("GD_STORAGE", cloud_url("s3"))
    big = os.urandom(SIZE)
    # 20 small files beside it, so the get fetches that chunk whole (through get_file)
    src = make_tree(
        tmp_path / "src", {"big.bin": big, **{f"s/{i}.txt": f"{i}" * 100 for i in range(20)}}
    )
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    up = Recorder()
    ds.progress = up
    ds.upload(chunk_size=256)  # everything in one chunk
    content = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    total, *steps = up.phases["uploading"]
    assert total == content and sum(steps) == content
    assert len(steps) >= 2, "progress only moved once the whole chunk had been sent"
    ds.finalize()

    Context().cache.clear()
    down = Recorder()
    got = Dataset.get(dataset_id=ds.id)
    got.progress = down
    out = Path(got.get_local_copy())
    total, *steps = down.phases["downloading"]
    assert total == content and sum(steps) == content
    assert len(steps) >= 2
    assert (out / "big.bin").read_bytes() == big
