"""A store written by format 1 (tests/fixtures/store-v1) is read forever, by gd and by an
independent reader written from docs/format.md (tests/spec_reader.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from spec_reader import parse_yaml, read_store

from gitdata import Dataset
from tests.conftest import make_tree, read_tree

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIXTURES / "store-v1.expected.json").read_text())


def hashes(files: dict[str, bytes]) -> dict[str, str]:
    return {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}


def test_gd_reads_every_fixture_version(tmp_path: Path):
    store = tmp_path / "store"
    shutil.copytree(FIXTURES / "store-v1", store)  # a read must not touch the fixture
    for vid, expected in EXPECTED.items():
        ds = Dataset.get(dataset_id=vid, storage=str(store))
        out = Path(ds.get_mutable_local_copy(tmp_path / vid))
        assert hashes(read_tree(out)) == expected, vid


def test_spec_reader_reads_the_fixture():
    got = read_store(FIXTURES / "store-v1")
    assert {vid: hashes(files) for vid, files in got.items()} == EXPECTED


def test_spec_reader_agrees_with_gd_on_a_fresh_store(tmp_path: Path):
    store = tmp_path / "fresh"
    files = {
        "a/b/c.txt": "c",
        "deflated.bin": bytes(5000),
        "'quoted' name.txt": "q",
        "yes": "looks like a bool",
    }
    src = make_tree(tmp_path / "src", files)
    ds = Dataset.create(
        dataset_project="p/nested",
        dataset_name="0o17",
        dataset_version="1e3",
        dataset_tags=["null", "2026-01-01"],
        output_uri=str(store),
    )
    ds.set_metadata({"k": "v"})
    ds.add_files(src)
    ds.upload(compression="deflate")
    ds.finalize()
    child = Dataset.create(dataset_project="p/nested", dataset_name="0o17", parent_datasets=[ds.id])
    (src / "yes").unlink()
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    got = read_store(store)
    for vid in (ds.id, child.id):
        gd_files = Dataset.get(dataset_id=vid).file_entries_dict
        assert hashes(got[vid]) == {p: e["sha256"] for p, e in gd_files.items()}
    record = parse_yaml((store / "versions" / f"{ds.id}.yaml").read_bytes())
    assert record["version"] == "1e3" and record["name"] == "0o17"
    assert record["tags"] == ["null", "2026-01-01"]
