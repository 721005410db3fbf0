"""Store keys: where objects and version records live inside a store."""

from __future__ import annotations

from gitdata.core.ids import is_sha256, is_version_id
from gitdata.errors import InvalidInputError

MARKER_KEY = "gitdata-store.yaml"
OBJECTS_PREFIX = "objects/"
VERSIONS_PREFIX = "versions/"


def object_key(sha256: str) -> str:
    """``objects/ab/<sha256>`` for a chunk or manifest."""
    if not is_sha256(sha256):
        raise InvalidInputError(f"not a sha256 hex digest: {sha256!r}")
    return f"{OBJECTS_PREFIX}{sha256[:2]}/{sha256}"


def version_key(version_id: str) -> str:
    """``versions/<id>.yaml`` for a version record."""
    if not is_version_id(version_id):
        raise InvalidInputError(f"not a version id: {version_id!r}")
    return f"{VERSIONS_PREFIX}{version_id}.yaml"
