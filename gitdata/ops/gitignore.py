"""``gd add`` / ``gd sync`` of a folder inside the git work tree: the ``.gitignore`` line.

Data added to a dataset should not also be committed to git, so a source inside the
work tree that git does not ignore yet gets an entry, as DVC offers one: anchored at
the work tree's root (``/data/images/`` for a folder, ``/data/table.csv`` for a file)
and kept in the root ``.gitignore``, the one file to look in.  The entry is only
suggested unless asked for (``--gitignore``); then it is appended, never twice, and
never through a symlink (a linked ``.gitignore`` is refused before anything changes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitdata.errors import UnsafePathError, os_errors_name
from gitdata.gitio.repo import GitRepo, find_repo

GITIGNORE = ".gitignore"
_SPECIAL = "\\*?[]"


@dataclass(frozen=True)
class IgnoreEntry:
    """One line to add to the work tree's ``.gitignore`` for one added source."""

    source: str  # the path as given
    line: str  # /rel/path/ (folders end with a slash)
    gitignore: Path  # the file it belongs in


def _escape(rel: str) -> str | None:
    """``rel`` as a literal gitignore pattern; None when git's syntax cannot say it."""
    if "\n" in rel or "\r" in rel:
        return None
    out = "".join("\\" + ch if ch in _SPECIAL else ch for ch in rel)
    stripped = out.rstrip(" ")
    return stripped + "\\ " * (len(out) - len(stripped))


def _relative(repo: GitRepo, source: str) -> str | None:
    """The source's path inside the work tree (posix), None when outside it or when it
    is the work tree itself, a folder holding it, or inside ``.git``."""
    full = os.path.abspath(source)
    # the parent's real path: a symlink named as the source is ignored as the link
    real = os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))
    root = os.path.realpath(repo.workdir)
    try:
        rel = os.path.relpath(real, root)
    except ValueError:
        return None
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
        return None
    parts = Path(rel).parts
    if parts[0] == ".git":
        return None
    return Path(rel).as_posix()


def ignore_entries(sources: list[str], cwd: Path | None = None) -> list[IgnoreEntry]:
    """The entries the sources inside the git work tree still need (none outside one)."""
    repo = find_repo(cwd)
    if repo is None:
        return []
    target = repo.workdir / GITIGNORE
    present = set(_read_lines(target))
    out: list[IgnoreEntry] = []
    for source in sources:
        rel = _relative(repo, source)
        if rel is None:
            continue
        is_dir = os.path.isdir(source)
        probe = rel + "/" if is_dir else rel
        if repo.repo.path_is_ignored(probe):
            continue
        pattern = _escape(rel)
        if pattern is None:
            continue
        line = "/" + pattern + ("/" if is_dir else "")
        if line in present or any(e.line == line for e in out):
            continue
        out.append(IgnoreEntry(source, line, target))
    return out


def check_writable(entries: list[IgnoreEntry]) -> None:
    """Refuse a ``.gitignore`` gd must not write (a symlink, or not a regular file)
    before the command changes anything."""
    for path in {e.gitignore for e in entries}:
        if path.is_symlink():
            raise UnsafePathError(
                f"{path} is a symlink: gd does not write through it",
                path=str(path),
                hint="add the lines yourself, or run without --gitignore",
            )
        if path.exists() and not path.is_file():
            raise UnsafePathError(
                f"{path} is not a regular file", path=str(path), hint="run without --gitignore"
            )


def write_entries(entries: list[IgnoreEntry]) -> list[str]:
    """Append the entries' lines not yet in their ``.gitignore``; returns those written."""
    check_writable(entries)
    written: list[str] = []
    for path in sorted({e.gitignore for e in entries}):
        lines = _read_lines(path)
        new = [e.line for e in entries if e.gitignore == path and e.line not in lines]
        if not new:
            continue
        with os_errors_name(str(path)):
            old = path.read_bytes() if path.exists() else b""
            text = b"" if not old or old.endswith(b"\n") else b"\n"
            text += "".join(line + "\n" for line in new).encode("utf-8", "surrogateescape")
            # appended in place (mode kept); O_NOFOLLOW: never through a symlink
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
            fd = os.open(path, flags, 0o644)
            try:
                os.write(fd, text)
            finally:
                os.close(fd)
        written += new
    return written


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
