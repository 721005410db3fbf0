"""Reading a store's metadata events and folding them into version records.

Events (docs/format.md §13) are few and immutable: one listing of ``events/``
per command finds them, each is fetched once and kept beside the local record
copies.  An unreadable event is skipped with a warning, as an unreadable record
is, so one bad object never locks a team out of its store.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from gitdata.codec import load_yaml_mapping
from gitdata.core.metaevent import (
    EVENTS_PREFIX,
    MetadataEvent,
    fold,
    index_by_id,
    is_event_key,
    replace_fields,
)
from gitdata.core.record import VersionRecord
from gitdata.errors import FormatError, GitDataError, ObjectNotFoundError, UnsafePathError
from gitdata.gitio.pointer import pointer_relpath
from gitdata.ops.context import Context
from gitdata.ops.state import atomic_write
from gitdata.storage.fsstore import FsspecStore

_MEMO = "metadata-events"


class UnreadableEventWarning(UserWarning):
    """A metadata event in the store could not be read and was not applied."""


def _cache_dir(ctx: Context, store: FsspecStore) -> Path:
    return ctx.records_dir_for(store.url) / "events"


def _read_event(ctx: Context, store: FsspecStore, key: str) -> MetadataEvent | None:
    local = _cache_dir(ctx, store) / key[len(EVENTS_PREFIX) :]
    data: bytes | None = None
    with contextlib.suppress(OSError):
        data = local.read_bytes()
    fetched = data is None
    if data is None:
        try:
            data = store.get_bytes(key)
        except ObjectNotFoundError:
            return None  # removed (gc) while we listed
    event = MetadataEvent.from_dict(key, load_yaml_mapping(data, f"{store.url}/{key}"))
    if "project" in event.changes or "name" in event.changes:
        # a hostile name must not steer a later pointer move out of .gitdata/
        pointer_relpath(event.changes.get("project", "p"), event.changes.get("name", "n"))
    if fetched:
        with contextlib.suppress(OSError):  # the local copy is only an optimisation
            local.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(local, data)
    return event


def store_events(ctx: Context, store: FsspecStore | None = None) -> dict[str, list[MetadataEvent]]:
    """Version id -> its metadata events in key order, for ``ctx``'s store (or
    ``store``); listed once per context."""
    target = store or ctx.store
    memo = ctx.memo.setdefault(_MEMO, {})
    hit = memo.get(target.url)
    if hit is None:
        hit = memo[target.url] = index_by_id(list_events(ctx, target))
    return hit


def list_events(ctx: Context, target: FsspecStore) -> list[MetadataEvent]:
    """Every readable metadata event of ``target``, in key order."""
    events: list[MetadataEvent] = []
    try:
        keys = target.list(EVENTS_PREFIX)
    except GitDataError:
        # offline (or no store yet) with records copied earlier: the events copied
        # with them are the best knowledge there is; the command's own reads of the
        # store fail on their own if it needs them
        keys = _cached_keys(ctx, target)
    for key in keys:
        if not is_event_key(key):
            continue
        try:
            event = _read_event(ctx, target, key)
        except (FormatError, UnsafePathError) as exc:
            warnings.warn(
                f"skipped unreadable metadata event {key} in {target.url}: {exc}",
                UnreadableEventWarning,
                stacklevel=2,
            )
            continue
        if event is not None:
            events.append(event)
    return events


def remove_orphan_events(ctx: Context, live_ids: set[str]) -> int:
    """Delete the events none of whose versions is in ``live_ids`` any more (gc,
    under the exclusive store lock); how many went."""
    removed = 0
    for event in list_events(ctx, ctx.store):
        if live_ids.isdisjoint(event.ids):
            ctx.store.delete(event.key)
            removed += 1
    forget_events(ctx)
    return removed


def _cached_keys(ctx: Context, store: FsspecStore) -> list[str]:
    try:
        names = sorted(p.name for p in _cache_dir(ctx, store).iterdir())
    except OSError:
        return []
    return [EVENTS_PREFIX + n for n in names]


def forget_events(ctx: Context) -> None:
    """Drop the memoised events (after writing one, or in a long-lived reader)."""
    ctx.memo.pop(_MEMO, None)


def with_events(record: VersionRecord, index: dict[str, list[MetadataEvent]]) -> VersionRecord:
    """``record`` with its events folded in (the record itself when it has none)."""
    events = index.get(record.id)
    if not events:
        return record
    state = fold(record.project, record.name, record.description, events)
    out: VersionRecord = replace_fields(record, state)
    return out


def current_record(
    ctx: Context, record: VersionRecord, store: FsspecStore | None = None
) -> VersionRecord:
    """``record`` as its store's events leave it now."""
    return with_events(record, store_events(ctx, store))
