"""Pointer files: the small YAML file in git that pins one dataset version.

``.gitdata/datasets/<project>/<name>.yaml``; the spec is docs/format.md
section 9.  Encoding is canonical (fixed key order, block style), unknown
keys survive a rewrite, and every read is validated with errors that name
the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.core.ids import is_sha256, is_version_id
from gitdata.core.record import VersionRecord, canonical_stats
from gitdata.errors import FormatError, UnsafePathError

POINTER_FORMAT = 1
POINTER_DIR = ".gitdata/datasets"
HEADER = "# gitdata pointer: do not edit by hand; see docs/format.md\n"
_KNOWN = (
    "format",
    "project",
    "name",
    "version",
    "id",
    "parents",
    "manifest",
    "store",
    "tags",
    "stats",
    "bind",
)
BIND_MODES = ("link", "copy")


@dataclass
class Pointer:
    """One dataset's pinned version."""

    project: str
    name: str
    id: str
    version: str
    parents: list[str]
    manifest: str
    store: str | None = None
    tags: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    bind: dict[str, str] | None = None  # {"path": repo-relative folder, "mode": "link"|"copy"}
    extra: dict[str, Any] = field(default_factory=dict)
    format: int = POINTER_FORMAT


def _check_component(part: str, what: str) -> None:
    if (
        not part
        or part in (".", "..")
        or "\x00" in part
        or "\\" in part
        or "/" in part
        or part != part.strip()
    ):
        raise UnsafePathError(f"unsafe {what} {part!r} for a pointer file path", path=part)


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and "\x00" not in path
        and "\\" not in path
        and all(p not in ("", ".", "..") for p in parts)
    )


# folders a bound dataset can never be: git's own and gd's pointers (any depth, any case,
# trailing dots/spaces ignored as Windows does)
_RESERVED_FOLDERS = (".git", ".gitdata")


def safe_bind_path(path: object) -> bool:
    """Whether ``path`` is a folder strictly inside the work tree that a dataset may be
    bound to: relative, '/'-separated, no ``.``/``..``/empty parts, no control
    characters or drive letter, and no part naming ``.git`` or ``.gitdata``."""
    if not isinstance(path, str) or not _safe_relative(path):
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return False
    parts = path.split("/")
    if len(parts[0]) >= 2 and parts[0][1] == ":" and parts[0][0].isalpha():
        return False  # C:foo: a drive-relative path on Windows
    return all(part.rstrip(". ").lower() not in _RESERVED_FOLDERS for part in parts)


def pointer_from_record(
    record: VersionRecord,
    *,
    store: str | None = None,
    bind: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Pointer:
    """The pointer that pins a closed version."""
    return Pointer(
        project=record.project,
        name=record.name,
        id=record.id,
        version=record.version,
        parents=list(record.parents),
        manifest=record.manifest,
        store=store,
        tags=list(record.tags),
        stats=dict(record.stats),
        bind=bind,
        extra=dict(extra or {}),
    )


def pointer_relpath(project: str, name: str) -> str:
    """``.gitdata/datasets/<project>/<name>.yaml`` (nested projects become folders)."""
    if not isinstance(project, str) or not isinstance(name, str):
        raise UnsafePathError("project and name must be strings")
    for part in project.split("/"):
        _check_component(part, "project")
    _check_component(name, "name")
    return f"{POINTER_DIR}/{project}/{name}.yaml"


def encode_pointer(p: Pointer) -> str:
    """Canonical text of a pointer (byte-stable)."""
    doc: dict[str, Any] = {
        "format": p.format,
        "project": p.project,
        "name": p.name,
        "version": p.version,
        "id": p.id,
        "parents": list(p.parents),
        "manifest": p.manifest,
        "store": p.store,
        "tags": list(p.tags),
        "stats": canonical_stats(p.stats),
    }
    if p.bind:
        doc["bind"] = {"path": p.bind["path"], "mode": p.bind["mode"]}
    for key, value in p.extra.items():
        if key not in doc:
            doc[key] = value
    return HEADER + dump_yaml(doc)


def decode_pointer(text: str | bytes, source: str) -> Pointer:
    """Parse and validate a pointer; errors name ``source`` (its repo path)."""
    doc = load_yaml_mapping(text, source)

    def bad(what: str) -> FormatError:
        return FormatError(f"pointer {source}: {what}", file=source)

    fmt = doc.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise bad("'format' must be an integer")
    if fmt > POINTER_FORMAT:
        raise FormatError(
            f"pointer {source} has format {fmt}; this gd reads format {POINTER_FORMAT}",
            file=source,
            hint="upgrade gd",
        )
    if fmt != POINTER_FORMAT:
        raise bad(f"unknown format {fmt}")
    for key in ("project", "name", "version", "id", "manifest"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise bad(f"'{key}' must be a non-empty string")
    if not is_version_id(doc["id"]):
        raise bad(f"'id' is not a version id: {doc['id']!r}")
    if not is_sha256(doc["manifest"]):
        raise bad("'manifest' is not a sha256 hex digest")
    try:
        pointer_relpath(doc["project"], doc["name"])
    except UnsafePathError as exc:
        raise bad(str(exc)) from None
    parents = doc.get("parents") or []
    if not isinstance(parents, list) or not all(is_version_id(x) for x in parents):
        raise bad("'parents' must be a list of version ids")
    store = doc.get("store")
    if store is not None and not isinstance(store, str):
        raise bad("'store' must be a string or null")
    tags = doc.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad("'tags' must be a list of strings")
    stats = doc.get("stats") or {}  # absent: nothing to cross-check (never canonical zeros)
    if not isinstance(stats, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in stats.values()
    ):
        raise bad("'stats' must map names to non-negative counts")
    bind = doc.get("bind")
    if bind is not None:
        if not isinstance(bind, dict) or bind.get("mode") not in BIND_MODES:
            raise bad("'bind' must be {path: <folder inside the repository>, mode: link|copy}")
        if not safe_bind_path(bind.get("path")):
            raise bad(
                f"'bind.path' {bind.get('path')!r} must be a folder inside the work tree,"
                " outside .git and .gitdata"
            )
    return Pointer(
        project=doc["project"],
        name=doc["name"],
        id=doc["id"],
        version=doc["version"],
        parents=list(parents),
        manifest=doc["manifest"],
        store=store,
        tags=list(tags),
        stats=canonical_stats(stats) if stats else {},
        bind={"path": bind["path"], "mode": bind["mode"]} if bind else None,
        extra={k: v for k, v in doc.items() if k not in _KNOWN},
        format=fmt,
    )


_MARKERS = (b"<<<<<<< ", b"=======", b">>>>>>> ")


def has_conflict_markers(data: bytes) -> bool:
    """Whether ``data`` holds the three conflict-marker lines git writes into a file it
    could not merge (``<<<<<<< ours``, ``=======``, ``>>>>>>> theirs``)."""
    lines = data.splitlines()
    found = [any(line.startswith(m) for line in lines) for m in _MARKERS]
    return all(found)


def dataset_of_relpath(rel: str) -> tuple[str, str] | None:
    """``(project, name)`` a pointer path names (the inverse of :func:`pointer_relpath`)."""
    prefix = POINTER_DIR + "/"
    if not rel.startswith(prefix) or not rel.endswith(".yaml"):
        return None
    project, _, name = rel[len(prefix) : -len(".yaml")].rpartition("/")
    return (project, name) if project and name else None
