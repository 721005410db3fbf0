"""Building versions: create a draft, add / remove / sync files, upload, close.

Write order on close (docs/format.md, "Write order"): chunks, then the
manifest object, then the version record.  The record's presence is the
commit point, so a crash at any step leaves only unreferenced objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitdata.core.chunking import PendingFile, plan_chunks
from gitdata.core.ids import new_version_id, next_version
from gitdata.core.lineage import diff
from gitdata.core.manifest import METHOD_STORED, FileEntry, Manifest
from gitdata.core.merge import Conflict
from gitdata.core.paths import join_dataset_path, match_pattern, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, ByteShare, Progress
from gitdata.core.record import VersionRecord, utc_now
from gitdata.core.zipchunk import ChunkWriter
from gitdata.errors import (
    DatasetStateError,
    IntegrityError,
    InvalidInputError,
    LocalPathNotFoundError,
    SourceChangedError,
)
from gitdata.gitio.pointer import pointer_relpath
from gitdata.ops.context import Context
from gitdata.ops.reader import (
    encode_record,
    list_records,
    load_manifest,
    load_record,
)
from gitdata.ops.scan import LocalFile, hash_file, hash_files, scan_folder
from gitdata.ops.state import Draft, DraftFile
from gitdata.storage import Store, object_key, run_parallel, version_key
from gitdata.storage.transfer import track_scratch, untrack_scratch

_SMALL_FILE = 16 * 1024 * 1024
_BLOCK = 1024 * 1024


@dataclass
class SyncResult:
    """Counts of what a sync changed in the draft."""

    removed: int
    added: int
    modified: int


def validate_names(project: str, name: str) -> None:
    """Project and name must be usable as pointer file paths."""
    if not project or not name:
        raise InvalidInputError("both --project and --name are required")
    pointer_relpath(project, name)


def create_draft(
    ctx: Context,
    *,
    project: str,
    name: str,
    version: str | None = None,
    parents: list[str] | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
    storage: str | None = None,
) -> Draft:
    """Open a new draft whose files start as the merged content of ``parents``."""
    validate_names(project, name)
    parents = list(parents or [])
    if len(set(parents)) != len(parents):
        raise InvalidInputError("a parent is listed twice")
    parent_records = []
    for pid in parents:
        if ctx.state.has_draft(pid):
            raise DatasetStateError(
                f"parent {pid} is still a draft", hint=f"close it first: gd close --id {pid}"
            )
        parent_records.append(load_record(ctx, pid))
    existing = existing_versions(ctx, project, name)
    if version is None:
        version = next_version(existing)
    elif version in existing:
        raise InvalidInputError(
            f"version {version} of {project}/{name} already exists",
            hint="omit --version to bump it automatically",
        )
    merged = ctx.parent_files([r.id for r in parent_records])
    draft = Draft(
        id=new_version_id(),
        project=project,
        name=name,
        version=version,
        parents=parents,
        tags=list(tags or []),
        description=description or "",
        created=utc_now(),
        storage=storage or ctx.settings.storage,
        files={p: DraftFile.from_entry(e) for p, e in merged.items()},
    )
    ctx.state.save_draft(draft)
    ctx.state.set_current(draft.id)
    return draft


def parent_files(ctx: Context, draft: Draft) -> dict[str, FileEntry]:
    """The merged files of the draft's parents (what change sets compare against)."""
    return ctx.parent_files(draft.parents)


def parent_conflicts(ctx: Context, parents: list[str]) -> list[Conflict]:
    """Paths the parents changed differently; their merged view took the later parent."""
    return ctx.parent_merge(parents).conflicts


@contextlib.contextmanager
def editing(ctx: Context, draft_id: str, *, save: bool = True) -> Iterator[Draft]:
    """Lock, load, yield, and save a draft (nothing is saved if the body raises)."""
    if not ctx.state.has_draft(draft_id):
        # Distinguish "closed" from "unknown" for the error message.
        load_record(ctx, draft_id)
        raise DatasetStateError(
            f"dataset {draft_id} is closed; closed versions are immutable",
            dataset_id=draft_id,
            hint=f"create a child version: gd create --parents {draft_id} ...",
        )
    with ctx.state.draft_lock(draft_id):
        draft = ctx.state.load_draft(draft_id)
        try:
            yield draft
        except BaseException:
            ctx.state.forget(draft_id)  # the in-memory copy may be half edited
            raise
        if save:
            ctx.state.save_draft(draft)


def _place(draft: Draft, path: str, size: int, sha: str, source: str, mtime_ns: int) -> str | None:
    """Put one local file into the draft; return 'added', 'modified' or None (unchanged)."""
    old = draft.files.get(path)
    if old is not None and old.sha256 == sha:
        if not old.stored:
            old.source, old.mtime_ns = source, mtime_ns
        return None
    draft.files[path] = DraftFile(size, sha, source, mtime_ns)
    return "added" if old is None else "modified"


def add_files(
    ctx: Context,
    draft_id: str,
    path: str | Path | Sequence[str | Path],
    *,
    wildcard: str | list[str] | None = None,
    dataset_path: str | None = None,
    recursive: bool = True,
    local_base_folder: str | Path | None = None,
    progress: Progress = NULL_PROGRESS,
) -> int:
    """Add one or more files or folders; returns how many dataset files were added or changed.

    Every source is scanned before the draft changes.  Two different local
    files that would land at the same dataset path (``images/a.png`` and
    ``labels/a.png`` both added at the root) are refused with
    :class:`InvalidInputError` and nothing is added.
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths:
        raise InvalidInputError("no files or folders to add")
    sources: list[tuple[str | Path, Path]] = []
    for given in paths:
        source = Path(given)
        if local_base_folder is not None and not source.is_absolute():
            source = Path(local_base_folder) / source
        if not source.exists():
            raise LocalPathNotFoundError(f"path does not exist: {given}", path=str(given))
        sources.append((given, source))
    folder = normalize_dataset_path(dataset_path or "", allow_empty=True)
    with editing(ctx, draft_id) as draft:
        # dataset path -> (local file, the source argument it was found under)
        planned: dict[str, tuple[LocalFile, str]] = {}
        clashes: dict[str, dict[str, str]] = {}
        for given, source in sources:
            for f in scan_folder(source, recursive=recursive, wildcard=wildcard):
                target = join_dataset_path(folder, f.rel)
                seen = planned.get(target)
                if seen is None:
                    planned[target] = (f, str(given))
                elif seen[0].abspath != f.abspath:
                    clash = clashes.setdefault(target, {seen[0].abspath: seen[1]})
                    clash.setdefault(f.abspath, str(given))
        if clashes:
            raise _collision_error(clashes)
        unique = list({f.abspath: f for f, _ in planned.values()}.values())
        hashes = hash_files(unique, ctx.stat_cache, progress)
        changed = 0
        for target, (f, _) in planned.items():
            if _place(draft, target, f.size, hashes[f.abspath], f.abspath, f.mtime_ns):
                changed += 1
        return changed


_SHOWN_CLASHES = 3


def _collision_error(clashes: dict[str, dict[str, str]]) -> InvalidInputError:
    """The error for dataset paths several local files of one add would land at."""
    paths = sorted(clashes, key=str.encode)
    shown = []
    for p in paths[:_SHOWN_CLASHES]:
        origins = ", ".join(f"{a} (from {g})" for a, g in clashes[p].items())
        shown.append(f"{p} <- {origins}")
    more = f"; and {len(paths) - _SHOWN_CLASHES} more" if len(paths) > _SHOWN_CLASHES else ""
    return InvalidInputError(
        f"{len(paths)} dataset path(s) would be taken by more than one local file, "
        f"nothing was added: {'; '.join(shown)}{more}",
        paths=paths[:_SHOWN_CLASHES],
        count=len(paths),
        hint="add each folder separately under its own --dataset-folder "
        "(gd add --files ./images --dataset-folder images)",
    )


def remove_files(ctx: Context, draft_id: str, pattern: str, *, recursive: bool = True) -> int:
    """Remove files matching ``pattern`` from the draft (nothing is downloaded)."""
    with editing(ctx, draft_id) as draft:
        doomed = [p for p in draft.files if match_pattern(p, pattern, recursive=recursive)]
        for p in doomed:
            del draft.files[p]
        return len(doomed)


def sync_folder(
    ctx: Context,
    draft_id: str,
    local_path: str | Path,
    *,
    dataset_path: str | None = None,
    progress: Progress = NULL_PROGRESS,
) -> SyncResult:
    """Make the draft's ``dataset_path`` subtree exactly the content of ``local_path``."""
    root = Path(local_path)
    if not root.is_dir():
        raise LocalPathNotFoundError(f"not a folder: {local_path}", path=str(local_path))
    folder = normalize_dataset_path(dataset_path or "", allow_empty=True)
    with editing(ctx, draft_id) as draft:
        found = scan_folder(root)
        hashes = hash_files(found, ctx.stat_cache, progress)
        wanted = {join_dataset_path(folder, f.rel) for f in found}
        removed = [
            p
            for p in draft.files
            if (not folder or p == folder or p.startswith(folder + "/")) and p not in wanted
        ]
        for p in removed:
            del draft.files[p]
        added = modified = 0
        for f in found:
            result = _place(
                draft,
                join_dataset_path(folder, f.rel),
                f.size,
                hashes[f.abspath],
                f.abspath,
                f.mtime_ns,
            )
            added += result == "added"
            modified += result == "modified"
        return SyncResult(len(removed), added, modified)


def _read_blocks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(_BLOCK), b"")


def _pack_chunk(
    tmp_dir: Path, group: list[PendingFile], sources: dict[str, DraftFile], compression: str
) -> tuple[Path, str, dict[str, tuple[int, int, str]]]:
    """Write one chunk to a temp file; return it, its sha256, and for each content
    sha256 -> (offset, length, method).

    The temp file is tracked as scratch until the caller has sent or removed it.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="chunk-", suffix=".zip")
    track_scratch(tmp)
    placed: dict[str, tuple[int, int, str]] = {}
    try:
        with os.fdopen(fd, "w+b") as out:
            writer = ChunkWriter(out, compression)
            for item in group:
                src = sources[item.sha256]
                assert src.source is not None
                try:
                    if item.size <= _SMALL_FILE:
                        with open(src.source, "rb") as fh:
                            info = writer.add_bytes(fh.read(), item.sha256)
                    else:
                        info = writer.add(_read_blocks(src.source), item.sha256, item.size)
                except FileNotFoundError:
                    raise SourceChangedError(
                        f"{src.source} was deleted after it was added (dataset path {item.path})",
                        path=src.source,
                        hint="add or sync the folder again",
                    ) from None
                except IntegrityError:
                    raise SourceChangedError(
                        f"{src.source} changed after it was added (dataset path {item.path})",
                        path=src.source,
                        hint="add or sync the folder again, then upload",
                    ) from None
                placed[item.sha256] = (info.offset, info.length, info.method)
            writer.close()
        chunk_sha = hash_file(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        untrack_scratch(tmp)
        raise
    return Path(tmp), chunk_sha, placed


def _resolve_store(ctx: Context, draft: Draft, storage: str | None):
    if storage and storage != draft.storage:
        if draft.parents or any(f.stored for f in draft.files.values()):
            raise InvalidInputError(
                f"this draft stores into {draft.storage}; it cannot switch to {storage}",
                hint="a version lives in the same store as its parents",
            )
        draft.storage = storage
    return ctx.store_for(draft.storage)


STALE_UPLOAD_SECONDS = 24 * 3600


def upload(
    ctx: Context,
    draft_id: str,
    *,
    storage: str | None = None,
    chunk_size: int | None = None,
    max_workers: int | None = None,
    compression: str | None = None,
    progress: Progress = NULL_PROGRESS,
) -> int:
    """Upload the draft's pending content as chunks; returns the bytes uploaded.

    Content already stored by a parent (or earlier in this draft) is
    referenced, never re-uploaded.  Progress is saved after every chunk, so
    an interrupted upload resumes where it stopped.
    """
    compression = compression or ctx.settings.compression
    if compression not in ("stored", "deflate"):
        raise InvalidInputError(
            f"unknown compression {compression!r}", hint="use stored or deflate"
        )
    target = chunk_size or ctx.settings.chunk_size
    if target <= 0:
        raise InvalidInputError("--chunk-size must be positive")
    with editing(ctx, draft_id) as draft:
        store = _resolve_store(ctx, draft, storage)
        _forget_lost_chunks(draft, store)
        # Content any parent stores (even at a path a later parent replaced) is reused.
        known: dict[str, FileEntry | DraftFile] = {}
        for pid in draft.parents:
            for e in load_manifest(ctx, load_record(ctx, pid).manifest):
                known.setdefault(e.sha256, e)
        for f in draft.files.values():
            if f.stored:
                known.setdefault(f.sha256, f)
        pending: list[PendingFile] = []
        sources: dict[str, DraftFile] = {}
        for path, f in draft.files.items():
            if f.stored:
                continue
            hit = known.get(f.sha256)
            if hit is not None:
                f.chunk, f.offset, f.length, f.method = (
                    hit.chunk,
                    hit.offset,
                    hit.length,
                    hit.method,
                )
                continue
            pending.append(PendingFile(path, f.sha256, f.size))
            sources.setdefault(f.sha256, f)
        groups = plan_chunks(pending, target)
        if groups:
            # multipart uploads a killed gd left behind a day ago are abandoned
            store.abort_stale_uploads(STALE_UPLOAD_SECONDS)
        progress.start("uploading", sum(p.size for g in groups for p in g))
        lock = threading.Lock()
        by_sha: dict[str, list[DraftFile]] = {}
        for f in draft.files.values():
            if not f.stored:
                by_sha.setdefault(f.sha256, []).append(f)

        # Local stores: pack straight into the store's tmp/ and publish by rename.
        staging = store.staging_dir() or ctx.settings.cache_dir / "tmp"

        # Packing and hashing are CPU work, sending is I/O: at most one chunk is
        # packed per core, so the first chunks are on the wire while later ones
        # are still packed instead of every worker packing at once, then sending.
        packing = threading.BoundedSemaphore(os.cpu_count() or 1)

        def ship(group: list[PendingFile]) -> int:
            with packing:
                tmp, chunk_sha, placed = _pack_chunk(staging, group, sources, compression)
            try:
                size = tmp.stat().st_size
                # the bar moves as bytes go out, in units of the content they carry
                sent = ByteShare(progress, sum(p.size for p in group), size)
                store.put_file(object_key(chunk_sha), tmp, move=True, progress=sent)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                untrack_scratch(str(tmp))
            with lock:
                for sha, (offset, length, method) in placed.items():
                    for f in by_sha[sha]:
                        f.chunk, f.offset, f.length, f.method = chunk_sha, offset, length, method
                ctx.state.save_draft(draft)  # resume point
            sent.complete()
            return size

        sizes = run_parallel(ship, groups, max_workers)
        progress.finish()
        return sum(sizes)


def _forget_lost_chunks(draft: Draft, store: Store) -> None:
    """Mark local content pending again when the chunk an earlier upload put it in is gone.

    A resumed upload trusts its saved progress only as far as the store confirms
    it: a bucket emptied or a backend that lost acknowledged writes (a crashed
    emulator) would otherwise leave the draft pointing at chunks nobody has.
    """
    own = {f.chunk for f in draft.files.values() if f.chunk is not None and f.source is not None}
    if not own:
        return
    present = store.exists_many({object_key(c) for c in own})
    lost = {c for c in own if object_key(c) not in present}
    for f in draft.files.values():
        if f.chunk in lost and f.source is not None:
            f.chunk = f.offset = f.length = None
            f.method = METHOD_STORED


def finalize(
    ctx: Context, draft_id: str, *, auto_upload: bool = False, **upload_args
) -> VersionRecord:
    """Close the draft: manifest, then record (the commit point).  Immutable afterwards."""
    if auto_upload:
        upload(ctx, draft_id, **upload_args)
    with editing(ctx, draft_id, save=False) as draft:
        pending = [p for p, f in draft.files.items() if not f.stored]
        if pending:
            raise DatasetStateError(
                f"{len(pending)} file(s) not uploaded yet (e.g. {pending[0]})",
                dataset_id=draft_id,
                hint="run gd upload first, or gd close which uploads",
            )
        store = ctx.store_for(draft.storage)
        entries = [f.to_entry(p) for p, f in draft.files.items()]
        manifest = Manifest(entries)
        chunk_keys = {object_key(c) for c in manifest.chunks()}
        missing = chunk_keys - store.exists_many(chunk_keys)
        if missing:
            own = {object_key(f.chunk) for f in draft.files.values() if f.source is not None}
            if missing <= own:
                raise IntegrityError(
                    f"{len(missing)} chunk(s) this version uploaded are missing from {store.url}",
                    hint="run gd upload again to re-send them",
                )
            raise IntegrityError(
                f"{len(missing - own)} chunk(s) this version inherits from its parents or "
                f"sources are missing from {store.url}",
                hint="the versions it builds on live in another store (give --storage) "
                "or lost data there (gd verify --id ID --remote)",
            )
        data = manifest.encode()
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
            stats={"files": len(manifest), "bytes": manifest.total_size, **changes.counts()},
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


def existing_versions(ctx: Context, project: str, name: str) -> list[str]:
    """Version strings already taken by ``project/name``: closed in the store or open here."""
    taken = [r.version for r in list_records(ctx) if r.project == project and r.name == name]
    taken += [
        d.version for d in ctx.state.list_draft_headers() if d.project == project and d.name == name
    ]
    return taken


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
        version=next_version(existing_versions(ctx, project, name)),
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


__all__ = [
    "SyncResult",
    "add_files",
    "create_draft",
    "finalize",
    "remove_files",
    "squash",
    "sync_folder",
    "upload",
]
