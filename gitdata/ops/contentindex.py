"""The store content index (docs/format.md §14): store-wide deduplication.

Every close writes one immutable ``index/<sha256>`` object naming where the
content it newly stored sits (after its chunks, before its record).  Uploads
look the draft's pending contents up in the merged index, kept per store in a
local sqlite table (cache/indexdb.py) that one listing of ``index/`` brings up
to date, and reference the hits whose chunks the store confirms it has.  gc
rebuilds the index from the manifests it keeps.  Entries are only hints: any
failure here means "not in the index", never a failed command.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set

from gitdata.cache.indexdb import IndexDB
from gitdata.core.contentindex import (
    INDEX_PREFIX,
    MAX_ENTRIES,
    IndexEntry,
    decode_index,
    encode_index,
    index_key,
    index_key_sha,
)
from gitdata.core.ids import is_sha256
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.errors import FormatError, GitDataError
from gitdata.ops.context import Context
from gitdata.storage import Store, object_key, run_parallel

_MEMO = "content-index"
_FETCH_WORKERS = 8


def _db(ctx: Context) -> IndexDB | None:
    memo = ctx.memo.setdefault(_MEMO, {})
    db = memo.get("db")
    if db is None:
        try:
            ctx.cache.prepare()  # the folder is gd's cache (or new): see cache/owned.py
        except (GitDataError, OSError):
            return None
        db = memo["db"] = IndexDB(ctx.settings.cache_dir)
    return db


def _fetch(store: Store, key: str) -> bytes | None:
    try:
        return store.get_bytes(key)
    except GitDataError:
        return None  # gone (gc replaced it) or unreadable: a hint less


def sync(ctx: Context, store: Store, *, fresh: bool = True) -> IndexDB | None:
    """The local index of ``store``, brought up to date by one listing of ``index/``
    (only objects not seen before are fetched); None when there is no usable one.

    ``fresh=False`` reuses this command's earlier listing when there was one.
    """
    db = _db(ctx)
    if db is None:
        return None
    synced: set[str] = ctx.memo[_MEMO].setdefault("synced", set())
    if not fresh and store.url in synced:
        return db
    skey = ctx.store_key(store.url)
    try:
        listed = {k for k in store.list(INDEX_PREFIX) if index_key_sha(k)}
    except GitDataError:
        return db  # offline: what was read before is still a hint
    known = db.known_objects(skey)
    if known is None:
        return None
    db.drop_objects(skey, known - listed)  # gc replaced them
    new = sorted(listed - known)
    for start in range(0, len(new), _FETCH_WORKERS):
        batch = new[start : start + _FETCH_WORKERS]
        datas = run_parallel(lambda k: _fetch(store, k), batch, _FETCH_WORKERS)
        for key, data in zip(batch, datas, strict=True):
            if data is None:
                continue
            try:
                entries = decode_index(key, data)
            except FormatError:
                continue  # damaged or forged: ignored, as every hint may be
            db.add_object(skey, key, entries)
    synced.add(store.url)
    return db


def confirmed_hits(ctx: Context, store: Store, wanted: Mapping[str, int]) -> dict[str, IndexEntry]:
    """content sha256 -> an index entry for it whose chunk the store has, for each
    content of ``wanted`` (sha256 -> size) the index knows; one batched query, one
    batched existence check."""
    if not wanted:
        return {}
    db = sync(ctx, store)
    if db is None:
        return {}
    found = db.lookup(ctx.store_key(store.url), wanted)
    candidates = {
        sha: [e for e in rows if e.size == wanted[sha] and is_sha256(e.chunk) and e.plausible()]
        for sha, rows in found.items()
    }
    chunks = {object_key(e.chunk) for rows in candidates.values() for e in rows}
    if not chunks:
        return {}
    try:
        present = store.exists_many(chunks)
    except GitDataError:
        return {}
    out: dict[str, IndexEntry] = {}
    for sha, rows in candidates.items():
        hit = next((e for e in rows if object_key(e.chunk) in present), None)
        if hit is not None:
            out[sha] = hit
    return out


def covers(ctx: Context, store: Store, versions: list[str]) -> bool:
    """Whether the local index of ``store`` holds every content of each of
    ``versions`` (so looking content up there is as good as reading their manifests)."""
    if not versions:
        return False
    db = sync(ctx, store)
    return db is not None and db.covers(ctx.store_key(store.url), versions)


def write_index_for(
    ctx: Context,
    store: Store,
    entries: Iterable[FileEntry],
    inherited: Set[str],
    version: str | None = None,
    parents: Sequence[str] = (),
) -> list[str]:
    """Before a close's record: index objects for the content of ``entries`` (a new
    version's files, or those it changed) that sits in chunks outside ``inherited``
    (the chunks its parents name) and that the index does not list yet; their keys.
    When all of that is written and the index covers every parent, ``version`` is
    noted as covered (:func:`covers`).

    A failure writes nothing more and is ignored: the index is a hint.
    """
    written: list[str] = []
    try:
        complete = _write_fresh(ctx, store, entries, inherited, written)
        db = sync(ctx, store, fresh=False)
        if version is not None and db is not None and complete:
            skey = ctx.store_key(store.url)
            if not parents or db.covers(skey, list(parents)):
                db.mark_covered(skey, version)
    except (GitDataError, OSError):
        pass  # the close goes on without it: less dedup, never a wrong version
    finally:
        forget(ctx)
    return written


def _write_fresh(
    ctx: Context,
    store: Store,
    entries: Iterable[FileEntry],
    inherited: Set[str],
    written: list[str],
) -> bool:
    """Write the index objects of :func:`write_index_for` (their keys appended to
    ``written``); whether every entry they needed is now indexed."""
    try:
        parts = _parts_by_hash(e for e in entries if not e.is_link and e.chunk not in inherited)
        part = next(parts, None)
        if part is None:
            return True
        db = sync(ctx, store, fresh=False)
        skey = ctx.store_key(store.url)
        complete = True
        while part is not None:
            if db is not None:
                known = db.lookup(skey, (e.sha256 for e in part))
                part = [
                    e for e in part if not any(r.chunk == e.chunk for r in known.get(e.sha256, ()))
                ]
            for data in encode_index(part) if part else ():  # one object: the part fits
                key = index_key(hashlib.sha256(data).hexdigest())
                store.put_bytes(key, data)
                written.append(key)
                # our own object need not be fetched back
                complete = db is not None and db.add_object(skey, key, part) and complete
            part = next(parts, None)
        return complete
    except sqlite3.Error:
        return False  # no scratch space: the index misses these, a hint as ever


# Distinct contents gathered in memory before they spill into a scratch database.
_IN_MEMORY = 100_000


def _parts_by_hash(entries: Iterable[FileEntry]) -> Iterator[list[IndexEntry]]:
    """One entry per content of ``entries``, in hash order, :data:`MAX_ENTRIES` at a
    time.  Up to :data:`_IN_MEMORY` contents are sorted in memory; past that they go
    to a private temporary database read back in hash order, so memory holds one
    part however many files the version has."""
    seen: dict[str, IndexEntry] = {}
    source = iter(entries)
    for e in source:
        if e.sha256 not in seen:
            seen[e.sha256] = IndexEntry(e.sha256, e.size, e.chunk, e.offset, e.length, e.method)
            if len(seen) > _IN_MEMORY:
                yield from _spilled(seen, source)
                return
    ordered = [seen[sha] for sha in sorted(seen)]
    del seen
    for start in range(0, len(ordered), MAX_ENTRIES):
        yield ordered[start : start + MAX_ENTRIES]


def _spilled(seen: dict[str, IndexEntry], rest: Iterator[FileEntry]) -> Iterator[list[IndexEntry]]:
    scratch = sqlite3.connect("")  # on disk once it outgrows its cache: bounded memory
    try:
        scratch.execute(
            "CREATE TABLE e (sha TEXT PRIMARY KEY, size INTEGER, chunk TEXT, "
            "offset INTEGER, length INTEGER, method TEXT) WITHOUT ROWID"
        )
        insert = "INSERT OR IGNORE INTO e VALUES (?, ?, ?, ?, ?, ?)"
        scratch.executemany(
            insert,
            ((e.sha256, e.size, e.chunk, e.offset, e.length, e.method) for e in seen.values()),
        )
        seen.clear()
        scratch.executemany(
            insert, ((e.sha256, e.size, e.chunk, e.offset, e.length, e.method) for e in rest)
        )
        rows = scratch.execute("SELECT * FROM e ORDER BY sha")
        while part := [IndexEntry(*r) for r in rows.fetchmany(MAX_ENTRIES)]:
            yield part
    finally:
        scratch.close()


def rebuild_index(
    ctx: Context,
    manifests: Iterable[Manifest],
    present_chunks: set[str],
    before_each_write: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Replace the store's index objects by ones built from ``manifests`` (gc, under
    the exclusive lock): entries only for chunks in ``present_chunks``.  The new
    objects are written first, then the old ones deleted (a crash in between
    leaves duplicates, which are harmless).  ``before_each_write`` runs before
    every put and delete (gc: keep the lock fresh).  Returns (entries, objects removed).
    """
    store = ctx.store
    old = [k for k in store.list(INDEX_PREFIX) if index_key_sha(k)]
    try:
        count, new = _write_rebuilt(store, manifests, present_chunks, before_each_write)
    except sqlite3.Error:
        return 0, 0  # no scratch space: the old index stays, hints as ever
    removed = 0
    for key in old:
        if key in new:
            continue  # the same entries make the same object: it stays
        if before_each_write is not None:
            before_each_write()
        store.delete(key)
        removed += 1
    forget(ctx)
    return count, removed


def _write_rebuilt(
    store: Store,
    manifests: Iterable[Manifest],
    present_chunks: set[str],
    before_each_write: Callable[[], None] | None,
) -> tuple[int, set[str]]:
    """Write the index objects of ``manifests``' contents in ``present_chunks``:
    (entries, keys written)."""
    scratch = sqlite3.connect("")  # a private on-disk temporary database: bounded memory
    try:
        scratch.execute(
            "CREATE TABLE e (sha TEXT PRIMARY KEY, size INTEGER, chunk TEXT, "
            "offset INTEGER, length INTEGER, method TEXT) WITHOUT ROWID"
        )
        for manifest in manifests:
            scratch.executemany(
                "INSERT OR IGNORE INTO e VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (e.sha256, e.size, e.chunk, e.offset, e.length, e.method)
                    for e in manifest
                    if not e.is_link and e.chunk in present_chunks
                ),
            )
        count = 0

        def streamed() -> Iterator[IndexEntry]:  # sorted, never all in memory
            nonlocal count
            for row in scratch.execute("SELECT * FROM e ORDER BY sha"):
                entry = IndexEntry(*row)
                if entry.plausible():
                    count += 1
                    yield entry

        new: set[str] = set()
        for data in encode_index(streamed()):
            if before_each_write is not None:
                before_each_write()
            key = index_key(hashlib.sha256(data).hexdigest())
            store.put_bytes(key, data)
            new.add(key)
    finally:
        scratch.close()
    return count, new


def forget(ctx: Context) -> None:
    """Drop this command's memo of listings (the next lookup lists ``index/`` again)."""
    with contextlib.suppress(KeyError):
        ctx.memo[_MEMO]["synced"] = set()
