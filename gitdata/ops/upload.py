"""Packing a draft's new content into zip chunks and sending them to its store.

Content a parent (or the draft itself) already stores is referenced, never sent
again; so is content the store's content index (ops/contentindex.py) says any
other closed version holds, once the store confirms its chunk exists.  Progress
is saved in the draft after every chunk, so an interrupted upload resumes where
it stopped.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from gitdata.core.chunking import PendingFile, plan_chunks
from gitdata.core.contentindex import IndexEntry
from gitdata.core.manifest import METHOD_STORED, FileEntry
from gitdata.core.progress import NULL_PROGRESS, ByteShare, Progress
from gitdata.core.zipchunk import ChunkWriter
from gitdata.errors import (
    IntegrityError,
    InvalidInputError,
    LocalPathNotFoundError,
    LocalPathUnreadableError,
    SourceChangedError,
    os_errors_name,
)
from gitdata.ops.contentindex import confirmed_hits, covers
from gitdata.ops.context import Context
from gitdata.ops.draftdb import DbChanges
from gitdata.ops.drafts import editing
from gitdata.ops.scan import NotRegularError, hash_file, open_fd, read_expected
from gitdata.ops.spool import is_spool_name, remove_draft_spools, remove_spools, spool_path
from gitdata.ops.state import Draft, DraftFile
from gitdata.storage import Store, object_key, run_parallel
from gitdata.storage.fsstore import FsspecStore
from gitdata.storage.locks import store_lock
from gitdata.storage.transfer import track_scratch, untrack_scratch

_SMALL_FILE = 16 * 1024 * 1024
_BLOCK = 1024 * 1024


def _read_blocks(fh: BinaryIO, source: str, dataset_path: str) -> Iterator[bytes]:
    """The blocks of an open source file; a failed read names the file."""
    while True:
        try:
            block = fh.read(_BLOCK)
        except OSError as exc:
            raise _unreadable(source, dataset_path, exc) from None
        if not block:
            return
        yield block


def _open_pending(source: str, dataset_path: str) -> int:
    """A raw descriptor on a draft file's source (scan.open_fd); a source that is gone
    or no longer a regular file is refused as changed since it was added."""
    try:
        fd, _ = open_fd(source)
    except LocalPathNotFoundError:
        raise SourceChangedError(
            f"{source} was deleted after it was added (dataset path {dataset_path})",
            path=source,
            hint="add or sync the folder again",
        ) from None
    except NotRegularError as exc:
        raise SourceChangedError(
            f"{source} changed after it was added: it is now "
            f"{exc.fields['kind']}, not a regular file (dataset path {dataset_path})",
            path=source,
            hint="put the file back, or remove it from the draft (gd remove)",
        ) from None
    return fd


def _unreadable(source: str, dataset_path: str, exc: OSError) -> LocalPathUnreadableError:
    return LocalPathUnreadableError(
        f"cannot read {source} (dataset path {dataset_path}): {exc.strerror or type(exc).__name__}",
        path=source,
        hint="check the file and its disk, then upload again",
    )


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
        with os_errors_name(tmp), os.fdopen(fd, "w+b", buffering=_BLOCK) as out:
            writer = ChunkWriter(out, compression)
            for item in group:
                src = sources[item.sha256]
                assert src.source is not None
                source_fd = _open_pending(src.source, item.path)
                try:
                    if item.size <= _SMALL_FILE:
                        try:
                            data = read_expected(source_fd, item.size)
                        except OSError as exc:
                            raise _unreadable(src.source, item.path, exc) from None
                        info = writer.add_bytes(data, item.sha256)
                    else:
                        with open(source_fd, "rb", buffering=0, closefd=False) as fh:
                            info = writer.add(
                                _read_blocks(fh, src.source, item.path), item.sha256, item.size
                            )
                except IntegrityError:
                    raise SourceChangedError(
                        f"{src.source} changed after it was added (dataset path {item.path})",
                        path=src.source,
                        hint="add or sync the folder again, then upload",
                    ) from None
                finally:
                    os.close(source_fd)
                placed[item.sha256] = (info.offset, info.length, info.method)
            writer.close()
        # hashed as written, unless a large member's header was patched afterwards
        chunk_sha = writer.sha256 or hash_file(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        untrack_scratch(tmp)
        raise
    return Path(tmp), chunk_sha, placed


def _resolve_store(ctx: Context, draft: Draft, storage: str | None):
    if storage and storage != draft.storage:
        if draft.parents or draft.files.changed.any_stored():
            raise InvalidInputError(
                f"this draft stores into {draft.storage}; it cannot switch to {storage}",
                hint="a version lives in the same store as its parents",
            )
        draft.storage = storage
    return ctx.store_for_writing(draft.storage)


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

    Content already stored by a parent (or earlier in this draft), or by any
    closed version the store's content index names, is referenced, never
    re-uploaded.  Progress is saved after every chunk, so
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
    with editing(ctx, draft_id) as draft, contextlib.ExitStack() as held:
        store = _resolve_store(ctx, draft, storage)
        # gc must not judge chunks unreachable while they are on their way
        # (docs/format.md §11); inside close this reuses close's lock.
        held.enter_context(
            store_lock(
                store, exclusive=False, operation="upload", stale_after=ctx.settings.lock_stale
            )
        )
        _forget_lost_chunks(draft, store)
        own = draft.files.changed  # only the draft's own files can be unstored
        # A batch of pending files at a time (in path order), so memory holds one
        # batch however many files wait: content an earlier batch stored is found
        # among the draft's own stored files by the next.
        batch = list(islice(own.pending(), _UPLOAD_BATCH))
        whole = len(batch) < _UPLOAD_BATCH
        parents_covered: bool | None = None
        staged = False
        sizes: list[int] = []
        started = False
        while batch:
            waiting = {f.sha256 for _, f in batch}
            # Content this draft or any parent stores (even at a path a later parent
            # replaced) is reused; the parents are read only for the content still waiting.
            known: dict[str, FileEntry | DraftFile] = dict(own.stored_with(waiting))
            # (when the store's content index holds all of the parents' content, it
            # answers instead, below: a paged parent is then never read whole)
            if waiting.difference(known) and draft.parents:
                if parents_covered is None:
                    parents_covered = covers(ctx, store, draft.parents)
                if not parents_covered:
                    for pid in draft.parents:
                        found = ctx.manifest(ctx.record(pid).manifest).find_content(waiting)
                        for sha, e in found.items():
                            known.setdefault(sha, e)
            pending: list[PendingFile] = []
            sources: dict[str, DraftFile] = {}
            for path, f in batch:
                hit = known.get(f.sha256)
                if hit is not None:
                    _store_as(draft, path, f, hit)
                    continue
                pending.append(PendingFile(path, f.sha256, f.size))
                sources.setdefault(f.sha256, f)
            del known, waiting
            mine = dict(batch)
            pending = _reuse_indexed(ctx, store, draft, pending, mine)
            spooled = _spooled_ready(store, draft, pending, compression, target)
            groups = plan_chunks([p for p in pending if p.sha256 not in spooled.covered], target)
            if groups and not staged:
                # multipart uploads a killed gd left behind a day ago are abandoned
                store.abort_stale_uploads(STALE_UPLOAD_SECONDS)
                staged = True
            if not started:
                total = sum(p.size for g in groups for p in g) if whole else None
                if total is not None:
                    total += sum(p.size for p in pending if p.sha256 in spooled.covered)
                progress.start("uploading", total)
                started = True
            by_sha: dict[str, list[str]] = {}
            for p in pending:
                by_sha.setdefault(p.sha256, []).append(p.path)
            del batch
            sizes += _publish_spooled(ctx, store, draft, spooled, progress)
            sizes += _ship_all(
                ctx, draft, store, groups, sources, mine, by_sha, compression, progress, max_workers
            )
            del pending, sources, mine, by_sha
            if whole:
                break
            ctx.state.save_draft(draft)  # resume point
            batch = list(islice(own.pending(), _UPLOAD_BATCH))
        if not started:
            progress.start("uploading", 0)
        # spool chunks not published whole (their contents went from the sources), and
        # any a killed add of this draft left
        if isinstance(own, DbChanges):
            folder = store.staging_dir()
            remove_spools(folder, own, own.spool_chunks())
            if folder is not None:
                remove_draft_spools(folder, draft.id)
        progress.finish()
        return sum(sizes)


@dataclass
class _Spooled:
    """The spool chunks (ops/spool.py) a batch publishes whole: name -> (path, the
    chunk's sha256, its size, the bytes of the contents it holds), and every
    content they cover."""

    ready: dict[str, tuple[Path, str, int, int]] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)


def _spooled_ready(
    store: FsspecStore, draft: Draft, pending: list[PendingFile], compression: str, target: int
) -> _Spooled:
    """The spool chunks that hold only contents of ``pending``, and all of them, in
    ``compression`` and cut at ``target`` bytes (an upload asked for another chunk
    size packs from the sources), whose files are there with the size and sha256
    recorded."""
    out = _Spooled()
    changes = draft.files.changed
    folder = store.staging_dir()
    if folder is None or not isinstance(changes, DbChanges) or not pending:
        return out
    where = changes.spooled_in({p.sha256 for p in pending})
    if not where:
        return out
    recorded = changes.spool_chunks()
    held: dict[str, set[str]] = {}
    for sha, (name, *_) in where.items():
        held.setdefault(name, set()).add(sha)
    content_size = {p.sha256: p.size for p in pending}
    for name, shas in held.items():
        info = recorded.get(name)
        if info is None or not is_spool_name(name):
            continue
        chunk_sha, size, members, method, cut_at = info
        if members != len(shas) or method != compression or cut_at != target:
            continue  # a content it holds is wanted no more, or stored another way
        path = spool_path(folder, name)
        try:
            st = os.lstat(path)
            if (
                not stat.S_ISREG(st.st_mode)
                or st.st_size != size
                or hash_file(str(path)) != chunk_sha
            ):
                continue
        except OSError:
            continue  # gone (a day-old leftover removed, another store): from the sources
        out.ready[name] = (path, chunk_sha, size, sum(content_size[sha] for sha in shas))
        out.covered |= shas
    return out


def _publish_spooled(
    ctx: Context, store: FsspecStore, draft: Draft, spooled: _Spooled, progress: Progress
) -> list[int]:
    """Publish each ready spool chunk by rename and record, in the draft's database,
    that the files of its contents are stored there; the sizes published."""
    changes = draft.files.changed
    sizes = []
    for name, (path, chunk_sha, size, content_bytes) in spooled.ready.items():
        assert isinstance(changes, DbChanges)
        if not store.put_file(object_key(chunk_sha), path, move=True):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # the same bytes are stored already
        changes.store_spooled(name, chunk_sha)
        ctx.state.save_draft(draft)  # resume point
        progress.advance(content_bytes)
        sizes.append(size)
    return sizes


_UPLOAD_BATCH = 100_000


def _ship_all(
    ctx: Context,
    draft: Draft,
    store: FsspecStore,
    groups: list[list[PendingFile]],
    sources: dict[str, DraftFile],
    mine: dict[str, DraftFile],
    by_sha: dict[str, list[str]],
    compression: str,
    progress: Progress,
    max_workers: int | None,
) -> list[int]:
    """Pack and send ``groups`` as chunks, recording each one in the draft's files
    (``by_sha``: content -> the paths of ``mine`` holding it); the sizes sent."""
    lock = threading.Lock()
    # Local stores: pack straight into the store's tmp/ and publish by rename.
    staging = store.staging_dir() or ctx.settings.cache_dir / "tmp"

    # Packing and hashing are CPU work, sending is I/O: at most one chunk is
    # packed per core, so the first chunks are on the wire while later ones
    # are still packed instead of every worker packing at once, then sending.
    packing = threading.BoundedSemaphore(os.cpu_count() or 1)
    shipped: list[str] = []

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
                for path in by_sha[sha]:
                    f = mine[path]
                    f.chunk, f.offset, f.length, f.method = chunk_sha, offset, length, method
                    draft.files[path] = f
            shipped.append(chunk_sha)
            if len(shipped) < len(groups):  # the last one is saved by the caller
                ctx.state.save_draft(draft)  # resume point
        sent.complete()
        return size

    return run_parallel(ship, groups, max_workers)


def _reuse_indexed(
    ctx: Context,
    store: Store,
    draft: Draft,
    pending: list[PendingFile],
    mine: dict[str, DraftFile],
) -> list[PendingFile]:
    """Reference the pending content any closed version of the store already holds
    (the store's content index, its chunks confirmed present); the rest stays pending.
    ``mine``: the pending files' draft files, by path."""
    if not pending:
        return pending
    hits = confirmed_hits(ctx, store, {p.sha256: p.size for p in pending})
    rest = []
    for p in pending:
        hit = hits.get(p.sha256)
        if hit is None:
            rest.append(p)
            continue
        _store_as(draft, p.path, mine[p.path], hit)
    return rest


def _store_as(
    draft: Draft, path: str, f: DraftFile, hit: FileEntry | DraftFile | IndexEntry
) -> None:
    """Record that ``f`` (the draft's file at ``path``) is stored where ``hit`` is."""
    f.chunk, f.offset, f.length, f.method = hit.chunk, hit.offset, hit.length, hit.method
    draft.files[path] = f  # (a copy, when read from a database: assigned back)


def _forget_lost_chunks(draft: Draft, store: Store) -> None:
    """Mark local content pending again when the chunk an earlier upload put it in is gone.

    A resumed upload trusts its saved progress only as far as the store confirms
    it: a bucket emptied or a backend that lost acknowledged writes (a crashed
    emulator) would otherwise leave the draft pointing at chunks nobody has.
    """
    files = draft.files.changed  # content this draft uploaded is its own
    own = files.own_chunks()
    if not own:
        return
    present = store.exists_many({object_key(c) for c in own})
    lost = {c for c in own if object_key(c) not in present}
    if not lost:
        return
    for path, f in files.items():
        if f.chunk in lost and f.source is not None:
            f.chunk = f.offset = f.length = None
            f.method = METHOD_STORED
            draft.files[path] = f
