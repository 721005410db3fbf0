"""Local draft state (ops/state.py): drafts as databases, what a failed edit leaves,
drafts of an older gd, and the store a draft writes to."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from gitdata.config import resolve_settings
from gitdata.errors import FormatError, InvalidInputError
from gitdata.ops import drafts
from gitdata.ops.context import Context
from gitdata.ops.draftfiles import DraftFile
from gitdata.ops.state import StateDir


def _ctx(tmp_path: Path) -> Context:
    settings = resolve_settings(storage=str(tmp_path / "store"))
    return Context(dataclasses.replace(settings, state_dir=tmp_path / "state"))


def test_a_loaded_draft_is_reused_until_another_process_commits(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n", description="first")
    other = StateDir(ctx.state.root, ctx.state.base_loader)  # another process's view
    seen = other.load_draft(draft.id)
    assert other.load_draft(draft.id) is seen  # nothing changed: not read again
    draft.description = "second"
    ctx.state.save_draft(draft)
    again = other.load_draft(draft.id)
    assert again is not seen and again.description == "second"


def test_a_draft_changed_after_its_store_was_read_is_read_again(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n", description="first")
    other = StateDir(ctx.state.root, ctx.state.base_loader)
    assert other.draft_storage(draft.id) == draft.storage
    draft.description, draft.storage = "second", str(tmp_path / "elsewhere")
    ctx.state.save_draft(draft)  # rewritten by this process meanwhile
    assert other.draft_storage(draft.id) == str(tmp_path / "elsewhere")
    assert other.load_draft(draft.id).description == "second"


def test_a_failed_edit_leaves_the_draft_as_it_was(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n")
    with drafts.editing(ctx, draft.id) as d:
        d.files["kept.txt"] = DraftFile(1, "a" * 64, "/src/kept.txt", 1)
    with pytest.raises(InvalidInputError), drafts.editing(ctx, draft.id) as d:
        for i in range(20_000):  # past the write buffer: rows reach the transaction
            d.files[f"f/{i:05d}"] = DraftFile(1, "b" * 64, f"/src/{i}", 1)
        del d.files["kept.txt"]
        d.description = "half edited"
        raise InvalidInputError("the command fails")
    fresh = StateDir(ctx.state.root, ctx.state.base_loader)
    for view in (ctx.state, fresh):
        back = view.load_draft(draft.id)
        assert list(back.files) == ["kept.txt"] and back.description == ""


def test_files_round_trip_with_any_source_path_in_path_order(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n")
    odd = "/src/caf\udce9.bin"  # a local name that is not UTF-8 (surrogateescape)
    files = {
        "b": DraftFile(2, "c" * 64, odd, 5, executable=True),
        "a/\u00e9": DraftFile(3, "d" * 64, "/x", None, "e" * 64, 0, 3, "deflate"),
        "a/z": DraftFile(4, "f" * 64, None, None, url="https://h/x", etag="t"),
    }
    with drafts.editing(ctx, draft.id) as d:
        for path, f in files.items():
            d.files[path] = f
    back = StateDir(ctx.state.root, ctx.state.base_loader).load_draft(draft.id)
    assert dict(back.files.items()) == files
    assert list(back.files) == sorted(files, key=str.encode)
    assert [p for p, _ in back.files.pending()] == ["b"]


def test_a_draft_of_an_older_gd_is_read_and_becomes_a_database_when_saved(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n", description="old")
    doc = {**draft.meta_doc(), "format": 1, "removed": []}
    doc["changed"] = {"a.txt": [5, "a" * 64, "/src/a.txt", 7, None, None, None, "stored"]}
    ctx.state.delete_draft(draft.id)
    legacy = ctx.state.legacy_path(draft.id)
    legacy.write_text(json.dumps(doc))
    view = StateDir(ctx.state.root, ctx.state.base_loader)
    assert view.has_draft(draft.id) and view.draft_ids() == [draft.id]
    old = view.load_draft(draft.id)
    assert old.files["a.txt"] == DraftFile(5, "a" * 64, "/src/a.txt", 7)
    with drafts.editing(ctx, draft.id) as d:
        d.description = "migrated"
    assert not legacy.exists() and ctx.state.draft_path(draft.id).exists()
    back = StateDir(ctx.state.root, ctx.state.base_loader).load_draft(draft.id)
    assert back.description == "migrated" and list(back.files.items()) == list(old.files.items())


def test_a_damaged_draft_database_is_refused_with_its_name(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n")
    ctx.state.delete_draft(draft.id)
    ctx.state.draft_path(draft.id).write_bytes(b"not a database at all" * 100)
    with pytest.raises(FormatError) as err:
        StateDir(ctx.state.root, ctx.state.base_loader).load_draft(draft.id)
    assert f"{draft.id}.db" in str(err.value) and "damaged" in str(err.value)


def test_a_draft_damaged_past_its_first_pages_is_refused_when_read(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n")
    with drafts.editing(ctx, draft.id) as d:
        for i in range(20_000):
            d.files[f"f/{i:05d}"] = DraftFile(1, f"{i:064x}", f"/src/{i}", 1)
    path = ctx.state.draft_path(draft.id)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the file itself
    conn.close()
    assert path.stat().st_size > 1_000_000
    fresh_view = StateDir(ctx.state.root, ctx.state.base_loader)
    assert len(list(fresh_view.load_draft(draft.id).files)) == 20_000
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for sidecar in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        sidecar.unlink(missing_ok=True)
    with pytest.raises(FormatError) as err:
        back = StateDir(ctx.state.root, ctx.state.base_loader).load_draft(draft.id)
        list(back.files.items())
    assert "is damaged" in str(err.value)
