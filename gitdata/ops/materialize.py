"""Getting versions onto disk: the cached read-only copy, linked trees, writable copies.

Every byte fetched from the store is hash-checked before it enters the
cache.  Trees are built under a temporary name and renamed into place, so an
interrupted get never leaves a half-written file or tree under a final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.core.sharding import select_part
from gitdata.core.zipchunk import decode_member
from gitdata.errors import (
    IntegrityError,
    InvalidInputError,
    ObjectNotFoundError,
    TargetNotEmptyError,
)
from gitdata.ops.context import Context
from gitdata.storage import object_key, run_parallel

# Fetch a whole chunk when more than this many of its members are needed;
# otherwise ranged reads of just those members are cheaper.
_WHOLE_CHUNK_MEMBERS = 8


def select_entries(manifest: Manifest, part: int | None, num_parts: int | None) -> list[FileEntry]:
    """All entries, or those of one shard."""
    entries = list(manifest)
    if part is None and num_parts is None:
        return entries
    if part is None or num_parts is None:
        raise InvalidInputError("--part and --num-parts go together")
    return select_part(
        entries,
        part,
        num_parts,
        size_of=lambda e: e.size,
        chunk_of=lambda e: e.chunk,
        path_of=lambda e: e.path,
    )


def copy_key(version_id: str, part: int | None, num_parts: int | None) -> str:
    """Cache key of a version's (or shard's) read-only copy."""
    return version_id if part is None else f"{version_id}.part-{part}-of-{num_parts}"


def ensure_blobs(
    ctx: Context,
    entries: list[FileEntry],
    *,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> None:
    """Fetch every entry's content that the cache lacks, verified by sha256."""
    cache = ctx.cache
    missing: dict[str, FileEntry] = {}
    for e in entries:
        if e.sha256 not in missing and not cache.has_blob(e.sha256, e.size):
            missing[e.sha256] = e
    if not missing:
        return
    by_chunk: dict[str, list[FileEntry]] = defaultdict(list)
    for e in missing.values():
        by_chunk[e.chunk].append(e)
    progress.start("downloading", sum(e.size for e in missing.values()))
    store = ctx.store

    def fetch(chunk: str) -> None:
        members = by_chunk[chunk]
        key = object_key(chunk)
        try:
            if len(members) > _WHOLE_CHUNK_MEMBERS:
                _fetch_whole_chunk(ctx, key, members, progress)
            else:
                for e in members:
                    raw = store.get_range(key, e.offset, e.length)
                    data = decode_member(raw, e.method, e.size, e.sha256, f"{store.url}/{key}")
                    cache.put_blob_bytes(e.sha256, data)
                    progress.advance(e.size)
        except ObjectNotFoundError:
            raise IntegrityError(
                f"chunk {key} is missing from store {store.url}",
                key=key,
                hint="the store is incomplete; re-upload the version from a machine that has it",
            ) from None

    run_parallel(fetch, sorted(by_chunk), max_workers)
    progress.finish()


def _fetch_whole_chunk(
    ctx: Context, key: str, members: list[FileEntry], progress: Progress
) -> None:
    tmp_dir = ctx.settings.cache_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="get-", suffix=".zip")
    os.close(fd)
    try:
        ctx.store.get_file(key, Path(tmp))
        with open(tmp, "rb") as fh:
            for e in sorted(members, key=lambda m: m.offset):
                fh.seek(e.offset)
                raw = fh.read(e.length)
                if len(raw) != e.length:
                    raise IntegrityError(f"chunk {key} is truncated", key=key)
                data = decode_member(raw, e.method, e.size, e.sha256, f"{ctx.store.url}/{key}")
                ctx.cache.put_blob_bytes(e.sha256, data)
                progress.advance(e.size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def cached_copy(
    ctx: Context,
    version_id: str,
    manifest: Manifest,
    *,
    part: int | None = None,
    num_parts: int | None = None,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> Path:
    """The read-only cached copy folder of a version (or shard); built if absent."""
    cache = ctx.cache
    key = copy_key(version_id, part, num_parts)
    entries = select_entries(manifest, part, num_parts)
    with cache.shared_lock():
        if not cache.has_copy(key):
            ensure_blobs(ctx, entries, max_workers=max_workers, progress=progress)
            cache.publish_copy(key, [(e.path, e.sha256) for e in entries])
        cache.touch((e.sha256 for e in entries), key)
        path = cache.copy_path(key)
    _auto_prune(ctx, sum(e.size for e in entries))
    return path


def _auto_prune(ctx: Context, protect_bytes: int) -> None:
    limit = ctx.settings.cache_size_limit
    if limit is None:
        return
    # Never evict what was just materialised: allow at least its own size.
    if ctx.cache.usage().bytes > max(limit, protect_bytes):
        ctx.cache.prune(max(limit, protect_bytes))


def _prepare_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise TargetNotEmptyError(f"target {target} exists and is not a folder", path=str(target))
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise TargetNotEmptyError(
            f"target folder {target} is not empty",
            path=str(target),
            hint="pass --overwrite to replace it",
        )


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames (old content removed last)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.gd-old-{os.getpid()}")
        os.rename(target, old)
    os.rename(staging, target)
    if old is not None:
        _rmtree(old)


def _rmtree(path: Path) -> None:
    def onerror(func, p, _exc):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)


def materialize(
    ctx: Context,
    manifest: Manifest,
    target: Path,
    *,
    mode: str,
    overwrite: bool = False,
    part: int | None = None,
    num_parts: int | None = None,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> Path:
    """Put the version (or shard) into ``target``: ``mode`` 'link' (read-only) or 'copy'."""
    if mode not in ("link", "copy"):
        raise InvalidInputError(f"unknown mode {mode!r}")
    target = Path(target).absolute()
    _prepare_target(target, overwrite)
    entries = select_entries(manifest, part, num_parts)
    files = [(e.path, e.sha256) for e in entries]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.gd-tmp-"))
    try:
        with ctx.cache.shared_lock():
            ensure_blobs(ctx, entries, max_workers=max_workers, progress=progress)
            if mode == "link":
                ctx.cache.link_tree(files, staging)
            else:
                bad = ctx.cache.copy_tree(files, staging, progress=None)
                if bad:
                    # Corrupt cache blobs were dropped: fetch them again and retry once.
                    again = [e for e in entries if e.path in set(bad)]
                    ensure_blobs(ctx, again, max_workers=max_workers)
                    still = ctx.cache.copy_tree([(e.path, e.sha256) for e in again], staging)
                    if still:
                        raise IntegrityError(f"cache keeps returning corrupt data for {still[0]}")
            ctx.cache.touch(sha for _, sha in files)
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        _swap_in(staging, target)
    except BaseException:
        if staging.exists():
            _rmtree(staging)
        raise
    _auto_prune(ctx, sum(e.size for e in entries))
    return target
