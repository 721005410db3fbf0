"""Changing what a version is called and says about itself: set-description,
rename, move, publish (docs/format.md §13).

A closed version's content and record never change; these write one metadata
event naming the versions they change, under the store's shared lock (so no gc
runs between checking that the versions exist and the write).  Open drafts of
this machine are edited in place (they are not immutable yet), and inside a git
repository a renamed or moved dataset's pointer file moves with it, staged, so
the next commit records the move.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.core.metaevent import MetadataEvent, event_key
from gitdata.core.record import VersionRecord, utc_now
from gitdata.core.suggest import did_you_mean
from gitdata.errors import (
    ConflictError,
    DatasetNotFoundError,
    DatasetStateError,
    InvalidInputError,
)
from gitdata.gitio.pointer import pointer_relpath
from gitdata.gitio.repo import GitRepo, find_repo
from gitdata.ops.context import Context
from gitdata.ops.drafts import editing, validate_names
from gitdata.ops.events import forget_events
from gitdata.ops.reader import list_records, load_record
from gitdata.ops.resolve import suggest_names
from gitdata.storage import version_key
from gitdata.storage.locks import store_lock

MAX_DESCRIPTION = 65_536


@dataclass
class MetadataChange:
    """What one metadata command changed."""

    ids: list[str]
    changes: dict[str, Any]
    event: str | None = None  # key of the event written (None: nothing closed changed)
    drafts: list[str] = field(default_factory=list)  # open drafts edited in place
    pointers: list[str] = field(default_factory=list)  # repo paths of moved pointers
    unchanged: bool = False  # it already was so: nothing written

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ids": list(self.ids),
            "set": dict(self.changes),
            "event": self.event,
            "drafts": list(self.drafts),
            "pointers": list(self.pointers),
            "unchanged": self.unchanged,
        }


def write_event(ctx: Context, ids: list[str], changes: dict[str, Any]) -> str:
    """Append one event setting ``changes`` on the closed versions ``ids``; its key.

    Every id must have a record in the store when the event is written: checked
    under the shared store lock, which keeps gc and delete away until then.
    """
    store = ctx.store_for_writing()
    at = utc_now()
    key = event_key(at, secrets.token_hex(8))
    event = MetadataEvent(key=key, at=at, ids=tuple(ids), changes=dict(changes))
    data = dump_yaml(event.to_dict()).encode("utf-8")
    MetadataEvent.from_dict(key, load_yaml_mapping(data, key))  # never write what readers refuse
    with store_lock(
        store, exclusive=False, operation="metadata", stale_after=ctx.settings.lock_stale
    ) as lock:
        lock.confirm()
        present = store.exists_many([version_key(i) for i in ids])
        gone = [i for i in ids if version_key(i) not in present]
        if gone:
            raise DatasetNotFoundError(
                f"dataset version {gone[0]} is no longer in store {store.url}",
                dataset_id=gone[0],
                hint="it was deleted meanwhile; nothing was changed",
            )
        store.put_bytes(key, data)
    forget_events(ctx)
    return key


def set_description(ctx: Context, version_id: str, description: str) -> MetadataChange:
    """Set the description of a draft (in place) or of a closed version (an event)."""
    _check_description(description)
    if ctx.state.has_draft(version_id):
        with editing(ctx, version_id) as draft:
            draft.description = description
        return MetadataChange([version_id], {"description": description}, drafts=[version_id])
    record = load_record(ctx, version_id)
    if record.description == description:
        return MetadataChange([version_id], {"description": description}, unchanged=True)
    key = write_event(ctx, [version_id], {"description": description})
    return MetadataChange([version_id], {"description": description}, event=key)


def _check_description(description: str) -> None:
    if not isinstance(description, str):
        raise InvalidInputError("the description must be text")
    if len(description) > MAX_DESCRIPTION or "\x00" in description:
        raise InvalidInputError(
            f"the description must be at most {MAX_DESCRIPTION} characters, without NUL",
            hint="put long documents into the dataset as a file (README.md)",
        )


def publish(ctx: Context, version_id: str) -> MetadataChange:
    """Mark a closed version published (final for readers that ask for published
    versions only); a draft is refused: close it first."""
    if ctx.state.has_draft(version_id):
        raise DatasetStateError(
            f"dataset {version_id} is an open draft; only closed versions can be published",
            dataset_id=version_id,
            hint=f"close it first: gd close --id {version_id}",
        )
    record = load_record(ctx, version_id)
    if record.published:
        return MetadataChange([version_id], {"published": True}, unchanged=True)
    key = write_event(ctx, [version_id], {"published": True})
    return MetadataChange([version_id], {"published": True}, event=key)


def rename(
    ctx: Context,
    project: str,
    name: str,
    *,
    new_project: str | None = None,
    new_name: str | None = None,
    cwd: Path | None = None,
) -> MetadataChange:
    """Give every version of ``project/name`` (closed in the store, and this
    machine's open drafts) a new name and/or project; move the pointer file."""
    validate_names(project, name)
    to_project = new_project or project
    to_name = new_name or name
    validate_names(to_project, to_name)
    changes: dict[str, Any] = {}
    if to_project != project:
        changes["project"] = to_project
    if to_name != name:
        changes["name"] = to_name
    records = list_records(ctx)
    drafts = [
        h.id for h in ctx.state.list_draft_headers() if (h.project, h.name) == (project, name)
    ]
    ids = [r.id for r in records if (r.project, r.name) == (project, name)]
    if not ids and not drafts:
        finished = _finish_interrupted(records, project, name, to_project, to_name, cwd)
        if finished is not None:
            return finished
        suggestions = suggest_names(records, project, name)
        hint = "gd search lists the datasets the store holds"
        raise DatasetNotFoundError(
            f"no dataset {project}/{name} in store {ctx.store.url}",
            project=project,
            name=name,
            suggestions=suggestions,
            hint=f"{did_you_mean(suggestions)} ({hint})" if suggestions else hint,
        )
    if not changes:
        return MetadataChange(ids + drafts, {}, unchanged=True)
    _refuse_taken(ctx, records, to_project, to_name)
    key = write_event(ctx, ids, changes) if ids else None
    for draft_id in drafts:
        # a draft closed meanwhile has a record now, which the event did not name
        with (
            contextlib.suppress(DatasetStateError, DatasetNotFoundError),
            editing(ctx, draft_id) as draft,
        ):
            draft.project, draft.name = to_project, to_name
    moved = move_pointer(project, name, to_project, to_name, cwd=cwd, ids=set(ids + drafts))
    return MetadataChange(ids, changes, event=key, drafts=drafts, pointers=moved)


def _finish_interrupted(
    records: list[VersionRecord],
    project: str,
    name: str,
    to_project: str,
    to_name: str,
    cwd: Path | None,
) -> MetadataChange | None:
    """The same rename run again after one that was stopped between its event and
    the pointer move: the store has it already, so only the pointer moves."""
    repo = find_repo(cwd)
    pointer = repo.read_pointer(project, name, None) if repo is not None else None
    if pointer is None:
        return None
    by_id = {r.id: r for r in records}
    record = by_id.get(pointer.id)
    if record is None or (record.project, record.name) != (to_project, to_name):
        return None
    ids = [r.id for r in records if (r.project, r.name) == (to_project, to_name)]
    moved = move_pointer(project, name, to_project, to_name, cwd=cwd, ids={pointer.id})
    changes = {
        k: new
        for k, old, new in (("project", project, to_project), ("name", name, to_name))
        if new != old
    }
    return MetadataChange(ids, changes, pointers=moved)


def _refuse_taken(ctx: Context, records: list[VersionRecord], project: str, name: str) -> None:
    taken = any((r.project, r.name) == (project, name) for r in records) or any(
        (h.project, h.name) == (project, name) for h in ctx.state.list_draft_headers()
    )
    if taken:
        raise ConflictError(
            f"dataset {project}/{name} exists already; versions of two datasets are not "
            "merged by a rename",
            project=project,
            name=name,
            hint="pick another name, or gd delete --entire-dataset the other one first",
        )


def move_pointer(
    project: str,
    name: str,
    to_project: str,
    to_name: str,
    *,
    ids: set[str],
    cwd: Path | None = None,
) -> list[str]:
    """Move the work tree's pointer of ``project/name`` to its new path, rewritten
    with the new project/name, and stage the move; a bound folder follows.

    Only a pointer pinning one of ``ids`` (the versions renamed) moves: one pinning
    a version of another store keeps the name that store knows it by."""
    repo = find_repo(cwd)
    if repo is None:
        return []
    pointer = repo.read_pointer(project, name, None)
    if pointer is None or pointer.id not in ids:
        return []
    old_rel = pointer_relpath(project, name)
    new_rel = pointer_relpath(to_project, to_name)
    if (repo.workdir / new_rel).exists():
        raise ConflictError(
            f"{new_rel} exists already in the work tree",
            file=new_rel,
            hint="remove or rename it first; the store was changed, run the command again",
        )
    pointer.project, pointer.name = to_project, to_name
    repo.write_pointer(pointer)
    _remove_staged(repo, old_rel)
    _rekey_binding(repo, project, name, to_project, to_name)
    return [new_rel]


def _remove_staged(repo: GitRepo, rel: str) -> None:
    path = repo.workdir / rel
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    index = repo.repo.index
    index.read()
    with contextlib.suppress(KeyError, OSError):
        index.remove(rel)
    index.write()
    with contextlib.suppress(OSError):  # an emptied project folder goes too, as git does
        parent = path.parent
        stop = repo.workdir / ".gitdata" / "datasets"
        while parent != stop and parent.is_relative_to(stop):
            parent.rmdir()
            parent = parent.parent


def _rekey_binding(repo: GitRepo, project: str, name: str, to_project: str, to_name: str) -> None:
    from gitdata.ops.bind import rekey_binding

    rekey_binding(repo, f"{project}/{name}", to_project, to_name)
