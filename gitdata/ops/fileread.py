"""One file of a version opened for reading: seekable, and for a big stored file read
by ranges straight from its chunk (a reader of a few bytes never downloads the file,
let alone its chunk)."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from gitdata.core.manifest import METHOD_STORED, FileEntry
from gitdata.core.zipchunk import check_member_extent
from gitdata.errors import IntegrityError, ObjectNotFoundError
from gitdata.ops.context import Context
from gitdata.ops.remote import read_file_entry
from gitdata.storage import object_key

# A file up to this size is read whole (one request, its hash checked, kept in the
# local cache); a bigger stored one is read by ranges as the reader asks.
WHOLE_UP_TO = 4 * 1024 * 1024
# Bytes a ranged file asks the store for at least (a reader's small reads are
# served from this buffer).
RANGE_BLOCK = 1024 * 1024


def open_entry(ctx: Context, entry: FileEntry) -> BinaryIO:
    """A seekable binary file of ``entry``'s content.

    From the local cache when it holds the content; an external file, a deflated
    member or a file up to :data:`WHOLE_UP_TO` is read whole and verified (and kept in
    the cache); a bigger stored member is read by ranges from its chunk, its SHA-256
    checked whenever the file is read from its start to its end in order."""
    cache = ctx.cache
    if not cache.check_blobs([entry.sha256]):
        blob = cache.blob_path(entry.sha256)
        try:
            fh = open(blob, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:  # removed by a prune since the check
            pass
        else:
            return fh
    if entry.is_link or entry.method != METHOD_STORED or entry.size <= WHOLE_UP_TO:
        return io.BytesIO(read_file_entry(ctx, entry))
    raw = RangedMember(ctx, entry)
    return io.BufferedReader(raw, buffer_size=RANGE_BLOCK)


class RangedMember(io.RawIOBase):
    """A stored member's bytes read by ranges from its chunk in the store.

    The member's extent is checked against the chunk's size before the first read
    (a forged manifest never makes it ask for bytes the chunk lacks).  Reads that go
    from the start to the end in order are hashed as they pass: the last one raises
    :class:`IntegrityError` when the content is not the entry's.  A reader that seeks
    about reads unverified bytes, as any ranged reader of an object store does."""

    def __init__(self, ctx: Context, entry: FileEntry) -> None:
        super().__init__()
        self._ctx = ctx
        self._entry = entry
        self._key = object_key(entry.chunk)
        self._pos = 0
        self._checked_extent = False
        self._hash: hashlib._Hash | None = hashlib.sha256()
        self._hashed = 0  # bytes of the content hashed so far, from its start

    # io.RawIOBase
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._entry.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed file")
        size = self._entry.size
        n = min(len(buffer), max(0, size - self._pos))
        if n == 0:
            return 0
        data = self._read_range(self._pos, n)
        buffer[:n] = data
        self._hash_along(self._pos, data)
        self._pos += n
        return n

    def _read_range(self, start: int, n: int) -> bytes:
        store = self._ctx.store
        where = f"{store.url}/{self._key}"
        try:
            if not self._checked_extent:
                e = self._entry
                check_member_extent(e.path, e.offset, e.length, store.size(self._key), where)
                self._checked_extent = True
            data = store.get_range(self._key, self._entry.offset + start, n)
        except ObjectNotFoundError:
            raise IntegrityError(
                f"chunk {self._key} is missing from store {store.url}",
                key=self._key,
                hint="the store is incomplete; re-upload the version from a machine that has it",
            ) from None
        if len(data) != n:
            raise IntegrityError(f"chunk {where} is truncated", key=where)
        return data

    def _hash_along(self, start: int, data: bytes) -> None:
        if start == 0:  # (again) from the start: hash from there
            self._hash, self._hashed = hashlib.sha256(), 0
        if self._hash is None:
            return
        if start != self._hashed:  # not the next bytes in order: no check this time
            self._hash = None
            return
        self._hash.update(data)
        self._hashed += len(data)
        if self._hashed == self._entry.size:
            actual = self._hash.hexdigest()
            self._hash = None
            if actual != self._entry.sha256:
                raise IntegrityError(
                    f"{self._entry.path} in chunk {self._key} is corrupt (sha256 mismatch)",
                    key=self._key,
                    path=self._entry.path,
                    expected=self._entry.sha256,
                    actual=actual,
                )
