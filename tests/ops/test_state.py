"""Local draft state (ops/state.py): the store a draft writes to is read once per
version of its file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gitdata.config import resolve_settings
from gitdata.ops import drafts
from gitdata.ops import state as state_mod
from gitdata.ops.context import Context
from gitdata.ops.state import StateDir


def _ctx(tmp_path: Path) -> Context:
    settings = resolve_settings(storage=str(tmp_path / "store"))
    return Context(dataclasses.replace(settings, state_dir=tmp_path / "state"))


def test_asking_a_draft_s_store_again_parses_nothing_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n", description="first")
    other = StateDir(ctx.state.root, ctx.state.base_loader)  # another process's view
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(state_mod.json, "loads", lambda b: parsed.append(1) or real_loads(b))
    for _ in range(3):  # a close asks three times
        assert other.draft_storage(draft.id) == draft.storage
    assert len(parsed) == 1
    assert other.load_draft(draft.id).description == "first"
    assert other.draft_storage(draft.id) == draft.storage  # the loaded draft answers
    assert len(parsed) == 2


def test_a_draft_changed_after_its_store_was_read_is_read_again(tmp_path: Path):
    ctx = _ctx(tmp_path)
    draft = drafts.create_draft(ctx, project="p", name="n", description="first")
    other = StateDir(ctx.state.root, ctx.state.base_loader)
    assert other.draft_storage(draft.id) == draft.storage
    draft.description, draft.storage = "second", str(tmp_path / "elsewhere")
    ctx.state.save_draft(draft)  # rewritten by this process meanwhile
    assert other.draft_storage(draft.id) == str(tmp_path / "elsewhere")
    assert other.load_draft(draft.id).description == "second"
