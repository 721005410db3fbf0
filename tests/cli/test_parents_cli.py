"""create --parents and squash report the paths their parents changed differently."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_merged_parents import version
from tests.conftest import make_tree


def test_cli_create_and_squash_warn_about_conflicts(gd, tmp_path: Path):
    a = version(make_tree(tmp_path / "a", {"shared": "a"}), name="a")
    b = version(make_tree(tmp_path / "b", {"shared": "b"}), name="b")
    r = gd("create", "--project", "proj", "--name", "m", "--parents", a.id, "--parents", b.id)
    assert "1 path(s) changed differently" in r.stderr and "shared" in r.stderr
    out = gd("squash", "--name", "flat", "--ids", a.id, b.id, "--project", "proj", "--json")
    doc = json.loads(out.stdout)
    assert [c["path"] for c in doc["conflicts"]] == ["shared"]


def _in_store(src: Path, store: Path, name: str, parents=None):
    from gitdata import Dataset

    ds = Dataset.create(
        dataset_project="proj", dataset_name=name, parent_datasets=parents, output_uri=str(store)
    )
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def test_merge_and_squash_work_in_the_store_their_versions_live_in(gd, tmp_path: Path):
    other = tmp_path / "other-store"
    base = _in_store(make_tree(tmp_path / "b", {"a": "0", "b": "0"}), other, "d")
    left = _in_store(make_tree(tmp_path / "l", {"a": "1", "b": "0"}), other, "d", [base.id])
    right = _in_store(make_tree(tmp_path / "r", {"a": "0", "b": "2"}), other, "d", [base.id])
    merged = json.loads(gd("merge", left.id, right.id, "--json").stdout)
    assert (other / "versions" / f"{merged['id']}.yaml").exists()
    from gitdata import Dataset
    from tests.conftest import read_tree

    got = read_tree(Path(Dataset.get(dataset_id=merged["id"]).get_local_copy()))
    assert got == {"a": b"1", "b": b"2"}
    sq = json.loads(gd("squash", "--name", "flat", "--ids", base.id, left.id, "--json").stdout)
    assert (other / "versions" / f"{sq['id']}.yaml").exists()
    # a child made with --parents lands in its parents' store too
    child = json.loads(
        gd("create", "--project", "proj", "--name", "d", "--parents", left.id, "--json").stdout
    )
    gd("close", "--id", child["id"])
    assert (other / "versions" / f"{child['id']}.yaml").exists()
