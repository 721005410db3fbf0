"""Metadata events: validation of the stored form, key order, and folding."""

from __future__ import annotations

import pytest

from gitdata.core.metaevent import MetadataEvent, event_key, fold, index_by_id, is_event_key
from gitdata.errors import FormatError

A = "a" * 32
B = "b" * 32
AT = "2026-12-02T07:30:00.123456Z"
KEY = "events/20261202T073000123456Z-0123456789abcdef.yaml"


def doc(**over):
    base = {"format": 1, "at": AT, "ids": [A], "set": {"description": "x"}}
    base.update(over)
    return base


def test_key_names_the_time_and_sorts_by_it():
    assert event_key(AT, "0123456789abcdef") == KEY
    later = event_key("2026-12-02T07:30:00.123457Z", "0000000000000000")
    assert sorted([later, KEY]) == [KEY, later]
    assert is_event_key(KEY) and not is_event_key("events/x.yaml")
    with pytest.raises(ValueError):
        event_key("yesterday", "0123456789abcdef")


def test_round_trip_keeps_only_known_fields_in_canonical_order():
    ev = MetadataEvent.from_dict(KEY, doc(set={"published": True, "name": "n", "future": 1}))
    assert ev.changes == {"name": "n", "published": True}  # unknown keys of `set` ignored
    assert list(ev.to_dict()) == ["format", "at", "ids", "set"]
    assert list(ev.to_dict()["set"]) == ["name", "published"]


@pytest.mark.parametrize(
    "bad",
    [
        doc(format=0),
        doc(format="1"),
        doc(at="2026-12-02T07:30:00.000000Z"),  # not the time its key names
        doc(ids=[]),
        doc(ids=[A, A]),
        doc(ids=["../../etc"]),
        doc(ids=A),
        doc(set=[]),
        doc(set={}),
        doc(set={"future": 1}),
        doc(set={"name": ""}),
        doc(set={"project": 3}),
        doc(set={"description": None}),
        doc(set={"published": False}),
        doc(set={"published": "yes"}),
    ],
)
def test_malformed_events_are_refused(bad):
    with pytest.raises(FormatError):
        MetadataEvent.from_dict(KEY, bad)


def test_a_newer_format_asks_for_an_upgrade():
    with pytest.raises(FormatError) as info:
        MetadataEvent.from_dict(KEY, doc(format=2))
    assert info.value.hint == "upgrade gd"


def test_a_key_of_the_wrong_form_is_refused():
    with pytest.raises(FormatError):
        MetadataEvent.from_dict("events/20261202T073000123456Z.yaml", doc())


def ev(stamp: str, ids, **changes) -> MetadataEvent:
    at = f"2026-12-02T07:30:{stamp}.000000Z"
    return MetadataEvent(event_key(at, "0" * 16), at, tuple(ids), changes)


def test_fold_later_wins_published_sticks_and_former_names_are_kept():
    events = [
        ev("01", [A], name="felines"),
        ev("02", [A], project="zoo", description="d1"),
        ev("03", [A], published=True),
        ev("04", [A], name="cats", description="d2"),
    ]
    state = fold("vision", "cats", "", events)
    assert (state.project, state.name, state.description) == ("zoo", "cats", "d2")
    assert state.published and state.published_at == events[2].at
    assert state.former_names == [("vision", "cats"), ("vision", "felines"), ("zoo", "felines")]
    assert [h["at"] for h in state.history] == [e.at for e in events]


def test_index_orders_by_key_whatever_the_listing_order():
    first, second = ev("01", [A, B], name="x"), ev("02", [A], name="y")
    index = index_by_id([second, first])
    assert index[A] == [first, second] and index[B] == [first]
    assert fold("p", "n", "", index[A]).name == "y"
