"""Small filesystem helpers: full writes, read-only folders and their removal, file hashes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Iterable

_BLOCK = 1024 * 1024
READONLY_DIR = 0o555
WRITABLE_DIR = 0o755


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ioctl(dest, FICLONE, src): share src's extents (btrfs, XFS, bcachefs...).
_FICLONE = 0x40049409
# The kernel cannot do this copy (here, or between these files): use the next way.
_UNSUPPORTED = {
    errno.EXDEV,
    errno.EINVAL,
    errno.ENOSYS,
    errno.ENOTTY,
    errno.EOPNOTSUPP,
    errno.ENOTSUP,
    errno.EPERM,
    errno.EBADF,
}
_COPY_STEP = 1 << 30
# Ways found not to work in this process (asked again after a fault, never per file).
_broken: set[str] = set()


def _clone(sfd: int, dfd: int) -> bool:
    if "clone" in _broken:
        return False
    try:
        fcntl.ioctl(dfd, _FICLONE, sfd)
        return True
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        if exc.errno != errno.EXDEV:
            _broken.add("clone")  # the filesystem has no reflinks
        return False


def _copy_range(sfd: int, dfd: int, size: int) -> bool:
    """Copy with copy_file_range from the current offsets; False (nothing written)
    when the kernel cannot do it for these files."""
    if "range" in _broken or not hasattr(os, "copy_file_range"):
        return False
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(sfd, dfd, min(_COPY_STEP, size - done))
        except OSError as exc:
            if done or exc.errno not in _UNSUPPORTED:
                raise
            if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
                _broken.add("range")
            return False
        if n == 0:
            break  # the source shrank: the caller checks the size
        done += n
    return True


def clone_into(sfd: int, dfd: int) -> None:
    """Copy the whole file open at ``sfd`` into the empty file open for writing at
    ``dfd``: a reflink where the filesystem shares extents, else copy_file_range
    (in the kernel, no Python buffers), else plain reads and writes."""
    size = os.fstat(sfd).st_size
    if _clone(sfd, dfd) or _copy_range(sfd, dfd, size):
        return
    while block := os.read(sfd, _BLOCK):
        write_all(dfd, block)


def chmod_dirs(folders: Iterable[str], mode: int) -> None:
    """Set ``mode`` on each folder (missing ones are skipped)."""
    for folder in folders:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(folder, mode)


def _make_tree_writable(root: str) -> None:
    # Each folder is made writable before it is listed; symlinks are never followed.
    stack = [root]
    while stack:
        folder = stack.pop()
        with contextlib.suppress(OSError):
            os.chmod(folder, WRITABLE_DIR)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Delete a file or tree, even one with read-only folders; a missing path is fine."""
    path = os.fspath(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    _make_tree_writable(path)
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        shutil.rmtree(path)  # a second pass reports what could not be removed


def hash_file(path: str | os.PathLike[str]) -> str | None:
    """sha256 of a file's content, or None if it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb", buffering=0) as fh:
            while block := fh.read(_BLOCK):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def tree_has_inode(root: str, inodes: set[int]) -> bool:
    """Whether any file under ``root`` is one of ``inodes`` (a hardlink to one of them)."""
    if not inodes:
        return False
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.inode() in inodes:
                return True
    return False
