"""Reading closed versions: records, manifests, search, dependency graph."""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Sequence
from typing import Protocol, TypeVar

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.core.ids import is_version_id, version_sort_key
from gitdata.core.lineage import ancestors
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.record import VersionRecord
from gitdata.errors import (
    DatasetNotFoundError,
    FormatError,
    GitDataError,
    IntegrityError,
    InvalidInputError,
    ObjectNotFoundError,
)
from gitdata.ops.context import Context
from gitdata.ops.events import current_record, store_events, with_events
from gitdata.ops.state import atomic_write
from gitdata.storage import object_key, version_key
from gitdata.storage.fsstore import FsspecStore


class UnreadableRecordWarning(UserWarning):
    """A version record in the store could not be read and was left out of a listing."""


def load_record(ctx: Context, version_id: str) -> VersionRecord:
    """The closed version ``version_id`` (local record cache first, then the store),
    with the store's metadata events applied (renames, descriptions, publish)."""
    if not is_version_id(version_id):
        raise InvalidInputError(
            f"not a dataset id: {version_id!r}",
            hint="ids are 32 hex characters (gd search lists them)",
        )
    return current_record(ctx, load_raw_record(ctx, version_id))


def load_raw_record(ctx: Context, version_id: str) -> VersionRecord:
    """The record of ``version_id`` as stored, without its metadata events."""
    local = ctx.records_dir / f"{version_id}.yaml"
    try:
        return VersionRecord.from_dict(
            load_yaml_mapping(local.read_bytes(), str(local)), str(local)
        )
    except FileNotFoundError:
        pass
    except Exception:
        with contextlib.suppress(OSError):
            local.unlink()  # a damaged local copy is dropped and refetched
    key = version_key(version_id)
    try:
        data = ctx.store.get_bytes(key)
    except ObjectNotFoundError:
        raise DatasetNotFoundError(
            f"dataset version {version_id} not found in store {ctx.store.url}",
            dataset_id=version_id,
            hint="check --storage / GD_STORAGE, or list versions with gd search",
        ) from None
    record = VersionRecord.from_dict(load_yaml_mapping(data, key), f"{ctx.store.url}/{key}")
    if record.id != version_id:
        raise IntegrityError(f"record {key} holds id {record.id}", key=key)
    _cache_record(ctx, record, data)
    return record


def _cache_record(ctx: Context, record: VersionRecord, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the local copy is only an optimisation
        ctx.records_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(ctx.records_dir / f"{record.id}.yaml", data)


def forget_record(ctx: Context, version_id: str) -> None:
    """Drop a record from the local record cache (after delete)."""
    with contextlib.suppress(FileNotFoundError):
        (ctx.records_dir / f"{version_id}.yaml").unlink()


def encode_record(record: VersionRecord) -> bytes:
    """Canonical YAML bytes of a record."""
    return dump_yaml(record.to_dict()).encode("utf-8")


# Manifests are immutable (named by their hash): one decode per process is enough.
_MANIFESTS: dict[str, Manifest] = {}
_MANIFEST_MEMO_MAX = 32


def load_manifest(ctx: Context, sha256: str) -> Manifest:
    """The manifest object ``sha256``, verified by hash, through the blob cache."""
    hit = _MANIFESTS.get(sha256)
    if hit is not None:
        return hit
    manifest = _load_manifest(ctx, sha256)
    if len(_MANIFESTS) >= _MANIFEST_MEMO_MAX:
        _MANIFESTS.pop(next(iter(_MANIFESTS)))
    _MANIFESTS[sha256] = manifest
    return manifest


def _load_manifest(ctx: Context, sha256: str) -> Manifest:
    data = load_manifest_object(ctx, sha256, "manifest")
    source = f"{ctx.store.url}/{object_key(sha256)}"
    return Manifest.decode(
        data, source, lambda sha: load_manifest_object(ctx, sha, "manifest page")
    )


def load_manifest_object(ctx: Context, sha256: str, what: str = "manifest") -> bytes:
    """The bytes of a manifest object (a manifest, or a page or delta of a paged one),
    verified by hash, from the blob cache or the store (and then kept in the cache)."""
    cache = ctx.cache
    if cache.has_blob(sha256):
        data = cache.blob_path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
        cache.remove_blob(sha256)
    key = object_key(sha256)
    try:
        data = ctx.store.get_bytes(key)
    except ObjectNotFoundError:
        raise IntegrityError(
            f"{what} {sha256} is missing from store {ctx.store.url}",
            key=key,
            hint="the store is incomplete; run gd verify --remote or restore it",
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise IntegrityError(
            f"{what} object {key} is corrupt in store {ctx.store.url} (sha256 mismatch)",
            key=key,
            expected=sha256,
            actual=actual,
        )
    cache.put_blob_bytes(sha256, data)
    return data


def list_record_ids(ctx: Context, store: FsspecStore | None = None) -> list[str]:
    """Ids of every closed version in the store (``ctx``'s, or ``store``): one
    listing, no record is read."""
    ids = []
    for key in (store or ctx.store).list("versions/"):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".yaml") and is_version_id(name[:-5]):
            ids.append(name[:-5])
    return ids


def list_records(ctx: Context) -> list[VersionRecord]:
    """Every closed version in the store, oldest first."""
    records = []
    events = store_events(ctx)
    for vid in list_record_ids(ctx):
        record = read_listed_record(ctx, vid)
        if record is not None:
            records.append(with_events(record, events))
    records.sort(key=lambda r: (r.created, r.id))
    return records


def read_listed_record(
    ctx: Context, version_id: str, *, quiet: bool = False
) -> VersionRecord | None:
    """The raw record of a listed id; None when it was deleted meanwhile or is
    unreadable (then with an :class:`UnreadableRecordWarning`, unless ``quiet``)."""
    try:
        return load_raw_record(ctx, version_id)
    except DatasetNotFoundError:
        return None  # deleted while we listed
    except (FormatError, IntegrityError) as exc:
        if quiet:
            return None
        # one bad record (a newer gd's format, a damaged or forged file) must not
        # lock everyone out of the store: skip it, say so
        warnings.warn(
            f"skipped unreadable version record {version_key(version_id)} in {ctx.store.url}: "
            f"{exc}",
            UnreadableRecordWarning,
            stacklevel=3,
        )
        return None


class Listed(Protocol):
    """What :func:`find_latest` reads of a record (a record or a record header)."""

    @property
    def project(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def created(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...


L = TypeVar("L", bound=Listed)


def find_latest(
    records: Sequence[L],
    project: str | None,
    name: str | None,
    version: str | None = None,
    tags: list[str] | None = None,
) -> L | None:
    """The newest record (or header) matching project / name / version / all tags."""
    hits = [
        r
        for r in records
        if (project is None or r.project == project)
        and (name is None or r.name == name)
        and (version is None or r.version == version)
        and (not tags or set(tags) <= set(r.tags))
    ]
    if not hits:
        return None
    return max(hits, key=lambda r: (r.created, version_sort_key(r.version)))


def dependency_graph(ctx: Context, version_id: str, parents: list[str]) -> dict[str, list[str]]:
    """id -> parent ids for ``version_id`` and every ancestor that still exists."""
    graph: dict[str, list[str]] = {version_id: list(parents)}

    def parents_of(vid: str) -> list[str]:
        if vid in graph:
            return graph[vid]
        try:
            graph[vid] = list(load_record(ctx, vid).parents)
        except DatasetNotFoundError:
            graph[vid] = []
        return graph[vid]

    ancestors([version_id], parents_of)
    return graph


def manifest_objects(ctx: Context, manifest_sha: str, *, strict: bool = False) -> set[str]:
    """Hashes of every store object a manifest reaches: itself, a paged manifest's
    pages and delta (docs/format.md §4b), and every chunk its entries name.

    A damaged manifest gives what could be named before the damage (its own hash at
    least), unless ``strict``, which raises the error instead."""
    names = {manifest_sha}
    try:
        manifest = load_manifest(ctx, manifest_sha)
        names.update(manifest.objects())
        names |= manifest.chunks()
    except GitDataError:
        if strict:
            raise
    return names


def comparable_files(
    old: Manifest, new: Manifest
) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    """Two manifests as file maps to diff or summarise: only the paths where they can
    differ when they are paged and share pages (a child against its parent costs its
    delta), else every file of each."""
    from gitdata.core.pages import narrowed

    pair = narrowed(old, new)
    return pair if pair is not None else (old.as_dict(), new.as_dict())


def parent_comparable(
    ctx: Context, parents: list[str], manifest: Manifest
) -> tuple[dict[str, FileEntry], dict[str, FileEntry]]:
    """A closed version's manifest and its merged parents as file maps to diff or
    summarise (see :func:`comparable_files`; several parents: merged in full)."""
    parent = single_parent_manifest(ctx, parents)
    if parent is not None:
        return comparable_files(parent, manifest)
    return ctx.parent_files(parents), manifest.as_dict()


def single_parent_manifest(ctx: Context, parents: list[str]) -> Manifest | None:
    """The manifest of the one parent, or None for none or several (their merged view
    is no manifest)."""
    if len(parents) != 1:
        return None
    return load_manifest(ctx, load_record(ctx, parents[0]).manifest)
