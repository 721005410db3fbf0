"""Version ids and semantic version strings."""

from __future__ import annotations

import re
import secrets

_ID_RE = re.compile(r"[0-9a-f]{32}")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")

DEFAULT_VERSION = "1.0.0"


def new_version_id() -> str:
    """A random 128-bit id in lowercase hex (the shape ClearML uses)."""
    return secrets.token_hex(16)


def is_version_id(value: object) -> bool:
    """True for a 32-character lowercase hex id."""
    return isinstance(value, str) and bool(_ID_RE.fullmatch(value))  # "$" would take "...\n"


def is_sha256(value: object) -> bool:
    """True for a 64-character lowercase hex digest."""
    return isinstance(value, str) and bool(_SHA_RE.match(value))


def _version_key(version: str) -> tuple[int, int, int] | None:
    m = _VERSION_RE.match(version)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def version_sort_key(version: str) -> tuple[int, tuple[int, int, int] | str]:
    """Order semantic versions numerically and any other strings after them, lexically."""
    key = _version_key(version)
    return (0, key) if key is not None else (1, version)


def next_version(existing: list[str]) -> str:
    """The auto-bumped version: patch + 1 of the highest semantic version, else 1.0.0."""
    keys = [k for k in (_version_key(v) for v in existing) if k is not None]
    if not keys:
        return DEFAULT_VERSION
    major, minor, patch = max(keys)
    return f"{major}.{minor}.{patch + 1}"
