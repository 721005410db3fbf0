"""Three-way merge of version file maps over the version DAG (docs/format.md §7).

The merged view of parents P1..Pn is built left to right.  Each step merges
the view accumulated so far ("ours") with the next parent ("theirs") against
their merge base: the lowest common ancestors of the parents already merged
and the next one.  Several merge bases are first merged into one virtual base
(as git's recursive strategy does); no common ancestor gives an empty base.

Per path, comparing values: a file's value is its content hash and its
executable bit (absent counts as a value):

- ours == theirs        -> that (both sides did the same, or nothing)
- ours == base          -> theirs (only theirs changed it)
- theirs == base        -> ours (only ours changed it)
- otherwise             -> a conflict; the view takes theirs (the later parent,
                           ClearML's order rule) and the conflict is reported.

Callers decide whether a conflict may stand: version creation and squash keep
the later parent and report it; a git merge refuses to guess.

Everything here is pure: manifests and parent lists come in through callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class _HasSha(Protocol):
    @property
    def sha256(self) -> str: ...

    @property
    def executable(self) -> bool: ...


E = TypeVar("E", bound=_HasSha)

# Stands in a virtual base for a path its own merge left conflicted: it equals
# no real content, so any side that differs from the other is a conflict again.
_CONFLICTED = "!conflicted"

# The executable bit's mark on a file's value: "<sha256>+x" (never a real hash).
_EXEC_MARK = "+x"


def value_of(entry: _HasSha) -> str:
    """A file's value in a merge: its sha256, marked when it is executable."""
    return entry.sha256 + _EXEC_MARK if entry.executable else entry.sha256


OURS = "ours"
THEIRS = "theirs"


@dataclass(frozen=True)
class Conflict:
    """A path both sides changed differently; hashes are None where the path is absent."""

    path: str
    base: str | None
    ours: str | None
    theirs: str | None

    @property
    def kind(self) -> str:
        """``modify/modify``, ``modify/delete``, ``delete/modify`` or ``add/add``."""
        if self.base is None:
            return "add/add"
        if self.ours is None:
            return "delete/modify"
        if self.theirs is None:
            return "modify/delete"
        return "modify/modify"

    def to_dict(self) -> dict[str, str | None]:
        """JSON form used by ``--json`` output."""
        return {
            "path": self.path,
            "kind": self.kind,
            "base": self.base,
            "ours": self.ours,
            "theirs": self.theirs,
        }


@dataclass
class MergeResult(Generic[E]):
    """The merged path -> entry map and the conflicts met on the way (later parent kept)."""

    files: dict[str, E]
    conflicts: list[Conflict] = field(default_factory=list)

    def conflict_paths(self) -> list[str]:
        """Conflicted paths, sorted, each once."""
        return sorted({c.path for c in self.conflicts})


def merge_three(
    base: Mapping[str, str], ours: Mapping[str, E], theirs: Mapping[str, E]
) -> MergeResult[E]:
    """Merge ``ours`` and ``theirs`` (path -> entry) against ``base`` (path -> value,
    see :func:`value_of`)."""
    merged: dict[str, E] = {}
    conflicts: list[Conflict] = []
    for path, mine in ours.items():
        other = theirs.get(path)
        mine_value = value_of(mine)
        if other is not None and value_of(other) == mine_value:
            merged[path] = mine
            continue
        was = base.get(path)
        other_value = value_of(other) if other is not None else None
        if other_value == was:
            merged[path] = mine  # only ours changed it
        elif mine_value == was:
            if other is not None:
                merged[path] = other  # only theirs changed it (or deleted it: dropped)
        else:
            conflicts.append(
                Conflict(path, _real(was), mine.sha256, other.sha256 if other else None)
            )
            if other is not None:
                merged[path] = other
    for path, other in theirs.items():
        if path in ours:
            continue
        was = base.get(path)
        if was is None:
            merged[path] = other  # added by theirs only
        elif value_of(other) == was:
            pass  # ours deleted it, theirs left it alone
        else:
            conflicts.append(Conflict(path, _real(was), None, other.sha256))
            merged[path] = other
    return MergeResult(dict(sorted(merged.items())), conflicts)


def _real(value: str | None) -> str | None:
    """The sha256 of a base value (None when absent or conflicted)."""
    if value is None or value == _CONFLICTED:
        return None
    return value.removesuffix(_EXEC_MARK)


def lineage(start: Iterable[str], parents_of: Callable[[str], list[str]]) -> set[str]:
    """``start`` and every ancestor of it (ids)."""
    seen: set[str] = set()
    frontier = list(start)
    while frontier:
        vid = frontier.pop()
        if vid in seen:
            continue
        seen.add(vid)
        frontier.extend(parents_of(vid))
    return seen


def merge_bases(
    left: Iterable[str], right: Iterable[str], parents_of: Callable[[str], list[str]]
) -> list[str]:
    """The lowest common ancestors of two sets of versions, sorted by id.

    A version counts as its own ancestor, so the base of a version and one of
    its ancestors is that ancestor.
    """
    common = lineage(left, parents_of) & lineage(right, parents_of)
    if not common:
        return []
    # A common ancestor is redundant when it is a proper ancestor of another one.
    below = lineage((p for c in common for p in parents_of(c)), parents_of)
    return sorted(common - below)


def merged_view(
    parents: list[str],
    files_of: Callable[[str], Mapping[str, E]],
    parents_of: Callable[[str], list[str]],
) -> MergeResult[E]:
    """The three-way merged files of ``parents`` in order (module docstring)."""
    if not parents:
        return MergeResult({})
    files: dict[str, E] = dict(files_of(parents[0]))
    conflicts: list[Conflict] = []
    done = [parents[0]]
    for nxt in parents[1:]:
        bases = merge_bases(done, [nxt], parents_of)
        if nxt in bases:
            done.append(nxt)  # an ancestor of what is merged already adds nothing
            continue
        step = merge_three(_base_hashes(bases, files_of, parents_of), files, files_of(nxt))
        files = step.files
        conflicts.extend(step.conflicts)
        done.append(nxt)
    return MergeResult(files, conflicts)


def _base_hashes(
    bases: list[str],
    files_of: Callable[[str], Mapping[str, E]],
    parents_of: Callable[[str], list[str]],
) -> dict[str, str]:
    """path -> value (:func:`value_of`) of the (possibly virtual) merge base."""
    if not bases:
        return {}
    if len(bases) == 1:
        return {p: value_of(e) for p, e in files_of(bases[0]).items()}
    virtual = merged_view(bases, files_of, parents_of)
    hashes = {p: value_of(e) for p, e in virtual.files.items()}
    for c in virtual.conflicts:
        hashes[c.path] = _CONFLICTED
    return hashes


def resolve(
    result: MergeResult[E],
    ours: Mapping[str, E],
    theirs: Mapping[str, E],
    *,
    prefer: str | None = None,
    take: Mapping[str, str] | None = None,
) -> dict[str, E]:
    """The files of a two-sided merge with every conflict decided.

    ``take`` maps a conflicted path to ``ours`` or ``theirs``; other conflicts
    follow ``prefer``.  A side that deleted the path removes it.  Raises
    ValueError for a ``take`` path that is not conflicted, and KeyError-free
    callers check :func:`undecided` first.
    """
    take = dict(take or {})
    paths = set(result.conflict_paths())
    stray = sorted(set(take) - paths)
    if stray:
        raise ValueError(f"not a conflicted path: {stray[0]}")
    files = dict(result.files)
    for path in paths:
        side = take.get(path, prefer)
        if side not in (OURS, THEIRS):
            raise ValueError(f"no side chosen for conflicted path {path}")
        chosen = (ours if side == OURS else theirs).get(path)
        if chosen is None:
            files.pop(path, None)
        else:
            files[path] = chosen
    return dict(sorted(files.items()))


def undecided(
    result: MergeResult[E], *, prefer: str | None, take: Mapping[str, str] | None
) -> list[str]:
    """Conflicted paths that neither ``prefer`` nor ``take`` decides."""
    if prefer in (OURS, THEIRS):
        return []
    return [p for p in result.conflict_paths() if p not in (take or {})]
