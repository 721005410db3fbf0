"""With --json an error is also a JSON object on stdout; usage errors are exit 2;
hints name gd's commands, and interrupted transfers say how to resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree


def closed(gd, src: Path) -> str:
    vid = gd("create", "--project", "vision", "--name", "cats", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return vid


def test_a_library_error_is_a_json_object_with_the_same_exit_code(gd):
    unknown = "0" * 32
    r = gd("get", "--id", unknown, "--json", ok=False)
    assert r.exit_code == 3
    err = r.json()["error"]
    assert err["code"] == 3 and err["type"] == "DatasetNotFoundError"
    assert err["dataset_id"] == unknown and unknown in err["message"]
    assert err["hint"]
    # stderr still has the one line (and its hint)
    assert r.stderr.startswith(f"gd: error: {err['message']}")
    assert len(r.stderr.strip().splitlines()) == 2


def test_without_json_stdout_stays_empty(gd):
    r = gd("get", "--id", "0" * 32, ok=False)
    assert r.exit_code == 3 and r.stdout == ""


def test_an_ambiguous_id_lists_candidates_in_the_json_error(gd, tmp_path: Path):
    from gitdata.api import Dataset

    ids = [f"beefca{i:x}" + "0" * 25 for i in range(3)]
    for vid in ids:
        Dataset._create(vid[-4:], "vision", None, None, None, None, None, vid)
    r = gd("show", "--id", "beefca", "--json", ok=False)
    err = r.json()["error"]
    assert (r.exit_code, err["code"], err["type"]) == (4, 4, "AmbiguousIdError")
    assert err["candidates"] == ids and err["matches"] == 3


def test_a_usage_error_is_a_json_object_too(gd):
    r = gd("get", "--copy", "a", "--link", "b", "--json", ok=False)
    assert r.exit_code == 2
    err = r.json()["error"]
    assert err["code"] == 2 and err["type"] == "BadParameter"
    assert "--copy and --link are exclusive" in err["message"]
    assert err["hint"] == "gd get -h lists the options"
    assert "--copy and --link are exclusive" in r.stderr
    r = gd("list", "--bogus", "--json", ok=False)
    assert r.exit_code == 2 and r.json()["error"]["type"] == "NoSuchOption"
    r = gd("nosuch", "--json", ok=False)
    assert r.exit_code == 2 and r.json()["error"]["type"] == "UsageError"


def test_json_errors_from_a_real_process(tmp_path: Path):
    proc = run_gd("delete", "--id", "abc", "--json", env=dict(os.environ), cwd=tmp_path)
    assert proc.returncode == 4
    err = json.loads(proc.stdout)["error"]
    assert err["type"] == "InvalidInputError" and "too short" in err["message"]
    assert proc.stderr.startswith("gd: error: dataset id 'abc' is too short")


def test_a_closed_version_hint_names_gd_create(gd, tmp_path: Path):
    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    r = gd("add", "--id", vid, "--files", str(tmp_path / "src"), ok=False)
    assert r.exit_code == 4
    assert (
        f"hint: create a child version: gd create --project vision --name cats --parents {vid[:12]}"
        in r.stderr
    )
    assert "Dataset.create" not in r.stderr
    r = gd("add", "--id", vid, "--files", str(tmp_path / "src"), "--json", ok=False)
    assert r.json()["error"]["hint"].startswith("create a child version: gd create")


def test_the_python_api_keeps_its_own_hint(gd, tmp_path: Path):
    from gitdata.api import Dataset
    from gitdata.errors import DatasetStateError

    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    with pytest.raises(DatasetStateError) as info:
        Dataset.get(dataset_id=vid).add_files(str(tmp_path / "src"))
    assert "Dataset.create(parent_datasets=" in (info.value.hint or "")


def test_a_lost_store_during_upload_says_run_it_again(gd, tmp_path: Path, monkeypatch):
    from gitdata.errors import StorageUnavailableError
    from gitdata.ops import upload as uploading

    gd("create", "--project", "vision", "--name", "cats")
    gd("add", "--files", str(make_tree(tmp_path / "src", {"a.txt": "one"})))

    def lost(*args, **kwargs):
        raise StorageUnavailableError("connection to the store was lost")

    monkeypatch.setattr(uploading, "upload", lost)
    r = gd("upload", "--json", ok=False)
    assert r.exit_code == 6
    assert "run the same command again to resume" in r.stderr
    assert r.json()["error"]["hint"].endswith("run the same command again to resume")


def test_ctrl_c_during_get_says_run_it_again_and_other_commands_do_not(gd, tmp_path, monkeypatch):
    from gitdata.api import Dataset

    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Dataset, "get_mutable_local_copy", interrupted)
    monkeypatch.setattr(Dataset, "iter_file_entries", interrupted)
    monkeypatch.setattr(Dataset, "iter_file_batches", interrupted)
    r = gd("get", "--id", vid, "--copy", str(tmp_path / "out"), "--json", ok=False)
    assert r.exit_code == 130
    assert r.stderr.splitlines() == [
        "gd: error: interrupted",
        "hint: run the same command again to resume",
    ]
    assert r.json()["error"] == {
        "code": 130,
        "type": "KeyboardInterrupt",
        "message": "interrupted",
        "hint": "run the same command again to resume",
    }
    r = gd("list", "--id", vid, ok=False)
    assert r.exit_code == 130 and r.stderr.splitlines() == ["gd: error: interrupted"]
