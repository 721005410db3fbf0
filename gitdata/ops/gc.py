"""Garbage collection of the store, by reachability from git.

Kept: every version a pointer names in any commit reachable from any ref of
the given repositories, the parents of every open draft on this machine, the
ancestors of all those (so lineage stays whole and drafts can still close),
every version or object younger than the grace period, and what open drafts
on this machine have uploaded.  Removed, records first (the reverse of the
write order): everything else.  A store shared by several repositories must be
given all of them (``--repo``), or their versions look unreachable.

gc holds the store's exclusive lock (gitdata.storage.locks, docs/format.md
§11) from before it lists anything until after its last delete, so no writer
on any machine is between "my chunks exist" and "my record is written" while
gc decides what is unreachable: gc refuses while a writer runs, and writers
refuse while gc runs.  After its deletes gc rebuilds the store's content index
(docs/format.md §14) from the manifests it kept.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gitdata.core.lineage import ancestors
from gitdata.core.manifest import Manifest
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.core.record import VersionRecord
from gitdata.errors import GitDataError, InvalidInputError
from gitdata.gitio.history import reachable_pointer_ids
from gitdata.gitio.repo import GitRepo
from gitdata.ops.contentindex import rebuild_index
from gitdata.ops.context import Context
from gitdata.ops.events import remove_orphan_events
from gitdata.ops.reader import forget_record, list_records, load_manifest, manifest_objects
from gitdata.storage import version_key
from gitdata.storage.locks import StoreLock, store_lock

DEFAULT_GRACE = 14 * 24 * 3600
_SHA_KEY = re.compile(r"^objects/[0-9a-f]{2}/([0-9a-f]{64})$")


def parse_duration(text: str) -> int:
    """``14d``, ``12h``, ``30m``, ``45s`` or plain seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([dhms]?)\s*", text or "")
    if not m:
        raise InvalidInputError(
            f"cannot read duration {text!r}", hint="use e.g. 14d, 12h, 30m or 0"
        )
    return int(m[1]) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}[m[2]]


@dataclass
class GcReport:
    """What gc removed (or would remove, with dry_run)."""

    reachable_versions: int
    kept_versions: int
    removed_versions: list[str] = field(default_factory=list)
    removed_objects: int = 0
    freed_bytes: int = 0
    kept_recent: int = 0
    dry_run: bool = False
    aborted_uploads: int = 0
    stale_locks: int = 0
    removed_events: int = 0  # metadata events whose versions are all gone
    index_entries: int = 0  # entries of the rebuilt content index (docs/format.md §14)
    removed_index_objects: int = 0  # index objects the rebuilt ones replaced
    # one row per removed version: project, name, version, id, and "bytes", the
    # stored bytes of the removed objects it names (a chunk named by several
    # removed versions counts for the first); "other_bytes" is the rest
    removed: list[dict[str, Any]] = field(default_factory=list)
    other_bytes: int = 0
    cancelled: bool = False  # ``confirm`` said no: nothing was removed


def _age(created: str, now: float) -> float:
    try:
        when = _dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=_dt.timezone.utc
        )
    except ValueError:
        return 0.0  # unreadable time: treat as new
    return now - when.timestamp()


def _draft_roots(ctx: Context) -> tuple[set[str], set[str]]:
    """(parents, chunks) of every open draft on this machine, read from the draft
    files themselves: a draft whose parents cannot be loaded any more still names
    them, and what it uploaded."""
    return ctx.state.draft_roots()


def collect_garbage(
    ctx: Context,
    repos: list[GitRepo],
    *,
    grace_seconds: int = DEFAULT_GRACE,
    dry_run: bool = False,
    reflog: bool = False,
    confirm: Callable[[GcReport], bool] | None = None,
    progress: Progress | None = None,
) -> GcReport:
    """Remove store content that no pointer in ``repos`` reaches (see module docstring).

    Raises :class:`~gitdata.errors.StoreLockedError` while another process
    writes to or collects the store.  ``dry_run`` takes no lock (it deletes
    nothing).  ``confirm``, when given, sees the plan (the report before any
    delete, the lock held) and returns whether to go on; if not, nothing is
    removed and the report says ``cancelled``.
    """
    if dry_run:
        return _collect(ctx, repos, grace_seconds, True, reflog, None, None, NULL_PROGRESS)
    with store_lock(
        ctx.store, exclusive=True, operation="gc", stale_after=ctx.settings.lock_stale
    ) as lock:
        return _collect(
            ctx, repos, grace_seconds, False, reflog, lock, confirm, progress or NULL_PROGRESS
        )


def _collect(
    ctx: Context,
    repos: list[GitRepo],
    grace_seconds: int,
    dry_run: bool,
    reflog: bool,
    lock: StoreLock | None,
    confirm: Callable[[GcReport], bool] | None,
    progress: Progress,
) -> GcReport:
    now = time.time()
    reachable: set[str] = set()
    for repo in repos:
        reachable |= reachable_pointer_ids(repo, reflog=reflog)
    draft_parents, draft_chunks = _draft_roots(ctx)
    records = {r.id: r for r in list_records(ctx)}
    # published versions (gd publish) are roots too: only gd delete --force removes them
    published = {vid for vid, r in records.items() if r.published}
    keep_ids = set(
        ancestors(
            [i for i in reachable | draft_parents | published if i in records],
            lambda vid: list(records[vid].parents) if vid in records else [],
        )
    ) & set(records)
    report = GcReport(len(reachable & set(records)), 0, dry_run=dry_run)
    for vid, record in records.items():
        if vid in keep_ids:
            continue
        if _age(record.created, now) <= grace_seconds:
            keep_ids.add(vid)
            report.kept_recent += 1
        else:
            report.removed_versions.append(vid)
    report.kept_versions = len(keep_ids)
    keep_objects: set[str] = set(draft_chunks)
    for vid in keep_ids:
        # a damaged version keeps what it can name
        keep_objects |= manifest_objects(ctx, records[vid].manifest)
    doomed: list[tuple[str, int]] = []
    present: set[str] = set()  # objects that stay: the content index may name them
    for key, size, modified in ctx.store.list_info("objects/"):
        m = _SHA_KEY.match(key)
        if not m:
            continue
        if m[1] in keep_objects or now - modified <= grace_seconds:
            present.add(m[1])
            continue
        doomed.append((key, size))
    report.removed_objects = len(doomed)
    report.freed_bytes = sum(size for _, size in doomed)
    _describe(ctx, report, records, dict(doomed))
    planned = report.removed_objects + len(report.removed_versions)
    if confirm is not None and planned and not confirm(report):
        report.cancelled = True
        return report
    if lock is not None:
        # Before the first delete, and whenever the lock may have looked stale to
        # others since (this process was paused): rewrite it and list again.
        lock.confirm()
        start_counting(
            progress, "deleting from the store", len(report.removed_versions) + len(doomed)
        )
        try:
            for vid in report.removed_versions:
                lock.ensure_fresh()
                ctx.store.delete(version_key(vid))
                forget_record(ctx, vid)
                progress.advance()
            for key, _ in doomed:
                lock.ensure_fresh()
                ctx.store.delete(key)
                progress.advance()
        finally:
            progress.finish()
        report.index_entries, report.removed_index_objects = rebuild_index(
            ctx, _kept_manifests(ctx, records, keep_ids), present, lock.ensure_fresh
        )
        report.removed_events = remove_orphan_events(
            ctx, set(records) - set(report.removed_versions)
        )
        report.aborted_uploads = ctx.store.abort_stale_uploads(grace_seconds)
        for key in lock.stale_locks():
            ctx.store.delete(key)
            report.stale_locks += 1
    return report


def _kept_manifests(
    ctx: Context, records: dict[str, VersionRecord], keep_ids: set[str]
) -> Iterator[Manifest]:
    """The manifests of the kept versions, one at a time (damaged ones skipped)."""
    for vid in sorted(keep_ids):
        try:
            yield load_manifest(ctx, records[vid].manifest)
        except GitDataError:
            continue


def _describe(
    ctx: Context, report: GcReport, records: dict[str, VersionRecord], doomed: dict[str, int]
) -> None:
    """Fill ``report.removed`` (who each removed version was, and the bytes of the
    removed objects it names) and ``report.other_bytes``."""
    counted: set[str] = set()
    for vid in report.removed_versions:
        record = records[vid]
        names = manifest_objects(ctx, record.manifest)  # damaged: what it can name
        keys = {f"objects/{sha[:2]}/{sha}" for sha in names} & doomed.keys()
        keys -= counted
        counted |= keys
        report.removed.append(
            {
                "project": record.project,
                "name": record.name,
                "version": record.version,
                "id": vid,
                "bytes": sum(doomed[k] for k in keys),
            }
        )
    report.other_bytes = sum(size for key, size in doomed.items() if key not in counted)
