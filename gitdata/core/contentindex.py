"""Store content index objects (docs/format.md §14): the pure part.

An index object lists, for contents stored in chunks, where each one sits:
content sha256 -> (size, chunk, offset, length, method).  Index objects are
immutable, named by the sha256 of their bytes under ``index/``, and only ever
hints: a writer confirms a hit's chunk exists before it references it.  This
module encodes and decodes them; it does no I/O.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from gitdata.errors import FormatError

INDEX_PREFIX = "index/"
INDEX_HEADER = b"gitdata-index 1\n"
# at most this many entries per object, and this many decompressed bytes: a line is
# at most 64+1+18+1+64+1+18+1+18+1+7+1 bytes, so 2^16 lines always fit in 16 MiB
MAX_ENTRIES = 65536
MAX_INDEX_BYTES = 16 * 1024 * 1024
_METHODS = ("stored", "deflate")
_DEFLATE_RATIO = 1032  # DEFLATE cannot expand more (docs/format.md §4)
_KEY = re.compile(r"index/([0-9a-f]{64})")
_LINE = re.compile(
    rb"([0-9a-f]{64}) (0|[1-9][0-9]{0,17}) ([0-9a-f]{64}) (0|[1-9][0-9]{0,17}) "
    rb"(0|[1-9][0-9]{0,17}) (stored|deflate)"
)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where one content lives: its size, and chunk, offset, length, method."""

    sha256: str
    size: int
    chunk: str
    offset: int
    length: int
    method: str = "stored"

    def plausible(self) -> bool:
        """The entry obeys the manifest's rules for a stored member (§4)."""
        if self.method == "stored":
            return self.length == self.size
        return self.method == "deflate" and self.size <= _DEFLATE_RATIO * self.length


def index_key_sha(key: str) -> str | None:
    """The sha256 an ``index/<sha256>`` key names; None for any other key."""
    m = _KEY.fullmatch(key)
    return m[1] if m else None


def index_key(sha256: str) -> str:
    """``index/<sha256>``."""
    return f"{INDEX_PREFIX}{sha256}"


def encode_index(entries: Iterable[IndexEntry]) -> Iterator[bytes]:
    """The index objects holding ``entries``, one at a time (at most
    :data:`MAX_ENTRIES` each); none for no entries.

    ``entries`` must come sorted by sha256 (gc streams them from sqlite); a
    repeated content keeps its first entry.
    """
    batch: list[bytes] = []
    last = ""
    for e in entries:
        if e.sha256 == last:
            continue  # one entry per content
        if e.sha256 < last:
            raise ValueError("index entries must be sorted by sha256")
        last = e.sha256
        batch.append(
            f"{e.sha256} {e.size} {e.chunk} {e.offset} {e.length} {e.method}\n".encode("ascii")
        )
        if len(batch) == MAX_ENTRIES:
            yield _gzip(batch)
            batch = []
    if batch:
        yield _gzip(batch)


def _gzip(lines: list[bytes]) -> bytes:
    buf = io.BytesIO()
    # level 1, as manifests: the sha256 columns do not compress, the chunk columns
    # repeat line after line; level 6 took 2.3x as long for a 5 % smaller object
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0, filename="") as gz:
        gz.write(INDEX_HEADER)
        gz.write(b"".join(lines))
    return buf.getvalue()


def decode_index(key: str, data: bytes) -> list[IndexEntry]:
    """The entries of the index object ``key``; :class:`FormatError` for an object
    that breaks any rule of §14 (a reader then ignores the whole object)."""
    sha = index_key_sha(key)
    if sha is None or hashlib.sha256(data).hexdigest() != sha:
        raise FormatError(f"index object {key} does not match its name", file=key)
    text = _gunzip(data, key)
    if not text.startswith(INDEX_HEADER) or not text.endswith(b"\n"):
        raise FormatError(f"index object {key} has no gitdata-index 1 header", file=key)
    out: list[IndexEntry] = []
    last = b""
    body = text[len(INDEX_HEADER) :]
    for line in body.split(b"\n")[:-1]:
        m = _LINE.fullmatch(line)
        if m is None or m[1] <= last or len(out) >= MAX_ENTRIES:
            raise FormatError(f"index object {key} has a malformed entry", file=key)
        last = m[1]
        entry = IndexEntry(
            m[1].decode(), int(m[2]), m[3].decode(), int(m[4]), int(m[5]), m[6].decode()
        )
        if not entry.plausible():
            raise FormatError(f"index object {key} has an impossible entry", file=key)
        out.append(entry)
    return out


def _gunzip(data: bytes, key: str) -> bytes:
    """One gzip member decoded in bounded steps, refused past :data:`MAX_INDEX_BYTES`."""
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(data, MAX_INDEX_BYTES + 1)
        if len(out) > MAX_INDEX_BYTES or not d.eof or d.unused_data:
            raise FormatError(f"index object {key} is too large or truncated", file=key)
    except zlib.error:
        raise FormatError(f"index object {key} is not valid gzip", file=key) from None
    return out
