"""A version closed in a store other than the configured one is found there again:
`gd create --storage URL`, then `gd get/cat/verify/push --id ID` with no --storage."""

from __future__ import annotations

from pathlib import Path

from gitdata import Dataset
from tests.conftest import make_tree, read_tree


def test_commands_by_id_read_from_the_store_the_version_was_closed_in(gd, tmp_path: Path):
    other = tmp_path / "team-store"
    src = make_tree(tmp_path / "src", {"a.txt": "alpha", "d/b.txt": "beta"})
    vid = gd("create", "--project", "p", "--name", "n", "--storage", str(other), "--json").json()[
        "id"
    ]
    gd("add", "--files", str(src))
    gd("close")
    gd("cache", "clear")  # nothing local: every read goes to a store

    assert gd("cat", "--id", vid, "d/b.txt").stdout == "beta"
    assert gd("verify", "--id", vid, "--remote", "--json").json()["ok"]
    gd("get", "--id", vid, "--copy", str(tmp_path / "out"))
    assert read_tree(tmp_path / "out") == read_tree(src)
    # the Python API too (training code on the same machine)
    assert Dataset.get(dataset_id=vid).read_bytes("a.txt") == b"alpha"

    backup = tmp_path / "backup"
    assert gd("push", "--id", vid, "--to", str(backup), "--json").json()["objects"] > 0
    gd("cache", "clear")
    gd("get", "--id", vid, "--storage", str(backup), "--copy", str(tmp_path / "from-backup"))
    assert read_tree(tmp_path / "from-backup") == read_tree(src)


def test_an_explicit_storage_is_obeyed(gd, tmp_path: Path):
    gd("create", "--project", "p", "--name", "n", "--storage", str(tmp_path / "a"))
    gd("add", "--files", str(make_tree(tmp_path / "src", {"x.txt": "x"})))
    vid = gd("close", "--json").json()["id"]
    gd("cache", "clear")
    elsewhere = gd("get", "--id", vid, "--storage", str(tmp_path / "empty"), ok=False)
    assert elsewhere.exit_code == 3
    assert f"no store at {tmp_path / 'empty'}" in elsewhere.stderr  # a read creates none
    assert not (tmp_path / "empty").exists()
