"""Commands that build versions: create, add, remove, sync, upload, close."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gitdata.cli.app import app
from gitdata.cli.output import RichProgress, emit_json, note, say, warn_merge_conflicts

ID_HELP = "Dataset id (default: the dataset created or used last)."
JSON_HELP = "Print machine-readable JSON on stdout."

if TYPE_CHECKING:
    from gitdata.ops.context import Context
    from gitdata.ops.state import OneShotClaim


def open_target(dataset_id: str | None, storage: str | None = None):
    """The Dataset a command acts on; remembers it as the current one."""
    from gitdata.api import open_dataset
    from gitdata.ops.context import Context
    from gitdata.ops.resolve import current_id

    if not dataset_id:
        dataset_id = current_id(Context.for_storage(storage))
    ds = open_dataset(dataset_id, storage)
    ds._ctx.state.set_current(ds.id)
    ds.progress = RichProgress.maybe()
    return ds


@app.command()
def create(
    project: str = typer.Option(..., "--project", help="Project the dataset belongs to."),
    name: str = typer.Option(..., "--name", help="Dataset name."),
    version: str = typer.Option(
        None, "--version", help="Version string (default: bump the latest)."
    ),
    parents: list[str] = typer.Option(
        None, "--parents", help="Parent version ids, merged in order."
    ),
    tags: list[str] = typer.Option(None, "--tags", help="Tags."),
    description: str = typer.Option(None, "--description", help="Free text."),
    storage: str = typer.Option(None, "--storage", help="Store URL for this version."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Create a new draft dataset version (it becomes the current dataset)."""
    from gitdata.api import Dataset

    ds = Dataset.create(
        dataset_name=name,
        dataset_project=project,
        dataset_tags=tags or None,
        parent_datasets=parents or None,
        dataset_version=version,
        description=description,
        output_uri=storage,
    )
    if json_out:
        emit_json(
            {
                "id": ds.id,
                "project": ds.project,
                "name": ds.name,
                "version": ds.version,
                "parents": ds.parents,
                "tags": ds.tags,
                "state": "draft",
                "conflicts": ds.merge_conflicts,
            }
        )
    else:
        warn_merge_conflicts(ds.merge_conflicts)
        say(ds.id)
        note(f"created draft {ds.project}/{ds.name} {ds.version} (id {ds.id})")


@app.command()
def add(
    dataset_id: str = typer.Option(None, "--id", help=ID_HELP),
    files: list[str] = typer.Option(..., "--files", help="Files or folders to add."),
    dataset_folder: str = typer.Option(
        None, "--dataset-folder", help="Place files under this dataset folder."
    ),
    wildcard: list[str] = typer.Option(
        None, "--wildcard", help="Only add files matching these patterns."
    ),
    non_recursive: bool = typer.Option(
        False, "--non-recursive", help="Do not descend into sub-folders."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add files or folders to a draft."""
    ds = open_target(dataset_id)
    # one call for every source: colliding dataset paths are refused before anything changes
    total = ds.add_files(
        list(files),
        wildcard=wildcard or None,
        dataset_path=dataset_folder,
        recursive=not non_recursive,
    )
    if json_out:
        emit_json({"id": ds.id, "added": total})
    else:
        say(f"{total} file(s) added or changed in {ds.id}")


@app.command()
def remove(
    dataset_id: str = typer.Option(None, "--id", help=ID_HELP),
    files: list[str] = typer.Option(..., "--files", help="Dataset paths or wildcards to remove."),
    non_recursive: bool = typer.Option(
        False, "--non-recursive", help="Wildcards do not cross folders."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Remove files from a draft (nothing is downloaded)."""
    ds = open_target(dataset_id)
    total = sum(ds.remove_files(p, recursive=not non_recursive) for p in files)
    if json_out:
        emit_json({"id": ds.id, "removed": total})
    else:
        say(f"{total} file(s) removed from {ds.id}")


@app.command()
def sync(
    dataset_id: str = typer.Option(None, "--id", help=ID_HELP),
    folder: Path = typer.Option(
        ..., "--folder", help="Local folder that becomes the dataset's content."
    ),
    dataset_folder: str = typer.Option(
        None, "--dataset-folder", help="Sync only this dataset folder."
    ),
    project: str = typer.Option(
        None,
        "--project",
        help="With --name: create a new version, sync, close (an interrupted run resumes).",
    ),
    name: str = typer.Option(
        None,
        "--name",
        help="With --project: create a new version, sync, close (an interrupted run resumes).",
    ),
    parents: list[str] = typer.Option(None, "--parents", help="Parents of the new version."),
    tags: list[str] = typer.Option(None, "--tags", help="Tags of the new version."),
    storage: str = typer.Option(None, "--storage", help="Store URL."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Make a draft exactly the content of a local folder (added, modified, removed)."""
    one_shot = project is not None or name is not None
    if one_shot:
        if dataset_id:
            raise typer.BadParameter("give either --id or --project/--name, not both")
        ds, result, resumed = _one_shot_sync(
            project, name, folder, dataset_folder, parents or [], tags or [], storage
        )
    else:
        ds = open_target(dataset_id)
        removed, added, modified = ds.sync_folder(folder, dataset_path=dataset_folder)
        result = {"id": ds.id, "removed": removed, "added": added, "modified": modified}
    if json_out:
        emit_json(result)
    else:
        say(
            f"{ds.id}: {result['added']} added, {result['modified']} modified, {result['removed']} removed"
        )
        if one_shot:
            note(f"closed {ds.project}/{ds.name} {ds.version}" + (" (resumed)" if resumed else ""))


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C or a lost connection: the one-shot's draft is kept so a rerun resumes it."""
    from gitdata.errors import StorageUnavailableError

    return isinstance(exc, (KeyboardInterrupt, StorageUnavailableError))


def _one_shot_sync(
    project: str | None,
    name: str | None,
    folder: Path,
    dataset_folder: str | None,
    parents: list[str],
    tags: list[str],
    storage: str | None,
):
    """``gd sync --project P --name N``: create (or resume) a draft, sync, upload, close.

    Everything that can be checked is checked before a draft exists.  A draft
    this command created is removed again when a later step fails, unless the
    failure is an interruption (Ctrl-C, connection lost): then the next run of
    the same one-shot sync resumes it.
    """
    from gitdata.api import Dataset, open_dataset
    from gitdata.core.paths import normalize_dataset_path
    from gitdata.errors import LocalPathNotFoundError
    from gitdata.ops.context import Context
    from gitdata.ops.drafts import validate_names

    validate_names(project or "", name or "")
    assert project is not None and name is not None
    if not folder.is_dir():
        raise LocalPathNotFoundError(
            f"not a folder: {folder}", path=str(folder), hint="--folder names a local folder"
        )
    normalize_dataset_path(dataset_folder or "", allow_empty=True)
    if not parents:
        try:
            parents = [Dataset.get(dataset_project=project, dataset_name=name, storage=storage).id]
        except LookupError:
            parents = []
    ctx = Context.for_storage(storage)
    store_url = storage or ctx.settings.storage
    previous_current = ctx.state.current()
    resume_id, claim = _claim_interrupted_one_shot(ctx, project, name, parents, store_url)
    created = resume_id is None
    ds = None
    try:
        if resume_id is not None:
            ds = open_dataset(resume_id, storage)
            note(f"resuming the interrupted sync of {project}/{name} {ds.version} (id {ds.id})")
            if ds.tags != tags:
                ds.tags = tags
            ds._ctx.state.set_current(ds.id)
        else:
            ds = Dataset.create(
                dataset_name=name,
                dataset_project=project,
                parent_datasets=parents or None,
                dataset_tags=tags or None,
                output_uri=storage,
            )
            claim = ds._ctx.state.claim_one_shot(
                ds.id, {"project": project, "name": name, "storage": store_url}
            )
        ds.progress = RichProgress.maybe()
        removed, added, modified = ds.sync_folder(folder, dataset_path=dataset_folder)
        ds.finalize(auto_upload=True)
    except BaseException as exc:
        if ds is not None and created and not _interrupted(exc):
            # this command made the draft: a failure leaves no trace of it
            ds._ctx.state.delete_draft(ds.id)
            ds._ctx.state.restore_current(previous_current)
        raise
    finally:
        if claim is not None:
            claim.release()
    result = {"id": ds.id, "removed": removed, "added": added, "modified": modified}
    result.update(state="closed", version=ds.version, resumed=not created)
    if ds.pointer_path:
        result["pointer"] = str(ds.pointer_path)
    return ds, result, not created


def _claim_interrupted_one_shot(
    ctx: Context, project: str, name: str, parents: list[str], store_url: str
) -> tuple[str | None, OneShotClaim | None]:
    """(id, claim) of the interrupted one-shot draft of project/name to resume, or (None, None).

    Only drafts a one-shot sync made are considered (hand-made drafts are never
    touched) and only when no running command holds them.  The newest whose
    parents are the ones this run would use is resumed; other interrupted
    one-shot drafts of project/name in this store (started from parents that are
    no longer the latest) are discarded, so at most one is ever left over.
    """
    found = []
    for header, info in ctx.state.one_shot_drafts():
        if (info.get("project"), info.get("name"), info.get("storage")) != (
            project,
            name,
            store_url,
        ) or (header.project, header.name) != (project, name):
            continue
        claim = ctx.state.claim_one_shot(header.id)
        if claim is not None:  # None: a running sync holds it
            found.append((header, claim))
    found.sort(key=lambda hc: hc[0].created, reverse=True)
    chosen: tuple[str | None, OneShotClaim | None] = (None, None)
    for header, claim in found:
        if chosen[0] is None and list(header.parents) == list(parents):
            chosen = (header.id, claim)
            continue
        note(f"discarding {header.id}, an older interrupted sync of {project}/{name}")
        ctx.state.delete_draft(header.id)
        claim.release()
    return chosen


@app.command()
def upload(
    dataset_id: str = typer.Option(None, "--id", help=ID_HELP),
    storage: str = typer.Option(
        None, "--storage", help="Store URL (default: the configured store)."
    ),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Target chunk size in MB."),
    max_workers: int = typer.Option(None, "--max-workers", help="Parallel uploads."),
    compression: str = typer.Option(None, "--compression", help="stored (default) or deflate."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Upload a draft's pending content (resumable; content already stored is skipped)."""
    ds = open_target(dataset_id, storage)
    ds.upload(
        output_url=storage, chunk_size=chunk_size, max_workers=max_workers, compression=compression
    )
    if json_out:
        emit_json({"id": ds.id, "uploaded": True})
    else:
        say(f"uploaded {ds.id}")


@app.command()
def close(
    dataset_id: str = typer.Option(None, "--id", help=ID_HELP),
    storage: str = typer.Option(
        None, "--storage", help="Store URL (default: the configured store)."
    ),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Target chunk size in MB."),
    max_workers: int = typer.Option(None, "--max-workers", help="Parallel uploads."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Upload what is pending, then close the version: it is immutable from now on."""
    ds = open_target(dataset_id, storage)
    ds.upload(output_url=storage, chunk_size=chunk_size, max_workers=max_workers)
    ds.finalize()
    record = ds.record
    assert record is not None
    if json_out:
        emit_json(
            {
                "id": ds.id,
                "project": ds.project,
                "name": ds.name,
                "version": ds.version,
                "state": "closed",
                "stats": record.stats,
                "pointer": str(ds.pointer_path) if ds.pointer_path else None,
            }
        )
    else:
        s = record.stats
        say(f"closed {ds.project}/{ds.name} {ds.version} (id {ds.id})")
        note(
            f"{s['files']} files: {s['added']} added, {s['modified']} modified, {s['removed']} removed"
        )
        if ds.pointer_path:
            note(f"wrote and staged pointer {ds.pointer_path}")
