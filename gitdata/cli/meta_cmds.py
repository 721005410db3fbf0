"""Commands that change what versions are called: set-description, rename, move, publish.

Closed content never changes; these append metadata events to the store
(docs/format.md §13) and, for rename and move, move the pointer file in git.
"""

from __future__ import annotations

from typing import Any

import typer

from gitdata.cli.app import app
from gitdata.cli.output import emit_json, note, say

JSON_HELP = "Print machine-readable JSON on stdout."
STORAGE_HELP = "Store URL (default: GD_STORAGE or the configured store)."


def _dataset(dataset_id: str | None, storage: str | None):
    from gitdata.api import open_dataset, resolve_id
    from gitdata.repo_api import Workspace

    if not dataset_id:
        dataset_id = Workspace(storage).current_id()
    return open_dataset(resolve_id(dataset_id, storage), storage)


@app.command("set-description")
def set_description(
    dataset_id: str = typer.Option(
        None, "--id", metavar="ID", help="Version or draft (default: the current dataset)."
    ),
    description: str = typer.Option(
        ..., "--description", metavar="TEXT", help="The new description."
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help=STORAGE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set the description of a version or draft.

    A closed version's content never changes: the new description is stored as a
    metadata change beside it, and `gd show` lists earlier ones.

    Examples:

      gd set-description --id 3f2a9c --description "cleaned labels, v2 schema"

      gd set-description --description "work in progress"
    """
    ds = _dataset(dataset_id, storage)
    ds.set_description(description)
    if json_out:
        emit_json({"id": ds.id, "description": ds.description})
    else:
        say(f"description of {ds.project}/{ds.name} {ds.version} ({ds.id[:12]}) set")


def _report_rename(change: Any, old: str, new: str, json_out: bool) -> None:
    if json_out:
        emit_json({"from": old, "to": new, **change.to_dict()})
        return
    if change.unchanged:
        say(f"{old} is already called so: nothing changed")
        return
    parts = [f"{len(change.ids)} version(s)"]
    if change.drafts:
        parts.append(f"{len(change.drafts)} open draft(s)")
    say(f"{old} -> {new}: {' and '.join(parts)}")
    for path in change.pointers:
        note(f"moved the pointer to {path} (staged: commit it to record the move)")


@app.command()
def rename(
    project: str = typer.Option(..., "--project", metavar="PROJECT", help="The dataset's project."),
    name: str = typer.Option(..., "--name", metavar="NAME", help="The dataset's current name."),
    new_name: str = typer.Option(..., "--new-name", metavar="NAME", help="Its new name."),
    storage: str = typer.Option(None, "--storage", metavar="URL", help=STORAGE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Rename a dataset: all its versions and drafts.

    Ids and content stay; the store keeps the old name in the versions' history, so
    pointers committed before the rename still check out. Inside a git repository the
    pointer file moves to its new path and the move is staged.

    Examples:

      gd rename --project vision --name cats --new-name felines

      gd rename --project vision --name cats --new-name felines --storage s3://b/ds
    """
    from gitdata.api import Dataset

    change = Dataset.rename(new_name, project, name, storage=storage)
    _report_rename(change, f"{project}/{name}", f"{project}/{new_name}", json_out)


@app.command()
def move(
    project: str = typer.Option(..., "--project", metavar="PROJECT", help="The dataset's project."),
    name: str = typer.Option(..., "--name", metavar="NAME", help="The dataset's name."),
    new_project: str = typer.Option(
        ..., "--new-project", metavar="PROJECT", help="The project to move it to."
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help=STORAGE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Move a dataset to another project.

    Every version, and this machine's drafts, move. As with `gd rename`, ids and
    content stay and the pointer file moves, staged.

    Examples:

      gd move --project scratch --name cats --new-project vision/animals

      gd move --project scratch --name cats --new-project vision --json
    """
    from gitdata.api import Dataset

    change = Dataset.move_to_project(new_project, project, name, storage=storage)
    _report_rename(change, f"{project}/{name}", f"{new_project}/{name}", json_out)


@app.command()
def publish(
    dataset_id: str = typer.Option(
        ..., "--id", metavar="ID", help="The closed version to publish."
    ),
    storage: str = typer.Option(None, "--storage", metavar="URL", help=STORAGE_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Publish a closed version for readers to rely on.

    `Dataset.get(..., only_published=True)` picks the newest published version; gc
    keeps published versions and `gd delete` refuses them without --force. The mark is
    permanent. A draft is refused: close it first.

    Examples:

      gd publish --id 3f2a9c

      gd publish --id 3f2a9c --json
    """
    ds = _dataset(dataset_id, storage)
    already = ds.is_published()
    ds.publish()
    if json_out:
        emit_json({"id": ds.id, "published": True, "unchanged": already})
    elif already:
        say(f"{ds.project}/{ds.name} {ds.version} ({ds.id[:12]}) was published already")
    else:
        say(f"published {ds.project}/{ds.name} {ds.version} ({ds.id[:12]})")
