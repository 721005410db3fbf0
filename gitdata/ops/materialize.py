"""Getting versions onto disk: the cached read-only copy, linked trees, writable copies.

Every byte fetched from the store is hash-checked before it enters the
cache.  Trees are built under a temporary name and renamed into place, so an
interrupted get never leaves a half-written file or tree under a final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path

from gitdata.cache.fsutil import remove_tree, write_all
from gitdata.core.manifest import FileEntry, Manifest, file_folder_clash
from gitdata.core.paths import brief_path, check_path_room, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, ByteShare, Progress
from gitdata.core.selection import Selection, select
from gitdata.core.zipchunk import check_member_extent, decode_member
from gitdata.errors import (
    FormatError,
    IntegrityError,
    InvalidInputError,
    ObjectNotFoundError,
    local_disk_error,
    os_errors_name,
)
from gitdata.ops import scratch
from gitdata.ops.context import Context
from gitdata.ops.links import read_link
from gitdata.ops.target import check_target, write_marker
from gitdata.storage import object_key, run_parallel
from gitdata.storage.transfer import track_scratch, untrack_scratch

# Fetch a whole chunk only when more than this many of its members are needed
# (and little else is in it: see _read_whole); otherwise ranged reads of just
# those members are cheaper.
_WHOLE_CHUNK_MEMBERS = 8
# What one more request costs, in bytes a download could carry meanwhile (a round
# trip of tens of milliseconds at tens of MB/s).
_REQUEST_BYTES = 1 << 20


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
    entries = list(manifest)
    if manifest.objects():
        # a paged manifest is checked page by page; a file that is also the folder of
        # another path can only be seen across the whole list (docs/format.md §4b)
        clash = file_folder_clash(e.path for e in entries)
        if clash is not None:
            raise FormatError(
                f"manifest of {version_id or 'this version'}: {brief_path(clash[0])} is a "
                f"file and also the folder of {brief_path(clash[1])}"
            )
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


def _read_whole(members: list[FileEntry], extent: int) -> bool:
    """Whether to fetch a chunk whole rather than its wanted ``members`` by ranged reads.

    Many members are cheaper in one request, unless that request would bring
    much that is not wanted: a chunk is read whole only when more than
    :data:`_WHOLE_CHUNK_MEMBERS` members are wanted and the bytes between and
    around them (``extent`` is what is known of the chunk's size) cost less than
    the requests a ranged read of each would add (about :data:`_REQUEST_BYTES`
    each).  A partial get of a few files of a big chunk thus never downloads it.
    """
    if len(members) <= _WHOLE_CHUNK_MEMBERS:
        return False
    unwanted = max(extent, *(e.offset + e.length for e in members)) - sum(e.length for e in members)
    return unwanted <= (len(members) - 1) * _REQUEST_BYTES


def fetch_members(
    ctx: Context,
    wanted: list[FileEntry],
    deliver: Callable[[FileEntry, bytes], object],
    *,
    max_workers: int | None,
    progress: Progress,
    extents: Mapping[str, int] | None = None,
) -> None:
    """Read each wanted content from its chunk, verify it, and hand it to ``deliver``.

    ``deliver(entry, data)`` is called once per distinct content.  A chunk
    with many wanted members and little else is fetched whole; otherwise
    ranged reads fetch only those members (:func:`_read_whole`; ``extents``:
    what the manifest tells of each chunk's size, see :func:`chunk_extents`).
    """
    if not wanted:
        return
    by_chunk: dict[str, list[FileEntry]] = defaultdict(list)
    links: list[FileEntry] = []
    for e in wanted:
        if e.is_link:
            links.append(e)
        else:
            by_chunk[e.chunk].append(e)
    progress.start("downloading", sum(e.size for e in wanted))

    def fetch_link(e: FileEntry) -> None:
        deliver(e, read_link(e))  # from its own URL, checked against size and sha256
        progress.advance(e.size)

    run_parallel(fetch_link, links, max_workers)
    if not by_chunk:
        progress.finish()
        return
    store = ctx.store

    def fetch(chunk: str) -> None:
        members = sorted(by_chunk[chunk], key=lambda m: m.offset)
        key = object_key(chunk)
        where = f"{store.url}/{key}"
        try:
            if _read_whole(members, (extents or {}).get(chunk, 0)):
                _read_whole_chunk(ctx, key, members, deliver, progress)
                return
            chunk_size = store.size(key)  # one HEAD: a forged extent is never requested
            for e in members:
                check_member_extent(e.path, e.offset, e.length, chunk_size, where)
            for e in members:
                raw = store.get_range(key, e.offset, e.length)
                deliver(e, decode_member(raw, e.method, e.size, e.sha256, where))
                progress.advance(e.size)
        except ObjectNotFoundError:
            raise IntegrityError(
                f"chunk {key} is missing from store {store.url}",
                key=key,
                hint="the store is incomplete; re-upload the version from a machine that has it",
            ) from None

    run_parallel(fetch, sorted(by_chunk), max_workers)
    progress.finish()


def _read_whole_chunk(ctx: Context, key: str, members: list[FileEntry], deliver, progress) -> None:
    tmp_dir = ctx.settings.cache_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="get-", suffix=".zip")
    os.close(fd)
    track_scratch(tmp)
    where = f"{ctx.store.url}/{key}"
    try:
        # the bar moves as the chunk arrives, in units of the wanted content in it
        # (its size is estimated from the last wanted member: no extra request)
        extent = max(e.offset + e.length for e in members)
        received = ByteShare(progress, sum(e.size for e in members), extent)
        ctx.store.get_file(key, Path(tmp), progress=received)
        with open(tmp, "rb") as fh:
            chunk_size = os.fstat(fh.fileno()).st_size
            for e in members:
                check_member_extent(e.path, e.offset, e.length, chunk_size, where)
            for e in members:
                fh.seek(e.offset)
                raw = fh.read(e.length)
                if len(raw) != e.length:
                    raise IntegrityError(f"chunk {key} is truncated", key=key)
                deliver(e, decode_member(raw, e.method, e.size, e.sha256, where))
        received.complete()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        untrack_scratch(tmp)


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
    extents: Mapping[str, int] | None = None,
) -> None:
    """Fetch every entry's content that the cache lacks, verified by sha256
    (``extents``: see :func:`chunk_extents`)."""
    fetch_members(
        ctx,
        _distinct_missing(ctx, entries),
        lambda e, data: ctx.cache.put_blob_bytes(
            e.sha256, data, verified=True
        ),  # decode_member verified it
        max_workers=max_workers,
        progress=progress,
        extents=extents,
    )


def extract_into(
    ctx: Context,
    entries: list[FileEntry],
    staging: Path,
    *,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
    extents: Mapping[str, int] | None = None,
) -> None:
    """Write entries into ``staging`` as writable files: cached content is copied
    from the cache (hash-checked), the rest goes straight from the store's
    chunks to the folder without filling the cache (one file write, not two)."""
    cached = [e for e in entries if ctx.cache.has_blob(e.sha256, e.size)]
    bad = set(ctx.cache.copy_tree([(e.path, e.sha256) for e in cached], staging))
    done = {e.path for e in cached} - bad
    todo = [e for e in entries if e.path not in done]
    _write_members(ctx, todo, staging, 0o666, max_workers, progress, extents)
    runnable = 0o777 & ~_umask()
    for e in entries:
        if e.executable:
            os.chmod(staging / e.path, runnable)  # as a write with mode 0777 would give


def _write_members(
    ctx: Context,
    entries: list[FileEntry],
    staging: Path,
    mode: int,
    max_workers: int | None,
    progress: Progress,
    extents: Mapping[str, int] | None = None,
) -> None:
    """Fetch each entry's content and write it at ``staging/<path>`` with ``mode``."""
    paths_by_sha: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        paths_by_sha[e.sha256].append(e.path)
    made: set[str] = set()
    lock = threading.Lock()

    def deliver(entry: FileEntry, data: bytes) -> None:
        for rel in paths_by_sha[entry.sha256]:
            if normalize_dataset_path(rel) != rel:
                raise IntegrityError(f"manifest path {rel!r} is not in normal form")
            folder = rel.rpartition("/")[0]
            if folder and folder not in made:
                with lock:
                    os.makedirs(staging / folder, exist_ok=True)
                    made.add(folder)
            fd = os.open(staging / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)

    distinct = {e.sha256: e for e in entries}
    fetch_members(
        ctx,
        list(distinct.values()),
        deliver,
        max_workers=max_workers,
        progress=progress,
        extents=extents,
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
                _write_members(ctx, wanted, staging, 0o444, max_workers, progress, extents)

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
    if ctx.cache.usage().bytes > max(limit, protect_bytes):
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
    is written.
    """
    if mode not in ("link", "copy"):
        raise InvalidInputError(f"unknown mode {mode!r}")
    target = Path(os.path.abspath(target))
    check_target(target, overwrite=overwrite)
    sel = _selection(selection, part, num_parts)
    entries = select_entries(ctx, manifest, sel, version_id=version_id)
    extents = chunk_extents(manifest)
    files = [(e.path, e.sha256) for e in entries]
    # the tree is built under a longer sibling name (pid and mkdtemp's 8 characters)
    longest = f".{target.name}{scratch.STAGING_TAG}{os.getpid()}-12345678"
    check_path_room(str(target.parent / longest), (p for p, _ in files))
    staging, staging_lock = _make_staging(target)
    try:
        with os_errors_name(staging), ctx.cache.shared_lock():
            if mode == "link":
                ensure_blobs(
                    ctx, entries, max_workers=max_workers, progress=progress, extents=extents
                )
                ctx.cache.link_tree(
                    files, staging, frozenset(e.path for e in entries if e.executable)
                )
                ctx.cache.touch(sha for _, sha in files)
            else:
                extract_into(
                    ctx,
                    entries,
                    staging,
                    max_workers=max_workers,
                    progress=progress,
                    extents=extents,
                )
        write_marker(
            staging,
            (e.path for e in entries),
            version_id=version_id,
            mode=mode,
            selection=sel,
        )
        # the download may have taken long: look again right before swapping
        check_target(target, overwrite=overwrite)
        if target.exists() and not any(target.iterdir()):
            target.rmdir()
        _swap_in(staging, target)
    except BaseException:
        if staging.exists():
            if mode == "copy":
                # keep what was downloaded and verified, so a retry fetches only the rest
                with ctx.cache.shared_lock():
                    ctx.cache.salvage(staging, files)
            remove_tree(staging)
        raise
    finally:
        staging_lock.release()
    scratch.sweep(target.parent)  # an old tree a kill kept while the target was missing
    _auto_prune(ctx, sum(e.size for e in entries))
    return target
