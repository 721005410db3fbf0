"""Adding external files (links) to a draft, and reading them back verified."""

from __future__ import annotations

from collections.abc import Sequence

from gitdata.core.manifest import FileEntry
from gitdata.core.paths import is_normal_path, join_dataset_path, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.errors import ExternalFileChangedError, InvalidInputError, UnsafePathError
from gitdata.ops.context import Context
from gitdata.ops.drafts import check_path_limits, editing
from gitdata.ops.state import DraftFile
from gitdata.storage import run_parallel
from gitdata.storage.links import RemoteObject, hash_object, list_objects, read_object


def add_links(
    ctx: Context,
    draft_id: str,
    source_url: str | Sequence[str],
    *,
    wildcard: str | list[str] | None = None,
    dataset_path: str | None = None,
    recursive: bool = True,
    max_workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> int:
    """Link every object at the URLs into the draft; returns how many paths were added or changed.

    A URL naming one object adds it as ``dataset_path/<its name>``; a folder (prefix)
    adds each object below it at ``dataset_path/<its path below the URL>``.  Every
    URL is listed and every object hashed before the draft changes.
    """
    urls = [source_url] if isinstance(source_url, str) else list(source_url)
    if not urls:
        raise InvalidInputError("no URLs to link")
    patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard or [])
    folder = normalize_dataset_path(dataset_path or "", allow_empty=True)
    planned: dict[str, RemoteObject] = {}
    for url in urls:
        found = list_objects(url, recursive=recursive, patterns=patterns)
        if not found and not patterns:
            raise InvalidInputError(f"no objects at {url}", hint="check the URL")
        for obj in found:
            if not is_normal_path(obj.rel):
                raise UnsafePathError(
                    f"object {obj.url} has no safe dataset path ({obj.rel!r})", path=obj.rel
                )
            target = join_dataset_path(folder, obj.rel)
            seen = planned.get(target)
            if seen is not None and seen.url != obj.url:
                raise InvalidInputError(
                    f"{seen.url} and {obj.url} would both land at {target}",
                    hint="link them in separate calls with different --dataset-folder",
                )
            planned[target] = obj
    check_path_limits(planned)
    progress.start("hashing links", sum(o.size for o in planned.values()))
    objects = list({o.url: o for o in planned.values()}.values())

    def hash_one(obj: RemoteObject) -> tuple[int, str]:
        result = hash_object(obj.url)
        progress.advance(obj.size)
        return result

    results = run_parallel(hash_one, objects, max_workers)
    hashed = {o.url: r for o, r in zip(objects, results, strict=True)}
    progress.finish()
    changed = 0
    with editing(ctx, draft_id) as draft:
        for target, obj in planned.items():
            size, sha = hashed[obj.url]
            new = DraftFile(size, sha, url=obj.url, etag=obj.etag)
            old = draft.files.get(target)
            if old is not None and old.to_entry(target) == new.to_entry(target):
                continue
            draft.files[target] = new
            changed += 1
    return changed


def read_link(entry: FileEntry) -> bytes:
    """The content of an external file, checked against its entry's size and sha256;
    :class:`ExternalFileChangedError` when the object changed or is gone."""
    import hashlib

    assert entry.url is not None
    data = read_object(entry.url, entry.size)
    if data is None:
        raise ExternalFileChangedError(
            f"external file {entry.path} is gone from {entry.url}",
            url=entry.url,
            path=entry.path,
            hint="the linked object was deleted; restore it or make a new version without it",
        )
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise ExternalFileChangedError(
            f"external file {entry.path} changed at {entry.url} since it was added "
            f"(recorded {entry.size} bytes, sha256 {entry.sha256[:12]})",
            url=entry.url,
            path=entry.path,
            hint="restore the object, or link it again in a new version",
        )
    return data
