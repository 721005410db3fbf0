"""``gd://``: closed dataset versions as a read-only fsspec filesystem.

pandas, pyarrow, Dask, Hugging Face ``datasets`` and anything else that opens
fsspec URLs read versions through this module without a copy of the dataset.  It
is a thin layer over :class:`gitdata.api.Dataset` (no second reader of the store
format): listings stream the manifest's pages, one file's lookup reads one page, and
files are opened with :meth:`Dataset.open` (the local cache when it holds the
content, else ranged reads of the chunk).

URLs (docs/api.md, "Reading from other tools")::

    gd://<id>/<path>                 a version by its 32-character id
    gd://<project>/<name>/<path>     the version of project/name that the storage
                                     options ``version=`` or ``rev=`` (with ``repo=``)
                                     choose, else the repository's pointer or the newest

A filesystem made with ``id=`` or ``project=`` + ``name=`` is bound to that version:
its paths are the version's own (``gd://images/0001.jpg``), which is how a nested
project (``vision/2024``) is read.  ``storage=`` names the store in both forms.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from gitdata.api import Dataset
from gitdata.errors import InvalidInputError, NotFoundError

_FULL_ID = re.compile(r"[0-9a-f]{32}")
_Key = tuple[str, ...]


class GitDataFileSystem(AbstractFileSystem):
    """Read-only fsspec filesystem over gitdata versions (see the module docstring).

    Storage options: ``id``, ``project`` + ``name`` (bind the filesystem to one
    version), ``version`` (a version string) or ``rev`` (a git revision whose pointer
    names the version) with ``repo`` (the repository; default: the one holding the
    current folder), and ``storage`` (the store URL).  Info dicts carry ``name``,
    ``size``, ``type`` and, for files, ``sha256`` (and ``url`` for an external file).
    Any write raises :class:`PermissionError`; a path that is not there,
    :class:`FileNotFoundError`."""

    protocol = ("gd",)
    root_marker = ""

    def __init__(
        self,
        id: str | None = None,
        project: str | None = None,
        name: str | None = None,
        version: str | None = None,
        rev: str | None = None,
        repo: str | None = None,
        storage: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (project is None) != (name is None):
            raise ValueError("gd:// storage options: project and name go together")
        if id is not None and project is not None:
            raise ValueError("gd:// storage options: give id or project + name, not both")
        if version is not None and rev is not None:
            raise ValueError("gd:// storage options: give version or rev, not both")
        if id is not None and (version is not None or rev is not None):
            raise ValueError("gd:// storage options: an id names one version; no version or rev")
        self._bound: _Key | None = None
        if id is not None:
            self._bound = ("id", id)
        elif project is not None and name is not None:
            self._bound = ("name", project, name)
        self._version = version
        self._rev = rev
        self._repo = str(Path(repo).expanduser()) if repo is not None else None
        self._storage = storage
        self._datasets: dict[_Key, Dataset] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ addressing
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if text.startswith("gd://"):
            text = text[len("gd://") :]
        elif text.startswith("gd::"):
            text = text[len("gd::") :]
        return text.strip("/")

    def _locate(self, path: str) -> tuple[Dataset, str, str]:
        """(the version, the path inside it, the URL part naming the version)."""
        path = self._strip_protocol(path)
        if self._bound is not None:
            return self._dataset(self._bound, path), path, ""
        parts = path.split("/", 2)
        if _FULL_ID.fullmatch(parts[0]):
            key: _Key = ("id", parts[0])
            head, inner = parts[0], "/".join(parts[1:])
        elif len(parts) >= 2 and parts[0] and parts[1]:
            key = ("name", parts[0], parts[1])
            head, inner = f"{parts[0]}/{parts[1]}", parts[2] if len(parts) > 2 else ""
        else:
            raise FileNotFoundError(
                f"gd://{path}: name a version, gd://<id>/<path> or gd://<project>/<name>/<path>"
            )
        return self._dataset(key, path), inner, head

    def _dataset(self, key: _Key, path: str) -> Dataset:
        with self._lock:
            hit = self._datasets.get(key)
        if hit is not None:
            return hit
        try:
            if key[0] == "id":
                ds = Dataset.get(dataset_id=key[1], only_completed=True, storage=self._storage)
            else:
                ds = Dataset.get(
                    dataset_project=key[1],
                    dataset_name=key[2],
                    dataset_version=self._version,
                    rev=self._rev,
                    repo=self._repo,
                    storage=self._storage,
                    only_completed=True,
                )
        except NotFoundError as exc:
            hint = ""
            if key[0] == "name" and re.fullmatch(r"[0-9a-fA-F]{6,31}", key[1]):
                hint = " (to name a version by id, gd://<id>/... takes the full 32-character id)"
            raise FileNotFoundError(f"gd://{path}: {exc}{hint}") from exc
        with self._lock:
            self._datasets[key] = ds
        return ds

    @staticmethod
    def _join(head: str, inner: str) -> str:
        return f"{head}/{inner}" if head and inner else head or inner

    # ----------------------------------------------------------------- reading
    def _file_info(self, ds: Dataset, head: str, inner: str) -> dict[str, Any] | None:
        try:
            row = ds.file_info(inner)
        except (NotFoundError, InvalidInputError):
            return None
        return _file_dict(self._join(head, row["path"]), row["size"], row["sha256"], row.get("url"))

    def _rows(self, ds: Dataset, prefix: str) -> Iterator[tuple[str, int, str, str | None]]:
        """(path, size, sha256, url) of every file under ``prefix``, in path order."""
        for batch in ds.iter_file_batches(prefix=prefix):
            urls = batch.urls if batch.urls is not None else [None] * len(batch.paths)
            yield from zip(batch.paths, batch.sizes, batch.sha256s, urls, strict=True)

    def _is_dir(self, ds: Dataset, inner: str) -> bool:
        return not inner or any(True for _ in self._rows(ds, inner + "/"))

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        ds, inner, head = self._locate(path)
        if inner:
            found = self._file_info(ds, head, inner)
            if found is not None:
                return found
        if self._is_dir(ds, inner):
            return {"name": self._join(head, inner), "size": 0, "type": "directory"}
        raise FileNotFoundError(f"gd://{self._strip_protocol(path)}: no such file or folder")

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        ds, inner, head = self._locate(path)
        if inner:
            found = self._file_info(ds, head, inner)
            if found is not None:
                return [found] if detail else [found["name"]]
        prefix = inner + "/" if inner else ""
        out: list[dict[str, Any]] = []
        last_dir = None
        for p, size, sha, url in self._rows(ds, prefix):
            rest = p[len(prefix) :]
            slash = rest.find("/")
            if slash < 0:
                out.append(_file_dict(self._join(head, p), size, sha, url))
            elif rest[:slash] != last_dir:  # a folder's files are contiguous in path order
                last_dir = rest[:slash]
                out.append(
                    {"name": self._join(head, prefix + last_dir), "size": 0, "type": "directory"}
                )
        if not out and inner:
            raise FileNotFoundError(f"gd://{self._strip_protocol(path)}: no such file or folder")
        return out if detail else [o["name"] for o in out]

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        try:
            ds, inner, head = self._locate(path)
        except FileNotFoundError:
            return {} if detail else []
        out: dict[str, dict[str, Any]] = {}
        found = self._file_info(ds, head, inner) if inner else None
        if found is not None:
            out[found["name"]] = found
        else:
            prefix = inner + "/" if inner else ""
            if withdirs and (head or inner) and self._is_dir(ds, inner):  # as fsspec does
                name = self._join(head, inner)
                out[name] = {"name": name, "size": 0, "type": "directory"}
            for p, size, sha, url in self._rows(ds, prefix):
                rest = p[len(prefix) :].split("/")
                if withdirs:
                    for depth in range(1, len(rest)):
                        if maxdepth is not None and depth > maxdepth:
                            break
                        name = self._join(head, prefix + "/".join(rest[:depth]))
                        if name not in out:
                            out[name] = {"name": name, "size": 0, "type": "directory"}
                if maxdepth is None or len(rest) <= maxdepth:
                    name = self._join(head, p)
                    out[name] = _file_dict(name, size, sha, url)
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> Any:
        if mode != "rb":
            self._refuse_write(path)
        ds, inner, head = self._locate(path)
        try:
            info = ds.file_info(inner)
            opened = ds.open(inner, "rb")
        except (NotFoundError, InvalidInputError) as exc:
            if self._is_dir(ds, inner):
                raise IsADirectoryError(f"gd://{self._strip_protocol(path)} is a folder") from exc
            raise FileNotFoundError(f"gd://{self._strip_protocol(path)}: {exc}") from exc
        return GitDataFile(
            self,
            self._join(head, info["path"]),
            opened,
            info,
            block_size=block_size if block_size not in (None, "default") else _BLOCK,
            cache_type=kwargs.get("cache_type", "readahead"),
            cache_options=cache_options,
        )

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        with self._open(path, "rb") as fh:
            size = fh.size
            begin = 0 if start is None else start if start >= 0 else max(0, size + start)
            stop = size if end is None else end if end >= 0 else max(0, size + end)
            fh.seek(begin)
            return bytes(fh.read(max(0, min(stop, size) - begin)))

    def ukey(self, path: str) -> str:
        """A file's SHA-256: its content, whatever version or URL reached it."""
        return str(self.info(path)["sha256"])

    def checksum(self, path: str) -> int:
        return int(self.ukey(path)[:16], 16)

    # ------------------------------------------------------------- read-only
    def _refuse_write(self, path: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(
            f"gd://{self._strip_protocol(str(path))}: dataset versions are read-only "
            "(make a new version with gd create / gd sync)"
        )

    mkdir = makedirs = rmdir = _refuse_write
    rm = rm_file = _rm = _refuse_write
    cp_file = mv = put_file = pipe_file = touch = _refuse_write

    def copy(self, path1: Any, path2: Any, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse_write(path2)

    def put(self, lpath: Any, rpath: Any, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse_write(rpath)

    def pipe(self, path: Any, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse_write(path)


_BLOCK = 1024 * 1024  # bytes a file object reads ahead (fsspec's readahead cache)


class GitDataFile(AbstractBufferedFile):
    """One file of a version as fsspec's buffered file (``size``, ``blocksize``, its
    caches), over the seekable file :meth:`Dataset.open` gave: ranges are read from
    there (the local cache, the fetched bytes, or ranged reads of the chunk)."""

    def __init__(
        self,
        fs: GitDataFileSystem,
        path: str,
        opened: Any,
        info: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        self._opened = opened
        details = _file_dict(path, info["size"], info["sha256"], info.get("url"))
        super().__init__(fs, path, mode="rb", size=info["size"], **kwargs)
        self.details = details

    def _fetch_range(self, start: int, end: int) -> bytes:
        self._opened.seek(start)
        return bytes(self._opened.read(max(0, end - start)))

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._opened.close()


def _file_dict(name: str, size: int, sha: str, url: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"name": name, "size": size, "type": "file", "sha256": sha}
    if url is not None:
        info["url"] = url
    return info
