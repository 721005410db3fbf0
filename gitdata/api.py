"""The Python API, shaped like ``clearml.Dataset`` so training code ports by one import.

    from gitdata import Dataset
    path = Dataset.get(dataset_project="vision", dataset_name="cats").get_local_copy()

Method and argument names follow ClearML's; where ClearML behaves badly we do
better (renames are never re-uploaded, squash moves no data, the cache is a
byte budget, stores hold relative keys).  docs/api.md lists the differences.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
import shlex
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from gitdata.core.graph_layout import Lineage, squash_sources
from gitdata.core.lineage import ChangeSet, diff
from gitdata.core.manifest import COLUMN_BATCH, FileColumns, Manifest
from gitdata.core.paths import match_pattern, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.core.record import VersionRecord
from gitdata.core.selection import Selection
from gitdata.core.suggest import did_you_mean
from gitdata.core.summary import ChangeSummary, FileChange, Tally, summarize
from gitdata.errors import (
    DatasetNotFoundError,
    DatasetStateError,
    GitDataError,
    InvalidInputError,
    LocalPathNotFoundError,
    StoreNotFoundError,
    TargetNotEmptyError,
    UnsupportedArgumentError,
    VerificationFailedError,
)
from gitdata.gitio.repo import GitRepo, find_repo
from gitdata.ops import (
    commit,
    diskfaults,
    drafts,
    maintenance,
    materialize,
    metadata,
    reader,
    views,
)
from gitdata.ops import upload as uploading
from gitdata.ops.context import Context
from gitdata.ops.resolve import (
    Resolved,
    by_id,
    expand_id,
    resolve,
    suggest_names,
    write_repo_pointer,
)
from gitdata.ops.spool import discard_spools
from gitdata.ops.state import Draft

if TYPE_CHECKING:
    from gitdata.ops.state import OneShotClaim

_NO_PRINT = "the library never prints; use the return value (the gd CLI reports progress)"
_NO_ARCHIVE = "gitdata never archives versions, so every version is searched"
_NO_PAGES = "gitdata searches every version, there is no first page of 500"
_NO_TASK = "gitdata has no ClearML server or Task"
# ClearML passes zipfile constants; gitdata names its two methods
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# chunk_size=-1 (ClearML): one chunk for the whole change set
_ONE_CHUNK = 1 << 62


def explain_os_error(exc: OSError) -> GitDataError | None:
    """The gitdata error (full, failing or unwritable local disk, named) for ``exc``;
    ``None`` when it is no such fault."""
    return diskfaults.explain_os_error(exc)


def _disk_faults_explained(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            explained = diskfaults.explain_os_error(exc)
            if explained is None:
                raise
            raise explained from exc

    return call


def _explaining_disk_faults(cls: type) -> type:
    """Every public method of ``cls`` raises a named ``LocalDiskError`` /
    ``LocalPathUnwritableError`` instead of a bare ``OSError`` from a full disk."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, classmethod):
            setattr(cls, name, classmethod(_disk_faults_explained(member.__func__)))
        elif inspect.isfunction(member):
            setattr(cls, name, _disk_faults_explained(member))
    return cls


def _no_effect(call: str, why: str) -> None:
    """Warn that a ClearML argument, as given, changes nothing in gitdata."""
    warnings.warn(
        f"Dataset.{call} has no effect in gitdata: {why}", UserWarning, stacklevel=_outside_api()
    )


def _outside_api() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this module
    (the user's line), however many of this module's frames sit in between."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _unsupported(call: str, why: str, hint: str | None = None) -> NoReturn:
    """Refuse a ClearML argument whose silent omission would mislead about the data."""
    raise UnsupportedArgumentError(
        f"Dataset.{call} is not supported by gitdata: {why}", argument=call, hint=hint
    )


def _draft_columns(files: Sequence[tuple[str, Any]]) -> FileColumns:
    """A run of a draft's (path, file) pairs as columns."""
    urls = [f.url for _, f in files]
    return FileColumns(
        [p for p, _ in files],
        [f.size for _, f in files],
        [f.sha256 for _, f in files],
        urls if any(u is not None for u in urls) else None,
    )


@_explaining_disk_faults
class Dataset:
    """One dataset version: an open draft on this machine, or a closed version in the store."""

    def __init__(self, resolved: Resolved, ctx: Context) -> None:
        self._ctx = ctx
        self._id = resolved.id
        self._record: VersionRecord | None = resolved.record
        self._draft: Draft | None = resolved.draft
        self.resolved_from = resolved.how
        self.pointer_path: Path | None = None
        self.progress: Progress = NULL_PROGRESS
        # Paths the parents changed differently (create / squash): the later one was kept.
        self.merge_conflicts: list[dict[str, str | None]] = []
        # True once finalize()/upload() found that another gd process had closed this
        # draft first, with the content this object would have closed (docs/api.md).
        self.closed_elsewhere = False

    # ----------------------------------------------------------- properties
    @property
    def id(self) -> str:
        return self._id

    def _meta(self) -> VersionRecord | Draft:
        if self._record is not None:
            return self._record
        if self._ctx.state.has_draft(self._id):
            self._draft = self._ctx.state.snapshot_draft(self._id)
            return self._draft
        self._record = reader.load_record(self._ctx, self._id)
        self._draft = None
        return self._record

    @property
    def name(self) -> str:
        return self._meta().name

    @property
    def project(self) -> str:
        return self._meta().project

    @property
    def version(self) -> str:
        return self._meta().version

    @property
    def tags(self) -> list[str]:
        return list(self._meta().tags)

    @tags.setter
    def tags(self, values: list[str]) -> None:
        self._require_draft("set tags on")
        with drafts.editing(self._ctx, self._id) as draft:
            draft.tags = list(values)

    @property
    def description(self) -> str:
        return self._meta().description

    @property
    def parents(self) -> list[str]:
        return list(self._meta().parents)

    @property
    def record(self) -> VersionRecord | None:
        """The closed version's record (None for a draft)."""
        self._meta()
        return self._record

    def is_final(self) -> bool:
        """True once the version is closed (immutable)."""
        return isinstance(self._meta(), VersionRecord)

    def is_dirty(self) -> bool:
        """True for a draft with content not uploaded yet."""
        meta = self._meta()
        return isinstance(meta, Draft) and next(meta.files.pending(), None) is not None

    def require_uploaded(self, action: str) -> None:
        """Refuse (:class:`DatasetStateError`, naming the count) a draft with content
        not uploaded yet: ``gd close --disable-upload`` closes only what is stored."""
        meta = self._meta()
        if not isinstance(meta, Draft):
            return
        pending = sorted(p for p, _ in meta.files.pending())
        if pending:
            raise DatasetStateError(
                f"cannot {action}: {len(pending)} file(s) of {self._id} not uploaded yet "
                f"(e.g. {pending[0]})",
                dataset_id=self._id,
                pending=len(pending),
                hint="run gd upload first, or close without --disable-upload (which uploads)",
            )

    def __repr__(self) -> str:
        meta = self._meta()
        state = "closed" if isinstance(meta, VersionRecord) else "draft"
        return f"<Dataset {meta.project}/{meta.name} {meta.version} {self._id} ({state})>"

    # ------------------------------------------------------------- creating
    @classmethod
    def create(
        cls,
        dataset_name: str | None = None,
        dataset_project: str | None = None,
        dataset_tags: list[str] | None = None,
        parent_datasets: Sequence[str | Dataset] | None = None,
        use_current_task: bool = False,
        dataset_version: str | None = None,
        output_uri: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """Open a new draft version whose content is the three-way merge of its parents.

        Where parents changed a path differently the later parent wins
        (ClearML's rule) and the path is listed in ``merge_conflicts``.

        ``output_uri`` is the store this version (and its parents) live in.
        """
        if use_current_task:
            _no_effect("create(use_current_task=True)", f"{_NO_TASK}; a new draft is opened")
        return cls._create(
            dataset_name,
            dataset_project,
            dataset_tags,
            parent_datasets,
            dataset_version,
            output_uri,
            description,
        )

    @classmethod
    def _create(
        cls,
        dataset_name: str | None,
        dataset_project: str | None,
        dataset_tags: list[str] | None,
        parent_datasets: Sequence[str | Dataset] | None,
        dataset_version: str | None,
        output_uri: str | None,
        description: str | None,
        draft_id: str | None = None,
    ) -> Dataset:
        """:meth:`create`, optionally with the id chosen beforehand (``draft_id``)."""
        base = Context.for_storage(output_uri)
        parents = [
            p.id if isinstance(p, Dataset) else expand_id(base, p) for p in (parent_datasets or [])
        ]
        # a child lives in its parents' store unless output_uri names one
        ctx = _home_context(base, parents[0] if parents else None, bool(output_uri))
        project = dataset_project
        if project is None and len(parents) >= 1:
            project = reader.load_record(ctx, parents[0]).project
        draft = drafts.create_draft(
            ctx,
            project=project or "",
            name=dataset_name or "",
            version=dataset_version,
            parents=parents,
            tags=dataset_tags,
            description=description,
            storage=output_uri or ctx.settings.storage,
            draft_id=draft_id,
        )
        ds = cls(Resolved(None, draft, "created"), ctx)
        ds.merge_conflicts = [c.to_dict() for c in drafts.parent_conflicts(ctx, parents)]
        return ds

    def _require_draft(self, action: str) -> None:
        if not self._ctx.state.has_draft(self._id):
            reader.load_record(self._ctx, self._id)  # unknown id -> DatasetNotFoundError
            meta = self._meta()
            raise DatasetStateError(
                f"cannot {action} dataset {self._id}: it is closed (immutable)",
                dataset_id=self._id,
                hint=f"create a child version: Dataset.create(parent_datasets=['{self._id}'])",
                cli_hint=f"create a child version: gd create --project {shlex.quote(meta.project)} "
                f"--name {shlex.quote(meta.name)} --parents {self._id[:12]}",
            )
        self._record = None

    def add_files(
        self,
        path: str | Path | list[str | Path],
        wildcard: str | list[str] | None = None,
        local_base_folder: str | Path | None = None,
        dataset_path: str | None = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: int | None = None,
    ) -> int:
        """Add a file or folder (or a list of them); returns the number of files added or changed.

        Two local files of one call that would land at the same dataset path
        are refused (InvalidInputError) and nothing is added.
        """
        if verbose:
            _no_effect("add_files(verbose=True)", _NO_PRINT)
        if max_workers is not None:
            _no_effect(
                "add_files(max_workers=...)",
                "files are hashed in one thread (faster than a pool for many small files)",
            )
        self._require_draft("add files to")
        return drafts.add_files(
            self._ctx,
            self._id,
            path,
            wildcard=wildcard,
            dataset_path=dataset_path,
            recursive=recursive,
            local_base_folder=local_base_folder,
            progress=self.progress,
        )

    def add_external_files(
        self,
        source_url: str | Sequence[str],
        wildcard: str | list[str] | None = None,
        dataset_path: str | None = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: int | None = None,
    ) -> int:
        """Link objects that stay at their URLs (file://, s3://, gs://, azure://, http(s)://).

        A folder URL links every object below it at ``dataset_path/<path below it>``;
        each object's size, sha256 and ETag are recorded, and a get reads it from its
        URL and checks it.  Returns the number of paths added or changed.
        """
        from gitdata.ops.links import add_links

        if verbose:
            _no_effect("add_external_files(verbose=True)", _NO_PRINT)
        self._require_draft("add external files to")
        return add_links(
            self._ctx,
            self._id,
            source_url,
            wildcard=wildcard,
            dataset_path=dataset_path,
            recursive=recursive,
            max_workers=max_workers,
            progress=self.progress,
        )

    def remove_files(
        self, dataset_path: str | None = None, recursive: bool = True, verbose: bool = False
    ) -> int:
        """Remove files matching a path or wildcard; returns how many were removed."""
        if verbose:
            _no_effect("remove_files(verbose=True)", _NO_PRINT)
        self._require_draft("remove files from")
        return drafts.remove_files(self._ctx, self._id, dataset_path or "*", recursive=recursive)

    def sync_folder(
        self, local_path: str | Path, dataset_path: str | None = None, verbose: bool = False
    ) -> tuple[int, int, int]:
        """Make the draft mirror ``local_path``; returns (removed, added, modified)."""
        if verbose:
            _no_effect("sync_folder(verbose=True)", _NO_PRINT)
        self._require_draft("sync")
        r = drafts.sync_folder(
            self._ctx, self._id, local_path, dataset_path=dataset_path, progress=self.progress
        )
        return r.removed, r.added, r.modified

    def upload(
        self,
        show_progress: bool = True,
        verbose: bool = False,
        output_url: str | None = None,
        compression: str | None = None,
        chunk_size: int | None = None,
        max_workers: int | None = None,
        retries: int | None = None,
    ) -> None:
        """Upload pending content (``chunk_size`` in MB, as in ClearML; -1: one chunk).

        ``retries`` is how often a failed store request is retried (default: the
        configured ``retries``, 3); ``show_progress=False`` silences ``self.progress``.
        ``compression`` is ``"stored"``, ``"deflate"`` or the zipfile constant.
        """
        if verbose:
            _no_effect("upload(verbose=True)", _NO_PRINT)
        if self._adopt_closed():
            return  # closed meanwhile by another process, with this content: all stored
        self._require_draft("upload")
        if isinstance(compression, int) and not isinstance(compression, bool):
            compression = _ZIP_METHODS.get(compression, compression)
        if chunk_size == -1:
            target: int | None = _ONE_CHUNK
        else:
            target = int(chunk_size * 1024 * 1024) if chunk_size else None
        ctx = self._ctx
        if retries is not None and retries != ctx.settings.retries:
            if retries < 0:
                raise InvalidInputError(f"retries must be >= 0, not {retries}")
            ctx = Context(dataclasses.replace(ctx.settings, retries=retries))
        try:
            uploading.upload(
                ctx,
                self._id,
                storage=output_url,
                chunk_size=target,
                max_workers=max_workers,
                compression=compression,
                progress=self.progress if show_progress else NULL_PROGRESS,
            )
        except DatasetStateError:
            if not self._adopt_closed():
                raise

    def closed_on_this_machine(self) -> bool:
        """True for a closed version a close on this machine wrote (its store is
        remembered here): a ``gd close`` that finds it closed has nothing left to do."""
        return self.is_final() and self._ctx.state.home_of(self._id) is not None

    def _adopt_closed(self) -> bool:
        """True when the draft this object opened was closed by another process since,
        holding what this object would close (then it becomes that closed version);
        :class:`ConflictError` when the content differs.  False while it is a draft."""
        if self._draft is None or self._ctx.state.has_draft(self._id):
            return False
        record = commit.closed_meanwhile(self._ctx, self._draft)
        self._record, self._draft, self.closed_elsewhere = record, None, True
        return True

    def finalize(
        self, verbose: bool = False, raise_on_error: bool = True, auto_upload: bool = False
    ) -> bool:
        """Close the version: from now on it is immutable.  Writes the git pointer in a repo."""
        if verbose:
            _no_effect("finalize(verbose=True)", _NO_PRINT)
        try:
            if self.closed_elsewhere and self._record is not None:
                record, store_url = self._record, self._store_url_of_closed()
            else:
                closed = self._finalize(auto_upload)
                record, store_url = closed.record, self._store_url_of_closed()
                self.closed_elsewhere = not closed.closed_here
        except Exception:
            if raise_on_error:
                raise
            return False
        self._record, self._draft = record, None
        self.pointer_path = write_repo_pointer(record, store_url)
        return True

    def _finalize(self, auto_upload: bool) -> commit.Closed:
        """Close the draft; a close another process finished first counts when it
        holds the same content (``closed_here`` False)."""
        try:
            if not self._adopt_closed():
                self._require_draft("finalize")
                # what this object closes: the draft as it is now
                self._draft = self._ctx.state.snapshot_draft(self._id)
                if auto_upload:
                    self.upload()
        except (DatasetStateError, DatasetNotFoundError):
            if not self._adopt_closed():
                raise
        if self.closed_elsewhere:
            assert self._record is not None
            return commit.Closed(self._record, closed_here=False)
        return commit.close_draft(self._ctx, self._id, expected=self._draft)

    def _store_url_of_closed(self) -> str:
        """The store the version closes into (for its pointer)."""
        if self._draft is not None:
            return self._draft.storage
        return self._ctx.state.home_of(self._id) or self._ctx.settings.storage

    def publish(self, raise_on_error: bool = True) -> bool:
        """Mark this closed version published (readers can ask for published versions
        only: ``Dataset.get(..., only_published=True)``); the mark is kept for good.

        An open draft cannot be published (as in ClearML): close it first.  With
        ``raise_on_error=False`` that case returns False instead of raising.
        """
        if not self.is_final() and not raise_on_error:
            return False
        metadata.publish(self._ctx, self._id)
        self._record = reader.load_record(self._ctx, self._id)
        return True

    def is_published(self) -> bool:
        """Whether this version was published (``gd publish``)."""
        meta = self._meta()
        return isinstance(meta, VersionRecord) and meta.published

    def set_description(self, description: str) -> None:
        """Set the description: in place on a draft; on a closed version as a
        metadata change kept with its history (docs/format.md §13)."""
        metadata.set_description(self._ctx, self._id, description)
        if self._draft is not None:
            self._draft = None
        else:
            self._record = reader.load_record(self._ctx, self._id)

    @classmethod
    def rename(
        cls,
        new_dataset_name: str,
        dataset_project: str,
        dataset_name: str,
        storage: str | None = None,
    ) -> metadata.MetadataChange:
        """Rename every version of ``dataset_project``/``dataset_name`` (and this
        machine's drafts of it) to ``new_dataset_name``; inside a git repository its
        pointer file moves too, staged for the next commit."""
        return metadata.rename(
            Context.for_storage(storage), dataset_project, dataset_name, new_name=new_dataset_name
        )

    @classmethod
    def move_to_project(
        cls,
        new_dataset_project: str,
        dataset_project: str,
        dataset_name: str,
        storage: str | None = None,
    ) -> metadata.MetadataChange:
        """Move every version of ``dataset_project``/``dataset_name`` to the project
        ``new_dataset_project`` (the pointer file moves as for :meth:`rename`)."""
        return metadata.rename(
            Context.for_storage(storage),
            dataset_project,
            dataset_name,
            new_project=new_dataset_project,
        )

    def set_metadata(
        self, metadata: Any, metadata_name: str = "metadata", ui_visible: bool = True
    ) -> None:
        """Attach JSON-able metadata to a draft (stored in the version record)."""
        if not ui_visible:
            _no_effect("set_metadata(ui_visible=False)", "gitdata has no web UI to hide it from")
        self._require_draft("set metadata on")
        with drafts.editing(self._ctx, self._id) as draft:
            draft.metadata[metadata_name] = metadata

    def get_metadata(self, metadata_name: str = "metadata") -> Any:
        """Metadata set with :meth:`set_metadata`, or None."""
        return self._meta().metadata.get(metadata_name)

    # -------------------------------------------------------------- reading
    @classmethod
    def get(
        cls,
        dataset_id: str | None = None,
        dataset_project: str | None = None,
        dataset_name: str | None = None,
        dataset_tags: list[str] | None = None,
        only_completed: bool = False,
        only_published: bool = False,
        include_archived: bool = False,
        auto_create: bool = False,
        writable_copy: bool = False,
        dataset_version: str | None = None,
        alias: str | None = None,
        overridable: bool = False,
        shallow_search: bool = False,
        silence_alias_warnings: bool = False,
        rev: str | None = None,
        storage: str | None = None,
        repo: str | Path | None = None,
        **kwargs: Any,
    ) -> Dataset:
        """Find a version by id, or by project + name (+ version / tags), newest first.

        Inside a git repository (the one holding the current folder, or ``repo``),
        project + name resolve through the dataset's pointer file (at ``rev`` when
        given), which pins the version per commit.
        ``silence_alias_warnings`` silences the warnings that ``alias`` and
        ``overridable`` have no effect.  Unknown keyword arguments are refused.
        """
        invalid = sorted(k for k in kwargs if not k.startswith("_"))
        if invalid:
            raise InvalidInputError(
                f"invalid Dataset.get arguments: {', '.join(invalid)}", arguments=invalid
            )
        if kwargs:
            _no_effect(f"get({', '.join(sorted(kwargs))}=...)", "ClearML-internal arguments")
        if alias is not None and not silence_alias_warnings:
            _no_effect("get(alias=...)", f"{_NO_TASK} to record the alias in")
        if overridable and not silence_alias_warnings:
            _no_effect("get(overridable=True)", f"{_NO_TASK} whose parameters could override it")
        if shallow_search:
            _no_effect("get(shallow_search=True)", _NO_PAGES)
        if include_archived:
            _no_effect("get(include_archived=True)", _NO_ARCHIVE)
        ctx, dataset_id = _home(Context.for_storage(storage), dataset_id, storage is not None)
        try:
            found = resolve(
                ctx,
                dataset_id=dataset_id,
                project=dataset_project,
                name=dataset_name,
                version=dataset_version,
                tags=dataset_tags,
                rev=rev,
                use_current=False,
                cwd=Path(repo) if repo is not None else None,
            )
        except (DatasetNotFoundError, StoreNotFoundError):
            # a store that does not exist yet holds nothing; create makes no store either
            if auto_create and dataset_name and not dataset_id:
                return cls.create(
                    dataset_name=dataset_name,
                    dataset_project=dataset_project,
                    dataset_tags=dataset_tags,
                    output_uri=storage,  # the store that was searched, not the default
                )
            raise
        if (only_completed or only_published) and found.record is None:
            raise DatasetNotFoundError(f"dataset {found.id} is not closed yet", dataset_id=found.id)
        if only_published and found.record is not None and not found.record.published:
            found = _published_instead(ctx, found, dataset_id, dataset_version)
        ds = cls(found, ctx)
        if writable_copy:
            return cls.create(
                dataset_name=ds.name,
                dataset_project=ds.project,
                dataset_tags=ds.tags,
                parent_datasets=[ds.id],
            )
        return ds

    def _manifest(self) -> Manifest:
        meta = self._meta()
        if isinstance(meta, VersionRecord):
            return reader.load_manifest(self._ctx, meta.manifest)
        raise DatasetStateError(
            f"dataset {self._id} is a draft; close it before getting a copy",
            dataset_id=self._id,
            hint=f"gd close --id {self._id}",
        )

    def get_manifest(self) -> Manifest:
        """The closed version's manifest: each file's size, hash and place in its chunk."""
        return self._manifest()

    def _files(self) -> dict[str, Any]:
        """path -> object with .size/.sha256, for drafts and closed versions alike."""
        meta = self._meta()
        if isinstance(meta, Draft):
            return dict(meta.files)
        return self._manifest().as_dict()

    def change_set(self) -> ChangeSet:
        """Files added, modified and removed against the merged view of the parents."""
        return self._changes(None)

    def make_current(self) -> None:
        """Make this the dataset commands act on when given no id (``gd`` without --id)."""
        self._ctx.state.set_current(self._id)

    def get_local_copy(
        self,
        use_soft_links: bool | None = None,
        part: int | None = None,
        num_parts: int | None = None,
        raise_on_error: bool = True,
        max_workers: int | None = None,
        dataset_path: str | Sequence[str] | None = None,
        only_added: bool = False,
    ) -> str:
        """Path of a read-only cached copy (files are hardlinks into the cache).

        ``dataset_path``: only the files under these folders or matching these
        wildcards (as :meth:`list_files` matches one; several: any of them);
        ``only_added``: only the files this version added or modified against its
        merged parents.  Both narrow before ``part``/``num_parts`` split; only the
        wanted chunk members are fetched, and the narrowed copy is cached apart
        from the full one.  A narrowing that matches no file raises
        ``LocalPathNotFoundError`` (a ``LookupError``) and writes nothing.
        """
        if use_soft_links is not None:
            _no_effect(
                "get_local_copy(use_soft_links=...)",
                "the copy's files are always read-only hardlinks to the cache's blobs",
            )
        if not raise_on_error:
            _no_effect(
                "get_local_copy(raise_on_error=False)",
                "a copy missing files is never returned; failures always raise",
            )
        manifest = self._manifest()
        path = materialize.cached_copy(
            self._ctx,
            self._id,
            manifest,
            selection=_selection(dataset_path, only_added, part, num_parts),
            max_workers=max_workers,
            progress=self.progress,
        )
        return str(path)

    def get_mutable_local_copy(
        self,
        target_folder: str | Path,
        overwrite: bool = False,
        part: int | None = None,
        num_parts: int | None = None,
        raise_on_error: bool = True,
        max_workers: int | None = None,
        dataset_path: str | Sequence[str] | None = None,
        only_added: bool = False,
    ) -> str | None:
        """An independent, writable copy in ``target_folder``.

        ``dataset_path`` and ``only_added`` narrow it as in :meth:`get_local_copy`;
        the tree's marker records them, so :meth:`verify` checks the same files.

        ``overwrite`` replaces only an empty folder or a tree gd made that holds
        nothing else; the current folder, ``$HOME``, ``/`` and folders with a
        ``.git`` inside are never replaced (docs/api.md).  With
        ``raise_on_error=False`` a non-empty target (without ``overwrite``)
        returns None instead of raising, as in ClearML; other failures raise.
        """
        try:
            path = self._materialize(
                target_folder,
                "copy",
                overwrite,
                _selection(dataset_path, only_added, part, num_parts),
                max_workers,
            )
        except TargetNotEmptyError:
            if raise_on_error:
                raise
            return None
        return str(path)

    def get_linked_copy(
        self,
        target_folder: str | Path,
        overwrite: bool = False,
        part: int | None = None,
        num_parts: int | None = None,
        max_workers: int | None = None,
        dataset_path: str | Sequence[str] | None = None,
        only_added: bool = False,
    ) -> str:
        """A read-only tree of hardlinks (symlinks across filesystems) in ``target_folder``.

        ``overwrite`` follows the same rule as :meth:`get_mutable_local_copy`;
        ``dataset_path`` and ``only_added`` narrow it as in :meth:`get_local_copy`.
        """
        selection = _selection(dataset_path, only_added, part, num_parts)
        return str(self._materialize(target_folder, "link", overwrite, selection, max_workers))

    def _materialize(
        self,
        target: str | Path,
        mode: str,
        overwrite: bool,
        selection: Selection,
        max_workers: int | None,
    ) -> Path:
        return materialize.materialize(
            self._ctx,
            self._manifest(),
            Path(target_folder_str(target)),
            mode=mode,
            overwrite=overwrite,
            selection=selection,
            max_workers=max_workers,
            progress=self.progress,
            version_id=self._id,
        )

    def list_files(
        self, dataset_path: str | None = None, recursive: bool = True, dataset_id: str | None = None
    ) -> list[str]:
        """Dataset paths (sorted), optionally filtered by a path or wildcard; nothing downloaded.

        With ``dataset_id`` (as in ClearML), only the files whose current content
        that version added or changed: this version itself or one of its ancestors.
        """
        paths = sorted(self._files(), key=str.encode)
        if dataset_id is not None:
            owners = self._owners()
            paths = [p for p in paths if owners.get(p) == dataset_id]
        if dataset_path:
            return [p for p in paths if match_pattern(p, dataset_path, recursive=recursive)]
        return paths

    def iter_file_entries(
        self,
        patterns: list[str] | None = None,
        recursive: bool = True,
        dataset_id: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """path, size and sha256 (and url, for an external file) of each file, in path
        order, read as the manifest is read: a paged manifest's pages one after another,
        so a listing of a million files never holds them all.

        ``patterns`` keeps the paths matching any of them (paths or wildcards, as
        :meth:`list_files`); ``dataset_id`` only the files whose content that version
        gave (as in :meth:`list_files`)."""
        for batch in self.iter_file_batches(patterns, recursive, dataset_id):
            urls = batch.urls
            for j, (path, size, sha) in enumerate(
                zip(batch.paths, batch.sizes, batch.sha256s, strict=True)
            ):
                row = {"path": path, "size": size, "sha256": sha}
                if urls is not None and urls[j] is not None:
                    row["url"] = urls[j]
                yield row

    def iter_file_batches(
        self,
        patterns: list[str] | None = None,
        recursive: bool = True,
        dataset_id: str | None = None,
        prefix: str = "",
    ) -> Iterator[FileColumns]:
        """The files of :meth:`iter_file_entries` (same filters, same order) as runs of
        columns: ``paths``, ``sizes``, ``sha256s`` and ``urls`` (None when no file of
        the run is external).  The fast way to list a million files: a paged
        manifest's pages are passed on as columns, with no object built per file.

        ``prefix`` keeps the paths that start with it (``"images/"``: one folder's
        tree), reading only the pages whose range can hold such paths."""
        meta = self._meta()
        batches: Iterable[FileColumns]
        if isinstance(meta, Draft):  # a draft's files (not all uploaded yet), sorted
            files = sorted(
                ((p, f) for p, f in meta.files.items() if p.startswith(prefix)),
                key=lambda item: item[0].encode(),
            )
            batches = (
                _draft_columns(files[i : i + COLUMN_BATCH])
                for i in range(0, len(files), COLUMN_BATCH)
            )
        else:
            batches = self._manifest().column_batches(prefix)
        owners = self._owners() if dataset_id is not None else None
        if owners is None and not patterns:
            yield from batches
            return
        for batch in batches:
            keep = [
                j
                for j, path in enumerate(batch.paths)
                if (owners is None or owners.get(path) == dataset_id)
                and (
                    not patterns
                    or any(match_pattern(path, p, recursive=recursive) for p in patterns)
                )
            ]
            if len(keep) == len(batch.paths):
                yield batch
            elif keep:
                urls = batch.urls
                yield FileColumns(
                    [batch.paths[j] for j in keep],
                    [batch.sizes[j] for j in keep],
                    [batch.sha256s[j] for j in keep],
                    None if urls is None else [urls[j] for j in keep],
                )

    def file_entries(self, dataset_path: str | None = None) -> list[dict[str, Any]]:
        """path / size / sha256 of each file, optionally filtered."""
        files = self._files()
        return [
            {"path": p, "size": files[p].size, "sha256": files[p].sha256}
            for p in self.list_files(dataset_path)
        ]

    @property
    def file_entries_dict(self) -> dict[str, dict[str, Any]]:
        """path -> {size, sha256} (a simplified form of ClearML's)."""
        return {p: {"size": f.size, "sha256": f.sha256} for p, f in self._files().items()}

    @property
    def link_entries(self) -> list[dict[str, Any]]:
        """The external files: path, size, sha256, url and etag of each, sorted by path."""
        return list(self.link_entries_dict.values())

    @property
    def link_entries_dict(self) -> dict[str, dict[str, Any]]:
        """path -> {path, size, sha256, url, etag} for each external file."""
        out: dict[str, dict[str, Any]] = {}
        files = self._files()
        for p in sorted(files, key=str.encode):
            f = files[p]
            if f.url is not None:
                out[p] = {
                    "path": p,
                    "size": f.size,
                    "sha256": f.sha256,
                    "url": f.url,
                    "etag": f.etag,
                }
        return out

    def get_num_chunks(self, include_parents: bool = True) -> int:
        """How many chunks the version's files sit in; without ``include_parents``,
        only the chunks holding files this version added or changed."""
        files = self._files()
        if include_parents:
            wanted = list(files.values())
        else:
            changes = self._changes(None)
            wanted = [files[p] for p in (*changes.added, *changes.modified) if p in files]
        return len({f.chunk for f in wanted if f.url is None and f.chunk})

    @property
    def dataset_version(self) -> str:
        """The version string (ClearML's name for :attr:`version`)."""
        return self.version

    def _owners(self) -> dict[str, str]:
        """path -> id of the version that gave the file its current content.

        ClearML's ``parent_dataset_id`` of a file entry: the nearest version (this
        one or an ancestor) that added or modified it; a file a version inherits
        comes from the last parent holding it (later parents win).
        """
        graph = self.get_dependency_graph()
        wanted = set(self._files())
        order: list[str] = []  # parents before children
        seen: set[str] = set()
        stack: list[tuple[str, bool]] = [(self._id, False)]
        while stack:
            vid, done = stack.pop()
            if done:
                order.append(vid)
            elif vid not in seen:
                seen.add(vid)
                stack.append((vid, True))
                stack.extend((p, False) for p in graph.get(vid, []))
        owners: dict[str, dict[str, str]] = {}
        for vid in order:
            if vid == self._id:
                files, changes = set(self._files()), self._changes(None)
            else:
                try:
                    record = reader.load_record(self._ctx, vid)
                except DatasetNotFoundError:  # a deleted ancestor owns nothing
                    owners[vid] = {}
                    continue
                files = set(reader.load_manifest(self._ctx, record.manifest).as_dict())
                changes = maintenance.change_set(self._ctx, record)
            mine = {p: vid for p in (changes.added + changes.modified) if p in wanted}
            for p in (files & wanted) - mine.keys():
                for parent in reversed(graph.get(vid, [])):
                    if p in owners.get(parent, {}):
                        mine[p] = owners[parent][p]
                        break
            owners[vid] = mine
        return owners[self._id]

    def _changes(self, dataset_id: str | None) -> ChangeSet:
        if dataset_id == self._id:
            dataset_id = None  # ClearML: compare against the parents
        if dataset_id is not None:
            return diff(Dataset.get(dataset_id=dataset_id)._files(), self._files())
        meta = self._meta()
        if isinstance(meta, Draft):
            return diff(drafts.parent_files(self._ctx, meta), meta.files)
        return maintenance.change_set(self._ctx, meta)

    def compare_to(self, older: Dataset) -> ChangeSet:
        """Files added, modified and removed going from ``older`` to this version."""
        return diff(*self._comparable(older))

    def _comparable(self, older: Dataset) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """``older``'s files and this version's, to diff: two closed versions that share
        manifest pages give only the paths where they can differ."""
        a, b = older._meta(), self._meta()
        if isinstance(a, VersionRecord) and isinstance(b, VersionRecord):
            return reader.comparable_files(older._manifest(), self._manifest())
        return older._files(), self._files()

    def merged_changes(self) -> ChangeSet | None:
        """For a version with several parents: what it holds that its first parent did
        not (the changes brought in from the other parents, plus its own), as a merge
        commit's diff against its first parent.  None for zero or one parent."""
        parents = self.parents
        if len(parents) < 2:
            return None
        return diff(self._ctx.parent_files(parents[:1]), self._files())

    def change_summary(self) -> ChangeSummary:
        """The change set against the merged parents, summarised: renames (same sha256),
        files and bytes per kind, totals by top-level folder and file type (gd show)."""
        return views.change_summary(self._ctx, self._meta())

    def compare_summary(self, older: Dataset) -> ChangeSummary:
        """:meth:`compare_to` summarised as :meth:`change_summary` is (gd compare)."""
        return summarize(*self._comparable(older))

    @property
    def storage_url(self) -> str:
        """The store this version is read from (a draft: the store it will close in)."""
        meta = self._meta()
        return meta.storage if isinstance(meta, Draft) else self._ctx.settings.storage

    @property
    def former_names(self) -> list[str]:
        """``project/name`` this version had before renames and moves, oldest first."""
        meta = self._meta()
        if not isinstance(meta, VersionRecord):
            return []
        return [f"{p}/{n}" for p, n in meta.former_names]

    @property
    def metadata_history(self) -> list[dict[str, Any]]:
        """The metadata changes of this closed version, oldest first: ``{"at", "set"}``."""
        meta = self._meta()
        return list(meta.meta_history) if isinstance(meta, VersionRecord) else []

    @property
    def squashed_from(self) -> list[str]:
        """The versions this one is a squash of ([] when it is no squash)."""
        meta = self._meta()
        return squash_sources(meta.parents, meta.metadata)

    def list_added_files(self, dataset_id: str | None = None) -> list[str]:
        """Files added compared to the parents (or to ``dataset_id``)."""
        return self._changes(dataset_id).added

    def list_modified_files(self, dataset_id: str | None = None) -> list[str]:
        """Files whose content changed compared to the parents (or ``dataset_id``)."""
        return self._changes(dataset_id).modified

    def list_removed_files(self, dataset_id: str | None = None) -> list[str]:
        """Files removed compared to the parents (or ``dataset_id``)."""
        return self._changes(dataset_id).removed

    def read_bytes(self, path: str) -> bytes:
        """One file's content, fetched with a ranged read (no full chunk download)."""
        from gitdata.ops.remote import read_file

        return read_file(self._ctx, self._manifest(), path, f"dataset {self._id}")

    def open(self, path: str, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
        """A read-only, seekable file object for one file: ``"rb"``, or ``"r"`` for text
        (UTF-8 unless ``encoding`` says otherwise).

        Read from the local cache when it holds the content; otherwise a small file
        is fetched whole with one ranged read of its chunk (and verified), a big
        stored file by ranges as it is read (a reader of its last bytes fetches
        those only; reading it through from the start checks its SHA-256)."""
        import io

        from gitdata.ops.fileread import open_entry
        from gitdata.ops.remote import find_entry

        if mode not in ("rb", "r"):
            raise InvalidInputError(
                f"datasets are read-only: open with 'rb' or 'r', not {mode!r}", argument="mode"
            )
        entry = find_entry(self._manifest(), path, f"dataset {self._id}")
        binary = open_entry(self._ctx, entry)
        if mode == "rb":
            return binary
        return io.TextIOWrapper(binary, encoding=encoding or "utf-8")

    def file_info(self, path: str) -> dict[str, Any]:
        """path, size and sha256 (and url, for an external file) of one file, as
        :meth:`iter_file_entries` gives them; a paged manifest reads its root and one
        page.  :class:`~gitdata.errors.LocalPathNotFoundError` when there is none."""
        from gitdata.ops.remote import find_entry

        meta = self._meta()
        if isinstance(meta, Draft):
            norm = normalize_dataset_path(path)
            f = meta.files.get(norm)
            if f is None:
                raise LocalPathNotFoundError(f"{norm} is not in dataset {self._id}", path=norm)
            row = {"path": norm, "size": f.size, "sha256": f.sha256}
            url = f.url
        else:
            e = find_entry(self._manifest(), path, f"dataset {self._id}")
            row = {"path": e.path, "size": e.size, "sha256": e.sha256}
            url = e.url
        if url is not None:
            row["url"] = url
        return row

    def get_dependency_graph(self) -> dict[str, list[str]]:
        """id -> parent ids, for this version and every ancestor."""
        return reader.dependency_graph(self._ctx, self._id, self.parents)

    def verify_dataset_hash(
        self,
        local_copy_path: str | Path | None = None,
        skip_hash: bool = False,
        verbose: bool = False,
    ) -> list[str]:
        """Paths that fail verification (missing, wrong size or hash, or unexpected)."""
        if verbose:
            _no_effect("verify_dataset_hash(verbose=True)", _NO_PRINT)
        folder = Path(local_copy_path) if local_copy_path else Path(self.get_local_copy())
        report = maintenance.verify_tree(
            self._ctx, self._id, self._manifest(), folder, size_only=skip_hash
        )
        return report.bad_files

    def verify(self, folder: str | Path, *, size_only: bool = False, raise_on_error: bool = False):
        """Full verification report of a folder (see :class:`~gitdata.ops.maintenance.VerifyReport`).

        A tree a partial get made (its marker records ``dataset_path``,
        ``only_added`` or a shard of this version) is checked against those files
        only; ``report.selection`` then says which.
        """
        report = maintenance.verify_tree(
            self._ctx,
            self._id,
            self._manifest(),
            Path(folder),
            size_only=size_only,
            progress=self.progress,
        )
        if raise_on_error and not report.ok:
            raise VerificationFailedError(
                f"{len(report.bad_files)} file(s) do not match", bad_files=report.bad_files
            )
        return report

    # ------------------------------------------------------ class utilities
    @classmethod
    def squash(
        cls,
        dataset_name: str,
        dataset_ids: list[str | Dataset] | None = None,
        dataset_project_name_pairs: list[tuple[str, str]] | None = None,
        output_url: str | None = None,
        dataset_project: str | None = None,
        progress: Progress = NULL_PROGRESS,
    ) -> Dataset:
        """A new flat version (no parents) holding the merged view of the given versions.

        The squash is written to the store the versions live in (``output_url``
        names it explicitly); it references their chunks, so no data moves.
        Paths the versions changed differently keep the later version's file and
        are listed in ``merge_conflicts``.
        """
        base = Context.for_storage(output_url)
        ids = [d.id if isinstance(d, Dataset) else expand_id(base, d) for d in dataset_ids or []]
        for project, name in dataset_project_name_pairs or []:
            ids.append(cls.get(dataset_project=project, dataset_name=name, storage=output_url).id)
        ctx = _home_context(base, ids[0] if ids else None, bool(output_url))
        record, conflicts = commit.squash(
            ctx, name=dataset_name, version_ids=ids, project=dataset_project, progress=progress
        )
        ds = cls(Resolved(record, None, "squash"), ctx)
        ds.merge_conflicts = [c.to_dict() for c in conflicts]
        return ds

    @classmethod
    def list_datasets(
        cls,
        dataset_project: str | None = None,
        partial_name: str | None = None,
        tags: list[str] | None = None,
        ids: list[str] | None = None,
        only_completed: bool = True,
        recursive_project_search: bool = True,
        include_archived: bool = True,
        storage: str | None = None,
    ) -> list[dict[str, Any]]:
        """Versions matching all given filters, oldest first, as dicts.

        ``partial_name`` is a regular expression searched in the name, ignoring
        case, as in ClearML (``re.escape`` it to match literally).
        """
        if not include_archived:
            _no_effect("list_datasets(include_archived=False)", _NO_ARCHIVE)
        name_re = None
        if partial_name:
            try:
                name_re = re.compile(partial_name, re.IGNORECASE)
            except re.error as exc:
                raise InvalidInputError(
                    f"partial_name {partial_name!r} is not a regular expression: {exc}",
                    hint="escape it with re.escape() to match it literally",
                ) from None
        ctx = Context.for_storage(storage)
        rows: list[dict[str, Any]] = []
        for r in reader.list_records(ctx):
            rows.append(
                _row(
                    r.id,
                    r.project,
                    r.name,
                    r.version,
                    r.tags,
                    r.parents,
                    r.created,
                    "closed",
                    r.description,
                    r.published,
                )
            )
        if not only_completed:
            for d in ctx.state.list_draft_headers():
                rows.append(
                    _row(
                        d.id,
                        d.project,
                        d.name,
                        d.version,
                        d.tags,
                        d.parents,
                        d.created,
                        "draft",
                        d.description,
                    )
                )

        def keep(row: dict[str, Any]) -> bool:
            if dataset_project is not None:
                proj = row["project"]
                if not (
                    proj == dataset_project
                    or (
                        recursive_project_search
                        and proj.startswith(dataset_project.rstrip("/") + "/")
                    )
                ):
                    return False
            if name_re is not None and not name_re.search(row["name"]):
                return False
            if tags and not set(tags) <= set(row["tags"]):
                return False
            return not (ids and row["id"] not in wanted)

        wanted = _ids_among([r["id"] for r in rows], ids or [])
        return [r for r in rows if keep(r)]

    @classmethod
    def delete(
        cls,
        dataset_id: str | None = None,
        dataset_project: str | None = None,
        dataset_name: str | None = None,
        force: bool = False,
        dataset_version: str | None = None,
        entire_dataset: bool = False,
        shallow_search: bool = False,
        delete_files: bool = True,
        delete_external_files: bool = False,
        storage: str | None = None,
        progress: Progress = NULL_PROGRESS,
    ) -> maintenance.DeleteReport | list[maintenance.DeleteReport] | None:
        """Delete a version (a draft is discarded).

        Refused, unless ``force``, when other versions name it as a parent, and,
        run inside a git repository, when a pointer on any ref (or in the index
        or working tree) pins it or a version built on it (``gd delete --force``).

        ``delete_files=False`` removes only the record; its manifest and chunks
        stay for ``gd gc``.  ``entire_dataset=True`` deletes every version of
        ``dataset_project``/``dataset_name`` (of ``dataset_version`` if given) and
        this machine's drafts of it, returning a report per closed version; the
        refusals above are checked for every one of them before anything is
        deleted (ClearML demands ``force=True`` here; gitdata checks instead).
        ``progress`` (gitdata's own) sees the manifests read and the objects deleted.
        """
        if delete_external_files:
            _unsupported(
                "delete(delete_external_files=True)",
                "a gitdata version holds no external links, only content in its own store",
                hint="nothing was deleted; drop the argument",
            )
        if shallow_search:
            _no_effect("delete(shallow_search=True)", _NO_PAGES)
        ctx = Context.for_storage(storage)
        if dataset_id:
            dataset_id = expand_id(ctx, dataset_id)
        if entire_dataset and not dataset_id:
            return _delete_entire(
                ctx,
                dataset_project,
                dataset_name,
                dataset_version,
                force,
                delete_files,
                find_repo(),
                progress,
            )
        if dataset_id and ctx.state.has_draft(dataset_id):
            discard_spools(ctx, dataset_id)
            ctx.state.delete_draft(dataset_id)
            return None
        found = resolve(
            ctx,
            dataset_id=dataset_id,
            project=dataset_project,
            name=dataset_name,
            version=dataset_version,
            use_current=False,
        )
        return maintenance.delete_version(
            ctx,
            found.id,
            force=force,
            delete_files=delete_files,
            repo=find_repo(),
            progress=progress,
        )


def _delete_entire(
    ctx: Context,
    project: str | None,
    name: str | None,
    version: str | None,
    force: bool,
    delete_files: bool,
    repo: GitRepo | None,
    progress: Progress = NULL_PROGRESS,
) -> list[maintenance.DeleteReport]:
    """ClearML's ``delete(entire_dataset=True)``: every version (and draft) of one
    dataset, each refusal checked for all of them first unless ``force``."""
    if not (project and name):
        raise InvalidInputError(
            "entire_dataset=True needs dataset_project and dataset_name",
            hint="gd delete --entire-dataset --project P --name N",
        )

    def match(meta: VersionRecord | Any) -> bool:
        return (
            meta.project == project
            and meta.name == name
            and (version is None or meta.version == version)
        )

    every = reader.list_records(ctx)
    records = [r for r in every if match(r)]
    drafts = [d for d in ctx.state.list_draft_headers() if match(d)]
    if not records and not drafts:
        suggestions = suggest_names(every, project, name) if version is None else []
        raise DatasetNotFoundError(
            f"no version of {project}/{name}" + (f" {version}" if version else ""),
            project=project,
            name=name,
            suggestions=suggestions,
            hint=did_you_mean(suggestions) or None,
        )
    reports = maintenance.delete_versions(
        ctx,
        [r.id for r in records],
        force=force,
        delete_files=delete_files,
        repo=repo,
        progress=progress,
    )
    for d in drafts:  # only once every closed version is gone: a refusal leaves them too
        discard_spools(ctx, d.id)
        ctx.state.delete_draft(d.id)
    return reports


def _selection(
    dataset_path: str | Sequence[str] | None,
    only_added: bool,
    part: int | None,
    num_parts: int | None,
) -> Selection:
    """The files a get of these arguments fetches."""
    return Selection.of(dataset_path, only_added=only_added, part=part, num_parts=num_parts)


def _published_instead(
    ctx: Context, found: Resolved, dataset_id: str | None, version: str | None
) -> Resolved:
    """``get(only_published=True)``: the newest published version of the dataset
    ``found`` belongs to, unless an id or version string asked for that one."""
    record = found.record
    assert record is not None
    if not dataset_id and version is None:
        published = [
            r
            for r in reader.list_records(ctx)
            if r.published and (r.project, r.name) == (record.project, record.name)
        ]
        if published:
            newest = max(published, key=lambda r: (r.published_at or "", r.created))
            return Resolved(newest, None, "latest published")
    raise DatasetNotFoundError(
        f"dataset {record.project}/{record.name} has no published version"
        if not dataset_id and version is None
        else f"dataset version {record.id} is not published",
        dataset_id=record.id,
        project=record.project,
        name=record.name,
        hint=f"publish one with gd publish --id {record.id}, or drop only_published",
    )


def target_folder_str(target: str | Path) -> str:
    """Expand ``~`` in a user-given folder."""
    return str(Path(target).expanduser())


def _row(
    vid, project, name, version, tags, parents, created, state, description, published=False
) -> dict[str, Any]:
    return {
        "id": vid,
        "project": project,
        "name": name,
        "version": version,
        "tags": list(tags),
        "parents": list(parents),
        "created": created,
        "state": state,
        "description": description,
        "published": published,
    }


def _ids_among(known: list[str], given: list[str]) -> set[str]:
    """The ids of ``known`` that ``given`` names, each a full id or a unique prefix
    (6+ hex characters).  A full id or a prefix matching nothing names nothing (a
    filter); a prefix matching several is refused, as everywhere else."""
    from gitdata.ops.resolve import check_id_prefix, pick_id

    out: set[str] = set()
    for text in given:
        value = check_id_prefix(text)
        if len(value) == 32:
            out.add(value)
            continue
        with contextlib.suppress(DatasetNotFoundError):
            out.add(pick_id(value, known))
    return out


def _home(ctx: Context, dataset_id: str | None, explicit: bool) -> tuple[Context, str | None]:
    """(the context of the store ``dataset_id`` lives in, its full id); a short id
    (a unique prefix) is expanded first (:func:`gitdata.ops.resolve.expand_id`)."""
    if not dataset_id:
        return ctx, dataset_id
    dataset_id = expand_id(ctx, dataset_id)
    return _home_context(ctx, dataset_id, explicit), dataset_id


def open_version_file(
    path: str,
    project: str | None = None,
    name: str | None = None,
    *,
    id: str | None = None,
    version: str | None = None,
    rev: str | None = None,
    repo: str | Path | None = None,
    storage: str | None = None,
    mode: str = "rb",
    encoding: str | None = None,
) -> IO[Any]:
    """``gitdata.open``: one file of a closed version, as a read-only file object,
    shaped like ``dvc.api.open``.

    The version is ``id``, or ``project`` + ``name`` (a ``version`` string, or the
    pointer of the git repository holding the current folder or ``repo``, at ``rev``
    when given; outside a repository the newest version); ``storage`` names the store.
    See :meth:`Dataset.open` for how the bytes are read."""
    ds = Dataset.get(
        dataset_id=id,
        dataset_project=project,
        dataset_name=name,
        dataset_version=version,
        rev=rev,
        repo=repo,
        storage=storage,
    )
    return ds.open(path, mode, encoding)


def read_version_file(
    path: str,
    project: str | None = None,
    name: str | None = None,
    *,
    id: str | None = None,
    version: str | None = None,
    rev: str | None = None,
    repo: str | Path | None = None,
    storage: str | None = None,
    mode: str = "rb",
    encoding: str | None = None,
) -> Any:
    """``gitdata.read``: the content of one file (bytes, or text with ``mode="r"``),
    the version found as :func:`open_version_file` finds it."""
    with open_version_file(
        path,
        project,
        name,
        id=id,
        version=version,
        rev=rev,
        repo=repo,
        storage=storage,
        mode=mode,
        encoding=encoding,
    ) as fh:
        return fh.read()


def resolve_id(dataset_id: str, storage: str | None = None) -> str:
    """The full id of ``dataset_id``: a full id, or a unique prefix of 6+ hex
    characters of a version in the store (``storage``) or a draft of this machine."""
    return expand_id(Context.for_storage(storage), dataset_id)


def _home_context(ctx: Context, dataset_id: str | None, explicit_storage: bool) -> Context:
    """The context of the store ``dataset_id`` lives in.

    A draft works against the store it was created for, whatever the defaults
    say.  A version closed on this machine is read from the store it was closed
    in (``gd create --storage URL`` followed by ``gd get --id ID``), unless an
    explicit ``storage`` names another one (a copy made by ``gd push``).
    """
    if not dataset_id:
        return ctx
    if ctx.state.has_draft(dataset_id):
        # the header only: loading the draft would merge its parents from the wrong store
        storage = ctx.state.draft_storage(dataset_id)
    elif explicit_storage:
        return ctx
    else:
        storage = ctx.state.home_of(dataset_id)
    if storage and storage != ctx.settings.storage:
        return Context.for_storage(storage)
    return ctx


def context_for_version(dataset_id: str, storage: str | None = None) -> Context:
    """The context of the store ``dataset_id`` (a full or short id) lives in
    (``storage`` overrides)."""
    return _home(Context.for_storage(storage), dataset_id, storage is not None)[0]


def open_dataset(dataset_id: str, storage: str | None = None) -> Dataset:
    """A Dataset for an id (full or a unique prefix), draft or closed (used by the CLI)."""
    ctx, full = _home(Context.for_storage(storage), dataset_id, storage is not None)
    assert full is not None
    return Dataset(by_id(ctx, full), ctx)


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C or a lost connection: the one-shot's draft is kept so a rerun resumes it."""
    from gitdata.errors import StorageUnavailableError

    return isinstance(exc, (KeyboardInterrupt, StorageUnavailableError))


def one_shot_sync(
    project: str | None,
    name: str | None,
    folder: Path,
    dataset_folder: str | None,
    parents: list[str],
    tags: list[str],
    storage: str | None,
    *,
    progress: Progress = NULL_PROGRESS,
    notify: Callable[[str], None] = lambda message: None,
    version: str | None = None,
    close: bool = True,
    chunk_size: int | None = None,
) -> tuple[Dataset, dict[str, Any], bool]:
    """``gd sync --project P --name N``: create (or resume) a draft, sync, upload, close.

    ``version`` names the new version (default: the next one); ``chunk_size`` is
    the upload's target chunk size in MB.  ``close=False`` (``--skip-close``)
    uploads but leaves the draft open and current, as a hand-made draft: a later
    one-shot sync never resumes or discards it.

    Everything that can be checked is checked before a draft exists.  A draft
    this command created is removed again when a later step fails, unless the
    failure is an interruption (Ctrl-C, connection lost): then the next run of
    the same one-shot sync resumes it.
    """
    from gitdata.core.ids import new_version_id
    from gitdata.core.paths import normalize_dataset_path
    from gitdata.errors import LocalPathNotFoundError
    from gitdata.ops.context import Context
    from gitdata.ops.drafts import validate_names

    validate_names(project or "", name or "")
    assert project is not None and name is not None
    if not folder.is_dir():
        raise LocalPathNotFoundError(
            f"not a folder: {folder}", path=str(folder), hint="--folder names a local folder"
        )
    normalize_dataset_path(dataset_folder or "", allow_empty=True)
    parents = [resolve_id(p, storage) for p in parents]
    if not parents:
        try:
            parents = [Dataset.get(dataset_project=project, dataset_name=name, storage=storage).id]
        except LookupError:
            parents = []
    ctx = Context.for_storage(storage)
    store_url = storage or ctx.settings.storage
    previous_current = ctx.state.current()
    ctx.state.remove_leftovers()
    resume_id, claim = _claim_interrupted_one_shot(ctx, project, name, parents, store_url, notify)
    created = resume_id is None
    draft_id = resume_id or new_version_id()
    ds = None
    try:
        if resume_id is not None:
            ds = open_dataset(resume_id, storage)
            notify(f"resuming the interrupted sync of {project}/{name} {ds.version} (id {ds.id})")
            if ds.tags != tags:
                ds.tags = tags
            ds._ctx.state.set_current(ds.id)
        else:
            # the marker first: a kill before the draft exists leaves only a marker
            # (removed by the next run), never a draft no one-shot would resume
            claim = ctx.state.claim_one_shot(
                draft_id, {"project": project, "name": name, "storage": store_url}
            )
            ds = Dataset._create(
                name, project, tags or None, parents or None, version, storage, None, draft_id
            )
        ds.progress = progress
        removed, added, modified = ds.sync_folder(folder, dataset_path=dataset_folder)
        unchanged = not (removed or added or modified)
        if close and created and len(parents) == 1 and unchanged and not (version or tags):
            # as clearml-data sync: the folder is its parent's content, no version is made
            # (unless one was asked for by its version string or tags)
            ctx.state.delete_draft(draft_id)
            ctx.state.restore_current(previous_current)
            parent = open_dataset(parents[0], storage)
            notify(
                f"no change against {parent.project}/{parent.name} {parent.version}: "
                "no new version made"
            )
            result = {"id": parent.id, "removed": 0, "added": 0, "modified": 0}
            result.update(state="closed", version=parent.version, resumed=False, unchanged=True)
            return parent, result, False
        if chunk_size is not None or not close:
            ds.upload(chunk_size=chunk_size)
        if close:
            ds.finalize(auto_upload=True)
        else:
            ds._ctx.state.unmark_one_shot(ds.id)
    except BaseException as exc:
        if created and (ds is None or not _interrupted(exc)):
            # this command made the draft (or its marker): a failure leaves no trace
            discard_spools(ctx, draft_id)
            ctx.state.delete_draft(draft_id)
            ctx.state.restore_current(previous_current)
        raise
    finally:
        if claim is not None:
            claim.release()
    result = {"id": ds.id, "removed": removed, "added": added, "modified": modified}
    result.update(state="closed" if close else "draft", version=ds.version, resumed=not created)
    if ds.pointer_path:
        result["pointer"] = str(ds.pointer_path)
    return ds, result, not created


def _claim_interrupted_one_shot(
    ctx: Context,
    project: str,
    name: str,
    parents: list[str],
    store_url: str,
    notify: Callable[[str], None],
) -> tuple[str | None, OneShotClaim | None]:
    """(id, claim) of the interrupted one-shot draft of project/name to resume, or (None, None).

    Only drafts a one-shot sync made are considered (hand-made drafts are never
    touched) and only when no running command holds them.  One whose record is
    already in the store was closed by a run killed before it removed the draft:
    the draft is removed.  The newest whose
    parents are the ones this run would use is resumed; other interrupted
    one-shot drafts of project/name in this store (started from parents that are
    no longer the latest) are discarded, so at most one is ever left over.
    """
    from gitdata.storage import version_key

    found = []
    for header, info in ctx.state.one_shot_drafts():
        if (info.get("project"), info.get("name"), info.get("storage")) != (
            project,
            name,
            store_url,
        ) or (header.project, header.name) != (project, name):
            continue
        claim = ctx.state.claim_one_shot(header.id)
        if claim is None:  # a running sync holds it
            continue
        if ctx.store.exists(version_key(header.id)):
            notify(f"{header.id} was closed by an interrupted sync of {project}/{name}")
            ctx.state.delete_draft(header.id)
            claim.release()
            continue
        found.append((header, claim))
    found.sort(key=lambda hc: hc[0].created, reverse=True)
    chosen: tuple[str | None, OneShotClaim | None] = (None, None)
    for header, claim in found:
        if chosen[0] is None and list(header.parents) == list(parents):
            chosen = (header.id, claim)
            continue
        notify(f"discarding {header.id}, an older interrupted sync of {project}/{name}")
        ctx.state.delete_draft(header.id)
        claim.release()
    return chosen


__all__ = [
    "ChangeSummary",
    "Dataset",
    "FileChange",
    "Lineage",
    "Tally",
    "context_for_version",
    "normalize_dataset_path",
    "one_shot_sync",
    "open_dataset",
    "resolve_id",
]
