"""Walking local folders and hashing their files (with the stat cache).

Symlinks are followed only when their target stays inside the root being
added; others are refused with a clear error, so adding a folder can never
pull in files from elsewhere by accident.  The marker gd writes in each tree
it makes (ops/target.py) is skipped: it is bookkeeping, not data.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

from gitdata.cache import StatCache
from gitdata.core.paths import match_pattern, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.errors import LocalPathNotFoundError, UnsafePathError
from gitdata.ops.target import MARKER_NAME, is_marker_file

_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file found on disk: its path relative to the scan root, absolute path, stat."""

    rel: str
    abspath: str
    size: int
    mtime_ns: int
    st: os.stat_result


def scan_folder(
    root: Path, *, recursive: bool = True, wildcard: str | list[str] | None = None
) -> list[LocalFile]:
    """Every regular file under ``root`` (or ``root`` itself if it is a file)."""
    root_str = os.path.abspath(root)
    try:
        st = os.stat(root_str)
    except FileNotFoundError:
        raise LocalPathNotFoundError(f"path does not exist: {root}", path=str(root)) from None
    patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard or [])
    if stat_mod.S_ISREG(st.st_mode):
        name = os.path.basename(root_str)
        if patterns and not any(match_pattern(name, p) for p in patterns):
            return []
        return [LocalFile(name, root_str, st.st_size, st.st_mtime_ns, st)]
    real_root = os.path.realpath(root_str)
    out: list[LocalFile] = []
    stack = [(root_str, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for de in it:
                rel = f"{prefix}{de.name}"
                if de.is_symlink():
                    target = os.path.realpath(de.path)
                    if target != real_root and not target.startswith(real_root + os.sep):
                        raise UnsafePathError(
                            f"symlink {de.path} points outside the added folder",
                            path=de.path,
                            hint="add the link's target folder itself, or remove the link",
                        )
                try:
                    is_dir = de.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if recursive:
                        stack.append((de.path, rel + "/"))
                    continue
                try:
                    fst = de.stat()
                except FileNotFoundError:
                    continue  # dangling link or file removed while scanning
                if not stat_mod.S_ISREG(fst.st_mode):
                    continue
                if de.name == MARKER_NAME and is_marker_file(de.path):
                    continue  # gd's record of a tree it made, not data
                if patterns and not any(
                    match_pattern(rel, p, recursive=recursive) for p in patterns
                ):
                    continue
                if "\\" in de.name:
                    normalize_dataset_path(rel)  # raises UnsafePathError naming it
                out.append(LocalFile(rel, de.path, fst.st_size, fst.st_mtime_ns, fst))
    out.sort(key=lambda f: f.rel.encode())
    return out


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
    files: list[LocalFile], stat_cache: StatCache | None, progress: Progress = NULL_PROGRESS
) -> dict[str, str]:
    """abspath -> sha256 for ``files``, reusing the stat cache for unchanged files.

    Serial on purpose: for many small files a thread pool measured 4-6x
    slower here (DESIGN.md, "Performance facts").
    """
    known: dict[str, str] = {}
    if stat_cache is not None and files:
        known = stat_cache.lookup_many([(f.abspath, f.st) for f in files])
    todo = [f for f in files if f.abspath not in known]
    progress.start("hashing", sum(f.size for f in todo))
    fresh: list[tuple[str, os.stat_result, str]] = []
    for f in todo:
        try:
            digest = hash_file(f.abspath)
        except FileNotFoundError:
            raise LocalPathNotFoundError(
                f"file vanished while hashing: {f.abspath}", path=f.abspath
            ) from None
        known[f.abspath] = digest
        fresh.append((f.abspath, f.st, digest))
        progress.advance(f.size)
    progress.finish()
    if stat_cache is not None and fresh:
        stat_cache.store_many(fresh)
    return known
