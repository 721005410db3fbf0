"""Commands that check or reshape versions: verify, compare, squash, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from gitdata.cli import views
from gitdata.cli.app import app
from gitdata.cli.build_cmds import ID_HELP, JSON_HELP, open_target
from gitdata.cli.output import (
    RichProgress,
    emit_json,
    human_size,
    note,
    print_table,
    say,
    warn_merge_conflicts,
)


def _echo_problems(*groups: tuple[str, list[str]]) -> None:
    """One stderr line per bad item, prefixed by what is wrong with it."""
    for label, items in groups:
        for item in items:
            typer.echo(f"{label}: {item}", err=True)


@app.command()
def verify(
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    folder: Path = typer.Option(None, "--folder", metavar="DIR", help="Local folder to check."),
    filesize: bool = typer.Option(False, "--filesize", help="Check sizes only (skip SHA-256)."),
    remote: bool = typer.Option(
        False, "--remote", help="Check the store holds every object of the version."
    ),
    deep: bool = typer.Option(
        False, "--deep", help="With --remote: also download and hash every object."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Also print an 'ok' line for every file that matches."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check a local folder or the store against a version.

    A folder is compared file by file with the version's manifest; with --remote the
    store's copy of the version is checked too. Exit 9 on problems.

    Examples:

      gd verify --id 3f2a9c41 --folder ./data

      gd verify --id 3f2a9c41 --remote
    """
    from gitdata.errors import EXIT_VERIFY_FAILED

    if folder is None and not remote:
        raise typer.BadParameter("give --folder DIR, or --remote to check the store")
    ds = open_target(dataset_id, storage)
    result: dict = {"id": ds.id, "ok": True}
    if remote:
        from gitdata.repo_api import verify_in_store

        if ds.record is None:
            raise typer.BadParameter(f"{ds.id} is a draft: nothing to check in the store yet")
        rep = verify_in_store(ds, deep=deep)
        result.update(
            remote={
                "chunks": rep.chunks,
                "missing": rep.missing,
                "short": rep.short,
                "corrupt": rep.corrupt,
                "links": rep.links,
                "links_changed": rep.links_changed,
            }
        )
        result["ok"] = rep.ok
        if not json_out:
            _echo_problems(
                ("missing from store", rep.missing),
                ("truncated", rep.short),
                ("corrupt", rep.corrupt),
                ("external file changed", rep.links_changed),
            )
            if rep.ok:
                links = f", {rep.links} external file(s) unchanged" if rep.links else ""
                say(
                    f"store ok: {rep.chunks} chunk(s) of {ds.id} present{links}"
                    + (", hashes checked" if deep else "")
                )
    if folder is not None:
        report = ds.verify(folder, size_only=filesize)
        result.update(
            checked=report.checked,
            missing=report.missing,
            size_mismatch=report.size_mismatch,
            hash_mismatch=report.hash_mismatch,
            extra=report.extra,
            selection=report.selection.to_dict() if report.selection else None,
        )
        result["ok"] = result["ok"] and report.ok
        # a tree a partial get made is checked against the files that get picked
        picked = report.selection.describe() if report.selection else ""
        if not json_out:
            if verbose:
                bad = set(report.bad_files)
                for path in ds.list_files():
                    if path not in bad:
                        say(f"ok: {path}")
            _echo_problems(
                ("missing", report.missing),
                ("size differs", report.size_mismatch),
                ("content differs", report.hash_mismatch),
                ("not in dataset", report.extra),
            )
            if report.ok:
                say(
                    f"ok: {report.checked} file(s) match {ds.id}"
                    + (f" (the files of: gd get {picked})" if picked else "")
                    + (" (sizes only)" if filesize else "")
                )
            else:
                total = report.checked + len(report.missing) + len(report.extra)
                say(f"FAILED: {len(report.bad_files)} bad file(s) out of {total}")
    if json_out:
        emit_json(result)
    if not result["ok"]:
        raise typer.Exit(EXIT_VERIFY_FAILED)


@app.command()
def compare(
    source: str = typer.Option(..., "--source", metavar="ID", help="Older version id."),
    target: str = typer.Option(..., "--target", metavar="ID", help="Newer version id."),
    filter_: list[str] = typer.Option(
        None,
        "--filter",
        metavar="PATTERN ...",
        help="Only paths matching one of these paths or wildcards.",
    ),
    limit: int = typer.Option(
        views.DEFAULT_LIMIT,
        "--limit",
        metavar="N",
        min=1,
        help="Rows shown per table (the rest is counted).",
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Also list every changed path (+ added, ~ modified, - removed)."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Compare two versions file by file.

    Lists what changed from the source to the target version: files added, modified,
    removed and renamed (read from the manifests; nothing is downloaded).

    Examples:

      gd compare --source 3f2a9c41 --target 8be01d77

      gd compare --source 3f2a9c41 --target 8be01d77 --verbose
    """
    from gitdata.api import Dataset

    new = Dataset.get(dataset_id=target, storage=storage)
    old = Dataset.get(dataset_id=source, storage=storage)
    source, target = old.id, new.id  # short ids given: full ones shown
    summary = new.compare_summary(old)
    if filter_:
        summary = summary.matching(*filter_)
    if json_out:
        emit_json({"source": source, "target": target, **summary.paths()})
        return
    views.compare_versions(source, target, summary, limit=limit)
    if verbose:
        for line in views.change_lines(summary.paths()):
            say(f"  {line}")


@app.command()
def squash(
    name: str = typer.Option(..., "--name", metavar="NAME", help="Name of the new flat version."),
    ids: list[str] = typer.Option(
        ..., "--ids", metavar="ID ...", help="Versions to squash, merged in order."
    ),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (default: the first version's)."
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help="Store URL."),
    verbose: bool = typer.Option(
        False, "--verbose", help="Also list every file of the new version."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Squash versions into one new version without parents.

    The new version holds the merged content of the versions (the later one wins a
    conflict); no data is copied: it references the chunks they store.

    Examples:

      gd squash --name cats-flat --ids 3f2a9c41 8be01d77

      gd squash --name cats-flat --project vision --ids 3f2a9c41 8be01d77
    """
    from gitdata.api import Dataset

    ds = Dataset.squash(
        name,
        dataset_ids=list(ids),
        output_url=storage,
        dataset_project=project,
        progress=RichProgress.maybe(),
    )
    ds.make_current()
    if json_out:
        emit_json(
            {
                "id": ds.id,
                "project": ds.project,
                "name": ds.name,
                "version": ds.version,
                "squashed": list(ids),
                "conflicts": ds.merge_conflicts,
            }
        )
    else:
        warn_merge_conflicts(ds.merge_conflicts)
        say(ds.id)
        note(f"squashed {len(ids)} versions into {ds.project}/{ds.name} {ds.version}")
        if verbose:
            for path in ds.list_files():
                say(f"  + {path}")


@app.command()
def delete(
    dataset_id: str = typer.Option(
        None, "--id", metavar="ID", help="Version (or draft) to delete."
    ),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (with --name, instead of --id)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Dataset name (with --project)."),
    version: str = typer.Option(
        None,
        "--version",
        metavar="VERSION",
        help="A version string (default: the latest; with --entire-dataset: all).",
    ),
    entire_dataset: bool = typer.Option(
        False,
        "--entire-dataset",
        help="Every version of --project/--name (and this machine's drafts of it).",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Delete even if other versions name it as a parent, or a git ref pins it.",
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help="Store URL."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a version and the objects nothing else needs.

    Inside a git repository, a version that a pointer on any ref (or in the index or
    working tree) pins, directly or as an ancestor, is refused unless --force.

    Examples:

      gd delete --id 3f2a9c41

      gd delete --id 3f2a9c41 --force
    """
    from gitdata.api import Dataset, resolve_id

    if dataset_id and (project or name or version):
        raise typer.BadParameter("give either --id or --project/--name[/--version], not both")
    if (project or name or version) and not (project and name):
        raise typer.BadParameter("--project and --name go together")
    if entire_dataset and not project:
        raise typer.BadParameter("--entire-dataset needs --project and --name (not --id)")
    if not (dataset_id or project):
        raise typer.BadParameter("give --id ID, or --project P --name N")
    if dataset_id:
        dataset_id = resolve_id(dataset_id, storage)  # a short id names the full one below
    if entire_dataset:
        reports = Dataset.delete(
            dataset_project=project,
            dataset_name=name,
            dataset_version=version,
            entire_dataset=True,
            force=force,
            storage=storage,
            progress=RichProgress.maybe(),
        )
        assert isinstance(reports, list)
        _report_entire(project, name, reports, json_out)
        return
    report = Dataset.delete(
        dataset_id=dataset_id,
        dataset_project=project,
        dataset_name=name,
        dataset_version=version,
        force=force,
        storage=storage,
        progress=RichProgress.maybe(),
    )
    assert not isinstance(report, list)  # a list only with entire_dataset=True
    shown = dataset_id or (report.version_id if report is not None else "")
    result: dict[str, Any]
    if report is None:
        result = {"id": shown, "deleted": "draft"}
        text = f"discarded draft {shown}"
    else:
        result = {
            "id": shown,
            "deleted": "version",
            "objects_removed": report.objects_removed,
            "bytes_freed": report.bytes_freed,
            "orphaned_children": report.orphaned_children,
        }
        text = f"deleted {shown}: {report.objects_removed} object(s), {human_size(report.bytes_freed)} freed"
    if json_out:
        emit_json(result)
    else:
        say(text)
        if report is not None and report.orphaned_children:
            note(
                f"children keep their data but lose this parent: {', '.join(report.orphaned_children)}"
            )


def _report_entire(
    project: str | None, name: str | None, reports: list[Any], json_out: bool
) -> None:
    """What ``gd delete --entire-dataset`` removed."""
    objects = sum(r.objects_removed for r in reports)
    freed = sum(r.bytes_freed for r in reports)
    if json_out:
        emit_json(
            {
                "project": project,
                "name": name,
                "deleted": [r.version_id for r in reports],
                "objects_removed": objects,
                "bytes_freed": freed,
            }
        )
        return
    say(
        f"deleted {len(reports)} version(s) of {project}/{name}: {objects} object(s), "
        f"{human_size(freed)} freed"
    )


cache_app = typer.Typer(no_args_is_help=False)  # help: the callback docstring
app.add_typer(cache_app, name="cache")


def _cache():
    from gitdata.repo_api import Workspace

    ws = Workspace()
    return ws, ws.cache


@cache_app.callback(invoke_without_command=True)
def cache_show(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help=JSON_HELP)
) -> None:
    """Show, prune, verify or clear the local cache.

    Without a subcommand: the cache's location, size and budget, and what killed
    commands left in it.

    Examples:

      gd cache

      gd cache prune
    """
    if ctx.invoked_subcommand:
        return
    gctx, cache = _cache()
    usage = cache.usage()
    left = cache.leftovers()
    limit = gctx.settings.cache_size_limit
    info = {
        "path": str(gctx.settings.cache_dir),
        "bytes": usage.bytes,
        "blobs": usage.blobs,
        "copies": usage.copies,
        "limit": limit,
        "leftovers": {"entries": left.entries, "bytes": left.bytes},
    }
    if json_out:
        emit_json(info)
        return
    print_table(
        ["cache", "size", "blobs", "copies", "budget", "leftovers"],
        [
            [
                info["path"],
                human_size(usage.bytes),
                usage.blobs,
                usage.copies,
                human_size(limit) if limit is not None else "unlimited",
                f"{left.entries} ({human_size(left.bytes)})" if left.entries else "none",
            ]
        ],
    )
    if left.entries:
        note(f"{left.entries} leftover(s) of killed commands; gd cache prune removes them")


@cache_app.command("prune")
def cache_prune(
    max_size: str = typer.Option(
        None,
        "--max-size",
        metavar="SIZE",
        help="Budget to prune down to (e.g. 10GB); default the configured one.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be removed."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Evict least-recently-used content to fit the budget.

    --max-size prunes down to another budget than the configured one; --dry-run only
    says what would go.

    Examples:

      gd cache prune

      gd cache prune --max-size 10GB --dry-run
    """
    from gitdata.config import parse_size

    _, cache = _cache()
    limit = parse_size(max_size, "--max-size") if max_size is not None else None
    report = cache.prune(limit, dry_run=dry_run)
    result = {
        "removed_blobs": report.removed_blobs,
        "removed_copies": report.removed_copies,
        "freed_bytes": report.freed_bytes,
        "remaining_bytes": report.remaining_bytes,
        "removed_leftovers": report.removed_leftovers,
        "leftover_bytes": report.leftover_bytes,
        "dry_run": dry_run,
    }
    if json_out:
        emit_json(result)
    else:
        verb = "would free" if dry_run else "freed"
        say(
            f"{verb} {human_size(report.freed_bytes)} ({report.removed_blobs} blobs, {report.removed_copies} copies); {human_size(report.remaining_bytes)} remain"
        )
        if report.removed_leftovers:
            verb = "would remove" if dry_run else "removed"
            say(
                f"{verb} {report.removed_leftovers} leftover(s) of killed commands ({human_size(report.leftover_bytes)})"
            )


@cache_app.command("verify")
def cache_verify(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Re-hash every cached blob and remove corrupt ones.

    A removed blob is fetched again from the store by the next gd get that needs it.

    Examples:

      gd cache verify

      gd cache verify --json
    """
    _, cache = _cache()
    bad = cache.verify_all()
    if json_out:
        emit_json({"corrupt": bad})
    elif bad:
        for sha in bad:
            say(f"corrupt blob {sha} removed")
        say(f"{len(bad)} corrupt blob(s) removed (and the cached copies holding them)")
    else:
        say("cache ok")


@cache_app.command("clear")
def cache_clear(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Remove everything from the local cache.

    Drafts and the store are untouched; the next gd get fetches what it needs again.

    Examples:

      gd cache clear

      gd cache clear --json
    """
    _, cache = _cache()
    cache.clear()
    if json_out:
        emit_json({"cleared": True})
    else:
        say("cache cleared")
