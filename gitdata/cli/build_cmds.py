"""Commands that build versions: create, add, remove, sync, upload, close."""

from __future__ import annotations

from pathlib import Path

import typer

from gitdata.cli.app import app
from gitdata.cli.output import RichProgress, emit_json, note, say, warn_merge_conflicts

ID_HELP = "Dataset id (default: the dataset created or used last)."
JSON_HELP = "Print machine-readable JSON on stdout."
VERBOSE_HELP = "Verbose reporting (clearml-data's flag; gd's output already reports counts)."
GITIGNORE_HELP = "Append the .gitignore entry for sources inside the git work tree."


def ignore_plan(sources: list[str], write: bool) -> list:
    """The .gitignore entries the sources need, checked before the command changes anything."""
    from gitdata.repo_api import Workspace

    return Workspace.ignore_entries(sources, writing=write)


def ignore_finish(entries: list, write: bool) -> None:
    """Write the entries (``--gitignore``) or say which line keeps the data out of git."""
    from gitdata.repo_api import Workspace

    if not entries:
        return
    if write:
        for line in Workspace.write_ignore_entries(entries):
            note(f"added {line} to {entries[0].gitignore.name}")
        return
    for e in entries:
        note(
            f"{e.source} is inside the git work tree and not ignored: add {e.line} to "
            f"{e.gitignore} (--gitignore writes it)"
        )


def open_target(dataset_id: str | None, storage: str | None = None):
    """The Dataset a command acts on; remembers it as the current one."""
    from gitdata.api import open_dataset
    from gitdata.repo_api import Workspace

    if not dataset_id:
        dataset_id = Workspace(storage).current_id()
    ds = open_dataset(dataset_id, storage)
    ds.make_current()
    ds.progress = RichProgress.maybe()
    return ds


@app.command()
def create(
    project: str = typer.Option(
        None,
        "--project",
        metavar="PROJECT",
        help="Project the dataset belongs to (default: the first parent's).",
    ),
    name: str = typer.Option(..., "--name", metavar="NAME", help="Dataset name."),
    version: str = typer.Option(
        None, "--version", metavar="VERSION", help="Version string (default: bump the latest)."
    ),
    parents: list[str] = typer.Option(
        None, "--parents", metavar="ID ...", help="Parent version ids, merged in order."
    ),
    tags: list[str] = typer.Option(None, "--tags", metavar="TAG ...", help="Tags."),
    description: str = typer.Option(None, "--description", metavar="TEXT", help="Free text."),
    storage: str = typer.Option(
        None, "--storage", "--output-uri", metavar="URL", help="Store URL for this version."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Open a new draft version of a dataset.

    The draft starts as the three-way merged files of its parents (none: empty) and
    becomes the current dataset, so add, remove, sync and close act on it without --id.
    Without --version the latest version of PROJECT/NAME is bumped.

    Examples:

      gd create --project vision --name cats

      gd create --name cats --parents 3f2a9c41 --tags cleaned

      gd create --project vision --name cats --storage s3://bucket/datasets
    """
    from gitdata.api import Dataset

    if project is None and not parents:
        # clearml-data takes the project of the first parent; with no parent there is none
        raise typer.BadParameter(
            "missing: a new version without --parents needs a project", param_hint="'--project'"
        )

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
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    files: list[str] = typer.Option(
        None, "--files", metavar="PATH ...", help="Files or folders to add."
    ),
    links: list[str] = typer.Option(
        None,
        "--links",
        metavar="URL ...",
        help="External files: URLs (file://, s3://, gs://, azure://, http(s)://) "
        "linked where they are, not copied.",
    ),
    dataset_folder: str = typer.Option(
        None, "--dataset-folder", metavar="DIR", help="Place files under this dataset folder."
    ),
    wildcard: list[str] = typer.Option(
        None, "--wildcard", metavar="PATTERN ...", help="Only add files matching these patterns."
    ),
    non_recursive: bool = typer.Option(
        False, "--non-recursive", help="Do not descend into sub-folders."
    ),
    max_workers: int = typer.Option(
        None,
        "--max-workers",
        metavar="N",
        help="Accepted for clearml-data; gd hashes in one thread.",
    ),
    gitignore: bool = typer.Option(False, "--gitignore", help=GITIGNORE_HELP),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Add files or folders (or external URLs) to a draft.

    A folder's files land at the dataset root, or under --dataset-folder. Unchanged
    files are not hashed again. Inside the git work tree a note names the .gitignore
    line that keeps the data out of git; --gitignore writes it. --links records
    objects that stay at their URL (size, sha256, ETag); get reads them from there.

    Examples:

      gd add --files ./images ./labels.csv

      gd add --files ./raw --dataset-folder raw --wildcard '*.jpg' '*.png'

      gd add --links s3://bucket/raw/ --dataset-folder raw
    """
    if not files and not links:
        raise typer.BadParameter("give --files or --links (or both)")
    entries = ignore_plan(list(files or []), gitignore)
    ds = open_target(dataset_id)
    total = 0
    if files:
        # one call for every source: colliding dataset paths are refused before anything changes
        total += ds.add_files(
            list(files),
            wildcard=wildcard or None,
            dataset_path=dataset_folder,
            recursive=not non_recursive,
            max_workers=max_workers,
        )
    if links:
        total += ds.add_external_files(
            list(links),
            wildcard=wildcard or None,
            dataset_path=dataset_folder,
            recursive=not non_recursive,
        )
    ignore_finish(entries, gitignore)
    if json_out:
        emit_json({"id": ds.id, "added": total})
    else:
        say(f"{total} file(s) added or changed in {ds.id}")


@app.command()
def remove(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    files: list[str] = typer.Option(
        ..., "--files", metavar="PATTERN ...", help="Dataset paths or wildcards to remove."
    ),
    non_recursive: bool = typer.Option(
        False, "--non-recursive", help="Wildcards do not cross folders."
    ),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Remove files from a draft (nothing is downloaded).

    Each PATTERN is a dataset path, a folder or a wildcard; a wildcard matches in every
    folder unless --non-recursive.

    Examples:

      gd remove --files labels/old.csv

      gd remove --files '*.tmp' 'scratch/*'
    """
    ds = open_target(dataset_id)
    total = sum(ds.remove_files(p, recursive=not non_recursive) for p in files)
    if json_out:
        emit_json({"id": ds.id, "removed": total})
    else:
        say(f"{total} file(s) removed from {ds.id}")


@app.command()
def sync(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    folder: Path = typer.Option(
        ..., "--folder", metavar="DIR", help="Local folder that becomes the dataset's content."
    ),
    dataset_folder: str = typer.Option(
        None, "--dataset-folder", metavar="DIR", help="Sync only this dataset folder."
    ),
    project: str = typer.Option(
        None,
        "--project",
        metavar="PROJECT",
        help="With --name: create a new version, sync, close (an interrupted run resumes).",
    ),
    name: str = typer.Option(
        None,
        "--name",
        metavar="NAME",
        help="With --project: create a new version, sync, close (an interrupted run resumes).",
    ),
    version: str = typer.Option(
        None,
        "--version",
        metavar="VERSION",
        help="Version string of the new version (default: bump the latest).",
    ),
    parents: list[str] = typer.Option(
        None, "--parents", metavar="ID ...", help="Parents of the new version."
    ),
    tags: list[str] = typer.Option(
        None, "--tags", metavar="TAG ...", help="Tags of the new version."
    ),
    storage: str = typer.Option(
        None, "--storage", "--output-uri", metavar="URL", help="Store URL."
    ),
    skip_close: bool = typer.Option(
        False,
        "--skip-close",
        help="With --project/--name: upload but leave the new version an open draft.",
    ),
    chunk_size: int = typer.Option(
        None, "--chunk-size", metavar="MB", help="Target chunk size in MB (with --project/--name)."
    ),
    gitignore: bool = typer.Option(False, "--gitignore", help=GITIGNORE_HELP),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Make a draft exactly the content of a local folder.

    Added, modified and removed files are detected. With --project and --name it is a
    one-shot: create the next version, sync, upload and close (an interrupted run
    resumes).

    Examples:

      gd sync --folder ./data

      gd sync --project vision --name cats --folder ./data

      gd sync --project vision --name cats --folder ./data --skip-close
    """
    one_shot = project is not None or name is not None
    entries = ignore_plan([str(folder)], gitignore)
    if one_shot:
        if dataset_id:
            raise typer.BadParameter("give either --id or --project/--name, not both")
        if project is None or name is None:
            raise typer.BadParameter("--project and --name go together")
        from gitdata.api import one_shot_sync

        ds, result, resumed = one_shot_sync(
            project,
            name,
            folder,
            dataset_folder,
            parents or [],
            tags or [],
            storage,
            progress=RichProgress.maybe(),
            notify=note,
            version=version,
            close=not skip_close,
            chunk_size=chunk_size,
        )
    else:
        for flag, value in (
            ("--version", version),
            ("--parents", parents),
            ("--tags", tags),
            ("--chunk-size", chunk_size),
        ):
            if value:
                # these describe the new version a one-shot sync makes; an --id draft has its own
                raise typer.BadParameter(f"{flag} goes with --project/--name (a new version)")
        ds = open_target(dataset_id)
        removed, added, modified = ds.sync_folder(folder, dataset_path=dataset_folder)
        result = {"id": ds.id, "removed": removed, "added": added, "modified": modified}
    ignore_finish(entries, gitignore)
    if json_out:
        emit_json(result)
    else:
        say(
            f"{ds.id}: {result['added']} added, {result['modified']} modified, {result['removed']} removed"
        )
        if one_shot and skip_close:
            note(
                f"uploaded {ds.project}/{ds.name} {ds.version}, left open (--skip-close): "
                f"gd close --id {ds.id} closes it"
            )
        elif one_shot and not result.get("unchanged"):
            note(f"closed {ds.project}/{ds.name} {ds.version}" + (" (resumed)" if resumed else ""))
    if result.get("pointer"):
        from gitdata.cli.git_cmds import hooks_notice

        hooks_notice()


@app.command()
def upload(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    storage: str = typer.Option(
        None, "--storage", metavar="URL", help="Store URL (default: the configured store)."
    ),
    chunk_size: int = typer.Option(
        None, "--chunk-size", metavar="MB", help="Target chunk size in MB."
    ),
    max_workers: int = typer.Option(None, "--max-workers", metavar="N", help="Parallel uploads."),
    compression: str = typer.Option(
        None, "--compression", metavar="stored|deflate", help="stored (default) or deflate."
    ),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Upload a draft's pending content as zip chunks.

    Content a parent already stores is referenced, not uploaded. An interrupted upload
    resumes where it stopped when run again.

    Examples:

      gd upload

      gd upload --id 3f2a9c41 --chunk-size 64 --compression deflate
    """
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
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    storage: str = typer.Option(
        None, "--storage", metavar="URL", help="Store URL (default: the configured store)."
    ),
    chunk_size: int = typer.Option(
        None, "--chunk-size", metavar="MB", help="Target chunk size in MB."
    ),
    max_workers: int = typer.Option(None, "--max-workers", metavar="N", help="Parallel uploads."),
    disable_upload: bool = typer.Option(
        False,
        "--disable-upload",
        help="Do not upload: close only when nothing is pending (else exit 3, nothing changes).",
    ),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Upload what is pending, then close the version.

    A closed version is immutable. Inside a git repository the dataset's pointer file
    is written and staged, ready to commit.

    Examples:

      gd close

      gd close --id 3f2a9c41 --disable-upload
    """
    ds = open_target(dataset_id, storage)
    if ds.closed_on_this_machine():
        # a second close of one draft that started after the first had finished:
        # the draft's content is what the first closed (docs/cli.md, gd close)
        ds.closed_elsewhere = True
    else:
        if disable_upload:
            ds.require_uploaded("close --disable-upload")
        else:
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
                "already_closed": ds.closed_elsewhere,
            }
        )
    else:
        s = record.stats
        if ds.closed_elsewhere:
            say(
                f"already closed {ds.project}/{ds.name} {ds.version} (id {ds.id}): another gd "
                "process closed this draft first, with the same content"
            )
        else:
            say(f"closed {ds.project}/{ds.name} {ds.version} (id {ds.id})")
        note(
            f"{s['files']} files: {s['added']} added, {s['modified']} modified, {s['removed']} removed"
        )
        if ds.pointer_path:
            note(f"wrote and staged pointer {ds.pointer_path}")
    if ds.pointer_path:
        from gitdata.cli.git_cmds import hooks_notice

        hooks_notice()
