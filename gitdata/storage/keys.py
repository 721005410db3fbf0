"""Store keys: where objects and version records live inside a store."""

from __future__ import annotations

import re

from gitdata.errors import InvalidInputError

MARKER_KEY = "gitdata-store.yaml"
OBJECTS_PREFIX = "objects/"
VERSIONS_PREFIX = "versions/"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def object_key(sha256: str) -> str:
    """``objects/ab/<sha256>`` for a chunk or manifest."""
    if not _SHA_RE.match(sha256 or ""):
        raise InvalidInputError(f"not a sha256 hex digest: {sha256!r}")
    return f"{OBJECTS_PREFIX}{sha256[:2]}/{sha256}"


def version_key(version_id: str) -> str:
    """``versions/<id>.yaml`` for a version record."""
    if not _ID_RE.match(version_id or ""):
        raise InvalidInputError(f"not a version id: {version_id!r}")
    return f"{VERSIONS_PREFIX}{version_id}.yaml"
