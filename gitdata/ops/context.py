"""The engine object: one command's settings, bound to one store, with its caches.

A Context knows which store versions are read from and written to (the
configured one, or ``--storage``), which local caches serve it (blobs and
manifests by content hash, version records and their header index in a folder
per store), how the store's versions are listed (unreadable records skipped
with a warning) and numbered, and memoises parent merges.  Everything opens on first use, so cheap
commands stay cheap.  ``api.Dataset`` and ``repo_api.Workspace`` hold one.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitdata.config import Settings, resolve_settings
from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.merge import MergeResult, merged_view
from gitdata.ops.state import StateDir

if TYPE_CHECKING:  # imported lazily at run time: `gd status` needs neither
    from gitdata.cache import LocalCache, StatCache
    from gitdata.core.record import VersionRecord
    from gitdata.storage import FsspecStore


class Context:
    """Settings, the store they name, its caches and this machine's drafts (see module doc)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or resolve_settings()
        self._merged: dict[tuple[str, ...], MergeResult[FileEntry]] = {}
        self._files: dict[str, dict[str, FileEntry]] = {}
        self._stores: dict[str, FsspecStore] = {}
        # per-command memos of other modules (e.g. the store's metadata events)
        self.memo: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_storage(cls, storage: str | None = None) -> Context:
        """Resolve settings with an optional ``--storage`` override."""
        return cls(resolve_settings(storage=storage))

    @property
    def store(self) -> FsspecStore:
        """The configured store, to read from: it must exist (a read never creates one)."""
        return self._open(self.settings.storage, create=False)

    def store_for(self, url: str | None) -> FsspecStore:
        """The store at ``url`` (the configured one when None), to read from."""
        return self._open(url or self.settings.storage, create=False)

    def store_for_writing(self, url: str | None = None) -> FsspecStore:
        """The store at ``url`` (the configured one when None), to write to.

        Only writing commands (close, upload, the destination of a push) call this:
        a store that does not exist yet is initialised (folder, marker, and the
        bucket with ``create_bucket``).
        """
        return self._open(url or self.settings.storage, create=True)

    def _open(self, url: str, *, create: bool) -> FsspecStore:
        """Open and check a store once; config storage_options apply to its own cloud only.

        Without ``create`` a missing store raises :class:`StoreNotFoundError` and
        nothing is written (the default embedded store, not made yet, reads as empty).
        """
        from gitdata.errors import StoreNotFoundError

        hit = self._stores.get(url)
        if hit is not None:
            return hit  # checked (and, if new, initialised) already
        from gitdata.storage import open_store
        from gitdata.storage.opener import store_protocol

        same_cloud = store_protocol(url) == store_protocol(self.settings.storage)
        options = self.settings.storage_options if same_cloud else None
        store = open_store(url, options or None, retries=self.settings.retries)
        try:
            store.ensure_initialized(
                create=create, create_bucket=create and self.settings.create_bucket
            )
        except StoreNotFoundError:
            if not _is_default_store(url):
                raise
            # gd's own embedded store, before anything was closed on this machine: it
            # reads as empty (nothing is created); not remembered, so a write initialises it
            return store
        self._stores[url] = store
        return store

    @cached_property
    def cache(self) -> LocalCache:
        from gitdata.cache import LocalCache

        return LocalCache(self.settings.cache_dir, self.settings.cache_size_limit)

    @cached_property
    def stat_cache(self) -> StatCache:
        from gitdata.cache import StatCache

        self.cache.prepare()  # the folder is gd's cache (or new): see cache/owned.py
        return StatCache(self.settings.cache_dir / "stat.db")

    @cached_property
    def state(self) -> StateDir:
        return StateDir(self.settings.state_dir, self.parent_base, self.settings.repo_root)

    # ------------------------------------------------------------ versions
    def record(self, version_id: str) -> VersionRecord:
        """A closed version's record (local copy first, then the store)."""
        from gitdata.ops.reader import load_record

        return load_record(self, version_id)

    def manifest(self, sha256: str) -> Manifest:
        """A manifest by its hash (cache first, verified)."""
        from gitdata.ops.reader import load_manifest

        return load_manifest(self, sha256)

    def records(self) -> list[VersionRecord]:
        """Every readable closed version in the store, oldest first."""
        from gitdata.ops.reader import list_records

        return list_records(self)

    def taken_versions(self, project: str, name: str) -> list[str]:
        """Version strings ``project/name`` already uses: closed here or open as drafts."""
        # only drafting (create, squash) numbers versions: a writing command, so the
        # store it will close into may be initialised here (and --create-bucket honoured)
        self.store_for_writing()
        from gitdata.ops.records import dataset_headers

        taken = [h.version for h in dataset_headers(self, project, name)]
        taken += [
            d.version
            for d in self.state.list_draft_headers()
            if d.project == project and d.name == name
        ]
        return taken

    def next_version(self, project: str, name: str) -> str:
        """The version a new draft of ``project/name`` gets when none is given."""
        from gitdata.core.ids import next_version

        return next_version(self.taken_versions(project, name))

    def version_files(self, version_id: str) -> dict[str, FileEntry]:
        """A closed version's files, path -> entry; memoised for the last few versions,
        so a close that merges its parents and looks up their contents reads each
        parent's manifest (every page of a paged one) once."""
        hit = self._files.get(version_id)
        if hit is None:
            hit = self.manifest(self.record(version_id).manifest).as_dict()
            if len(self._files) >= 4:
                self._files.pop(next(iter(self._files)))
            self._files[version_id] = hit
        return hit

    def parent_base(self, parents: list[str]) -> Manifest:
        """What a draft of ``parents`` starts from: the one parent's manifest itself (a
        paged one is read page by page as needed), else their merged files."""
        if len(parents) == 1:
            return self.manifest(self.record(parents[0]).manifest)
        return Manifest.from_mapping(self.parent_files(parents))

    def parent_files(self, parents: list[str]) -> dict[str, FileEntry]:
        """The three-way merged files of ``parents`` (docs/format.md §7)."""
        return self.parent_merge(parents).files

    def parent_merge(self, parents: list[str]) -> MergeResult[FileEntry]:
        """Merged files of ``parents`` and the conflicts met (later parent kept); memoised."""
        key = tuple(parents)
        hit = self._merged.get(key)
        if hit is None:
            from gitdata.errors import DatasetNotFoundError

            manifests: dict[str, dict[str, FileEntry]] = {}

            def files_of(vid: str) -> dict[str, FileEntry]:
                # every version of this merge stays decoded until it is done (a merge
                # of many asks for each several times); the last few stay after it
                if vid not in manifests:
                    manifests[vid] = self.version_files(vid)
                return manifests[vid]

            def parents_of(vid: str) -> list[str]:
                try:
                    return list(self.record(vid).parents)
                except DatasetNotFoundError:
                    return []  # a deleted ancestor ends that line of the walk

            hit = merged_view(list(parents), files_of, parents_of)
            self._merged[key] = hit
        return hit

    @property
    def records_dir(self) -> Path:
        """Local copies of this store's closed version records (immutable, so safe to
        cache).  Keyed by store: the same id in two stores is two records to trust."""
        return self.records_dir_for(self.settings.storage)

    def records_dir_for(self, url: str) -> Path:
        """Local copies of the records (and metadata events) of the store at ``url``."""
        return self.settings.cache_dir / "records" / self.store_key(url)

    @staticmethod
    def store_key(url: str) -> str:
        """The 16 hex digits that name the store at ``url`` in the local cache
        (the same for every spelling of its URL)."""
        import hashlib

        from gitdata.storage.opener import store_identity

        ident = store_identity(url)
        return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:16]


def _is_default_store(url: str) -> bool:
    """Whether ``url`` is the embedded default store of this machine."""
    import os

    from gitdata.config import default_store_path

    if "://" in url:
        return False
    return os.path.abspath(os.path.expanduser(url)) == os.path.abspath(default_store_path())
