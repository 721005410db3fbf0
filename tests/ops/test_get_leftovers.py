"""What a killed `gd get --copy/--link T` leaves beside T is removed by the next get there."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ops import scratch
from tests.conftest import make_tree, read_tree

FILES = {f"d{i % 3}/f{i}.txt": f"content {i}\n" * 50 for i in range(9)}

# Patches applied in a real gd process that then dies with SIGKILL's exit status at
# the named instant (os._exit: no cleanup runs, as with kill -9).
_KILLS = {
    # the staging tree is complete, about to get its marker and be swapped in
    "staging": "gitdata.ops.materialize.MarkerWriter.write = die",
    # --overwrite: the old tree renamed aside and the new one in place, old not removed
    "old": "gitdata.ops.materialize.remove_tree = die",
    # --overwrite: the old tree renamed aside, the new one not yet swapped in
    "between": textwrap.dedent(
        """\
        real_rename = os.rename
        def rename(src, dst):
            real_rename(src, dst)
            if '.gd-old-' in str(dst):
                die()
        gitdata.ops.materialize.os.rename = rename
        """
    ),
}


def _killed_get(when: str, *args: str) -> None:
    driver = "\n".join(
        [
            "import os, sys",
            "import gitdata.ops.materialize",
            "def die(*a, **k):",
            "    os._exit(137)",
            _KILLS[when],
            "from gitdata.cli.main import run",
            "sys.argv = ['gd', *sys.argv[1:]]",
            "run()",
        ]
    )
    r = subprocess.run([sys.executable, "-c", driver, *args], capture_output=True, text=True)
    assert r.returncode == 137, r.stderr


def _gd_get(*args: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "get", *args], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def _beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".gd-" in p.name)


@pytest.fixture
def version(tmp_path: Path) -> str:
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(make_tree(tmp_path / "src", FILES))
    ds.finalize(auto_upload=True)
    return ds.id


@pytest.mark.parametrize("mode", ["--copy", "--link"])
def test_a_killed_get_leaves_staging_that_the_next_get_removes(
    tmp_path: Path, version: str, mode: str
):
    out = tmp_path / "out"
    out.mkdir()
    _killed_get("staging", "get", "--id", version, mode, str(out / "a"))
    [left] = _beside(out)
    assert left.startswith(".a.gd-tmp-") and not (out / "a").exists()
    _gd_get("--id", version, mode, str(out / "b"))  # another target in the same folder
    assert _beside(out) == [], "the next get into the folder removes the leftover"
    assert read_tree(out / "b") == {k: v.encode() for k, v in FILES.items()}


def test_a_kill_during_overwrite_leaves_the_old_tree_until_a_tree_is_back(
    tmp_path: Path, version: str
):
    out = tmp_path / "out"
    _gd_get("--id", version, "--copy", str(out / "a"))
    _killed_get("between", "get", "--id", version, "--copy", str(out / "a"), "--overwrite")
    assert not (out / "a").exists()
    assert [n[:10] for n in _beside(out)] == [".a.gd-old-", ".a.gd-tmp-"]
    _gd_get("--id", version, "--copy", str(out / "b"))
    # the staging is gone; the old tree, the only copy of a/, is kept while a/ is missing
    assert [n[:10] for n in _beside(out)] == [".a.gd-old-"]
    _gd_get("--id", version, "--copy", str(out / "a"))
    assert _beside(out) == []
    assert read_tree(out / "a") == {k: v.encode() for k, v in FILES.items()}

    _killed_get("old", "get", "--id", version, "--link", str(out / "a"), "--overwrite")
    assert [n[:10] for n in _beside(out)] == [".a.gd-old-"] and (out / "a").is_dir()
    _gd_get("--id", version, "--copy", str(out / "c"))
    assert _beside(out) == []


def test_only_leftovers_nobody_holds_and_of_gds_shapes_are_removed(tmp_path: Path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").mkdir()
    for name in (
        ".a.gd-tmp-12-abcd_123",  # a killed get
        ".a.gd-tmp-k2j4h5g6",  # a killed older gd (no pid in the name)
        ".a.gd-old-77",  # a killed --overwrite, a/ back in place
        ".b.gd-old-78",  # the only copy of b/: kept
        ".a.gd-tmp-busy0-xx",  # not a shape gd makes
        ".a.gd-tmp-",
        "a.gd-tmp-12-abcd_123",
    ):
        make_tree(folder / name, {"x/y.bin": b"y"})
    (folder / ".a.gd-tmp-13-file_123").write_bytes(b"a file, not a staging folder")
    (folder / ".a.gd-tmp-14-link_123").symlink_to(folder / "a")
    live, live_lock = scratch.make_staging(folder / "a")  # a get still running
    make_tree(live, {"z.bin": b"z"})
    try:
        assert scratch.sweep(folder) == 3
        left = sorted(p.name for p in folder.iterdir())
    finally:
        live_lock.release()
    assert left == sorted(
        [
            "a",
            ".b.gd-old-78",
            ".a.gd-tmp-busy0-xx",
            ".a.gd-tmp-",
            "a.gd-tmp-12-abcd_123",
            ".a.gd-tmp-13-file_123",
            ".a.gd-tmp-14-link_123",
            live.name,
        ]
    )
    assert read_tree(folder / "a") == {}  # never removed through the symlink
    assert scratch.sweep(folder) == 1  # the get holding it has ended (or died)
    assert not live.exists()


def test_a_folder_another_process_locked_is_not_removed(tmp_path: Path):
    left = tmp_path / ".t.gd-tmp-999-abcdefgh"
    left.mkdir()
    fd = os.open(left, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert scratch.sweep(tmp_path) == 0 and left.is_dir()
    finally:
        os.close(fd)
    assert scratch.sweep(tmp_path) == 1 and not left.exists()
