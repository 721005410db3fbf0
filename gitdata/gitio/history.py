"""Reading pointer history out of git: log, staged changes, pushed commits, HEAD state."""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterable
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


@dataclass
class TimelineEntry:
    """One commit that changed pointers: what each changed pointer pins after it."""

    commit: str
    author: str
    date: str
    message: str
    changes: list[tuple[str, Pointer | None]]  # (pointer path, pointer; None = deleted)


def pointer_timeline(repo: GitRepo, rev: str = "HEAD", max_count: int = 200) -> list[TimelineEntry]:
    """The newest ``max_count`` commits reachable from ``rev`` that changed any pointer
    (against their first parent), newest first.  A malformed pointer is skipped."""
    import pygit2

    r = repo.repo
    start = repo._commit(rev)
    if start is None:
        return []
    out: list[TimelineEntry] = []
    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
    for commit in r.walk(start.id, order):
        if commit.parents and _blob_id(commit.tree, POINTER_DIR) == _blob_id(
            commit.parents[0].tree, POINTER_DIR
        ):
            continue  # the pointer folder's tree is unchanged: one lookup, no walk
        mine = repo.tree_pointer_blobs(commit.tree)
        before = repo.tree_pointer_blobs(commit.parents[0].tree) if commit.parents else {}
        changes: list[tuple[str, Pointer | None]] = []
        for path in sorted(set(mine) | set(before)):
            if mine.get(path) == before.get(path):
                continue
            if path not in mine:
                changes.append((path, None))
                continue
            with contextlib.suppress(Exception):
                changes.append((path, decode_pointer(mine[path], f"{path}@{str(commit.id)[:12]}")))
        if changes:
            message = commit.message.strip().splitlines()
            out.append(
                TimelineEntry(
                    str(commit.id),
                    commit.author.name,
                    _when(commit),
                    message[0] if message else "",
                    changes,
                )
            )
            if len(out) >= max_count:
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


WORK_TREE = "the working tree"
INDEX = "the index"


@dataclass
class PointerReach:
    """What the pointers of a repository reach (see :func:`pointer_reach`)."""

    ids: set[str]  # every version id a pointer names
    # For each tracked id some pointer names: (where, pointer path) pairs, where is a
    # ref name, "HEAD" (detached), the index or the working tree.
    pins: dict[str, set[tuple[str, str]]]


def _tips(repo: GitRepo, reflog: bool) -> dict:
    """Commit id -> names of what points at it: every ref, HEAD when detached, and with
    ``reflog`` every reflog entry (named ``<ref>@{reflog}``)."""
    import pygit2

    r = repo.repo
    tips: dict = {}

    def add(oid, name: str) -> None:
        tips.setdefault(oid, set()).add(name)

    for name in r.references:
        ref = r.references[name]
        try:
            add(ref.peel(pygit2.Commit).id, name)
        except (pygit2.InvalidSpecError, ValueError, KeyError, pygit2.GitError):
            continue
        if reflog:
            for entry in ref.log():
                add(entry.oid_new, f"{name}@{{reflog}}")
    head = r.references.get("HEAD")  # HEAD is not among r.references
    if head is not None:
        if r.head_is_detached:  # a tip of its own (attached, its branch is one already)
            with contextlib.suppress(
                pygit2.InvalidSpecError, ValueError, KeyError, pygit2.GitError
            ):
                add(head.peel(pygit2.Commit).id, "HEAD")
        if reflog:
            for entry in head.log():
                add(entry.oid_new, "HEAD@{reflog}")
    return tips


def pointer_reach(
    repo: GitRepo, *, reflog: bool = False, track: Iterable[str] = ()
) -> PointerReach:
    """Version ids named by any pointer in any commit reachable from any ref
    (branches, tags, remotes, stash, a detached HEAD; with ``reflog`` also reflog
    entries), in the index and in the working tree.

    For the ``track``ed ids it also says where each is pinned: every ref whose
    history holds a pointer naming it, plus the index where its staged pointer
    differs from HEAD's and the working tree where the file differs from the index.
    One walk over all commits serves both (gc wants only ``ids``; delete tracks the
    few versions it must not break).
    """
    import pygit2

    r = repo.repo
    tracked = frozenset(track)
    tips = _tips(repo, reflog)
    ids: set[str] = set()
    blob_ids: dict = {}  # blob id -> the version id its pointer names (None: unreadable)
    tree_hits: dict = {}  # (tree id, path) -> frozenset of tracked (id, pointer path)
    empty: frozenset = frozenset()

    def version_of(blob_id, label: str) -> str | None:
        if blob_id not in blob_ids:
            try:
                vid = decode_pointer(r[blob_id].data, label).id
            except Exception:  # noqa: BLE001 - a broken old pointer names nothing
                vid = None
            blob_ids[blob_id] = vid
            if vid is not None:
                ids.add(vid)
        return blob_ids[blob_id]

    def hits_in(tree_id, prefix: str) -> frozenset:
        key = (tree_id, prefix)
        if key not in tree_hits:
            found: set[tuple[str, str]] = set()
            for entry in r[tree_id]:
                rel = f"{prefix}/{entry.name}"
                if entry.type_str == "tree":
                    found |= hits_in(entry.id, rel)
                elif entry.name.endswith(".yaml"):
                    vid = version_of(entry.id, rel)
                    if vid in tracked:
                        found.add((vid, rel))
            tree_hits[key] = frozenset(found) if found else empty
        return tree_hits[key]

    walker = None
    for tip in tips:
        try:
            if walker is None:
                # parents before children, so a commit's hits can include its parents'
                order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
                walker = r.walk(tip, order if tracked else pygit2.enums.SortMode.NONE)
            else:
                walker.push(tip)
        except (KeyError, ValueError, pygit2.GitError):
            continue
    # commit id -> tracked (id, path) pairs in it or any ancestor; unchanged sets are shared
    below: dict = {}
    for commit in walker or []:  # one walker: each commit visited once
        try:
            mine = hits_in(commit.tree[POINTER_DIR].id, POINTER_DIR)
        except KeyError:
            mine = empty
        if not tracked:
            continue
        acc = mine
        for pid in commit.parent_ids:
            inherited = below.get(pid, empty)  # a shallow clone's boundary has no parents
            if not inherited <= acc:
                acc = inherited if acc <= inherited else acc | inherited
        below[commit.id] = acc

    pins: dict[str, set[tuple[str, str]]] = {}
    for tip, names in tips.items():
        for vid, path in below.get(tip, empty):
            pins.setdefault(vid, set()).update((name, path) for name in names)

    head = repo.pointer_blobs("HEAD")
    index = r.index
    index.read()
    staged: dict[str, bytes] = {}
    for entry in index:
        if entry.path.startswith(POINTER_DIR + "/") and entry.path.endswith(".yaml"):
            data = r[entry.id].data
            staged[entry.path] = data
            vid = version_of(entry.id, entry.path)
            if vid in tracked and head.get(entry.path) != data:
                pins.setdefault(vid, set()).add((INDEX, entry.path))
    for rel, data in repo.pointer_blobs(None).items():
        try:
            vid = decode_pointer(data, rel).id
        except Exception:  # noqa: BLE001
            continue
        ids.add(vid)
        if vid in tracked and staged.get(rel) != data:
            pins.setdefault(vid, set()).add((WORK_TREE, rel))
    return PointerReach(ids, pins)


def reachable_pointer_ids(repo: GitRepo, *, reflog: bool = False) -> set[str]:
    """Version ids named by any pointer anywhere in the repository (what gc keeps):
    :func:`pointer_reach` without tracking."""
    return pointer_reach(repo, reflog=reflog).ids
