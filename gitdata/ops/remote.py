"""Reading single files with ranged reads, and checking a version in the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.paths import normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.core.zipchunk import decode_member
from gitdata.errors import ExternalFileChangedError, IntegrityError, LocalPathNotFoundError
from gitdata.ops.context import Context
from gitdata.ops.fetch import fetch_members
from gitdata.storage import object_key, version_key


def read_file(ctx: Context, manifest: Manifest, path: str, source: str = "dataset") -> bytes:
    """One file's content: from the cache if there, else a ranged read of its chunk member
    (as a partial get reads it, :func:`gitdata.ops.fetch.fetch_members`)."""
    return read_file_entry(ctx, find_entry(manifest, path, source))


def find_entry(manifest: Manifest, path: str, source: str = "dataset") -> FileEntry:
    """The entry of ``path`` (normalized first); :class:`LocalPathNotFoundError` when
    the version has no such file."""
    path = normalize_dataset_path(path)
    entry = manifest.get(path)
    if entry is None:
        raise LocalPathNotFoundError(f"{path} is not in {source}", path=path)
    return entry


def read_file_entry(ctx: Context, entry: FileEntry) -> bytes:
    """``entry``'s content, verified: from the cache if there, else one ranged read of
    its chunk member (or its URL, for an external file), then kept in the cache."""
    cache = ctx.cache
    if not cache.check_blobs([entry.sha256]):  # present and unchanged since verified
        data = cache.blob_path(entry.sha256).read_bytes()
        if len(data) == entry.size:
            return data
    # the path every partial get takes (ops/fetch.py): one member of a chunk is
    # always a ranged read after a HEAD that checks its extent, never a chunk download
    got: list[bytes] = []

    def deliver(e: FileEntry, data: bytes) -> None:
        cache.put_blob_bytes(e.sha256, data, verified=True)  # decode_member verified it
        got.append(data)

    fetch_members(ctx, [entry], deliver, max_workers=1, progress=NULL_PROGRESS)
    return got[0]


@dataclass
class RemoteReport:
    """What ``verify --remote`` found in the store for one version."""

    chunks: int = 0
    missing: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    links: int = 0  # external files checked at their URLs
    links_changed: list[str] = field(default_factory=list)  # "path (url)"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.short or self.corrupt or self.links_changed)


def verify_remote(
    ctx: Context,
    version_id: str,
    manifest_sha: str,
    manifest: Manifest,
    *,
    deep: bool = False,
    progress: Progress = NULL_PROGRESS,
) -> RemoteReport:
    """Every object the version reaches exists with a plausible size (and, ``deep``, its hash).

    ``progress``: "checking store objects" in chunks, or with ``deep``
    "downloading and hashing chunks" in bytes."""
    import hashlib

    store = ctx.store
    report = RemoteReport()
    needed_end: dict[str, int] = {}
    members: dict[str, list] = {}
    for e in manifest:
        if e.is_link:
            continue
        needed_end[e.chunk] = max(needed_end.get(e.chunk, 0), e.offset + e.length)
        members.setdefault(e.chunk, []).append(e)
    keys = {c: object_key(c) for c in needed_end}
    manifest_shas = [manifest_sha, *manifest.objects()]  # a paged one's pages too
    for sha in manifest_shas:
        keys[sha] = object_key(sha)
    present = store.exists_many(keys.values())
    report.missing = sorted(k for k in keys.values() if k not in present)
    if not store.exists(version_key(version_id)):
        report.missing.append(version_key(version_id))
    checked = [(c, end) for c, end in sorted(needed_end.items()) if keys[c] in present]
    if deep:
        progress.start("downloading and hashing chunks", sum(end for _, end in checked))
    else:
        start_counting(progress, "checking store objects", len(checked))
    try:
        _check_chunks(store, checked, keys, members, deep, report, progress)
    finally:
        progress.finish()
    report.links_changed = _check_links(manifest.links(), deep=deep)
    report.links = len(manifest.links())
    for sha in manifest_shas if deep else ():
        key = keys[sha]
        if key in present and hashlib.sha256(store.get_bytes(key)).hexdigest() != sha:
            report.corrupt.append(key)
    return report


def _check_chunks(
    store: Any,
    checked: list[tuple[str, int]],
    keys: dict[str, str],
    members: dict[str, list],
    deep: bool,
    report: RemoteReport,
    progress: Progress,
) -> None:
    """Size (and, ``deep``, hash and members) of each present chunk into ``report``."""
    import hashlib

    for chunk, end in checked:
        key = keys[chunk]
        progress.advance(end if deep else 1)
        report.chunks += 1
        if store.size(key) < end:
            report.short.append(key)
            continue
        if deep:
            data = store.get_bytes(key)
            if hashlib.sha256(data).hexdigest() != chunk:
                report.corrupt.append(key)
                continue
            for e in members[chunk]:
                try:
                    decode_member(
                        data[e.offset : e.offset + e.length], e.method, e.size, e.sha256, key
                    )
                except IntegrityError:
                    report.corrupt.append(f"{key} ({e.path})")
                    break


def _check_links(links: list[FileEntry], *, deep: bool) -> list[str]:
    """The external files that changed at their URLs: gone, another size or ETag
    (cheap: one stat each), or, ``deep``, other content."""
    from gitdata.ops.links import read_link
    from gitdata.storage.links import stat_object

    changed = []
    for e in links:
        assert e.url is not None
        now = stat_object(e.url)
        if now is None or now[0] != e.size or (e.etag is not None and now[1] not in (None, e.etag)):
            changed.append(f"{e.path} ({e.url})")
            continue
        if deep:
            try:
                read_link(e)
            except ExternalFileChangedError:
                changed.append(f"{e.path} ({e.url})")
    return changed
