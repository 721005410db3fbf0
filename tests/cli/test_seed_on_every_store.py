"""The seed workflow, through the CLI, on each of the four stores.

create, add, close; a child version by sync; get --link / --copy from a cold
cache; verify (folder and store); squash; cat (a ranged read); push and pull
between a laptop folder store and the store under test.
"""

from __future__ import annotations

from pathlib import Path

from gitdata.ops.context import Context
from gitdata.storage import open_store
from tests.conftest import make_tree, read_tree

BASE = {
    "train/a.txt": "alpha\n" * 100,
    "train/b.bin": bytes(range(256)) * 64,
    "labels.csv": "id,label\n1,cat\n2,dog\n",
    "empty.dat": b"",
}


def cold() -> None:
    """Forget every downloaded byte, so the next get reads the store."""
    Context().cache.clear()


def test_seed_workflow(gd, store_url: str, store_kind: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GD_STORAGE", store_url)
    src = make_tree(tmp_path / "src", BASE)

    parent = gd("create", "--project", "seed", "--name", "imgs", "--json").json()["id"]
    assert gd("add", "--files", str(src), "--json").json()["added"] == 4
    closed = gd("close", "--chunk-size", "1", "--json").json()
    assert closed["id"] == parent and closed["stats"]["files"] == 4

    child = gd("create", "--project", "seed", "--name", "imgs", "--parents", parent, "--json")
    child_id = child.json()["id"]
    work = make_tree(tmp_path / "work", {**BASE, "train/a.txt": "ALPHA\n", "new.txt": "new"})
    (work / "labels.csv").unlink()
    synced = gd("sync", "--folder", str(work), "--json").json()
    assert (synced["added"], synced["modified"], synced["removed"]) == (1, 1, 1)
    gd("close")
    expected_child = read_tree(work)

    cold()
    linked = tmp_path / "linked"
    gd("get", "--id", child_id, "--link", str(linked))
    assert read_tree(linked) == expected_child
    cold()
    copied = tmp_path / "copied"
    gd("get", "--id", parent, "--copy", str(copied))
    assert read_tree(copied) == read_tree(src)
    (copied / "labels.csv").write_text("writable, as --copy promises")

    assert gd("verify", "--id", child_id, "--folder", str(linked), "--json").json()["ok"]
    remote = gd("verify", "--id", child_id, "--remote", "--deep", "--json").json()
    assert remote["ok"]

    squashed = gd("squash", "--name", "imgs-flat", "--ids", parent, child_id, "--json").json()["id"]
    cold()
    flat = tmp_path / "flat"
    gd("get", "--id", squashed, "--copy", str(flat))
    # squash merges the versions three-way: the squash of a chain is its last state
    assert read_tree(flat) == expected_child

    assert gd("cat", "--id", child_id, "train/a.txt").stdout == "ALPHA\n"

    # a laptop folder store <-> the store under test, ancestors included
    laptop = tmp_path / "laptop-store"
    monkeypatch.setenv("GD_STORAGE", str(laptop))
    pulled = gd("pull", "--id", child_id, "--from", store_url, "--json")
    assert pulled.json()["versions"] == 2  # the child and its parent
    cold()
    again = tmp_path / "from-laptop"
    gd("get", "--id", child_id, "--copy", str(again))
    assert read_tree(again) == expected_child
    assert gd("push", "--id", child_id, "--to", store_url, "--json").json()["objects"] == 0

    store = open_store(store_url)
    assert store.exists(f"versions/{child_id}.yaml") or any(
        child_id in k for k in store.list("versions/")
    )
    if store_kind != "local":
        assert not list(tmp_path.rglob("*.part"))  # no partial download left anywhere
