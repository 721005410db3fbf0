"""Which files of a version a partial get puts on disk (``gd get --filter/--only-added``).

A :class:`Selection` narrows a version in a fixed order: the files matching any
of its patterns (all files when there is none; the matching of ``gd list
--filter``, :func:`gitdata.core.paths.match_pattern`), then, with
``only_added``, those the version added or modified against its merged
parents, then one shard of what is left (``part`` of ``num_parts``, the split
of :mod:`gitdata.core.sharding`).  Filtering before sharding splits the wanted
files evenly across workers.

A selection is a pure value: it names the cached copy it is kept in
(:meth:`Selection.copy_key`) and is recorded in the marker of a tree it made,
so ``gd verify`` checks that tree against the same files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from gitdata.core.manifest import FileEntry
from gitdata.core.paths import match_pattern
from gitdata.core.sharding import select_part
from gitdata.errors import InvalidInputError, LocalPathNotFoundError


def normalize_patterns(patterns: str | Iterable[str] | None) -> tuple[str, ...]:
    """The patterns as a sorted tuple without duplicates (their order does not matter:
    a file is selected when it matches any); a blank pattern is refused."""
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        patterns = [patterns]
    out: set[str] = set()
    for p in patterns:
        if not isinstance(p, str):
            raise InvalidInputError(f"a filter pattern must be a string, got {p!r}")
        stripped = p.strip("/")
        if not stripped.strip() or "\x00" in stripped:
            raise InvalidInputError(
                f"invalid filter pattern {p!r}",
                pattern=p,
                hint="give a dataset folder, a path or a wildcard such as 'train/*.jpg'",
            )
        out.add(stripped)
    return tuple(sorted(out, key=str.encode))


@dataclass(frozen=True)
class Selection:
    """The files a get fetches: see the module docstring for the order of the steps."""

    patterns: tuple[str, ...] = field(default=())
    only_added: bool = False
    part: int | None = None
    num_parts: int | None = None

    @classmethod
    def of(
        cls,
        patterns: str | Iterable[str] | None = None,
        *,
        only_added: bool = False,
        part: int | None = None,
        num_parts: int | None = None,
    ) -> Selection:
        """A selection with its patterns normalised and its shard arguments checked."""
        if (part is None) != (num_parts is None):
            raise InvalidInputError("--part and --num-parts go together")
        return cls(normalize_patterns(patterns), bool(only_added), part, num_parts)

    @property
    def narrowed(self) -> bool:
        """Whether patterns or ``only_added`` leave out files (a shard aside)."""
        return bool(self.patterns) or self.only_added

    @property
    def whole(self) -> bool:
        """Whether this selects every file of the version."""
        return not self.narrowed and self.part is None

    def copy_key(self, version_id: str) -> str:
        """The cache key of the read-only copy of this selection of ``version_id``:
        ``<id>[.filter-<16 hex>][.part-<i>-of-<n>]`` (the hex digest covers the
        patterns and ``only_added``, so no two selections share a copy)."""
        key = version_id
        if self.narrowed:
            doc = json.dumps(
                {"patterns": list(self.patterns), "only_added": self.only_added},
                ensure_ascii=False,
                sort_keys=True,
            )
            key += ".filter-" + hashlib.sha256(doc.encode()).hexdigest()[:16]
        if self.part is not None:
            key += f".part-{self.part}-of-{self.num_parts}"
        return key

    def describe(self) -> str:
        """The selection as the ``gd get`` options that make it (empty when whole)."""
        words = [f"--filter {p!r}" for p in self.patterns]
        if self.only_added:
            words.append("--only-added")
        if self.part is not None:
            words.append(f"--part {self.part} --num-parts {self.num_parts}")
        return " ".join(words)

    def to_dict(self) -> dict[str, object]:
        """JSON form (as recorded in a tree's marker)."""
        return {
            "filter": list(self.patterns) or None,
            "only_added": self.only_added,
            "part": self.part,
            "num_parts": self.num_parts,
        }

    def matches(self, path: str) -> bool:
        """Whether ``path`` passes the patterns (every path when there is none)."""
        return not self.patterns or any(match_pattern(path, p) for p in self.patterns)


def select(
    entries: Sequence[FileEntry],
    selection: Selection,
    *,
    changed: Callable[[], Collection[str]] | None = None,
    source: str = "the version",
) -> list[FileEntry]:
    """The entries ``selection`` picks, in the order given.

    ``changed`` returns the paths the version added or modified against its
    parents; it is called only for ``only_added``.  A selection whose patterns
    or ``only_added`` leave no file raises :class:`LocalPathNotFoundError`
    (exit 3), naming what was asked for; an empty shard is not an error.
    """
    picked = [e for e in entries if selection.matches(e.path)]
    if selection.only_added:
        if changed is None:
            raise InvalidInputError("only_added needs the version's parents")
        wanted = set(changed())
        picked = [e for e in picked if e.path in wanted]
    if selection.narrowed and not picked:
        asked = Selection(selection.patterns, selection.only_added).describe()
        if selection.patterns and selection.only_added:
            why = "no file it added or modified matches"
        elif selection.patterns:
            why = "no file matches"
        else:
            why = "it added or modified no file against its parents"
        raise LocalPathNotFoundError(
            f"nothing to get from {source}: {why} ({asked})",
            patterns=list(selection.patterns),
            only_added=selection.only_added,
            hint="gd list --filter PATTERN shows what a pattern matches; "
            "gd show --files lists what a version changed",
        )
    if selection.part is None or selection.num_parts is None:
        return picked
    return select_part(
        picked,
        selection.part,
        selection.num_parts,
        size_of=lambda e: e.size,
        chunk_of=lambda e: e.chunk,
        path_of=lambda e: e.path,
    )
