"""Closing a draft into a version (the commit point), and squashing versions.

Write order (docs/format.md §8): chunks (gitdata.ops.upload), then the
manifest object, then the version record.  The record's presence is the commit
point, so a crash at any step leaves only unreferenced objects.  All of it runs
under a shared store lock (docs/format.md §11), confirmed right before the
draft is checked, so gc cannot remove a chunk between that check and the record.
"""

from __future__ import annotations

import contextlib
import hashlib

from gitdata.codec import load_yaml_mapping
from gitdata.core.ids import new_version_id
from gitdata.core.lineage import diff
from gitdata.core.manifest import Manifest, file_folder_clash
from gitdata.core.merge import Conflict
from gitdata.core.record import VersionRecord, utc_now
from gitdata.errors import (
    DatasetNotFoundError,
    DatasetStateError,
    GitDataError,
    IntegrityError,
    InvalidInputError,
)
from gitdata.ops.context import Context
from gitdata.ops.drafts import editing, parent_files, validate_names
from gitdata.ops.reader import (
    encode_record,
    load_record,
)
from gitdata.ops.state import Draft, DraftFile
from gitdata.ops.upload import upload
from gitdata.storage import Store, object_key, version_key
from gitdata.storage.locks import store_lock


def _merged_counts(ctx: Context, parents: list[str], manifest: Manifest) -> dict[str, int]:
    """For several parents: counts of the change set against the first parent."""
    if len(parents) < 2:
        return {}
    counts = diff(ctx.parent_files(parents[:1]), manifest.as_dict()).counts()
    return {f"merged_{k}": v for k, v in counts.items()}


def _check_readable(data: bytes, manifest: Manifest, draft_id: str) -> None:
    """Refuse to write a manifest the readers' own decoder rejects (or reads differently)."""
    try:
        decoded = Manifest.decode(data, source=f"of draft {draft_id}")
    except GitDataError as exc:
        raise IntegrityError(
            f"refusing to close {draft_id}: its manifest would be unreadable ({exc.message})",
            dataset_id=draft_id,
            hint="remove the file named from the draft and add it again (gd remove, gd add), "
            "then close",
        ) from None
    if decoded != manifest:
        raise IntegrityError(
            f"refusing to close {draft_id}: its manifest does not read back as written",
            dataset_id=draft_id,
            hint="please report this; the draft is kept",
        )


def finalize(
    ctx: Context, draft_id: str, *, auto_upload: bool = False, **upload_args
) -> VersionRecord:
    """Close the draft: manifest, then record (the commit point).  Immutable afterwards.

    Holds a shared lock on the draft's store throughout (the upload included);
    refuses with :class:`~gitdata.errors.StoreLockedError` while gc runs there.
    """
    if not ctx.state.has_draft(draft_id):
        return _commit(ctx, draft_id)  # raises: closed or unknown
    storage = upload_args.get("storage") if auto_upload else None
    store = ctx.store_for_writing(storage or ctx.state.draft_storage(draft_id))
    closed = _closed_before(ctx, draft_id, store)
    if closed is not None:
        return closed
    try:
        with store_lock(
            store, exclusive=False, operation="close", stale_after=ctx.settings.lock_stale
        ) as lock:
            if auto_upload:
                upload(ctx, draft_id, **upload_args)
            # From here to the record no gc may run: rewrite the lock and list the
            # locks again (it may have looked stale if this process was paused).
            lock.confirm()
            return _commit(ctx, draft_id)
    except DatasetNotFoundError as exc:
        parents = _draft_parents(ctx, draft_id)
        gone = getattr(exc, "dataset_id", None)
        if gone not in parents:
            raise
        raise IntegrityError(
            f"draft {draft_id} builds on version {gone}, which is no longer in {store.url}",
            dataset_id=draft_id,
            hint="gd gc or gd delete on another machine removed it (gc keeps only the "
            "parents of drafts on the machine it runs on); open a new draft on a "
            "version that exists",
        ) from None


def _closed_before(ctx: Context, draft_id: str, store: Store) -> VersionRecord | None:
    """The record of a draft a killed close already wrote (the commit point) before it
    could remove the draft; the close is finished: the draft file goes.  None if the
    store has no record of it."""
    key = version_key(draft_id)
    if not store.exists(key):
        return None
    record = VersionRecord.from_dict(
        load_yaml_mapping(store.get_bytes(key), key), f"{store.url}/{key}"
    )
    if record.id != draft_id:
        raise IntegrityError(f"record {key} holds id {record.id}", key=key)
    ctx.state.remember_home(record.id, store.url)
    ctx.state.delete_draft(draft_id)
    ctx.state.set_current(record.id)
    return record


def _draft_parents(ctx: Context, draft_id: str) -> list[str]:
    """The parents a draft file names, read without loading them."""
    header = next((h for h in ctx.state.list_draft_headers() if h.id == draft_id), None)
    return list(header.parents) if header is not None else []


def _commit(ctx: Context, draft_id: str) -> VersionRecord:
    """The commit itself; the caller holds (and has just confirmed) the store lock."""
    with editing(ctx, draft_id, save=False) as draft:
        pending = [p for p, f in draft.files.items() if not f.stored]
        if pending:
            raise DatasetStateError(
                f"{len(pending)} file(s) not uploaded yet (e.g. {pending[0]})",
                dataset_id=draft_id,
                hint="run gd upload first, or gd close which uploads",
            )
        store = ctx.store_for_writing(draft.storage)
        clash = file_folder_clash(draft.files)
        if clash is not None:
            raise InvalidInputError(
                f"{clash[0]!r} is a file and also the folder of {clash[1]!r}: no folder can hold both",
                dataset_id=draft_id,
                hint=f"remove one of them: gd remove --files {clash[0]}",
            )
        entries = [f.to_entry(p) for p, f in draft.files.items()]
        manifest = Manifest(entries)
        chunk_keys = {object_key(c) for c in manifest.chunks()}
        missing = chunk_keys - store.exists_many(chunk_keys)
        if missing:
            own = {
                object_key(f.chunk)
                for f in draft.files.values()
                if f.source is not None and f.chunk is not None
            }
            if missing <= own:
                raise IntegrityError(
                    f"{len(missing)} chunk(s) this version uploaded are missing from {store.url}",
                    hint="run gd upload again to re-send them",
                )
            raise IntegrityError(
                f"{len(missing - own)} chunk(s) this version inherits from its parents or "
                f"sources are missing from {store.url}",
                hint="the versions it builds on live in another store (give --storage), "
                "or gd gc / gd delete on another machine removed them, or the store lost "
                "data (gd verify --id ID --remote)",
            )
        data = manifest.encode()
        _check_readable(data, manifest, draft_id)
        manifest_sha = hashlib.sha256(data).hexdigest()
        store.put_bytes(object_key(manifest_sha), data)
        changes = diff(parent_files(ctx, draft), manifest.as_dict())
        record = VersionRecord(
            id=draft.id,
            project=draft.project,
            name=draft.name,
            version=draft.version,
            parents=list(draft.parents),
            manifest=manifest_sha,
            stats={
                "files": len(manifest),
                "bytes": manifest.total_size,
                **changes.counts(),
                **_merged_counts(ctx, draft.parents, manifest),
            },
            tags=list(draft.tags),
            description=draft.description,
            metadata=dict(draft.metadata),
            created=utc_now(),
        )
        if not store.put_bytes(version_key(record.id), encode_record(record)):
            raise IntegrityError(f"a record for {record.id} already exists in {store.url}")
        with contextlib.suppress(Exception):
            ctx.cache.put_blob_bytes(manifest_sha, data)
    ctx.state.remember_home(record.id, store.url)
    ctx.state.delete_draft(draft_id)
    ctx.state.set_current(record.id)
    return record


def squash(
    ctx: Context, *, name: str, version_ids: list[str], project: str | None = None
) -> tuple[VersionRecord, list[Conflict]]:
    """One new version with no parents holding the merged content of ``version_ids``.

    The versions merge as parents do (docs/format.md §7), so the squash of a
    chain is the chain's last state; a conflict keeps the later version's file
    and is returned.  No data moves: the new manifest references the chunks
    the versions already store (ClearML re-uploads everything).
    """
    if len(version_ids) < 2:
        raise InvalidInputError("squash needs at least two versions")
    if len(set(version_ids)) != len(version_ids):
        raise InvalidInputError("a version is listed twice")
    records = [load_record(ctx, vid) for vid in version_ids]
    project = project or records[0].project
    validate_names(project, name)
    merge = ctx.parent_merge([r.id for r in records])
    draft = Draft(
        id=new_version_id(),
        project=project,
        name=name,
        version=ctx.next_version(project, name),
        parents=[],
        tags=[],
        description=f"squash of {', '.join(version_ids)}",
        created=utc_now(),
        storage=ctx.settings.storage,
        files={p: DraftFile.from_entry(e) for p, e in merge.files.items()},
    )
    draft.metadata["squashed_from"] = list(version_ids)
    ctx.state.save_draft(draft)
    try:
        record = finalize(ctx, draft.id)
    except BaseException:
        ctx.state.delete_draft(draft.id)  # a failed squash leaves nothing behind
        raise
    return record, merge.conflicts
