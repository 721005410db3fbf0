"""Verify, compare, change sets, and delete."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gitdata.core.lineage import ChangeSet, diff
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.core.record import VersionRecord
from gitdata.core.selection import Selection
from gitdata.errors import (
    HasDependentsError,
    LocalPathNotFoundError,
    PinnedVersionError,
    PublishedVersionError,
)
from gitdata.gitio.history import INDEX, WORK_TREE, pointer_reach
from gitdata.gitio.repo import GitRepo
from gitdata.ops.context import Context
from gitdata.ops.materialize import select_entries
from gitdata.ops.reader import (
    comparable_files,
    forget_record,
    list_records,
    load_manifest,
    load_record,
    manifest_objects,
    parent_comparable,
)
from gitdata.ops.scan import hash_file, scan_folder
from gitdata.ops.target import read_marker
from gitdata.storage import object_key, version_key
from gitdata.storage.locks import store_lock


@dataclass
class VerifyReport:
    """What is wrong with a local folder compared to a version."""

    missing: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)
    hash_mismatch: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    checked: int = 0
    # the files the folder was checked against, when its marker says a partial get
    # (filter, only_added, shard) made it; None: the whole version
    selection: Selection | None = None

    @property
    def bad_files(self) -> list[str]:
        """Every offending path, sorted."""
        return sorted(self.missing + self.size_mismatch + self.hash_mismatch + self.extra)

    @property
    def ok(self) -> bool:
        return not self.bad_files


def verify_folder(
    manifest: Iterable[FileEntry],
    folder: Path,
    *,
    size_only: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> VerifyReport:
    """Check ``folder`` against ``manifest``: sizes always, sha256 unless ``size_only``.

    ``progress``: "checking sizes" in files, or "hashing local files" in bytes."""
    if not folder.is_dir():
        raise LocalPathNotFoundError(f"not a folder: {folder}", path=str(folder))
    local = {f.rel: f for f in scan_folder(folder)}
    entries = list(manifest)
    report = VerifyReport()
    if size_only:
        start_counting(progress, "checking sizes", len(entries))
    else:
        progress.start("hashing local files", sum(e.size for e in entries if e.path in local))
    try:
        for e in entries:
            f = local.pop(e.path, None)
            if f is None:
                report.missing.append(e.path)
                continue
            report.checked += 1
            if f.size != e.size:
                report.size_mismatch.append(e.path)
            elif not size_only and hash_file(os.path.join(folder, e.path)) != e.sha256:
                report.hash_mismatch.append(e.path)
            progress.advance(1 if size_only else e.size)
    finally:
        progress.finish()
    report.extra = sorted(local)
    return report


def verify_tree(
    ctx: Context,
    version_id: str,
    manifest: Manifest,
    folder: Path,
    *,
    size_only: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> VerifyReport:
    """Check ``folder`` against the version, or against the files a partial get of it
    picked when the folder's marker (ops/target.py) records one for this version.

    The selection is computed again from the manifest (not taken from the marker's
    file list), so a file the get put there and that went missing is reported.
    """
    marker = read_marker(folder) if folder.is_dir() else None
    if marker is None or marker.version_id != version_id or marker.selection.whole:
        return verify_folder(manifest, folder, size_only=size_only, progress=progress)
    try:
        entries = select_entries(ctx, manifest, marker.selection, version_id=version_id)
    except LocalPathNotFoundError:
        entries = []  # the recorded filter matches nothing: every file there is extra
    report = verify_folder(entries, folder, size_only=size_only, progress=progress)
    report.selection = marker.selection
    return report


def compare(ctx: Context, source_id: str, target_id: str) -> ChangeSet:
    """What changed from version ``source_id`` to ``target_id``."""
    old = load_manifest(ctx, load_record(ctx, source_id).manifest)
    new = load_manifest(ctx, load_record(ctx, target_id).manifest)
    return diff(*comparable_files(old, new))


def change_set(ctx: Context, record: VersionRecord) -> ChangeSet:
    """A version's changes against its merged parents."""
    return diff(*parent_comparable(ctx, list(record.parents), load_manifest(ctx, record.manifest)))


@dataclass
class DeleteReport:
    """What a delete removed."""

    version_id: str
    objects_removed: int
    bytes_freed: int
    orphaned_children: list[str]


_SHOWN_PINS = 3  # refs named in the error before "and N more"


def _pin_order(where: str) -> tuple[int, str]:
    return (2 if where == WORK_TREE else 1 if where == INDEX else 0, where)


def _refuse_pinned(repo: GitRepo, version_id: str, records: list[VersionRecord]) -> None:
    """Raise if a pointer in ``repo`` pins ``version_id`` or a version descending from it."""
    children: dict[str, list[str]] = {}
    for r in records:
        for parent in r.parents:
            children.setdefault(parent, []).append(r.id)
    needs = {version_id}  # the version and everything built on it
    todo = [version_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in needs:
                needs.add(child)
                todo.append(child)
    pins = pointer_reach(repo, track=needs).pins
    if not pins:
        return
    pinned = version_id if version_id in pins else sorted(pins)[0]
    where = sorted({w for w, _ in pins[pinned]}, key=_pin_order)
    paths = sorted({p for _, p in pins[pinned]})
    shown = ", ".join(where[:_SHOWN_PINS])
    if len(where) > _SHOWN_PINS:
        shown += f" and {len(where) - _SHOWN_PINS} more"
    what = f"version {version_id} is"
    if pinned != version_id:
        what += f" an ancestor of {pinned}, which is"
    raise PinnedVersionError(
        f"{what} pinned by {shown} ({', '.join(paths)})",
        dataset_id=version_id,
        pinned_version=pinned,
        pinned_by=where,
        paths=paths,
        hint="gd get at those commits needs it; pass --force to delete it anyway",
    )


def delete_version(
    ctx: Context,
    version_id: str,
    *,
    force: bool = False,
    delete_files: bool = True,
    repo: GitRepo | None = None,
    progress: Progress = NULL_PROGRESS,
) -> DeleteReport:
    """Delete a closed version and the objects no remaining version reaches.

    ``progress``: "reading the other versions' manifests" (versions), then
    "deleting from the store" (objects).

    Refused, unless ``force``: when other versions name it as a parent
    (:class:`HasDependentsError`), and, given the ``repo`` it runs in, when any
    pointer in any commit of any ref, in the index or in the working tree names
    it or a version descending from it (:class:`PinnedVersionError`; the same
    reachability gc keeps).  With ``delete_files=False`` only the record goes:
    its manifest and chunks stay in the store (``gd gc`` reclaims them once
    nothing reaches them).

    The record goes first (the reverse of the write order), so a crash part
    way leaves unreachable objects for gc, never a version with holes.  Like
    gc it holds the store's exclusive lock (docs/format.md §11): a close on
    another machine cannot reuse a chunk this removes.
    Children's data stays intact even with ``force``: their manifests are
    complete and every chunk they reach is kept.
    """
    with store_lock(
        ctx.store, exclusive=True, operation="delete", stale_after=ctx.settings.lock_stale
    ) as lock:
        return _delete(ctx, version_id, force, delete_files, repo, lock.confirm, progress)


def delete_versions(
    ctx: Context,
    version_ids: list[str],
    *,
    force: bool = False,
    delete_files: bool = True,
    repo: GitRepo | None = None,
    progress: Progress = NULL_PROGRESS,
) -> list[DeleteReport]:
    """Delete several closed versions (one dataset's, ``gd delete --entire-dataset``).

    Every refusal :func:`delete_version` makes for one version is checked for
    all of them before anything is deleted, unless ``force``: a version outside
    the set naming one of them as a parent (:class:`HasDependentsError`), or a
    pointer in ``repo`` pinning one of them or a version built on one
    (:class:`PinnedVersionError`).  Children go before their parents, under one
    exclusive store lock.
    """
    wanted = set(version_ids)
    with store_lock(
        ctx.store, exclusive=True, operation="delete", stale_after=ctx.settings.lock_stale
    ) as lock:
        records = list_records(ctx)
        # an unknown id fails before anything is deleted
        doomed = [load_record(ctx, vid) for vid in version_ids]
        if not force:
            _refuse_published(doomed)
            if repo is not None:
                for vid in version_ids:
                    _refuse_pinned(repo, vid, records)
            outside = sorted(
                r.id for r in records if r.id not in wanted and wanted & set(r.parents)
            )
            if outside:
                raise HasDependentsError(
                    f"{len(outside)} other version(s) name a version being deleted as a "
                    f"parent: {', '.join(outside)}",
                    dataset_id=version_ids[0] if version_ids else None,
                    dependents=outside,
                    hint="delete those first, or pass --force (their data stays readable)",
                )
        order = [r.id for r in reversed(records) if r.id in wanted]
        return [
            _delete(ctx, vid, True, delete_files, None, lock.confirm, progress) for vid in order
        ]


def _refuse_published(records: list[VersionRecord]) -> None:
    published = [r.id for r in records if r.published]
    if published:
        raise PublishedVersionError(
            f"version {published[0]} is published"
            + (f" (and {len(published) - 1} more)" if len(published) > 1 else "")
            + "; published versions are kept",
            dataset_id=published[0],
            published=published,
            hint="pass --force to delete it all the same",
        )


def _delete(
    ctx: Context,
    version_id: str,
    force: bool,
    delete_files: bool,
    repo: GitRepo | None,
    confirm_lock: Callable[[], None],
    progress: Progress,
) -> DeleteReport:
    record = load_record(ctx, version_id)
    records = list_records(ctx)
    if not force:
        _refuse_published([record])
    if repo is not None and not force:
        _refuse_pinned(repo, version_id, records)
    children = sorted(r.id for r in records if version_id in r.parents)
    if children and not force:
        raise HasDependentsError(
            f"version {version_id} is a parent of {len(children)} other version(s): {', '.join(children)}",
            dataset_id=version_id,
            dependents=children,
            hint="delete those first, or pass --force (their data stays readable)",
        )
    store = ctx.store
    confirm_lock()
    store.delete(version_key(version_id))
    forget_record(ctx, version_id)
    if not delete_files:
        return DeleteReport(version_id, 0, 0, children)
    others = [r for r in records if r.id != version_id]
    keep: set[str] = set()
    start_counting(progress, "reading the other versions' manifests", len(others))
    try:
        for r in others:
            keep |= manifest_objects(ctx, r.manifest, strict=True)
            progress.advance()
    finally:
        progress.finish()
    # A damaged manifest must not block deleting its version.
    mine = manifest_objects(ctx, record.manifest)
    removed = freed = 0
    doomed = sorted(mine - keep)
    start_counting(progress, "deleting from the store", len(doomed))
    try:
        for sha in doomed:
            progress.advance()
            key = object_key(sha)
            try:
                size = store.size(key)
            except LookupError:
                continue
            store.delete(key)
            removed += 1
            freed += size
    finally:
        progress.finish()
    return DeleteReport(version_id, removed, freed, children)
