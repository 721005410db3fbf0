"""Commands that read versions: get, list, search, show, graph."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import typer

from gitdata.cli import views
from gitdata.cli.app import app
from gitdata.cli.build_cmds import ID_HELP, JSON_HELP, VERBOSE_HELP, open_target
from gitdata.cli.output import (
    RichProgress,
    emit_json,
    emit_json_rows,
    human_size,
    note,
    print_table,
    say,
    stream_column_batches,
)


def find_version(
    dataset_id: str | None,
    project: str | None,
    name: str | None,
    version: str | None = None,
    rev: str | None = None,
    storage: str | None = None,
):
    """Resolve --id or --project/--name[/--version][/--rev], else the current dataset."""
    from gitdata.api import Dataset

    if dataset_id and (project or name):
        raise typer.BadParameter("give either --id or --project/--name, not both")
    if rev and not (project and name):
        raise typer.BadParameter("--rev goes with --project and --name")
    if project or name:
        if not (project and name):
            raise typer.BadParameter("--project and --name go together")
        ds = Dataset.get(
            dataset_project=project,
            dataset_name=name,
            dataset_version=version,
            rev=rev,
            storage=storage,
        )
        note(f"using {ds.project}/{ds.name} {ds.version} (id {ds.id}) from {ds.resolved_from}")
        ds.make_current()
        ds.progress = RichProgress.maybe()
        return ds
    return open_target(dataset_id, storage)


@app.command()
def get(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (with --name)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Dataset name (with --project)."),
    version: str = typer.Option(
        None, "--version", metavar="VERSION", help="A specific version string."
    ),
    rev: str = typer.Option(
        None, "--rev", metavar="REV", help="Git revision whose pointer pins the version."
    ),
    copy: Path = typer.Option(
        None, "--copy", metavar="DIR", help="Make a writable, independent copy in this folder."
    ),
    link: Path = typer.Option(
        None, "--link", metavar="DIR", help="Make a read-only linked tree in this folder."
    ),
    part: int = typer.Option(
        None, "--part", metavar="I", help="Shard index (0-based), with --num-parts."
    ),
    num_parts: int = typer.Option(None, "--num-parts", metavar="N", help="Number of shards."),
    filters: list[str] = typer.Option(
        None,
        "--filter",
        metavar="PATTERN ...",
        help="Only files under this folder or matching this wildcard (as gd list "
        "--filter; repeat for several). Only their chunk members are fetched.",
    ),
    only_added: bool = typer.Option(
        False,
        "--only-added",
        help="Only the files this version added or modified against its parents.",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace a folder gd made earlier (never one holding other files).",
    ),
    bind: bool = typer.Option(
        False,
        "--bind",
        help="Bind the --link/--copy folder in this clone; checkouts keep it current.",
    ),
    max_workers: int = typer.Option(None, "--max-workers", metavar="N", help="Parallel downloads."),
    storage: str = typer.Option(None, "--storage", metavar="URL", help="Store URL."),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Get a version's files.

    Without --copy or --link: prints the path of the cached read-only copy. --link DIR
    builds a read-only tree of links into the cache, --copy DIR a writable copy; --bind
    keeps DIR current with the repository's pointer.

    Examples:

      gd get --id 3f2a9c41

      gd get --project vision --name cats --link data/cats --bind

      gd get --id 3f2a9c41 --copy ./work --filter 'train/*'
    """
    if copy and link:
        raise typer.BadParameter("--copy and --link are exclusive")
    if bind and not (copy or link):
        raise typer.BadParameter("--bind needs --link DIR or --copy DIR")
    if bind and (filters or only_added):
        raise typer.BadParameter(
            "--bind keeps the whole version in the folder; it does not go with "
            "--filter or --only-added"
        )
    if (part is None) != (num_parts is None):
        raise typer.BadParameter("--part and --num-parts go together")
    ds = find_version(dataset_id, project, name, version, rev, storage)
    # everything --bind needs is checked before a file is written, so its failure leaves nothing
    binding = _check_bind(ds, copy or link) if bind else None
    narrow = {
        "part": part,
        "num_parts": num_parts,
        "max_workers": max_workers,
        "dataset_path": filters or None,
        "only_added": only_added,
    }
    if copy:
        path = ds.get_mutable_local_copy(copy, overwrite=overwrite, **narrow)
    elif link:
        path = ds.get_linked_copy(link, overwrite=overwrite, **narrow)
    else:
        path = ds.get_local_copy(**narrow)
    if binding is not None:
        _bind(ds, binding, Path(path), "copy" if copy else "link")
        from gitdata.cli.git_cmds import hooks_notice

        hooks_notice()  # post-checkout keeps a bound folder up to date
    if json_out:
        emit_json(
            {"id": ds.id, "path": path, "mode": "copy" if copy else "link" if link else "cache"}
        )
    else:
        say(path)


@app.command("list")
def list_cmd(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (with --name)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Dataset name (with --project)."),
    version: str = typer.Option(
        None,
        "--version",
        metavar="VERSION",
        help="A specific version string (with --project/--name).",
    ),
    filter_: list[str] = typer.Option(
        None,
        "--filter",
        metavar="PATTERN ...",
        help="Only paths matching one of these paths or wildcards.",
    ),
    modified: bool = typer.Option(
        False,
        "--modified",
        help="Only the files this version added or modified against its parents.",
    ),
    non_recursive: bool = typer.Option(
        False, "--non-recursive", help="Wildcards do not cross folders."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List a version's files without downloading them.

    Each file with its size and SHA-256; --filter narrows the list, --modified shows
    only what this version changed.

    Examples:

      gd list --id 3f2a9c41

      gd list --project vision --name cats --filter '*.jpg' --modified
    """
    if version and not (project and name):
        raise typer.BadParameter("--version goes with --project and --name")
    ds = find_version(dataset_id, project, name, version, storage=storage)
    if json_out:
        rows = ds.iter_file_entries(
            filter_ or None, recursive=not non_recursive, dataset_id=ds.id if modified else None
        )
        emit_json_rows(rows)
        return
    batches = ds.iter_file_batches(
        filter_ or None, recursive=not non_recursive, dataset_id=ds.id if modified else None
    )
    tally = [0, 0]
    sizes_shown = _SizesShown()

    def cells() -> Iterator[list[Sequence[str]]]:
        for batch in batches:
            tally[0] += len(batch.paths)
            tally[1] += sum(batch.sizes)
            shas = [sha[:16] for sha in batch.sha256s]
            yield [batch.paths, list(map(sizes_shown.__getitem__, batch.sizes)), shas]

    stream_column_batches(["path", "size", "sha256"], cells(), right=frozenset({1}))
    note(f"{tally[0]} file(s), {human_size(tally[1])}")


class _SizesShown(dict[int, str]):
    """size -> its human form, computed once per distinct size (a listing of a
    million files holds few distinct sizes)."""

    def __missing__(self, size: int) -> str:
        shown = self[size] = human_size(size)
        return shown


@app.command()
def search(
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (sub-projects included)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Part of the dataset name."),
    tags: list[str] = typer.Option(
        None, "--tags", metavar="TAG ...", help="Versions carrying all these tags."
    ),
    ids: list[str] = typer.Option(None, "--ids", metavar="ID ...", help="Only these ids."),
    description: str = typer.Option(
        None, "--description", metavar="TEXT", help="Part of the description."
    ),
    drafts: bool = typer.Option(
        False,
        "--drafts",
        "--not-only-completed",
        help="Include open drafts of this machine.",
    ),
    non_recursive: bool = typer.Option(
        False,
        "--non-recursive-project-search",
        help="--project matches that project only, not its sub-projects.",
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help="Store URL."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Search dataset versions in the store.

    By project (sub-projects too), name, tags, description or id prefixes; drafts only
    with --drafts.

    Examples:

      gd search --project vision

      gd search --name cat --tags cleaned --drafts
    """
    from gitdata.api import Dataset

    rows = Dataset.list_datasets(
        dataset_project=project,
        partial_name=re.escape(name) if name else None,  # --name is literal text
        tags=tags or None,
        ids=ids or None,
        only_completed=not drafts,
        recursive_project_search=not non_recursive,
        storage=storage,
    )
    if description:
        rows = [r for r in rows if description.lower() in r["description"].lower()]
    if json_out:
        emit_json(rows)
        return
    print_table(
        ["id", "project", "name", "version", "state", "tags", "parents", "created"],
        [
            [
                r["id"],
                r["project"],
                r["name"],
                r["version"],
                r["state"],
                ",".join(r["tags"]),
                ",".join(p[:8] for p in r["parents"]),
                r["created"][:19].replace("T", " "),
            ]
            for r in rows
        ],
    )


LIMIT_HELP = "Rows shown per table (the rest is counted as 'and K more')."


@app.command()
def show(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (with --name)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Dataset name (with --project)."),
    rev: str = typer.Option(
        None, "--rev", metavar="REV", help="Git revision whose pointer pins the version."
    ),
    files: bool = typer.Option(False, "--files", help="Also list the changed paths."),
    limit: int = typer.Option(views.DEFAULT_LIMIT, "--limit", metavar="N", min=1, help=LIMIT_HELP),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a version and what it changed.

    Identity, parents, totals, and its change set against its parents by top-level
    folder and file type, with renames and the largest changes.

    Examples:

      gd show --id 3f2a9c41

      gd show --project vision --name cats --rev HEAD~1 --files
    """
    if rev and not (project and name):
        raise typer.BadParameter("--rev goes with --project and --name")
    ds = find_version(dataset_id, project, name, rev=rev, storage=storage)
    summary = ds.change_summary()
    record = ds.record
    if record:  # a paged manifest's root knows both: no page is read for them
        manifest = ds.get_manifest()
        count, size = len(manifest), manifest.total_size
    else:
        entries = ds.file_entries_dict
        count, size = len(entries), sum(f["size"] for f in entries.values())
    info = {
        "id": ds.id,
        "project": ds.project,
        "name": ds.name,
        "version": ds.version,
        "state": "closed" if record else "draft",
        "parents": ds.parents,
        "tags": ds.tags,
        "description": ds.description,
        "files": count,
        "bytes": size,
        **summary.paths(),
        "store": ds.storage_url,
        "squashed_from": ds.squashed_from,
        "published": ds.is_published(),
        "former_names": ds.former_names,
        "metadata_history": ds.metadata_history,
        "summary": summary.to_dict(limit),
    }
    merged = ds.merged_changes()
    merged_line = None
    if merged is not None:
        info["merged_from_others"] = {
            "added": merged.added,
            "modified": merged.modified,
            "removed": merged.removed,
            "total": len(merged.added) + len(merged.modified) + len(merged.removed),
        }
        merged_line = (
            f"against its first parent: +{len(merged.added)} added  ~{len(merged.modified)} "
            f"modified  -{len(merged.removed)} removed (merged in from the other parents)"
        )
    if record:
        info["manifest"] = record.manifest
        info["created"] = record.created
    if json_out:
        emit_json(info)
        return
    views.show_version(info, summary, merged_line=merged_line, limit=limit)
    if files:
        for line in views.change_lines(summary.paths()):
            say(f"  {line}")


@app.command()
def graph(
    dataset_id: str = typer.Option(
        None, "--id", metavar="ID", help="A version: it and its ancestors."
    ),
    project: str = typer.Option(
        None,
        "--project",
        metavar="PROJECT",
        help="Every version of the project (and its sub-projects).",
    ),
    name: str = typer.Option(
        None, "--name", metavar="NAME", help="Only this dataset (with --project)."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Draw the lineage of versions as git log --graph does.

    Merges and squashes are marked; --project draws every version of a project.

    Examples:

      gd graph --id 3f2a9c41

      gd graph --project vision --name cats
    """
    from gitdata.repo_api import Workspace

    if dataset_id and (project or name):
        raise typer.BadParameter("give either --id or --project [--name], not both")
    if name and not project:
        raise typer.BadParameter("--name goes with --project")
    if project:
        lineage = Workspace(storage).lineage(project=project, name=name)
    else:
        vid = dataset_id or Workspace(storage).current_id()
        lineage = Workspace.for_version(vid, storage).lineage(vid)
    if json_out:
        emit_json(lineage.to_dict())
        return
    views.lineage_graph(lineage)


def _check_bind(ds, folder: Path):
    """The repository and pointer ``--bind`` will write, checked before anything else."""
    from gitdata.repo_api import Workspace

    ws = Workspace()
    return ws, ws.check_bind(ds.project, ds.name, ds.id, folder)


def _bind(ds, binding, folder: Path, mode: str) -> None:
    ws, pointer = binding
    bound = ws.bind(pointer, folder, mode)
    note(f"bound {bound.path}/ to {bound.key} in this clone; checkouts keep it current")
