"""Files keep their executable bit through add/sync and get (docs/format.md §4,
"Executable files"): the manifest records it, get --copy and --link give it back, a
chmod alone is a modification that uploads nothing, and a merge keeps a one-sided chmod."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitdata.api import Dataset
from tests import spec_reader
from tests.conftest import make_tree


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def source(root: Path) -> Path:
    """A folder with an executable run.sh and two plain files."""
    make_tree(root, {"run.sh": "#!/bin/sh\necho hi\n", "data.txt": "rows", "sub/b.txt": "bee"})
    (root / "run.sh").chmod(0o755)
    return root


def new_version(gd, src: Path, *parents: str) -> str:
    args = ["create", "--project", "p", "--name", "n", "--json"]
    if parents:
        args += ["--parents", *parents]
    vid = gd(*args).json()["id"]
    gd("sync", "--id", vid, "--folder", str(src))
    gd("close", "--id", vid)
    return vid


def objects(store: Path) -> set[str]:
    return {p.name for p in (store / "objects").rglob("*") if p.is_file()}


def test_get_gives_back_the_executable_bit(gd, tmp_path: Path) -> None:
    vid = new_version(gd, source(tmp_path / "src"))
    store = Path(Dataset.get(dataset_id=vid).storage_url)
    assert spec_reader.read_executables(store, vid) == {"run.sh"}
    gd("get", "--id", vid, "--copy", str(tmp_path / "copy"))  # from the store
    gd("get", "--id", vid, "--link", str(tmp_path / "link"))
    gd("get", "--id", vid, "--copy", str(tmp_path / "again"))  # from the cache
    for tree in ("copy", "again"):
        root = tmp_path / tree
        assert mode(root / "run.sh") == 0o755
        assert mode(root / "data.txt") == mode(root / "sub/b.txt") == 0o644
        assert mode(root) == mode(root / "sub") == 0o755
    link = tmp_path / "link"
    assert mode(link / "run.sh") == 0o555  # its own read-only copy: blobs stay 0444
    assert mode(link / "data.txt") == 0o444
    assert (link / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert gd("verify", "--folder", str(link), "--filesize").exit_code == 0


def test_a_chmod_alone_is_a_modification_that_uploads_nothing(gd, tmp_path: Path) -> None:
    src = source(tmp_path / "src")
    base = new_version(gd, src)
    store = Path(Dataset.get(dataset_id=base).storage_url)
    before = objects(store)
    (src / "run.sh").chmod(0o644)
    child = gd("create", "--project", "p", "--name", "n", "--parents", base, "--json").json()
    synced = gd("sync", "--id", child["id"], "--folder", str(src), "--json").json()
    assert (synced["added"], synced["modified"], synced["removed"]) == (0, 1, 0)
    gd("close", "--id", child["id"])
    assert len(objects(store) - before) == 1  # the new manifest, no chunk
    assert spec_reader.read_executables(store, child["id"]) == set()
    cmp = gd("compare", "--source", base, "--target", child["id"], "--json").json()
    assert cmp["modified"] == ["run.sh"] and cmp["added"] == cmp["removed"] == []
    assert gd("show", "--id", child["id"], "--json").json()["modified"] == ["run.sh"]
    gd("get", "--id", child["id"], "--copy", str(tmp_path / "copy"))
    assert mode(tmp_path / "copy" / "run.sh") == 0o644


def test_chmod_plus_x_within_a_draft_is_picked_up(gd, tmp_path: Path) -> None:
    """The stat cache keeps the hash, but the mode is read from each scan's stat."""
    src = make_tree(tmp_path / "src", {"tool": "binary"})
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--id", vid, "--files", str(src))
    (src / "tool").chmod(0o755)
    again = gd("sync", "--id", vid, "--folder", str(src), "--json").json()
    assert again["modified"] == 1
    assert gd("sync", "--id", vid, "--folder", str(src), "--json").json()["modified"] == 0
    gd("close", "--id", vid)
    store = Path(Dataset.get(dataset_id=vid).storage_url)
    assert spec_reader.read_executables(store, vid) == {"tool"}


def test_a_merge_keeps_a_one_sided_chmod(gd, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"run.sh": "echo", "a.txt": "one"})
    base = new_version(gd, src)
    (src / "run.sh").chmod(0o755)
    ours = new_version(gd, src, base)
    other = make_tree(tmp_path / "other", {"run.sh": "echo", "a.txt": "two"})
    theirs = new_version(gd, other, base)
    merged = gd("merge", ours, theirs, "--json").json()
    assert merged["parents"] == [ours, theirs]
    gd("get", "--id", merged["id"], "--copy", str(tmp_path / "out"))
    assert mode(tmp_path / "out" / "run.sh") == 0o755
    assert (tmp_path / "out" / "a.txt").read_text() == "two"


def test_two_different_modes_conflict_in_a_merge(gd, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"run.sh": "echo"})
    base = new_version(gd, src)
    (src / "run.sh").chmod(0o755)
    ours = new_version(gd, src, base)
    other = make_tree(tmp_path / "other", {"run.sh": "echo again"})
    theirs = new_version(gd, other, base)
    r = gd("merge", ours, theirs, ok=False)
    assert r.exit_code == 8 and "run.sh" in r.stderr


def test_the_cached_copy_keeps_the_executable_bit(gd, tmp_path: Path) -> None:
    vid = new_version(gd, source(tmp_path / "src"))
    cached = Path(gd("get", "--id", vid, "--json").json()["path"])  # fetched from the store
    assert mode(cached / "run.sh") == 0o555 and mode(cached / "data.txt") == 0o444
    assert Path(Dataset.get(dataset_id=vid).get_local_copy()) == cached
    blob_inode = (cached / "data.txt").stat().st_ino
    assert (cached / "run.sh").stat().st_ino != blob_inode  # its own copy, not the blob
    # a copy whose bits differ (as an older gd built it) is rebuilt on the next get
    (cached / "run.sh").chmod(0o444)
    again = Path(gd("get", "--id", vid, "--json").json()["path"])
    assert mode(again / "run.sh") == 0o555
    assert (again / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    gd("cache", "clear")
    gd("get", "--id", vid, "--copy", str(tmp_path / "warm"))  # blobs back in the cache
    warm = Path(gd("get", "--id", vid, "--json").json()["path"])  # built from blobs
    assert mode(warm / "run.sh") == 0o555 and mode(warm / "sub/b.txt") == 0o444
