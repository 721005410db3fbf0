"""One conformance suite for every store kind (restic-style backend tests).

Every test taking ``store`` runs on a local folder and on the local S3 (Ceph
RGW), GCS (fake-gcs-server) and Azure (Azurite) servers.  After each, the
independent spec reader (tests/spec_reader.py) reads the store it leaves and must
agree with gd about every closed version (tests/storage/spec_check.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from spec_reader import SpecError, read_store

from gitdata import Dataset
from gitdata.errors import (
    FormatError,
    InvalidInputError,
    MissingDependencyError,
    ObjectNotFoundError,
    StorageUnavailableError,
)
from gitdata.storage import object_key, open_store, run_parallel, version_key
from gitdata.storage.transfer import is_transient, with_retries
from tests.conftest import make_tree
from tests.storage.spec_check import spec_reader_agrees_with_gd


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(store_url: str, tmp_path: Path):
    s = open_store(store_url)
    s.ensure_initialized()
    yield s
    # whatever the test left, the spec reader reads it as gd does
    spec_reader_agrees_with_gd(s, tmp_path / "spec-mirror-after")


def test_closed_versions_are_read_by_the_spec_reader(store, tmp_path: Path):
    files = {"a/b.txt": "b", "deflated.bin": bytes(5000), "empty": b"", "z y.txt": "z"}
    src = make_tree(tmp_path / "src", files)
    parent = Dataset.create(dataset_project="spec", dataset_name="check", output_uri=store.url)
    parent.add_files(src)
    parent.upload(compression="deflate")
    parent.finalize()
    child = Dataset.create(
        dataset_project="spec", dataset_name="check", parent_datasets=[parent.id]
    )
    (src / "a/b.txt").write_text("b2")
    (src / "empty").unlink()
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert spec_reader_agrees_with_gd(store, tmp_path / "spec-mirror") == 2


def test_round_trip_bytes_and_range(store):
    data = bytes(range(256)) * 10
    key = object_key(sha(data))
    assert store.put_bytes(key, data) is True
    assert store.get_bytes(key) == data
    assert store.get_range(key, 10, 20) == data[10:30]
    assert store.get_range(key, 0, 0) == b""
    assert store.size(key) == len(data)
    assert store.exists(key)


def test_round_trip_file(store, tmp_path: Path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    key = object_key(sha(src.read_bytes()))
    assert store.put_file(key, src) is True
    out = tmp_path / "out.bin"
    store.get_file(key, out)
    assert out.read_bytes() == src.read_bytes()
    assert not list(tmp_path.glob(".out.bin.*"))  # no temp left behind


def test_put_is_idempotent_and_never_overwrites(store):
    key = object_key(sha(b"one"))
    assert store.put_bytes(key, b"one")
    assert store.put_bytes(key, b"two") is False
    assert store.get_bytes(key) == b"one"


def test_exists_many_and_list(store):
    keys = []
    for i in range(30):
        data = str(i).encode()
        keys.append(object_key(sha(data)))
        store.put_bytes(keys[-1], data)
    missing = object_key(sha(b"missing"))
    assert store.exists_many([*keys, missing]) == set(keys)
    listed = store.list("objects/")
    assert set(listed) == set(keys)
    assert store.list("versions/") == []
    assert "gitdata-store.yaml" in store.list("")


def test_concurrent_writers_of_same_object(store):
    data = b"same content" * 1000
    key = object_key(sha(data))
    errors = []

    def put():
        try:
            store.put_bytes(key, data)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.get_bytes(key) == data


def test_missing_key_maps_to_object_not_found(store, tmp_path: Path):
    key = object_key("0" * 64)
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes(key)
    with pytest.raises(LookupError):
        store.get_range(key, 0, 1)
    with pytest.raises(ObjectNotFoundError):
        store.get_file(key, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    store.delete(key)  # deleting a missing key is fine


def test_get_file_interrupted_leaves_no_partial(store, tmp_path: Path, monkeypatch):
    data = b"y" * 1000
    key = object_key(sha(data))
    store.put_bytes(key, data)

    def broken(src, dst, *a, **k):
        Path(dst).write_bytes(b"partial")
        raise OSError(5, "I/O error")

    out = tmp_path / "out"
    out.mkdir()
    with monkeypatch.context() as patch:  # undone before the store fixture's spec check
        if store.is_local:
            import shutil

            patch.setattr(shutil, "copyfile", broken)
        else:
            patch.setattr(store.fs, "get_file", broken)
        with pytest.raises(StorageUnavailableError):
            store.get_file(key, out / "final.bin")
    assert list(out.iterdir()) == []  # neither the final name nor a temp file


def test_binary_empty_and_large_objects(store, tmp_path: Path):
    payloads = [
        b"",
        bytes(range(256)) * 4,
        b"line\r\nline\n\x00\x00tail\r",
        b"--boundary\r\nContent-Type: text/plain\r\n\r\nx\r\n--boundary--\r\n",
        os.urandom(12 * 1024 * 1024 + 7),  # above every backend's single-request block size
    ]
    for data in payloads:
        key = object_key(sha(data))
        assert store.put_bytes(key, data)
        assert store.size(key) == len(data)
        assert store.get_bytes(key) == data
        src = tmp_path / "src"
        src.write_bytes(data + b"!")
        fkey = object_key(sha(data + b"!"))
        assert store.put_file(fkey, src)
        store.get_file(fkey, tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == data + b"!"


def test_ranged_reads_at_the_edges(store):
    data = os.urandom(3 * 1024 * 1024 + 11)
    key = object_key(sha(data))
    store.put_bytes(key, data)
    n = len(data)
    for start, length in [(0, 1), (n - 1, 1), (n - 100, 100), (1024 * 1024 - 3, 7), (5, n - 5)]:
        assert store.get_range(key, start, length) == data[start : start + length]
    with pytest.raises(StorageUnavailableError, match="short read"):
        store.get_range(key, n - 10, 20)


def test_list_info_sizes_and_times(store):
    import time

    before = time.time() - 300  # server clocks may differ a little
    keys = {}
    for i in range(5):
        data = os.urandom(100 + i)
        keys[object_key(sha(data))] = len(data)
        store.put_bytes(object_key(sha(data)), data)
    info = {k: (size, mtime) for k, size, mtime in store.list_info("objects/")}
    assert {k: size for k, (size, _) in info.items()} == keys
    assert all(before < mtime < time.time() + 300 for _, mtime in info.values())
    assert store.list_info("versions/") == []


def test_interrupted_batch_resumes_without_reupload(store):
    blobs = [os.urandom(1000 + i) for i in range(12)]
    keys = [object_key(sha(b)) for b in blobs]

    def put(i: int) -> bool:
        if i == 7:
            raise KeyboardInterrupt  # the user pressed Ctrl-C half-way
        return store.put_bytes(keys[i], blobs[i])

    with pytest.raises(KeyboardInterrupt):
        run_parallel(put, list(range(12)), 1)
    assert store.exists_many(keys) == set(keys[:7])
    again = run_parallel(lambda i: store.put_bytes(keys[i], blobs[i]), list(range(12)), 4)
    assert again == [False] * 7 + [True] * 5
    assert all(store.get_bytes(k) == b for k, b in zip(keys, blobs, strict=True))


def test_unreachable_store(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    s = open_store(str(blocker / "store"))
    with pytest.raises(StorageUnavailableError):
        s.ensure_initialized()
    with pytest.raises(ConnectionError):
        s.ensure_initialized()


def test_marker_written_and_unknown_format_refused(tmp_path: Path):
    root = tmp_path / "store"
    s = open_store(str(root))
    s.ensure_initialized()
    assert "format: 1" in (root / "gitdata-store.yaml").read_text()
    marker = root / "gitdata-store.yaml"
    marker.chmod(0o644)
    marker.write_text("format: 7\nlayout: gitdata\n")
    with pytest.raises(FormatError) as info:
        open_store(str(root)).ensure_initialized()
    assert info.value.hint == "upgrade gd"
    with pytest.raises(SpecError, match="unknown store marker"):
        read_store(root)  # the spec reader refuses it too


def test_open_store_urls(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert open_store("~/x").root == str(tmp_path / "x")
    assert open_store(f"file://{tmp_path}/y").root == str(tmp_path / "y")
    assert open_store("rel").is_local
    with pytest.raises(InvalidInputError):
        open_store("ftp://host/x")
    try:
        import s3fs  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError) as info:
            open_store("s3://bucket/prefix")
        assert "gitdata[s3]" in info.value.hint


def test_key_validation():
    with pytest.raises(InvalidInputError):
        object_key("../../etc/passwd")
    with pytest.raises(InvalidInputError):
        version_key("xyz")
    assert object_key("a" * 64) == f"objects/aa/{'a' * 64}"


def test_run_parallel_order_and_errors():
    assert run_parallel(lambda x: x * 2, list(range(50)), 4) == [x * 2 for x in range(50)]
    assert run_parallel(lambda x: x, [], 4) == []

    def boom(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        run_parallel(boom, list(range(20)), 3)
    with pytest.raises(ValueError):
        run_parallel(boom, list(range(20)), 1)


def test_retries_only_transient_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset")
        return "ok"

    assert with_retries(flaky, base_delay=0.001) == "ok" and len(calls) == 3
    assert not is_transient(FileNotFoundError())
    assert not is_transient(PermissionError())

    def perm():
        calls.append(1)
        raise PermissionError("no")

    calls.clear()
    with pytest.raises(PermissionError):
        with_retries(perm, base_delay=0.001)
    assert len(calls) == 1
