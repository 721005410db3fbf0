"""The state dir's one-shot markers: who made a draft, and whether a command holds it."""

from __future__ import annotations

from gitdata import Dataset
from gitdata.ops.context import Context


def test_markers_are_exclusive_listed_and_removed_with_their_draft():
    state = Context().state
    made = Dataset.create(dataset_project="p", dataset_name="n")
    by_hand = Dataset.create(dataset_project="p", dataset_name="n")
    assert state.claim_one_shot(made.id) is None  # no marker yet: not a one-shot draft
    held = state.claim_one_shot(made.id, {"project": "p", "name": "n", "storage": "s"})
    assert held is not None
    assert state.claim_one_shot(made.id) is None  # held by a running command
    held.release()
    again = state.claim_one_shot(made.id)
    assert again is not None
    again.release()
    listed = state.one_shot_drafts()
    assert [(h.id, info["storage"]) for h, info in listed] == [(made.id, "s")]
    assert by_hand.id not in [h.id for h, _ in listed]
    state.delete_draft(made.id)
    assert state.one_shot_drafts() == []
    assert not list(state.drafts_dir.glob(f"{made.id}.*"))


def test_restore_current_puts_back_or_removes_the_marker():
    state = Context().state
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    assert state.current() == ds.id
    state.restore_current(None)
    assert state.current() is None and not (state.root / "current").exists()
    state.restore_current(ds.id)
    assert state.current() == ds.id
