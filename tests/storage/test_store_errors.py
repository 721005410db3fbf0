"""Faults a user meets with a cloud store, each mapped to one clear error.

Run against the real local servers (and, for what they cannot produce, against
an HTTP server answering in the cloud's own error format).  Each case checks
the error class (and so the CLI exit code), the message, and that no secret
appears in it.
"""

from __future__ import annotations

import json
import socket

import pytest
from servers.errorserver import CloudErrorServer

from gitdata.errors import (
    BucketNotFoundError,
    InvalidInputError,
    StorageCredentialsError,
    StoragePermissionError,
    StorageThrottledError,
    StorageUnavailableError,
)
from gitdata.storage import object_key, open_store
from tests.conftest import cloud_options, cloud_url, new_bucket

pytestmark = pytest.mark.cloud
KEY = object_key("ab" * 32)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@pytest.fixture(params=["s3", "gcs", "azure"])
def cloud(request, storage_servers) -> str:
    return request.param


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def endpoint_options(cloud: str, endpoint: str, *, secret: str = "x" * 40) -> dict:
    """Options that point a cloud's SDK at ``endpoint`` with the given secret."""
    if cloud == "s3":
        return {"key": "GITDATATESTACCESSKEY", "secret": secret, "endpoint_url": endpoint}
    if cloud == "gcs":
        return {"token": "anon", "endpoint_url": endpoint}
    account = "devstoreaccount1"
    return {
        "connection_string": f"DefaultEndpointsProtocol=http;AccountName={account};"
        f"AccountKey={secret};BlobEndpoint={endpoint}/{account};"
    }


def test_missing_bucket_is_named_and_created_on_request(cloud):
    url = cloud_url(cloud, bucket=f"gd-missing-{cloud}-{id(cloud) % 10**6}")
    store = open_store(url)
    with pytest.raises(BucketNotFoundError) as info:
        store.ensure_initialized()
    assert "does not exist" in info.value.message and "--create-bucket" in info.value.hint
    noun = "container" if cloud == "azure" else "bucket"
    assert info.value.message.startswith(f"{noun} 'gd-missing-")
    assert info.value.exit_code == 3
    store.ensure_initialized(create_bucket=True)
    assert store.exists("gitdata-store.yaml")
    open_store(url).ensure_initialized()  # now simply there


CREDENTIAL_HINT = {
    "s3": "AWS_ACCESS_KEY_ID",
    "gcs": "GOOGLE_APPLICATION_CREDENTIALS",
    "azure": "AZURE_STORAGE_CONNECTION_STRING",
}
ENDPOINT_HINT = {"s3": "AWS_ENDPOINT_URL", "gcs": "STORAGE_EMULATOR_HOST", "azure": "BlobEndpoint"}


def test_wrong_credentials(cloud):
    import os

    if cloud == "gcs":
        # fake-gcs-server checks no credentials: a server answering as GCS does
        # to a bad token stands in for it
        with CloudErrorServer("gcs", 401, "authError") as srv:
            store = open_store("gs://bucket/p", {"token": "anon", "endpoint_url": srv.url})
            with pytest.raises(StorageCredentialsError) as info:
                store.ensure_initialized()
        secret = "never-sent"
    else:
        bucket = new_bucket(cloud)
        secret = "WrOnGsEcReT" * 4 if cloud == "s3" else AZURITE_KEY.replace("Eby8", "Xby8")
        endpoint = {
            "s3": "GD_TEST_S3_ENDPOINT_URL",
            "azure": "GD_TEST_AZURE_BLOB_ENDPOINT",
        }[cloud]
        base = os.environ[endpoint]
        if cloud == "azure":
            base = base.rsplit("/", 1)[0]
        store = open_store(
            cloud_url(cloud, bucket), endpoint_options(cloud, base, secret=secret), retries=0
        )
        with pytest.raises(StorageCredentialsError) as info:
            store.ensure_initialized()
    assert info.value.exit_code == 7
    assert secret not in str(info.value) and secret not in (info.value.hint or "")
    assert "credentials" in info.value.message
    assert CREDENTIAL_HINT[cloud] in info.value.hint


@pytest.mark.parametrize(
    "status,code,expected",
    [
        (401, "authError", StorageCredentialsError),
        (403, "forbidden", StoragePermissionError),
    ],
)
def test_gcs_auth_errors(status, code, expected):
    with CloudErrorServer("gcs", status, code) as srv:
        store = open_store("gs://bucket/p", {"token": "anon", "endpoint_url": srv.url}, retries=0)
        with pytest.raises(expected):
            store.get_bytes(KEY)


def test_endpoint_down(cloud):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    store = open_store(cloud_url(cloud, "gd-nowhere"), endpoint_options(cloud, endpoint), retries=0)
    with pytest.raises(StorageUnavailableError) as info:
        store.ensure_initialized()
    assert info.value.exit_code == 6
    assert "cannot reach store" in info.value.message
    assert ENDPOINT_HINT[cloud] in info.value.hint
    assert "x" * 40 not in str(info.value)


def test_permission_denied_on_write_changes_nothing(cloud, tmp_path):
    """Credentials that may read but not write: reads work, writes fail clearly."""
    bucket = new_bucket(cloud)
    url = cloud_url(cloud, bucket)
    writer = open_store(url)
    writer.ensure_initialized()
    if cloud == "s3":
        import fsspec

        fs = fsspec.filesystem("s3", skip_instance_cache=True, **cloud_options("s3"))
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
        fs.call_s3("put_bucket_policy", Bucket=bucket, Policy=json.dumps(policy))
        reader = open_store(url, retries=0)
    elif cloud == "azure":
        reader = open_store(url, {"connection_string": _read_only_sas(bucket)}, retries=0)
    else:
        srv = CloudErrorServer("gcs", 403, "forbidden", "does not have storage.objects.create")
        with srv:
            reader = open_store(
                f"gs://{bucket}/store", {"token": "anon", "endpoint_url": srv.url}, retries=0
            )
            with pytest.raises(StoragePermissionError) as info:
                reader.put_bytes(KEY, b"data")
        assert info.value.exit_code == 7
        return
    reader.ensure_initialized()  # reading works
    with pytest.raises(StoragePermissionError) as info:
        reader.put_bytes(KEY, b"data")
    assert info.value.exit_code == 7 and "permission denied" in info.value.message
    assert not writer.exists(KEY)


def _read_only_sas(container: str) -> str:
    """A connection string holding a read + list SAS for ``container`` (Azurite)."""
    import datetime as dt
    import os

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        account_name="devstoreaccount1",
        container_name=container,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
    )
    endpoint = os.environ["GD_TEST_AZURE_BLOB_ENDPOINT"]
    return f"BlobEndpoint={endpoint};SharedAccessSignature={sas}"


@pytest.mark.parametrize(
    "cloud_kind,status,code",
    [("s3", 503, "SlowDown"), ("gcs", 429, "rateLimitExceeded"), ("azure", 503, "ServerBusy")],
)
def test_throttling_after_retries(cloud_kind, status, code):
    with CloudErrorServer(cloud_kind, status, code, "please slow down") as srv:
        store = open_store(
            f"{_scheme(cloud_kind)}://gd-busy/p", endpoint_options(cloud_kind, srv.url), retries=0
        )
        with pytest.raises(StorageThrottledError) as info:
            store.get_bytes(KEY)
        assert info.value.exit_code == 6
        assert "throttling" in info.value.message and "every retry" in info.value.message
        assert srv.requests >= 2  # the SDK retried before gd gave up


def _scheme(cloud: str) -> str:
    return {"s3": "s3", "gcs": "gs", "azure": "azure"}[cloud]


def test_azure_without_credentials_says_so(monkeypatch):
    for var in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(StorageCredentialsError) as info:
        open_store("azure://container/p")
    assert info.value.exit_code == 7
    assert "AZURE_STORAGE_CONNECTION_STRING" in info.value.hint


def test_malformed_azure_connection_string_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "not a connection string")
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(InvalidInputError) as info:
        open_store("azure://container/p")
    assert info.value.exit_code == 4
    assert "cannot open store azure://container/p" in info.value.message
    assert "not a connection string" not in str(info.value)
