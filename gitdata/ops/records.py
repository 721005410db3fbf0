"""Which records a store holds, by header, without reading them all every time.

Numbering a new version, finding a dataset's latest one and checking at close
that a number is still free need only a few fields of each record.  One
listing of ``versions/`` says which records exist now; the local record index
(gitdata/cache/recordindex.py) already knows the headers of those read before,
so only records new since the last command are read (their local copy, else
the store) and added to it.  Ids the listing no longer shows are dropped from
the index.  Metadata events are folded into the names afterwards, as for full
records, so a rename or move shows at once.  See docs/architecture.md,
*Record index*.
"""

from __future__ import annotations

from collections.abc import Collection

from gitdata.cache.recordindex import INDEX_NAME, RecordIndex
from gitdata.core.metaevent import MetadataEvent, fold
from gitdata.core.record import RecordHeader
from gitdata.ops.context import Context
from gitdata.ops.events import store_events
from gitdata.ops.reader import list_record_ids, read_listed_record


def record_index(ctx: Context) -> RecordIndex:
    """The record index of ``ctx``'s store (the caller closes it)."""
    return RecordIndex(ctx.records_dir / INDEX_NAME)


def record_headers(
    ctx: Context, *, exclude: Collection[str] = (), quiet: bool = False
) -> list[RecordHeader]:
    """The header of every readable record in ``ctx``'s store now, with its
    events' names, oldest first.  ``exclude``: ids neither read nor returned.

    Unreadable records are left out with an ``UnreadableRecordWarning`` (none
    when ``quiet``), as :func:`gitdata.ops.reader.list_records` leaves them out;
    they are read again by the next listing.
    """
    listed = [vid for vid in list_record_ids(ctx) if vid not in exclude]
    # opened and closed here: a long-lived API process keeps no connection open
    index = record_index(ctx)
    if not listed and not index.db_path.exists():
        return []  # an empty store: nothing to look up, and no index is made for it
    try:
        headers = _refresh(ctx, index, listed, exclude, quiet)
    finally:
        index.close()
    events = store_events(ctx)
    current = [_with_names(h, events.get(h.id)) for h in headers]
    current.sort(key=lambda h: (h.created, h.id))
    return current


def dataset_headers(
    ctx: Context,
    project: str,
    name: str,
    *,
    exclude: Collection[str] = (),
    quiet: bool = False,
) -> list[RecordHeader]:
    """The headers of the records of ``project/name`` (names after events), oldest
    first; ``exclude`` and ``quiet`` as for :func:`record_headers`."""
    listed = record_headers(ctx, exclude=exclude, quiet=quiet)
    return [h for h in listed if (h.project, h.name) == (project, name)]


def _refresh(
    ctx: Context, index: RecordIndex, listed: list[str], exclude: Collection[str], quiet: bool
) -> list[RecordHeader]:
    """The headers of ``listed``: the index's, and those of records it lacks (read
    now and added); rows of ids no longer listed are dropped."""
    known = index.headers()
    present = set(listed)
    index.drop(vid for vid in known if vid not in present and vid not in exclude)
    headers: list[RecordHeader] = []
    fresh: list[RecordHeader] = []
    for vid in listed:
        header = known.get(vid)
        if header is None:
            record = read_listed_record(ctx, vid, quiet=quiet)
            if record is None:
                continue
            header = RecordHeader.of(record)
            fresh.append(header)
        headers.append(header)
    index.add(fresh)
    return headers


def _with_names(header: RecordHeader, events: list[MetadataEvent] | None) -> RecordHeader:
    """``header`` under the project/name its events give it (itself without events)."""
    if not events:
        return header
    state = fold(header.project, header.name, "", events)
    return header.renamed(state.project, state.name)
