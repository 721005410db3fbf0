"""Commands that move data: cat (one file), push and pull (versions between stores)."""

from __future__ import annotations

import sys

import typer

from gitdata.cli.app import app
from gitdata.cli.build_cmds import ID_HELP, JSON_HELP
from gitdata.cli.output import RichProgress, emit_json, human_size, say


@app.command()
def cat(
    path: str = typer.Argument(..., metavar="PATH", help="Dataset path of the file."),
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    project: str = typer.Option(
        None, "--project", metavar="PROJECT", help="Project (with --name)."
    ),
    name: str = typer.Option(None, "--name", metavar="NAME", help="Dataset name (with --project)."),
    rev: str = typer.Option(
        None, "--rev", metavar="REV", help="Git revision whose pointer pins the version."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        metavar="URL",
        help="Store to read from (default: where the version lives).",
    ),
) -> None:
    """Write one file of a version to stdout.

    The file is fetched with a ranged read of its chunk and checked against its
    SHA-256; the chunk is not downloaded.

    Examples:

      gd cat --id 3f2a9c41 labels.csv

      gd cat --project vision --name cats --rev main labels.csv > labels.csv
    """
    from gitdata.cli.read_cmds import find_version

    ds = find_version(dataset_id, project, name, rev=rev, storage=storage)
    sys.stdout.buffer.write(ds.read_bytes(path))
    sys.stdout.buffer.flush()


def _copy(src_url: str | None, dst_url: str | None, dataset_id: str | None, json_out: bool) -> None:
    from gitdata.repo_api import Workspace

    # push reads from where the version lives: the store it was closed in here, if known
    vid, src, dst, report = Workspace().copy_version(
        dataset_id, src_url, dst_url, progress=RichProgress.maybe()
    )
    if json_out:
        emit_json({"id": vid, "from": src, "to": dst, **report.__dict__})
    else:
        say(
            f"{vid}: {report.versions} version(s), {report.objects} object(s), "
            f"{human_size(report.bytes)} copied from {src} to {dst}"
        )


@app.command()
def push(
    to: str = typer.Option(..., "--to", metavar="URL", help="Destination store URL."),
    dataset_id: str = typer.Option(None, "--id", metavar="ID", help=ID_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Copy a version and its ancestors to another store.

    Objects first, records last; what the target has is skipped, so it is idempotent
    and resumable. The source is the store the version was closed in on this machine,
    else the configured store.

    Examples:

      gd push --to s3://backup/datasets --id 3f2a9c41

      gd push --to /mnt/shared/store
    """
    _copy(None, to, dataset_id, json_out)


@app.command()
def pull(
    from_url: str = typer.Option(..., "--from", metavar="URL", help="Source store URL."),
    dataset_id: str = typer.Option(..., "--id", metavar="ID", help="Version to copy."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Copy a version and its ancestors from another store.

    Into the configured store; what it has already is skipped.

    Examples:

      gd pull --from s3://team/datasets --id 3f2a9c41

      gd pull --from /mnt/shared/store --id 8be01d77 --json
    """
    _copy(from_url, None, dataset_id, json_out)
