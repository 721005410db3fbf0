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

import hashlib
import os
import stat as stat_mod
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

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
    for _ in range(READ_TRIES):
        fd, before = open_fd(path)
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
            return h.hexdigest(), after
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
        yield LocalFile(name, root_str, st.st_size, st.st_mtime_ns, FileStat.of(st))
        return
    if not stat_mod.S_ISDIR(st.st_mode):
        raise InvalidInputError(
            f"{shown_path(root_str)} is {_kind(st.st_mode)}, not a regular file or folder",
            path=shown_path(root_str),
            hint="gd adds regular files and folders only",
        )
    real_root = os.path.realpath(root_str)
    # one iterator per folder on the way down: (its sorted entries, its dataset prefix,
    # (st_dev, st_ino) of it and every folder above it)
    stack: list[tuple[_Entries, str, frozenset[tuple[int, int]], bool]] = [
        (
            _sorted_entries(root_str, real_root, recursive),
            "",
            frozenset({(st.st_dev, st.st_ino)}),
            _is_utf8(root_str),
        )
    ]
    while stack:
        entries, prefix, above, folder_utf8 = stack[-1]
        step = next(entries, None)
        if step is None:
            stack.pop()
            continue
        _, de, fst = step
        rel = f"{prefix}{de.name}"
        if stat_mod.S_ISDIR(fst.st_mode):
            key = (fst.st_dev, fst.st_ino)
            if key in above:
                warnings.warn(
                    f"symlink {shown_path(de.path)} leads back to a folder it is in (a "
                    "loop); not followed, that folder's files are added once",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            stack.append(
                (
                    _sorted_entries(de.path, real_root, recursive),
                    rel + "/",
                    above | {key},
                    _is_utf8(de.path),  # then only names that are not ASCII need a check
                )
            )
            continue
        if de.name == MARKER_NAME and is_marker_file(de.path):
            continue  # gd's record of a tree it made, not data
        if patterns and not any(match_pattern(rel, p, recursive=recursive) for p in patterns):
            continue
        if not (folder_utf8 and de.name.isascii()):
            _check_utf8(de.path)
        if "\\" in de.name:
            normalize_dataset_path(rel)  # raises UnsafePathError naming it
        yield LocalFile(rel, de.path, fst.st_size, fst.st_mtime_ns, FileStat.of(fst))


_Entries = Iterator[tuple[str, os.DirEntry[str], Any]]


def _sorted_entries(folder: str, real_root: str, recursive: bool) -> _Entries:
    """A folder's regular files and (when ``recursive``) subfolders with their stat,
    sorted by name, a folder's name followed by "/"."""
    try:
        with os.scandir(folder) as it:
            found = list(it)
    except (FileNotFoundError, NotADirectoryError):
        raise SourceChangedError(
            f"folder {shown_path(folder)} was removed or replaced while it was scanned",
            path=shown_path(folder),
            hint="add it again",
        ) from None
    except OSError as exc:
        raise _unreadable(folder, exc, "folder") from None
    keyed = []
    for de in found:
        link = de.is_symlink()
        if link:
            target = os.path.realpath(de.path)
            if target != real_root and not target.startswith(real_root + os.sep):
                raise UnsafePathError(
                    f"symlink {shown_path(de.path)} points outside the added folder",
                    path=shown_path(de.path),
                    hint="add the link's target folder itself, or remove the link",
                )
        try:
            fst = de.stat()
        except FileNotFoundError:
            continue  # dangling link or file removed while scanning
        except OSError as exc:
            if link:
                continue  # a link that cannot be resolved (a loop of links)
            raise _unreadable(de.path, exc) from None
        # (a name's str order is its UTF-8 bytes' order; one that is not UTF-8 is
        # refused when the walk reaches it)
        if stat_mod.S_ISDIR(fst.st_mode):
            if recursive:
                keyed.append((de.name + "/", de, fst))
        elif stat_mod.S_ISREG(fst.st_mode):
            keyed.append((de.name, de, fst))
    keyed.sort(key=lambda k: k[0])
    return iter(keyed)


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
) -> dict[str, Hashed]:
    """abspath -> :class:`Hashed` for ``files``, reusing the stat cache for unchanged files.

    The size recorded is that of the bytes hashed (not the scan's stat), so a
    file rewritten since the scan is recorded as what was read.  Serial on
    purpose: for many small files a thread pool measured 4-6x slower here
    (DESIGN.md, "Performance facts").  ``phase`` False: the caller started the
    progress phase (one batch of a longer walk) and finishes it.
    """
    known: dict[str, Hashed] = {}
    if stat_cache is not None and files:
        cached = stat_cache.lookup_many([(f.abspath, f.st) for f in files])
        by_path = {f.abspath: f for f in files}
        for path, sha in cached.items():
            f = by_path[path]
            known[path] = Hashed(sha, f.size, f.mtime_ns, is_executable(f.st))
    todo = [f for f in files if f.abspath not in known]
    if phase:
        progress.start("hashing", sum(f.size for f in todo))
    fresh: list[tuple[str, os.stat_result, str]] = []
    for f in todo:
        try:
            digest, st = hash_source(f.abspath)
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
        known[f.abspath] = Hashed(digest, st.st_size, st.st_mtime_ns, is_executable(st))
        fresh.append((f.abspath, st, digest))
        progress.advance(f.size)
    if phase:
        progress.finish()
    if stat_cache is not None and fresh:
        stat_cache.store_many(fresh)
    return known
