"""Which folders a get may replace, and the marker that says a tree is gitdata's own.

``--overwrite`` (``overwrite=True``) swaps a whole folder out, so it is only
allowed for an empty folder or for a tree gitdata made (a ``--link`` tree, a
``--copy``, a bound folder) that still holds only what gitdata put there.
Some folders are never replaced, whatever they hold: the current folder and
its ancestors, ``$HOME`` and its ancestors (``/`` among them), and any folder
with a ``.git`` anywhere inside.  A target that is a symlink, or a tree with
a symlinked folder inside, is refused too: nothing is written or deleted
through a link that points elsewhere.

The record of what gitdata made is a small marker file, :data:`MARKER_NAME`,
at the root of every tree it builds: a JSON object naming the version, the
mode and every file path gitdata put there.  It lives *inside* the tree, not
in the state dir, because users move, rename and copy these folders (``mv
data data-old``, ``rsync`` to scratch space, another machine): a record keyed
by path or inode elsewhere would go stale or, worse, match an unrelated folder
that later takes the old path or inode.  The marker travels with the folder,
and since it lists the files rather than vouching for the whole folder, a
marker copied into a user's folder covers none of that user's other files.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gitdata.cache.fsutil import write_all
from gitdata.cache.trees import parent_folders
from gitdata.core.selection import Selection
from gitdata.errors import ConflictError, TargetNotEmptyError, UnsafePathError

MARKER_NAME = ".gitdata-tree.json"
# Every marker starts with these bytes, so scans can tell one from a user's file of
# the same name by reading a few bytes.
_MAGIC = b'{"gitdata": "tree"'
_SHOWN = 5  # foreign files named in an error


@dataclass(frozen=True)
class TreeMarker:
    """What a marker says gitdata put into a folder."""

    version_id: str | None
    mode: str
    files: frozenset[str]
    # which files of the version the get that made the tree asked for
    selection: Selection = Selection()


def is_marker_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is a gitdata tree marker (name and first bytes)."""
    if os.path.basename(path) != MARKER_NAME:
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_MAGIC)) == _MAGIC
    except OSError:
        return False


def write_marker(
    folder: Path,
    paths: Iterable[str],
    *,
    version_id: str | None,
    mode: str,
    selection: Selection | None = None,
) -> None:
    """Record in ``folder`` that gitdata put ``paths`` there (atomically replaced),
    and which files of the version were asked for (``selection``: filter
    patterns, ``only_added``, shard; all files when None).

    A version that itself holds a file named like the marker at its root gets
    no marker: its tree is then treated as the user's (never replaced).
    """
    marker = MarkerWriter(version_id=version_id, mode=mode, selection=selection)
    try:
        marker.add(sorted(set(paths), key=str.encode))
        marker.write(folder)
    finally:
        marker.close()


class MarkerWriter:
    """A marker built from paths that arrive in batches, sorted by their UTF-8 bytes.

    The file list is spooled to an unnamed temporary file, not kept in memory (a
    version of a million files has a marker of tens of megabytes); :meth:`write`
    puts the marker into the finished tree.
    """

    def __init__(
        self, *, version_id: str | None, mode: str, selection: Selection | None = None
    ) -> None:
        head = {
            "gitdata": "tree",
            "format": 1,
            "id": version_id,
            "mode": mode,
            **(selection or Selection()).to_dict(),
            "files": [],
        }
        text = json.dumps(head, ensure_ascii=False).encode()
        assert text.startswith(_MAGIC) and text.endswith(b"[]}")
        self._head = text[:-2]
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._last: bytes | None = None
        self._own_name = False  # the version holds a file named like the marker

    def add(self, paths: Iterable[str]) -> None:
        """Append paths (strictly after every path added before, in UTF-8 byte order)."""
        parts = []
        for path in paths:
            key = path.encode()
            if self._last is not None and key <= self._last:
                raise ValueError(f"marker paths not strictly sorted at {path!r}")
            self._last = key
            if path == MARKER_NAME:
                self._own_name = True
            parts.append(json.dumps(path, ensure_ascii=False))
        if parts:
            sep = b", " if self._spool.tell() else b""
            self._spool.write(sep + ", ".join(parts).encode())

    def write(self, folder: Path) -> None:
        """Write the marker into ``folder`` (none when the version has a file of its name)."""
        if self._own_name:
            return
        final = folder / MARKER_NAME
        tmp = folder / f".{MARKER_NAME}.gd-tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            write_all(fd, self._head)
            self._spool.seek(0)
            while block := self._spool.read(1 << 20):
                write_all(fd, block)
            write_all(fd, b"]}")
        finally:
            os.close(fd)
        os.chmod(tmp, 0o444)  # bookkeeping, not for editing
        os.replace(tmp, final)

    def close(self) -> None:
        """Drop the spooled list."""
        self._spool.close()


def read_marker(folder: Path) -> TreeMarker | None:
    """The marker at the root of ``folder``, or None if absent or unreadable."""
    path = folder / MARKER_NAME
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("gitdata") != "tree":
        return None
    files = doc.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    vid = doc.get("id")
    return TreeMarker(
        version_id=vid if isinstance(vid, str) else None,
        mode=str(doc.get("mode")),
        files=frozenset(files),
        selection=_selection(doc),
    )


def _selection(doc: dict) -> Selection:
    """The selection a marker records; one it cannot read counts as the whole version."""
    patterns, only_added = doc.get("filter"), doc.get("only_added", False)
    part, num_parts = doc.get("part"), doc.get("num_parts")
    if patterns is None:
        patterns = []
    if (
        not isinstance(patterns, list)
        or not all(isinstance(p, str) for p in patterns)
        or not isinstance(only_added, bool)
        or not all(
            n is None or (isinstance(n, int) and not isinstance(n, bool)) for n in (part, num_parts)
        )
    ):
        return Selection()
    try:
        return Selection.of(patterns, only_added=only_added, part=part, num_parts=num_parts)
    except ValueError:
        return Selection()


def _within(inner: str, outer: str) -> bool:
    """Whether ``inner`` is ``outer`` or lies below it (both real, absolute)."""
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def _refuse_protected(target: Path, real: str) -> None:
    """The folders no get may replace, however empty or gitdata-made they look."""
    if os.path.dirname(real) == real:
        raise ConflictError(
            f"refusing to replace {target}: it is the filesystem root",
            path=str(target),
            reason="root",
            hint="name a new or empty sub-folder",
        )
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:  # the current folder was deleted: nothing of it to protect
        cwd = None
    if cwd is not None and _within(cwd, real):
        what = "is the current folder" if cwd == real else "holds the current folder"
        raise ConflictError(
            f"refusing to replace {target}: it {what}",
            path=str(target),
            reason="cwd",
            hint="name a new or empty sub-folder, or run gd from outside that folder",
        )
    home = os.path.expanduser("~")
    if home and home != "~":
        home = os.path.realpath(home)
        if _within(home, real):
            what = "is your home folder" if home == real else "holds your home folder"
            raise ConflictError(
                f"refusing to replace {target}: it {what}",
                path=str(target),
                reason="home",
                hint="name a new or empty sub-folder",
            )


@dataclass
class _Survey:
    """What a walk of an existing target found."""

    git: list[str]
    links: list[str]
    foreign: list[str]


def _is_empty(folder: str) -> bool:
    with os.scandir(folder) as it:
        return not any(it)


def _survey(root: str, marker: TreeMarker | None) -> _Survey:
    """Walk ``root`` without following links; sort every entry into gitdata's or not."""
    ours = marker.files if marker else frozenset()
    link_tree = marker is not None and marker.mode == "link"
    folders = parent_folders(ours)
    found = _Survey([], [], [])
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for de in entries:
            rel = prefix + de.name
            if de.name == ".git":
                found.git.append(rel)
                continue
            if de.is_symlink():
                # gitdata itself makes symlinks only for files of a link tree (to blobs)
                if rel in ours and link_tree and not os.path.isdir(de.path):
                    continue
                if rel in folders or os.path.isdir(de.path):
                    found.links.append(rel)
                else:
                    found.foreign.append(rel)
                continue
            if de.is_dir(follow_symlinks=False):
                if rel not in folders and _is_empty(de.path):
                    found.foreign.append(rel + "/")
                stack.append((rel + "/", de.path))
                continue
            if rel == MARKER_NAME and marker is not None:
                continue
            if rel not in ours:
                found.foreign.append(rel)
    found.foreign.sort(key=str.encode)
    return found


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:_SHOWN])
    return shown + (", ..." if len(paths) > _SHOWN else "")


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def check_target(target: Path, *, overwrite: bool) -> None:
    """Refuse, before anything is written, a target a get must not replace.

    A missing or empty folder is fine.  A non-empty one needs ``overwrite``
    and must be a tree gitdata made holding nothing else (see the module
    docstring); protected folders and symlinks are refused in any case.
    Raises :class:`ConflictError` (protected folder, ``.git`` inside),
    :class:`UnsafePathError` (symlinks) or :class:`TargetNotEmptyError`.
    """
    path = os.path.abspath(target)
    if os.path.islink(path):
        raise UnsafePathError(
            f"target {target} is a symlink (to {os.readlink(path)}); gd does not write through it",
            path=str(target),
            hint="name the folder it points to, or a new folder",
        )
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path):
        raise TargetNotEmptyError(f"target {target} exists and is not a folder", path=str(target))
    _refuse_protected(target, os.path.realpath(path))
    if _is_empty(path):
        return
    marker = read_marker(Path(path))
    found = _survey(path, marker)
    foreign = found.foreign
    if marker is None:
        what = f"holds {_files(len(foreign))} gd did not put there"
    else:
        what = f"holds {_files(len(foreign))} added since gd made it"
    shown = foreign[:_SHOWN]
    if not overwrite:
        if not (found.git or found.links or foreign):
            raise TargetNotEmptyError(
                f"target folder {target} is not empty (it holds a tree gd made)",
                path=str(target),
                hint="pass --overwrite (overwrite=True) to replace it",
            )
        detail = f": it {what} ({_names(foreign)})" if foreign else ""
        raise TargetNotEmptyError(
            f"target folder {target} is not empty{detail}",
            path=str(target),
            foreign=shown,
            count=len(foreign),
            hint="name a new or empty folder; --overwrite replaces only a tree gd made",
        )
    if found.git:
        raise ConflictError(
            f"refusing to replace {target}: it holds a git repository ({_names(found.git)})",
            path=str(target),
            reason="git",
            git=found.git[:_SHOWN],
            hint="gd never replaces a folder with .git inside; name a new or empty folder",
        )
    if found.links:
        raise UnsafePathError(
            f"refusing to replace {target}: {_names(found.links)} inside it "
            "is a symlink to a folder elsewhere",
            path=str(target),
            links=found.links[:_SHOWN],
            hint="gd does not write through links; remove the link or name another folder",
        )
    if foreign:
        raise TargetNotEmptyError(
            f"refusing to replace {target}: it {what} ({_names(foreign)})",
            path=str(target),
            foreign=shown,
            count=len(foreign),
            hint="move those files out first, or name a new or empty folder",
        )
