"""Copying a version (and its ancestors) from one store to another.

Same write order as close: every object first (skipping what the target
already holds), the version record last, ancestors before children.  Safe to
repeat and to interrupt.  A writer like close: it holds a shared lock on the
target store (docs/format.md §11), so gc there cannot run meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitdata.codec import load_yaml_mapping
from gitdata.core.lineage import ancestors
from gitdata.core.manifest import Manifest
from gitdata.core.metaevent import EVENTS_PREFIX, MetadataEvent, is_event_key
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.core.record import VersionRecord
from gitdata.errors import FormatError, IntegrityError, ObjectNotFoundError
from gitdata.storage import Store, object_key, version_key
from gitdata.storage.locks import store_lock


@dataclass
class CopyReport:
    """What a copy sent."""

    versions: int = 0
    objects: int = 0
    bytes: int = 0
    events: int = 0  # metadata events (renames, descriptions, publish) copied


def _record(store: Store, vid: str) -> VersionRecord | None:
    try:
        data = store.get_bytes(version_key(vid))
    except ObjectNotFoundError:
        return None
    return VersionRecord.from_dict(load_yaml_mapping(data, f"{store.url}/{version_key(vid)}"), vid)


def copy_version(
    src: Store,
    dst: Store,
    version_id: str,
    tmp_dir: Path,
    progress: Progress = NULL_PROGRESS,
) -> CopyReport:
    """Make ``version_id`` and its ancestors that ``src`` holds exist in ``dst``.

    ``progress``: one phase per version sent, "copying ID: chunks the target
    lacks", in chunks."""
    records: dict[str, VersionRecord] = {}

    def parents_of(vid: str) -> list[str]:
        rec = records.get(vid) or _record(src, vid)
        if rec is None:
            return []
        records[vid] = rec
        return list(rec.parents)

    order = ancestors([version_id], parents_of)
    if version_id not in records:
        raise ObjectNotFoundError(
            f"version {version_id} is not in {src.url}", key=version_key(version_id)
        )
    with store_lock(dst, exclusive=False, operation="copy") as lock:
        report = _copy(src, dst, order, records, tmp_dir, lock.confirm, progress)
        report.events = copy_events(src, dst, set(order))
        return report


def copy_events(src: Store, dst: Store, ids: set[str]) -> int:
    """Copy the metadata events of ``src`` that name any of ``ids`` and that ``dst``
    lacks (after the records: docs/format.md §13); how many were copied."""
    have = set(dst.list(EVENTS_PREFIX))
    copied = 0
    for key in src.list(EVENTS_PREFIX):
        if key in have or not is_event_key(key):
            continue
        try:
            data = src.get_bytes(key)
            event = MetadataEvent.from_dict(key, load_yaml_mapping(data, f"{src.url}/{key}"))
        except (ObjectNotFoundError, FormatError):
            continue  # gone meanwhile, or one a reader would skip too
        if ids.isdisjoint(event.ids):
            continue
        if dst.put_bytes(key, data):
            copied += 1
    return copied


def _copy(
    src: Store,
    dst: Store,
    order: list[str],
    records: dict[str, VersionRecord],
    tmp_dir: Path,
    confirm_lock: Callable[[], None],
    progress: Progress,
) -> CopyReport:
    report = CopyReport()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for vid in reversed(order):  # ancestors first
        rec = records.get(vid)
        if rec is None or dst.exists(version_key(vid)):
            continue
        manifest_bytes = src.get_bytes(object_key(rec.manifest))
        manifest = Manifest.decode(
            manifest_bytes, f"{src.url}/{object_key(rec.manifest)}", _page_reader(src)
        )
        # a paged manifest's pages and delta go over with the chunks, before its root
        keys = [object_key(c) for c in sorted(manifest.chunks() | set(manifest.objects()))]
        present = dst.exists_many(keys)
        lacking = [k for k in keys if k not in present]
        start_counting(progress, f"copying {vid[:12]}: chunks the target lacks", len(lacking))
        try:
            for key in lacking:
                _copy_object(src, dst, key, tmp_dir, report)
                progress.advance()
        finally:
            progress.finish()
        if dst.put_bytes(object_key(rec.manifest), manifest_bytes):
            report.objects += 1
            report.bytes += len(manifest_bytes)
        confirm_lock()  # no gc on dst between this check and the record
        missing = set(keys) - dst.exists_many(keys)
        if missing:
            raise IntegrityError(f"{len(missing)} chunk(s) did not arrive in {dst.url}")
        dst.put_bytes(version_key(vid), src.get_bytes(version_key(vid)))
        report.versions += 1
    return report


def _page_reader(src: Store) -> Callable[[str], bytes]:
    """Reads a paged manifest's objects from ``src``, each checked against its hash."""

    def load(sha: str) -> bytes:
        key = object_key(sha)
        data = src.get_bytes(key)
        if hashlib.sha256(data).hexdigest() != sha:
            raise IntegrityError(f"manifest page {key} is corrupt in {src.url}", key=key)
        return data

    return load


def _copy_object(src: Store, dst: Store, key: str, tmp_dir: Path, report: CopyReport) -> None:
    """One object from ``src`` to ``dst`` through a temporary file (counted in ``report``)."""
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="copy-")
    os.close(fd)
    try:
        src.get_file(key, Path(tmp))
        size = os.path.getsize(tmp)
        if dst.put_file(key, Path(tmp), move=True):
            report.objects += 1
            report.bytes += size
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
