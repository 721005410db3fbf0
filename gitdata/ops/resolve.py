"""Which version a command acts on: an id, a pointer in the repo, the latest, or the current one."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitdata.core.ids import is_version_id
from gitdata.core.record import RecordHeader, VersionRecord
from gitdata.core.suggest import close_names, did_you_mean
from gitdata.errors import (
    AmbiguousIdError,
    ConflictError,
    DatasetNotFoundError,
    IntegrityError,
    InvalidInputError,
    StoreNotFoundError,
)
from gitdata.gitio.pointer import Pointer, pointer_from_record, pointer_relpath
from gitdata.gitio.repo import find_repo
from gitdata.ops.context import Context
from gitdata.ops.reader import (
    find_latest,
    list_record_ids,
    load_manifest,
    load_record,
)
from gitdata.ops.records import record_headers
from gitdata.ops.state import Draft
from gitdata.storage.fsstore import FsspecStore


@dataclass
class Resolved:
    """A draft or a closed version, and how it was chosen (shown to the user)."""

    record: VersionRecord | None
    draft: Draft | None
    how: str

    @property
    def id(self) -> str:
        return self.record.id if self.record else self.draft.id  # type: ignore[union-attr]


# A short id is a prefix of at least this many hex characters (docs/cli.md, "Ids").
MIN_ID_PREFIX = 6
_HEX = re.compile(r"[0-9a-f]+")
_SHOWN_CANDIDATES = 5
_ID_HINT = "ids are 32 hex characters; any unique prefix of 6 or more works (gd search lists them)"


def expand_id(ctx: Context, text: str, store: FsspecStore | None = None) -> str:
    """The full id ``text`` names: a full id as it is, or the one version or draft
    whose id starts with the prefix ``text`` (6+ hex characters).

    Candidates are the closed versions of ``ctx``'s store (or ``store``), this machine's drafts
    and the versions closed on this machine (whatever store they are in).  Too
    short or not hex: :class:`InvalidInputError`; several matches:
    :class:`AmbiguousIdError` (the first five and a count); none:
    :class:`DatasetNotFoundError`.
    """
    value = text.strip().lower()
    if is_version_id(value):
        return value
    check_id_prefix(text)
    known = set(ctx.state.draft_ids()) | set(ctx.state.home_ids())
    with contextlib.suppress(StoreNotFoundError):  # no store yet: drafts may still match
        known.update(list_record_ids(ctx, store))
    return pick_id(text, known, where=store.url if store else ctx.settings.storage)


def check_id_prefix(text: str) -> str:
    """``text`` lower-cased when it can be an id or a short id (hex, 6 to 32
    characters); else :class:`InvalidInputError`."""
    value = text.strip().lower()
    if not _HEX.fullmatch(value) or len(value) > 32:
        raise InvalidInputError(f"not a dataset id: {text!r}", dataset_id=text, hint=_ID_HINT)
    if len(value) < MIN_ID_PREFIX:
        raise InvalidInputError(
            f"dataset id {text!r} is too short: give at least {MIN_ID_PREFIX} hex characters",
            dataset_id=text,
            hint=_ID_HINT,
        )
    return value


def pick_id(text: str, known: Iterable[str], *, where: str | None = None) -> str:
    """The one id of ``known`` that starts with ``text`` (see :func:`expand_id`)."""
    value = check_id_prefix(text)
    found = sorted({i for i in known if i.startswith(value)})
    if not found:
        raise DatasetNotFoundError(
            f"no dataset version or draft id starts with {value}"
            + (f" (store {where})" if where else ""),
            dataset_id=value,
            hint="check --storage / GD_STORAGE, or list ids with gd search --drafts",
        )
    if len(found) > 1:
        shown = ", ".join(found[:_SHOWN_CANDIDATES])
        more = len(found) - _SHOWN_CANDIDATES
        raise AmbiguousIdError(
            f"dataset id {value} is ambiguous: {len(found)} ids start with it: {shown}"
            + (f" (and {more} more)" if more > 0 else ""),
            dataset_id=value,
            candidates=found[:_SHOWN_CANDIDATES],
            matches=len(found),
            hint="give more characters of the id",
        )
    return found[0]


def by_id(ctx: Context, version_id: str, how: str = "id") -> Resolved:
    """A draft of this machine, or a closed version in the store."""
    if ctx.state.has_draft(version_id):
        from gitdata.ops.commit import finish_killed_close

        closed = finish_killed_close(ctx, version_id)
        if closed is not None:
            return Resolved(closed, None, how)
        with contextlib.suppress(DatasetNotFoundError):  # else closed meanwhile
            return Resolved(None, ctx.state.snapshot_draft(version_id), how)
    return Resolved(load_record(ctx, version_id), None, how)


def resolve(
    ctx: Context,
    *,
    dataset_id: str | None = None,
    project: str | None = None,
    name: str | None = None,
    version: str | None = None,
    tags: list[str] | None = None,
    rev: str | None = None,
    use_current: bool = True,
    cwd: Path | None = None,
) -> Resolved:
    """Pick the version a command means.

    Order: ``dataset_id``; else project/name through the repository's pointer
    (working tree, or ``rev``) when there is one; else the newest matching
    version in the store; else the dataset created or used last.
    """
    if dataset_id:
        return by_id(ctx, dataset_id)
    if project or name:
        if project and name and not tags:
            pointer = read_repo_pointer(project, name, rev=rev, cwd=cwd)
            if pointer is not None and (version is None or version == pointer.version):
                rel = pointer_relpath(project, name)
                found = by_id(ctx, pointer.id, how=f"pointer {rel}" + (f" at {rev}" if rev else ""))
                source = f"{rel}@{rev}" if rev else rel
                if found.record is not None:
                    check_pointer(ctx, pointer, rel, source, found.record)
                else:
                    assert found.draft is not None
                    check_pointer_path(pointer, rel, source)
                    _check_names(pointer, found.draft.project, found.draft.name, source, "draft")
                return found
        if rev:
            raise DatasetNotFoundError(
                f"no pointer for {project}/{name} at revision {rev}", project=project, name=name
            )
        headers = record_headers(ctx)
        hit = find_latest(headers, project, name, version, tags)
        if hit is not None and version is not None:
            _refuse_ambiguous(headers, hit, version)
        if hit is None:
            what = "/".join(x for x in (project, name) if x) + (
                f" version {version}" if version else ""
            )
            suggestions = suggest_names(headers, project, name)
            hint = "gd search lists what the store holds"
            raise DatasetNotFoundError(
                f"no closed dataset version matches {what}",
                project=project,
                name=name,
                suggestions=suggestions,
                hint=f"{did_you_mean(suggestions)} ({hint})" if suggestions else hint,
            )
        return Resolved(load_record(ctx, hit.id), None, "latest in store")
    if not use_current:
        raise _nothing_given()
    return by_id(ctx, current_id(ctx), how="last used")


def _refuse_ambiguous(records: list[RecordHeader], hit: RecordHeader, version: str) -> None:
    """Two records of one dataset holding one version number (closed at the same
    instant on two machines, docs/format.md §12): a number that names both is refused."""
    same = [
        r.id
        for r in records
        if r.project == hit.project and r.name == hit.name and r.version == version
    ]
    if len(same) > 1:
        raise ConflictError(
            f"version {version} of {hit.project}/{hit.name} is held by {len(same)} versions: "
            f"{', '.join(same)}",
            dataset_id=same[0],
            hint="give the one you mean with --id (gd search lists them); gd delete the "
            "other to make the number unique again",
        )


_CROSS_CHECK_HINT = (
    "the pointer was edited by hand or the store's record was replaced: restore the "
    "pointer from git (git log -p FILE), or check the store (gd verify --remote)"
)


def _mismatch(source: str, field: str, message: str) -> IntegrityError:
    return IntegrityError(
        f"pointer {source}: '{field}' {message}", file=source, field=field, hint=_CROSS_CHECK_HINT
    )


def check_pointer_path(pointer: Pointer, path: str, source: str | None = None) -> None:
    """The pointer's ``project``/``name`` must be the ones its file path ``path`` names."""
    if pointer_relpath(pointer.project, pointer.name) != path:
        raise _mismatch(
            source or path,
            "project/name",
            f"is {pointer.project}/{pointer.name}, but the file is {path}",
        )


def _check_names(pointer: Pointer, project: str, name: str, source: str, what: str) -> None:
    if (project, name) != (pointer.project, pointer.name):
        raise _mismatch(
            source,
            "id",
            f"{pointer.id} is {what} {project}/{name}, not {pointer.project}/{pointer.name}",
        )


def check_pointer(
    ctx: Context,
    pointer: Pointer,
    path: str,
    source: str | None = None,
    record: VersionRecord | None = None,
) -> VersionRecord:
    """Cross-check a pointer against the version record its id names and that record's
    manifest (docs/format.md section 9); return the record.

    ``path`` is the pointer's repository path, ``source`` how errors name it
    (``path@rev``).  Checked: project/name against the path and the record, version,
    manifest hash, and the file count in the pointer's stats, the record's stats and
    the manifest.  A mismatch raises :class:`IntegrityError` naming the file and field;
    a version the store lacks raises :class:`DatasetNotFoundError`.
    """
    where = source or path
    check_pointer_path(pointer, path, where)
    if record is None:
        record = load_record(ctx, pointer.id)
    if not record.had_name(pointer.project, pointer.name):
        # a pointer committed before a rename or move keeps the name it had
        _check_names(pointer, record.project, record.name, where, "the store's version of")
    if record.version != pointer.version:
        raise _mismatch(
            where, "version", f"is {pointer.version}, but the store's record says {record.version}"
        )
    if record.manifest != pointer.manifest:
        raise _mismatch(
            where,
            "manifest",
            f"is {pointer.manifest}, but the store's record of {pointer.id} says {record.manifest}",
        )
    files = record.stats.get("files", 0)
    if "files" in pointer.stats and pointer.stats["files"] != files:
        raise _mismatch(
            where,
            "stats.files",
            f"is {pointer.stats['files']}, but the store's record says {files}",
        )
    held = len(load_manifest(ctx, record.manifest))
    if held != files:
        raise _mismatch(
            where,
            "stats.files",
            f"of the store's record of {pointer.id} is {files}, but its manifest "
            f"{record.manifest[:12]} holds {held} files",
        )
    return record


def _nothing_given() -> InvalidInputError:
    return InvalidInputError(
        "no dataset given, and none was created or used yet",
        hint="pass --id ID (gd search lists ids)",
    )


def current_id(ctx: Context) -> str:
    """Id of the dataset created or used last (cheap: nothing is loaded)."""
    current = ctx.state.current()
    if not current:
        raise _nothing_given()
    return current


def read_repo_pointer(
    project: str, name: str, *, rev: str | None = None, cwd: Path | None = None
) -> Pointer | None:
    """The dataset's pointer in the enclosing repo (working tree or ``rev``), if any."""
    repo = find_repo(cwd)
    if repo is None:
        if rev:
            raise InvalidInputError(
                f"--rev {rev} needs a git repository", hint="run gd inside a repo"
            )
        return None
    return repo.read_pointer(project, name, rev)


def write_repo_pointer(
    record: VersionRecord, store_url: str, cwd: Path | None = None
) -> Path | None:
    """Write and stage the pointer for ``record`` when inside a git repo; return its path."""
    repo = find_repo(cwd)
    if repo is None:
        return None
    remote = "://" in store_url and not store_url.startswith("file://")
    old = repo.read_pointer(record.project, record.name, None)
    # Unknown keys and the bound folder survive a rewrite.
    pointer = pointer_from_record(
        record,
        store=store_url if remote else None,
        bind=old.bind if old else None,
        extra=old.extra if old else None,
    )
    return repo.write_pointer(pointer)


def suggest_names(
    records: Sequence[RecordHeader | VersionRecord], project: str | None, name: str | None
) -> list[str]:
    """The closest existing ``project/name`` (or project, or name: what was given)
    to the one that matched nothing."""
    if project and name:
        if any(r.project == project for r in records):  # the project exists: its names
            names = close_names(name, (r.name for r in records if r.project == project))
            return [f"{project}/{n}" for n in names]
        return close_names(f"{project}/{name}", (f"{r.project}/{r.name}" for r in records))
    if project:
        return close_names(project, (r.project for r in records))
    return close_names(name or "", (r.name for r in records))
