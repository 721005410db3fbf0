"""Network faults between gd and each cloud store, through a TCP fault proxy.

- an upload cut half-way fails cleanly, resumes without resending what landed,
  and the closed version is byte-identical;
- a get cut half-way leaves nothing under a final name, keeps what it verified,
  and the next get fetches only the rest;
- a server killed and restarted mid-upload loses nothing that was closed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from servers.faultproxy import FaultProxy

from gitdata import Dataset
from gitdata.errors import StorageUnavailableError
from gitdata.ops.context import Context
from tests.conftest import cloud_url, make_tree, new_bucket, read_tree

pytestmark = [pytest.mark.cloud, pytest.mark.slow]
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_AUTOSAVE_S = 5


@pytest.fixture(params=["s3", "gcs", "azure"])
def cloud(request, storage_servers) -> str:
    return request.param


def upstream_port(cloud: str) -> int:
    return int(os.environ[f"GD_TEST_{cloud.upper()}_PORT"])


def route_through(proxy: FaultProxy, cloud: str, monkeypatch) -> None:
    """Point the cloud's own endpoint variable at the proxy (as a user would)."""
    if cloud == "s3":
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    elif cloud == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    else:
        conn = os.environ["GD_TEST_AZURE_CONNECTION_STRING"]
        direct = os.environ["GD_TEST_AZURE_BLOB_ENDPOINT"]
        monkeypatch.setenv(
            "AZURE_STORAGE_CONNECTION_STRING",
            conn.replace(direct, f"{proxy.url}/{AZURITE_ACCOUNT}"),
        )


@pytest.fixture
def proxied(cloud, monkeypatch, tmp_path):
    """(proxy, source folder) with GD_STORAGE on a fresh bucket reached through the proxy."""
    with FaultProxy("127.0.0.1", upstream_port(cloud)) as proxy:
        route_through(proxy, cloud, monkeypatch)
        monkeypatch.setenv("GD_STORAGE", cloud_url(cloud, new_bucket(cloud)))
        monkeypatch.setenv("GD_RETRIES", "0")  # the SDKs retry underneath already
        src = make_tree(
            tmp_path / "src", {f"part-{i:02d}.bin": os.urandom(700_000) for i in range(12)}
        )
        yield proxy, src


def test_upload_cut_half_way_resumes_byte_identical(proxied, tmp_path):
    proxy, src = proxied
    ds = Dataset.create(dataset_project="faults", dataset_name="upload")
    ds.add_files(src)
    total = sum(p.stat().st_size for p in src.iterdir())
    proxy.reset_counters()
    proxy.cut_after(up=total // 2)
    with pytest.raises(StorageUnavailableError):
        ds.upload(chunk_size=1, max_workers=2)  # 1 MB chunks: a dozen objects
    assert proxy.cut_event.is_set()
    proxy.heal()
    proxy.reset_counters()
    ds.upload(chunk_size=1, max_workers=2)
    assert proxy.bytes_up < total * 0.8  # what had landed was not sent again
    ds.finalize()

    Context().cache.clear()
    out = tmp_path / "out"
    Dataset.get(dataset_id=ds.id).get_mutable_local_copy(str(out))
    assert read_tree(out) == read_tree(src)


def test_get_cut_half_way_leaves_no_partial_and_resumes(proxied, tmp_path):
    proxy, src = proxied
    ds = Dataset.create(dataset_project="faults", dataset_name="get")
    ds.add_files(src)
    ds.upload(chunk_size=1)
    ds.finalize()
    Context().cache.clear()
    total = sum(p.stat().st_size for p in src.iterdir())

    target = tmp_path / "copy"
    proxy.reset_counters()
    proxy.cut_after(down=total // 2)
    with pytest.raises(StorageUnavailableError):
        Dataset.get(dataset_id=ds.id).get_mutable_local_copy(str(target), max_workers=2)
    assert not target.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".copy")]
    assert not list(Path(Context().settings.cache_dir).rglob("*.part"))
    proxy.heal()
    proxy.reset_counters()
    Dataset.get(dataset_id=ds.id).get_mutable_local_copy(str(target), max_workers=2)
    assert read_tree(target) == read_tree(src)
    assert proxy.bytes_down < total * 0.9  # verified content was kept, not fetched again


def test_server_killed_mid_upload_loses_nothing_closed(proxied, cloud, tmp_path):
    from servers import manage

    proxy, src = proxied
    root = Path(os.environ["GD_TEST_SERVERS_DIR"])
    closed = Dataset.create(dataset_project="faults", dataset_name="closed")
    closed.add_files(src)
    closed.finalize(auto_upload=True)
    if cloud == "azure":
        # Azurite acknowledges a write before saving its metadata (LokiJS autosave,
        # every 5 s); real Azure only acknowledges durable writes. Let the emulator
        # catch up so its own window is not counted as gd losing data.
        time.sleep(AZURITE_AUTOSAVE_S + 1)

    more = make_tree(tmp_path / "more", {f"big-{i}.bin": os.urandom(1_500_000) for i in range(8)})
    ds = Dataset.create(
        dataset_project="faults", dataset_name="killed", parent_datasets=[closed.id]
    )
    ds.add_files(more)
    proxy.bandwidth = 4_000_000  # slow enough to be killed half-way
    proxy.reset_counters()

    def kill_half_way() -> None:
        while proxy.bytes_up < 4_000_000:
            threading.Event().wait(0.02)
        manage.kill(root, cloud)

    killer = threading.Thread(target=kill_half_way, daemon=True)
    killer.start()
    try:
        with pytest.raises(StorageUnavailableError):
            ds.upload(chunk_size=1, max_workers=2)
    finally:
        killer.join(timeout=120)
        manage.relaunch(root, cloud)
        proxy.bandwidth = None

    # the closed version is intact, byte for byte
    Context().cache.clear()
    assert Dataset.get(dataset_id=closed.id).verify_dataset_hash() == []
    out = tmp_path / "closed-out"
    Dataset.get(dataset_id=closed.id).get_mutable_local_copy(str(out))
    assert read_tree(out) == read_tree(src)
    # and the interrupted draft finishes where it stopped
    ds.upload(chunk_size=1, max_workers=2)
    ds.finalize()
    Context().cache.clear()
    out2 = tmp_path / "killed-out"
    Dataset.get(dataset_id=ds.id).get_mutable_local_copy(str(out2))
    assert read_tree(out2) == {**read_tree(src), **read_tree(more)}
