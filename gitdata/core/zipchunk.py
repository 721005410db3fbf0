"""Chunks: standard zip files whose members are named by their sha256.

A chunk is a plain zip (readable by ``unzip``), members stored (default) or
deflated, each named by the lowercase sha256 of its uncompressed content,
with a fixed timestamp so the same members in the same order give the same
bytes.  The writer reports each member's data offset and length so readers
can fetch one file with a ranged read and never trust the names inside the zip.
Zip64 records are written only when sizes or offsets need them.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from gitdata.core.manifest import METHOD_DEFLATE, METHOD_STORED
from gitdata.core.paths import brief_path
from gitdata.errors import FormatError, IntegrityError

_LOCAL_SIG = 0x04034B50
_CENTRAL_SIG = 0x02014B50
_END_SIG = 0x06054B50
_ZIP64_END_SIG = 0x06064B50
_ZIP64_LOCATOR_SIG = 0x07064B50
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_LIMIT = 0xFFFFFFFF
_ZIP64_THRESHOLD = 0xFFF00000  # leave headroom for deflate growing incompressible data
_METHOD_CODES = {METHOD_STORED: 0, METHOD_DEFLATE: 8}


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """Where one member's data sits inside the chunk."""

    sha256: str
    size: int
    offset: int
    length: int
    method: str


@dataclass(slots=True)
class _Central:
    name: bytes
    crc: int
    size: int
    length: int
    header_offset: int
    method_code: int
    zip64: bool


class ChunkWriter:
    """Writes a chunk to a seekable binary stream positioned at its start."""

    def __init__(self, stream: BinaryIO, method: str = METHOD_STORED) -> None:
        if method not in _METHOD_CODES:
            raise ValueError(f"unknown compression method {method!r}")
        self._out = stream
        self._method = method
        self._pos = 0
        self._central: list[_Central] = []
        self._names: set[str] = set()
        self._closed = False
        # sha256 of every byte written, while nothing was written twice (a patched
        # local header of a streamed member ends it: see :attr:`sha256`)
        self._digest: hashlib._Hash | None = hashlib.sha256()
        self._finished = False  # close() wrote the central directory

    def add(self, blocks: Iterable[bytes], expected_sha256: str, size_hint: int) -> MemberInfo:
        """Append one member from ``blocks``; verify its sha256 against ``expected_sha256``.

        Raises :class:`IntegrityError` (and leaves the chunk unusable) if the
        content read does not hash to ``expected_sha256``.
        """
        if self._closed:
            raise ValueError("chunk writer already closed")
        if expected_sha256 in self._names:
            raise ValueError(f"member {expected_sha256} added twice")
        name = expected_sha256.encode("ascii")
        zip64 = size_hint >= _ZIP64_THRESHOLD
        method_code = _METHOD_CODES[self._method]
        header_offset = self._pos
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
        header = self._local_header(name, method_code, 0, 0, 0, zip64, extra)
        self._write(header)
        data_offset = self._pos
        digest = hashlib.sha256()
        crc = 0
        size = 0
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15) if method_code == 8 else None
        for block in blocks:
            digest.update(block)
            crc = zlib.crc32(block, crc)
            size += len(block)
            self._write(compressor.compress(block) if compressor else block)
        if compressor:
            self._write(compressor.flush())
        length = self._pos - data_offset
        actual = digest.hexdigest()
        if actual != expected_sha256:
            self._closed = True
            raise IntegrityError(
                f"content changed while packing: expected sha256 {expected_sha256}, read {actual}",
                expected=expected_sha256,
                actual=actual,
            )
        if not zip64 and (size > _LIMIT or length > _LIMIT):
            self._closed = True
            raise ValueError("member grew past 4 GiB after its size was declared")
        # Patch the local header now that crc and sizes are known.
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, size, length)
        patched = self._local_header(name, method_code, crc, size, length, zip64, extra)
        self._out.seek(header_offset)
        self._out.write(patched)
        self._out.seek(self._pos)
        self._digest = None  # bytes already hashed were rewritten
        self._central.append(_Central(name, crc, size, length, header_offset, method_code, zip64))
        self._names.add(expected_sha256)
        return MemberInfo(expected_sha256, size, data_offset, length, self._method)

    def add_bytes(self, data: bytes, expected_sha256: str, *, hashed: bool = False) -> MemberInfo:
        """Append one in-memory member (one write, no header patching).  ``hashed``:
        the caller has just computed ``expected_sha256`` from these very bytes, so
        they are not hashed again."""
        if self._closed:
            raise ValueError("chunk writer already closed")
        if expected_sha256 in self._names:
            raise ValueError(f"member {expected_sha256} added twice")
        size = len(data)
        if size >= _ZIP64_THRESHOLD:
            return self.add((data,), expected_sha256, size)
        actual = expected_sha256 if hashed else hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(
                f"content changed while packing: expected sha256 {expected_sha256}, read {actual}",
                expected=expected_sha256,
                actual=actual,
            )
        method_code = _METHOD_CODES[self._method]
        payload = data
        if method_code == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        crc = zlib.crc32(data)
        name = expected_sha256.encode("ascii")
        header_offset = self._pos
        header = self._local_header(name, method_code, crc, size, len(payload), False, b"")
        data_offset = self._pos + len(header)
        self._write(header + payload)
        self._central.append(
            _Central(name, crc, size, len(payload), header_offset, method_code, False)
        )
        self._names.add(expected_sha256)
        return MemberInfo(expected_sha256, size, data_offset, len(payload), self._method)

    def close(self) -> int:
        """Write the central directory; return the chunk's total size in bytes."""
        if self._closed:
            raise ValueError("chunk writer already closed")
        self._closed = True
        cd_start = self._pos
        records: list[bytes] = []  # the central directory, written with one call
        for c in self._central:
            big_offset = c.header_offset >= _LIMIT
            fields = []
            if c.zip64:
                fields += [c.size, c.length]
            if big_offset:
                fields.append(c.header_offset)
            extra = (
                struct.pack("<HH" + "Q" * len(fields), 1, 8 * len(fields), *fields)
                if fields
                else b""
            )
            needed = 45 if (c.zip64 or big_offset) else 20
            records.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    _CENTRAL_SIG,
                    needed,
                    needed,
                    0,
                    c.method_code,
                    _DOS_TIME,
                    _DOS_DATE,
                    c.crc,
                    _LIMIT if c.zip64 else c.length,
                    _LIMIT if c.zip64 else c.size,
                    len(c.name),
                    len(extra),
                    0,
                    0,
                    0,
                    0,
                    _LIMIT if big_offset else c.header_offset,
                )
                + c.name
                + extra
            )
        self._write(b"".join(records))
        cd_size = self._pos - cd_start
        count = len(self._central)
        if count >= 0xFFFF or cd_start >= _LIMIT or cd_size >= _LIMIT:
            eocd64_offset = self._pos
            self._write(
                struct.pack(
                    "<IQHHIIQQQQ", _ZIP64_END_SIG, 44, 45, 45, 0, 0, count, count, cd_size, cd_start
                )
            )
            self._write(struct.pack("<IIQI", _ZIP64_LOCATOR_SIG, 0, eocd64_offset, 1))
            self._write(struct.pack("<IHHHHIIH", _END_SIG, 0, 0, 0xFFFF, 0xFFFF, _LIMIT, _LIMIT, 0))
        else:
            self._write(
                struct.pack("<IHHHHIIH", _END_SIG, 0, 0, count, count, cd_size, cd_start, 0)
            )
        self._finished = True
        return self._pos

    @property
    def sha256(self) -> str | None:
        """The finished chunk's sha256, hashed as it was written; None when a streamed
        member's header was patched in place (then hash the written file)."""
        if not self._finished or self._digest is None:
            return None
        return self._digest.hexdigest()

    def _local_header(
        self, name: bytes, method: int, crc: int, size: int, length: int, zip64: bool, extra: bytes
    ) -> bytes:
        return (
            struct.pack(
                "<IHHHHHIIIHH",
                _LOCAL_SIG,
                45 if zip64 else 20,
                0,
                method,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                _LIMIT if zip64 else length,
                _LIMIT if zip64 else size,
                len(name),
                len(extra),
            )
            + name
            + extra
        )

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)
        if self._digest is not None:
            self._digest.update(data)


# Deflate output is produced at most this much per step (a bomb is stopped early).
_INFLATE_STEP = 16 * 1024 * 1024


def _inflate(raw: bytes, size: int, sha256: str, where: str) -> bytes:
    """Raw DEFLATE ``raw`` -> at most ``size`` bytes; more output is refused at once.

    Memory stays within the declared size (plus one step): a deflate bomb
    (``raw`` expanding to gigabytes) is refused after ``size + 1`` bytes."""
    d = zlib.decompressobj(-15)
    parts: list[bytes] = []
    produced = 0
    pending = raw
    try:
        while True:
            # max_length > 0 always: produced <= size here
            part = d.decompress(pending, min(_INFLATE_STEP, size + 1 - produced))
            produced += len(part)
            if produced > size:
                raise IntegrityError(
                    f"member {sha256[:12]} in {where} inflates to more than the "
                    f"{size} bytes its manifest entry declares",
                    key=where,
                    expected=sha256,
                )
            parts.append(part)
            pending = d.unconsumed_tail
            if d.eof or not pending:
                break
    except zlib.error as exc:
        raise IntegrityError(f"corrupt deflate data in {where}: {exc}", key=where) from None
    return b"".join(parts)


def decode_member(raw: bytes, method: str, size: int, sha256: str, where: str = "chunk") -> bytes:
    """Turn a member's stored bytes into content, verifying size and sha256.

    Deflated members are inflated in bounded steps and never past ``size``
    (docs/format.md, section 5)."""
    if size < 0:
        raise FormatError(f"member {sha256[:12]} in {where} declares a negative size {size}")
    if method == METHOD_DEFLATE:
        data = _inflate(raw, size, sha256, where)
    elif method == METHOD_STORED:
        data = raw
    else:
        raise FormatError(f"unknown member method {method!r} in {where}")
    _check_member(sha256, where, size, len(data), hashlib.sha256(data).hexdigest())
    return data


def _check_member(sha256: str, where: str, size: int, produced: int, actual: str) -> None:
    """Refuse a member whose content has another size or hash than its entry says."""
    if produced != size:
        raise IntegrityError(
            f"member {sha256[:12]} in {where} has {produced} bytes, expected {size}",
            key=where,
            expected=sha256,
        )
    if actual != sha256:
        raise IntegrityError(
            f"member {sha256[:12]} in {where} is corrupt (sha256 mismatch)",
            key=where,
            expected=sha256,
            actual=actual,
        )


def check_member_extent(
    path: str, offset: int, length: int, chunk_size: int, where: str = "chunk"
) -> None:
    """Refuse (:class:`IntegrityError`) a manifest entry whose member reaches past the
    end of its chunk, before any of it is read (docs/format.md, section 5): a forged
    size or offset must not make a reader ask for, or allocate, bytes the chunk lacks."""
    if offset + length > chunk_size:
        raise IntegrityError(
            f"manifest entry {brief_path(path)} asks for bytes {offset}..{offset + length} "
            f"of chunk {where}, which has only {chunk_size} bytes (a corrupt or forged "
            "manifest)",
            key=where,
            path=path,
        )


# Members bigger than this are read, checked and written in pieces of STREAM_PIECE
# bytes instead of whole (see stream_member).
STREAM_FROM = 4 * 1024 * 1024
STREAM_PIECE = 1024 * 1024

RangeReader = Callable[[int, int], bytes]


def stream_member(
    read: RangeReader,
    offset: int,
    length: int,
    method: str,
    size: int,
    sha256: str,
    where: str = "chunk",
) -> Iterator[bytes]:
    """A member's content in pieces of at most :data:`STREAM_PIECE` bytes (deflated
    ones inflated in bounded steps), read with ``read(offset, n)``.

    The size and sha256 are checked after the last piece: the iterator raises
    :class:`IntegrityError` at its end instead of finishing, so a consumer commits
    what it wrote only once the iterator is exhausted.  Memory stays within a piece
    or two whatever the member's size.
    """
    if size < 0:
        raise FormatError(f"member {sha256[:12]} in {where} declares a negative size {size}")
    if method not in (METHOD_STORED, METHOD_DEFLATE):
        raise FormatError(f"unknown member method {method!r} in {where}")
    d = zlib.decompressobj(-15) if method == METHOD_DEFLATE else None
    digest = hashlib.sha256()
    produced = 0
    pos = 0

    def take(part: bytes) -> bytes:
        nonlocal produced
        produced += len(part)
        if produced > size:
            raise IntegrityError(
                f"member {sha256[:12]} in {where} has more than the {size} bytes its "
                "manifest entry declares",
                key=where,
                expected=sha256,
            )
        digest.update(part)
        return part

    try:
        while pos < length:
            raw = read(offset + pos, min(STREAM_PIECE, length - pos))
            if not raw:
                raise IntegrityError(f"chunk {where} is truncated", key=where)
            pos += len(raw)
            if d is None:
                yield take(raw)
                continue
            pending = raw
            while pending:
                part = d.decompress(pending, min(STREAM_PIECE, size + 1 - produced))
                pending = d.unconsumed_tail
                if part:
                    yield take(part)
                if d.eof:
                    break
        if d is not None and not d.eof:
            tail = d.flush()
            if tail:
                yield take(tail)
    except zlib.error as exc:
        raise IntegrityError(f"corrupt deflate data in {where}: {exc}", key=where) from None
    _check_member(sha256, where, size, produced, digest.hexdigest())
