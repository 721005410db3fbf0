"""Dataset paths: one normal form, and refusal of anything unsafe.

A dataset path is a relative POSIX path of one or more non-empty components,
none of which is ``.`` or ``..``, without NUL or backslash, encodable as UTF-8
(no lone surrogates) and within the limits below (docs/format.md, section 6).
Every path that comes from a manifest, a zip, a pointer or the command line
passes through :func:`normalize_dataset_path` (or, already normal, through
:func:`is_normal_path`) before it is used.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache

from gitdata.errors import InvalidInputError, UnsafePathError

# Limits every dataset path keeps (docs/format.md, section 6), so that any version
# can be written out on Linux and macOS: a component is at most NAME_MAX bytes, a
# path at most PATH_MAX - 1 bytes (PATH_MAX counts the terminating NUL), and at most
# MAX_PATH_DEPTH components deep (deeper trees break recursive tree walkers).
MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4095
MAX_PATH_DEPTH = 256
# characters: a path this short keeps every byte limit (4 bytes at most per character)
SHORT_PATH_CHARS = MAX_COMPONENT_BYTES // 4


def brief_path(path: str, limit: int = 80) -> str:
    """``repr(path)`` for a one-line message: a long path is cut in the middle and its
    length given (lone surrogates and control characters are escaped by ``repr``)."""
    text = repr(path)
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]}...{text[-half:]} ({len(path)} characters)"


def limit_problem(path: str) -> str | None:
    """Why ``path`` (a string of '/'-separated components) cannot be a dataset path
    although it may be in normal form: not encodable as UTF-8, a component longer
    than :data:`MAX_COMPONENT_BYTES`, more than :data:`MAX_PATH_BYTES` or deeper than
    :data:`MAX_PATH_DEPTH`; None when it keeps every limit."""
    try:
        data = path.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode (character {path[exc.start]!r} cannot be stored as UTF-8)"
    if len(data) <= MAX_COMPONENT_BYTES:
        return None  # the common case: nothing below can fail
    if len(data) > MAX_PATH_BYTES:
        return f"is {len(data)} bytes long, over the limit of {MAX_PATH_BYTES}"
    parts = data.split(b"/")
    if len(parts) > MAX_PATH_DEPTH:
        return f"is {len(parts)} folders deep, over the limit of {MAX_PATH_DEPTH}"
    longest = max(parts, key=len)
    if len(longest) > MAX_COMPONENT_BYTES:
        return f"has a name of {len(longest)} bytes, over the limit of {MAX_COMPONENT_BYTES}"
    return None


def check_path_room(root: str, paths: Iterable[str], *, what: str = "folder") -> None:
    """Refuse (:class:`InvalidInputError`) to write ``paths`` under the absolute folder
    ``root`` when ``root/path`` would exceed :data:`MAX_PATH_BYTES` for one of them
    (the operating system would refuse that file half-way through)."""
    room = MAX_PATH_BYTES - len(root.encode("utf-8", "surrogateescape")) - 1
    longest = max(paths, key=lambda p: len(p.encode("utf-8")), default="")
    need = len(longest.encode("utf-8"))
    if need > room:
        raise InvalidInputError(
            f"path {brief_path(longest)} of this version ({need} bytes) does not fit under "
            f"the {what} {brief_path(root)}: the whole path would be over {MAX_PATH_BYTES} "
            "bytes",
            path=longest,
            hint="write it into a folder with a shorter path",
        )


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
    normal = "/".join(parts)
    problem = limit_problem(normal)
    if problem is not None:
        raise UnsafePathError(f"dataset path {brief_path(normal)} {problem}", path=normal)
    return normal


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
    if len(path) >= 2 and path[1] == ":" and path[0].isalpha():
        return False
    return limit_problem(path) is None


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
