"""The local cache: verified content by hash, read-only copies, and a byte budget.

Layout (docs/format.md section 10)::

    <root>/blobs/ab/<sha256>   file contents and manifests, mode 0444, verified on entry
    <root>/copies/<key>/       read-only trees of hardlinks to blobs (get_local_copy)
    <root>/tmp/                staging on the same filesystem; published with rename
    <root>/state.db            sqlite: last use of blobs and copies, copy membership
    <root>/lock                flock: shared while materialising, exclusive while pruning

Several processes may share one cache: every publish is an atomic rename of a
complete file or tree, and eviction waits for readers to finish.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gitdata.errors import IntegrityError, InvalidInputError, UnsafePathError

_BLOCK = 1024 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_SEQ = itertools.count()


@dataclass
class CacheUsage:
    """Bytes held (each blob counted once), blob count, copy count."""

    bytes: int
    blobs: int
    copies: int


@dataclass
class PruneReport:
    """What a prune removed (or would remove, on a dry run)."""

    removed_blobs: int
    removed_copies: int
    freed_bytes: int
    remaining_bytes: int


def _check_rel(rel: str) -> None:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"unsafe path in dataset: {rel!r}", path=rel)


def _rmtree(path: Path) -> None:
    def fix(func, p, _exc):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            func(p)

    shutil.rmtree(path, onerror=fix)


class LocalCache:
    """A content-addressed cache shared safely by several processes."""

    def __init__(self, root: Path, size_limit: int | None = None) -> None:
        self.root = Path(root)
        self.size_limit = size_limit
        self.blobs_dir = self.root / "blobs"
        self.copies_dir = self.root / "copies"
        self.tmp_dir = self.root / "tmp"
        self._db: sqlite3.Connection | None = None

    # ---------------------------------------------------------------- locks
    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def shared_lock(self):
        """Held while materialising: prune waits for it."""
        return self._flock(fcntl.LOCK_SH)

    def exclusive_lock(self):
        """Held while pruning or clearing."""
        return self._flock(fcntl.LOCK_EX)

    # ---------------------------------------------------------------- blobs
    def blob_path(self, sha256: str) -> Path:
        return self.blobs_dir / sha256[:2] / sha256

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        try:
            st = os.stat(self.blob_path(sha256))
        except OSError:
            return False
        return size is None or st.st_size == size

    def _tmp_file(self) -> tuple[int, str]:
        # Unique per process and thread; cheaper than mkstemp's random retries.
        path = os.path.join(
            self.tmp_dir, f"blob-{os.getpid()}-{threading.get_ident()}-{next(_SEQ)}"
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        return fd, path

    def _publish_blob(self, tmp: str, sha256: str) -> Path:
        final = self.blob_path(sha256)
        try:
            os.replace(tmp, final)
        except FileNotFoundError:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        return final

    def put_blob_bytes(self, sha256: str, data: bytes, *, verified: bool = False) -> Path:
        """Store ``data`` under its hash; idempotent and safe against concurrent writers.

        The hash is checked unless the caller has just ``verified`` it itself.
        """
        if not verified:
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                raise IntegrityError(
                    f"content does not match its hash {sha256[:12]}", expected=sha256, actual=actual
                )
        if self.has_blob(sha256, len(data)):
            return self.blob_path(sha256)
        fd, tmp = self._tmp_file()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, 0o444)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        os.close(fd)
        try:
            return self._publish_blob(tmp, sha256)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_blob_file(self, sha256: str, src: Path) -> Path:
        """Copy ``src`` in, hashing while copying; refuse it if the hash differs."""
        fd, tmp = self._tmp_file()
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != sha256:
                raise IntegrityError(
                    f"{src} does not match its hash {sha256[:12]}",
                    expected=sha256,
                    actual=h.hexdigest(),
                )
            os.chmod(tmp, 0o444)
            return self._publish_blob(tmp, sha256)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _hash_blob(self, sha256: str) -> str | None:
        h = hashlib.sha256()
        try:
            with open(self.blob_path(sha256), "rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    h.update(block)
        except OSError:
            return None
        return h.hexdigest()

    def verify_blob(self, sha256: str) -> bool:
        """Rehash one blob; a corrupt one is removed."""
        if self._hash_blob(sha256) == sha256:
            return True
        self.remove_blob(sha256)
        return False

    def remove_blob(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.blob_path(sha256))

    def _iter_blobs(self) -> Iterator[tuple[str, int]]:
        try:
            tops = list(os.scandir(self.blobs_dir))
        except FileNotFoundError:
            return
        for top in tops:
            if not top.is_dir():
                continue
            with os.scandir(top.path) as it:
                for de in it:
                    with contextlib.suppress(FileNotFoundError):
                        yield de.name, de.stat().st_size

    # --------------------------------------------------------------- copies
    def copy_path(self, key: str) -> Path:
        if not _KEY_RE.match(key) or key in (".", ".."):
            raise InvalidInputError(f"bad cache copy key {key!r}")
        return self.copies_dir / key

    def has_copy(self, key: str) -> bool:
        return self.copy_path(key).is_dir()

    def publish_copy(
        self,
        key: str,
        files: list[tuple[str, str]],
        fill: Callable[[Path, list[tuple[str, str]]], None] | None = None,
    ) -> Path:
        """Build a read-only tree of hardlinks to blobs and rename it into place.

        Blobs the cache lacks are written by ``fill(staging, [(rel, sha), ...])``
        (one path per missing content, content already verified, mode 0444) and
        then adopted into ``blobs/`` with a hardlink: one file write per new
        content instead of a blob write plus a link.
        """
        final = self.copy_path(key)
        if final.is_dir():
            return final
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.tmp_dir, prefix="copy-"))
        try:
            first: dict[str, str] = {}
            for rel, sha in files:
                if sha not in first and not self.has_blob(sha):
                    first[sha] = rel
            if first:
                if fill is None:
                    raise IntegrityError(
                        f"{len(first)} blob(s) missing from the cache for copy {key}"
                    )
                fill(staging, [(rel, sha) for sha, rel in first.items()])
                for sha, rel in first.items():
                    self._adopt(staging / rel, sha)
            adopted = set(first.values())
            self._link_into([f for f in files if f[0] not in adopted], staging, allow_symlink=False)
            self.copies_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, final)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                _rmtree(staging)  # another process published it first
        except BaseException:
            if staging.exists():
                _rmtree(staging)
            raise
        self._record_copy(key, [sha for _, sha in files])
        return final

    def _adopt(self, path: Path, sha256: str) -> None:
        """Make a verified, read-only file in a staging tree the blob for ``sha256``."""
        blob = self.blob_path(sha256)
        try:
            os.link(path, blob)
        except FileNotFoundError:
            blob.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(path, blob)
        except FileExistsError:
            pass  # another process added it meanwhile; both hold the same content

    def _link_into(
        self, files: list[tuple[str, str]], target: Path, *, allow_symlink: bool
    ) -> None:
        made: set[str] = set()
        use_symlink = False
        target_s = str(target)
        for rel, sha in files:
            _check_rel(rel)
            folder, _, _name = rel.rpartition("/")
            if folder and folder not in made:
                os.makedirs(os.path.join(target_s, folder), exist_ok=True)
                made.add(folder)
            src = str(self.blob_path(sha))
            dest = os.path.join(target_s, rel)
            if not use_symlink:
                try:
                    os.link(src, dest)
                    continue
                except OSError as exc:
                    if not allow_symlink or exc.errno not in (
                        errno.EXDEV,
                        errno.EPERM,
                        errno.EMLINK,
                    ):
                        raise
                    use_symlink = True
            os.symlink(src, dest)

    def link_tree(self, files: list[tuple[str, str]], target: Path) -> None:
        """Hardlink blobs into ``target`` (symlinks when hardlinks cannot cross filesystems)."""
        Path(target).mkdir(parents=True, exist_ok=True)
        self._link_into(files, Path(target), allow_symlink=True)

    def copy_tree(self, files: list[tuple[str, str]], target: Path, progress=None) -> list[str]:
        """Copy blobs into ``target`` as writable files, hashing on the way.

        Returns the paths whose blob was corrupt (the blob is removed; the
        caller refetches them).  Files are written under their final names:
        ``target`` must be a staging folder that the caller publishes with a
        rename, so no partial tree is ever visible.
        """
        target = Path(target)
        target.mkdir(parents=True, exist_ok=True)
        bad: list[str] = []
        made: set[str] = set()
        for rel, sha in files:
            _check_rel(rel)
            folder = rel.rpartition("/")[0]
            if folder and folder not in made:
                os.makedirs(target / folder, exist_ok=True)
                made.add(folder)
            dest = target / rel
            h = hashlib.sha256()
            with open(self.blob_path(sha), "rb") as src, open(dest, "wb") as out:
                for block in iter(lambda: src.read(_BLOCK), b""):
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != sha:
                os.unlink(dest)
                self.remove_blob(sha)
                bad.append(rel)
                continue
            if progress is not None:
                progress.advance(1)
        return bad

    # -------------------------------------------------- use and eviction
    def _state(self) -> sqlite3.Connection:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / "state.db"
            try:
                self._db = self._open_state(path)
            except sqlite3.DatabaseError:
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{path}{suffix}")
                self._db = self._open_state(path)
        return self._db

    @staticmethod
    def _open_state(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS blob_use (sha TEXT PRIMARY KEY, used REAL) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS copy_use (key TEXT PRIMARY KEY, used REAL) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS copy_blob (key TEXT, sha TEXT, PRIMARY KEY (sha, key)) WITHOUT ROWID"
        )
        return db

    def _record_copy(self, key: str, shas: list[str]) -> None:
        db = self._state()
        db.execute("BEGIN")
        db.execute("DELETE FROM copy_blob WHERE key = ?", (key,))
        db.executemany(
            "INSERT OR IGNORE INTO copy_blob VALUES (?, ?)", ((key, s) for s in set(shas))
        )
        db.execute("COMMIT")

    def touch(self, sha256s: Iterable[str], copy_key: str | None = None) -> None:
        """Record that these blobs (and copy) were just used."""
        now = time.time()
        db = self._state()
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR REPLACE INTO blob_use VALUES (?, ?)", ((s, now) for s in set(sha256s))
        )
        if copy_key is not None:
            db.execute("INSERT OR REPLACE INTO copy_use VALUES (?, ?)", (copy_key, now))
        db.execute("COMMIT")

    def _copy_keys(self) -> list[str]:
        try:
            return sorted(de.name for de in os.scandir(self.copies_dir) if de.is_dir())
        except FileNotFoundError:
            return []

    def usage(self) -> CacheUsage:
        total = count = 0
        for _sha, size in self._iter_blobs():
            total += size
            count += 1
        return CacheUsage(total, count, len(self._copy_keys()))

    def prune(self, limit_bytes: int | None = None, *, dry_run: bool = False) -> PruneReport:
        """Evict least-recently-used blobs (and copies that need them) down to the limit."""
        limit = self.size_limit if limit_bytes is None else limit_bytes
        with self.exclusive_lock():
            blobs = dict(self._iter_blobs())
            total = sum(blobs.values())
            if limit is None or total <= limit:
                return PruneReport(0, 0, 0, total)
            db = self._state()
            used = dict(db.execute("SELECT sha, used FROM blob_use").fetchall())
            order = sorted(blobs, key=lambda s: (used.get(s, 0.0), s))
            evict: list[str] = []
            freed = 0
            for sha in order:
                if total - freed <= limit:
                    break
                evict.append(sha)
                freed += blobs[sha]
            doomed_copies: set[str] = set()
            known = {k for (k,) in db.execute("SELECT DISTINCT key FROM copy_blob").fetchall()}
            for i in range(0, len(evict), 500):
                batch = evict[i : i + 500]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT DISTINCT key FROM copy_blob WHERE sha IN ({marks})", batch
                )
                doomed_copies |= {k for (k,) in rows}
            if evict:
                # Copies whose membership is unknown might need an evicted blob.
                doomed_copies |= set(self._copy_keys()) - known
            doomed_copies &= set(self._copy_keys())
            if not dry_run:
                for key in sorted(doomed_copies):
                    _rmtree(self.copies_dir / key)
                for sha in evict:
                    self.remove_blob(sha)
                db.execute("BEGIN")
                db.executemany("DELETE FROM blob_use WHERE sha = ?", ((s,) for s in evict))
                db.executemany("DELETE FROM copy_use WHERE key = ?", ((k,) for k in doomed_copies))
                db.executemany("DELETE FROM copy_blob WHERE key = ?", ((k,) for k in doomed_copies))
                db.execute("COMMIT")
            return PruneReport(len(evict), len(doomed_copies), freed, total - freed)

    def clear(self) -> None:
        """Remove every blob and copy."""
        with self.exclusive_lock():
            for folder in (self.copies_dir, self.blobs_dir, self.tmp_dir):
                if folder.exists():
                    _rmtree(folder)
            db = self._state()
            db.execute("BEGIN")
            for table in ("blob_use", "copy_use", "copy_blob"):
                db.execute(f"DELETE FROM {table}")
            db.execute("COMMIT")

    def verify_all(self) -> list[str]:
        """Rehash every blob; remove and return the corrupt ones (and copies using them)."""
        with self.exclusive_lock():
            bad = [sha for sha, _ in list(self._iter_blobs()) if self._hash_blob(sha) != sha]
            for sha in bad:
                self.remove_blob(sha)
            if bad:
                db = self._state()
                keys: set[str] = set()
                for sha in bad:
                    keys |= {
                        k for (k,) in db.execute("SELECT key FROM copy_blob WHERE sha = ?", (sha,))
                    }
                for key in keys & set(self._copy_keys()):
                    _rmtree(self.copies_dir / key)
            return sorted(bad)
