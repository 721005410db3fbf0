"""Bound working folders: this clone keeps a folder holding a dataset's pinned version.

``gd get ... --link/--copy DIR --bind`` records, in clone-local state
(``<git dir>/gitdata/bindings.json``, never committed), that DIR holds the
dataset ``project/name``.  After every checkout or merge (and on ``gd
checkout``) each bound folder is brought to the version the checked-out
pointer pins, whatever that pointer's own keys say; where the commit has no
pointer for the dataset the folder is left alone and reported.

That state is the only thing that makes gd write into a folder.  A ``bind``
key in a committed pointer (written by older gd, or by a teammate) names a
folder too, but it is only ever a suggestion shown by ``gd status``: a
committed file never chooses where gitdata writes or deletes.

Updating is incremental and conservative: files of the old version that the
user changed are kept (and reported), files the dataset never tracked are
never touched, each file is replaced through a temp name and a rename,
directories emptied by removing the old version's files are removed (never
the folder itself), and nothing is written through a symlink inside the
folder that leads out of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gitdata.cache.trees import READONLY_EXECUTABLE
from gitdata.core.ids import is_version_id
from gitdata.core.manifest import FileEntry
from gitdata.core.paths import MAX_COMPONENT_BYTES, check_path_room
from gitdata.errors import (
    FormatError,
    GitDataError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UnsafePathError,
)
from gitdata.gitio.pointer import BIND_MODES, Pointer, pointer_relpath
from gitdata.gitio.repo import GitRepo
from gitdata.ops.context import Context
from gitdata.ops.materialize import ensure_blobs
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.resolve import check_pointer
from gitdata.ops.scan import hash_file
from gitdata.ops.state import atomic_write
from gitdata.ops.target import read_marker, write_marker

STATE_FORMAT = 1


@dataclass
class Binding:
    """One dataset bound to one folder of this clone."""

    project: str
    name: str
    path: str  # repository-relative folder
    mode: str  # link or copy
    id: str | None = None  # the version the folder holds now (None: not materialised)

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"


@dataclass
class BindUpdate:
    """What updating one bound folder did."""

    path: str
    project: str
    name: str
    old_id: str | None
    new_id: str | None
    written: int = 0
    removed: int = 0
    removed_dirs: int = 0
    kept_modified: list[str] = field(default_factory=list)
    up_to_date: bool = False
    no_pointer: bool = False  # the working tree has no pointer: folder left as is
    # why this folder was refused (nothing written into it): a pointer that does not
    # match the store's record, or a symlink leading out of the folder
    refused: GitDataError | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON form (``error``: the refusal's message, or None)."""
        out = {k: v for k, v in vars(self).items() if k != "refused"}
        out["error"] = str(self.refused) if self.refused is not None else None
        return out


def _state_path(repo: GitRepo) -> Path:
    return Path(repo.repo.path) / "gitdata" / "bindings.json"


def _safe_folder(path: object) -> bool:
    return (
        isinstance(path, str)
        and bool(path)
        and not path.startswith("/")
        and "\x00" not in path
        and "\\" not in path
        and all(p not in ("", ".", "..") for p in path.split("/"))
        and path.split("/")[0] not in (".git", ".gitdata")
    )


def load_bindings(repo: GitRepo) -> dict[str, Binding]:
    """``project/name`` -> its binding in this clone (empty when nothing is bound)."""
    path = _state_path(repo)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return _legacy_bindings(repo)
    except (OSError, ValueError) as exc:
        raise FormatError(
            f"cannot read {path}: {exc}",
            file=str(path),
            hint="delete it and bind the folders again (gd get ... --bind)",
        ) from None
    out: dict[str, Binding] = {}
    entries = doc.get("datasets") if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != STATE_FORMAT
        or not isinstance(entries, dict)
    ):
        raise FormatError(
            f"{path} is not a bindings file of format {STATE_FORMAT}",
            file=str(path),
            hint="delete it and bind the folders again (gd get ... --bind)",
        )
    for key, e in entries.items():
        project, _, name = str(key).rpartition("/")
        vid = e.get("id") if isinstance(e, dict) else None
        if (
            not isinstance(e, dict)
            or not project
            or not _safe_folder(e.get("path"))
            or e.get("mode") not in BIND_MODES
            or not (vid is None or (isinstance(vid, str) and is_version_id(vid)))
        ):
            raise FormatError(
                f"{path}: bad entry for {key!r}",
                file=str(path),
                hint="delete it and bind the folders again (gd get ... --bind)",
            )
        out[key] = Binding(project, name, e["path"], e["mode"], vid)
    return out


def _legacy_bindings(repo: GitRepo) -> dict[str, Binding]:
    """Bindings an older gd made in this clone, read once from its ``bound.json``.

    That file (folder -> {id, mode}) was clone-local and written only by this
    clone's own ``gd get --bind``, so honouring it keeps the user's choice; a
    folder counts only where a working-tree pointer still names it as ``bind``.
    """
    legacy = Path(repo.repo.path) / "gitdata" / "bound.json"
    try:
        folders = json.loads(legacy.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(folders, dict):
        return {}
    out: dict[str, Binding] = {}
    try:
        pointers = repo.list_pointers()
    except GitDataError:
        return {}  # a malformed pointer is reported where it is read
    for pointer in pointers:
        suggested = pointer.bind or {}
        rel = suggested.get("path")
        held = folders.get(rel) if isinstance(rel, str) else None
        if rel is None or not isinstance(held, dict) or not _safe_folder(rel):
            continue
        mode = str(held.get("mode") if held.get("mode") in BIND_MODES else suggested["mode"])
        vid = (
            held.get("id")
            if isinstance(held.get("id"), str) and is_version_id(held["id"])
            else None
        )
        b = Binding(pointer.project, pointer.name, rel, mode, vid)
        out[b.key] = b
    return out


def _save_bindings(repo: GitRepo, bindings: dict[str, Binding]) -> None:
    path = _state_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": STATE_FORMAT,
        "datasets": {
            k: {"path": b.path, "mode": b.mode, "id": b.id} for k, b in sorted(bindings.items())
        },
    }
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=True).encode())


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def check_bind(repo: GitRepo, project: str, name: str, folder: Path) -> str:
    """The repository-relative path ``folder`` would be bound as, or a clear error.

    Writes nothing, so a caller can check before materialising the folder.
    """
    pointer_relpath(project, name)
    # real paths: a symlinked folder is judged by where it really is
    folder = Path(os.path.realpath(os.path.expanduser(folder)))
    try:
        rel = folder.relative_to(os.path.realpath(repo.workdir)).as_posix()
    except ValueError:
        raise InvalidInputError(
            f"--bind needs a folder inside the repository ({repo.workdir}), got {folder}",
            path=str(folder),
            hint="pick a folder inside the repository's work tree",
        ) from None
    if not _safe_folder(rel):
        raise InvalidInputError(
            f"cannot bind {folder}: pick a sub-folder of the repository",
            path=str(folder),
            hint="the repository root, .git and .gitdata cannot hold a dataset",
        )
    for other in load_bindings(repo).values():
        if other.key != f"{project}/{name}" and _overlaps(other.path, rel):
            raise InvalidInputError(
                f"cannot bind {rel}: {other.path} is already bound to {other.key}",
                hint="bind each dataset to its own folder, neither inside the other",
            )
    return rel


def bind(ctx: Context, repo: GitRepo, pointer: Pointer, folder: Path, mode: str) -> Binding:
    """Record in this clone that ``folder`` holds ``pointer``'s version (already there).

    The pointer is not changed; a dataset bound before to another folder is rebound
    (the old folder is left as it is).
    """
    if mode not in BIND_MODES:
        raise InvalidInputError(f"bind mode must be one of {', '.join(BIND_MODES)}, got {mode!r}")
    rel = check_bind(repo, pointer.project, pointer.name, folder)
    binding = Binding(pointer.project, pointer.name, rel, mode, pointer.id)
    bindings = load_bindings(repo)
    bindings[binding.key] = binding
    _exclude(repo, rel)
    _save_bindings(repo, bindings)
    return binding


def _common_dir(repo: GitRepo) -> Path:
    git_dir = Path(repo.repo.path)
    pointer = git_dir / "commondir"  # a linked worktree shares info/ with the main one
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir


def _exclude(repo: GitRepo, rel: str) -> None:
    """Keep the materialised data out of git through ``info/exclude`` (clone-local)."""
    line = f"/{rel}/"
    if line in _read_lines(repo.workdir / ".gitignore"):
        return  # an older gd put it there
    exclude = _common_dir(repo) / "info" / "exclude"
    lines = _read_lines(exclude)
    if line in lines:
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text() if exclude.exists() else ""
    exclude.write_text(text + ("" if not text or text.endswith("\n") else "\n") + line + "\n")


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def suggestion(pointer: Pointer, bindings: dict[str, Binding]) -> str | None:
    """The folder a pointer's committed ``bind`` key suggests, unless this clone has
    bound that dataset already (never acted on: see the module docstring)."""
    if not pointer.bind or f"{pointer.project}/{pointer.name}" in bindings:
        return None
    return pointer.bind["path"]


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
    tmp_name = f".{target.name}.gd-tmp"
    if len(tmp_name.encode("utf-8")) > MAX_COMPONENT_BYTES:  # a legal name near the limit
        tmp_name = f".{hashlib.sha256(target.name.encode('utf-8')).hexdigest()[:16]}.gd-tmp"
    tmp = target.with_name(tmp_name)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    blob = ctx.cache.blob_path(entry.sha256)
    if mode == "link" and not entry.executable:
        try:
            os.link(blob, tmp)
        except OSError:
            os.symlink(blob, tmp)
    else:
        # an executable of a linked folder is its own read-only copy (blobs are 0444)
        shutil.copyfile(blob, tmp)
        if mode == "link":
            os.chmod(tmp, READONLY_EXECUTABLE)
        else:
            os.chmod(tmp, 0o755 if entry.executable else 0o644)
    os.replace(tmp, target)


def _check_no_escape(binding: Binding, folder: Path, paths: Iterable[str]) -> None:
    """Refuse when a directory on the way to any of ``paths`` is a symlink leading out
    of the folder (writing or deleting there would touch files gd does not own)."""
    root = os.path.realpath(folder)
    seen: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub in seen:
                continue
            seen.add(sub)
            local = folder / sub
            if not os.path.islink(local):
                if not os.path.lexists(local):
                    break  # created as a real directory when needed
                continue
            real = os.path.realpath(local)
            if real != root and not real.startswith(root + os.sep):
                raise UnsafePathError(
                    f"{binding.path}/{sub} is a symlink leading out of the bound folder "
                    f"(to {real}); {binding.path} not updated",
                    path=f"{binding.path}/{sub}",
                    hint="replace the symlink with a real folder, then run gd checkout",
                )


def _prune(folder: Path, removed: Iterable[str]) -> int:
    """Remove the directories that removing ``removed`` left empty (never ``folder``)."""
    dirs: set[str] = set()
    for path in removed:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    count = 0
    for sub in sorted(dirs, key=lambda d: d.count("/"), reverse=True):
        local = folder / sub
        if os.path.islink(local):
            continue
        try:
            local.rmdir()  # fails unless empty: a user's file keeps its directory
        except OSError:
            continue
        count += 1
    return count


def update_folder(ctx: Context, repo: GitRepo, binding: Binding, pointer: Pointer) -> BindUpdate:
    """Bring a bound folder to ``pointer``'s version, incrementally.

    The pointer is cross-checked first (:func:`check_pointer`): one that does not match
    the store's record and manifest raises :class:`IntegrityError` before anything is
    written into the folder.
    """
    rel, mode, old_id = binding.path, binding.mode, binding.id
    result = BindUpdate(rel, binding.project, binding.name, old_id, pointer.id)
    folder = repo.workdir / rel
    if old_id == pointer.id and folder.is_dir():
        result.up_to_date = True
        return result
    # the pointer must match the store's record and manifest before anything is written
    record = check_pointer(ctx, pointer, pointer_relpath(binding.project, binding.name))
    new = load_manifest(ctx, record.manifest).as_dict()
    old: dict[str, FileEntry] = {}
    if old_id and folder.is_dir():
        with contextlib.suppress(NotFoundError):
            old = load_manifest(ctx, load_record(ctx, old_id).manifest).as_dict()
    _check_no_escape(binding, folder, [*old, *new])
    check_path_room(str(folder / ".gd-tmp"), new, what="bound folder")  # _place's temp name
    needed = [
        e
        for p, e in new.items()
        if not (
            p in old
            and (old[p].sha256, old[p].executable) == (e.sha256, e.executable)
            and _matches(folder / p, e, ctx)
        )
    ]
    removed: list[str] = []
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
                removed.append(path)
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
    folder.mkdir(parents=True, exist_ok=True)  # an empty version still has its folder
    result.removed = len(removed)
    result.removed_dirs = _prune(folder, removed)
    _remark(folder, old, new, result, pointer.id, mode)
    bindings = load_bindings(repo)
    if binding.key in bindings and bindings[binding.key].path == rel:
        bindings[binding.key].id = pointer.id
        _save_bindings(repo, bindings)
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
    """Update every bound folder (or those under ``only``) to the working-tree pointers.

    A folder whose pointer does not match the store's record (:class:`IntegrityError`)
    or that holds a symlink leading out of it (:class:`UnsafePathError`) is refused on
    its own: nothing is written into it, its update carries the error in ``refused``,
    and the other folders are still updated.
    """
    wanted = [os.path.abspath(p) for p in only or []]
    out = []
    for binding in sorted(load_bindings(repo).values(), key=lambda b: b.path):
        folder = os.path.abspath(repo.workdir / binding.path)
        if wanted and not any(
            folder == w or folder.startswith(w + os.sep) or w.startswith(folder + os.sep)
            for w in wanted
        ):
            continue
        pointer = repo.read_pointer(binding.project, binding.name)
        if pointer is None:
            out.append(
                BindUpdate(
                    binding.path,
                    binding.project,
                    binding.name,
                    binding.id,
                    None,
                    no_pointer=True,
                )
            )
            continue
        try:
            out.append(update_folder(ctx, repo, binding, pointer))
        except (IntegrityError, UnsafePathError) as exc:
            out.append(
                BindUpdate(
                    binding.path,
                    binding.project,
                    binding.name,
                    binding.id,
                    pointer.id,
                    refused=exc,
                )
            )
    return out


def rekey_binding(repo: GitRepo, old_key: str, project: str, name: str) -> None:
    """A renamed or moved dataset keeps its bound folder in this clone."""
    bindings = load_bindings(repo)
    binding = bindings.pop(old_key, None)
    if binding is None:
        return
    binding.project, binding.name = project, name
    bindings[binding.key] = binding
    _save_bindings(repo, bindings)
