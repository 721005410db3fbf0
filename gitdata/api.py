"""The Python API, shaped like ``clearml.Dataset`` so training code ports by one import.

    from gitdata import Dataset
    path = Dataset.get(dataset_project="vision", dataset_name="cats").get_local_copy()

Method and argument names follow ClearML's; where ClearML behaves badly we do
better (renames are never re-uploaded, squash moves no data, the cache is a
byte budget, stores hold relative keys).  docs/api.md lists the differences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitdata.core.lineage import ChangeSet, diff
from gitdata.core.manifest import Manifest
from gitdata.core.paths import match_pattern, normalize_dataset_path
from gitdata.core.progress import NULL_PROGRESS, Progress
from gitdata.core.record import VersionRecord
from gitdata.errors import DatasetNotFoundError, DatasetStateError, VerificationFailedError
from gitdata.ops import maintenance, materialize, reader, writer
from gitdata.ops.context import Context
from gitdata.ops.resolve import Resolved, by_id, resolve, write_repo_pointer
from gitdata.ops.state import Draft


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

    # ----------------------------------------------------------- properties
    @property
    def id(self) -> str:
        return self._id

    def _meta(self) -> VersionRecord | Draft:
        if self._record is not None:
            return self._record
        if self._ctx.state.has_draft(self._id):
            self._draft = self._ctx.state.load_draft(self._id)
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
        with writer.editing(self._ctx, self._id) as draft:
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
        return isinstance(meta, Draft) and any(not f.stored for f in meta.files.values())

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
        parent_datasets: list[str | Dataset] | None = None,
        use_current_task: bool = False,
        dataset_version: str | None = None,
        output_uri: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """Open a new draft version (parents merged in order; later parents win).

        ``output_uri`` is the store this version (and its parents) live in.
        """
        ctx = Context.for_storage(output_uri)
        parents = [p.id if isinstance(p, Dataset) else p for p in (parent_datasets or [])]
        project = dataset_project
        if project is None and len(parents) >= 1:
            project = reader.load_record(ctx, parents[0]).project
        draft = writer.create_draft(
            ctx,
            project=project or "",
            name=dataset_name or "",
            version=dataset_version,
            parents=parents,
            tags=dataset_tags,
            description=description,
            storage=output_uri,
        )
        return cls(Resolved(None, draft, "created"), ctx)

    def _require_draft(self, action: str) -> None:
        if not self._ctx.state.has_draft(self._id):
            reader.load_record(self._ctx, self._id)  # unknown id -> DatasetNotFoundError
            raise DatasetStateError(
                f"cannot {action} dataset {self._id}: it is closed (immutable)",
                dataset_id=self._id,
                hint=f"create a child version: Dataset.create(parent_datasets=['{self._id}'])",
            )
        self._record = None

    def add_files(
        self,
        path: str | Path,
        wildcard: str | list[str] | None = None,
        local_base_folder: str | Path | None = None,
        dataset_path: str | None = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: int | None = None,
    ) -> int:
        """Add a file or folder; returns the number of files added or changed."""
        self._require_draft("add files to")
        return writer.add_files(
            self._ctx,
            self._id,
            path,
            wildcard=wildcard,
            dataset_path=dataset_path,
            recursive=recursive,
            local_base_folder=local_base_folder,
            progress=self.progress,
        )

    def remove_files(
        self, dataset_path: str | None = None, recursive: bool = True, verbose: bool = False
    ) -> int:
        """Remove files matching a path or wildcard; returns how many were removed."""
        self._require_draft("remove files from")
        return writer.remove_files(self._ctx, self._id, dataset_path or "*", recursive=recursive)

    def sync_folder(
        self, local_path: str | Path, dataset_path: str | None = None, verbose: bool = False
    ) -> tuple[int, int, int]:
        """Make the draft mirror ``local_path``; returns (removed, added, modified)."""
        self._require_draft("sync")
        r = writer.sync_folder(
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
        retries: int = 3,
    ) -> None:
        """Upload pending content (``chunk_size`` in MB, as in ClearML)."""
        self._require_draft("upload")
        writer.upload(
            self._ctx,
            self._id,
            storage=output_url,
            chunk_size=int(chunk_size * 1024 * 1024) if chunk_size else None,
            max_workers=max_workers,
            compression=compression,
            progress=self.progress,
        )

    def finalize(
        self, verbose: bool = False, raise_on_error: bool = True, auto_upload: bool = False
    ) -> bool:
        """Close the version: from now on it is immutable.  Writes the git pointer in a repo."""
        try:
            self._require_draft("finalize")
            store_url = self._ctx.state.load_draft(self._id).storage
            if auto_upload:
                writer.upload(self._ctx, self._id, progress=self.progress)
            record = writer.finalize(self._ctx, self._id)
        except Exception:
            if raise_on_error:
                raise
            return False
        self._record, self._draft = record, None
        self.pointer_path = write_repo_pointer(record, store_url)
        return True

    def publish(self, raise_on_error: bool = True) -> bool:
        """ClearML's publish; closed versions are already final here."""
        return self.is_final() or self.finalize(raise_on_error=raise_on_error)

    def set_metadata(
        self, metadata: Any, metadata_name: str = "metadata", ui_visible: bool = True
    ) -> None:
        """Attach JSON-able metadata to a draft (stored in the version record)."""
        self._require_draft("set metadata on")
        with writer.editing(self._ctx, self._id) as draft:
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
        rev: str | None = None,
        storage: str | None = None,
        **kwargs: Any,
    ) -> Dataset:
        """Find a version by id, or by project + name (+ version / tags), newest first.

        Inside a git repository, project + name resolve through the dataset's
        pointer file (at ``rev`` when given), which pins the version per commit.
        """
        ctx = _home_context(Context.for_storage(storage), dataset_id, storage is not None)
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
            )
        except DatasetNotFoundError:
            if auto_create and dataset_name and not dataset_id:
                return cls.create(
                    dataset_name=dataset_name,
                    dataset_project=dataset_project,
                    dataset_tags=dataset_tags,
                )
            raise
        if (only_completed or only_published) and found.record is None:
            raise DatasetNotFoundError(f"dataset {found.id} is not closed yet", dataset_id=found.id)
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

    def _files(self) -> dict[str, Any]:
        """path -> object with .size/.sha256, for drafts and closed versions alike."""
        meta = self._meta()
        if isinstance(meta, Draft):
            return dict(meta.files)
        return self._manifest().as_dict()

    def get_local_copy(
        self,
        use_soft_links: bool | None = None,
        part: int | None = None,
        num_parts: int | None = None,
        raise_on_error: bool = True,
        max_workers: int | None = None,
    ) -> str:
        """Path of a read-only cached copy (files are hardlinks into the cache)."""
        manifest = self._manifest()
        path = materialize.cached_copy(
            self._ctx,
            self._id,
            manifest,
            part=part,
            num_parts=num_parts,
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
    ) -> str:
        """An independent, writable copy in ``target_folder``.

        ``overwrite`` replaces only an empty folder or a tree gd made that holds
        nothing else; the current folder, ``$HOME``, ``/`` and folders with a
        ``.git`` inside are never replaced (docs/api.md).
        """
        return str(
            self._materialize(target_folder, "copy", overwrite, part, num_parts, max_workers)
        )

    def get_linked_copy(
        self,
        target_folder: str | Path,
        overwrite: bool = False,
        part: int | None = None,
        num_parts: int | None = None,
        max_workers: int | None = None,
    ) -> str:
        """A read-only tree of hardlinks (symlinks across filesystems) in ``target_folder``.

        ``overwrite`` follows the same rule as :meth:`get_mutable_local_copy`.
        """
        return str(
            self._materialize(target_folder, "link", overwrite, part, num_parts, max_workers)
        )

    def _materialize(self, target, mode, overwrite, part, num_parts, max_workers) -> Path:
        return materialize.materialize(
            self._ctx,
            self._manifest(),
            Path(target_folder_str(target)),
            mode=mode,
            overwrite=overwrite,
            part=part,
            num_parts=num_parts,
            max_workers=max_workers,
            progress=self.progress,
            version_id=self._id,
        )

    def list_files(
        self, dataset_path: str | None = None, recursive: bool = True, dataset_id: str | None = None
    ) -> list[str]:
        """Dataset paths (sorted), optionally filtered by a path or wildcard; nothing downloaded."""
        target = self if dataset_id is None else Dataset.get(dataset_id=dataset_id)
        paths = sorted(target._files(), key=str.encode)
        if dataset_path:
            return [p for p in paths if match_pattern(p, dataset_path, recursive=recursive)]
        return paths

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

    def _changes(self, dataset_id: str | None) -> ChangeSet:
        if dataset_id is not None:
            return diff(Dataset.get(dataset_id=dataset_id)._files(), self._files())
        meta = self._meta()
        if isinstance(meta, Draft):
            return diff(writer.parent_files(self._ctx, meta), meta.files)
        return maintenance.change_set(self._ctx, meta)

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

    def open(self, path: str, mode: str = "rb"):
        """A read-only file object for one file (``"rb"``, or ``"r"`` for UTF-8 text)."""
        import io

        if mode not in ("rb", "r"):
            raise ValueError("datasets are read-only: open with 'rb' or 'r'")
        data = io.BytesIO(self.read_bytes(path))
        return data if mode == "rb" else io.TextIOWrapper(data, encoding="utf-8")

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
        folder = Path(local_copy_path) if local_copy_path else Path(self.get_local_copy())
        report = maintenance.verify_folder(self._manifest(), folder, size_only=skip_hash)
        return report.bad_files

    def verify(self, folder: str | Path, *, size_only: bool = False, raise_on_error: bool = False):
        """Full verification report of a folder (see :class:`~gitdata.ops.maintenance.VerifyReport`)."""
        report = maintenance.verify_folder(self._manifest(), Path(folder), size_only=size_only)
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
        dataset_ids: list[str] | None = None,
        dataset_project_name_pairs: list[tuple[str, str]] | None = None,
        output_url: str | None = None,
        dataset_project: str | None = None,
    ) -> Dataset:
        """A new flat version (no parents) holding the merged content of the given versions."""
        ctx = Context.for_storage(output_url)
        ids = list(dataset_ids or [])
        for project, name in dataset_project_name_pairs or []:
            ids.append(cls.get(dataset_project=project, dataset_name=name).id)
        record = writer.squash(ctx, name=dataset_name, version_ids=ids, project=dataset_project)
        return cls(Resolved(record, None, "squash"), ctx)

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
        """Versions matching all given filters, oldest first, as dicts."""
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
            if partial_name and partial_name.lower() not in row["name"].lower():
                return False
            if tags and not set(tags) <= set(row["tags"]):
                return False
            return not (ids and row["id"] not in ids)

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
    ) -> maintenance.DeleteReport | None:
        """Delete a version (a draft is discarded).  Refuses if others depend on it, unless ``force``."""
        ctx = Context.for_storage(storage)
        if dataset_id and ctx.state.has_draft(dataset_id):
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
        return maintenance.delete_version(ctx, found.id, force=force)


def target_folder_str(target: str | Path) -> str:
    """Expand ``~`` in a user-given folder."""
    return str(Path(target).expanduser())


def _row(vid, project, name, version, tags, parents, created, state, description) -> dict[str, Any]:
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
    }


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
        storage = ctx.state.load_draft(dataset_id).storage
    elif explicit_storage:
        return ctx
    else:
        storage = ctx.state.home_of(dataset_id)
    if storage and storage != ctx.settings.storage:
        return Context.for_storage(storage)
    return ctx


def open_dataset(dataset_id: str, storage: str | None = None) -> Dataset:
    """A Dataset for an id, draft or closed (used by the CLI)."""
    ctx = _home_context(Context.for_storage(storage), dataset_id, storage is not None)
    return Dataset(by_id(ctx, dataset_id), ctx)


__all__ = ["Dataset", "normalize_dataset_path", "open_dataset"]
