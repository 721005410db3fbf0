"""Garbage collection of the store, by reachability from git.

Kept: every version a pointer names in any commit reachable from any ref of
the given repositories (plus their ancestors, so lineage stays whole), every
version or object younger than the grace period, and what open drafts on
this machine have uploaded.  Removed, records first (the reverse of the write
order): everything else.  A store shared by several repositories must be
given all of them (``--repo``), or their versions look unreachable.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from dataclasses import dataclass, field

from gitdata.core.lineage import ancestors
from gitdata.errors import GitDataError, InvalidInputError
from gitdata.gitio.history import reachable_pointer_ids
from gitdata.gitio.repo import GitRepo
from gitdata.ops.context import Context
from gitdata.ops.reader import forget_record, list_records, load_manifest
from gitdata.storage import version_key

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


def _age(created: str, now: float) -> float:
    try:
        when = _dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=_dt.timezone.utc
        )
    except ValueError:
        return 0.0  # unreadable time: treat as new
    return now - when.timestamp()


def collect_garbage(
    ctx: Context,
    repos: list[GitRepo],
    *,
    grace_seconds: int = DEFAULT_GRACE,
    dry_run: bool = False,
    reflog: bool = False,
) -> GcReport:
    """Remove store content that no pointer in ``repos`` reaches (see module docstring)."""
    now = time.time()
    reachable: set[str] = set()
    for repo in repos:
        reachable |= reachable_pointer_ids(repo, reflog=reflog)
    records = {r.id: r for r in list_records(ctx)}
    keep_ids = set(
        ancestors(
            [i for i in reachable if i in records],
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
    keep_objects: set[str] = set()
    for vid in keep_ids:
        manifest = records[vid].manifest
        keep_objects.add(manifest)
        try:
            keep_objects |= load_manifest(ctx, manifest).chunks()
        except GitDataError:
            continue  # a damaged version keeps what it can name
    for draft in ctx.state.list_drafts():
        keep_objects |= {f.chunk for f in draft.files.values() if f.chunk}
    doomed: list[tuple[str, int]] = []
    for key, size, modified in ctx.store.list_info("objects/"):
        m = _SHA_KEY.match(key)
        if not m or m[1] in keep_objects:
            continue
        if now - modified <= grace_seconds:
            continue
        doomed.append((key, size))
    report.removed_objects = len(doomed)
    report.freed_bytes = sum(size for _, size in doomed)
    if not dry_run:
        for vid in report.removed_versions:
            ctx.store.delete(version_key(vid))
            forget_record(ctx, vid)
        for key, _ in doomed:
            ctx.store.delete(key)
        report.aborted_uploads = ctx.store.abort_stale_uploads(grace_seconds)
    return report
