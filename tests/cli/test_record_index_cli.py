"""The record index seen from the CLI: numbering and latest after a rename, a
delete and a damaged index file, across separate `gd` processes."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.cli.conftest import run_gd
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GD_STORAGE": str(tmp_path / "store")}


def _gd(tmp_path: Path, *args: str, ok: bool = True):
    r = run_gd(*args, env=_env(tmp_path), cwd=tmp_path)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def _sync(tmp_path: Path, project: str, name: str, content: str) -> dict:
    src = make_tree(tmp_path / "src", {"a.txt": content})
    out = _gd(
        tmp_path, "sync", "--project", project, "--name", name, "--folder", str(src), "--json"
    )
    return json.loads(out.stdout)


def _index_files(tmp_path: Path) -> list[Path]:
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "gitdata" / "records"
    return sorted(cache.glob("*/index.db"))


def test_one_shot_syncs_number_on_through_rename_and_delete(tmp_path: Path):
    assert [_sync(tmp_path, "p", "n", c)["version"] for c in "abc"] == [
        "1.0.0",
        "1.0.1",
        "1.0.2",
    ]
    [index] = _index_files(tmp_path)
    _gd(tmp_path, "rename", "--project", "p", "--name", "n", "--new-name", "m")
    assert _sync(tmp_path, "p", "m", "d")["version"] == "1.0.3"
    assert _sync(tmp_path, "p", "n", "e")["version"] == "1.0.0"
    latest = json.loads(_gd(tmp_path, "delete", "--project", "p", "--name", "m", "--json").stdout)
    deleted = latest["id"] if isinstance(latest, dict) else latest[0]["id"]
    assert _sync(tmp_path, "p", "m", "f")["version"] == "1.0.3"
    with sqlite3.connect(index) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM header_v1")}
    conn.close()
    # the last close's own record is indexed by the next listing, not by its close
    assert deleted not in ids and len(ids) == 4


def test_a_damaged_index_is_rebuilt_and_numbering_holds(tmp_path: Path):
    _sync(tmp_path, "p", "n", "a")
    _sync(tmp_path, "p", "n", "b")
    [index] = _index_files(tmp_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"\x00garbage" * 512)
    created = json.loads(_gd(tmp_path, "create", "--project", "p", "--name", "n", "--json").stdout)
    assert created["version"] == "1.0.2"
    with sqlite3.connect(index) as conn:
        assert conn.execute("SELECT count(*) FROM header_v1").fetchone()[0] == 2
    conn.close()
