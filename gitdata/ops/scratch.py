"""Folders a get builds beside its target, and what killed gets left of them.

``gd get --copy/--link T`` builds the new tree in ``.T.gd-tmp-<pid>-<random>``
beside ``T`` and swaps it in; an ``--overwrite`` first renames the old ``T``
to ``.T.gd-old-<pid>`` and removes it after the swap.  A process killed
meanwhile leaves these folders behind.  The cache cannot know about them
(they live beside targets, anywhere), so every get cleans the folder it writes
into: :func:`sweep` removes the leftovers found there.

Which folders count as leftovers (docs/cli.md, *Leftovers of killed commands*):

- only real folders (never a symlink) whose name has exactly the shape above
  (or ``.T.gd-tmp-<8 characters>``, the shape older gd made), so nothing gd did
  not make is touched;
- only when their owner is gone: the get building or swapping a folder holds an
  flock on it, released by the kernel when the process dies, so a folder whose
  lock can be taken belongs to no running get;  on a filesystem without flock
  on folders, only when it was last changed more than a day ago;
- a ``.T.gd-old-*`` folder only while ``T`` exists: a get killed between its two
  renames leaves the old tree as the only copy of ``T``, kept until a tree is
  back at ``T``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from gitdata.cache.fsutil import remove_tree

STAGING_TAG = ".gd-tmp-"
OLD_TAG = ".gd-old-"
# Without flock on folders, a leftover is one nobody changed for this long.
UNLOCKABLE_AGE_SECONDS = 24 * 3600
_LEFTOVER = re.compile(
    r"\.(?P<target>.+)(?:\.gd-tmp-(?:[0-9]+-[A-Za-z0-9_]{8}|[A-Za-z0-9_]{8})|\.gd-old-[0-9]+)"
)
_ATTEMPTS = 100


class DirLock:
    """An flock held on a folder (it follows the folder through renames)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @property
    def held(self) -> bool:
        """Whether the lock was granted (False on filesystems without flock on folders)."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (closing the descriptor)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _open_dir(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _try_flock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: flock is not supported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        return None
    return True


def _same_folder(fd: int, path: Path) -> bool:
    """``path`` still names the folder open at ``fd`` (not renamed or replaced)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def make_staging(target: Path) -> tuple[Path, DirLock]:
    """A new empty folder beside ``target`` to build it in, locked by this process."""
    prefix = f".{target.name}{STAGING_TAG}{os.getpid()}-"
    for _ in range(_ATTEMPTS):
        path = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
        try:
            fd = _open_dir(path)
        except FileNotFoundError:
            continue  # a sweep took it for a leftover before we locked it
        got = _try_flock(fd)
        if got is False or (got and not _same_folder(fd, path)):
            os.close(fd)  # a sweep holds it, or removed it meanwhile: take another
            continue
        if got is None:
            os.close(fd)
            return path, DirLock(None)
        return path, DirLock(fd)
    raise FileExistsError(f"could not make a staging folder beside {target}")


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """Hold an flock on ``folder`` for the ``with`` body (if the filesystem allows it)."""
    lock = DirLock(None)
    with contextlib.suppress(OSError):
        fd = _open_dir(folder)
        if _try_flock(fd):
            lock = DirLock(fd)
        else:
            os.close(fd)
    try:
        yield
    finally:
        lock.release()


def _owner_gone(path: Path) -> DirLock | None:
    """A lock on the leftover ``path`` when no running process owns it, else None."""
    try:
        fd = _open_dir(path)
    except OSError:
        return None  # gone, or a symlink: never ours to remove
    got = _try_flock(fd)
    if got and _same_folder(fd, path):
        return DirLock(fd)
    if got is None and _same_folder(fd, path):
        st = os.fstat(fd)
        if time.time() - max(st.st_mtime, st.st_ctime) > UNLOCKABLE_AGE_SECONDS:
            os.close(fd)
            return DirLock(None)
    os.close(fd)
    return None


def leftovers(folder: Path) -> list[Path]:
    """Folders in ``folder`` with the names of a get's staging or old tree (owners unchecked)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return sorted(
        Path(e.path)
        for e in entries
        if _LEFTOVER.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
    )


def sweep(folder: Path) -> int:
    """Remove what killed gets left in ``folder`` (see the module docstring); returns how many."""
    removed = 0
    for path in leftovers(folder):
        match = _LEFTOVER.fullmatch(path.name)
        assert match is not None
        if OLD_TAG in path.name and not os.path.lexists(folder / match["target"]):
            continue  # the only copy of a target a kill left without its new tree
        lock = _owner_gone(path)
        if lock is None:
            continue
        try:
            remove_tree(path)
            removed += 1
        except OSError:
            pass  # not ours to fight over: left for the next get
        finally:
            lock.release()
    return removed
