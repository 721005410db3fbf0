"""Small filesystem helpers: full writes, read-only folders and their removal, file hashes."""

from __future__ import annotations

import contextlib
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
