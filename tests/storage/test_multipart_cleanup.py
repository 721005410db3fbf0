"""Uploads a killed process left behind are cleaned up: multipart uploads (S3),
temp files in a folder store's tmp/."""

from __future__ import annotations

import fsspec
import pytest

from gitdata.storage import open_store
from tests.conftest import cloud_options, cloud_url, new_bucket

pytestmark = pytest.mark.cloud


def test_stale_multipart_uploads_are_aborted(storage_servers):
    bucket = new_bucket("s3")
    store = open_store(cloud_url("s3", bucket, "team/store"))
    store.ensure_initialized()
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **cloud_options("s3"))
    # what a gd killed half-way through a large chunk leaves: an upload with one part
    key = "team/store/objects/ab/" + "ab" * 32
    upload = fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    fs.call_s3(
        "upload_part",
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * (5 * 1024 * 1024),
    )
    other = fs.call_s3("create_multipart_upload", Bucket=bucket, Key="elsewhere/obj")

    def pending() -> list[str]:
        return [
            u["Key"] for u in fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
        ]

    assert store.abort_stale_uploads(3600) == 0  # too young: maybe still running
    assert sorted(pending()) == ["elsewhere/obj", key]
    assert store.abort_stale_uploads(0) == 1
    assert pending() == ["elsewhere/obj"]  # outside the store's prefix: not ours
    assert not store.exists("objects/ab/" + "ab" * 32)
    fs.call_s3(
        "abort_multipart_upload", Bucket=bucket, Key="elsewhere/obj", UploadId=other["UploadId"]
    )


def test_local_store_removes_stale_staging_files(tmp_path):
    """What a gd killed while publishing into a folder store leaves in its tmp/."""
    import os
    import time

    store = open_store(str(tmp_path / "s"))
    store.ensure_initialized()
    assert store.abort_stale_uploads(0) == 0
    staging = tmp_path / "s" / "tmp"
    staging.mkdir(exist_ok=True)
    old = staging / "chunk-abandoned.zip"
    old.write_bytes(b"half a chunk")
    day_ago = time.time() - 86400
    os.utime(old, (day_ago, day_ago))
    fresh = staging / "chunk-in-progress.zip"
    fresh.write_bytes(b"being written")
    store.put_bytes("objects/ab/" + "ab" * 32, b"kept")
    assert store.abort_stale_uploads(3600) == 1
    assert not old.exists() and fresh.exists()  # a running upload's file is left alone
    assert store.get_bytes("objects/ab/" + "ab" * 32) == b"kept"
