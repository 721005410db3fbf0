"""Through the real CLI: an unrelated dataset with the same files stores only its new
file, `gd verify --remote` is content with the index prefix, and `gd gc --json`
reports the rebuilt index (docs/format.md §14, docs/cli.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import make_tree


def objects(store: Path) -> set[str]:
    return {p.name for p in (store / "objects").rglob("*") if p.is_file()}


def test_unrelated_dataset_stores_only_its_new_file(gd, tmp_path: Path, monkeypatch):
    store = tmp_path / "store"
    monkeypatch.setenv("GD_STORAGE", str(store))
    shared = {f"d/f{i}.bin": os.urandom(21_000) for i in range(20)}
    first = make_tree(tmp_path / "a", shared)
    second = make_tree(tmp_path / "b", {**shared, "new.bin": os.urandom(10_000)})
    gd("create", "--project", "p", "--name", "first")
    gd("add", "--files", str(first))
    gd("close")
    before = objects(store)
    did = gd("create", "--project", "p", "--name", "second", "--json").json()["id"]
    gd("add", "--files", str(second))
    gd("close")
    added = objects(store) - before
    assert len(added) == 2  # one chunk (the new file) and the manifest
    assert sum((store / "objects" / n[:2] / n).stat().st_size for n in added) < 15_000
    assert (store / "index").is_dir()
    assert gd("verify", "--id", did, "--remote", "--deep").exit_code == 0
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    report = gd("gc", "--json").json()  # all young: nothing removed, the index rebuilt
    assert report["removed_versions"] == [] and report["index_entries"] == 21
    assert report["removed_index_objects"] == 2
    assert len(list((store / "index").iterdir())) == 1
