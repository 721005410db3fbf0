"""Reading chunk members from the store, verified, for a get.

A chunk with many wanted members and little else is downloaded whole, once, to a
scratch file that later batches of the same get read from (:class:`ChunkFiles`);
otherwise ranged reads fetch only the wanted members.  Members bigger than
:data:`~gitdata.core.zipchunk.STREAM_FROM` are handed over as a stream of verified
pieces, never whole, so memory stays bounded whatever a member's size.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitdata.core.manifest import FileEntry
from gitdata.core.progress import Progress
from gitdata.core.zipchunk import STREAM_FROM, check_member_extent, decode_member, stream_member
from gitdata.errors import IntegrityError, ObjectNotFoundError
from gitdata.ops.context import Context
from gitdata.ops.links import read_link
from gitdata.storage import object_key, run_parallel
from gitdata.storage.transfer import track_scratch, untrack_scratch

# Fetch a whole chunk only when more than this many of its members are needed
# (and little else is in it: see read_whole); otherwise ranged reads of just
# those members are cheaper.
WHOLE_CHUNK_MEMBERS = 8
# What one more request costs, in bytes a download could carry meanwhile (a round
# trip of tens of milliseconds at tens of MB/s).
REQUEST_BYTES = 1 << 20

Deliver = Callable[[FileEntry, bytes], object]
# Takes a member's content as verified pieces; must keep nothing unless the
# iterator ends without raising (it raises IntegrityError at its end on a mismatch).
DeliverStream = Callable[[FileEntry, Iterator[bytes]], object]


def read_whole(count: int, wanted_bytes: int, extent: int) -> bool:
    """Whether to fetch a chunk whole rather than its ``count`` wanted members by
    ranged reads.

    Many members are cheaper in one request, unless that request would bring
    much that is not wanted: a chunk is read whole only when more than
    :data:`WHOLE_CHUNK_MEMBERS` members are wanted and the bytes around them
    (``extent`` is what is known of the chunk's size) cost less than the requests
    a ranged read of each would add (about :data:`REQUEST_BYTES` each).  A partial
    get of a few files of a big chunk thus never downloads it.
    """
    if count <= WHOLE_CHUNK_MEMBERS:
        return False
    return extent - wanted_bytes <= (count - 1) * REQUEST_BYTES


@dataclass
class ChunkUse:
    """What one get wants of a chunk: members, their bytes, and how far into it they reach."""

    count: int = 0
    bytes: int = 0
    extent: int = 0


def chunk_uses(entries: Iterable[FileEntry], extents: Mapping[str, int]) -> dict[str, ChunkUse]:
    """chunk -> what ``entries`` want of it (``extents``: see ``chunk_extents``)."""
    out: dict[str, ChunkUse] = defaultdict(ChunkUse)
    for e in entries:
        if not e.is_link:
            use = out[e.chunk]
            use.count += 1
            use.bytes += e.length
            use.extent = max(use.extent, extents.get(e.chunk, 0), e.offset + e.length)
    return dict(out)


@dataclass
class ChunkFiles:
    """Chunks one get reads whole, each downloaded once to a scratch file of the
    cache and kept while later batches still want members of it.

    ``uses`` says what the whole get wants of each chunk; :meth:`done` is told
    each batch's members as they are finished, and removes a chunk's file when no
    member of it is left to come.  :meth:`close` removes every file left.
    """

    ctx: Context
    uses: dict[str, ChunkUse]
    _files: dict[str, str] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))

    def whole(self, chunk: str) -> bool:
        """Whether this get reads ``chunk`` whole."""
        use = self.uses.get(chunk)
        return use is not None and read_whole(use.count, use.bytes, use.extent)

    def path(self, chunk: str) -> str:
        """The local copy of ``chunk``, downloaded on first use."""
        with self._locks[chunk]:
            if chunk not in self._files:
                self._files[chunk] = self._download(chunk)
            return self._files[chunk]

    def _download(self, chunk: str) -> str:
        tmp_dir = self.ctx.settings.cache_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="get-", suffix=".zip")
        os.close(fd)
        track_scratch(tmp)
        try:
            self.ctx.store.get_file(object_key(chunk), Path(tmp))
        except BaseException:
            self._drop(tmp)
            raise
        return tmp

    def done(self, entries: Iterable[FileEntry]) -> None:
        """These members are finished: remove chunk files no later member needs."""
        for e in entries:
            use = self.uses.get(e.chunk) if not e.is_link else None
            if use is None:
                continue
            use.count -= 1
            if use.count <= 0 and e.chunk in self._files:
                self._drop(self._files.pop(e.chunk))

    def close(self) -> None:
        """Remove every chunk file still held."""
        for tmp in self._files.values():
            self._drop(tmp)
        self._files.clear()

    @staticmethod
    def _drop(tmp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        untrack_scratch(tmp)


def _pread_all(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` (short only at the end of the file)."""
    parts = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        length -= len(part)
    return b"".join(parts)


def _deliver_members(
    members: list[FileEntry],
    read: Callable[[int, int], bytes],
    where: str,
    deliver: Deliver,
    deliver_stream: DeliverStream | None,
    progress: Progress,
) -> None:
    for e in members:
        if deliver_stream is not None and max(e.size, e.length) > STREAM_FROM:
            deliver_stream(
                e, stream_member(read, e.offset, e.length, e.method, e.size, e.sha256, where)
            )
        else:
            raw = read(e.offset, e.length)
            if len(raw) != e.length:
                raise IntegrityError(f"chunk {where} is truncated", key=where)
            deliver(e, decode_member(raw, e.method, e.size, e.sha256, where))
        progress.advance(e.size)


def fetch_members(
    ctx: Context,
    wanted: list[FileEntry],
    deliver: Deliver,
    *,
    max_workers: int | None,
    progress: Progress,
    chunks: ChunkFiles | None = None,
    deliver_stream: DeliverStream | None = None,
) -> None:
    """Read each wanted content from its chunk, verify it, and hand it over.

    ``deliver(entry, data)`` is called once per entry; with ``deliver_stream``,
    members bigger than STREAM_FROM go to ``deliver_stream(entry, pieces)``
    instead.  Chunks that ``chunks`` says to read whole are read from its local
    copies; the others by ranged reads after one HEAD each (a forged extent is
    never requested).  ``progress`` advances by each entry's size; it is neither
    started nor finished here.
    """
    if not wanted:
        return
    by_chunk: dict[str, list[FileEntry]] = defaultdict(list)
    links: list[FileEntry] = []
    for e in wanted:
        if e.is_link:
            links.append(e)
        else:
            by_chunk[e.chunk].append(e)

    def fetch_link(e: FileEntry) -> None:
        deliver(e, read_link(e))  # from its own URL, checked against size and sha256
        progress.advance(e.size)

    run_parallel(fetch_link, links, max_workers)
    if not by_chunk:
        return
    store = ctx.store
    held = chunks or ChunkFiles(ctx, chunk_uses(wanted, {}))

    def fetch(chunk: str) -> None:
        members = sorted(by_chunk[chunk], key=lambda m: m.offset)
        key = object_key(chunk)
        where = f"{store.url}/{key}"
        try:
            if held.whole(chunk):
                with open(held.path(chunk), "rb") as fh:
                    fd = fh.fileno()
                    size = os.fstat(fd).st_size
                    for e in members:
                        check_member_extent(e.path, e.offset, e.length, size, where)
                    _deliver_members(
                        members,
                        lambda off, n: _pread_all(fd, off, n),
                        where,
                        deliver,
                        deliver_stream,
                        progress,
                    )
                return
            size = store.size(key)
            for e in members:
                check_member_extent(e.path, e.offset, e.length, size, where)
            _deliver_members(
                members,
                lambda off, n: store.get_range(key, off, n),
                where,
                deliver,
                deliver_stream,
                progress,
            )
        except ObjectNotFoundError:
            raise IntegrityError(
                f"chunk {key} is missing from store {store.url}",
                key=key,
                hint="the store is incomplete; re-upload the version from a machine that has it",
            ) from None

    try:
        run_parallel(fetch, sorted(by_chunk), max_workers)
    finally:
        if chunks is None:
            held.close()
