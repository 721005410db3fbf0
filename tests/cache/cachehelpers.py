"""Helpers shared by the cache layer's tests."""

from __future__ import annotations

import hashlib

from gitdata.cache import LocalCache


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_files(cache: LocalCache, contents: dict[str, bytes]) -> list[tuple[str, str]]:
    """Store each content as a blob; return the (path, sha256) list for it."""
    for data in contents.values():
        cache.put_blob_bytes(sha(data), data)
    return [(rel, sha(data)) for rel, data in contents.items()]


def tmp_entries(cache: LocalCache) -> list[str]:
    """What sits in the cache's staging folder."""
    tmp = cache.root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def ckey(name: str) -> str:
    """A copy key of the shape gd makes (a version id) standing for ``name``."""
    return hashlib.md5(name.encode()).hexdigest()  # noqa: S324 - a name, not security
