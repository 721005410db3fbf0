"""The local record index: latest and auto-bump read only records new since the
last listing, and stay right through renames, moves, deletes, records closed by
other machines, a damaged index file and concurrent writers."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.config import resolve_settings
from gitdata.ops import reader
from gitdata.ops.context import Context
from gitdata.ops.records import dataset_headers, record_headers, record_index
from gitdata.ops.resolve import resolve
from gitdata.storage import version_key
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]


def closed(tmp_path: Path, project: str, name: str, content: str, parents=None) -> Dataset:
    src = make_tree(tmp_path / f"src-{project}-{name}-{content}", {"a.txt": content})
    ds = Dataset.create(dataset_project=project, dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def chain(tmp_path: Path, project: str, name: str, n: int) -> list[Dataset]:
    out: list[Dataset] = []
    for i in range(n):
        out.append(closed(tmp_path, project, name, f"{name}{i}", [out[-1].id] if out else None))
    return out


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids whose record is read (local copy or store) from now on."""
    seen: list[str] = []
    real = reader.load_raw_record

    def counting(ctx: Context, version_id: str):
        seen.append(version_id)
        return real(ctx, version_id)

    monkeypatch.setattr(reader, "load_raw_record", counting)
    return seen


def indexed(ctx: Context) -> dict:
    """id -> header the record index of ``ctx``'s store holds (its raw names)."""
    index = record_index(ctx)
    try:
        return index.headers()
    finally:
        index.close()


def other_machine(tmp_path: Path) -> Context:
    """A Context with its own cache (and so its own record index) on the same store."""
    settings = resolve_settings()
    return Context(
        dataclasses.replace(
            settings, state_dir=tmp_path / "other" / "state", cache_dir=tmp_path / "other" / "cache"
        )
    )


def test_numbering_and_latest_read_no_record_once_indexed(tmp_path: Path, reads: list[str]):
    versions = chain(tmp_path, "vision", "cats", 3)
    chain(tmp_path, "vision", "dogs", 2)
    Context().next_version("vision", "cats")  # fills the index with what it lacks
    reads.clear()
    assert Context().next_version("vision", "cats") == "1.0.3"
    assert reads == []
    found = resolve(Context(), project="vision", name="cats")
    assert found.record is not None and found.record.id == versions[-1].id
    assert reads == [versions[-1].id]  # the one record returned, nothing else


def test_a_record_closed_elsewhere_is_read_once_and_counts(tmp_path: Path, reads: list[str]):
    chain(tmp_path, "vision", "cats", 2)
    other = other_machine(tmp_path)
    assert other.next_version("vision", "cats") == "1.0.2"
    newer = closed(tmp_path, "vision", "cats", "more")  # another machine closes one
    reads.clear()
    assert other.next_version("vision", "cats") == "1.0.3"
    assert reads == [newer.id]
    reads.clear()
    assert other_machine(tmp_path).next_version("vision", "cats") == "1.0.3"
    assert reads == []


def test_rename_and_move_count_at_once(tmp_path: Path):
    chain(tmp_path, "vision", "cats", 2)
    ctx = Context()
    assert ctx.next_version("vision", "cats") == "1.0.2"  # indexed under the old name
    Dataset.rename("felines", "vision", "cats")
    assert Context().next_version("vision", "cats") == "1.0.0"
    assert Context().next_version("vision", "felines") == "1.0.2"
    Dataset.move_to_project("zoo", "vision", "felines")
    assert Context().next_version("vision", "felines") == "1.0.0"
    assert Context().next_version("zoo", "felines") == "1.0.2"
    latest = Dataset.get(dataset_project="zoo", dataset_name="felines")
    assert (latest.project, latest.name, latest.version) == ("zoo", "felines", "1.0.1")
    # the index itself keeps the names the records hold: events are applied on top
    raw = indexed(Context())
    assert {(h.project, h.name) for h in raw.values()} == {("vision", "cats")}


def test_a_deleted_version_leaves_numbering_latest_and_the_index(tmp_path: Path):
    versions = chain(tmp_path, "vision", "cats", 3)
    assert Context().next_version("vision", "cats") == "1.0.3"
    Dataset.delete(dataset_id=versions[-1].id)
    assert Context().next_version("vision", "cats") == "1.0.2"
    assert Dataset.get(dataset_project="vision", dataset_name="cats").id == versions[1].id
    assert versions[-1].id not in indexed(Context())


def test_a_record_removed_behind_gds_back_is_dropped(tmp_path: Path):
    versions = chain(tmp_path, "vision", "cats", 2)
    assert Context().next_version("vision", "cats") == "1.0.2"
    Context().store.delete(version_key(versions[-1].id))
    assert [h.id for h in dataset_headers(Context(), "vision", "cats")] == [versions[0].id]
    assert set(indexed(Context())) == {versions[0].id}


@pytest.mark.parametrize("damage", [b"not a database at all" * 100, b""])
def test_a_damaged_index_file_is_rebuilt(tmp_path: Path, damage: bytes):
    versions = chain(tmp_path, "vision", "cats", 2)
    ctx = Context()
    assert ctx.next_version("vision", "cats") == "1.0.2"
    path = record_index(ctx).db_path
    assert path.is_file()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(damage)
    assert Context().next_version("vision", "cats") == "1.0.2"
    assert set(indexed(Context())) == {v.id for v in versions}


def test_a_row_that_does_not_read_back_is_read_again(tmp_path: Path):
    versions = chain(tmp_path, "vision", "cats", 2)
    ctx = Context()
    ctx.next_version("vision", "cats")
    with sqlite3.connect(record_index(ctx).db_path) as conn:
        conn.execute("UPDATE header_v1 SET tags = 'garbage' WHERE id = ?", (versions[0].id,))
    conn.close()
    assert Context().next_version("vision", "cats") == "1.0.2"
    assert set(indexed(Context())) == {v.id for v in versions}


def test_headers_match_the_records(tmp_path: Path):
    chain(tmp_path, "vision", "cats", 2)
    chain(tmp_path, "audio", "birds", 2)
    Dataset.rename("songbirds", "audio", "birds")
    ctx = Context()
    record_headers(ctx)  # indexed
    expected = [
        (r.id, r.project, r.name, r.version, r.created, tuple(r.tags))
        for r in reader.list_records(Context())
    ]
    got = [(h.id, h.project, h.name, h.version, h.created, h.tags) for h in record_headers(ctx)]
    assert got == expected


def test_a_draft_of_its_own_id_is_never_read(tmp_path: Path, reads: list[str]):
    versions = chain(tmp_path, "vision", "cats", 2)
    reads.clear()
    got = dataset_headers(other_machine(tmp_path), "vision", "cats", exclude={versions[1].id})
    assert [h.id for h in got] == [versions[0].id]
    assert reads == [versions[0].id]


_CLOSE = """
import sys
from pathlib import Path
from gitdata import Dataset
src = Path(sys.argv[1])
src.mkdir(parents=True)
(src / "a.txt").write_text(sys.argv[1])
ds = Dataset.create(dataset_project="vision", dataset_name="cats")
ds.sync_folder(src)
ds.finalize(auto_upload=True)
"""


def test_concurrent_closes_sharing_one_index_leave_it_right(tmp_path: Path):
    """Four processes of one machine close versions of one dataset at once, each
    reading and filling the same index: every close succeeds, and the index then
    holds exactly the store's records."""
    chain(tmp_path, "vision", "cats", 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GD_STORAGE": resolve_settings().storage}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLOSE, str(tmp_path / f"src-{i}")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    ctx = Context()
    listed = set(reader.list_record_ids(ctx))
    assert len(listed) == 5
    assert {h.id for h in record_headers(ctx)} == listed
    assert set(indexed(ctx)) == listed
    versions = sorted(h.version for h in dataset_headers(ctx, "vision", "cats"))
    assert versions[0] == "1.0.0" and len(versions) == 5


def test_an_empty_store_gets_no_index_file(tmp_path: Path):
    ctx = Context()
    assert ctx.next_version("vision", "cats") == "1.0.0"
    assert record_headers(Context()) == []
    assert not record_index(ctx).db_path.exists()
    chain(tmp_path, "vision", "cats", 1)
    assert Context().next_version("vision", "cats") == "1.0.1"
    assert record_index(ctx).db_path.exists()
