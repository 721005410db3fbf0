"""Merging two versions into one: `gd merge`, the git merge driver, `gd merge --resolve`.

The content is the three-way merge of docs/format.md §7.  Unlike ``create
--parents``, a merge never guesses: paths both sides changed differently stop
it with :class:`MergeConflictError` unless the caller chose a side
(``prefer``) or a side per path (``take``).  A merge that fails leaves no
draft behind and does not change the current dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gitdata.core.merge import OURS, THEIRS, MergeResult, resolve, undecided
from gitdata.core.record import VersionRecord
from gitdata.errors import (
    HookRefusedError,
    InvalidInputError,
    LocalPathNotFoundError,
    MergeConflictError,
)
from gitdata.gitio.pointer import POINTER_DIR, Pointer, decode_pointer, encode_pointer
from gitdata.ops.context import Context

SIDES = (OURS, THEIRS)
_SHOWN = 20


def parse_take(items: list[str] | None) -> dict[str, str]:
    """``PATH=ours|theirs`` items of ``--take`` -> {path: side}."""
    out: dict[str, str] = {}
    for item in items or []:
        path, sep, side = item.rpartition("=")
        if not sep or not path or side not in SIDES:
            raise InvalidInputError(
                f"--take {item!r} is not PATH=ours or PATH=theirs",
                hint="e.g. --take labels/train.csv=theirs",
            )
        out[path] = side
    return out


def check_prefer(prefer: str | None) -> None:
    """``--prefer`` takes ours or theirs."""
    if prefer is not None and prefer not in SIDES:
        raise InvalidInputError(f"--prefer {prefer!r}: use ours or theirs")


def conflict_error(merge: MergeResult, paths: list[str], what: str) -> MergeConflictError:
    """The error naming the first conflicted paths (and how many more) with the way out."""
    shown = ", ".join(paths[:_SHOWN])
    more = f" (and {len(paths) - _SHOWN} more)" if len(paths) > _SHOWN else ""
    return MergeConflictError(
        f"{what}: {len(paths)} path(s) changed differently on both sides: {shown}{more}",
        paths=paths,
        conflicts=[c.to_dict() for c in merge.conflicts if c.path in set(paths)],
        hint="choose with gd merge --resolve --prefer ours|theirs "
        "(or --take PATH=ours|theirs per path)",
    )


def merge_versions(
    ctx: Context,
    ours_id: str,
    theirs_id: str,
    *,
    prefer: str | None = None,
    take: Mapping[str, str] | None = None,
) -> VersionRecord:
    """Close a new version with parents [ours, theirs] holding their three-way merge."""
    from gitdata.ops.commit import finalize
    from gitdata.ops.drafts import create_draft
    from gitdata.ops.reader import load_record

    check_prefer(prefer)
    ours = load_record(ctx, ours_id)
    theirs = load_record(ctx, theirs_id)
    if ours.id == theirs.id:
        raise InvalidInputError("cannot merge a version with itself")
    merge = ctx.parent_merge([ours.id, theirs.id])
    todo = undecided(merge, prefer=prefer, take=take)
    if todo:
        raise conflict_error(merge, todo, f"{ours.project}/{ours.name}")
    try:
        files = resolve(
            merge,
            ctx.parent_files([ours.id]),
            ctx.parent_files([theirs.id]),
            prefer=prefer,
            take=take,
        )
    except ValueError as exc:
        raise InvalidInputError(
            f"--take: {exc}", hint="only conflicted paths can be taken"
        ) from None
    previous = ctx.state.current()
    draft = create_draft(
        ctx,
        project=ours.project,
        name=ours.name,
        parents=[ours.id, theirs.id],
        tags=sorted(set(ours.tags) | set(theirs.tags)),
        description=f"merge of {ours.version} ({ours.id[:12]}) and {theirs.version} ({theirs.id[:12]})",
    )
    try:
        if files != merge.files:
            _apply_choices(ctx, draft.id, files)
        return finalize(ctx, draft.id)
    except BaseException:
        ctx.state.delete_draft(draft.id)
        if previous is not None:
            ctx.state.set_current(previous)
        raise


def _apply_choices(ctx: Context, draft_id: str, files: Mapping) -> None:
    """Make the draft hold exactly ``files`` (the merged view with conflicts decided)."""
    from gitdata.ops.drafts import editing
    from gitdata.ops.state import DraftFile

    with editing(ctx, draft_id) as draft:
        for path in [p for p in draft.files if p not in files]:
            del draft.files[path]
        for path, entry in files.items():
            have = draft.files.get(path)
            if have is None or have.sha256 != entry.sha256:
                draft.files[path] = DraftFile.from_entry(entry)


def _context_for(ctx: Context, pointer: Pointer) -> Context:
    """The store a pointer's version lives in: where it was closed on this machine,
    else the remote store the pointer names, else the configured one."""
    home = ctx.state.home_of(pointer.id) or pointer.store
    if home and home != ctx.settings.storage:
        return Context.for_storage(home)
    return ctx


def merged_pointer(
    ctx: Context,
    base: Pointer | None,
    ours: Pointer,
    theirs: Pointer,
    *,
    prefer: str | None = None,
    take: Mapping[str, str] | None = None,
    rel: str | None = None,
) -> Pointer:
    """The pointer a three-way merge of pointer files gives (a new version if both moved).

    When both sides moved, each is cross-checked against the store's record and
    manifest of its version before their content is merged (:func:`check_pointer`;
    ``rel`` is the pointer file's repository path, errors name it ``rel (ours)``).
    """
    from gitdata.gitio.pointer import pointer_from_record, pointer_relpath
    from gitdata.ops.resolve import check_pointer

    if ours.id == theirs.id:
        return ours
    if base is not None and base.id == ours.id:
        theirs.bind, theirs.extra = ours.bind or theirs.bind, {**theirs.extra, **ours.extra}
        return theirs
    if base is not None and base.id == theirs.id:
        return ours
    mctx = _context_for(ctx, ours)
    # git passes the file's path; run by hand without one, it is the dataset's own path
    path = rel if rel and rel.startswith(POINTER_DIR + "/") else None
    path = path or pointer_relpath(ours.project, ours.name)
    for side, pointer in (("ours", ours), ("theirs", theirs)):
        check_pointer(mctx, pointer, path, f"{path} ({side})")
    record = merge_versions(mctx, ours.id, theirs.id, prefer=prefer, take=take)
    return pointer_from_record(
        record,
        store=ours.store or theirs.store,
        bind=ours.bind or theirs.bind,
        extra={**theirs.extra, **ours.extra},
    )


def merge_driver(ctx: Context, base_file: str, ours_file: str, theirs_file: str, rel: str) -> None:
    """git merge driver: write the merged pointer into ``ours_file`` or raise (git then
    leaves the file conflicted for ``gd merge --resolve``)."""

    hint = 'git runs it as: gd merge-driver %O %A %B %P (see [merge "gitdata"] in .git/config)'

    def read(path: str, side: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except FileNotFoundError:
            raise LocalPathNotFoundError(
                f"merge driver: the {side} file {path!r} does not exist",
                path=path,
                merge_side=side,
                hint=hint,
            ) from None
        except OSError as exc:
            raise InvalidInputError(
                f"merge driver: cannot read the {side} file {path!r}: {exc.strerror or exc}",
                path=path,
                merge_side=side,
                hint=hint,
            ) from None

    def parse(data: bytes, side: str) -> Pointer | None:
        return decode_pointer(data, f"{rel} ({side})") if data.strip() else None

    # every argument is read before any pointer is parsed or a store is asked
    raw = [
        read(f, side)
        for f, side in ((base_file, "base"), (ours_file, "ours"), (theirs_file, "theirs"))
    ]
    base, ours, theirs = (
        parse(d, side) for d, side in zip(raw, ("base", "ours", "theirs"), strict=True)
    )
    if ours is None or theirs is None:
        raise HookRefusedError(
            f"{rel}: deleted on one side and changed on the other",
            hint="keep one side with git checkout --ours/--theirs, then git add",
        )
    merged = merged_pointer(ctx, base, ours, theirs, rel=rel)
    try:
        Path(ours_file).write_text(encode_pointer(merged), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            f"merge driver: cannot write the merged pointer to {ours_file!r}: "
            f"{exc.strerror or exc}",
            path=ours_file,
            merge_side="ours",
            hint=hint,
        ) from None


def resolve_conflicts(
    ctx: Context,
    cwd: Path | None = None,
    *,
    prefer: str | None = None,
    take: Mapping[str, str] | None = None,
) -> list[str]:
    """``gd merge --resolve``: merge every conflicted pointer in the index, write, stage.

    Every pointer is checked before any is written: if one still has undecided
    paths, nothing is resolved.
    """
    from gitdata.ops.gitops import require_repo

    check_prefer(prefer)
    repo = require_repo(cwd)
    index = repo.repo.index
    index.read()
    conflicts = index.conflicts
    if conflicts is None:
        return []
    todo: list[tuple[str, list[Pointer | None]]] = []
    for base, ours, theirs in list(conflicts):
        entry = ours or theirs or base
        rel = entry.path
        if not (rel.startswith(POINTER_DIR + "/") and rel.endswith(".yaml")):
            continue
        if ours is None or theirs is None:
            continue
        sides = [
            decode_pointer(repo.repo[e.id].data, f"{rel} ({name})") if e is not None else None
            for e, name in ((base, "base"), (ours, "ours"), (theirs, "theirs"))
        ]
        todo.append((rel, sides))
    merged: list[tuple[str, Pointer]] = []
    for rel, (b, o, t) in todo:
        assert o is not None and t is not None
        try:
            merged.append((rel, merged_pointer(ctx, b, o, t, prefer=prefer, take=take, rel=rel)))
        except MergeConflictError as exc:
            raise MergeConflictError(f"{rel}: {exc.message}", hint=exc.hint, **exc.fields) from None
    for rel, pointer in merged:
        (repo.workdir / rel).write_text(encode_pointer(pointer), encoding="utf-8")
        del conflicts[rel]
        index.add(rel)
    index.write()
    return [rel for rel, _ in merged]
