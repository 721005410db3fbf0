"""Commands for git users: init, install-hooks, status, log, and the hook entry point."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from gitdata.cli import output, views
from gitdata.cli.app import app
from gitdata.cli.build_cmds import JSON_HELP
from gitdata.cli.output import emit_json, human_size, note, print_table, say


@app.command()
def init(
    storage: str = typer.Option(
        None, "--storage", metavar="URL", help="Store URL to record in .gitdata/config.yaml."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set up this git repository for gitdata.

    Writes .gitdata/config.yaml (the store URL, never secrets), the .gitattributes line
    for pointer files, the merge driver and the hooks. Running it again changes nothing;
    a fresh clone needs it once.

    Examples:

      gd init

      gd init --storage s3://bucket/datasets
    """
    from gitdata.repo_api import Workspace

    report = Workspace().init(storage)
    if json_out:
        emit_json(
            {
                "config": str(report.config),
                "attributes_added": report.attributes_added,
                "hooks": {h.name: h.action for h in report.hooks},
            }
        )
        return
    say(f"gitdata set up in {report.config.parent.parent}")
    for h in report.hooks:
        if h.action != "unchanged":
            note(f"hook {h.name}: {h.action}")


@app.command("install-hooks")
def install_hooks_cmd(
    uninstall: bool = typer.Option(False, "--uninstall", help="Remove gd's hooks; restore yours."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Install gd's git hooks, chained to your own.

    A hook you already have is moved aside and still runs first; --uninstall puts it
    back.

    Examples:

      gd install-hooks

      gd install-hooks --uninstall
    """
    from gitdata.repo_api import Workspace

    changes = Workspace().install_hooks(uninstall=uninstall)
    if json_out:
        emit_json({h.name: h.action for h in changes})
        return
    for h in changes:
        say(f"{h.name}: {h.action}")


@app.command(hidden=True)
def hook(
    name: str = typer.Argument(..., help="Hook name, as git calls it."),
    args: list[str] = typer.Argument(None),
) -> None:
    """Entry point of the hook shims (called by git, not by people)."""
    from gitdata.repo_api import Workspace

    ws = Workspace()
    if name == "pre-commit":
        for warning in ws.check_staged_pointers():
            typer.echo(f"gitdata: warning: {warning}", err=True)
    elif name == "pre-push":
        notes: list[str] = []
        try:
            # git passes the remote's name and URL ($1 $2); by hand (CI) they may be absent
            remote_url = args[1] if args and len(args) >= 2 else None
            ws.check_push(sys.stdin.read(), notes, remote_url)
        finally:
            for line in notes:
                typer.echo(f"gitdata: {line}", err=True)
    elif name in ("post-checkout", "post-merge"):
        # Never block git (it has already checked out): report problems and carry on.
        # A folder refused on its own (its pointer does not match the store's record)
        # is reported and the hook exits non-zero, which git passes on as its status.
        refused: list = []
        try:
            if ws.settings.hooks["bound_folders"] == "warn":
                _report_stale(ws)
                return
            refused = [u for u in _update_bound(ws, quiet_when_current=True) if u.refused]
        except Exception as exc:  # noqa: BLE001
            typer.echo(f"gitdata: bound folders not updated: {exc}", err=True)
        _report_refused(refused)
        if refused:
            raise typer.Exit(refused[0].refused.exit_code)
    else:
        raise typer.BadParameter(f"unknown hook {name!r}")


@app.command()
def status(
    remote: bool = typer.Option(
        False, "--remote", help="Also check each version exists in the store."
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Exit 10 if a pointer is malformed or (with --remote) not in the store or "
        "not matching the store's record.",
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """State of every dataset pointer in the repository.

    Clean, modified, new, deleted, malformed or conflicted; open drafts; bound folders.
    No store access unless --remote; --check exits 10 on a problem (a CI gate).

    Examples:

      gd status

      gd status --remote --check
    """
    from gitdata.errors import HookRefusedError
    from gitdata.repo_api import Workspace

    ws = Workspace()
    rows = ws.status(remote=remote)
    hooks_notice()
    # malformed pointers, and with --remote: mismatches with the store's record/manifest
    problems = [f"{r.path}: {r.error}" for r in rows if r.error]
    conflicted = [r.path for r in rows if r.state == "conflicted"]
    problems += [f"conflicted: {rel} (run gd merge --resolve)" for rel in conflicted]
    problems += [
        f"{r.path}: version {r.id} is not in the store"
        for r in rows
        if r.in_store is False and not r.error
    ]
    if json_out:
        emit_json([r.__dict__ for r in rows])
    if check and problems:
        raise HookRefusedError(f"{len(problems)} dataset pointer problem(s)", problems=problems)
    if json_out:
        return
    if not rows:
        say("no dataset pointers in this repository")
        return
    print_table(
        ["dataset", "version", "id", "pointer", "draft", "in store", "bound folder"],
        [
            [
                f"{r.project}/{r.name}" if r.project else r.path,
                r.version or "",
                (r.id or "")[:12],
                r.state,
                "open" if r.draft_open else "",
                "" if r.in_store is None else ("yes" if r.in_store else "MISSING"),
                f"{r.bound} ({r.bound_state})" if r.bound else "",
            ]
            for r in rows
        ],
    )
    for rel in conflicted:
        note(f"conflicted: {rel} (run gd merge --resolve)")
    for line in ws.bind_notes(rows):
        note(line)


@app.command()
def log(
    project: str = typer.Option(..., "--project", metavar="PROJECT", help="Project."),
    name: str = typer.Option(..., "--name", metavar="NAME", help="Dataset name."),
    rev: str = typer.Option("HEAD", "--rev", metavar="REV", help="Start from this revision."),
    max_count: int = typer.Option(
        None, "-n", "--max-count", metavar="N", help="Show at most this many."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The git history of one dataset's pointer.

    One row per commit that changed the pointer, newest first: commit, date, author,
    version, id and change counts.

    Examples:

      gd log --project vision --name cats

      gd log --project vision --name cats --rev main -n 5
    """
    from gitdata.repo_api import Workspace

    revs = Workspace().log(project, name, rev, max_count)
    rows: list[dict[str, Any]] = [
        {
            "commit": r.commit,
            "author": r.author,
            "date": r.date,
            "message": r.message,
            "version": r.pointer.version if r.pointer else None,
            "id": r.pointer.id if r.pointer else None,
            "stats": r.pointer.stats if r.pointer else None,
        }
        for r in revs
    ]
    if json_out:
        emit_json(rows)
        return
    print_table(
        ["commit", "date", "author", "version", "id", "+", "~", "-", ">", "message"],
        [
            [
                r["commit"][:10],
                r["date"][:19],
                r["author"],
                r["version"] or "(deleted)",
                (r["id"] or "")[:12],
                *_change_counts(r["stats"]),
                r["message"],
            ]
            for r in rows
        ],
    )


def _change_counts(stats: dict | None) -> list:
    """+ ~ - > (added, modified, removed, renamed) for a log row; a merge shows what it
    brought in against its first parent."""
    if not stats:
        return ["", "", "", ""]
    if "merged_added" in stats:
        return [stats["merged_added"], stats["merged_modified"], stats["merged_removed"], ""]
    return [
        stats.get("added", ""),
        stats.get("modified", ""),
        stats.get("removed", ""),
        stats.get("renamed", 0),
    ]


@app.command()
def diff(
    old_rev: str = typer.Argument("HEAD", metavar="[REV1]", help="Older revision (default HEAD)."),
    new_rev: str = typer.Argument(
        None, metavar="[REV2]", help="Newer revision (default: the working tree)."
    ),
    files: bool = typer.Option(False, "--files", help="List the changed paths."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Which datasets changed between two revisions.

    With the added, modified and removed files of each, read from the manifests
    (nothing is downloaded). Default: HEAD against the working tree.

    Examples:

      gd diff

      gd diff HEAD~3 HEAD --files
    """
    from gitdata.repo_api import Workspace

    diffs = Workspace().diff(old_rev, new_rev)
    if json_out:
        emit_json([d.__dict__ for d in diffs])
        return
    if not diffs:
        say("no dataset changed")
        return
    for d in diffs:
        head = (
            f"{d.project}/{d.name}: {d.old_version or '(none)'} -> {d.new_version or '(deleted)'}"
        )
        counts = f"+{len(d.added)} ~{len(d.modified)} -{len(d.removed)} >{len(d.renamed)}"
        say(f"{head}  {counts}")
        if files:
            for line in views.change_lines(d.__dict__):
                say(f"    {line}")


def _report_refused(refused: list) -> None:
    """One stderr line per bound folder refused on its own, then the first hint."""
    for u in refused:
        typer.echo(f"gitdata: {u.path}: not updated: {u.refused}", err=True)
    if refused and refused[0].refused.hint:
        typer.echo(f"gitdata: hint: {refused[0].refused.hint}", err=True)


def _update_bound(ws, only=None, quiet_when_current=False) -> list:
    """Update bound folders and report each (folders refused on their own are left to
    the caller: their ``refused`` holds the error)."""
    updates = ws.update_bound(only)
    for u in updates:
        if u.refused is not None:
            continue
        if u.no_pointer:
            held = f" (holds {u.old_id[:12]})" if u.old_id else ""
            typer.echo(
                f"gitdata: {u.path}: {u.project}/{u.name} has no pointer here; left as is{held}",
                err=True,
            )
            continue
        if u.up_to_date:
            if not quiet_when_current:
                typer.echo(f"{u.path}: up to date", err=True)
            continue
        typer.echo(
            f"gitdata: {u.path}: now {u.new_id[:12]} ({u.written} written, {u.removed} removed)",
            err=True,
        )
        for p in u.kept_modified:
            typer.echo(f"gitdata: {u.path}/{p}: changed locally, left as is", err=True)
    return updates


@app.command()
def checkout(
    paths: list[str] = typer.Argument(
        None, metavar="[PATH]...", help="Only bound folders at or under these paths."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Bring bound folders up to the working tree's pointers.

    Updates the folders bound in this clone (gd get --bind) incrementally; files you
    changed are left alone and reported.

    Examples:

      gd checkout

      gd checkout data/images
    """
    from gitdata.repo_api import Workspace

    hooks_notice()
    updates = _update_bound(Workspace(), paths or None, quiet_when_current=json_out)
    if json_out:
        emit_json([u.to_dict() for u in updates])
    elif not updates:
        say("no bound folders (bind one with gd get --project P --name N --link DIR --bind)")
    refused = [u for u in updates if u.refused is not None]
    if len(refused) == 1:
        raise refused[0].refused  # its own one-line error, hint and exit code
    if refused:
        _report_refused(refused)
        first = refused[0].refused
        raise type(first)(
            f"{len(refused)} bound folders not updated: " + ", ".join(u.path for u in refused),
            hint=first.hint,
        )


@app.command("merge-driver", hidden=True)
def merge_driver_cmd(
    base: str = typer.Argument(...),
    ours: str = typer.Argument(...),
    theirs: str = typer.Argument(...),
    path: str = typer.Argument("pointer"),
) -> None:
    """git's merge driver for pointer files (configured by gd init)."""
    from gitdata.errors import GitDataError, IntegrityError, MergeConflictError
    from gitdata.repo_api import Workspace

    try:
        Workspace().merge_driver(base, ours, theirs, path)
    except MergeConflictError as exc:
        typer.echo(f"gitdata: {path}: {exc}", err=True)
        typer.echo(
            "gitdata: left as a conflict; choose with: "
            "gd merge --resolve --prefer ours|theirs (or --take PATH=ours|theirs)",
            err=True,
        )
        raise typer.Exit(1) from None
    except GitDataError as exc:
        if exc.fields.get("merge_side"):
            raise  # a file git named cannot be read or written: gd's one-line error
        typer.echo(f"gitdata: could not merge {path}: {exc}", err=True)
        if isinstance(exc, IntegrityError):
            # a pointer that does not match the store's record: nothing was merged
            typer.echo(f"gitdata: left as a conflict; {exc.hint}", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            "gitdata: left as a conflict; when the store is reachable run: gd merge --resolve",
            err=True,
        )
        raise typer.Exit(1) from None


@app.command()
def merge(
    ours: str = typer.Argument(None, metavar="[OURS_ID]", help="Version id of our side."),
    theirs: str = typer.Argument(None, metavar="[THEIRS_ID]", help="Version id of their side."),
    resolve: bool = typer.Option(
        False, "--resolve", help="Merge every conflicted pointer in the index."
    ),
    prefer: str = typer.Option(
        None,
        "--prefer",
        metavar="ours|theirs",
        help="Side kept where both changed a path: ours or theirs.",
    ),
    take: list[str] = typer.Option(
        None,
        "--take",
        metavar="PATH=SIDE",
        help="PATH=ours|theirs: the side kept for one conflicted path (repeat the flag for more).",
    ),
    storage: str = typer.Option(
        None, "--storage", metavar="URL", help="Store of both versions (default: where OURS lives)."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Merge two versions, or resolve conflicted pointers.

    With OURS and THEIRS: a new version with both as parents holding their three-way
    merge. With --resolve: every pointer a git merge left conflicted. Conflicting paths
    are never guessed: name a side with --prefer or --take.

    Examples:

      gd merge 3f2a9c41 8be01d77

      gd merge --resolve --prefer theirs

      gd merge --resolve --take labels.csv=ours
    """
    from gitdata.repo_api import Workspace

    if prefer not in (None, "ours", "theirs"):
        raise typer.BadParameter(f"--prefer {prefer!r}: use ours or theirs")
    if resolve and (ours or theirs):
        raise typer.BadParameter("give OURS_ID THEIRS_ID, or --resolve, not both")
    choices = Workspace.parse_take(take)
    if resolve:
        hooks_notice()
        done = Workspace(storage).resolve_conflicts(prefer=prefer, take=choices)
        if json_out:
            emit_json({"resolved": done})
        else:
            for rel in done:
                say(f"resolved {rel}")
            if not done:
                say("no conflicted pointer files")
        return
    if not (ours and theirs):
        raise typer.BadParameter("give OURS_ID THEIRS_ID, or --resolve")
    record = Workspace.for_version(ours, storage).merge(ours, theirs, prefer=prefer, take=choices)
    if json_out:
        emit_json({"id": record.id, "version": record.version, "parents": record.parents})
    else:
        say(record.id)
        note(f"merged into {record.project}/{record.name} {record.version}")


@app.command()
def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be removed."),
    grace: str = typer.Option(
        "14d", "--grace", metavar="AGE", help="Never remove anything younger (e.g. 14d, 12h, 0)."
    ),
    reflog: bool = typer.Option(
        False, "--reflog", help="Also keep versions named in reflog entries."
    ),
    repos: list[str] = typer.Option(
        None,
        "--repo",
        metavar="PATH",
        help="Another repository sharing the store (repeat the flag for more).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before removing."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Remove store content that no pointer reaches.

    Versions and objects no pointer in any commit of any ref reaches (with --repo, of
    the other repositories too) are removed once older than --grace.

    Examples:

      gd gc --dry-run

      gd gc --grace 30d --repo ../other-repo
    """

    from gitdata.repo_api import Workspace

    ask = None if (yes or dry_run or not output.stdin_is_tty()) else _ask_before_gc()
    report = Workspace().gc(
        list(repos or []),
        grace=grace,
        dry_run=dry_run,
        reflog=reflog,
        confirm=ask,
        progress=None if json_out else output.RichProgress.maybe(),
    )
    if json_out:
        emit_json(report.__dict__)
        return
    if report.cancelled:
        say("gc cancelled: nothing was removed")
        return
    if ask is None:
        _list_removed(report, "would remove" if dry_run else "removed")
    verb = "would remove" if dry_run else "removed"
    say(
        f"{verb} {len(report.removed_versions)} version(s) and {report.removed_objects} object(s), "
        f"{human_size(report.freed_bytes)}; kept {report.kept_versions} version(s) "
        f"({report.kept_recent} only because they are younger than {grace})"
    )
    if report.aborted_uploads:
        note(f"cleaned up {report.aborted_uploads} unfinished upload(s) older than {grace}")


def _list_removed(report: Any, verb: str) -> None:
    """What gc removes, one version a line (project/name, version, id, size), on stderr."""
    for row in report.removed:
        note(
            f"  {verb}: {row['project']}/{row['name']} {row['version']} {row['id']} "
            f"({human_size(row['bytes'])})"
        )
    if report.other_bytes:
        note(f"  {verb}: objects no version names ({human_size(report.other_bytes)})")


def _ask_before_gc() -> Callable[[Any], bool]:
    """The question gc asks on a terminal, after listing what it would remove."""

    def ask(report: Any) -> bool:
        _list_removed(report, "will remove")
        question = (
            f"remove {len(report.removed_versions)} version(s) and {report.removed_objects} "
            f"object(s), {human_size(report.freed_bytes)}?"
        )
        return typer.confirm(question, default=False, err=True)

    return ask


def hooks_notice() -> None:
    """One stderr line when this clone holds pointers but lacks gd's hooks (a fresh
    clone: git never copies hooks), with the fix, as git-lfs says it."""
    from gitdata.repo_api import Workspace

    missing = Workspace.missing_setup()
    if missing:
        note(f"gitdata: hooks not installed: run gd init (missing: {', '.join(missing)})")


def _report_stale(ws) -> None:
    for row in ws.status():
        if row.bound and row.bound_state not in ("current", "no pointer"):
            typer.echo(f"gitdata: {row.bound} is {row.bound_state}: run gd checkout", err=True)
        elif row.bound_state == "no pointer":
            typer.echo(
                f"gitdata: {row.bound}: {row.project}/{row.name} has no pointer here; left as is",
                err=True,
            )
