"""Getting versions onto disk: the cached read-only copy, linked trees, writable copies.

Every byte fetched from the store is hash-checked before it enters the
cache.  Trees are built under a temporary name and renamed into place, so an
interrupted get never leaves a half-written file or tree under a final name.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from gitdata.cache.fsutil import clone_into, remove_tree, write_all
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.paths import check_path_room, is_normal_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.core.selection import Selection, select
from gitdata.errors import (
    IntegrityError,
    InvalidInputError,
    local_disk_error,
    os_errors_name,
)
from gitdata.ops import scratch
from gitdata.ops.context import Context
from gitdata.ops.fetch import ChunkFiles, chunk_uses, fetch_members
from gitdata.ops.getplan import GetPlan, check_clash, picked_plan, whole_plan
from gitdata.ops.target import MarkerWriter, check_target

# Entries one step of a get handles at a time: what is held per file stays bounded
# by this, whatever the version's size.
BATCH_FILES = 8192


def select_entries(
    ctx: Context,
    manifest: Manifest,
    selection: Selection,
    *,
    version_id: str | None = None,
) -> list[FileEntry]:
    """The entries of ``manifest`` that ``selection`` picks (all of them when whole).

    ``only_added`` compares with the merged parents of ``version_id``'s record;
    patterns or ``only_added`` that leave nothing raise LocalPathNotFoundError.
    """
    if manifest.objects():
        check_clash(manifest, version_id)
    entries = list(manifest)
    if selection.whole:
        return entries

    def changed() -> set[str]:
        if version_id is None:
            raise InvalidInputError("only_added needs the version's id")
        before = ctx.parent_files(list(ctx.record(version_id).parents))
        return {
            e.path for e in entries if (old := before.get(e.path)) is None or old.sha256 != e.sha256
        }

    source = f"version {version_id}" if version_id else "the version"
    return select(entries, selection, changed=changed, source=source)


def _selection(selection: Selection | None, part: int | None, num_parts: int | None) -> Selection:
    """``selection`` with the shard arguments given beside it."""
    sel = selection or Selection()
    if part is None and num_parts is None:
        return sel
    return Selection.of(sel.patterns, only_added=sel.only_added, part=part, num_parts=num_parts)


def copy_key(version_id: str, selection: Selection | None = None) -> str:
    """Cache key of a version's (or a selection's) read-only copy."""
    return (selection or Selection()).copy_key(version_id)


def chunk_extents(manifest: Manifest) -> dict[str, int]:
    """chunk -> the end of its last member the manifest knows (a lower bound of its size)."""
    out: dict[str, int] = {}
    for e in manifest:
        if e.is_link:
            continue
        out[e.chunk] = max(out.get(e.chunk, 0), e.offset + e.length)
    return out


def plan_get(
    ctx: Context, manifest: Manifest, selection: Selection, *, version_id: str | None
) -> GetPlan:
    """What a get of ``selection`` writes (see ops/getplan.py): a whole version is
    streamed, a narrowed one keeps the entries it picked."""
    if selection.whole:
        return whole_plan(manifest, version_id)
    picked = select_entries(ctx, manifest, selection, version_id=version_id)
    return picked_plan(picked, chunk_extents(manifest))


def _distinct_missing(ctx: Context, entries: list[FileEntry]) -> list[FileEntry]:
    """One entry per content the cache cannot serve: absent, or changed since it was
    last known good (one stat per blob; a corrupt one is removed, to be fetched again)."""
    unusable = ctx.cache.check_blobs(e.sha256 for e in entries)
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.sha256 in unusable and e.sha256 not in seen:
            seen.add(e.sha256)
            out.append(e)
    return out


def ensure_blobs(
    ctx: Context,
    entries: list[FileEntry],
    *,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
    chunks: ChunkFiles | None = None,
) -> None:
    """Fetch every entry's content that the cache lacks, verified by sha256 (big
    members written to the cache piece by piece); ``progress`` advances by the
    bytes of ``entries`` the cache already held, and by what is fetched."""
    missing = _distinct_missing(ctx, entries)
    progress.advance(sum(e.size for e in entries) - sum(e.size for e in missing))
    cache = ctx.cache
    fetch_members(
        ctx,
        missing,
        lambda e, data: cache.put_blob_bytes(e.sha256, data, verified=True),  # decode_member did
        deliver_stream=lambda e, pieces: cache.put_blob_stream(e.sha256, pieces),
        max_workers=max_workers,
        progress=progress,
        chunks=chunks,
    )


def extract_into(
    ctx: Context,
    entries: list[FileEntry],
    staging: Path,
    *,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
    chunks: ChunkFiles | None = None,
) -> None:
    """Write entries into ``staging`` as writable files: cached content is copied
    from the cache (its blobs checked first), the rest goes straight from the
    store's chunks to the folder without filling the cache (one file write, not two)."""
    cache = ctx.cache
    present = cache.blobs_if_few(len(entries) // 4)
    cached = [
        e
        for e in entries
        if (present is None or e.sha256 in present) and cache.has_blob(e.sha256, e.size)
    ]
    bad = set(cache.copy_tree([(e.path, e.sha256) for e in cached], staging, staged=True))
    done = {e.path for e in cached} - bad
    todo = [e for e in entries if e.path not in done]
    progress.advance(sum(e.size for e in entries) - sum(e.size for e in todo))
    _write_members(ctx, todo, staging, 0o666, max_workers, progress, chunks)
    runnable = 0o777 & ~_umask()
    for e in entries:
        if e.executable:
            os.chmod(staging / e.path, runnable)  # as a write with mode 0777 would give


# O_EXCL: a name that already exists in the fresh staging folder (a symlink among
# them) is never written through
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class _Writer:
    """Writes fetched contents at their paths under a staging folder."""

    def __init__(self, staging: Path, entries: list[FileEntry], mode: int) -> None:
        self.staging = staging
        self._root = str(staging)
        self.mode = mode
        self.paths_by_sha: dict[str, list[str]] = defaultdict(list)
        for e in entries:
            self.paths_by_sha[e.sha256].append(e.path)
        self._made: set[str] = set()
        self._lock = threading.Lock()

    def _create(self, rel: str) -> int:
        if not is_normal_path(rel):
            raise IntegrityError(f"manifest path {rel!r} is not in normal form")
        folder = rel.rpartition("/")[0]
        if folder and folder not in self._made:
            with self._lock:
                os.makedirs(f"{self._root}/{folder}", exist_ok=True)
                self._made.add(folder)
        # a string path, not pathlib: this runs once per file of the version
        return os.open(f"{self._root}/{rel}", _CREATE_FLAGS, self.mode)

    def put(self, entry: FileEntry, data: bytes) -> None:
        """Write ``data`` at every path of its content."""
        for rel in self.paths_by_sha[entry.sha256]:
            fd = self._create(rel)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)

    def put_stream(self, entry: FileEntry, pieces: Iterator[bytes]) -> None:
        """Write a big content piece by piece at its first path (removed again if the
        pieces fail their check), then copy that file to its other paths."""
        first, *others = self.paths_by_sha[entry.sha256]
        fd = self._create(first)
        try:
            for piece in pieces:
                write_all(fd, piece)
        except BaseException:
            os.close(fd)
            os.unlink(self.staging / first)
            raise
        os.close(fd)
        for rel in others:
            fd = self._create(rel)
            try:
                with open(self.staging / first, "rb") as src:
                    clone_into(src.fileno(), fd)
            finally:
                os.close(fd)


def _write_members(
    ctx: Context,
    entries: list[FileEntry],
    staging: Path,
    mode: int,
    max_workers: int | None,
    progress: Progress,
    chunks: ChunkFiles | None = None,
) -> None:
    """Fetch each entry's content and write it at ``staging/<path>`` with ``mode``."""
    writer = _Writer(staging, entries, mode)
    distinct = {e.sha256: e for e in entries}
    fetch_members(
        ctx,
        list(distinct.values()),
        writer.put,
        deliver_stream=writer.put_stream,
        max_workers=max_workers,
        progress=progress,
        chunks=chunks,
    )


def cached_copy(
    ctx: Context,
    version_id: str,
    manifest: Manifest,
    *,
    part: int | None = None,
    num_parts: int | None = None,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
    selection: Selection | None = None,
) -> Path:
    """The read-only cached copy folder of a version (or of the files ``selection``
    picks: its own copy, see :meth:`Selection.copy_key`); built if absent."""
    cache = ctx.cache
    sel = _selection(selection, part, num_parts)
    entries = select_entries(ctx, manifest, sel, version_id=version_id)
    key = copy_key(version_id, sel)
    extents = chunk_extents(manifest)
    files = [(e.path, e.sha256) for e in entries]
    executables = frozenset(e.path for e in entries if e.executable)
    room = max(str(cache.copy_path(key)), str(cache.tmp_dir / "copy-12345678"), key=len)
    check_path_room(room, (p for p, _ in files), what="cache folder")
    with cache.shared_lock():
        if cache.has_copy(key):
            # a damaged copy is removed, and rebuilt below
            cache.check_copy(key, files, executables)
        if not cache.has_copy(key):
            by_sha = {e.sha256: e for e in entries}

            def fill(staging: Path, missing: list[tuple[str, str]]) -> None:
                wanted = [by_sha[sha]._replace(path=rel) for rel, sha in missing]
                chunks = ChunkFiles(ctx, chunk_uses(wanted, extents))
                progress.start("downloading", sum(e.size for e in wanted))
                try:
                    _write_members(ctx, wanted, staging, 0o444, max_workers, progress, chunks)
                finally:
                    chunks.close()
                    progress.finish()

            cache.publish_copy(key, files, fill, executables)
        cache.touch((e.sha256 for e in entries), key)
        path = cache.copy_path(key)
    _auto_prune(ctx, sum(e.size for e in entries))
    return path


def _auto_prune(ctx: Context, protect_bytes: int) -> None:
    limit = ctx.settings.cache_size_limit
    if limit is None:
        return
    # Never evict what was just materialised: allow at least its own size.
    if ctx.cache.may_exceed(max(limit, protect_bytes)):
        ctx.cache.prune(max(limit, protect_bytes))


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames (old content removed last).

    The old tree is locked while it is renamed aside and removed, so a get killed
    meanwhile leaves a ``.T.gd-old-<pid>`` that the next get can tell is nobody's.
    """
    if not target.exists():
        os.rename(staging, target)
        return
    old = target.with_name(f".{target.name}{scratch.OLD_TAG}{os.getpid()}")
    with scratch.holding(target):
        os.rename(target, old)
        os.rename(staging, target)
        remove_tree(old)


def _umask() -> int:
    """This process's umask, read without changing it where the OS allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_staging(target: Path) -> tuple[Path, scratch.DirLock]:
    """The folder beside ``target`` a get fills before swapping it in (locked by this
    process, see ops/scratch.py); made with the mode a ``mkdir`` would give
    (mkdtemp's 0700 would become the target's mode)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch.sweep(target.parent)  # what killed gets left beside their targets here
        staging, lock = scratch.make_staging(target)
    except OSError as exc:
        raise local_disk_error(exc, "the get target", target) from None
    os.chmod(staging, 0o777 & ~_umask())
    return staging, lock


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
    version_id: str | None = None,
    selection: Selection | None = None,
) -> Path:
    """Put the version (or the files ``selection`` picks, or a shard) into ``target``:
    ``mode`` 'link' (read-only) or 'copy'.

    An existing non-empty ``target`` is replaced only with ``overwrite`` and only
    if it is a tree gitdata made that holds nothing else (see ops/target.py);
    the new tree gets a marker (``ops.target.MARKER_NAME``) listing its files
    and the selection.  A selection that matches nothing raises before anything
    is written.  The files are fetched and written :data:`BATCH_FILES` at a time
    (ops/getplan.py), so memory does not grow with the version's size.
    """
    if mode not in ("link", "copy"):
        raise InvalidInputError(f"unknown mode {mode!r}")
    target = Path(os.path.abspath(target))
    check_target(target, overwrite=overwrite)
    sel = _selection(selection, part, num_parts)
    plan = plan_get(ctx, manifest, sel, version_id=version_id)
    # the tree is built under a longer sibling name (pid and mkdtemp's 8 characters)
    longest = f".{target.name}{scratch.STAGING_TAG}{os.getpid()}-12345678"
    check_path_room(str(target.parent / longest), [plan.longest])
    staging, staging_lock = _make_staging(target)
    marker = MarkerWriter(version_id=version_id, mode=mode, selection=sel)
    try:
        with os_errors_name(staging), ctx.cache.shared_lock():
            _fill(ctx, plan, staging, mode, marker, max_workers, progress)
        marker.write(staging)
        # the download may have taken long: look again right before swapping
        check_target(target, overwrite=overwrite)
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        _swap_in(staging, target)
    except BaseException:
        if staging.exists():
            if mode == "copy":
                # keep what was downloaded and verified, so a retry fetches only the rest
                with ctx.cache.shared_lock(), contextlib.suppress(Exception):
                    for batch in plan.batches(BATCH_FILES):
                        ctx.cache.salvage(staging, [(e.path, e.sha256) for e in batch])
            remove_tree(staging)
        raise
    finally:
        marker.close()
        staging_lock.release()
    scratch.sweep(target.parent)  # an old tree a kill kept while the target was missing
    _auto_prune(ctx, plan.size)
    return target


def _fill(
    ctx: Context,
    plan: GetPlan,
    staging: Path,
    mode: str,
    marker: MarkerWriter,
    max_workers: int | None,
    progress: Progress,
) -> None:
    """Write the plan's files into ``staging`` batch by batch, noting them in ``marker``."""
    cache = ctx.cache
    chunks = ChunkFiles(ctx, plan.uses)
    progress.start("downloading", plan.size)
    try:
        for batch in plan.batches(BATCH_FILES):
            if mode == "link":
                ensure_blobs(ctx, batch, max_workers=max_workers, progress=progress, chunks=chunks)
                files = [(e.path, e.sha256) for e in batch]
                cache.link_tree(files, staging, frozenset(e.path for e in batch if e.executable))
                cache.touch(sha for _, sha in files)
            else:
                extract_into(
                    ctx, batch, staging, max_workers=max_workers, progress=progress, chunks=chunks
                )
            chunks.done(batch)
            marker.add(e.path for e in batch)
    finally:
        chunks.close()
        progress.finish()
