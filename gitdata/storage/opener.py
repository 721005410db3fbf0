"""Turning a store URL into a Store (fsspec and the cloud backends imported lazily).

Credentials and endpoints come from where each cloud's own tools look for them
(see docs/storage.md); ``storage_options`` from config are passed to fsspec on
top of the few defaults set here.
"""

from __future__ import annotations

import os
from typing import Any

from gitdata.errors import (
    InvalidInputError,
    MissingDependencyError,
    StorageCredentialsError,
    mask_credentials,
)
from gitdata.storage.faults import CREDENTIALS, classify, redact, secret_values
from gitdata.storage.fsstore import FsspecStore, credential_hint
from gitdata.storage.transfer import DEFAULT_RETRIES

# scheme -> (fsspec protocol, package, pip extra)
_REMOTE = {
    "s3": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("az", "adlfs", "azure"),
    "azure": ("az", "adlfs", "azure"),
    "abfs": ("az", "adlfs", "azure"),
}


def store_protocol(url: str) -> str:
    """``file``, ``s3``, ``gcs`` or ``az`` for a store URL (no I/O, no imports)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() == "file":
        return "file"
    entry = _REMOTE.get(scheme.lower())
    return entry[0] if entry else scheme.lower()


def store_identity(url: str) -> str:
    """One spelling per store (no I/O): local paths absolute, ``file://`` dropped, the
    scheme's protocol name, no trailing slash.  Keys local caches of store content."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() == "file":
        local = rest if sep else url
        return os.path.abspath(os.path.expanduser(local)).rstrip("/") or "/"
    return f"{store_protocol(url)}://{rest.rstrip('/')}"


def open_store(
    url: str,
    storage_options: dict[str, Any] | None = None,
    *,
    retries: int = DEFAULT_RETRIES,
) -> FsspecStore:
    """A local path / ``file://`` URL, or an ``s3://``, ``gs://``, ``azure://`` URL."""
    if not url or not isinstance(url, str):
        raise InvalidInputError("empty store URL")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _local(os.path.abspath(os.path.expanduser(url)), url, retries)
    scheme = scheme.lower()
    if scheme == "file":
        return _local(os.path.abspath(os.path.expanduser(rest)), url, retries)
    if scheme not in _REMOTE:
        raise InvalidInputError(
            f"unsupported store URL scheme {scheme!r} in {url}",
            hint="use a folder path, file://, s3://, gs:// or azure://",
        )
    root = rest.strip("/")
    if not root:
        raise InvalidInputError(f"store URL {url} names no bucket or container")
    protocol, package, extra = _REMOTE[scheme]
    if mask_credentials(url) != url:
        # s3fs / adlfs would take them for part of the bucket or the prefix, and the
        # URL would end up in pointers and local state: refuse before any request.
        raise InvalidInputError(
            f"store URL {url} carries credentials (a password, token or query string); "
            "gd never reads them from a URL",
            hint=f"remove them from the URL; {credential_hint(protocol)}",
        )
    options = backend_options(protocol, storage_options or {})
    import fsspec

    try:
        fs = fsspec.filesystem(protocol, **options)
    except ImportError:
        raise MissingDependencyError(
            f"{url} needs the {package} package",
            package=package,
            hint=f"pip install 'gitdata[{extra}]'",
        ) from None
    except Exception as exc:  # the SDK refused its settings before any request
        raise _open_failed(url, protocol, exc, options) from exc
    if protocol == "az":
        _shorten_azure_backoff(fs)
    return FsspecStore(fs, root, url, retries=retries, secrets=secret_values(options))


def _open_failed(url: str, protocol: str, exc: Exception, options: dict[str, Any]) -> Exception:
    """The error for a filesystem its SDK would not even build (adlfs without an
    account or key, a malformed connection string or credentials file)."""
    fault = classify(exc)
    reason = redact(fault.reason, secret_values(options))
    hint = credential_hint(protocol)
    if fault.kind == CREDENTIALS or "credential" in reason.lower():
        return StorageCredentialsError(
            f"store {url} has no usable credentials: {reason}", hint=hint
        )
    return InvalidInputError(f"cannot open store {url}: {reason}", hint=hint)


def _shorten_azure_backoff(fs: Any) -> None:
    """Azure's SDK waits 15 s, 18 s, 24 s between attempts (84 s to report a dead
    endpoint); gd retries on its own, so the SDK gets two quick retries.  adlfs
    offers no option for this: the policy object is adjusted where it is."""
    policy = getattr(
        getattr(getattr(fs, "service_client", None), "_config", None), "retry_policy", None
    )
    for attr, value in (
        ("initial_backoff", 1),
        ("increment_base", 2),
        ("total_retries", 2),
        ("connect_retries", 2),
        ("read_retries", 2),
        ("status_retries", 2),
    ):
        if isinstance(getattr(policy, attr, None), (int, float)):
            setattr(policy, attr, value)


def backend_options(protocol: str, user_options: dict[str, Any]) -> dict[str, Any]:
    """fsspec options for ``protocol``: gd's defaults, then the user's on top."""
    env = os.environ
    # gd lists what it needs itself; a listings cache would only go stale.  A new
    # instance per store: fsspec's instance cache ignores the environment, so a
    # changed AWS_ENDPOINT_URL or credential would otherwise be missed in-process.
    options: dict[str, Any] = {"use_listings_cache": False, "skip_instance_cache": True}
    if protocol == "gcs":
        # Read by gcsfs at import: without it gcsfs 2026.x probes gRPC per bucket.
        env.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        if env.get("STORAGE_EMULATOR_HOST"):
            # An emulator takes no credentials; do not let google-auth go looking.
            env.setdefault("NO_GCE_CHECK", "true")
            options["token"] = "anon"
    elif protocol == "az":
        # The Azure CLI's variable names, when adlfs's own are not set.
        if env.get("AZURE_STORAGE_ACCOUNT") and not env.get("AZURE_STORAGE_ACCOUNT_NAME"):
            options["account_name"] = env["AZURE_STORAGE_ACCOUNT"]
        if env.get("AZURE_STORAGE_KEY") and not env.get("AZURE_STORAGE_ACCOUNT_KEY"):
            options["account_key"] = env["AZURE_STORAGE_KEY"]
    options.update(user_options)
    return options


def _local(path: str, url: str, retries: int) -> FsspecStore:
    from gitdata.storage.localfs import LazyLocalFileSystem

    return FsspecStore(LazyLocalFileSystem(), path.rstrip("/") or "/", url, retries=retries)
