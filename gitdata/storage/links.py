"""External files (links): objects read where they are, never copied into a store.

A link URL is ``file://``, ``s3://``, ``gs://``, ``azure://`` (opened as a store
URL is, so credentials and endpoints come from the same places) or
``http(s)://`` (fsspec's HTTP filesystem, which needs aiohttp; single files only:
an index page is no listing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gitdata.core.manifest import is_link_url
from gitdata.errors import (
    ExternalFileNotFoundError,
    GitDataError,
    InvalidInputError,
    MissingDependencyError,
    StorageUnavailableError,
    mask_credentials,
)
from gitdata.storage.faults import NOT_FOUND, classify
from gitdata.storage.opener import open_store

_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """One object found at a link URL: its own URL, its path below the URL given, size, ETag."""

    url: str
    rel: str
    size: int
    etag: str | None


def check_link_url(url: str) -> str:
    """``url`` without a trailing ``/``; :class:`InvalidInputError` unless it is a link URL."""
    if not isinstance(url, str) or not is_link_url(url.rstrip("/") or url):
        raise InvalidInputError(
            f"not an external file URL: {url!r}",
            hint="give file://, s3://, gs://, azure://, http:// or https:// URLs",
        )
    if mask_credentials(url) != url:
        raise InvalidInputError(
            f"link URL {url} carries credentials; gd never records them",
            hint="remove them from the URL; give credentials as for a store (docs/storage.md)",
        )
    if url.partition("://")[0].lower() in ("http", "https") and url.endswith("/"):
        raise InvalidInputError(
            f"link URL {url} names a folder; over http(s) gd links single files only",
            hint="give each file's URL (an http folder has no listing gd can trust)",
        )
    return url.rstrip("/")


def _open(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, its path for ``url``)."""
    scheme = url.partition("://")[0].lower()
    if scheme in ("http", "https"):
        import fsspec

        try:
            return fsspec.filesystem("http"), url
        except ImportError:
            raise MissingDependencyError(
                f"{url} needs the aiohttp package", package="aiohttp", hint="pip install aiohttp"
            ) from None
    store = open_store(url)
    return store.fs, store.root


def _failed(url: str, exc: BaseException) -> GitDataError:
    if isinstance(exc, GitDataError):
        return exc
    fault = classify(exc)
    if isinstance(exc, FileNotFoundError) or fault.kind == NOT_FOUND:
        return ExternalFileNotFoundError(f"external file {url} does not exist", url=url)
    return StorageUnavailableError(
        f"cannot read external file {url}: {fault.reason}",
        url=url,
        hint="check the URL, the network and the credentials",
    )


def _etag(info: dict[str, Any]) -> str | None:
    for key in ("ETag", "etag", "Etag"):
        value = info.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def list_objects(
    url: str, *, recursive: bool = True, patterns: list[str] | None = None
) -> list[RemoteObject]:
    """The object ``url`` names, or every object below it when it is a folder (prefix),
    sorted by path; ``patterns`` filter on the object's name."""
    from gitdata.core.paths import match_pattern

    url = check_link_url(url)
    try:
        fs, root = _open(url)
        info = fs.info(root)
        if info.get("type") != "directory":
            name = url.rsplit("/", 1)[-1]
            found = [RemoteObject(url, name, int(info.get("size") or 0), _etag(info))]
        else:
            detail = fs.find(root, maxdepth=None if recursive else 1, detail=True)
            found = []
            for path, item in sorted(detail.items()):
                if item.get("type") == "directory" or not path.startswith(root.rstrip("/") + "/"):
                    continue
                rel = path[len(root.rstrip("/")) + 1 :]
                found.append(
                    RemoteObject(f"{url}/{rel}", rel, int(item.get("size") or 0), _etag(item))
                )
    except Exception as exc:
        raise _failed(url, exc) from None
    if patterns:
        found = [
            o for o in found if any(match_pattern(o.rel.rsplit("/", 1)[-1], p) for p in patterns)
        ]
    return found


def stat_object(url: str) -> tuple[int, str | None] | None:
    """(size, ETag) of the object at ``url``, or None when it is gone."""
    try:
        fs, path = _open(url)
        info = fs.info(path)
    except Exception as exc:
        err = _failed(url, exc)
        if isinstance(err, ExternalFileNotFoundError):
            return None
        raise err from None
    if info.get("type") == "directory":
        return None
    return int(info.get("size") or 0), _etag(info)


def _blocks(url: str) -> Iterator[bytes]:
    fs, path = _open(url)
    with fs.open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            yield block


def hash_object(url: str) -> tuple[int, str]:
    """(size, sha256) of the object at ``url``, read once as a stream."""
    digest = hashlib.sha256()
    size = 0
    try:
        for block in _blocks(url):
            digest.update(block)
            size += len(block)
    except Exception as exc:
        raise _failed(url, exc) from None
    return size, digest.hexdigest()


def read_object(url: str, limit: int) -> bytes | None:
    """The bytes at ``url`` (at most ``limit`` + 1 of them), or None when it is gone."""
    out = bytearray()
    try:
        for block in _blocks(url):
            out += block
            if len(out) > limit:
                break
    except Exception as exc:
        err = _failed(url, exc)
        if isinstance(err, ExternalFileNotFoundError):
            return None
        raise err from None
    return bytes(out)
