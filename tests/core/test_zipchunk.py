import hashlib
import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitdata.core.zipchunk import ChunkWriter, decode_member
from gitdata.errors import IntegrityError


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@settings(max_examples=40)
@given(
    st.lists(st.binary(max_size=3000), unique=True, max_size=10),
    st.sampled_from(["stored", "deflate"]),
)
def test_members_readable_by_offset_and_by_zipfile(blobs, method):
    buf = io.BytesIO()
    w = ChunkWriter(buf, method)
    infos = [
        w.add_bytes(b, sha(b)) if i % 2 else w.add([b[:7], b[7:]], sha(b), len(b))
        for i, b in enumerate(blobs)
    ]
    w.close()
    raw = buf.getvalue()
    z = zipfile.ZipFile(io.BytesIO(raw))
    assert z.testzip() is None
    for b, info in zip(blobs, infos, strict=True):
        assert (
            decode_member(raw[info.offset : info.offset + info.length], method, len(b), sha(b)) == b
        )
        assert z.read(sha(b)) == b


def test_same_members_same_bytes():
    def build():
        buf = io.BytesIO()
        w = ChunkWriter(buf)
        for b in (b"x", b"yy", b"zzz"):
            w.add_bytes(b, sha(b))
        w.close()
        return buf.getvalue()

    assert build() == build()


def test_zip64_end_record_for_many_members():
    buf = io.BytesIO()
    w = ChunkWriter(buf)
    for i in range(70_000):
        d = str(i).encode()
        w.add_bytes(d, sha(d))
    w.close()
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    assert len(z.namelist()) == 70_000


def test_content_mismatch_refused():
    w = ChunkWriter(io.BytesIO())
    with pytest.raises(IntegrityError):
        w.add_bytes(b"abc", sha(b"abd"))
    w2 = ChunkWriter(io.BytesIO())
    with pytest.raises(IntegrityError):
        w2.add([b"ab", b"c"], sha(b"abd"), 3)


def test_corrupt_member_detected():
    buf = io.BytesIO()
    w = ChunkWriter(buf)
    info = w.add_bytes(b"hello", sha(b"hello"))
    w.close()
    raw = bytearray(buf.getvalue())
    raw[info.offset] ^= 1
    with pytest.raises(IntegrityError):
        decode_member(
            bytes(raw[info.offset : info.offset + info.length]), "stored", 5, sha(b"hello")
        )


def test_deflate_member_stops_at_its_declared_size():
    import hashlib
    import zlib

    from gitdata.core.zipchunk import decode_member
    from gitdata.errors import IntegrityError

    data = b"x" * 1000
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    sha = hashlib.sha256(data).hexdigest()
    assert decode_member(raw, "deflate", 1000, sha) == data
    with pytest.raises(IntegrityError, match="more than the 999 bytes"):
        decode_member(raw, "deflate", 999, sha)
    with pytest.raises(IntegrityError, match="has 1000 bytes, expected 1001"):
        decode_member(raw, "deflate", 1001, sha)
    with pytest.raises(IntegrityError, match="expected 1000"):
        decode_member(raw[: len(raw) // 2], "deflate", 1000, sha)  # truncated stream


@pytest.mark.parametrize("method", ["stored", "deflate"])
def test_the_chunk_hash_is_that_of_the_bytes_written(method):
    buf = io.BytesIO()
    w = ChunkWriter(buf, method)
    for b in (b"a", b"bb" * 5000, b""):
        w.add_bytes(b, sha(b))
    assert w.sha256 is None  # not finished yet
    w.close()
    assert w.sha256 == sha(buf.getvalue())


def test_no_chunk_hash_once_a_streamed_member_header_was_patched():
    buf = io.BytesIO()
    w = ChunkWriter(buf)
    w.add_bytes(b"x", sha(b"x"))
    w.add([b"ab", b"c"], sha(b"abc"), 3)  # its local header is rewritten after the data
    w.close()
    assert w.sha256 is None  # the caller hashes the written file instead


def test_no_chunk_hash_after_a_refused_member():
    buf = io.BytesIO()
    w = ChunkWriter(buf)
    with pytest.raises(IntegrityError):
        w.add([b"abc"], sha(b"other"), 3)
    assert w.sha256 is None


def _streamed(raw: bytes, method: str, size: int, digest: str, piece: int) -> bytes:
    from gitdata.core import zipchunk

    reads: list[int] = []

    def read(offset: int, n: int) -> bytes:
        reads.append(n)
        return raw[offset : offset + n]

    old = zipchunk.STREAM_PIECE
    zipchunk.STREAM_PIECE = piece
    try:
        out = []
        for part in zipchunk.stream_member(read, 0, len(raw), method, size, digest):
            assert len(part) <= piece
            out.append(part)
    finally:
        zipchunk.STREAM_PIECE = old
    assert all(n <= piece for n in reads)
    return b"".join(out)


@settings(max_examples=40)
@given(st.binary(max_size=5000), st.sampled_from(["stored", "deflate"]), st.integers(1, 700))
def test_a_streamed_member_equals_the_decoded_one(data, method, piece):
    buf = io.BytesIO()
    w = ChunkWriter(buf, method)
    info = w.add_bytes(data, sha(data))
    w.close()
    raw = buf.getvalue()[info.offset : info.offset + info.length]
    assert _streamed(raw, method, len(data), sha(data), piece) == data


@pytest.mark.parametrize("method", ["stored", "deflate"])
def test_a_streamed_member_is_checked_at_its_end(method):
    data = bytes(range(256)) * 40
    buf = io.BytesIO()
    w = ChunkWriter(buf, method)
    info = w.add_bytes(data, sha(data))
    w.close()
    raw = bytearray(buf.getvalue()[info.offset : info.offset + info.length])
    with pytest.raises(IntegrityError, match="more than the 100 bytes|expected 100"):
        _streamed(bytes(raw), method, 100, sha(data), 64)  # a forged small size
    raw[len(raw) // 2] ^= 0xFF
    with pytest.raises(IntegrityError, match="corrupt"):
        _streamed(bytes(raw), method, len(data), sha(data), 64)
    with pytest.raises(IntegrityError):
        _streamed(bytes(raw[:10]), method, len(data), sha(data), 64)  # truncated
