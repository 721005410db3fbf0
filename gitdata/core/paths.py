"""Dataset paths: one normal form, and refusal of anything unsafe.

A dataset path is a relative POSIX path of one or more non-empty components,
none of which is ``.`` or ``..``, without NUL or backslash.  Every path that
comes from a manifest, a zip, a pointer or the command line passes through
:func:`normalize_dataset_path` before it is used.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

from gitdata.errors import UnsafePathError


def normalize_dataset_path(path: str, *, allow_empty: bool = False) -> str:
    """Return the normal form of ``path`` or raise :class:`UnsafePathError`.

    Redundant separators and ``./`` components are dropped; ``..`` components,
    absolute paths, drive letters, backslashes and NUL are refused.
    """
    if not isinstance(path, str):
        raise UnsafePathError(
            f"dataset path must be a string, got {type(path).__name__}", path=str(path)
        )
    if "\x00" in path:
        raise UnsafePathError("dataset path contains a NUL byte", path=path.replace("\x00", "\\0"))
    if "\\" in path:
        raise UnsafePathError(f"dataset path contains a backslash: {path!r}", path=path)
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UnsafePathError(f"dataset path is absolute: {path!r}", path=path)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePathError(f"dataset path escapes its root: {path!r}", path=path)
    if not parts:
        if allow_empty:
            return ""
        raise UnsafePathError(f"dataset path is empty: {path!r}", path=path)
    return "/".join(parts)


def is_normal_path(path: str) -> bool:
    """True if ``path`` is already in normal form (the cheap check readers use)."""
    if (
        not isinstance(path, str)
        or not path
        or path[0] == "/"
        or path[-1] == "/"
        or "//" in path
        or "\\" in path
        or "\x00" in path
    ):
        return False
    wrapped = f"/{path}/"
    if "/./" in wrapped or "/../" in wrapped:
        return False
    return not (len(path) >= 2 and path[1] == ":" and path[0].isalpha())


def join_dataset_path(folder: str, name: str) -> str:
    """Join a (possibly empty) dataset folder and a relative name."""
    return f"{folder}/{name}" if folder else name


def parent_folder(path: str) -> str:
    """The folder part of a dataset path ('' for a top-level file)."""
    idx = path.rfind("/")
    return path[:idx] if idx >= 0 else ""


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def match_pattern(path: str, pattern: str, *, recursive: bool = True) -> bool:
    """Does dataset ``path`` match a user pattern?

    A pattern without wildcards names a file or a folder (and, when
    ``recursive``, everything under it).  A pattern with wildcards is matched
    against the full path and, when ``recursive``, also against the file
    name alone, as ``clearml-data remove --files '*.jpg'`` users expect.
    With ``recursive=False`` a wildcard's ``*`` does not cross ``/``.
    """
    pattern = pattern.strip("/")
    if pattern in ("", "*") and recursive:
        return True
    if not any(ch in pattern for ch in "*?["):
        if path == pattern:
            return True
        return recursive and path.startswith(pattern + "/")
    if recursive:
        if _compile(pattern).match(path):
            return True
        name = path.rsplit("/", 1)[-1]
        return "/" not in pattern and bool(_compile(pattern).match(name))
    # Non-recursive: compare component by component so '*' stays in one folder.
    p_parts = pattern.split("/")
    f_parts = path.split("/")
    if len(p_parts) != len(f_parts):
        return False
    return all(_compile(pp).match(fp) for pp, fp in zip(p_parts, f_parts, strict=True))
