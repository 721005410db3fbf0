"""Local, per-user state: open drafts and the "current dataset" marker.

Layout under ``Settings.state_dir`` (``$XDG_STATE_HOME/gitdata``)::

    drafts/<id>.db       one open draft (sqlite, WAL): its metadata and its changes
                         against the merged parents (gitdata.ops.draftdb); a command's
                         edits are one transaction, committed when it saves the draft
    drafts/<id>.json     a draft an older gd wrote (format 1): read, and replaced by a
                         database when it is next saved
    drafts/<id>.lock     flock held while a process edits that draft
    drafts/<id>.oneshot  marks a draft a one-shot ``gd sync --project --name`` made
                         (JSON: project, name, storage); flock held while that
                         command runs, so a rerun resumes only an interrupted one.
                         Written before the draft, so a kill never leaves a
                         one-shot's draft without it; one whose draft is gone and
                         that nobody holds is a leftover (remove_leftovers)
    current              id of the dataset created or used last, outside any git
                         work tree (machine-wide)
    repos/<key>.json     the same marker for one git work tree (key: the first 16
                         hex of the SHA-256 of its real path; JSON: worktree,
                         current), so each repository has its own current dataset
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitdata.core.ids import is_version_id
from gitdata.core.manifest import Manifest
from gitdata.errors import DatasetNotFoundError, FormatError, os_errors_name
from gitdata.ops import draftdb
from gitdata.ops.draftdb import DbChanges
from gitdata.ops.draftfiles import DraftFile, DraftFiles

DRAFT_FORMAT = 1  # drafts/<id>.json of older gd; drafts/<id>.db is draftdb.DB_FORMAT
_STALE_TMP_SECONDS = 3600  # an atomic write's temp file this old belongs to a killed process
_CLAIM_ATTEMPTS = 100

# parents -> their merged files (parent merge order), supplied by the context; for a
# single parent its manifest itself (read lazily, page by page, when paged).
BaseLoader = Callable[[list[str]], Manifest]

__all__ = ["Draft", "DraftFile", "DraftFiles", "DraftHeader", "StateDir"]


@dataclass
class Draft:
    """A version being built: metadata plus the full file map (parents merged in)."""

    id: str
    project: str
    name: str
    version: str
    parents: list[str]
    tags: list[str]
    description: str
    created: str
    storage: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files: DraftFiles = field(default_factory=DraftFiles)
    # True when gd picked ``version`` (no --version given): close may then move it to
    # the next free number if another machine closed that one first (docs/format.md §12)
    auto_version: bool = False

    def meta_doc(self) -> dict[str, Any]:
        """The draft's metadata as its database stores it (its files are rows)."""
        return {
            "format": draftdb.DB_FORMAT,
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "parents": self.parents,
            "tags": self.tags,
            "description": self.description,
            "created": self.created,
            "storage": self.storage,
            "metadata": self.metadata,
            "auto_version": self.auto_version,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], source: str, base_loader: BaseLoader) -> Draft:
        """The draft a format-1 ``drafts/<id>.json`` document describes (an older gd's);
        its parents' files are read only when first needed."""
        if doc.get("format") != DRAFT_FORMAT:
            raise FormatError(f"draft {source} has an unknown format", file=source)
        try:
            changed = {p: DraftFile(*row) for p, row in doc["changed"].items()}
            return cls.from_meta(doc, source, base_loader, changed, doc["removed"])
        except (KeyError, TypeError) as exc:
            raise FormatError(f"draft {source} is damaged ({exc})", file=source) from None

    @classmethod
    def from_meta(
        cls,
        doc: dict[str, Any],
        source: str,
        base_loader: BaseLoader,
        changed: DbChanges | dict[str, DraftFile],
        removed: list[str],
    ) -> Draft:
        """The draft of a metadata document and its own files; its parents' files
        are read only when first needed."""
        try:
            parents = list(doc["parents"])
            if not isinstance(removed, list) or not all(isinstance(p, str) for p in removed):
                raise TypeError("removed is not a list of paths")

            def base() -> Manifest:
                return base_loader(parents)

            files = DraftFiles(base if parents else None, changed, removed)
            return cls(
                id=doc["id"],
                project=doc["project"],
                name=doc["name"],
                version=doc["version"],
                parents=parents,
                tags=list(doc["tags"]),
                description=doc["description"],
                created=doc["created"],
                storage=doc["storage"],
                metadata=dict(doc.get("metadata") or {}),
                files=files,
                auto_version=doc.get("auto_version") is True,  # older drafts: explicit
            )
        except (KeyError, TypeError) as exc:
            raise FormatError(f"draft {source} is damaged ({exc})", file=source) from None


@dataclass(frozen=True)
class DraftHeader:
    """A draft's metadata, read without merging its parents' files."""

    id: str
    project: str
    name: str
    version: str
    parents: list[str]
    tags: list[str]
    description: str
    created: str


class StateDir:
    """Reads and writes drafts and the current-dataset marker."""

    def __init__(self, root: Path, base_loader: BaseLoader, worktree: Path | None = None) -> None:
        self.root = root
        self.base_loader = base_loader
        self.worktree = worktree
        self.drafts_dir = root / "drafts"
        # id -> (signature, Draft): skips re-reading a draft this process wrote or read
        # last, as long as no other process changed it (for a database: its inode and
        # sqlite's data_version; for a format-1 file: inode, mtime, size).
        self._memo: dict[str, tuple[tuple[Any, ...], Draft]] = {}
        # id -> (stat signature of its files, Draft) of snapshot_draft
        self._snapshots: dict[str, tuple[tuple[Any, ...], Draft]] = {}

    @staticmethod
    def _db_signature(path: Path, db: DbChanges) -> tuple[Any, ...]:
        return ("db", os.stat(path).st_ino, db.data_version())

    def _signature_of(self, draft_id: str, draft: Draft) -> tuple[Any, ...] | None:
        """The draft's signature as it is on disk now (None: gone)."""
        changes = draft.files.changed
        try:
            if isinstance(changes, DbChanges) and changes.path == self.draft_path(draft_id):
                return self._db_signature(changes.path, changes)
            return ("json", *_stat_key(self.legacy_path(draft_id)))
        except (OSError, sqlite3.Error):
            return None

    def forget(self, draft_id: str) -> None:
        """Drop the in-process copy and its unsaved edits (after a failed edit)."""
        memo = self._memo.pop(draft_id, None)
        if memo is not None:
            changes = memo[1].files.changed
            if isinstance(changes, DbChanges):
                changes.rollback()

    def draft_path(self, draft_id: str) -> Path:
        """The draft's database."""
        return self.drafts_dir / f"{draft_id}.db"

    def legacy_path(self, draft_id: str) -> Path:
        """Where an older gd kept the draft (format 1, JSON)."""
        return self.drafts_dir / f"{draft_id}.json"

    def _exists(self, draft_id: str) -> bool:
        return self.draft_path(draft_id).exists() or self.legacy_path(draft_id).exists()

    def has_draft(self, draft_id: str) -> bool:
        return is_version_id(draft_id) and self._exists(draft_id)

    def load_draft(self, draft_id: str) -> Draft:
        memo = self._memo.get(draft_id)
        if memo is not None:
            if self._signature_of(draft_id, memo[1]) == memo[0]:
                return memo[1]
            self._memo.pop(draft_id, None)
        path = self.draft_path(draft_id)
        draft = self._open_db(draft_id, path) if path.exists() else self._load_legacy(draft_id)
        signature = self._signature_of(draft_id, draft)
        if signature is not None:
            self._memo[draft_id] = (signature, draft)
        return draft

    def snapshot_draft(self, draft_id: str) -> Draft:
        """The draft as it is now, frozen (reads never see later edits, by any process):
        what a close compares with a record another process closed, and what a
        ``Dataset`` object shows.  Never edit it; reused while the draft's files are
        unchanged."""
        path = self.draft_path(draft_id)
        try:
            signature = _files_signature(path)
        except FileNotFoundError:
            return self._load_legacy(draft_id)  # (in memory: a snapshot already)
        memo = self._snapshots.get(draft_id)
        if memo is not None and memo[0] == signature:
            return memo[1]
        draft = self._open_db(draft_id, path, frozen=True)
        self._snapshots[draft_id] = (signature, draft)
        return draft

    def _open_db(self, draft_id: str, path: Path, *, frozen: bool = False) -> Draft:
        source = str(path)
        try:
            conn = draftdb.connect(path)
        except sqlite3.Error:
            raise draftdb.damaged(path) from None
        try:
            if frozen:
                conn.execute("BEGIN")  # the first read pins what every later one sees
            doc = draftdb.read_meta(conn, source)
            changes = DbChanges(conn, path, frozen=frozen)
            removed = changes.stored_removed()
        except sqlite3.Error:
            conn.close()
            raise draftdb.damaged(path) from None
        except BaseException:
            conn.close()
            raise
        return Draft.from_meta(doc, source, self.base_loader, changes, removed)

    def _load_legacy(self, draft_id: str) -> Draft:
        path = self.legacy_path(draft_id)
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise DatasetNotFoundError(f"no open draft {draft_id}", dataset_id=draft_id) from None
        except ValueError:
            raise draftdb.damaged(path) from None
        if not isinstance(doc, dict):
            raise draftdb.damaged(path)
        return Draft.from_json(doc, str(path), self.base_loader)

    def save_draft(self, draft: Draft) -> None:
        """Make the draft's edits durable: commit its database's transaction, or
        write a new database (a new draft, or one of an older gd) and rename it in."""
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        path = self.draft_path(draft.id)
        files = draft.files
        changes = files.changed
        if isinstance(changes, DbChanges) and changes.path == path:
            removed = files.removed if files.removed_changed else None
            changes.commit(draft.meta_doc(), removed)
        else:
            fd, tmp = tempfile.mkstemp(dir=self.drafts_dir, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            try:
                with os_errors_name(tmp), draftdb.disk_errors(Path(tmp)):
                    draftdb.create(Path(tmp), draft.meta_doc(), changes.items(), files.removed)
                    os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            try:
                with draftdb.disk_errors(path):
                    conn = draftdb.connect(path)
                    conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # (opens the log)
            except BaseException:
                # a new draft (or one of an older gd, whose file is still there)
                for made in (path, path.with_name(path.name + "-wal")):
                    with contextlib.suppress(FileNotFoundError):
                        made.unlink()
                raise
            files.rebind(DbChanges(conn, path))
            with contextlib.suppress(FileNotFoundError):
                self.legacy_path(draft.id).unlink()  # a format-1 draft, now migrated
        files.mark_saved()
        signature = self._signature_of(draft.id, draft)
        if signature is not None:
            self._memo[draft.id] = (signature, draft)

    def delete_draft(self, draft_id: str) -> None:
        memo = self._memo.pop(draft_id, None)
        if memo is not None:
            changes = memo[1].files.changed
            if isinstance(changes, DbChanges):
                # Left open: who still holds this Draft (a close comparing what it
                # meant to close) reads it from the unlinked files.
                changes.rollback()
        db = self.draft_path(draft_id)
        for path in (
            db,
            db.with_name(db.name + "-wal"),
            db.with_name(db.name + "-shm"),
            self.legacy_path(draft_id),
            self.drafts_dir / f"{draft_id}.lock",
            self._one_shot_path(draft_id),
        ):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def draft_storage(self, draft_id: str) -> str | None:
        """The store URL a draft writes to, read without merging its parents' files."""
        memo = self._memo.get(draft_id)
        if memo is not None and self._signature_of(draft_id, memo[1]) == memo[0]:
            return memo[1].storage
        doc = self._read_meta(draft_id)
        storage = doc.get("storage") if doc is not None else None
        return storage if isinstance(storage, str) else None

    def _read_meta(self, draft_id: str) -> dict[str, Any] | None:
        """A draft's metadata document, or None if it cannot be read."""
        path = self.draft_path(draft_id)
        if path.exists():
            return draftdb.read_meta_file(path)
        try:
            doc = json.loads(self.legacy_path(draft_id).read_bytes())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def draft_ids(self) -> list[str]:
        """Ids of this machine's open drafts (file names only: nothing is read)."""
        if not self.drafts_dir.is_dir():
            return []
        ids = {
            p.stem
            for pattern in ("*.db", "*.json")
            for p in self.drafts_dir.glob(pattern)
            if is_version_id(p.stem)
        }
        return sorted(ids)

    def draft_roots(self) -> tuple[set[str], set[str]]:
        """(parents, chunks) of every open draft, read from the drafts themselves (gc):
        a draft whose parents cannot be loaded any more still names them, and what it
        uploaded.  A damaged draft is skipped (it is reported when it is opened)."""
        parents: set[str] = set()
        chunks: set[str] = set()
        for draft_id in self.draft_ids():
            path = self.draft_path(draft_id)
            if path.exists():
                roots = draftdb.read_roots(path)
                if roots is not None:
                    parents.update(roots[0])
                    chunks |= roots[1]
                continue
            try:
                doc = json.loads(self.legacy_path(draft_id).read_bytes())
                parents |= {p for p in doc.get("parents") or [] if isinstance(p, str)}
                for row in (doc.get("changed") or {}).values():
                    if isinstance(row, list) and len(row) > 4 and isinstance(row[4], str):
                        chunks.add(row[4])
            except (OSError, ValueError, AttributeError, TypeError):
                continue
        return parents, chunks

    def home_ids(self) -> list[str]:
        """Ids of the versions closed on this machine (see :meth:`remember_home`)."""
        homes = self.root / "homes"
        if not homes.is_dir():
            return []
        return sorted(p.name for p in homes.iterdir() if is_version_id(p.name))

    def list_draft_headers(self) -> list[DraftHeader]:
        """Every open draft's metadata; cheap (no parent manifests, no store access)."""
        out = []
        for draft_id in self.draft_ids():
            doc = self._read_meta(draft_id)
            if doc is not None:
                try:
                    out.append(
                        DraftHeader(
                            doc["id"],
                            doc["project"],
                            doc["name"],
                            doc["version"],
                            list(doc["parents"]),
                            list(doc["tags"]),
                            doc["description"],
                            doc["created"],
                        )
                    )
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # a damaged draft is reported when it is opened
        return out

    def list_drafts(self) -> list[Draft]:
        out = []
        for draft_id in self.draft_ids():
            with contextlib.suppress(FormatError, DatasetNotFoundError):
                out.append(self.load_draft(draft_id))
        return out

    @contextlib.contextmanager
    def draft_lock(self, draft_id: str) -> Iterator[None]:
        """Exclusive lock so two gd processes never interleave edits of one draft."""
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.drafts_dir / f"{draft_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _one_shot_path(self, draft_id: str) -> Path:
        return self.drafts_dir / f"{draft_id}.oneshot"

    def claim_one_shot(
        self, draft_id: str, info: dict[str, Any] | None = None
    ) -> OneShotClaim | None:
        """Hold a one-shot sync's draft for the rest of this command.

        With ``info`` the draft is marked as made by a one-shot sync (the marker
        is created); without it only an existing marker is claimed.  None when
        there is no marker, or another running command holds it.
        """
        path = self._one_shot_path(draft_id)
        self.drafts_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(_CLAIM_ATTEMPTS):
            fd = _lock_existing(path, create=info is not None)
            if fd is None:
                if info is None:
                    return None
                # a new id's marker: only a sweep of leftovers can hold or remove it
                time.sleep(0.01)
                continue
            if info is not None:
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(info, sort_keys=True).encode())
            return OneShotClaim(fd)
        return None

    def unmark_one_shot(self, draft_id: str) -> None:
        """Make a one-shot sync's draft an ordinary one (``gd sync --skip-close``):
        no later one-shot sync resumes or discards it."""
        with contextlib.suppress(FileNotFoundError):
            self._one_shot_path(draft_id).unlink()

    def remove_leftovers(self) -> int:
        """Remove what killed commands left in ``drafts/``; returns how many files.

        A one-shot marker or a lock file whose draft is gone, once no running
        command holds it (its flock can be taken), and temp files of atomic
        writes not touched for an hour.  Drafts themselves are never removed here.
        """
        removed = 0
        try:
            entries = list(os.scandir(self.drafts_dir))
        except OSError:
            return 0
        stale = time.time() - _STALE_TMP_SECONDS
        for e in entries:
            stem, dot, kind = e.name.rpartition(".")
            with contextlib.suppress(OSError):
                if not e.is_file(follow_symlinks=False):
                    continue
                if kind in ("oneshot", "lock") and is_version_id(stem):
                    if self._exists(stem):
                        continue
                    fd = _lock_existing(Path(e.path), create=False)
                    if fd is None:
                        continue  # held by a running command (or gone)
                    try:
                        if not self._exists(stem):
                            os.unlink(e.path)
                            removed += 1
                    finally:
                        os.close(fd)
                elif (
                    e.name.startswith(".")
                    and kind in ("tmp", "tmp-wal", "tmp-shm")  # (a draft database being built)
                    and e.stat(follow_symlinks=False).st_mtime < stale
                ):
                    os.unlink(e.path)
                    removed += 1
        return removed

    def one_shot_drafts(self) -> list[tuple[DraftHeader, dict[str, Any]]]:
        """Open drafts a one-shot sync made, with what their marker records."""
        out = []
        for header in self.list_draft_headers():
            try:
                info = json.loads(self._one_shot_path(header.id).read_bytes())
            except (OSError, ValueError):
                continue
            if isinstance(info, dict):
                out.append((header, info))
        return out

    def remember_home(self, version_id: str, store_url: str) -> None:
        """Note the store a version made here was closed in (read back by :meth:`home_of`)."""
        homes = self.root / "homes"
        homes.mkdir(parents=True, exist_ok=True)
        atomic_write(homes / version_id, (store_url + "\n").encode())

    def home_of(self, version_id: str) -> str | None:
        """The store a version made on this machine was closed in, if known."""
        if not is_version_id(version_id):
            return None
        try:
            return (self.root / "homes" / version_id).read_text().strip() or None
        except OSError:
            return None

    @property
    def current_path(self) -> Path:
        """Where the current-dataset marker lives: per git work tree, else machine-wide."""
        if self.worktree is None:
            return self.root / "current"
        return self.root / "repos" / f"{worktree_key(self.worktree)}.json"

    def current(self) -> str | None:
        """The id of the dataset created or used last (here: this work tree, if any)."""
        try:
            raw = self.current_path.read_text()
        except OSError:
            return None
        value: object
        if self.worktree is None:
            value = raw.strip()
        else:
            try:
                doc = json.loads(raw)
            except ValueError:
                return None
            value = doc.get("current") if isinstance(doc, dict) else None
        return value if isinstance(value, str) and is_version_id(value) else None

    def set_current(self, version_id: str) -> None:
        path = self.current_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.worktree is None:
            data = version_id + "\n"
        else:
            data = json.dumps({"worktree": str(self.worktree), "current": version_id}) + "\n"
        atomic_write(path, data.encode())

    def restore_current(self, version_id: str | None) -> None:
        """Put back a marker read earlier with :meth:`current` (None: no marker)."""
        if version_id is not None:
            self.set_current(version_id)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.current_path.unlink()


def _files_signature(path: Path) -> tuple[Any, ...]:
    """Stat signature of a draft database and its write-ahead log (FileNotFoundError
    when there is no database)."""
    db = _stat_key(path)
    try:
        log: tuple[int, int, int] | None = _stat_key(path.with_name(path.name + "-wal"))
    except FileNotFoundError:
        log = None
    return (*db, log)


def _stat_key(path: Path) -> tuple[int, int, int]:
    """A file's (inode, mtime_ns, size): changes when it is rewritten or replaced."""
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def worktree_key(worktree: Path) -> str:
    """The file name stem of a work tree's current-dataset marker (its real path hashed)."""
    import hashlib

    real = os.path.realpath(worktree)
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _lock_existing(path: Path, *, create: bool) -> int | None:
    """An fd holding an flock on the file at ``path`` (created if ``create``); None when
    the file is absent or another process holds it.  The lock is re-checked to be on
    the file still at ``path``: one removed meanwhile as a leftover does not count."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        st, mine = os.stat(path), os.fstat(fd)
        if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)
    return None


class OneShotClaim:
    """A held one-shot marker (see :meth:`StateDir.claim_one_shot`); release when done."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        """Let another command claim the draft (if it still exists)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path`` and rename it into place."""
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to a temp file beside ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os_errors_name(tmp), os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
