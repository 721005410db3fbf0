"""The local cache: verified content by hash, read-only copies, and a byte budget.

Layout of a cache folder::

    <root>/blobs/ab/<sha256>   file contents (and manifests) named by their sha256,
                               mode 0444, hash-checked before they enter
    <root>/copies/<key>/       read-only trees of hardlinks to blobs: the folder
                               get_local_copy() returns; <key> is a version id,
                               then .filter-<16 hex> for a filtered get and
                               .part-<i>-of-<n> for a shard; folders are mode 0555
    <root>/tmp/                staging on the same filesystem; everything is written
                               here first and published with an atomic rename (what
                               killed processes leave here is removed by prune and
                               clear: see _scan_leftovers)
    <root>/state.db            sqlite: last use of blobs and copies, and which blobs
                               each copy holds (bookkeeping only; safe to delete)
    <root>/lock                flock: shared while materialising, exclusive while
                               pruning, clearing or verifying
    <root>/.gitdata-cache.json the marker: written when gd creates or adopts the
                               cache; nothing is removed from a folder without it

Other layers keep files of their own in the same folder (the stat cache's
``stat.db``, ``records/``); this class never touches them.

gd deletes only what it created (see owned.py): removals check the marker
first, and remove only entries of the shapes gd makes, so a file someone put
into the folder (``blobs/photo.jpg``, ``copies/thesis``) is left alone.

Content served from the cache is checked with one stat per blob: state.db
keeps each blob's (size, mtime_ns, inode) from when its content was last
known good (written and verified, or rehashed), and a blob whose stat differs
is rehashed, and removed if it no longer matches its name.  A new blob's mtime
is set a little in the past when it enters, so any later write to it (through
a hardlinked tree, say) changes its stat.

Several processes may share one cache.  A blob or copy appears under its final
name only complete (rename of a finished file or tree); two processes
publishing the same thing both succeed and one result is kept.  Eviction takes
the lock exclusive, so it waits for every process materialising from the
cache, and it removes a copy together with any blob the copy holds: a copy
never has missing files.  Copy folders are read-only; remove a cache with
``gd cache clear`` (or ``chmod -R u+w`` before ``rm -rf``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from gitdata.cache.evict import BlobInfo, plan_eviction
from gitdata.cache.fsutil import (
    READONLY_DIR,
    WRITABLE_DIR,
    chmod_dirs,
    hash_file,
    remove_tree,
    tree_has_inode,
    write_all,
)
from gitdata.cache.locking import CacheLock
from gitdata.cache.owned import (
    CACHE_MARKER,
    describe,
    foreign_entries,
    has_marker,
    is_blob_folder,
    is_blob_name,
    is_copy_key,
    is_store_folder,
    is_temp_name,
    is_tmp_name,
    real_dir,
    write_marker,
)
from gitdata.cache.trees import copy_files, link_files, missing_blob, parent_folders
from gitdata.cache.uselog import BlobStat, UseLog
from gitdata.cache.validate import check_files, check_key, check_sha
from gitdata.core.progress import NULL_PROGRESS, Progress, start_counting
from gitdata.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    LocalPathNotFoundError,
    os_errors_name,
)

_BLOCK = 1024 * 1024
_STALE_TMP_SECONDS = 3600  # staging older than this belongs to a crashed process
_TRASH = "trash-"  # tmp/ entries being deleted
# tmp/ entries only ever made while holding the cache lock shared (a copy being
# published, a chunk fetched whole for a get): with the lock exclusive, none is in use.
_UNDER_LOCK_DIRS = ("copy-",)
_UNDER_LOCK_FILES = ("get-",)
# A new blob's mtime is set this far back, so a write to it later always changes it.
_SETTLE_NS = 2_000_000_000
# A rehashed blob modified this recently may still be being written: its stat is
# not recorded as good (it is rehashed again next time).
_RACY_NS = 2_000_000_000
_PENDING_MAX = 4096  # good stats kept in memory before they are written to state.db
# how long the sum of known-good blobs on record is trusted before an automatic
# prune check lists the whole cache again (blobs it has no record of count then)
USAGE_RESCAN_SECONDS = 3600
_NOT_A_CACHE_HINT = (
    "point GD_CACHE_DIR (or cache_dir in ~/.config/gitdata/config.yaml) at the gitdata "
    "cache, or at a new or empty folder"
)
_seq = itertools.count()


@dataclass(frozen=True)
class CacheUsage:
    """Bytes held (each blob counted once; copies are hardlinks), blob count, copy count."""

    bytes: int
    blobs: int
    copies: int


@dataclass(frozen=True)
class Leftovers:
    """What killed processes left in the cache: how many entries, and the bytes
    removing them frees (files shared with a blob by a hardlink free nothing)."""

    entries: int
    bytes: int


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or would remove, on a dry run); leftovers apart."""

    removed_blobs: int
    removed_copies: int
    freed_bytes: int
    remaining_bytes: int
    removed_leftovers: int = 0
    leftover_bytes: int = 0


def _scan(path: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except OSError:
        return []


def _freed(path: str, st: os.stat_result) -> int:
    """Bytes removing ``path`` frees: files with no other name (hardlink), in a tree too."""
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if st.st_nlink == 1 and stat.S_ISREG(st.st_mode) else 0
    total = 0
    stack = [path]
    while stack:
        for e in _scan(stack.pop()):
            with contextlib.suppress(OSError):
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                else:
                    total += _freed(e.path, e.stat(follow_symlinks=False))
    return total


def _mismatch(what: str, expected: str, actual: str | None) -> IntegrityError:
    return IntegrityError(
        f"{what} does not match its sha256 {expected[:12]} (got {str(actual)[:12]})",
        expected=expected,
        actual=actual,
    )


class LocalCache:
    """A content-addressed cache shared safely by several processes."""

    def __init__(self, root: Path, size_limit: int | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.size_limit = size_limit
        self.blobs_dir = self.root / "blobs"
        self.copies_dir = self.root / "copies"
        self.tmp_dir = self.root / "tmp"
        self._blobs = str(self.blobs_dir)
        self._lock = CacheLock(self.root / "lock")
        self._uses = UseLog(self.root / "state.db")
        self._prepared = False
        self._pending: list[tuple[str, BlobStat]] = []
        self._pending_lock = threading.Lock()

    # -------------------------------------------------------------- ownership
    def prepare(self) -> None:
        """Make sure the folder is a gitdata cache before anything is written into it.

        A missing or empty folder gets the marker (``.gitdata-cache.json``); so
        does one holding only entries of gd's shapes (a cache of an older gd).
        A folder holding anything else is refused with ConflictError: gd does
        not fill, and later prune, a folder of someone else's files.
        """
        if self._prepared:
            return
        if not has_marker(self.root):
            if os.path.lexists(self.root) and not os.path.isdir(self.root):
                raise ConflictError(
                    f"{self.root} is not a folder; it cannot be the gitdata cache",
                    path=str(self.root),
                    hint=_NOT_A_CACHE_HINT,
                )
            self.root.mkdir(parents=True, exist_ok=True)
            foreign = foreign_entries(self.root)
            if foreign:
                raise ConflictError(
                    f"{self.root} does not look like a gitdata cache (no marker {CACHE_MARKER}) "
                    f"and holds files gd did not make: {describe(foreign)}; nothing written",
                    path=str(self.root),
                    hint=_NOT_A_CACHE_HINT,
                )
            write_marker(self.root)
        self._prepared = True

    def _owned(self) -> bool:
        """Check before removing anything: True if the folder is a gitdata cache,
        False if there is no folder (nothing to remove); ConflictError otherwise.

        A folder without the marker is adopted (the marker written) when
        everything in it has a shape gd makes: a cache of an older gd.
        """
        if has_marker(self.root):
            return True
        if not os.path.lexists(self.root):
            return False
        if not os.path.isdir(self.root) or foreign_entries(self.root):
            raise ConflictError(
                f"{self.root} does not look like a gitdata cache (no marker); nothing removed",
                path=str(self.root),
                hint=_NOT_A_CACHE_HINT,
            )
        write_marker(self.root)
        return True

    # ------------------------------------------------------------------ locks
    def shared_lock(self) -> AbstractContextManager[None]:
        """Hold while materialising from the cache: eviction waits for it."""
        self.prepare()
        return self._lock.hold(exclusive=False)

    def exclusive_lock(self) -> AbstractContextManager[None]:
        """Hold while removing content (prune, clear, verify_all)."""
        return self._lock.hold(exclusive=True)

    # ------------------------------------------------------------------ blobs
    def _blob(self, sha256: str) -> str:
        return f"{self._blobs}/{sha256[:2]}/{sha256}"

    def blob_path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives (whether or not it is there)."""
        return Path(self._blob(check_sha(sha256)))

    def blobs_if_few(self, limit: int) -> set[str] | None:
        """The names (sha256) of every blob in the cache if there are at most ``limit``
        of them, else None: a get into a nearly empty cache then asks this set
        instead of making one stat per file (a listing stops early past ``limit``)."""
        names: set[str] = set()
        try:
            with os.scandir(self._blobs) as fans:
                for fan in fans:
                    if not fan.is_dir(follow_symlinks=False):
                        continue
                    with os.scandir(fan.path) as inside:
                        for blob in inside:
                            names.add(blob.name)
                            if len(names) > limit:
                                return None
        except FileNotFoundError:
            pass
        return names

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """The blob is present (and ``size`` bytes long, when given): one stat."""
        try:
            st = os.stat(self._blob(check_sha(sha256)))
        except OSError:
            return False
        return size is None or st.st_size == size

    def _new_tmp_file(self) -> tuple[int, str]:
        """A new read-only-mode file in tmp/ (unique per process and thread), open for writing."""
        while True:
            path = f"{self.tmp_dir}/blob-{os.getpid()}-{threading.get_ident()}-{next(_seq)}"
            try:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), path
            except FileNotFoundError:
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                pass  # left by a crashed process that had our pid

    def _publish_blob(self, tmp: str, final: str) -> None:
        try:
            os.replace(tmp, final)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)

    def put_blob_bytes(self, sha256: str, data: bytes, *, verified: bool = False) -> Path:
        """Store ``data`` as blob ``sha256``; idempotent and safe against concurrent writers.

        The hash is checked first (IntegrityError, nothing written) unless the
        caller has just ``verified`` it itself.
        """
        final = self._blob(check_sha(sha256))
        if not verified:
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha256:
                raise _mismatch("content", sha256, actual)
        if self.has_blob(sha256, len(data)):
            return Path(final)
        return self.put_blob_stream(sha256, (data,))

    def put_blob_stream(self, sha256: str, pieces: Iterable[bytes]) -> Path:
        """Store the content ``pieces`` make as blob ``sha256``, written piece by piece.

        The caller's ``pieces`` verify the content themselves: an iterator that
        raises (a sha256 mismatch at its end) leaves nothing behind.
        """
        final = self._blob(check_sha(sha256))
        self.prepare()
        fd, tmp = self._new_tmp_file()
        try:
            try:
                with os_errors_name(tmp):
                    for piece in pieces:
                        write_all(fd, piece)
            finally:
                os.close(fd)
            good = self._settle(tmp)
            self._publish_blob(tmp, final)
            self._note_good(sha256, good)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Path(final)

    def put_blob_file(self, sha256: str, src: Path) -> Path:
        """Store the file ``src`` as blob ``sha256``, hashing while copying."""
        final = self._blob(check_sha(sha256))
        try:
            size = os.stat(src).st_size
        except FileNotFoundError:
            raise LocalPathNotFoundError(f"{src} does not exist", path=str(src)) from None
        if self.has_blob(sha256, size):
            actual = hash_file(src)
            if actual != sha256:
                raise _mismatch(str(src), sha256, actual)
            return Path(final)
        self.prepare()
        fd, tmp = self._new_tmp_file()
        try:
            h = hashlib.sha256()
            try:
                with open(src, "rb", buffering=0) as fh, os_errors_name(tmp):
                    while block := fh.read(_BLOCK):
                        h.update(block)
                        write_all(fd, block)
            finally:
                os.close(fd)
            if h.hexdigest() != sha256:
                raise _mismatch(str(src), sha256, h.hexdigest())
            good = self._settle(tmp)
            self._publish_blob(tmp, final)
            self._note_good(sha256, good)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Path(final)

    def salvage(self, root: Path, files: Iterable[tuple[str, str]]) -> int:
        """Keep what an interrupted download already wrote under ``root``.

        Each file whose content hashes to its sha256 becomes a blob (hardlinked
        and made read-only, or copied across filesystems); partial or damaged
        files are skipped.  Returns how many blobs were kept.  Call it before
        ``root`` is deleted, so the next attempt downloads only the rest.
        """
        self.prepare()
        kept = 0
        seen: set[str] = set()
        for rel, sha in files:
            if sha in seen:
                continue
            seen.add(sha)
            path = os.path.join(root, rel)
            final = self._blob(check_sha(sha))
            try:
                if os.path.exists(final) or hash_file(path) != sha:
                    continue
                os.chmod(path, 0o444)
                good = self._settle(path)
                os.makedirs(os.path.dirname(final), exist_ok=True)
                try:
                    os.link(path, final)
                    self._note_good(sha, good)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    self.put_blob_file(sha, Path(path))
                kept += 1
            except (OSError, IntegrityError):
                continue  # not written yet, partial, or raced: simply not kept
        return kept

    # ------------------------------------------------------------- integrity
    def _settle(self, path: str) -> BlobStat:
        """Set a new blob's mtime a little in the past; its stat as known good."""
        now = time.time_ns()
        os.utime(path, ns=(now, now - _SETTLE_NS))
        st = os.stat(path)
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def _note_good(self, sha256: str, good: BlobStat) -> None:
        with self._pending_lock:
            self._pending.append((sha256, good))
            full = len(self._pending) >= _PENDING_MAX
        if full:
            self._flush_good()

    def _flush_good(self) -> None:
        """Write the known-good stats noted in memory to state.db (one transaction)."""
        with self._pending_lock:
            rows, self._pending = self._pending, []
        self._uses.record_good(rows)

    def _forget(self, shas: Iterable[str], keys: Iterable[str]) -> None:
        gone = set(shas)
        with self._pending_lock:
            self._pending = [row for row in self._pending if row[0] not in gone]
        self._uses.forget(gone, keys)

    def _rehash(self, sha256: str, st: os.stat_result) -> tuple[bool, BlobStat | None]:
        """Hash a blob: whether it is intact, and its stat to record as good (None
        when it changed while being hashed or so recently that it may still change)."""
        path = self._blob(sha256)
        if hash_file(path) != sha256:
            return False, None
        try:
            after = os.stat(path)
        except OSError:
            return True, None
        good = (st.st_size, st.st_mtime_ns, st.st_ino)
        if (after.st_size, after.st_mtime_ns, after.st_ino) != good:
            return True, None
        if time.time_ns() - after.st_mtime_ns <= _RACY_NS:
            return True, None
        return True, good

    def check_blobs(self, sha256s: Iterable[str]) -> set[str]:
        """The blobs of ``sha256s`` that cannot be served: absent, or corrupt (now removed).

        One stat per blob: a blob whose (size, mtime_ns, inode) is the one on
        record from when it was last known good is served as is; any other is
        rehashed (and its stat recorded when it is intact).  Call it before
        handing blobs out (links, copies, reads).
        """
        wanted = sorted({check_sha(s) for s in sha256s})
        if not wanted:
            return set()
        self._flush_good()
        known = self._uses.good_stats(wanted)
        bad: set[str] = set()
        corrupt: list[str] = []
        verified: list[tuple[str, BlobStat]] = []
        for sha in wanted:
            try:
                st = os.stat(self._blob(sha))
            except OSError:
                bad.add(sha)
                continue
            if known.get(sha) == (st.st_size, st.st_mtime_ns, st.st_ino):
                continue
            intact, good = self._rehash(sha, st)
            if not intact:
                corrupt.append(sha)
            elif good is not None:
                verified.append((sha, good))
        self._uses.record_good(verified)
        for sha in corrupt:
            self.remove_blob(sha)
        return bad | set(corrupt)

    def check_copy(
        self,
        key: str,
        files: list[tuple[str, str]],
        executables: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether the published copy ``key`` still holds exactly ``files``' content,
        the paths in ``executables`` (and only those) executable.

        One stat per file: a file that is its blob (a hardlink) with the
        blob's known-good stat is intact; others (executables: their own copies)
        are hashed.  A damaged copy, or one whose execute bits differ (built by
        an older gd), is removed (with any corrupt blob) and False returned:
        build it again.
        """
        root = str(self.copy_path(key))
        check_files(files)
        self._flush_good()
        wrong_mode = False

        def suspects(known: dict[str, BlobStat], todo: list[tuple[str, str]]):
            nonlocal wrong_mode
            out = []
            for rel, sha in todo:
                try:
                    st = os.lstat(f"{root}/{rel}")
                except OSError:
                    out.append((rel, sha))
                    continue
                if bool(st.st_mode & stat.S_IXUSR) != (rel in executables):
                    wrong_mode = True
                if known.get(sha) != (st.st_size, st.st_mtime_ns, st.st_ino):
                    out.append((rel, sha))
            return out

        todo = suspects(self._uses.good_stats(sha for _, sha in files), files)
        if wrong_mode:
            if self._owned():
                self._remove_copies([key])
                self._forget([], [key])
            return False
        if not todo:
            return True
        # the blobs behind them first: a corrupt blob takes the copies holding it away
        bad = self.check_blobs(sha for _, sha in todo)
        if not os.path.isdir(root):
            return False
        todo = suspects(self._uses.good_stats(sha for _, sha in todo), todo)
        for rel, sha in todo:
            path = f"{root}/{rel}"
            regular = os.path.isfile(path) and not os.path.islink(path)
            if sha in bad or not regular or hash_file(path) != sha:
                if self._owned():
                    self._remove_copies([key])
                    self._forget([], [key])
                return False
        return True

    def verify_blob(self, sha256: str) -> bool:
        """Rehash one blob: True if intact; a corrupt one is removed (False); absent is False."""
        path = self._blob(check_sha(sha256))
        try:
            st = os.stat(path)
        except OSError:
            return False
        intact, good = self._rehash(sha256, st)
        if not intact:
            self.remove_blob(sha256)
            return False
        if good is not None:
            self._uses.record_good([(sha256, good)])
        return True

    def remove_blob(self, sha256: str) -> None:
        """Remove a blob, and any copy holding it (a copy must not outlive its content)."""
        path = self._blob(check_sha(sha256))
        if not self._owned():
            return
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:
            inode = None
        doomed = self._copies_holding({sha256}, set() if inode is None else {inode})
        self._remove_copies(doomed)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._forget([sha256], doomed)

    def _scan_blobs(self) -> dict[str, BlobInfo]:
        """Every blob on disk: sha256 -> size, write time, inode."""
        return dict(self._iter_blobs())

    def _iter_blobs(self) -> Iterator[tuple[str, BlobInfo]]:
        """(sha256, size/write time/inode) of every blob on disk, one blob folder at a time."""
        if not real_dir(self._blobs):
            return  # absent, or a symlink: gd never made it so
        try:
            tops = [e for e in os.scandir(self._blobs) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return
        for top in tops:
            try:
                entries = list(os.scandir(top.path))
            except FileNotFoundError:
                continue
            for e in entries:
                # only files of the shape gd gives blobs: others are not gd's to touch
                if not is_blob_name(top.name, e.name):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if e.is_file(follow_symlinks=False):
                        st = e.stat(follow_symlinks=False)
                        yield e.name, BlobInfo(st.st_size, st.st_mtime, e.inode())

    # ----------------------------------------------------------------- copies
    def copy_path(self, key: str) -> Path:
        """Where the read-only copy ``key`` lives (whether or not it is there)."""
        return self.copies_dir / check_key(key)

    def has_copy(self, key: str) -> bool:
        """The copy ``key`` is published."""
        return self.copy_path(key).is_dir()

    def publish_copy(
        self,
        key: str,
        files: list[tuple[str, str]],
        fill: Callable[[Path, list[tuple[str, str]]], None] | None = None,
        executables: frozenset[str] = frozenset(),
    ) -> Path:
        """Build the read-only tree ``key`` of hardlinks to blobs and rename it into place.

        The paths in ``executables`` are their own read-only copies with execute
        permission (0555) instead: a blob is shared, and 0444.

        ``files`` are (relative posix path, sha256).  Blobs the cache lacks are
        written by ``fill(staging, [(path, sha256), ...])`` (one path per missing
        content; the content already verified, mode 0444) and then adopted into
        blobs/ with a hardlink: one write per new content instead of two.
        Without ``fill`` a missing blob is an IntegrityError.  If another
        process publishes the same key first, its tree is kept and ours dropped.
        """
        final = self.copy_path(key)
        check_files(files)
        with self.shared_lock():
            if final.is_dir():
                return final
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            staging = tempfile.mkdtemp(dir=self.tmp_dir, prefix="copy-")
            try:
                self._build_copy(key, files, staging, fill, executables)
                self.copies_dir.mkdir(parents=True, exist_ok=True)
                try:
                    os.rename(staging, final)
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not final.is_dir():
                        raise
                    remove_tree(staging)  # another process published it first
                    return final
            except BaseException:
                if fill is not None:
                    self.salvage(Path(staging), files)
                remove_tree(staging)
                raise
            chmod_dirs([str(final)], READONLY_DIR)
        return final

    def _build_copy(
        self,
        key: str,
        files: list[tuple[str, str]],
        staging: str,
        fill: Callable[[Path, list[tuple[str, str]]], None] | None,
        executables: frozenset[str] = frozenset(),
    ) -> None:
        """Fill ``staging`` with the copy's files, record its blobs, make folders read-only."""
        missing: dict[str, str] = {}  # sha256 -> first path needing it
        unusable = self.check_blobs(sha for _, sha in files)  # absent or corrupt (removed)
        for rel, sha in files:
            if sha not in missing and sha in unusable:
                missing[sha] = rel
        if missing:
            if fill is None:
                sha, rel = next(iter(missing.items()))
                raise missing_blob(sha, rel)
            fill(Path(staging), [(rel, sha) for sha, rel in missing.items()])
            for sha, rel in missing.items():
                self._adopt(f"{staging}/{rel}", sha, rel)
        adopted = set(missing.values())
        for rel in adopted & executables:  # now the blob itself: an own copy replaces it
            os.unlink(f"{staging}/{rel}")
        link_files(
            [f for f in files if f[0] not in adopted or f[0] in executables],
            staging,
            self._blob,
            fallback="copy",
            executables=executables,
        )
        self._uses.record_copy(key, (sha for _, sha in files))
        folders = parent_folders(rel for rel, _ in files)
        chmod_dirs((f"{staging}/{f}" for f in folders), READONLY_DIR)

    def _adopt(self, path: str, sha256: str, rel: str) -> None:
        """Make a verified read-only file of a staging tree the blob ``sha256`` (hardlink)."""
        final = self._blob(sha256)
        good = self._settle(path)
        for _attempt in range(2):
            try:
                os.link(path, final)
                self._note_good(sha256, good)
                return
            except FileExistsError:
                return  # another process stored it meanwhile: same content
            except FileNotFoundError:
                if not os.path.exists(path):
                    raise missing_blob(sha256, rel) from None
                os.makedirs(os.path.dirname(final), exist_ok=True)
        os.link(path, final)
        self._note_good(sha256, good)

    def _copy_keys(self) -> list[str]:
        """Published copies: folders under copies/ named as gd names them (others are not gd's)."""
        if not real_dir(self.copies_dir):
            return []
        try:
            entries = list(os.scandir(self.copies_dir))
        except FileNotFoundError:
            return []
        return sorted(
            e.name for e in entries if is_copy_key(e.name) and e.is_dir(follow_symlinks=False)
        )

    def _copies_holding(self, shas: set[str], inodes: set[int]) -> set[str]:
        """Published copies that hold any of these blobs.

        Copies on record are looked up in state.db; copies with no record (the
        database was lost) are searched for the blobs' inodes.
        """
        on_disk = set(self._copy_keys())
        if not on_disk or not shas:
            return set()
        recorded = self._uses.copies_containing(shas)
        known = self._uses.known_copies()
        if recorded is None or known is None:
            recorded, known = set(), set()
        doomed = recorded & on_disk
        for key in sorted(on_disk - known):
            if tree_has_inode(str(self.copies_dir / key), inodes):
                doomed.add(key)
        return doomed

    def _remove_copies(self, keys: Iterable[str]) -> None:
        """Take each copy away from its key at once (rename), then delete it."""
        for key in sorted(keys):
            path = self.copies_dir / check_key(key)
            if not real_dir(path) or not real_dir(self.copies_dir):
                continue
            trash = self.tmp_dir / f"{_TRASH}{key}-{os.getpid()}-{next(_seq)}"
            try:
                os.chmod(path, WRITABLE_DIR)  # moving a folder rewrites its '..' entry
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                if not real_dir(self.tmp_dir):
                    remove_tree(path)  # never move anything through a link
                    continue
                os.rename(path, trash)
            except FileNotFoundError:
                continue
            remove_tree(trash)

    # ------------------------------------------------------------ materialise
    def link_tree(
        self,
        files: list[tuple[str, str]],
        target: Path,
        executables: frozenset[str] = frozenset(),
    ) -> None:
        """Hardlink blobs to ``target/<path>`` (symlinks when hardlinks are impossible);
        the paths in ``executables`` are read-only copies with execute permission.

        ``target`` is created if needed and must not already hold these paths.
        """
        check_files(files)
        target_s = os.path.abspath(target)
        with self.shared_lock():
            os.makedirs(target_s, exist_ok=True)
            link_files(files, target_s, self._blob, fallback="symlink", executables=executables)

    def copy_tree(
        self,
        files: list[tuple[str, str]],
        target: Path,
        progress: Progress | None = None,
        *,
        staged: bool = False,
    ) -> list[str]:
        """Copy blobs to ``target/<path>`` as independent writable files.

        Each blob is checked first (one stat against its known-good stat, a
        rehash when that differs: :meth:`check_blobs`), then copied in the
        kernel where it can (reflink, copy_file_range) under a temporary name and
        renamed into place (``staged``: a staging folder that holds none of these
        paths and that no one sees before it is complete; files are written under
        their names at once).  Returns the paths not delivered: their blob was
        corrupt (and is now removed from the cache) or absent; the caller
        refetches them.  ``progress`` advances once per file.
        """
        check_files(files)
        progress = progress or NULL_PROGRESS
        target_s = os.path.abspath(target)
        with self.shared_lock():
            os.makedirs(target_s, exist_ok=True)
            unusable = self.check_blobs(sha for _, sha in files)
            start_counting(progress, "copying", len(files))
            try:
                bad = [rel for rel, sha in files if sha in unusable]
                good = [f for f in files if f[1] not in unusable]
                if bad:
                    progress.advance(len(bad))
                bad += copy_files(good, target_s, self._blob, progress, staged=staged)
            finally:
                progress.finish()
        order = {rel: i for i, (rel, _) in enumerate(files)} if bad else {}
        return sorted(bad, key=order.__getitem__)

    # -------------------------------------------------- use and eviction
    def touch(self, sha256s: Iterable[str], copy_key: str | None = None) -> None:
        """Record that these blobs (and the copy ``copy_key``) were just used."""
        if copy_key is not None:
            check_key(copy_key)
        self.prepare()
        self._flush_good()
        self._uses.touch(set(sha256s), copy_key, time.time())

    def usage(self) -> CacheUsage:
        """What the cache holds now."""
        total = count = 0
        for _sha, info in self._iter_blobs():  # streamed: a million blobs are never held
            total += info.size
            count += 1
        return CacheUsage(bytes=total, blobs=count, copies=len(self._copy_keys()))

    def may_exceed(self, limit_bytes: int) -> bool:
        """Whether the cache may hold more than ``limit_bytes``, without listing it
        when the record allows: the known-good blobs on record are summed (one
        query), and only when that is over the limit, unknown, or the last full
        listing is older than :data:`USAGE_RESCAN_SECONDS` are all blobs measured.
        A get asks this after every run, so it must not cost a stat per blob."""
        self._flush_good()
        recorded = self._uses.recorded_bytes()
        last = self._uses.last_scan()
        now = time.time()
        if (
            recorded is not None
            and recorded <= limit_bytes
            and last is not None
            and 0 <= now - last < USAGE_RESCAN_SECONDS
        ):
            return False
        over = self.usage().bytes > limit_bytes
        self._uses.note_scan(now)
        return over

    def prune(self, limit_bytes: int | None = None, *, dry_run: bool = False) -> PruneReport:
        """Evict least-recently-used blobs, and the copies holding them, down to the limit.

        ``limit_bytes`` defaults to the cache's ``size_limit``; no limit at all
        evicts nothing.  A dry run reports without removing anything.
        """
        limit = self.size_limit if limit_bytes is None else limit_bytes
        if limit is not None and limit < 0:
            raise InvalidInputError(f"cache size limit must not be negative: {limit}")
        if not self._owned():
            return PruneReport(0, 0, 0, 0)
        with self.exclusive_lock():
            left = self._sweep_tmp(dry_run)
            blobs = self._scan_blobs()
            total = sum(info.size for info in blobs.values())
            if limit is None or total <= limit:
                return PruneReport(0, 0, 0, total, left.entries, left.bytes)
            last_used = self._uses.last_used()
            evict = plan_eviction(blobs, last_used, limit)
            freed = sum(blobs[sha].size for sha in evict)
            doomed = self._copies_holding(set(evict), {blobs[sha].inode for sha in evict})
            if not dry_run:
                self._remove_copies(doomed)
                for sha in evict:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self._blob(sha))
                gone = set(evict) | (last_used.keys() - blobs.keys())
                self._forget(gone, doomed)
            return PruneReport(
                len(evict), len(doomed), freed, total - freed, left.entries, left.bytes
            )

    def _scan_leftovers(self, locked: bool) -> list[tuple[str, int]]:
        """(path, bytes freed) of what killed processes left (docs/format.md §10).

        Only entries of the shapes gd makes, never through a symlink: ``tmp/``
        entries (owned.TMP_PREFIXES) not written for an hour, and temporary files
        of records and the marker as old.  With the lock held exclusive
        (``locked``), also what is only made under the shared lock (``copy-*``
        folders, ``get-*`` files) and ``trash-*``: no process is using them.
        """
        out: list[tuple[str, int]] = []
        stale = time.time() - _STALE_TMP_SECONDS

        def add(e: os.DirEntry[str], now: bool = False) -> None:
            with contextlib.suppress(OSError):
                st = e.stat(follow_symlinks=False)
                if now or st.st_mtime < stale:
                    out.append((e.path, _freed(e.path, st)))

        if real_dir(self.tmp_dir):
            for e in _scan(self.tmp_dir):
                if not is_tmp_name(e.name) or e.is_symlink():
                    continue  # gd makes files and folders there, never links
                is_dir = e.is_dir(follow_symlinks=False)
                now = locked and (
                    e.name.startswith(_TRASH)
                    or (is_dir and e.name.startswith(_UNDER_LOCK_DIRS))
                    or (not is_dir and e.name.startswith(_UNDER_LOCK_FILES))
                )
                add(e, now)
        records = self.root / "records"
        if real_dir(records):
            for store in _scan(records):
                if is_store_folder(store.name) and store.is_dir(follow_symlinks=False):
                    for e in _scan(store.path):
                        if is_temp_name(e.name) and e.is_file(follow_symlinks=False):
                            add(e)
        for e in _scan(self.root):
            marker_tmp = e.name.startswith(CACHE_MARKER) and e.name.endswith(".tmp")
            if marker_tmp and e.is_file(follow_symlinks=False):
                add(e)
        return sorted(out)

    def leftovers(self) -> Leftovers:
        """What killed processes left here that the next prune removes (changes nothing).

        Entries only ever in use under the cache lock count only when no other
        process holds the lock now.
        """
        if not real_dir(self.root):
            return Leftovers(0, 0)
        if not has_marker(self.root):
            found = self._scan_leftovers(locked=False)  # not ours to lock
        else:
            with self._lock.try_exclusive() as locked:
                found = self._scan_leftovers(locked)
        return Leftovers(len(found), sum(size for _, size in found))

    def _sweep_tmp(self, dry_run: bool = False) -> Leftovers:
        """Delete what killed processes left (see :meth:`_scan_leftovers`); the
        caller holds the lock exclusive.  Returns what was (or would be) removed."""
        found = self._scan_leftovers(locked=True)
        if not dry_run:
            for path, _ in found:
                with contextlib.suppress(FileNotFoundError):
                    remove_tree(path)
        return Leftovers(len(found), sum(size for _, size in found))

    def clear(self) -> None:
        """Remove every blob and copy (and stale staging); the lock and databases stay.

        Only entries of gd's shapes go: a file someone put into the folder stays.
        """
        if not self._owned():
            return
        with self.exclusive_lock():
            self._remove_copies(self._copy_keys())
            for sha in self._scan_blobs():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._blob(sha))
            if real_dir(self._blobs):
                for top in os.scandir(self._blobs):
                    if is_blob_folder(top.name) and top.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            os.rmdir(top.path)  # only if empty: a foreign file keeps it
            self._sweep_tmp()
            with self._pending_lock:
                self._pending = []
            self._uses.clear()

    def verify_all(self) -> list[str]:
        """Rehash every blob; remove the corrupt ones (and copies holding them) and return them.

        The stat of every intact blob is recorded as known good, so serving it
        needs no hash until it changes.
        """
        if not self._owned():
            return []
        with self.exclusive_lock():
            self._flush_good()
            blobs = self._scan_blobs()
            bad: list[str] = []
            verified: list[tuple[str, BlobStat]] = []
            for sha in sorted(blobs):
                try:
                    st = os.stat(self._blob(sha))
                except FileNotFoundError:
                    continue
                intact, good = self._rehash(sha, st)
                if not intact:
                    bad.append(sha)
                elif good is not None:
                    verified.append((sha, good))
            self._uses.record_good(verified)
            if bad:
                doomed = self._copies_holding(set(bad), {blobs[sha].inode for sha in bad})
                self._remove_copies(doomed)
                for sha in bad:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self._blob(sha))
                self._forget(bad, doomed)
            return bad

    def close(self) -> None:
        """Write pending bookkeeping and close the database (reopened on next use)."""
        self._flush_good()
        self._uses.close()
