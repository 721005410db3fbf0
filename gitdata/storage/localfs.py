"""fsspec's local filesystem, imported the first time something needs it.

A local store's everyday operations (exists, read, write, list, delete) go
through ``os`` directly in :class:`~gitdata.storage.fsstore.FsspecStore`, so a
command on a local store need not import fsspec at all (about 36 ms of a
command's start-up here, docs/benchmarks.md).  What still wants an fsspec
filesystem (external links through a local store's ``fs``) gets the real one
on first use.
"""

from __future__ import annotations

from typing import Any


class LazyLocalFileSystem:
    """Stands for ``fsspec.implementations.local.LocalFileSystem`` until used."""

    protocol = ("file", "local")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        real = self.__dict__.get("_real")
        if real is None:
            from fsspec.implementations.local import LocalFileSystem

            real = self.__dict__["_real"] = LocalFileSystem()
        return getattr(real, name)

    @property
    def loaded(self) -> bool:
        """Whether the real filesystem was needed (and fsspec imported)."""
        return "_real" in self.__dict__
