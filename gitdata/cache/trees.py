"""Putting cached blobs into a folder: hardlinked views and independent writable copies.

Paths are checked by the caller (see validate.py); ``blob_path`` maps a sha256
to the blob's file name as a string (no Path objects in the hot loops).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterable

from gitdata.cache.fsutil import clone_into
from gitdata.core.progress import Progress
from gitdata.errors import IntegrityError

BlobPath = Callable[[str], str]

_BLOCK = 1024 * 1024
# Hardlinks are impossible here (other filesystem, or a filesystem without them).
_NO_HARDLINKS = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP}


def missing_blob(sha: str, rel: str) -> IntegrityError:
    return IntegrityError(
        f"content {sha[:12]} of {rel!r} is not in the local cache",
        sha256=sha,
        path=rel,
        hint="fetch it again (it may have been pruned or found corrupt)",
    )


class _Folders:
    """Creates each folder of a tree once."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: set[str] = set()

    def ensure(self, folder: str) -> None:
        if folder and folder not in self.seen:
            os.makedirs(f"{self.target}/{folder}", exist_ok=True)
            while folder and folder not in self.seen:
                self.seen.add(folder)
                folder = folder.rpartition("/")[0]


def parent_folders(rels: Iterable[str]) -> set[str]:
    """Every folder (relative) that holds one of ``rels``, at any depth."""
    out: set[str] = set()
    for rel in rels:
        folder = rel.rpartition("/")[0]
        while folder and folder not in out:
            out.add(folder)
            folder = folder.rpartition("/")[0]
    return out


READONLY_FILE = 0o444
# An executable file of a read-only tree: its own copy (a blob is shared and 0444).
READONLY_EXECUTABLE = 0o555


def _copy_readonly(src: str, dest: str, sha: str, rel: str, mode: int = READONLY_FILE) -> None:
    try:
        shutil.copyfile(src, dest)
    except FileNotFoundError:
        if not os.path.exists(src):
            raise missing_blob(sha, rel) from None
        raise
    os.chmod(dest, mode)


def link_files(
    files: list[tuple[str, str]],
    target: str,
    blob_path: BlobPath,
    *,
    fallback: str,
    executables: frozenset[str] = frozenset(),
) -> None:
    """Hardlink each blob to ``target/<rel>``, creating folders as needed.

    Where hardlinks are impossible, every remaining file falls back to
    ``fallback``: "symlink" (to the blob) or "copy" (a read-only copy).  A blob
    at the filesystem's link-count limit is copied (read-only) instead.  The
    paths in ``executables`` are read-only copies with execute permission (0555).
    """
    folders = _Folders(target)
    mode = "link"
    for rel, sha in files:
        folders.ensure(rel.rpartition("/")[0])
        src = blob_path(sha)
        dest = f"{target}/{rel}"
        if rel in executables:
            _copy_readonly(src, dest, sha, rel, READONLY_EXECUTABLE)
            continue
        if mode == "link":
            try:
                os.link(src, dest)
                continue
            except OSError as exc:
                if exc.errno == errno.ENOENT and not os.path.exists(src):
                    raise missing_blob(sha, rel) from None
                if exc.errno == errno.EMLINK:
                    _copy_readonly(src, dest, sha, rel)
                    continue
                if exc.errno not in _NO_HARDLINKS:
                    raise
                mode = fallback
        if mode == "symlink":
            if not os.path.exists(src):
                raise missing_blob(sha, rel)
            os.symlink(src, dest)
        else:
            _copy_readonly(src, dest, sha, rel)


def _create(path: str) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:  # left by a crashed run that had our pid
        os.unlink(path)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


def _copy_file(src: str, dest: str, tmp: str | None) -> bool:
    """Copy ``src`` to ``tmp`` (in the kernel where it can: see fsutil.clone_into),
    then rename to ``dest`` (with no ``tmp``: straight to ``dest``, which must not
    exist); False when ``src`` does not exist.  A failed copy leaves no file."""
    try:
        sfd = os.open(src, os.O_RDONLY)
    except FileNotFoundError:
        return False
    written = tmp or dest
    try:
        dfd = _create(tmp) if tmp else os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            clone_into(sfd, dfd)
        finally:
            os.close(dfd)
        if tmp:
            os.replace(tmp, dest)
        return True
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(written)
        raise
    finally:
        os.close(sfd)


def copy_files(
    files: list[tuple[str, str]],
    target: str,
    blob_path: BlobPath,
    progress: Progress,
    *,
    staged: bool = False,
) -> list[str]:
    """Copy blobs to ``target/<rel>`` as writable files; the caller has checked the
    blobs (LocalCache.check_blobs), so their content is not hashed again.

    Each file is written under a hidden temporary name in its folder and renamed
    into place; in a ``staged`` target (a staging folder no one sees before it is
    complete, holding none of these paths yet) straight under its name.  Returns
    the paths not delivered (blob missing); advances ``progress`` once per file.
    """
    folders = _Folders(target)
    tmp_name = f".gd-{os.getpid()}.tmp"  # short: a long file name plus a suffix may not fit
    bad: list[str] = []
    for rel, sha in files:
        folder = rel.rpartition("/")[0]
        folders.ensure(folder)
        tmp = None
        if not staged:
            tmp = f"{target}/{folder}/{tmp_name}" if folder else f"{target}/{tmp_name}"
        if not _copy_file(blob_path(sha), f"{target}/{rel}", tmp):
            bad.append(rel)
        progress.advance(1)
    return bad
