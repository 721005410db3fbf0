"""The library's git- and store-facing API, beside the ClearML-shaped ``Dataset``.

``Workspace`` is what the CLI talks to for everything that is not one dataset
version: setting up a repository, the hooks' checks, status / log / diff,
bound folders, merges, gc, copies between stores and the local cache.  It is
bound to one store (the configured one, or ``storage``) through the engine
context of gitdata.ops, so the CLI never reaches into ops, gitio, cache or
storage itself (an import-linter contract keeps it so).  Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitdata.ops.context import Context

if TYPE_CHECKING:
    from gitdata.cache import LocalCache
    from gitdata.core.graph_layout import Lineage
    from gitdata.core.progress import Progress
    from gitdata.core.record import VersionRecord
    from gitdata.gitio.history import PointerRevision, TimelineEntry
    from gitdata.gitio.hooks import HookChange
    from gitdata.gitio.pointer import Pointer
    from gitdata.gitio.repo import GitRepo
    from gitdata.ops.bind import Binding, BindUpdate
    from gitdata.ops.gc import GcReport
    from gitdata.ops.gitignore import IgnoreEntry
    from gitdata.ops.gitops import DatasetDiff, InitReport, PointerStatus
    from gitdata.ops.remote import RemoteReport
    from gitdata.ops.replicate import CopyReport


class Workspace:
    """One command's view of the store, the local cache and (when inside one) the repo."""

    def __init__(self, storage: str | None = None) -> None:
        self._ctx = Context.for_storage(storage)

    @classmethod
    def for_version(cls, dataset_id: str, storage: str | None = None) -> Workspace:
        """Bound to the store ``dataset_id`` lives in (``storage`` overrides)."""
        from gitdata.api import context_for_version

        ws = cls.__new__(cls)
        ws._ctx = context_for_version(dataset_id, storage)
        return ws

    # ------------------------------------------------------------ settings, ids
    @property
    def settings(self):
        """The resolved settings (flags, environment, config files, defaults)."""
        return self._ctx.settings

    def current_id(self) -> str:
        """The dataset created or used last (DatasetNotFoundError when none)."""
        from gitdata.ops.resolve import current_id

        return current_id(self._ctx)

    def resolve_id(self, dataset_id: str) -> str:
        """The full id of ``dataset_id``: a full id, or a unique prefix (6+ hex
        characters) of a version in this store or a draft of this machine."""
        from gitdata.ops.resolve import expand_id

        return expand_id(self._ctx, dataset_id)

    def home_of(self, dataset_id: str) -> str | None:
        """The store a version was closed in on this machine, if known."""
        return self._ctx.state.home_of(dataset_id)

    # ------------------------------------------------------------ repository
    def repo(self) -> GitRepo:
        """The enclosing git repository (NotARepositoryError outside one)."""
        from gitdata.ops.gitops import require_repo

        return require_repo()

    @staticmethod
    def find_repo(path: Path) -> GitRepo | None:
        """The git repository at or above ``path``, if any."""
        from gitdata.gitio.repo import find_repo

        return find_repo(path)

    def init(self, storage: str | None = None) -> InitReport:
        """``gd init``: config, .gitattributes, merge driver and hooks (idempotent)."""
        from gitdata.ops.gitops import init_repo

        return init_repo(storage)

    def install_hooks(self, *, uninstall: bool = False) -> list[HookChange]:
        """Install (or remove) the hook shims; a user's own hooks are chained, never lost."""
        from gitdata.errors import ConflictError
        from gitdata.gitio.hooks import install_hooks, uninstall_hooks

        repo = self.repo().repo
        try:
            return uninstall_hooks(repo) if uninstall else install_hooks(repo)
        except FileExistsError as exc:
            raise ConflictError(str(exc)) from None

    def check_staged_pointers(self) -> list[str]:
        """pre-commit: refuse bad staged pointers (raises); returns warnings."""
        from gitdata.ops.gitops import check_staged_pointers

        offline_ok = self._ctx.settings.hooks["offline"] == "warn"
        return check_staged_pointers(self._ctx, offline_ok=offline_ok)

    def check_push(self, refs: str, notes: list[str], remote_url: str | None) -> None:
        """pre-push: refuse pushes of pointers nobody else could get (raises)."""
        from gitdata.ops.gitops import check_push

        check_push(self._ctx, refs, notes=notes, remote_url=remote_url)

    def status(self, *, remote: bool = False) -> list[PointerStatus]:
        """Every pointer of the working tree and how it stands."""
        from gitdata.ops.gitops import status

        return status(self._ctx, remote=remote)

    @staticmethod
    def ignore_entries(sources: list[str], *, writing: bool = False) -> list[IgnoreEntry]:
        """The ``.gitignore`` lines sources inside the git work tree still need; with
        ``writing``, a ``.gitignore`` gd must not write is refused here (UnsafePathError)."""
        from gitdata.ops.gitignore import check_writable, ignore_entries

        entries = ignore_entries(sources)
        if writing:
            check_writable(entries)
        return entries

    @staticmethod
    def write_ignore_entries(entries: list[IgnoreEntry]) -> list[str]:
        """Append the entries to the work tree's ``.gitignore`` (never twice); the lines written."""
        from gitdata.ops.gitignore import write_entries

        return write_entries(entries)

    @staticmethod
    def missing_setup() -> list[str]:
        """Hooks (and the merge driver) ``gd init`` would install in this repository,
        when it holds pointer files; empty when all are there or outside a repository."""
        from gitdata.ops.gitops import missing_setup

        return missing_setup()

    def bind_notes(self, rows: list[PointerStatus]) -> list[str]:
        """What status says about bound folders beyond its table: suggestions, no pointer."""
        from gitdata.gitio.repo import find_repo

        repo = find_repo()
        lines = []
        for r in rows:
            if r.suggested_bind:
                folder = repo.workdir / r.suggested_bind if repo else None
                full = folder is not None and folder.is_dir() and any(folder.iterdir())
                lines.append(
                    f"{r.project}/{r.name}: pointer suggests binding {r.suggested_bind}/; run "
                    f"gd get --project {r.project} --name {r.name} --link {r.suggested_bind} "
                    f"--bind to accept" + (" (with --overwrite: it is not empty)" if full else "")
                )
            elif r.bound_state == "no pointer":
                lines.append(
                    f"{r.bound}: bound to {r.project}/{r.name}, which has no pointer here; left as is"
                )
        return lines

    def log(
        self, project: str, name: str, rev: str, max_count: int | None
    ) -> list[PointerRevision]:
        """The git history of one dataset's pointer, newest first."""
        from gitdata.gitio.history import pointer_log

        return pointer_log(self.repo(), project, name, rev, max_count)

    def timeline(self, rev: str = "HEAD", max_count: int = 200) -> list[TimelineEntry]:
        """Commits that changed pointers, newest first, and what each then pinned."""
        from gitdata.gitio.history import pointer_timeline

        return pointer_timeline(self.repo(), rev, max_count)

    def diff(self, old_rev: str, new_rev: str | None) -> list[DatasetDiff]:
        """Which datasets changed between two revisions, and how."""
        from gitdata.ops.gitops import diff_revisions

        return diff_revisions(self._ctx, old_rev, new_rev)

    def lineage(
        self, dataset_id: str | None = None, project: str | None = None, name: str | None = None
    ) -> Lineage:
        """The lineage DAG laid out for drawing (``gd graph``): ``dataset_id`` and its
        ancestors, or every closed version of ``project`` (and its sub-projects), or
        of ``project``/``name``."""
        from gitdata.errors import InvalidInputError
        from gitdata.ops.views import project_lineage, version_lineage

        if dataset_id is not None:
            return version_lineage(self._ctx, self.resolve_id(dataset_id))
        if project is None:
            raise InvalidInputError("give a dataset id or a project")
        return project_lineage(self._ctx, project, name)

    # ------------------------------------------------------------ bound folders
    def update_bound(self, only: list[str] | None = None) -> list[BindUpdate]:
        """Bring bound folders up to date with the working tree's pointers."""
        from gitdata.ops.bind import checkout

        return checkout(self._ctx, self.repo(), only)

    def check_bind(self, project: str, name: str, dataset_id: str, folder: Path) -> Pointer:
        """The pointer ``--bind`` will bind, checked before anything is materialised."""
        from gitdata.errors import InvalidInputError
        from gitdata.ops.bind import check_bind

        repo = self.repo()
        pointer = repo.read_pointer(project, name)
        if pointer is None or pointer.id != dataset_id:
            raise InvalidInputError(
                f"--bind needs {project}/{name}'s pointer in this repository to pin {dataset_id}",
                hint="bind the version the pointer pins: gd get --project P --name N --link DIR --bind",
            )
        check_bind(repo, project, name, folder)
        return pointer

    def bind(self, pointer: Pointer, folder: Path, mode: str) -> Binding:
        """Bind ``folder`` to the pointer's dataset in this clone (nothing committed changes)."""
        from gitdata.ops.bind import bind

        return bind(self._ctx, self.repo(), pointer, folder, mode)

    # ------------------------------------------------------------ merges
    @staticmethod
    def parse_take(items: list[str] | None) -> dict[str, str]:
        """``--take PATH=ours|theirs`` items -> {path: side}."""
        from gitdata.ops.merging import parse_take

        return parse_take(items)

    def merge(
        self,
        ours_id: str,
        theirs_id: str,
        *,
        prefer: str | None = None,
        take: Mapping[str, str] | None = None,
    ) -> VersionRecord:
        """Three-way merge two versions into a new one (MergeConflictError if undecided)."""
        from gitdata.ops.merging import merge_versions

        ours_id, theirs_id = self.resolve_id(ours_id), self.resolve_id(theirs_id)
        return merge_versions(self._ctx, ours_id, theirs_id, prefer=prefer, take=take)

    def resolve_conflicts(
        self, *, prefer: str | None = None, take: Mapping[str, str] | None = None
    ) -> list[str]:
        """``gd merge --resolve``: merge and stage every conflicted pointer."""
        from gitdata.ops.merging import resolve_conflicts

        return resolve_conflicts(self._ctx, prefer=prefer, take=take)

    def merge_driver(self, base: str, ours: str, theirs: str, rel: str) -> None:
        """git's merge driver for one pointer file."""
        from gitdata.ops.merging import merge_driver

        merge_driver(self._ctx, base, ours, theirs, rel)

    # ------------------------------------------------------------ store upkeep
    def gc(
        self,
        extra_repos: list[str],
        *,
        grace: str,
        dry_run: bool,
        reflog: bool,
        confirm: Callable[[GcReport], bool] | None = None,
        progress: Progress | None = None,
    ) -> GcReport:
        """Remove store content no pointer of any ref of these repositories reaches
        (``confirm`` sees the plan first and may call it off)."""
        from gitdata.errors import NotARepositoryError
        from gitdata.ops.gc import collect_garbage, parse_duration

        repos = [self.repo()]
        for path in extra_repos:
            extra = self.find_repo(Path(path))
            if extra is None:
                raise NotARepositoryError(f"--repo {path} is not a git repository")
            repos.append(extra)
        return collect_garbage(
            self._ctx,
            repos,
            grace_seconds=parse_duration(grace),
            dry_run=dry_run,
            reflog=reflog,
            confirm=confirm,
            progress=progress,
        )

    def copy_version(
        self,
        dataset_id: str | None,
        src_url: str | None,
        dst_url: str | None,
        progress: Progress | None = None,
    ) -> tuple[str, str, str, CopyReport]:
        """Copy a version and its ancestors between stores: (id, from, to, report).

        The source defaults to the store the version was closed in here.
        """
        from gitdata.core.progress import NULL_PROGRESS
        from gitdata.ops.replicate import copy_version
        from gitdata.ops.resolve import expand_id

        if dataset_id:
            # a short id is looked up in the source store (pull --from URL) when given
            where = self._ctx.store_for(src_url) if src_url else None
            vid = expand_id(self._ctx, dataset_id, where)
        else:
            vid = self.current_id()
        src = self._ctx.store_for(src_url or self._ctx.state.home_of(vid))
        dst = self._ctx.store_for_writing(dst_url)
        report = copy_version(
            src, dst, vid, self._ctx.settings.cache_dir / "tmp", progress or NULL_PROGRESS
        )
        return vid, src.url, dst.url, report

    # ------------------------------------------------------------ local cache
    @property
    def cache(self) -> LocalCache:
        """The content-addressed local cache."""
        return self._ctx.cache


def verify_in_store(ds: Any, *, deep: bool) -> RemoteReport:
    """``gd verify --remote``: every object a closed version reaches is in its store."""
    from gitdata.ops.remote import verify_remote

    record = ds.record
    return verify_remote(
        ds._ctx, ds.id, record.manifest, ds._manifest(), deep=deep, progress=ds.progress
    )


def abandon_transfers() -> bool:
    """After Ctrl-C: True (and temp files removed) when transfer threads are still running."""
    import threading

    from gitdata.storage.transfer import TRANSFER_THREAD_PREFIX, discard_scratch

    if any(t.name.startswith(TRANSFER_THREAD_PREFIX) for t in threading.enumerate()):
        discard_scratch()
        return True
    return False


__all__ = ["Workspace", "abandon_transfers", "verify_in_store"]
