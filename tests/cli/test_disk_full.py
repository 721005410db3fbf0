"""A full disk is named, and changes nothing: the cache's full disk is not "the store".

Each test mounts a real, small tmpfs (root only) and fills it, then runs gd with one
of its folders there: a folder store, the cache, a get target, the state folder.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import EXIT_INVALID, EXIT_LOCAL_DISK, LocalDiskError
from tests.conftest import make_tree


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return r.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem of its own (a tmpfs), unmounted afterwards."""
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not _mount_tmpfs(disk, "1m"):
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until at most ``leave`` bytes are free; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "ab") as fh:
        for block in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize > leave + block:
                    fh.write(b"\0" * block)
                    fh.flush()
            except OSError:
                pass
    return filler


def files_under(root: Path) -> set[str]:
    """Every file (not folder) under ``root`` but the filler, and but the write-ahead
    logs of draft databases (sqlite's own: they come and go as connections close)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    } - {"filler"}


def one_line_error(r, *words: str) -> None:
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    first = r.stderr.strip().splitlines()[0]
    for w in words:
        assert w in first, first


@pytest.fixture
def dataset(gd: Callable, tmp_path: Path) -> str:
    """A closed version of 300 KiB of incompressible data in the default store."""
    src = make_tree(tmp_path / "src", {"a.bin": os.urandom(300_000), "small.txt": "hi\n"})
    gd("create", "--project", "p", "--name", "n")
    gd("add", "--files", str(src))
    return gd("close", "--json").json()["id"]


def test_full_store_disk_is_named_and_close_resumes(gd, tmp_path, small_disk) -> None:
    src = make_tree(tmp_path / "src", {"a.bin": os.urandom(600_000)})
    store = small_disk / "store"
    draft = gd("create", "--project", "p", "--name", "n", "--storage", str(store), "--json")
    draft_id = draft.json()["id"]
    filler = fill(small_disk, leave=100_000)
    gd("add", "--files", str(src))  # nothing captured in the full store: the add goes on
    before = files_under(store)

    r = gd("close", ok=False)
    assert r.exit_code == EXIT_LOCAL_DISK, r.stderr
    one_line_error(r, "the disk holding the store is full", str(small_disk))
    assert files_under(store) == before  # no partial chunk under tmp/ or objects/
    assert gd("list", "--id", draft_id, ok=False).exit_code == 0  # still a draft

    filler.unlink()
    assert gd("close", "--json").json()["id"] == draft_id
    gd("verify", "--id", draft_id, "--folder", str(src))


def test_full_cache_disk_is_named_not_the_store(gd, dataset, small_disk, monkeypatch) -> None:
    monkeypatch.setenv("GD_CACHE_DIR", str(small_disk / "cache"))
    gd("cache")  # the cache folder and its marker exist before the disk fills
    fill(small_disk, leave=50_000)
    target = small_disk.parent / "linked"

    r = gd("get", "--id", dataset, "--link", str(target), ok=False)
    assert r.exit_code == EXIT_LOCAL_DISK, r.stderr
    one_line_error(r, "the disk holding the cache is full", str(small_disk / "cache"))
    assert "GD_CACHE_DIR" in r.stderr  # the hint says how to move it
    assert not target.exists()
    assert not list((small_disk / "cache" / "tmp").iterdir())


def test_full_target_disk_is_named_and_leaves_nothing(gd, dataset, small_disk) -> None:
    fill(small_disk, leave=50_000)
    target = small_disk / "copy"

    r = gd("get", "--id", dataset, "--copy", str(target), ok=False)
    assert r.exit_code == EXIT_LOCAL_DISK, r.stderr
    one_line_error(r, "the disk holding the get target is full", str(target))
    assert files_under(small_disk) == set()  # no target, no .copy.gd-tmp-* staging

    (small_disk / "filler").unlink()
    gd("get", "--id", dataset, "--copy", str(target))
    assert (target / "a.bin").stat().st_size == 300_000


def test_full_state_disk_is_named_and_leaves_no_draft(gd, dataset, small_disk, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(small_disk / "state"))
    gd("create", "--project", "p", "--name", "first")
    before = files_under(small_disk)
    current = (small_disk / "state" / "gitdata" / "current").read_text()
    fill(small_disk)

    r = gd("create", "--project", "p", "--name", "second", ok=False)
    assert r.exit_code == EXIT_LOCAL_DISK, r.stderr
    one_line_error(r, "the disk holding gd's state folder is full")
    assert "XDG_STATE_HOME" in r.stderr
    assert files_under(small_disk) == before
    assert (small_disk / "state" / "gitdata" / "current").read_text() == current


def test_python_api_raises_named_disk_error(dataset, small_disk) -> None:
    fill(small_disk, leave=50_000)
    with pytest.raises(LocalDiskError) as info:
        Dataset.get(dataset_id=dataset).get_mutable_local_copy(str(small_disk / "copy"))
    assert info.value.role == "the get target"
    assert info.value.mount == str(small_disk)
    assert isinstance(info.value, OSError)


def test_target_where_no_file_can_be_made(gd, dataset) -> None:
    r = gd("get", "--id", dataset, "--copy", "/proc/x", ok=False)
    assert r.exit_code == EXIT_INVALID, r.stderr
    one_line_error(r, "cannot write the get target /proc/x")


def test_target_gets_the_mode_mkdir_would_give(gd, dataset, tmp_path) -> None:
    old = os.umask(0o027)
    try:
        gd("get", "--id", dataset, "--copy", str(tmp_path / "copy"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o750
