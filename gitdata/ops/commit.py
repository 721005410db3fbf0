"""Closing a draft into a version (the commit point), and squashing versions.

Write order (docs/format.md §8): chunks (gitdata.ops.upload), then the
manifest object, then the version record.  The record's presence is the commit
point, so a crash at any step leaves only unreferenced objects.  All of it runs
under a shared store lock (docs/format.md §11), confirmed right before the
draft is checked, so gc cannot remove a chunk between that check and the record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from gitdata.core.ids import new_version_id, next_version
from gitdata.core.lineage import diff
from gitdata.core.manifest import FileEntry, Manifest, SortedClashCheck, file_folder_clash
from gitdata.core.merge import Conflict
from gitdata.core.pages import (
    Delta,
    EncodedManifest,
    PagedManifest,
    combined_delta,
    encode_child,
    encode_compacted,
    encode_manifest,
    encode_sorted,
    is_paged_size,
    reads_as_child,
    reads_as_delta,
)
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.core.record import RecordHeader, VersionRecord, utc_now
from gitdata.errors import (
    ConflictError,
    DatasetNotFoundError,
    DatasetStateError,
    GitDataError,
    IntegrityError,
    InvalidInputError,
)
from gitdata.ops.basecolumns import lookup_entries, remembering
from gitdata.ops.contentindex import write_index_for
from gitdata.ops.context import Context
from gitdata.ops.drafts import editing, parent_files, validate_names
from gitdata.ops.reader import (
    encode_record,
    load_manifest,
    load_manifest_object,
    load_record,
    single_parent_manifest,
)
from gitdata.ops.records import dataset_headers
from gitdata.ops.state import Draft, DraftFile, DraftFiles
from gitdata.ops.upload import upload
from gitdata.storage import Store, object_key, version_key
from gitdata.storage.locks import store_lock


def _merged_counts(ctx: Context, parents: list[str], manifest: Manifest) -> dict[str, int]:
    """For several parents: counts of the change set against the first parent."""
    if len(parents) < 2:
        return {}
    counts = diff(ctx.parent_files(parents[:1]), manifest.as_dict()).counts()
    return {f"merged_{k}": v for k, v in counts.items()}


def _check_readable(
    ctx: Context,
    encoded: EncodedManifest,
    manifest: Manifest,
    draft_id: str,
    parent: Manifest | None = None,
    parent_files: dict[str, FileEntry] | None = None,
) -> None:
    """Refuse to write a manifest the readers' own decoder rejects (or reads differently).

    A child that keeps its paged parent's pages is checked through its delta: the
    parent's pages were checked when the parent closed."""

    def reads_right(decoded: Manifest) -> bool:
        same = reads_as_child(decoded, parent, manifest, parent_files)
        return decoded == manifest if same is None else same

    _read_back(ctx, draft_id, encoded, reads_right)


def _read_back(
    ctx: Context, draft_id: str, encoded: EncodedManifest, reads_right: Callable[[Manifest], bool]
) -> None:
    """Decode ``encoded`` as a reader would (its own objects, else the store's) and
    refuse to close unless ``reads_right`` says it reads as meant."""

    def load(sha: str) -> bytes:
        data = encoded.objects.get(sha)
        return data if data is not None else load_manifest_object(ctx, sha, "manifest page")

    try:
        same = reads_right(Manifest.decode(encoded.root, f"of draft {draft_id}", load))
    except GitDataError as exc:
        raise _unreadable(draft_id, exc) from None
    if not same:
        raise IntegrityError(
            f"refusing to close {draft_id}: its manifest does not read back as written",
            dataset_id=draft_id,
            hint="please report this; the draft is kept",
        )


def _unreadable(draft_id: str, exc: GitDataError) -> IntegrityError:
    return IntegrityError(
        f"refusing to close {draft_id}: its manifest would be unreadable ({exc.message})",
        dataset_id=draft_id,
        hint="remove the file named from the draft and add it again (gd remove, gd add), "
        "then close",
    )


def _put_manifest(store: Store, encoded: EncodedManifest) -> None:
    """Store the manifest's pages (those not already there) and then its root.

    The pages the root shares with its parent must be in the store already
    (invariant 3: the record comes only after everything it reaches)."""
    fresh = {object_key(sha): data for sha, data in encoded.objects.items()}
    kept = {object_key(sha) for sha in encoded.reaches} - fresh.keys()
    present = store.exists_many(fresh.keys() | kept) if fresh or kept else set()
    lost = kept - present
    if lost:
        raise IntegrityError(
            f"{len(lost)} manifest page(s) this version shares with its parent are missing "
            f"from {store.url} (e.g. {min(lost)})",
            key=min(lost),
            hint="the parent version is damaged: gd verify --remote --id PARENT",
        )
    for key, data in fresh.items():
        if key not in present:
            store.put_bytes(key, data)
    store.put_bytes(object_key(encoded.sha256), encoded.root)


class VersionRenumberedWarning(UserWarning):
    """The version number a draft was opened with was closed meanwhile by another
    machine; the draft closed as the next free number instead."""


class DuplicateVersionWarning(UserWarning):
    """Another record of the dataset, closed at the same instant elsewhere, holds the
    same version number (docs/format.md §12: ``--version`` then names both)."""


@dataclass(frozen=True)
class Closed:
    """What a close did: the version's record, and whether this call wrote it
    (False: another gd process closed the same draft, with the same content, first)."""

    record: VersionRecord
    closed_here: bool = True


def finalize(
    ctx: Context, draft_id: str, *, auto_upload: bool = False, **upload_args
) -> VersionRecord:
    """Close the draft: manifest, then record (the commit point).  Immutable afterwards.

    Holds a shared lock on the draft's store throughout (the upload included);
    refuses with :class:`~gitdata.errors.StoreLockedError` while gc runs there.
    """
    return close_draft(ctx, draft_id, auto_upload=auto_upload, **upload_args).record


def close_draft(
    ctx: Context,
    draft_id: str,
    *,
    expected: Draft | None = None,
    auto_upload: bool = False,
    **upload_args,
) -> Closed:
    """Close the draft as :func:`finalize` does, and say who closed it.

    Two closes of one draft are serialised by the draft's lock; the one that gets
    it second finds the draft gone and the record there.  It then succeeds
    (``closed_here`` False) when that record holds what it would have closed
    (``expected``, else the draft as read on entry), and raises
    :class:`~gitdata.errors.ConflictError` when it does not.
    """
    if expected is None and ctx.state.has_draft(draft_id):
        with contextlib.suppress(DatasetNotFoundError):
            expected = ctx.state.snapshot_draft(draft_id)
    if not ctx.state.has_draft(draft_id):
        if expected is None:
            return _commit(ctx, draft_id)  # raises: closed or unknown
        return Closed(closed_meanwhile(ctx, expected), closed_here=False)
    try:
        return _finalize(ctx, draft_id, auto_upload=auto_upload, **upload_args)
    except (DatasetStateError, DatasetNotFoundError):
        if expected is None or ctx.state.has_draft(draft_id):
            raise
        return Closed(closed_meanwhile(ctx, expected), closed_here=False)


def closed_meanwhile(ctx: Context, expected: Draft) -> VersionRecord:
    """The record another process closed ``expected``'s draft as, if it holds the
    same content and metadata; else :class:`ConflictError` (a discarded draft:
    :class:`DatasetNotFoundError`)."""
    store_ctx = _store_context(ctx, expected.storage)
    try:
        record = load_record(store_ctx, expected.id)
    except DatasetNotFoundError:
        raise DatasetNotFoundError(
            f"draft {expected.id} was discarded by another gd process; nothing was closed",
            dataset_id=expected.id,
            hint="open a new draft: gd create",
        ) from None
    differs = _differences(store_ctx, expected, record)
    if differs:
        raise ConflictError(
            f"draft {expected.id} was closed by another gd process meanwhile, with other "
            f"{differs} than this command would have closed",
            dataset_id=expected.id,
            hint=f"the closed version is kept; open a child to add your changes: "
            f"gd create --parents {expected.id} ...",
        )
    ctx.state.set_current(record.id)
    return record


def _differences(ctx: Context, expected: Draft, record: VersionRecord) -> str:
    """What differs between a draft and the record it was closed as ('' if nothing)."""
    wanted = {p: (f.size, f.sha256) for p, f in expected.files.items()}
    closed = {e.path: (e.size, e.sha256) for e in load_manifest(ctx, record.manifest)}
    differs = []
    if wanted != closed:
        paths = sorted(p for p in set(wanted) | set(closed) if wanted.get(p) != closed.get(p))
        differs.append(f"files ({len(paths)} path(s), e.g. {paths[0]})")
    for label, mine, theirs in (
        ("tags", list(expected.tags), list(record.tags)),
        ("description", expected.description, record.description),
        ("metadata", dict(expected.metadata), dict(record.metadata)),
    ):
        if mine != theirs:
            differs.append(label)
    return ", ".join(differs)


def _store_context(ctx: Context, storage: str | None) -> Context:
    """A Context reading the store ``storage`` (``ctx`` itself when it already does)."""
    if not storage or storage == ctx.settings.storage:
        return ctx
    return Context(dataclasses.replace(ctx.settings, storage=storage))


def _finalize(ctx: Context, draft_id: str, *, auto_upload: bool, **upload_args) -> Closed:
    """The close proper: upload (if asked) and commit under the store's shared lock."""
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


def _closed_before(ctx: Context, draft_id: str, store: Store) -> Closed | None:
    """A draft whose record a killed close already wrote (the commit point) before it
    could remove the draft: when the record holds the draft's content the close is
    finished and the draft file goes, without uploading again (else ConflictError,
    the draft kept).  None if the store has no record of it."""
    if not store.exists(version_key(draft_id)):
        return None
    with editing(ctx, draft_id, save=False) as draft:
        record = closed_meanwhile(ctx, draft)
        ctx.state.remember_home(record.id, store.url)
        ctx.state.delete_draft(draft_id)
    return Closed(record, closed_here=False)


def finish_killed_close(ctx: Context, draft_id: str) -> VersionRecord | None:
    """The record of a draft whose close was killed after its commit point, the
    leftover draft file removed; None when the draft is still open (or its record
    holds other content, which a close reports)."""
    try:
        store = ctx.store_for(ctx.state.draft_storage(draft_id))
        if not store.exists(version_key(draft_id)):
            return None
        closed = _closed_before(ctx, draft_id, store)
    except GitDataError:  # offline, or another content: the draft stays as it was
        return None
    return closed.record if closed is not None else None


def _draft_parents(ctx: Context, draft_id: str) -> list[str]:
    """The parents a draft file names, read without loading them."""
    header = next((h for h in ctx.state.list_draft_headers() if h.id == draft_id), None)
    return list(header.parents) if header is not None else []


@dataclass
class _Written:
    """A close's manifest, stored; what the record and the content index need of it."""

    encoded: EncodedManifest
    files: int
    bytes: int
    counts: dict[str, int]
    fresh: Iterable[FileEntry]  # entries whose content may be new to the store
    inherited: set[str]  # chunks the parents name (no index entry needed)


def _commit(ctx: Context, draft_id: str) -> Closed:
    """The commit itself; the caller holds (and has just confirmed) the store lock."""
    with editing(ctx, draft_id, save=False) as draft:
        first_pending = draft.files.changed.first_pending()
        if first_pending is not None:
            count = draft.files.changed.count_pending()
            raise DatasetStateError(
                f"{count} file(s) not uploaded yet (e.g. {first_pending})",
                dataset_id=draft_id,
                hint="run gd upload first, or gd close which uploads",
            )
        store = ctx.store_for_writing(draft.storage)
        parent = single_parent_manifest(ctx, draft.parents)
        written = None
        if isinstance(parent, PagedManifest):
            written = _write_child(ctx, store, draft, parent)
        elif not draft.parents and is_paged_size(len(draft.files)):
            written = _write_first(ctx, store, draft)
        if written is None:
            written = _write_whole(ctx, store, draft, parent)
        encoded = written.encoded
        manifest_sha = encoded.sha256
        version = _free_version(ctx, draft)
        record = VersionRecord(
            id=draft.id,
            project=draft.project,
            name=draft.name,
            version=version,
            parents=list(draft.parents),
            manifest=manifest_sha,
            stats={"files": written.files, "bytes": written.bytes, **written.counts},
            tags=list(draft.tags),
            description=draft.description,
            metadata=dict(draft.metadata),
            created=utc_now(),
        )
        # store-wide dedup (docs/format.md §14): a hint, written before the commit point
        write_index_for(ctx, store, written.fresh, written.inherited, draft.id, list(draft.parents))
        if not store.put_bytes(version_key(record.id), encode_record(record)):
            # Closed already: a close killed after its record and before removing the
            # draft.  The same content is that close's version; anything else is refused.
            record, closed_here = closed_meanwhile(ctx, draft), False
        else:
            closed_here = True
        ctx.state.remember_home(record.id, store.url)
        # Removed under the draft's lock: a close waiting for it then finds no draft
        # (drafts.editing checks again) instead of committing the draft a second time.
        ctx.state.delete_draft(draft_id)
    with contextlib.suppress(Exception):
        for sha, data in [(manifest_sha, encoded.root), *encoded.objects.items()]:
            ctx.cache.put_blob_bytes(sha, data)
    if closed_here:
        _warn_duplicates(ctx, draft, record)
    ctx.state.set_current(record.id)
    return Closed(record, closed_here)


def _refuse_clash(draft: Draft, clash: tuple[str, str] | None) -> None:
    if clash is not None:
        raise InvalidInputError(
            f"{clash[0]!r} is a file and also the folder of {clash[1]!r}: no folder can hold both",
            dataset_id=draft.id,
            hint=f"remove one of them: gd remove --files {clash[0]}",
        )


def _check_chunks(store: Store, draft: Draft, chunks: set[str]) -> None:
    """Refuse to close while a chunk the version reaches is not in the store."""
    chunk_keys = {object_key(c) for c in chunks}
    missing = chunk_keys - store.exists_many(chunk_keys) if chunk_keys else set()
    if not missing:
        return
    own = {object_key(c) for c in draft.files.changed.own_chunks()}
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


def _write_whole(ctx: Context, store: Store, draft: Draft, parent: Manifest | None) -> _Written:
    """Store the draft's manifest built from every file (any parents, any size)."""
    _refuse_clash(draft, file_folder_clash(draft.files))
    manifest = Manifest(draft.files.entries())
    _check_chunks(store, draft, manifest.chunks())
    before, after = parent_files(ctx, draft), manifest.as_dict()
    # a child of one paged parent shares its pages (docs/format.md §4b)
    encoded = encode_manifest(manifest, parent, before if parent is not None else None)
    _check_readable(ctx, encoded, manifest, draft.id, parent, before)
    _put_manifest(store, encoded)
    counts = {
        **diff(before, after).stored_counts(before, after),
        **_merged_counts(ctx, draft.parents, manifest),
    }
    inherited = {e.chunk for e in before.values() if not e.is_link}
    return _Written(encoded, len(manifest), manifest.total_size, counts, manifest, inherited)


def _write_first(ctx: Context, store: Store, draft: Draft) -> _Written:
    """Store the manifest of a draft with no parents, paged, streaming its files from
    the draft in path order: memory holds one page and the encoded pages, never an
    entry per file (a first version of a million files)."""
    check = SortedClashCheck()
    chunks: set[str] = set()
    # the entries are kept for the content index while they are few (a second read of
    # the draft otherwise); past _KEPT_ENTRIES they are read again from the draft
    kept: list[FileEntry] | None = []

    def checked() -> Iterator[FileEntry]:
        nonlocal kept
        for e in draft.files.entries():
            _refuse_clash(draft, check.see(e.path))
            if not e.is_link:
                chunks.add(e.chunk)
            if kept is not None:
                kept.append(e)
                if len(kept) > _KEPT_ENTRIES:
                    kept = None
            yield e

    try:
        encoded, count, size = encode_sorted(checked(), remembering(ctx.stat_cache))
    except InvalidInputError:
        raise  # (a clash)
    except GitDataError as exc:
        raise _unreadable(draft.id, exc) from None

    def reads_right(decoded: Manifest) -> bool:
        return (
            isinstance(decoded, PagedManifest)
            and decoded.page_refs == list(encoded.pages)
            and len(decoded) == count
            and decoded.total_size == size
        )

    _read_back(ctx, draft.id, encoded, reads_right)
    _check_chunks(store, draft, chunks)
    _put_manifest(store, encoded)
    counts = {"added": count, "modified": 0, "removed": 0}
    fresh = kept if kept is not None else draft.files.entries()
    return _Written(encoded, count, size, counts, fresh, set())


_KEPT_ENTRIES = 100_000


def _write_child(
    ctx: Context, store: Store, draft: Draft, parent: PagedManifest
) -> _Written | None:
    """Store the manifest of a child of one paged parent from its changes alone: a
    delta and a root that keeps the parent's pages, never reading every page (the
    parent's pages and chunks were checked when it closed); past the delta's bound, a
    root of the parent's pages with the changed ones written again.  None when the
    child must be written whole (it is too small to be paged)."""
    files = draft.files
    base = parent  # what the draft's files are laid over (the same manifest)
    # each touched path looked up once, in page order (a lookup decodes its page)
    gone = files.removed
    touched = sorted({*files.changed, *gone}, key=str.encode)
    old = lookup_entries(base, touched, ctx.stat_cache)
    upserts: dict[str, FileEntry] = {}
    for path, f in files.changed.items():
        if not f.same_as(old.get(path)):
            upserts[path] = f.to_entry(path)
    removed = [p for p in touched if p in gone and p in old]
    old = {p: e for p, e in old.items() if p in upserts or p in gone}
    count = len(base) + sum(1 for p in upserts if p not in old) - len(removed)
    size = (
        base.total_size + sum(e.size for e in upserts.values()) - sum(e.size for e in old.values())
    )
    if not is_paged_size(count):
        return None
    _refuse_clash(draft, _clash_of_new(files, parent, [p for p in upserts if p not in old]))
    _check_chunks(store, draft, {e.chunk for e in upserts.values() if not e.is_link})
    delta = combined_delta(parent, upserts, removed)
    if delta is not None:
        encoded = encode_child(parent, upserts, removed, count, size)
        assert encoded is not None  # within the bound, as combined_delta found
    else:  # past the bound: paged afresh, the untouched pages kept as they are
        encoded = encode_compacted(
            parent, upserts, removed, count, size, remembering(ctx.stat_cache)
        )
        delta = Delta({}, frozenset())

    _read_back(
        ctx, draft.id, encoded, lambda decoded: reads_as_delta(decoded, encoded, delta, count, size)
    )
    _put_manifest(store, encoded)
    # every path the child touched is upserted or removed: the change set of these
    # few paths is the whole one
    counts = diff(old, upserts).stored_counts(old, upserts)
    return _Written(encoded, count, size, counts, upserts.values(), set())


def _clash_of_new(
    files: DraftFiles, parent: PagedManifest, new: list[str]
) -> tuple[str, str] | None:
    """A file/folder clash a child's new paths make (none of its other paths can):
    a new path under a file, or a new file where the child holds a folder."""
    if not new:
        return None
    folders: set[str] = set()
    for p in files.changed:
        i = p.find("/")
        while i != -1:
            folders.add(p[:i])
            i = p.find("/", i + 1)
    gone = files.removed
    for p in sorted(new, key=str.encode):
        i = p.find("/")
        while i != -1:
            if p[:i] in files:
                return p[:i], p
            i = p.find("/", i + 1)
        if p in folders:
            under = next(q for q in sorted(files.changed) if q.startswith(p + "/"))
            return p, under
        if parent.has_under(p + "/", gone):
            return p, f"{p}/..."
    return None


def _dataset_records(ctx: Context, draft: Draft) -> list[RecordHeader]:
    """The records of the draft's dataset in its store, as listed right now (the
    draft's own record, once written, is never read back here)."""
    store_ctx = _store_context(ctx, draft.storage)
    # unreadable records are skipped without a word: listings report those
    return dataset_headers(store_ctx, draft.project, draft.name, exclude={draft.id}, quiet=True)


def _free_version(ctx: Context, draft: Draft) -> str:
    """The version the draft closes as (docs/format.md §12, *Latest and auto-bump*).

    Its own, unless another record of the dataset holds it by now (closed on
    another machine after this draft was opened): a number gd picked moves to the
    next free one (with a :class:`VersionRenumberedWarning`); one the user gave is
    refused with :class:`ConflictError`.
    """
    records = _dataset_records(ctx, draft)
    holder = next((r for r in records if r.version == draft.version), None)
    if holder is None:
        return draft.version
    where = f"{draft.project}/{draft.name}"
    if not draft.auto_version:
        raise ConflictError(
            f"version {draft.version} of {where} was closed meanwhile as {holder.id} "
            "(on another machine or by another draft); nothing was written",
            dataset_id=draft.id,
            hint="open the draft again with another --version (gd create ... --version X), "
            "or without --version to take the next free number",
        )
    drafts_here = [
        h.version
        for h in ctx.state.list_draft_headers()
        if h.project == draft.project and h.name == draft.name and h.id != draft.id
    ]
    version = next_version([r.version for r in records] + drafts_here)
    warnings.warn(
        f"version {draft.version} of {where} was closed meanwhile as {holder.id}; "
        f"{draft.id} is closed as {version}",
        VersionRenumberedWarning,
        stacklevel=2,
    )
    return version


def _warn_duplicates(ctx: Context, draft: Draft, record: VersionRecord) -> None:
    """After the record: another close at the same instant may have taken the number."""
    others = [r.id for r in _dataset_records(ctx, draft) if r.version == record.version]
    if others:
        warnings.warn(
            f"version {record.version} of {record.project}/{record.name} is also held by "
            f"{', '.join(others)}, closed at the same time elsewhere; select by --id "
            "(gd get --version refuses the number until one is deleted)",
            DuplicateVersionWarning,
            stacklevel=2,
        )


def squash(
    ctx: Context,
    *,
    name: str,
    version_ids: list[str],
    project: str | None = None,
    progress: Progress = NULL_PROGRESS,
) -> tuple[VersionRecord, list[Conflict]]:
    """One new version with no parents holding the merged content of ``version_ids``.

    The versions merge as parents do (docs/format.md §7), so the squash of a
    chain is the chain's last state; a conflict keeps the later version's file
    and is returned.  No data moves: the new manifest references the chunks
    the versions already store (ClearML re-uploads everything).  ``progress``:
    "merging N versions' manifests", then "writing the squashed version" (no total).
    """
    if len(version_ids) < 2:
        raise InvalidInputError("squash needs at least two versions")
    if len(set(version_ids)) != len(version_ids):
        raise InvalidInputError("a version is listed twice")
    records = [load_record(ctx, vid) for vid in version_ids]
    project = project or records[0].project
    validate_names(project, name)
    start_counting(progress, f"merging {len(records)} versions' manifests", None)
    try:
        merge = ctx.parent_merge([r.id for r in records])
    finally:
        progress.finish()
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
        files=DraftFiles.of({p: DraftFile.from_entry(e) for p, e in merge.files.items()}),
    )
    draft.metadata["squashed_from"] = list(version_ids)
    ctx.state.save_draft(draft)
    start_counting(progress, "writing the squashed version", None)
    try:
        record = finalize(ctx, draft.id)
    except BaseException:
        ctx.state.delete_draft(draft.id)  # a failed squash leaves nothing behind
        raise
    finally:
        progress.finish()
    return record, merge.conflicts
