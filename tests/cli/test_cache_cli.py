"""The cache through the CLI: corruption through a linked tree, gd's own files only,
and a committed config that tries to choose the cache folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree, read_tree

FILES = {"a.txt": "alpha", "d/b.txt": "bravo", "c.bin": b"\x00\x01\x02"}


@pytest.fixture
def version(gd, tmp_path: Path) -> str:
    src = make_tree(tmp_path / "src", FILES)
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return did


def _write_in_place(path: Path, data: bytes) -> None:
    """An in-place write to a read-only hardlinked file (root, or after a chmod)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.write(data)


def _expected() -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in FILES.items()}


def test_a_write_through_a_linked_tree_is_not_served_again(gd, version: str, tmp_path: Path):
    gd("get", "--id", version, "--link", str(tmp_path / "one"))
    _write_in_place(tmp_path / "one" / "a.txt", b"ALPHA")  # same size: only the hash tells
    gd("get", "--id", version, "--link", str(tmp_path / "two"))
    assert read_tree(tmp_path / "two") == _expected()
    assert gd("cat", "--id", version, "a.txt").stdout == "alpha"


def test_a_write_through_the_cached_copy_is_repaired(gd, version: str):
    path = Path(gd("get", "--id", version, "--json").json()["path"])
    _write_in_place(path / "d" / "b.txt", b"BRAVO")
    again = Path(gd("get", "--id", version, "--json").json()["path"])
    assert read_tree(again) == _expected()
    assert gd("cat", "--id", version, "d/b.txt").stdout == "bravo"


def test_cache_verify_reports_and_removes_a_changed_blob(gd, version: str, tmp_path: Path):
    gd("get", "--id", version, "--link", str(tmp_path / "one"))
    _write_in_place(tmp_path / "one" / "c.bin", b"\xff\xff\xff")
    r = gd("cache", "verify")
    assert "corrupt blob" in r.stdout and "1 corrupt blob(s) removed" in r.stdout
    assert gd("cache", "verify").stdout.strip() == "cache ok"
    gd("get", "--id", version, "--copy", str(tmp_path / "copy"))
    assert read_tree(tmp_path / "copy") == _expected()


def test_cache_clear_keeps_files_gd_did_not_make(gd, version: str, isolated_env: Path):
    gd("get", "--id", version)
    cache = isolated_env / ".cache" / "gitdata"
    (cache / "blobs" / "photo.jpg").write_bytes(b"jpeg")
    (cache / "copies" / "thesis").mkdir()
    (cache / "copies" / "thesis" / "ch1.tex").write_text("one")
    gd("cache", "clear")
    assert (cache / "blobs" / "photo.jpg").read_bytes() == b"jpeg"
    assert (cache / "copies" / "thesis" / "ch1.tex").read_text() == "one"
    assert gd("cache", "--json").json()["blobs"] == 0


def test_cache_clear_refuses_a_folder_that_is_not_a_cache(gd, tmp_path: Path, monkeypatch):
    project = make_tree(tmp_path / "project", {"tmp/project/main.py": "x", "notes.md": "y"})
    monkeypatch.setenv("GD_CACHE_DIR", str(project))
    r = gd("cache", "clear", ok=False)
    assert r.exit_code == 8
    assert f"{project} does not look like a gitdata cache (no marker); nothing removed" in r.stderr
    assert "GD_CACHE_DIR" in r.stderr
    assert read_tree(project) == {"tmp/project/main.py": b"x", "notes.md": b"y"}


def test_a_committed_cache_dir_is_refused(tmp_path: Path, isolated_env: Path):
    victim = make_tree(tmp_path / "victim", {"tmp/project/main.py": "x"})
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitdata").mkdir()
    (repo / ".gitdata" / "config.yaml").write_text(f"cache_dir: {victim}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = run_gd("cache", "clear", env=env, cwd=repo)
    assert r.returncode == 5
    first = r.stderr.splitlines()[0]
    assert str(repo / ".gitdata" / "config.yaml") in first and "cache_dir" in first
    assert "~/.config/gitdata/config.yaml" in r.stderr and "GD_CACHE_DIR" in r.stderr
    assert read_tree(victim) == {"tmp/project/main.py": b"x"}
    assert not (isolated_env / ".cache" / "gitdata").exists()
