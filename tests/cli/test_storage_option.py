"""Every command that reads a version takes --storage (the store it lives in)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from gitdata import Dataset
from tests.conftest import make_tree


def test_read_commands_find_a_version_in_the_store_named(gd, tmp_path: Path):
    other = tmp_path / "other-store"
    ds = Dataset.create(dataset_project="p", dataset_name="n", output_uri=str(other))
    ds.add_files(make_tree(tmp_path / "src", {"a.txt": "A", "b/c.txt": "C"}))
    ds.finalize(auto_upload=True)
    child = Dataset.create(
        dataset_project="p", dataset_name="n", parent_datasets=[ds.id], output_uri=str(other)
    )
    child.add_files(make_tree(tmp_path / "more", {"d.txt": "D"}))
    child.finalize(auto_upload=True)
    # forget where they were closed: only --storage can find them now
    shutil.rmtree(Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "homes")
    missing = gd("show", "--id", ds.id, ok=False)
    assert missing.exit_code == 3 and "not found" in missing.stderr

    st = ("--storage", str(other))
    assert json.loads(gd("show", "--id", ds.id, *st, "--json").stdout)["files"] == 2
    listed = json.loads(gd("list", "--id", ds.id, *st, "--json").stdout)
    assert sorted(f["path"] for f in listed) == ["a.txt", "b/c.txt"]
    assert gd("cat", "--id", ds.id, *st, "b/c.txt").stdout == "C"
    assert json.loads(gd("verify", "--id", ds.id, *st, "--remote", "--json").stdout)["ok"]
    cmp = json.loads(gd("compare", "--source", ds.id, "--target", child.id, *st, "--json").stdout)
    assert cmp["added"] == ["d.txt"] and cmp["removed"] == []
