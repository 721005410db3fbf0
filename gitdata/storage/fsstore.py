"""The Store interface and its fsspec implementation (local folders and object stores)."""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.errors import (
    DISK_FULL_ERRNOS,
    BucketNotFoundError,
    FormatError,
    GitDataError,
    ObjectNotFoundError,
    StorageCredentialsError,
    StoragePermissionError,
    StorageThrottledError,
    StorageUnavailableError,
    StoreNotFoundError,
    local_disk_error,
    os_errors_name,
)
from gitdata.storage import faults
from gitdata.storage.faults import classify, redact
from gitdata.storage.keys import MARKER_KEY, OBJECTS_PREFIX
from gitdata.storage.transfer import (
    DEFAULT_RETRIES,
    run_parallel,
    track_scratch,
    untrack_scratch,
    with_retries,
)

STORE_FORMAT = 1
_ENDPOINT_HINTS = {
    "s3": "check the network, and the endpoint (AWS_ENDPOINT_URL or storage_options.endpoint_url)",
    "gcs": "check the network, and the endpoint (STORAGE_EMULATOR_HOST or endpoint_url)",
    "az": "check the network, and the account's endpoint (BlobEndpoint / account name)",
}
_CREDENTIAL_HINTS = {
    "s3": "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or storage_options",
    "gcs": "check GOOGLE_APPLICATION_CREDENTIALS (or gcloud auth application-default login)",
    "az": "check AZURE_STORAGE_CONNECTION_STRING, or account name + key / SAS token",
}
# fsspec names a filesystem by its first protocol ("gs", "abfs"); gd by its cloud
_CANONICAL_PROTOCOLS = {
    "local": "file",
    "gs": "gcs",
    "abfs": "az",
    "abfss": "az",
    "s3a": "s3",
}
R = TypeVar("R")


def credential_hint(protocol: str) -> str:
    """Where users of the cloud behind ``protocol`` keep its credentials."""
    return _CREDENTIAL_HINTS.get(protocol, "check the store's credentials")


_COPY_BLOCK = 4 * 1024 * 1024
# listings and HEADs are small: more of them in flight than data transfers
_METADATA_WORKERS = 32


class Store(Protocol):
    """What the engine needs from a store; keys are relative and '/'-separated."""

    url: str
    is_local: bool

    def exists(self, key: str) -> bool: ...
    def exists_many(self, keys: Iterable[str]) -> set[str]: ...
    def size(self, key: str) -> int: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_range(self, key: str, start: int, length: int) -> bytes: ...
    def get_file(
        self, key: str, local_path: Path, progress: Callable[[int], None] | None = None
    ) -> None: ...
    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> bool: ...
    def put_file(
        self,
        key: str,
        local_path: Path,
        *,
        progress: Callable[[int], None] | None = None,
        move: bool = False,
    ) -> bool: ...
    def abort_stale_uploads(self, older_than: float) -> int: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def ensure_initialized(self, *, create: bool = True, create_bucket: bool = False) -> None: ...


class FsspecStore:
    """A store on any fsspec filesystem; local folders get atomic renames."""

    def __init__(
        self,
        fs: Any,
        root: str,
        url: str,
        *,
        retries: int = DEFAULT_RETRIES,
        secrets: Iterable[str] = (),
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url
        self.retries = retries
        self._secrets = tuple(secrets)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.protocol = _CANONICAL_PROTOCOLS.get(protocol, protocol)
        self.is_local = self.protocol == "file"
        self.bucket = None if self.is_local else self.root.split("/", 1)[0]
        self._bucket_known = False

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -------------------------------------------------------------- helpers
    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def _call(self, op: str, key: str, fn: Callable[[], R]) -> R:
        """Run ``fn`` with retries, mapping backend errors to gitdata errors."""
        try:
            return with_retries(fn, retries=self.retries)
        except GitDataError:
            raise
        except Exception as exc:
            if op == "read" and isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
                raise  # the full disk is the reader's (a cache, a target): named upstream
            raise self._translate(op, key, exc) from exc

    def _translate(self, op: str, key: str, exc: BaseException) -> GitDataError:
        """The gitdata error for a backend failure; secrets are masked in every message."""
        fault = classify(exc)
        reason = redact(fault.reason, self._secrets)
        where = f"{op} {key} in store {self.url}" if key else f"{op} in store {self.url}"
        if fault.kind == faults.NOT_FOUND and not self.is_local and not self._bucket_exists():
            fault = faults.Fault(faults.MISSING_BUCKET, reason)
        if fault.kind == faults.PERMISSION and fault.code is None and self._credentials_rejected():
            fault = faults.Fault(faults.CREDENTIALS, reason)
        if fault.kind == faults.MISSING_BUCKET:
            noun = "container" if self.protocol == "az" else "bucket"
            return BucketNotFoundError(
                f"{noun} {self.bucket!r} of store {self.url} does not exist",
                bucket=self.bucket,
                hint=f"check the URL, or run again with --create-bucket to create the {noun}",
            )
        if fault.kind == faults.NOT_FOUND:
            return ObjectNotFoundError(f"{key} not found in store {self.url}", key=key)
        if fault.kind == faults.CREDENTIALS:
            return StorageCredentialsError(
                f"store {self.url} rejected the credentials on {op}: {reason}",
                key=key,
                hint=credential_hint(self.protocol),
            )
        if fault.kind == faults.PERMISSION:
            return StoragePermissionError(
                f"permission denied on {where}: {reason}",
                key=key,
                hint="these credentials may read but not write, or not reach this prefix",
            )
        if fault.kind == faults.THROTTLED:
            return StorageThrottledError(
                f"store {self.url} is throttling requests ({reason}) and still was "
                "after every retry",
                key=key,
                hint="lower --max-workers, or raise GD_RETRIES, and try again",
            )
        if fault.kind == faults.UNREACHABLE:
            return StorageUnavailableError(
                f"cannot reach store {self.url}: {reason}",
                key=key,
                hint=_ENDPOINT_HINTS.get(self.protocol, "check the path or the network"),
            )
        if self.is_local and isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return local_disk_error(
                exc,
                f"the store {self.url}",
                exc.filename or self.root,
                elsewhere="remove what no commit needs (gd gc), or use another store",
            )
        if isinstance(exc, OSError) and exc.strerror:
            reason = redact(exc.strerror, self._secrets)
        return StorageUnavailableError(
            f"store {self.url} failed on {where}: {reason}",
            key=key,
            hint="check that the store is reachable (path, network, endpoint)",
        )

    def _credentials_rejected(self) -> bool:
        """After a bare HTTP 403 (a HEAD or streamed GET carries no error code):
        does S3 reject the credentials themselves?  ListBuckets needs valid ones."""
        if self.protocol != "s3":
            return False
        try:
            self.fs.call_s3("list_buckets")
        except Exception as exc:  # noqa: BLE001 - only its kind matters
            return classify(exc).kind == faults.CREDENTIALS
        return False

    def _bucket_exists(self) -> bool:
        """Whether the bucket / container exists (remembered once it does)."""
        if self._bucket_known:
            return True
        try:
            found = bool(with_retries(lambda: self.fs.exists(self.bucket), retries=self.retries))
        except Exception:  # noqa: BLE001 - unknown: report the original error instead
            return True
        self._bucket_known = found
        return found

    def create_bucket(self) -> bool:
        """Create the bucket / container if missing; True if it was created."""
        if self.is_local or self._bucket_exists():
            return False

        def make() -> None:
            with contextlib.suppress(FileExistsError):
                self.fs.mkdir(self.bucket)

        self._call("create bucket", "", make)
        self._bucket_known = True
        return True

    # ---------------------------------------------------------------- reads
    def exists(self, key: str) -> bool:
        if self.is_local:  # as fsspec's local exists: a dangling link exists
            return self._call("exists", key, lambda: os.path.lexists(self._path(key)))
        return self._call("exists", key, lambda: bool(self.fs.exists(self._path(key))))

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` present; lists each needed objects/ folder once."""
        keys = set(keys)
        found: set[str] = set()
        by_folder: dict[str, set[str]] = {}
        for key in keys:
            if key.startswith(OBJECTS_PREFIX) and key.count("/") == 2:
                by_folder.setdefault(key.rsplit("/", 1)[0], set()).add(key)
            elif self.exists(key):
                found.add(key)

        def present_in(folder_and_wanted: tuple[str, set[str]]) -> set[str]:
            folder, wanted = folder_and_wanted
            if len(wanted) == 1:
                return {key for key in wanted if self.exists(key)}
            return wanted & set(self.list(folder + "/"))

        # on an object store each folder is a round trip: ask for them in parallel
        workers = 1 if self.is_local else _METADATA_WORKERS
        for hits in run_parallel(present_in, sorted(by_folder.items()), workers):
            found |= hits
        return found

    def size(self, key: str) -> int:
        if self.is_local:
            return self._call("size", key, lambda: os.stat(self._path(key)).st_size)
        return int(self._call("size", key, lambda: self.fs.size(self._path(key))))

    def get_bytes(self, key: str) -> bytes:
        if self.is_local:
            return self._call("read", key, lambda: _read_local(self._path(key)))
        return self._call("read", key, lambda: self.fs.cat_file(self._path(key)))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length == 0:
            return b""
        path = self._path(key)
        if self.is_local:
            data = self._call("read", key, lambda: _read_local(path, start, length))
        else:
            data = self._call(
                "read", key, lambda: self.fs.cat_file(path, start=start, end=start + length)
            )
        if len(data) != length:
            raise StorageUnavailableError(
                f"short read of {key} in store {self.url}: {len(data)} of {length} bytes", key=key
            )
        return data

    def get_file(
        self, key: str, local_path: Path, progress: Callable[[int], None] | None = None
    ) -> None:
        """Download to a temp name beside ``local_path``, then rename into place.

        ``progress(n)`` is called as bytes arrive (a retried attempt is not counted twice).
        """
        local_path = Path(local_path)
        fd, tmp = tempfile.mkstemp(
            dir=local_path.parent, prefix=f".{local_path.name}.", suffix=".part"
        )
        os.close(fd)
        track_scratch(tmp)
        try:
            with os_errors_name(tmp):  # a full disk here is the reader's, not the store's
                if self.is_local:
                    self._call("read", key, lambda: shutil.copyfile(self._path(key), tmp))
                else:
                    callback = _byte_callback(progress)
                    self._call(
                        "read", key, lambda: self.fs.get_file(self._path(key), tmp, **callback)
                    )
            os.replace(tmp, local_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            untrack_scratch(tmp)

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursive), relative to the store root."""
        base = self._path(prefix.rstrip("/"))
        if self.is_local:
            return self._call("list", prefix, lambda: self._list_local(prefix.rstrip("/")))

        def run() -> list[str]:
            try:
                paths = self.fs.find(base)
            except FileNotFoundError:
                return []
            root = self.root + "/"
            return sorted(p[len(root) :] if p.startswith(root) else p for p in paths)

        return self._call("list", prefix, run)

    def list_info(self, prefix: str) -> builtins.list[tuple[str, int, float]]:
        """(key, size, modified as POSIX time) for every key under ``prefix``."""
        if self.is_local:

            def run() -> builtins.list[tuple[str, int, float]]:
                out: builtins.list[tuple[str, int, float]] = []
                for key in self._list_local(prefix.rstrip("/")):
                    try:
                        st = os.stat(self._path(key))
                    except FileNotFoundError:
                        continue
                    out.append((key, st.st_size, st.st_mtime))
                return out

            return self._call("list", prefix, run)

        def run_remote() -> list[tuple[str, int, float]]:
            try:
                found = self.fs.find(self._path(prefix.rstrip("/")), detail=True)
            except FileNotFoundError:
                return []
            root = self.root + "/"
            out = []
            for path, info in found.items():
                key = path[len(root) :] if path.startswith(root) else path
                out.append((key, int(info.get("size") or 0), _modified(info)))
            return sorted(out)

        return self._call("list", prefix, run_remote)

    def _list_local(self, prefix: str) -> builtins.list[str]:
        start = os.path.join(self.root, prefix) if prefix else self.root
        out: builtins.list[str] = []
        stack = [(start, prefix)]
        while stack:
            folder, rel = stack.pop()
            try:
                it = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with it:
                for de in it:
                    key = f"{rel}/{de.name}" if rel else de.name
                    if de.is_dir(follow_symlinks=False):
                        if key != "tmp":
                            stack.append((de.path, key))
                    else:
                        out.append(key)
        return sorted(out)

    # --------------------------------------------------------------- writes
    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = False) -> bool:
        """Write an object; False if it existed (objects are never overwritten)."""
        if not overwrite and self.exists(key):
            return False
        if self.is_local:
            self._call("write", key, lambda: self._local_publish(key, lambda fh: fh.write(data)))
        else:
            self._call("write", key, lambda: self.fs.pipe_file(self._path(key), data))
        return True

    def staging_dir(self) -> Path | None:
        """For a local store, a folder on the store's filesystem where files to be
        published with ``put_file(..., move=True)`` can be written; else None."""
        if not self.is_local:
            return None
        path = Path(self.root) / "tmp"
        self._call("create", "tmp", lambda: path.mkdir(parents=True, exist_ok=True))
        return path

    def put_file(
        self,
        key: str,
        local_path: Path,
        *,
        progress: Callable[[int], None] | None = None,
        move: bool = False,
    ) -> bool:
        """Upload a local file; False if the key already existed.

        With ``move`` on a local store the file is renamed into place (no copy);
        it must then live on the store's filesystem (see :meth:`staging_dir`).
        ``progress(n)`` is called as bytes are sent to an object store.
        """
        if self.exists(key):
            return False
        if self.is_local and move:

            def publish() -> None:
                final = self._path(key)
                os.makedirs(os.path.dirname(final), exist_ok=True)
                with open(local_path, "rb") as fh:
                    os.fsync(fh.fileno())
                os.chmod(local_path, 0o444)
                os.replace(local_path, final)

            self._call("write", key, publish)
            return True
        if self.is_local:

            def copy(fh) -> None:
                with open(local_path, "rb") as src:
                    shutil.copyfileobj(src, fh, _COPY_BLOCK)

            self._call("write", key, lambda: self._local_publish(key, copy))
        else:
            callback = _byte_callback(progress)
            self._call(
                "write", key, lambda: self.fs.put_file(str(local_path), self._path(key), **callback)
            )
        return True

    def _remove_stale_staging(self, cutoff: float) -> int:
        def run() -> int:
            removed = 0
            try:
                entries = list(os.scandir(os.path.join(self.root, "tmp")))
            except FileNotFoundError:
                return 0
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue  # another process finished with it
            return removed

        return self._call("clean up unfinished uploads", "tmp", run)

    def _local_publish(self, key: str, write: Callable[[Any], Any]) -> None:
        """Write under tmp/ inside the store, then rename to the final key (atomic)."""
        final = self._path(key)
        tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = os.path.join(tmp_dir, uuid.uuid4().hex)
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def abort_stale_uploads(self, older_than: float) -> int:
        """Clean up uploads a killed process left more than ``older_than`` seconds
        ago; returns how many.

        S3: abort multipart uploads (invisible, never expire by themselves, billed).
        Local folders: remove temp files under ``tmp/``.  GCS resumable sessions
        and Azure uncommitted blocks expire by themselves after a week.
        """
        if self.is_local:
            return self._remove_stale_staging(time.time() - older_than)
        if self.protocol != "s3":
            return 0
        prefix = self.root.partition("/")[2]
        prefix = f"{prefix}/" if prefix else ""
        cutoff = time.time() - older_than

        def run() -> int:
            aborted = 0
            page_args: dict[str, str] = {}
            while True:
                page = self.fs.call_s3(
                    "list_multipart_uploads", Bucket=self.bucket, Prefix=prefix, **page_args
                )
                for upload in page.get("Uploads", []):
                    started = upload.get("Initiated")
                    if started is not None and started.timestamp() > cutoff:
                        continue
                    self.fs.call_s3(
                        "abort_multipart_upload",
                        Bucket=self.bucket,
                        Key=upload["Key"],
                        UploadId=upload["UploadId"],
                    )
                    aborted += 1
                if not page.get("IsTruncated"):
                    return aborted
                page_args = {
                    "KeyMarker": page.get("NextKeyMarker", ""),
                    "UploadIdMarker": page.get("NextUploadIdMarker", ""),
                }

        return self._call("clean up unfinished uploads", "", run)

    def delete(self, key: str) -> None:
        def run() -> None:
            with contextlib.suppress(FileNotFoundError):
                if self.is_local:
                    os.remove(self._path(key))
                else:
                    self.fs.rm_file(self._path(key))

        self._call("delete", key, run)

    def ensure_initialized(self, *, create: bool = True, create_bucket: bool = False) -> None:
        """Check the store's marker; refuse an unknown format.

        A store without a marker is created (folder and marker) when ``create``
        (writing commands), else :class:`StoreNotFoundError` is raised and nothing
        is written: a read never creates a store.  A missing bucket raises
        :class:`BucketNotFoundError` unless ``create`` and ``create_bucket``.
        """
        try:
            data: bytes | None = self.get_bytes(MARKER_KEY)
        except BucketNotFoundError:
            if not (create and create_bucket):
                raise
            self.create_bucket()
            data = None
        except ObjectNotFoundError:
            data = None
        except StorageUnavailableError as exc:
            if isinstance(exc.__cause__, OSError) and exc.__cause__.errno in (
                errno.ENOTDIR,
                errno.EISDIR,
            ):
                raise StorageUnavailableError(
                    f"store {self.url} is not a folder", hint="check --storage / GD_STORAGE"
                ) from None
            raise
        if data is None:
            if not create:
                raise StoreNotFoundError(
                    f"no store at {self.url}",
                    store=self.url,
                    hint="check --storage / GD_STORAGE; a store is made by the first "
                    "gd close, upload or push into it",
                )
            if self.is_local:
                self._call("create", "", lambda: os.makedirs(self.root, exist_ok=True))
            marker = dump_yaml({"format": STORE_FORMAT, "layout": "gitdata"}).encode()
            self.put_bytes(MARKER_KEY, marker)
            return
        self._check_marker(data)

    def _check_marker(self, data: bytes) -> None:
        doc = load_yaml_mapping(data, f"{self.url}/{MARKER_KEY}")
        fmt = doc.get("format")
        if fmt != STORE_FORMAT or doc.get("layout") != "gitdata":
            raise FormatError(
                f"store {self.url} has format {fmt!r}; this gd reads format {STORE_FORMAT}",
                file=f"{self.url}/{MARKER_KEY}",
                hint="upgrade gd" if isinstance(fmt, int) and fmt > STORE_FORMAT else None,
            )


def _byte_callback(on_bytes: Callable[[int], None] | None) -> dict[str, Any]:
    """``callback=`` for an fsspec transfer, reporting bytes to ``on_bytes``.

    A retried attempt starts again from zero (the backend calls ``set_size`` at
    each start): bytes are reported only past the most the earlier attempts
    reached, so nothing is counted twice.
    """
    if on_bytes is None:
        return {}
    from fsspec.callbacks import Callback

    class _Reporter(Callback):
        reported = 0

        def set_size(self, size: int) -> None:
            self.value = 0
            super().set_size(size)

        def call(self, *args: Any, **kwargs: Any) -> None:
            done = int(self.value or 0)
            if done > self.reported and on_bytes is not None:
                on_bytes(done - self.reported)
                self.reported = done

    return {"callback": _Reporter()}


def _modified(info: dict[str, Any]) -> float:
    """Modification time from an fsspec info dict (keys differ between backends)."""
    import datetime as _dt

    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, _dt.datetime):
            return value.timestamp()
        with contextlib.suppress(ValueError):
            return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    return float("inf")  # unknown: treated as brand new, so gc never deletes it


def _read_local(path: str, start: int = 0, length: int | None = None) -> bytes:
    """The bytes of a local file (``length`` of them from ``start``), as fsspec's
    local ``cat_file`` reads them."""
    with open(path, "rb") as fh:
        if start:
            fh.seek(start)
        return fh.read() if length is None else fh.read(length)
