"""What a get will write, learnt in one pass over the manifest, and the batches it
writes it in.

A whole version's entries are never held at once: the plan keeps counts, the
longest path and what is wanted of each chunk, and :meth:`GetPlan.batches` reads
the manifest again page by page.  A narrowed get (patterns, ``only_added``, a
shard) keeps the entries it picked, a subset of the version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gitdata.core.manifest import FileEntry, Manifest, SortedClashCheck
from gitdata.core.paths import brief_path
from gitdata.errors import FormatError
from gitdata.ops.fetch import ChunkUse, chunk_uses


@dataclass
class GetPlan:
    """The selected entries of a get: how to read them again, and their totals."""

    entries: Callable[[], Iterator[FileEntry]]
    count: int
    size: int
    longest: str
    uses: dict[str, ChunkUse]

    def batches(self, size: int) -> Iterator[list[FileEntry]]:
        """The entries, sorted by path, in lists of at most ``size``."""
        batch: list[FileEntry] = []
        for e in self.entries():
            batch.append(e)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def clash_error(version_id: str | None, clash: tuple[str, str]) -> FormatError:
    """A version holding a file that is also the folder of another of its paths."""
    return FormatError(
        f"manifest of {version_id or 'this version'}: {brief_path(clash[0])} is a "
        f"file and also the folder of {brief_path(clash[1])}"
    )


def check_clash(manifest: Manifest, version_id: str | None) -> None:
    """Refuse a paged manifest with a file/folder clash (docs/format.md §4b: its pages
    are checked one by one, a clash can only be seen across the whole list); streams."""
    check = SortedClashCheck()
    for e in manifest:
        clash = check.see(e.path)
        if clash is not None:
            raise clash_error(version_id, clash)


def _longer(a: str, b: str) -> str:
    return (
        b
        if len(b.encode("utf-8", "surrogatepass")) > len(a.encode("utf-8", "surrogatepass"))
        else a
    )


def whole_plan(manifest: Manifest, version_id: str | None) -> GetPlan:
    """The plan of a get of every file: one streaming pass (the clash check of a paged
    manifest included)."""
    check = SortedClashCheck() if manifest.objects() else None
    uses: dict[str, ChunkUse] = {}
    count = size = 0
    longest = ""
    longest_bytes = 0
    for e in manifest:
        if check is not None:
            clash = check.see(e.path)
            if clash is not None:
                raise clash_error(version_id, clash)
        count += 1
        size += e.size
        if len(e.path) * 4 > longest_bytes:  # cheap bound first: most paths are short
            n = len(e.path.encode("utf-8", "surrogatepass"))
            if n > longest_bytes:
                longest, longest_bytes = e.path, n
        if not e.is_link:
            use = uses.get(e.chunk)
            if use is None:
                use = uses[e.chunk] = ChunkUse()
            use.count += 1
            use.bytes += e.length
            end = e.offset + e.length
            if end > use.extent:
                use.extent = end
    return GetPlan(lambda: iter(manifest), count, size, longest, uses)


def picked_plan(picked: list[FileEntry], extents: dict[str, int]) -> GetPlan:
    """The plan of a get of the entries a selection ``picked`` (``extents``: what the
    whole manifest tells of each chunk's size)."""
    picked = sorted(picked, key=lambda e: e.path.encode("utf-8", "surrogatepass"))
    longest = ""
    for e in picked:
        longest = _longer(longest, e.path)
    return GetPlan(
        lambda: iter(picked),
        len(picked),
        sum(e.size for e in picked),
        longest,
        chunk_uses(picked, extents),
    )
