"""Reading pointer history out of git: log, staged changes, pushed commits, HEAD state."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from gitdata.gitio.pointer import POINTER_DIR, Pointer, decode_pointer, pointer_relpath
from gitdata.gitio.repo import GitRepo


@dataclass
class PointerRevision:
    """One commit that changed a dataset's pointer."""

    commit: str
    author: str
    email: str
    date: str
    message: str
    pointer: Pointer | None  # None when the commit deleted the pointer


def _blob_id(tree, path: str):
    try:
        return tree[path].id
    except KeyError:
        return None


def _when(commit) -> str:
    tz = _dt.timezone(_dt.timedelta(minutes=commit.author.offset))
    return _dt.datetime.fromtimestamp(commit.author.time, tz).isoformat()


def pointer_log(
    repo: GitRepo, project: str, name: str, rev: str = "HEAD", max_count: int | None = None
) -> list[PointerRevision]:
    """Commits reachable from ``rev`` that changed the pointer, newest first."""
    import pygit2

    rel = pointer_relpath(project, name)
    r = repo.repo
    start = repo._commit(rev)
    if start is None:
        return []
    out: list[PointerRevision] = []
    for commit in r.walk(start.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME):
        mine = _blob_id(commit.tree, rel)
        parents = commit.parents
        if parents:
            if all(_blob_id(p.tree, rel) == mine for p in parents):
                continue
        elif mine is None:
            continue
        pointer = decode_pointer(r[mine].data, f"{rel}@{str(commit.id)[:12]}") if mine else None
        out.append(
            PointerRevision(
                str(commit.id),
                commit.author.name,
                commit.author.email,
                _when(commit),
                commit.message.strip().splitlines()[0] if commit.message.strip() else "",
                pointer,
            )
        )
        if max_count and len(out) >= max_count:
            break
    return out


def staged_pointer_changes(repo: GitRepo) -> dict[str, bytes | None]:
    """Pointer files whose staged content differs from HEAD: path -> staged bytes (None = deleted)."""
    r = repo.repo
    index = r.index
    index.read()
    head = repo.pointer_blobs("HEAD")
    staged: dict[str, bytes | None] = {}
    seen = set()
    for entry in index:
        path = entry.path
        if not (path.startswith(POINTER_DIR + "/") and path.endswith(".yaml")):
            continue
        seen.add(path)
        data = r[entry.id].data
        if head.get(path) != data:
            staged[path] = data
    for path in head:
        if path not in seen:
            staged[path] = None
    return staged


def pointers_in_commits(
    repo: GitRepo, tip: str, exclude: list[str]
) -> list[tuple[str, str, bytes]]:
    """(commit, path, bytes) for every pointer version introduced by commits reachable
    from ``tip`` but not from any of ``exclude`` (what a push would send)."""
    import pygit2

    r = repo.repo
    walker = r.walk(
        r.revparse_single(tip).peel(pygit2.Commit).id, pygit2.enums.SortMode.TOPOLOGICAL
    )
    for sha in exclude:
        try:
            walker.hide(r.revparse_single(sha).peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError):
            continue  # the remote has commits we do not know: nothing to hide
    out: list[tuple[str, str, bytes]] = []
    seen: set[bytes] = set()
    walked: dict = {}  # commit id -> its pointers: each tree is walked once, not once per child

    def blobs(commit) -> dict[str, bytes]:
        if commit.id not in walked:
            walked[commit.id] = repo.tree_pointer_blobs(commit.tree)
        return walked[commit.id]

    for commit in walker:
        for path, data in blobs(commit).items():
            if data in seen:
                continue
            if data in (blobs(p).get(path) for p in commit.parents):
                continue
            seen.add(data)
            out.append((str(commit.id), path, data))
    return out


def reachable_pointer_ids(repo: GitRepo, *, reflog: bool = False) -> set[str]:
    """Version ids named by any pointer in any commit reachable from any ref
    (branches, tags, remotes, stash; with ``reflog`` also reflog entries),
    plus the working tree and the index."""
    import pygit2

    r = repo.repo
    tips = set()
    for name in r.references:
        ref = r.references[name]
        try:
            tips.add(ref.peel(pygit2.Commit).id)
        except (pygit2.InvalidSpecError, ValueError, KeyError, pygit2.GitError):
            continue
        if reflog:
            for entry in ref.log():
                tips.add(entry.oid_new)
    if reflog:
        head = r.references.get("HEAD")  # HEAD's own reflog is not among r.references
        if head is not None:
            for entry in head.log():
                tips.add(entry.oid_new)
    ids: set[str] = set()
    seen_trees: set = set()
    seen_blobs: set = set()
    walker = None
    for tip in tips:
        try:
            if walker is None:
                walker = r.walk(tip, pygit2.enums.SortMode.NONE)
            else:
                walker.push(tip)
        except (KeyError, ValueError, pygit2.GitError):
            continue
    for commit in walker or []:  # one walker: each commit visited once
        try:
            top = commit.tree[POINTER_DIR]
        except KeyError:
            continue
        if top.id in seen_trees:
            continue
        seen_trees.add(top.id)
        stack = [r[top.id]]
        while stack:
            node = stack.pop()
            for entry in node:
                if entry.type_str == "tree":
                    if entry.id not in seen_trees:
                        seen_trees.add(entry.id)
                        stack.append(r[entry.id])
                elif entry.name.endswith(".yaml") and entry.id not in seen_blobs:
                    seen_blobs.add(entry.id)
                    try:
                        ids.add(decode_pointer(r[entry.id].data, entry.name).id)
                    except Exception:  # noqa: BLE001 - a broken old pointer names nothing
                        continue
    for p_data in repo.pointer_blobs(None).values():
        try:
            ids.add(decode_pointer(p_data, "working tree").id)
        except Exception:  # noqa: BLE001
            continue
    index = r.index
    index.read()
    for entry in index:
        if entry.path.startswith(POINTER_DIR + "/") and entry.path.endswith(".yaml"):
            try:
                ids.add(decode_pointer(r[entry.id].data, entry.path).id)
            except Exception:  # noqa: BLE001
                continue
    return ids
