"""Bound working folders: a pointer can name a folder kept in sync with its version.

``gd get ... --link/--copy DIR --bind`` records ``bind: {path, mode}`` in the
pointer (committed, so every clone shares it).  Which version each folder
currently holds is local state in ``.git/gitdata/bound.json``.  Updating is
incremental and conservative: files of the old version that the user changed
are kept (and reported), files the dataset never tracked are never touched,
and each file is replaced through a temp name and a rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gitdata.core.manifest import FileEntry
from gitdata.errors import InvalidInputError, NotFoundError
from gitdata.gitio.pointer import Pointer
from gitdata.gitio.repo import GitRepo
from gitdata.ops.context import Context
from gitdata.ops.materialize import ensure_blobs
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.scan import hash_file
from gitdata.ops.state import atomic_write
from gitdata.ops.target import read_marker, write_marker


@dataclass
class BindUpdate:
    """What updating one bound folder did."""

    path: str
    old_id: str | None
    new_id: str
    written: int = 0
    removed: int = 0
    kept_modified: list[str] = field(default_factory=list)
    up_to_date: bool = False


def _state_path(repo: GitRepo) -> Path:
    return Path(repo.repo.path) / "gitdata" / "bound.json"


def load_bound_state(repo: GitRepo) -> dict[str, dict[str, str]]:
    """Folder (repo-relative) -> {"id", "mode"} as last materialised in this clone."""
    try:
        data = json.loads(_state_path(repo).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_bound_state(repo: GitRepo, state: dict[str, dict[str, str]]) -> None:
    path = _state_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(state, indent=1, sort_keys=True).encode())


def bind(ctx: Context, repo: GitRepo, pointer: Pointer, folder: Path, mode: str) -> Path:
    """Record in the pointer (and stage it) that ``folder`` holds this dataset."""
    folder = Path(os.path.abspath(folder))
    try:
        rel = folder.relative_to(repo.workdir.resolve()).as_posix()
    except ValueError:
        raise InvalidInputError(
            f"--bind needs a folder inside the repository ({repo.workdir}), got {folder}"
        ) from None
    if rel in (".", "") or rel.startswith(".git/") or rel == ".git" or rel.startswith(".gitdata"):
        raise InvalidInputError(f"cannot bind {folder}: pick a sub-folder of the repository")
    pointer.bind = {"path": rel, "mode": mode}
    path = repo.write_pointer(pointer)
    _ignore(repo, rel)
    state = load_bound_state(repo)
    state[rel] = {"id": pointer.id, "mode": mode}
    _save_bound_state(repo, state)
    return path


def _ignore(repo: GitRepo, rel: str) -> None:
    """Keep the materialised data out of git: add the folder to .gitignore and stage it."""
    ignore = repo.workdir / ".gitignore"
    line = f"/{rel}/"
    text = ignore.read_text() if ignore.exists() else ""
    if line in text.splitlines():
        return
    ignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")
    index = repo.repo.index
    index.read()
    index.add(".gitignore")
    index.write()


def _matches(path: Path, entry: FileEntry, ctx: Context) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    if st.st_size != entry.size:
        return False
    with contextlib.suppress(OSError):
        if os.stat(ctx.cache.blob_path(entry.sha256)).st_ino == st.st_ino:
            return True
    return hash_file(str(path)) == entry.sha256


def _place(ctx: Context, target: Path, entry: FileEntry, mode: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.gd-tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    blob = ctx.cache.blob_path(entry.sha256)
    if mode == "link":
        try:
            os.link(blob, tmp)
        except OSError:
            os.symlink(blob, tmp)
    else:
        shutil.copyfile(blob, tmp)
        os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def update_folder(ctx: Context, repo: GitRepo, pointer: Pointer) -> BindUpdate:
    """Bring the pointer's bound folder to the pointer's version, incrementally."""
    assert pointer.bind is not None
    rel, mode = pointer.bind["path"], pointer.bind["mode"]
    state = load_bound_state(repo)
    old_id = state.get(rel, {}).get("id")
    result = BindUpdate(rel, old_id, pointer.id)
    folder = repo.workdir / rel
    if old_id == pointer.id and folder.is_dir():
        result.up_to_date = True
        return result
    new = load_manifest(ctx, load_record(ctx, pointer.id).manifest).as_dict()
    old: dict[str, FileEntry] = {}
    if old_id and folder.is_dir():
        with contextlib.suppress(NotFoundError):
            old = load_manifest(ctx, load_record(ctx, old_id).manifest).as_dict()
    needed = [
        e
        for p, e in new.items()
        if not (p in old and old[p].sha256 == e.sha256 and _matches(folder / p, e, ctx))
    ]
    with ctx.cache.shared_lock():
        ensure_blobs(ctx, needed)
        for path, entry in old.items():
            if path in new:
                continue
            local = folder / path
            if not local.exists():
                continue
            if _matches(local, entry, ctx):
                local.unlink()
                result.removed += 1
            else:
                result.kept_modified.append(path)
        for entry in needed:
            local = folder / entry.path
            previous = old.get(entry.path)
            # Only replace a file that still holds the old version's content.
            if (
                local.exists()
                and not _matches(local, entry, ctx)
                and (previous is None or not _matches(local, previous, ctx))
            ):
                result.kept_modified.append(entry.path)
                continue
            _place(ctx, local, entry, mode)
            result.written += 1
        ctx.cache.touch(e.sha256 for e in needed)
    _remark(folder, old, new, result, pointer.id, mode)
    state[rel] = {"id": pointer.id, "mode": mode}
    _save_bound_state(repo, state)
    return result


def _remark(
    folder: Path,
    old: dict[str, FileEntry],
    new: dict[str, FileEntry],
    result: BindUpdate,
    new_id: str,
    mode: str,
) -> None:
    """Keep the folder's marker (what gd put there) true after an update.

    Files gd placed earlier and kept because they were edited stay listed; a file
    the user made at a path the new version wants, and left alone, does not.
    """
    marker = read_marker(folder)
    before = marker.files if marker else frozenset(old)
    kept = set(result.kept_modified)
    mine = {p for p in new if p not in kept} | {p for p in kept if p in before}
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, mine, version_id=new_id, mode=mode)


def checkout(ctx: Context, repo: GitRepo, only: list[str] | None = None) -> list[BindUpdate]:
    """Update every bound folder (or those under ``only``) from the working-tree pointers."""
    wanted = [os.path.abspath(p) for p in only or []]
    out = []
    for pointer in repo.list_pointers(None):
        if not pointer.bind:
            continue
        folder = os.path.abspath(repo.workdir / pointer.bind["path"])
        if wanted and not any(
            folder == w or folder.startswith(w + os.sep) or w.startswith(folder + os.sep)
            for w in wanted
        ):
            continue
        out.append(update_folder(ctx, repo, pointer))
    return out
