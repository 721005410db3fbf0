"""Drafts: open one (its files start as the merged parents), add / remove / sync files.

A draft lives only on this machine (docs/format.md §10) and holds its
differences from the merged view of its parents.  Packing and uploading its
new content is gitdata.ops.upload; closing it is gitdata.ops.commit.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_mod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import attrgetter, is_, itemgetter, ne
from pathlib import Path
from typing import Any, NamedTuple, cast

from gitdata.cache import StatCache
from gitdata.cache.statcache import FileKey, FileStat
from gitdata.core.ids import new_version_id, next_version
from gitdata.core.manifest import FileEntry
from gitdata.core.merge import Conflict
from gitdata.core.pages import PagedManifest
from gitdata.core.paths import (
    SHORT_PATH_CHARS,
    join_dataset_path,
    limit_problem,
    match_pattern,
    normalize_dataset_path,
)
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.core.record import utc_now
from gitdata.errors import (
    DatasetStateError,
    InvalidInputError,
    LocalPathNotFoundError,
)
from gitdata.gitio.pointer import pointer_relpath
from gitdata.ops.basecolumns import EXECUTABLE, LINK, BaseCursor, Columns
from gitdata.ops.context import Context
from gitdata.ops.reader import (
    load_record,
)
from gitdata.ops.scan import (
    FolderRun,
    Hashed,
    LocalFile,
    hash_files,
    is_executable,
    iter_folder_runs,
    scan_folder,
)
from gitdata.ops.spool import spooling
from gitdata.ops.state import Draft, DraftFile, DraftFiles


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
    draft_id: str | None = None,
) -> Draft:
    """Open a new draft whose files start as the merged content of ``parents``.

    ``draft_id`` is the id to give it (one chosen earlier, e.g. to mark the draft
    before it exists); by default a new random one.
    """
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
    existing = ctx.taken_versions(project, name)
    auto_version = version is None
    if version is None:
        version = next_version(existing)
    elif version in existing:
        raise InvalidInputError(
            f"version {version} of {project}/{name} already exists",
            hint="omit --version to bump it automatically",
        )
    ids = [r.id for r in parent_records]
    draft = Draft(
        id=draft_id or new_version_id(),
        project=project,
        name=name,
        version=version,
        parents=parents,
        tags=list(tags or []),
        description=description or "",
        created=utc_now(),
        storage=storage or ctx.settings.storage,
        files=DraftFiles(lambda: ctx.parent_base(ids)) if ids else DraftFiles(),
        auto_version=auto_version,
    )
    ctx.state.save_draft(draft)
    try:
        ctx.state.set_current(draft.id)
    except BaseException:
        ctx.state.delete_draft(draft.id)  # a failed create leaves no draft
        raise
    return draft


def parent_files(ctx: Context, draft: Draft) -> dict[str, FileEntry]:
    """The merged files of the draft's parents (what change sets compare against)."""
    return ctx.parent_files(draft.parents)


def parent_conflicts(ctx: Context, parents: list[str]) -> list[Conflict]:
    """Paths the parents changed differently; their merged view took the later parent."""
    if len(parents) < 2:
        return []  # one parent's files are its own: nothing to merge
    return ctx.parent_merge(parents).conflicts


@contextlib.contextmanager
def editing(ctx: Context, draft_id: str, *, save: bool = True) -> Iterator[Draft]:
    """Lock, load, yield, and save a draft (nothing is saved if the body raises)."""
    if not ctx.state.has_draft(draft_id):
        raise _closed_error(ctx, draft_id)
    with ctx.state.draft_lock(draft_id):
        if not ctx.state.has_draft(draft_id):
            # Closed (or discarded) by the process this one waited for: the draft is
            # removed under this lock, so it is checked again once the lock is held.
            # The wait may have made a new lock file: remove it, leave nothing behind.
            ctx.state.delete_draft(draft_id)
            raise _closed_error(ctx, draft_id)
        draft = ctx.state.load_draft(draft_id)
        try:
            yield draft
        except BaseException:
            ctx.state.forget(draft_id)  # the in-memory copy may be half edited
            raise
        if save:
            ctx.state.save_draft(draft)


def _closed_error(ctx: Context, draft_id: str) -> DatasetStateError:
    """The error for editing a closed version (an unknown id raises DatasetNotFoundError)."""
    load_record(ctx, draft_id)  # distinguishes "closed" from "unknown"
    return DatasetStateError(
        f"dataset {draft_id} is closed; closed versions are immutable",
        dataset_id=draft_id,
        hint=f"create a child version: gd create --parents {draft_id} ...",
    )


_UNKNOWN = object()


def _place(
    draft: Draft,
    path: str,
    hashed: Hashed,
    source: str,
    old: DraftFile | FileEntry | None | object = _UNKNOWN,
) -> str | None:
    """Put one local file into the draft; return 'added', 'modified' or None (unchanged).

    Size, hash and mtime all come from the one read that hashed the file
    (gitdata.ops.scan), never the size of an earlier stat.  ``old``: what the draft
    holds at ``path`` (None: nothing), when the caller has it at hand.
    """
    if old is _UNKNOWN:
        old = draft.files.lookup(path)
    assert old is None or isinstance(old, (DraftFile, FileEntry))
    if old is not None and old.sha256 == hashed.sha256:
        moved = None  # content not uploaded yet, now read from this source
        if (  # (content not stored is always the draft's own)
            isinstance(old, DraftFile)
            and not old.stored
            and (old.source, old.mtime_ns) != (source, hashed.mtime_ns)
        ):
            old.source, old.mtime_ns = source, hashed.mtime_ns
            moved = old
        if old.executable == hashed.executable or old.url is not None:
            if moved is not None:
                draft.files[path] = moved  # (a copy, when read from a database)
            return None  # (an external file has no mode)
        mine = old if isinstance(old, DraftFile) else DraftFile.from_entry(old)
        mine.executable = hashed.executable  # a mode change alone: the content stays stored
        draft.files[path] = mine
        return "modified"
    draft.files[path] = DraftFile(
        hashed.size, hashed.sha256, source, hashed.mtime_ns, executable=hashed.executable
    )
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
    if len(sources) == 1:  # no two files of one walk can take one dataset path
        return _add_walked(ctx, draft_id, sources[0][1], folder, recursive, wildcard, progress)
    with editing(ctx, draft_id) as draft, spooling(ctx, draft) as spool:
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
        check_path_limits(planned)
        unique = list({f.abspath: f for f, _ in planned.values()}.values())
        hashes = hash_files(
            unique, ctx.stat_cache, progress, keep=spool.keep if spool is not None else None
        )
        changed = 0
        for target, (f, _) in planned.items():
            if _place(draft, target, hashes[f.abspath], f.abspath):
                changed += 1
        # freed before the draft is saved on leaving the block: the saving is the peak
        # of memory, and these hold every scanned file once more
        del planned, unique, hashes
        return changed


def _add_walked(
    ctx: Context,
    draft_id: str,
    source: Path,
    folder: str,
    recursive: bool,
    wildcard: str | list[str] | None,
    progress: Progress,
) -> int:
    """:func:`add_files` of one source: walked and hashed a batch at a time, so memory
    holds one batch besides the draft (a failure in any batch saves nothing).  A batch
    is whole pieces of the walk's runs, cut as :func:`sync_folder` cuts them, and each
    piece's hashes are remembered as a run of the stat cache: a later sync of the
    same folder finds each of its batches with one query."""
    with editing(ctx, draft_id) as draft, spooling(ctx, draft) as spool:
        keep = spool.keep if spool is not None else None
        changed = 0
        progress.start("hashing", None)
        pieces: list[tuple[FolderRun, list[str], list[os.stat_result]]] = []
        held_files = 0

        def flush() -> int:
            batch = [
                LocalFile(
                    run.prefix + name, run.base + name, st.st_size, st.st_mtime_ns, FileStat.of(st)
                )
                for run, names, stats in pieces
                for name, st in zip(names, stats, strict=True)
            ]
            targets = [join_dataset_path(folder, f.rel) for f in batch]
            check_path_limits(targets)
            hashes = hash_files(batch, ctx.stat_cache, progress, phase=False, keep=keep)
            held = draft.files.lookup_many(targets)
            placed = 0
            for target, f in zip(targets, batch, strict=True):
                if _place(draft, target, hashes[f.abspath], f.abspath, held.get(target)):
                    placed += 1
            runs = []
            for run, names, _ in pieces:
                got = [hashes[run.base + name] for name in names]  # (the stat of the bytes hashed)
                keys = [(h.ino, h.mtime_ns, h.size) for h in got]
                runs.append((run.base, names, keys, [h.sha256 for h in got]))
            ctx.stat_cache.store_runs(runs)
            return placed

        for run in iter_folder_runs(source, recursive=recursive, wildcard=wildcard):
            for at in range(0, len(run.names), _SYNC_BATCH):
                names = run.names[at : at + _SYNC_BATCH]
                if held_files + len(names) > _SYNC_BATCH:
                    changed += flush()
                    pieces, held_files = [], 0
                pieces.append((run, names, run.stats[at : at + _SYNC_BATCH]))
                held_files += len(names)
        if pieces:
            changed += flush()
        progress.finish()
        return changed


_SHOWN_CLASHES = 3


def check_path_limits(paths: Iterable[str]) -> None:
    """Refuse (UnsafePathError) a dataset path past a limit of docs/format.md section 6
    (a name over 255 bytes, a path over 4095 bytes or 256 folders deep) before the
    draft changes: no reader would accept the version."""
    for path in paths:
        if limit_problem(path) is not None:
            normalize_dataset_path(path)  # raises, naming the limit


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


_SYNC_BATCH = 4096


def sync_folder(
    ctx: Context,
    draft_id: str,
    local_path: str | Path,
    *,
    dataset_path: str | None = None,
    progress: Progress = NULL_PROGRESS,
) -> SyncResult:
    """Make the draft's ``dataset_path`` subtree exactly the content of ``local_path``.

    The folder is walked in path order and compared, a batch of files at a time,
    with the draft's paths in that order, so memory holds one batch and the draft's
    own changes, never the whole listing.  A batch of files the stat cache knows,
    that are the draft's base entries of their paths with those hashes and modes,
    is passed over whole (columns compared, nothing made per file): a sync of a
    million files that changes a few spends its time on the others' stat."""
    root = Path(local_path)
    if not root.is_dir():
        raise LocalPathNotFoundError(f"not a folder: {local_path}", path=str(local_path))
    folder = normalize_dataset_path(dataset_path or "", allow_empty=True)
    with editing(ctx, draft_id) as draft, spooling(ctx, draft) as spool:
        keep = spool.keep if spool is not None else None
        files = draft.files
        if files.has_base and files.pristine and isinstance(files.base, PagedManifest):
            return _sync_by_columns(ctx, draft, files.base, root, folder, progress, keep)
        existing = draft.files.items_under(folder)
        ahead: list[_Held] = []  # taken from ``existing`` and not met by the walk yet
        doomed: list[_Held] = []  # in the draft, no longer in the folder
        added = modified = 0
        stat_cache = ctx.stat_cache
        above = f"{folder}/" if folder else ""
        progress.start("hashing", None)
        for run in iter_folder_runs(root):
            for at in range(0, len(run.names), _SYNC_BATCH):
                names = run.names[at : at + _SYNC_BATCH]
                stats = run.stats[at : at + _SYNC_BATCH]
                targets = list(map((above + run.prefix).__add__, names))
                if max(map(len, targets)) > SHORT_PATH_CHARS:
                    check_path_limits(targets)
                shas = stat_cache.lookup_run(run.base, names, stats)
                n = len(targets)
                taken, ahead = ahead[:n], ahead[n:]
                taken += islice(existing, n - len(taken))
                if _all_unchanged(targets, shas, stats, taken):
                    continue
                piece = _Piece(run, names, stats, targets, shas)
                more, also, ahead = _sync_piece(
                    draft, piece, taken + ahead, existing, doomed, stat_cache, progress, keep
                )
                added += more
                modified += also
        doomed += ahead
        doomed += existing
        progress.finish()
        files = draft.files
        for p, held in doomed:
            files.remove(p, in_base=isinstance(held, FileEntry) or None)
        return SyncResult(len(doomed), added, modified)


def _sync_by_columns(
    ctx: Context,
    draft: Draft,
    base: PagedManifest,
    root: Path,
    folder: str,
    progress: Progress,
    keep: Callable[[str, bytes], object] | None = None,
) -> SyncResult:
    """:func:`sync_folder` of a draft that holds nothing of its own yet over a paged
    base: each batch of the walk is compared with the base's files up to its last
    path as columns (gitdata.ops.basecolumns), so an unchanged batch costs its stat
    and three list comparisons, and a page of unchanged runs is never decoded when
    its columns are remembered.  The draft's own files only grow behind the walk,
    so what lies ahead of it is the base's alone."""
    above = f"{folder}/" if folder else ""
    stat_cache = ctx.stat_cache
    cursor = BaseCursor(base, above, stat_cache)
    doomed: list[str] = []
    runs = _Runs(stat_cache)
    if folder and base.get(folder) is not None:
        doomed.append(folder)  # a file where the folder now is
    added = modified = 0
    progress.start("hashing", None)
    for run in iter_folder_runs(root):
        for at in range(0, len(run.names), _SYNC_BATCH):
            names = run.names[at : at + _SYNC_BATCH]
            stats = run.stats[at : at + _SYNC_BATCH]
            targets = list(map((above + run.prefix).__add__, names))
            if max(map(len, targets)) > SHORT_PATH_CHARS:
                check_path_limits(targets)
            shas = stat_cache.lookup_run(run.base, names, stats)
            held = cursor.take_upto(targets[-1])
            if held.paths == targets and held.shas == shas and _same_modes(held.flags, stats):
                continue
            piece = _Piece(run, names, stats, targets, shas)
            more, also = _sync_columns(
                draft, base, piece, held, doomed, stat_cache, progress, runs, keep
            )
            added += more
            modified += also
    runs.flush()
    doomed += cursor.rest()
    progress.finish()
    files = draft.files
    for p in doomed:
        files.remove(p, in_base=True)
    return SyncResult(len(doomed), added, modified)


_EXEC_BIT = bytes(b & EXECUTABLE for b in range(256))


def _same_modes(flags: bytes, stats: list[os.stat_result]) -> bool:
    """Whether the files' owner execute bits are those ``flags`` record."""
    local = any(mode & stat_mod.S_IXUSR for mode in set(map(_MODE, stats)))
    recorded = flags.translate(_EXEC_BIT)
    if not local:
        return EXECUTABLE not in recorded
    return list(recorded) == [EXECUTABLE if st.st_mode & stat_mod.S_IXUSR else 0 for st in stats]


def _sync_columns(
    draft: Draft,
    base: PagedManifest,
    piece: _Piece,
    held: Columns,
    doomed: list[str],
    stat_cache: StatCache,
    progress: Progress,
    runs: _Runs,
    keep: Callable[[str, bytes], object] | None = None,
) -> tuple[int, int]:
    """A batch of :func:`_sync_by_columns` file by file: ``held``, the base's files
    up to the batch's last path, are merged with the batch by path; base paths not
    in it are doomed, the files not unchanged are hashed (unless known) and placed.
    Returns how many files were added and modified."""
    paths, shas, flags = held
    k, n = 0, len(paths)
    # (dataset path, the base's (hash, flags) there or None, name, stat, known hash)
    rest: list[tuple[str, tuple[str, int] | None, str, os.stat_result, str | None]] = []
    if paths == piece.targets:  # the same paths (the usual change): compare columns
        differ = set(compress(range(n), map(ne, piece.shas, shas)))
        if not _same_modes(flags, piece.stats):
            local = [bool(st.st_mode & stat_mod.S_IXUSR) for st in piece.stats]
            recorded = map(bool, flags.translate(_EXEC_BIT))
            differ.update(compress(range(n), map(ne, local, recorded)))
        for i in sorted(differ):
            old = (shas[i], flags[i])
            rest.append((paths[i], old, piece.names[i], piece.stats[i], piece.shas[i]))
        k = n
    else:
        for target, sha, name, st in zip(
            piece.targets, piece.shas, piece.names, piece.stats, strict=True
        ):
            # (str order is the bytes' order: the paths are valid UTF-8)
            while k < n and paths[k] < target:
                doomed.append(paths[k])
                k += 1
            old = None
            if k < n and paths[k] == target:
                old = (shas[k], flags[k])
                k += 1
                if (
                    sha is not None
                    and old[0] == sha
                    and bool(old[1] & EXECUTABLE) == is_executable(st)
                ):
                    continue  # what _place would leave alone
            rest.append((target, old, name, st, sha))
    assert k == n  # (every held path is at most the batch's last)
    base_dir = piece.run.base
    hashes = _hash_unknown(piece, rest, stat_cache, progress, keep)
    added = modified = 0
    for target, old, name, st, sha in rest:
        path = base_dir + name
        hashed = _hashed(hashes, path, st, sha)
        entry = None
        if old is not None and old[0] == hashed.sha256:
            if bool(old[1] & EXECUTABLE) == hashed.executable or old[1] & LINK:
                continue  # (an external file has no mode)
            entry = base.get(target)  # a mode change alone: the content stays stored
        if _place(draft, target, hashed, path, entry):
            if old is None:
                added += 1
            else:
                modified += 1
    if hashes:
        _store_piece_run(piece, hashes, stat_cache, runs)
    return added, modified


# a batch's file still to place: (dataset path, what was there, name in its run,
# stat, the hash the stat cache knows or None)
_Rest = tuple[str, Any, str, os.stat_result, str | None]


def _hash_unknown(
    piece: _Piece,
    rest: Sequence[_Rest],
    stat_cache: StatCache,
    progress: Progress,
    keep: Callable[[str, bytes], object] | None,
) -> dict[str, Hashed]:
    """The files of ``rest`` whose hash the stat cache did not know, read and hashed
    (local path -> hash)."""
    base, prefix = piece.run.base, piece.run.prefix
    return hash_files(
        [
            LocalFile(prefix + name, base + name, st.st_size, st.st_mtime_ns, FileStat.of(st))
            for _, _, name, st, sha in rest
            if sha is None
        ],
        stat_cache,
        progress,
        phase=False,
        looked_up=True,
        keep=keep,
    )


def _hashed(hashes: dict[str, Hashed], path: str, st: os.stat_result, sha: str | None) -> Hashed:
    """A batch file's hash: read by :func:`_hash_unknown`, or known with its stat."""
    if sha is None:
        return hashes[path]
    return Hashed(sha, st.st_size, st.st_mtime_ns, is_executable(st), st.st_ino)


class _Runs:
    """Pieces' hashes to remember as stat-cache runs, written a few at a time: one
    transaction for every :data:`_RUNS_FILES` files, not one for each piece."""

    def __init__(self, stat_cache: StatCache) -> None:
        self._stat_cache = stat_cache
        self._held: list[tuple[str, list[str], list[FileKey], list[str]]] = []
        self._files = 0

    def add(self, base: str, names: list[str], keys: list[FileKey], shas: list[str]) -> None:
        self._held.append((base, names, keys, shas))
        self._files += len(names)
        if self._files >= _RUNS_FILES:
            self.flush()

    def flush(self) -> None:
        if self._held:
            self._stat_cache.store_runs(self._held)
        self._held, self._files = [], 0


_RUNS_FILES = 65536


def _store_piece_run(
    piece: _Piece, hashes: dict[str, Hashed], stat_cache: StatCache, runs: _Runs | None = None
) -> None:
    """Remember a piece's hashes, for the next sync to find as one run (through
    ``runs`` when given: written with others)."""
    base = piece.run.base
    stats = piece.stats
    keys: list[FileKey] = list(
        zip(map(_INO, stats), map(_MTIME, stats), map(_SIZE, stats), strict=True)
    )
    shas = list(piece.shas)
    for i in compress(range(len(shas)), map(is_, shas, repeat(None))):
        h = hashes[base + piece.names[i]]  # (the stat of the bytes hashed)
        keys[i] = (h.ino, h.mtime_ns, h.size)
        shas[i] = h.sha256
    if runs is not None:
        runs.add(base, piece.names, keys, cast(list[str], shas))
    else:
        stat_cache.store_run(base, piece.names, keys, cast(list[str], shas))


# a draft's path and what it holds there (typed with None as the lookahead of the
# merge is: (None, None) past the draft's last path, which no list ever holds)
_Held = tuple[str, DraftFile | FileEntry | None]
_ENTRY_SHA = itemgetter(FileEntry._fields.index("sha256"))
_ENTRY_EXECUTABLE = itemgetter(FileEntry._fields.index("executable"))
_MODE = attrgetter("st_mode")
_INO = attrgetter("st_ino")
_MTIME = attrgetter("st_mtime_ns")
_SIZE = attrgetter("st_size")


class _Piece(NamedTuple):
    """A batch of a sync: files of one run of the walk, their dataset paths and the
    hashes the stat cache knows (None: to be read)."""

    run: FolderRun
    names: list[str]
    stats: list[os.stat_result]
    targets: list[str]
    shas: list[str | None]


def _all_unchanged(
    targets: list[str], shas: list[str | None], stats: list[os.stat_result], taken: list[_Held]
) -> bool:
    """Whether the draft holds, at exactly these paths and no others between them,
    base entries of the hashes the stat cache knows and of the files' modes."""
    if len(taken) != len(targets) or None in shas:
        return False
    paths, held = zip(*taken, strict=True)
    if list(paths) != targets or set(map(type, held)) != {FileEntry}:
        return False  # (a DraftFile is the draft's own: _place may update it)
    # (FileEntry's fields by index: a third faster than through their names)
    if list(map(_ENTRY_SHA, held)) != shas:
        return False
    if not any(map(_ENTRY_EXECUTABLE, held)) and not any(
        mode & stat_mod.S_IXUSR for mode in set(map(_MODE, stats))
    ):
        return True
    local = [bool(st.st_mode & stat_mod.S_IXUSR) for st in stats]
    return list(map(_ENTRY_EXECUTABLE, held)) == local


def _sync_piece(
    draft: Draft,
    piece: _Piece,
    taken: list[_Held],
    existing: Iterator[_Held],
    doomed: list[_Held],
    stat_cache: StatCache,
    progress: Progress,
    keep: Callable[[str, bytes], object] | None = None,
) -> tuple[int, int, list[_Held]]:
    """A batch of :func:`sync_folder` file by file: the draft's paths before each
    file's are doomed, the files not unchanged are hashed (unless known) and placed.
    ``taken``: the draft's next paths, already taken from ``existing``.  Returns how
    many files were added and modified, and the draft's paths taken and not met."""
    queue = iter(taken)

    def pull() -> _Held | tuple[None, None]:
        return next(queue, None) or next(existing, (None, None))

    have, held = pull()
    rest: list[tuple[str, DraftFile | FileEntry | None, str, os.stat_result, str | None]] = []
    for target, sha, name, st in zip(
        piece.targets, piece.shas, piece.names, piece.stats, strict=True
    ):
        # (str order is the bytes' order: the paths are valid UTF-8)
        while have is not None and have < target:
            doomed.append((have, held))
            have, held = pull()
        old = None
        if have == target:
            old = held
            have, held = pull()
            if (
                sha is not None
                and type(old) is FileEntry
                and old.sha256 == sha
                and old.executable == is_executable(st)
            ):
                continue  # what _place would leave alone
        rest.append((target, old, name, st, sha))
    left: list[_Held] = [] if have is None else [(have, held)]
    left += queue
    base = piece.run.base
    hashes = _hash_unknown(piece, rest, stat_cache, progress, keep)
    added = modified = 0
    for target, old, name, st, sha in rest:
        path = base + name
        hashed = _hashed(hashes, path, st, sha)
        result = _place(draft, target, hashed, path, old)
        added += result == "added"
        modified += result == "modified"
    if hashes:  # the piece's hashes, for the next sync to find as one run
        _store_piece_run(piece, hashes, stat_cache)
    return added, modified, left
