"""Repository access through pygit2 (in-process: no ``git`` subprocess on hot paths)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from gitdata.config import find_repo_root
from gitdata.errors import NotFoundError
from gitdata.gitio.pointer import (
    POINTER_DIR,
    Pointer,
    decode_pointer,
    encode_pointer,
    pointer_relpath,
)


class RevisionNotFoundError(NotFoundError):
    """A git revision that the repository does not have (or a shallow clone lacks)."""


def find_repo(start: Path | None = None) -> GitRepo | None:
    """The non-bare repository enclosing ``start`` (default: cwd), or None."""
    root = find_repo_root(start)
    return GitRepo(root) if root is not None else None


class GitRepo:
    """A working tree and its repository."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self._repo: Any = None

    @property
    def repo(self) -> Any:
        if self._repo is None:
            import pygit2

            self._repo = pygit2.Repository(str(self.workdir))
        return self._repo

    def write_pointer(self, pointer: Pointer) -> Path:
        """Write the pointer atomically and stage it; return its absolute path."""
        rel = pointer_relpath(pointer.project, pointer.name)
        path = self.workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(encode_pointer(pointer))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        index = self.repo.index
        index.read()
        index.add(rel)
        index.write()
        return path

    def _commit(self, rev: str) -> Any:
        import pygit2

        try:
            obj = self.repo.revparse_single(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            if rev == "HEAD" and self.repo.head_is_unborn:
                return None
            raise RevisionNotFoundError(
                f"git revision {rev!r} not found in {self.workdir}",
                rev=rev,
                hint="check the name; a shallow clone may lack old commits (git fetch --unshallow)",
            ) from None

    def read_pointer(self, project: str, name: str, rev: str | None = None) -> Pointer | None:
        """The pointer in the working tree (``rev`` None) or at ``rev``; None if absent."""
        rel = pointer_relpath(project, name)
        if rev is None:
            try:
                data = (self.workdir / rel).read_bytes()
            except FileNotFoundError:
                return None
            return decode_pointer(data, rel)
        commit = self._commit(rev)
        if commit is None:
            return None
        try:
            entry = commit.tree[rel]
        except KeyError:
            return None
        blob = self.repo[entry.id]
        return decode_pointer(blob.data, f"{rel}@{rev}")

    def tree_pointer_blobs(self, tree) -> dict[str, bytes]:
        """Repo path -> bytes of every pointer file in a git tree object."""
        r = self.repo
        try:
            top = tree[POINTER_DIR]
        except KeyError:
            return {}
        out: dict[str, bytes] = {}
        stack = [(r[top.id], POINTER_DIR)]
        while stack:
            node, prefix = stack.pop()
            for entry in node:
                rel = f"{prefix}/{entry.name}"
                if entry.type_str == "tree":
                    stack.append((r[entry.id], rel))
                elif rel.endswith(".yaml"):
                    out[rel] = r[entry.id].data
        return out

    def pointer_blobs(self, rev: str | None = None) -> dict[str, bytes]:
        """Repo path -> bytes of every pointer in the working tree (``rev`` None) or at ``rev``."""
        if rev is None:
            base = self.workdir / POINTER_DIR
            if not base.is_dir():
                return {}
            return {
                p.relative_to(self.workdir).as_posix(): p.read_bytes() for p in base.rglob("*.yaml")
            }
        commit = self._commit(rev)
        return {} if commit is None else self.tree_pointer_blobs(commit.tree)

    def list_pointers(self, rev: str | None = None) -> list[Pointer]:
        """Every pointer in the working tree or at ``rev``, sorted by path."""
        return [
            decode_pointer(data, rel if rev is None else f"{rel}@{rev}")
            for rel, data in sorted(self.pointer_blobs(rev).items())
        ]

    def conflicted_paths(self) -> set[str]:
        """Paths the index holds as unmerged (a merge stopped on them)."""
        index = self.repo.index
        index.read()
        conflicts = index.conflicts
        if conflicts is None:
            return set()
        return {(o or t or b).path for b, o, t in conflicts}
