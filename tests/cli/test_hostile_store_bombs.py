"""A hostile store's deflate or gzip bomb is refused with bounded memory: a chunk
member never inflates past the size its manifest entry declares, and a manifest
never decompresses past the manifest size limit (docs/format.md, sections 4-5)."""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
import zlib
from pathlib import Path

import pytest

from gitdata.core import manifest as manifest_module
from gitdata.core.manifest import FileEntry, Manifest
from tests.conftest import make_tree

BOMB = 256 * 1024 * 1024  # what each bomb expands to
PEAK_LIMIT = 48 * 1024 * 1024  # what reading it may cost at most


def _bomb(wbits: int) -> bytes:
    """BOMB zero bytes, compressed (raw deflate for -15, gzip for 31)."""
    c = zlib.compressobj(1, zlib.DEFLATED, wbits)
    block = bytes(16 * 1024 * 1024)
    return b"".join(c.compress(block) for _ in range(BOMB // len(block))) + c.flush()


@pytest.fixture(scope="module")
def deflate_bomb() -> bytes:
    return _bomb(-15)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return _bomb(31)


def _put_object(store: Path, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = store / "objects" / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


def _closed_version(gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    store = tmp_path / "store"
    monkeypatch.setenv("GD_STORAGE", str(store))
    src = make_tree(tmp_path / "src", {"a.txt": "abc"})
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return store, did


def _point_record_at(store: Path, did: str, manifest_sha: str) -> None:
    record = store / "versions" / f"{did}.yaml"
    lines = [
        f"manifest: {manifest_sha}" if line.startswith("manifest:") else line
        for line in record.read_text().splitlines()
    ]
    record.write_text("\n".join(lines) + "\n")


def _peak_while(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("command", ["get", "cat"])
def test_deflate_bomb_in_a_chunk_is_refused_with_bounded_memory(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deflate_bomb: bytes, command: str
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    chunk = _put_object(store, deflate_bomb)
    entry = FileEntry(
        "a.txt", 3, hashlib.sha256(b"abc").hexdigest(), chunk, 0, len(deflate_bomb), "deflate"
    )
    _point_record_at(store, did, _put_object(store, Manifest([entry]).encode()))
    args = ["get", "--id", did] if command == "get" else ["cat", "--id", did, "a.txt"]
    result = {}
    peak = _peak_while(lambda: result.setdefault("r", gd(*args, ok=False)))
    r = result["r"]
    assert r.exit_code == 5, (r.stdout, r.stderr, r.exception)
    assert "more than the 3 bytes its manifest entry declares" in r.stderr
    assert peak < PEAK_LIMIT, f"reading the bomb cost {peak} bytes"


def test_gzip_bomb_as_a_manifest_is_refused_with_bounded_memory(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gzip_bomb: bytes
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    _point_record_at(store, did, _put_object(store, gzip_bomb))
    # the real limit is 1 GiB; a smaller one keeps the test light, same code path
    monkeypatch.setattr(manifest_module, "MAX_MANIFEST_JSON", 16 * 1024 * 1024)
    result = {}
    peak = _peak_while(lambda: result.setdefault("r", gd("list", "--id", did, ok=False)))
    r = result["r"]
    assert r.exit_code == 5, (r.stdout, r.stderr, r.exception)
    assert "decompresses to more than" in r.stderr and "size limit" in r.stderr
    assert peak < PEAK_LIMIT, f"reading the bomb cost {peak} bytes"
