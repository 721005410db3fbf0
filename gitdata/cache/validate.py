"""Checks on the names the cache is handed: blob hashes, copy keys, relative paths."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gitdata.cache.owned import is_copy_key
from gitdata.errors import InvalidInputError, UnsafePathError

_SHA_RE = re.compile(r"[0-9a-f]{64}")


def check_sha(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits, else InvalidInputError."""
    if not isinstance(sha256, str) or not _SHA_RE.fullmatch(sha256):
        raise InvalidInputError(f"not a sha256 hex digest: {sha256!r}", sha256=str(sha256))
    return sha256


def check_key(key: str) -> str:
    """``key`` if it is a copy key of gd's shape:
    ``<version id>[.filter-<16 hex>][.part-<i>-of-<n>]``."""
    if not isinstance(key, str) or not is_copy_key(key):
        raise InvalidInputError(
            f"invalid cache copy key {key!r}",
            key=str(key),
            hint="copy keys are a version id (32 hex digits), optionally "
            ".filter-<16 hex> and .part-<i>-of-<n>",
        )
    return key


def check_relpath(rel: str) -> None:
    """Refuse a dataset path that is empty, absolute, has '', '.' or '..' parts, or NUL."""
    if (
        not isinstance(rel, str)
        or not rel
        or rel[0] == "/"
        or "\x00" in rel
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise UnsafePathError(f"unsafe path in dataset: {rel!r}", path=repr(rel))


def check_files(files: Iterable[tuple[str, str]]) -> None:
    """Check every (relative path, sha256) pair before any of them touches the disk."""
    for rel, sha in files:
        check_relpath(rel)
        check_sha(sha)
