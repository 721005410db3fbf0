"""Metadata events: the append-only changes of closed versions' description, name,
project and published flag (docs/format.md §13).

A closed version's record never changes.  What users may still change about it
(``gd set-description``, ``gd rename``, ``gd move``, ``gd publish``) is written as a
new, immutable event object naming the versions it applies to; a reader applies a
store's events in key order on top of the records.  This module is the pure part:
the event's fields, their validation, key names and how events fold into a record.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitdata.core.ids import is_version_id
from gitdata.errors import FormatError

EVENT_FORMAT = 1
EVENTS_PREFIX = "events/"
# the settable fields, in the order they are written
SETTABLE = ("project", "name", "description", "published")
# events/<YYYYMMDDTHHMMSSffffff>Z-<16 hex>.yaml: key order is time order
_KEY_NAME = re.compile(r"(\d{8}T\d{12})Z-([0-9a-f]{16})\.yaml")
_AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z")
MAX_IDS = 1_000_000


def event_key(at: str, nonce: str) -> str:
    """``events/<stamp>-<nonce>.yaml`` for an event made at ``at`` (a record time)."""
    m = _AT.fullmatch(at)
    if m is None or not re.fullmatch(r"[0-9a-f]{16}", nonce):
        raise ValueError(f"bad event time or nonce: {at!r} {nonce!r}")
    y, mo, d, h, mi, s, us = m.groups()
    return f"{EVENTS_PREFIX}{y}{mo}{d}T{h}{mi}{s}{us}Z-{nonce}.yaml"


def is_event_key(key: str) -> bool:
    """Whether ``key`` has the form of an event key."""
    return key.startswith(EVENTS_PREFIX) and bool(_KEY_NAME.fullmatch(key[len(EVENTS_PREFIX) :]))


def _stamp_of_key(key: str) -> str:
    m = _KEY_NAME.fullmatch(key[len(EVENTS_PREFIX) :])
    assert m is not None
    s = m.group(1)
    return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}.{s[15:21]}Z"


@dataclass(frozen=True)
class MetadataEvent:
    """One change: ``changes`` (a subset of :data:`SETTABLE`) applied to ``ids``."""

    key: str
    at: str
    ids: tuple[str, ...]
    changes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in canonical key order (the stored form, docs/format.md §13)."""
        return {
            "format": EVENT_FORMAT,
            "at": self.at,
            "ids": list(self.ids),
            "set": {k: self.changes[k] for k in SETTABLE if k in self.changes},
        }

    @classmethod
    def from_dict(cls, key: str, data: dict[str, Any]) -> MetadataEvent:
        """Validate a parsed event stored under ``key``; :class:`FormatError` if bad.

        Names are checked only for type here; callers check that they are usable
        as pointer paths (a layer up, where that rule lives).
        """

        def bad(what: str) -> FormatError:
            return FormatError(f"metadata event {key}: {what}", file=key)

        if not is_event_key(key):
            raise bad("key is not events/<YYYYMMDDTHHMMSSffffff>Z-<16 hex>.yaml")
        fmt = data.get("format")
        if fmt != EVENT_FORMAT:
            if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > EVENT_FORMAT:
                raise FormatError(
                    f"metadata event {key} has format {fmt}; this gd reads format {EVENT_FORMAT}",
                    file=key,
                    hint="upgrade gd",
                )
            raise bad(f"unknown format {fmt!r}")
        at = data.get("at")
        if not isinstance(at, str) or at != _stamp_of_key(key):
            raise bad("'at' must be the time its key names")
        ids = data.get("ids")
        if (
            not isinstance(ids, list)
            or not ids
            or len(ids) > MAX_IDS
            or not all(isinstance(i, str) and is_version_id(i) for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise bad("'ids' must be a non-empty list of distinct version ids")
        changes = data.get("set")
        if not isinstance(changes, dict):
            raise bad("'set' must be a mapping")
        known = {k: v for k, v in changes.items() if k in SETTABLE}
        if not known:
            raise bad(f"'set' changes none of {', '.join(SETTABLE)}")
        for k in ("project", "name"):
            if k in known and (not isinstance(known[k], str) or not known[k]):
                raise bad(f"'{k}' must be a non-empty string")
        if "description" in known and not isinstance(known["description"], str):
            raise bad("'description' must be a string")
        if "published" in known and known["published"] is not True:
            raise bad("'published' can only be set to true")
        return cls(key=key, at=at, ids=tuple(ids), changes=known)


@dataclass
class MetadataState:
    """What a version's events make of it (see :func:`fold`)."""

    project: str
    name: str
    description: str
    published: bool = False
    published_at: str | None = None
    former_names: list[tuple[str, str]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def fold(
    project: str, name: str, description: str, events: Iterable[MetadataEvent]
) -> MetadataState:
    """Apply ``events`` (already in key order) to a record's fields: the later
    event wins a field; ``published`` never goes back; every project/name a
    version had before the current one is kept in ``former_names``, oldest first."""
    state = MetadataState(project, name, description)
    for ev in events:
        before = (state.project, state.name)
        state.project = ev.changes.get("project", state.project)
        state.name = ev.changes.get("name", state.name)
        if (state.project, state.name) != before and before not in state.former_names:
            state.former_names.append(before)
        if "description" in ev.changes:
            state.description = ev.changes["description"]
        if ev.changes.get("published") is True and not state.published:
            state.published = True
            state.published_at = ev.at
        state.history.append({"at": ev.at, "set": dict(ev.changes)})
    return state


def index_by_id(events: Iterable[MetadataEvent]) -> dict[str, list[MetadataEvent]]:
    """Version id -> the events naming it, in key order."""
    out: dict[str, list[MetadataEvent]] = {}
    for ev in sorted(events, key=lambda e: e.key):
        for vid in ev.ids:
            out.setdefault(vid, []).append(ev)
    return out


def replace_fields(record: Any, state: MetadataState) -> Any:
    """A copy of the dataclass ``record`` with the folded fields set."""
    return dataclasses.replace(
        record,
        project=state.project,
        name=state.name,
        description=state.description,
        published=state.published,
        published_at=state.published_at,
        former_names=list(state.former_names),
        meta_history=list(state.history),
    )
