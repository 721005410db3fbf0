"""Walking local folders and hashing their files (with the stat cache).

Symlinks are followed only when their target stays inside the root being
added; others are refused with a clear error, so adding a folder can never
pull in files from elsewhere by accident.  A directory link that leads back
to a folder the walk is already inside (``ln -s . self``: a loop) is not
followed, with a warning: its files are added once, under that folder.  The
marker gd writes in each tree it makes (ops/target.py) is skipped: it is
bookkeeping, not data.  Inside a folder only regular files are added (FIFOs,
sockets and devices are skipped); one named directly is refused.

A file's size, hash and stat all come from one read: the file is opened
without blocking, checked to be a regular file on the open descriptor, read,
and stat'ed before and after; one that changed while being read is read
again, a few times, then refused (:class:`SourceChangedError`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as stat_mod
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import BinaryIO, NamedTuple

from gitdata.cache import StatCache
from gitdata.cache.statcache import FileStat, StatLike
from gitdata.core.paths import match_pattern, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.errors import (
    InvalidInputError,
    LocalPathNotFoundError,
    LocalPathUnreadableError,
    SourceChangedError,
    UnsafePathError,
)
from gitdata.ops.target import MARKER_NAME, is_marker_file

_BLOCK = 1024 * 1024
# Files up to this size are read whole with one call (no file object, no block loop).
WHOLE_READ = 16 * 1024 * 1024
# How often a file that changed while it was read is read again before it is refused.
READ_TRIES = 3
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


# One of each per file of a scan (20,000 of them for a 20,000-file folder): named
# tuples, immutable and about three times cheaper to make than frozen dataclasses.
class LocalFile(NamedTuple):
    """A file found on disk: its path relative to the scan root, absolute path, stat."""

    rel: str
    abspath: str
    size: int
    mtime_ns: int
    st: FileStat


class Hashed(NamedTuple):
    """A file's sha256 with the size and mtime of the very bytes hashed."""

    sha256: str
    size: int
    mtime_ns: int
    executable: bool = False  # the owner's execute bit (st_mode & 0o100) of that stat
    ino: int = 0  # and its inode (the stat cache's key, with size and mtime)


def shown_path(path: str) -> str:
    """``path`` printable as UTF-8: bytes that are not UTF-8 appear as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _is_utf8(path: str) -> bool:
    """Whether ``path`` encodes as UTF-8 (a name with undecodable bytes does not)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_utf8(path: str) -> None:
    """Dataset paths (and the sources a draft records) are UTF-8: refuse other names."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"file name is not valid UTF-8: {shown_path(path)}",
            path=shown_path(path),
            hint="rename it (dataset paths are UTF-8), e.g. with convmv, or leave it out "
            "with --wildcard",
        ) from None


def _kind(mode: int) -> str:
    if stat_mod.S_ISDIR(mode):
        return "a folder"
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _unreadable(path: str, exc: OSError, what: str = "file") -> LocalPathUnreadableError:
    reason = exc.strerror or type(exc).__name__
    return LocalPathUnreadableError(
        f"cannot read {what} {shown_path(path)}: {reason}",
        path=shown_path(path),
        hint="check its permissions, or leave it out (--wildcard, or move it away)",
    )


class NotRegularError(InvalidInputError):
    """A path gd was to read is a folder, FIFO, socket or device, not a regular file."""


def open_fd(path: str) -> tuple[int, os.stat_result]:
    """:func:`open_source` on a raw descriptor (no file object): the descriptor and its
    fstat, with the same checks and errors.  The caller closes it."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise LocalPathNotFoundError(
            f"file vanished: {shown_path(path)}", path=shown_path(path)
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            raise NotRegularError(
                f"{shown_path(path)} is {_kind(st.st_mode)}, not a regular file",
                path=shown_path(path),
                kind=_kind(st.st_mode),
                hint="gd adds regular files only",
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_source(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open a local file for reading, never blocking, and only if it is a regular file.

    Returns the open binary file and its fstat.  Raises
    :class:`LocalPathNotFoundError` if it is gone, :class:`NotRegularError`
    (an :class:`InvalidInputError`) for a folder, FIFO or device, and
    :class:`LocalPathUnreadableError` when it cannot be opened.
    """
    fd, st = open_fd(path)
    try:
        return os.fdopen(fd, "rb", buffering=0, closefd=True), st
    except BaseException:
        os.close(fd)
        raise


def read_expected(fd: int, size: int) -> bytes:
    """A file's bytes when it holds ``size`` (its fstat size), read with one call.

    A file that grew since gives ``size + 1`` bytes, never more (one byte past the
    expected end shows it; nothing more is held in memory), one that shrank gives
    what it holds: the caller refuses or reads such a file again (its hash or an
    fstat after the read tells).
    """
    data = os.read(fd, size + 1)
    if len(data) >= size:
        return data
    parts, got = [data], len(data)
    while got <= size and (block := os.read(fd, size + 1 - got)):  # a short read
        parts.append(block)
        got += len(block)
    return b"".join(parts)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
    )


def hash_source(path: str) -> tuple[str, os.stat_result]:
    """sha256 of one local file and its stat, both of the same read.

    A file whose stat changed while it was read (or that read to another size
    than its stat said) is read again, up to :data:`READ_TRIES` times, then
    refused with :class:`SourceChangedError` naming it.  A file of up to
    :data:`WHOLE_READ` bytes is read with one call on a raw descriptor.
    """
    digest, st, _ = hash_source_bytes(path)
    return digest, st


def hash_source_bytes(path: str) -> tuple[str, os.stat_result, bytes | None]:
    """:func:`hash_source`, and the bytes hashed when the file was read whole
    (None for a file over :data:`WHOLE_READ` bytes, read in blocks)."""
    for _ in range(READ_TRIES):
        fd, before = open_fd(path)
        data: bytes | None = None
        try:
            h = hashlib.sha256()
            read = 0
            if before.st_size <= WHOLE_READ:
                data = read_expected(fd, before.st_size)
                h.update(data)
                read = len(data)
            else:
                while block := os.read(fd, _BLOCK):
                    h.update(block)
                    read += len(block)
            after = os.fstat(fd)
        except OSError as exc:
            raise _unreadable(path, exc) from None
        finally:
            os.close(fd)
        if read == before.st_size and _same_file(before, after):
            return h.hexdigest(), after, data
    raise SourceChangedError(
        f"{shown_path(path)} kept changing while it was read ({READ_TRIES} tries); "
        "nothing was added",
        path=shown_path(path),
        hint="add it again once nothing writes to it any more",
    )


def scan_folder(
    root: Path, *, recursive: bool = True, wildcard: str | list[str] | None = None
) -> list[LocalFile]:
    """Every regular file under ``root`` (or ``root`` itself if it is a file), sorted
    by the UTF-8 bytes of ``rel``."""
    return list(iter_folder(root, recursive=recursive, wildcard=wildcard))


def iter_folder(
    root: Path, *, recursive: bool = True, wildcard: str | list[str] | None = None
) -> Iterator[LocalFile]:
    """The files :func:`scan_folder` lists, one at a time and already in order: the
    walk visits each folder's entries sorted with a folder's name followed by "/",
    which is the order of the full paths' bytes, so nothing is held but the folders
    on the way down."""
    for run in iter_folder_runs(root, recursive=recursive, wildcard=wildcard):
        prefix, base = run.prefix, run.base
        for name, st in zip(run.names, run.stats, strict=True):
            yield LocalFile(prefix + name, base + name, st.st_size, st.st_mtime_ns, FileStat.of(st))


class FolderRun(NamedTuple):
    """Files of one folder that follow each other in a walk's order (a subfolder's
    files sort between two runs of its folder), as names and stats: a million
    unchanged files need no object each besides their stat."""

    prefix: str  # their folder relative to the walk's root: "" or "sub/dir/"
    base: str  # their folder's absolute path, ending in "/"
    names: list[str]  # sorted
    stats: list[os.stat_result]  # (followed through links that stay inside the root)


def iter_folder_runs(
    root: Path, *, recursive: bool = True, wildcard: str | list[str] | None = None
) -> Iterator[FolderRun]:
    """The files of :func:`iter_folder`, in the same order, a run of one folder's
    files at a time."""
    root_str = os.path.abspath(root)
    try:
        st = os.stat(root_str)
    except FileNotFoundError:
        raise LocalPathNotFoundError(f"path does not exist: {root}", path=str(root)) from None
    except OSError as exc:
        raise _unreadable(root_str, exc, "path") from None
    patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard or [])
    if stat_mod.S_ISREG(st.st_mode):
        name = os.path.basename(root_str)
        if patterns and not any(match_pattern(name, p) for p in patterns):
            return
        _check_utf8(root_str)
        yield FolderRun("", root_str[: len(root_str) - len(name)], [name], [st])
        return
    if not stat_mod.S_ISDIR(st.st_mode):
        raise InvalidInputError(
            f"{shown_path(root_str)} is {_kind(st.st_mode)}, not a regular file or folder",
            path=shown_path(root_str),
            hint="gd adds regular files and folders only",
        )
    real_root = os.path.realpath(root_str)
    # one iterator per folder on the way down: (its sorted parts, its dataset prefix,
    # its absolute path with a "/", (st_dev, st_ino) of it and every folder above it,
    # whether its path is UTF-8)
    stack: list[tuple[Iterator[_Part], str, str, frozenset[tuple[int, int]], bool]] = [
        (
            iter(_listing(root_str, real_root, recursive)),
            "",
            root_str if root_str.endswith(os.sep) else root_str + os.sep,
            frozenset({(st.st_dev, st.st_ino)}),
            _is_utf8(root_str),
        )
    ]
    while stack:
        parts, prefix, base, above, folder_utf8 = stack[-1]
        part = next(parts, None)
        if part is None:
            stack.pop()
            continue
        if isinstance(part, _Sub):
            path = base + part.name
            key = (part.st.st_dev, part.st.st_ino)
            if key in above:
                warnings.warn(
                    f"symlink {shown_path(path)} leads back to a folder it is in (a "
                    "loop); not followed, that folder's files are added once",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            stack.append(
                (
                    iter(_listing(path, real_root, recursive)),
                    f"{prefix}{part.name}/",
                    path + os.sep,
                    above | {key},
                    _is_utf8(path),  # then only names that are not ASCII need a check
                )
            )
            continue
        names, stats = part
        if MARKER_NAME in names:  # gd's record of a tree it made, not data
            kept = [
                i
                for i, name in enumerate(names)
                if not (name == MARKER_NAME and is_marker_file(base + name))
            ]
            names, stats = [names[i] for i in kept], [stats[i] for i in kept]
        if patterns:
            kept = [
                i
                for i, name in enumerate(names)
                if any(match_pattern(prefix + name, p, recursive=recursive) for p in patterns)
            ]
            names, stats = [names[i] for i in kept], [stats[i] for i in kept]
        joined = "".join(names)
        if not (folder_utf8 and joined.isascii()) or "\\" in joined:
            for name in names:  # one by one, in order: the first bad name is the one named
                if not (folder_utf8 and name.isascii()):
                    _check_utf8(base + name)
                if "\\" in name:
                    normalize_dataset_path(prefix + name)  # raises UnsafePathError naming it
        if names:
            yield FolderRun(prefix, base, names, stats)


class _Sub(NamedTuple):
    """A subfolder met in a folder's listing (or a link to one inside the root)."""

    name: str
    st: os.stat_result


# a folder's listing in order: its subfolders and the runs of files between them
_Part = _Sub | tuple[list[str], list[os.stat_result]]
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_MODE = attrgetter("st_mode")


def _listing(folder: str, real_root: str, recursive: bool) -> list[_Part]:
    """A folder's regular files and (when ``recursive``) subfolders with their stat,
    sorted by name, a folder's name followed by "/".

    Each name is stat'ed relative to the open folder (``fstatat``): one name to
    resolve, not every folder of a long absolute path, which took 40 % longer per
    file here (5.4 against 3.8 us).  Names are listed without an entry object each
    and sorted before they are stat'ed, so a folder of files only (the usual leaf)
    costs no Python code per file besides its stat."""
    try:
        names = sorted(os.listdir(folder))
        fd = os.open(folder, _DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise _vanished(folder) from None
    except OSError as exc:
        raise _unreadable(folder, exc, "folder") from None
    try:
        lstats: list[os.stat_result] | None = None
        # an error: one name at a time below says which, or skips one just removed
        with contextlib.suppress(OSError):
            lstats = list(map(partial(os.stat, dir_fd=fd, follow_symlinks=False), names))
        if lstats is not None and set(map(stat_mod.S_IFMT, map(_MODE, lstats))) == {
            stat_mod.S_IFREG
        }:
            return [(names, lstats)]  # (no link among them: each lstat is its stat)
        keyed = _keyed(folder, names, lstats, fd, real_root, recursive)
    finally:
        os.close(fd)
    keyed.sort(key=itemgetter(0))
    parts: list[_Part] = []
    run_names: list[str] = []
    run_stats: list[os.stat_result] = []
    for _, name, fst, is_folder in keyed:
        if not is_folder:
            run_names.append(name)
            run_stats.append(fst)
            continue
        if run_names:
            parts.append((run_names, run_stats))
            run_names, run_stats = [], []
        parts.append(_Sub(name, fst))
    if run_names:
        parts.append((run_names, run_stats))
    return parts


def _vanished(folder: str) -> SourceChangedError:
    return SourceChangedError(
        f"folder {shown_path(folder)} was removed or replaced while it was scanned",
        path=shown_path(folder),
        hint="add it again",
    )


def _keyed(
    folder: str,
    names: list[str],
    lstats: list[os.stat_result] | None,
    fd: int,
    real_root: str,
    recursive: bool,
) -> list[tuple[str, str, os.stat_result, bool]]:
    """(sort key, name, stat, whether a folder) of a folder's regular files and (when
    ``recursive``) subfolders, one name at a time: links checked to stay inside the
    root and followed, names gone since the listing skipped.  A folder's key is its
    name followed by "/".  ``lstats``: the names' own stats, when all were taken."""
    keyed = []
    for i, name in enumerate(names):
        try:
            lst = (
                lstats[i] if lstats is not None else os.stat(name, dir_fd=fd, follow_symlinks=False)
            )
        except FileNotFoundError:
            continue  # removed while scanning
        except OSError as exc:
            raise _unreadable(os.path.join(folder, name), exc) from None
        fst = lst
        if stat_mod.S_ISLNK(lst.st_mode):
            path = os.path.join(folder, name)
            target = os.path.realpath(path)
            if target != real_root and not target.startswith(real_root + os.sep):
                raise UnsafePathError(
                    f"symlink {shown_path(path)} points outside the added folder",
                    path=shown_path(path),
                    hint="add the link's target folder itself, or remove the link",
                )
            try:
                fst = os.stat(name, dir_fd=fd)
            except OSError:
                continue  # a dangling link, or one that cannot be resolved (a loop of links)
        # (a name's str order is its UTF-8 bytes' order; one that is not UTF-8 is
        # refused when the walk reaches it)
        if stat_mod.S_ISDIR(fst.st_mode):
            if recursive:
                keyed.append((name + "/", name, fst, True))
        elif stat_mod.S_ISREG(fst.st_mode):
            keyed.append((name, name, fst, False))
    return keyed


def is_executable(st: StatLike) -> bool:
    """Whether a file's owner may execute it: the bit a manifest records."""
    return bool(st.st_mode & stat_mod.S_IXUSR)


def hash_file(path: str) -> str:
    """sha256 of one file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size <= _BLOCK:
            h.update(fh.read())
        else:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                h.update(block)
    return h.hexdigest()


def hash_files(
    files: list[LocalFile],
    stat_cache: StatCache | None,
    progress: Progress = NULL_PROGRESS,
    *,
    phase: bool = True,
    looked_up: bool = False,
    keep: Callable[[str, bytes], object] | None = None,
) -> dict[str, Hashed]:
    """abspath -> :class:`Hashed` for ``files``, reusing the stat cache for unchanged files.

    The size recorded is that of the bytes hashed (not the scan's stat), so a
    file rewritten since the scan is recorded as what was read.  Serial on
    purpose: for many small files a thread pool measured 4-6x slower here
    (DESIGN.md, "Performance facts").  ``phase`` False: the caller started the
    progress phase (one batch of a longer walk) and finishes it.  ``looked_up``: the
    caller found none of ``files`` in the stat cache already; they are only hashed
    (and remembered).  ``keep(sha256, data)`` is given the bytes of each file read
    whole (ops/spool.py packs them).
    """
    known: dict[str, Hashed] = {}
    if stat_cache is not None and files and not looked_up:
        cached = stat_cache.lookup_many([(f.abspath, f.st) for f in files])
        by_path = {f.abspath: f for f in files}
        for path, sha in cached.items():
            f = by_path[path]
            known[path] = Hashed(sha, f.size, f.mtime_ns, is_executable(f.st), f.st.st_ino)
    todo = [f for f in files if f.abspath not in known]
    if phase:
        progress.start("hashing", sum(f.size for f in todo))
    fresh: list[tuple[str, os.stat_result, str]] = []
    for f in todo:
        try:
            digest, st, data = hash_source_bytes(f.abspath)
        except LocalPathNotFoundError:
            raise LocalPathNotFoundError(
                f"file vanished while hashing: {f.abspath}", path=f.abspath
            ) from None
        except NotRegularError as exc:
            raise SourceChangedError(
                f"{f.abspath} changed while it was added: it is now {exc.fields['kind']}, "
                "not a regular file; nothing was added",
                path=f.abspath,
                hint="add it again once it is a regular file, or leave it out",
            ) from None
        known[f.abspath] = Hashed(digest, st.st_size, st.st_mtime_ns, is_executable(st), st.st_ino)
        fresh.append((f.abspath, st, digest))
        if keep is not None and data is not None:
            keep(digest, data)
        progress.advance(f.size)
    if phase:
        progress.finish()
    if stat_cache is not None and fresh:
        stat_cache.store_many(fresh)
    return known
