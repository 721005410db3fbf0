"""Turning a store URL into a Store (fsspec imported lazily)."""

from __future__ import annotations

import os
from typing import Any

from gitdata.errors import InvalidInputError, MissingDependencyError
from gitdata.storage.fsstore import FsspecStore

# scheme -> (fsspec protocol, package, pip extra)
_REMOTE = {
    "s3": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("az", "adlfs", "azure"),
    "azure": ("az", "adlfs", "azure"),
    "abfs": ("az", "adlfs", "azure"),
}


def open_store(url: str, storage_options: dict[str, Any] | None = None) -> FsspecStore:
    """A local path / ``file://`` URL, or ``s3://``, ``gs://``, ``azure://`` URL."""
    if not url or not isinstance(url, str):
        raise InvalidInputError("empty store URL")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _local(os.path.abspath(os.path.expanduser(url)), url)
    scheme = scheme.lower()
    if scheme == "file":
        return _local(os.path.abspath(os.path.expanduser(rest)), url)
    if scheme not in _REMOTE:
        raise InvalidInputError(
            f"unsupported store URL scheme {scheme!r} in {url}",
            hint="use a folder path, file://, s3://, gs:// or azure://",
        )
    protocol, package, extra = _REMOTE[scheme]
    if scheme == "gs" or scheme == "gcs":
        # gcsfs probes a metadata server unless told otherwise (see docs/storage.md).
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    import fsspec

    try:
        fs = fsspec.filesystem(protocol, **(storage_options or {}))
    except ImportError:
        raise MissingDependencyError(
            f"{url} needs the {package} package",
            package=package,
            hint=f"pip install 'gitdata[{extra}]'",
        ) from None
    root = rest.strip("/")
    if not root:
        raise InvalidInputError(f"store URL {url} names no bucket or container")
    return FsspecStore(fs, root, url)


def _local(path: str, url: str) -> FsspecStore:
    from fsspec.implementations.local import LocalFileSystem

    return FsspecStore(LocalFileSystem(), path.rstrip("/") or "/", url)
