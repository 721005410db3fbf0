"""The version record: everything about one closed version except its file list.

A record is stored as ``versions/<id>.yaml``; its presence is the commit
point of the version (docs/format.md, "Version record").  This module turns
records into plain ordered dicts and back, validating every field; YAML
encoding lives in :mod:`gitdata.codec`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from typing import Any

from gitdata.core.ids import is_sha256, is_version_id
from gitdata.errors import FormatError

RECORD_FORMAT = 1
STATE_CLOSED = "closed"
STAT_KEYS = ("files", "bytes", "added", "modified", "removed")
# Present only when the change set holds renames (records closed before it have none).
RENAMED_STAT = "renamed"
# Only in versions with several parents: the change set against the first parent
# (what the merge brought in), as git shows a merge commit.
MERGE_STAT_KEYS = ("merged_added", "merged_modified", "merged_removed")


def canonical_stats(stats: dict[str, int]) -> dict[str, int]:
    """Stats in canonical key order: every STAT_KEYS entry, merge keys when present."""
    out = {k: int(stats.get(k, 0)) for k in STAT_KEYS}
    if stats.get(RENAMED_STAT):
        out[RENAMED_STAT] = int(stats[RENAMED_STAT])
    out.update({k: int(stats[k]) for k in MERGE_STAT_KEYS if k in stats})
    return out


_KNOWN = (
    "format",
    "id",
    "project",
    "name",
    "version",
    "parents",
    "manifest",
    "stats",
    "tags",
    "description",
    "metadata",
    "created",
    "state",
)


def utc_now() -> str:
    """Current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class VersionRecord:
    """One closed dataset version."""

    id: str
    project: str
    name: str
    version: str
    parents: list[str]
    manifest: str
    stats: dict[str, int]
    tags: list[str] = field(default_factory=list)
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    state: str = STATE_CLOSED
    extra: dict[str, Any] = field(default_factory=dict)
    # What the store's metadata events (docs/format.md §13) make of the record: never
    # part of the record's own bytes (to_dict leaves them out), set by the reader.
    published: bool = False
    published_at: str | None = None
    former_names: list[tuple[str, str]] = field(default_factory=list)
    meta_history: list[dict[str, Any]] = field(default_factory=list)

    def had_name(self, project: str, name: str) -> bool:
        """Whether the version is or was ``project/name`` (a rename keeps old pointers valid)."""
        return (project, name) == (self.project, self.name) or (project, name) in self.former_names

    def to_dict(self) -> dict[str, Any]:
        """Ordered plain dict in canonical key order; unknown keys last."""
        out: dict[str, Any] = {
            "format": RECORD_FORMAT,
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "parents": list(self.parents),
            "manifest": self.manifest,
            "stats": canonical_stats(self.stats),
            "tags": list(self.tags),
            "description": self.description,
            "metadata": dict(self.metadata),
            "created": self.created,
            "state": self.state,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> VersionRecord:
        """Validate a parsed record; raise :class:`FormatError` naming ``source``."""

        def bad(what: str) -> FormatError:
            return FormatError(f"version record {source}: {what}", file=source)

        fmt = data.get("format")
        if fmt != RECORD_FORMAT:
            if isinstance(fmt, int) and fmt > RECORD_FORMAT:
                raise FormatError(
                    f"version record {source} has format {fmt}; this gd reads format {RECORD_FORMAT}",
                    file=source,
                    hint="upgrade gd",
                )
            raise bad(f"unknown format {fmt!r}")
        for key in ("id", "project", "name", "version", "manifest", "created", "state"):
            if not isinstance(data.get(key), str) or (key != "created" and not data.get(key)):
                raise bad(f"'{key}' must be a non-empty string")
        if not is_version_id(data["id"]):
            raise bad(f"bad id {data['id']!r}")
        if not is_sha256(data["manifest"]):
            raise bad("manifest must be a sha256 hex digest")
        parents = data.get("parents") or []
        if not isinstance(parents, list) or not all(is_version_id(p) for p in parents):
            raise bad("parents must be a list of version ids")
        if len(set(parents)) != len(parents) or data["id"] in parents:
            raise bad("parents must be distinct and must not include the version itself")
        stats = data.get("stats") or {}
        if not isinstance(stats, dict) or not all(
            isinstance(stats.get(k, 0), int) and stats.get(k, 0) >= 0
            for k in (*STAT_KEYS, RENAMED_STAT, *MERGE_STAT_KEYS)
        ):
            raise bad("stats must map files/bytes/added/modified/removed to counts")
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise bad("tags must be a list of strings")
        description = data.get("description") or ""
        if not isinstance(description, str):
            raise bad("description must be a string")
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise bad("metadata must be a mapping")
        if data["state"] != STATE_CLOSED:
            raise bad(f"unknown state {data['state']!r}")
        return cls(
            id=data["id"],
            project=data["project"],
            name=data["name"],
            version=data["version"],
            parents=list(parents),
            manifest=data["manifest"],
            stats=canonical_stats(stats),
            tags=list(tags),
            description=description,
            metadata=dict(metadata),
            created=data["created"],
            state=data["state"],
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )


@dataclass(frozen=True)
class RecordHeader:
    """What listings, latest and auto-bump need of a record: the fields it never
    changes, plus ``project``/``name``, which metadata events may change (a header
    built from a raw record holds the raw names; see :meth:`renamed`)."""

    id: str
    project: str
    name: str
    version: str
    created: str
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, record: VersionRecord) -> RecordHeader:
        """The header of ``record`` (its names as the record holds them)."""
        return cls(
            record.id,
            record.project,
            record.name,
            record.version,
            record.created,
            tuple(record.tags),
        )

    def renamed(self, project: str, name: str) -> RecordHeader:
        """The same header under another project/name."""
        return replace(self, project=project, name=name)
