"""Git-facing operations: init, status, and the checks the git hooks run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.config import REPO_CONFIG
from gitdata.errors import (
    DatasetNotFoundError,
    FormatError,
    GitDataError,
    HookRefusedError,
    IntegrityError,
    NotARepositoryError,
    StorageUnavailableError,
    StoreNotFoundError,
)
from gitdata.gitio.history import pointers_in_commits, staged_pointer_changes
from gitdata.gitio.hooks import HookChange, install_hooks, missing_hooks
from gitdata.gitio.pointer import (
    POINTER_DIR,
    Pointer,
    dataset_of_relpath,
    decode_pointer,
    has_conflict_markers,
    pointer_relpath,
)
from gitdata.gitio.remote import remote_is_on_this_machine
from gitdata.gitio.repo import GitRepo, find_repo
from gitdata.ops.context import Context
from gitdata.ops.resolve import check_pointer, check_pointer_path
from gitdata.storage import version_key

ATTRIBUTES_LINE = f"{POINTER_DIR}/**/*.yaml merge=gitdata diff=gitdata -text"
_ZERO = "0" * 40


def require_repo(cwd: Path | None = None) -> GitRepo:
    """The enclosing git repository, or a clear error."""
    repo = find_repo(cwd)
    if repo is None:
        raise NotARepositoryError(
            "not inside a git repository",
            hint="run git init first; store-only commands (create, add, get --id, ...) work anywhere",
        )
    return repo


@dataclass
class InitReport:
    """What ``gd init`` changed."""

    config: Path
    attributes_added: bool
    hooks: list[HookChange] = field(default_factory=list)


def init_repo(storage: str | None = None, cwd: Path | None = None) -> InitReport:
    """Set up a repository for gitdata; running it again changes nothing."""
    repo = require_repo(cwd)
    cfg_path = repo.workdir / REPO_CONFIG
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = load_yaml_mapping(cfg_path.read_bytes(), str(cfg_path)) if cfg_path.exists() else {}
    if storage is not None:
        if "://" not in storage and Path(storage).expanduser().is_absolute():
            cfg["storage"] = str(Path(storage).expanduser())
        else:
            cfg["storage"] = storage
    text = (
        "# gitdata settings for this repository (committed: never put secrets here;\n"
        "# credentials belong in the environment or ~/.config/gitdata/config.yaml)\n"
        + (dump_yaml(cfg) if cfg else "")
    )
    if not cfg_path.exists() or cfg_path.read_text() != text:
        cfg_path.write_text(text)
    attrs = repo.workdir / ".gitattributes"
    existing = attrs.read_text() if attrs.exists() else ""
    added = ATTRIBUTES_LINE not in existing.splitlines()
    if added:
        sep = "" if not existing or existing.endswith("\n") else "\n"
        attrs.write_text(existing + sep + ATTRIBUTES_LINE + "\n")
    hooks = install_hooks(repo.repo)
    register_merge_driver(repo)
    return InitReport(cfg_path, added, hooks)


def missing_setup(cwd: Path | None = None) -> list[str]:
    """What ``gd init`` would still set up in a repository that holds pointer files:
    the names of gd's hooks not installed, and ``merge driver`` when git does not
    know it.  Empty outside a repository, or in one without ``.gitdata/datasets``."""
    # Advisory only: a repository this cannot read is not worth failing a command for
    # (the command itself has succeeded by the time the notice is asked for).
    try:
        repo = find_repo(cwd)
        if repo is None or not (repo.workdir / POINTER_DIR).is_dir():
            return []
        missing = missing_hooks(repo.repo)
        if "merge.gitdata.driver" not in repo.repo.config:
            missing.append("merge driver")
    except (GitDataError, OSError):
        return []
    return missing


@dataclass
class PointerStatus:
    """The state of one pointer in the working tree."""

    project: str
    name: str
    path: str
    # clean, modified, new, deleted, malformed, conflicted (a merge left it unmerged:
    # gd merge --resolve); absent: bound, no pointer
    state: str
    id: str | None = None
    version: str | None = None
    draft_open: bool = False
    in_store: bool | None = None  # None unless --remote
    # malformed: why; with --remote also a pointer/record/manifest mismatch or a missing store
    bound: str | None = None  # folder bound to this dataset in this clone, if any
    bound_state: str | None = None  # current, stale, missing, no pointer
    suggested_bind: str | None = None  # folder a committed `bind` key suggests (not acted on)
    error: str | None = None


def status(ctx: Context, *, remote: bool = False, cwd: Path | None = None) -> list[PointerStatus]:
    """Every pointer's state; contacts the store only when ``remote``."""
    repo = require_repo(cwd)
    head = repo.pointer_blobs("HEAD")
    current = repo.pointer_blobs(None)
    drafts = {(d.project, d.name) for d in ctx.state.list_draft_headers()}
    from gitdata.ops.bind import load_bindings, suggestion

    bindings = load_bindings(repo)
    unmerged = repo.conflicted_paths()
    rows: list[PointerStatus] = []
    for rel in sorted(set(head) | set(current)):
        data = current.get(rel, head.get(rel))
        if rel in unmerged or (rel in current and has_conflict_markers(current[rel])):
            project, name = dataset_of_relpath(rel) or ("", "")
            row = PointerStatus(project, name, rel, "conflicted")
            binding = bindings.pop(f"{project}/{name}", None)
            if binding is not None:
                row.bound = binding.path
            rows.append(row)
            continue
        state = (
            "deleted"
            if rel not in current
            else "new"
            if rel not in head
            else "clean"
            if head[rel] == current[rel]
            else "modified"
        )
        try:
            assert data is not None  # rel comes from one of the two maps
            p = decode_pointer(data, rel)
        except (FormatError, GitDataError) as exc:
            rows.append(PointerStatus("", "", rel, "malformed", error=str(exc)))
            continue
        row = PointerStatus(
            p.project, p.name, rel, state, p.id, p.version, (p.project, p.name) in drafts
        )
        binding = bindings.pop(f"{p.project}/{p.name}", None)
        if binding is not None:
            row.bound = binding.path
            exists = (repo.workdir / binding.path).is_dir()
            row.bound_state = (
                "no pointer"
                if state == "deleted"
                else "missing"
                if not exists
                else "current"
                if binding.id == p.id
                else "stale"
            )
        elif state != "deleted":
            row.suggested_bind = suggestion(p, bindings)
        if remote and state != "deleted" and not ctx.state.has_draft(p.id):
            try:
                check_pointer(ctx, p, rel)
                row.in_store = True
            except DatasetNotFoundError:
                row.in_store = False
            except StoreNotFoundError as exc:
                row.in_store, row.error = False, str(exc)
            except IntegrityError as exc:
                row.in_store, row.error = True, str(exc)
        elif remote and state != "deleted":
            row.in_store = _in_store(ctx, p.id)
        rows.append(row)
    for binding in sorted(bindings.values(), key=lambda b: b.key):
        # Bound here, but neither HEAD nor the working tree has the dataset's pointer.
        rows.append(
            PointerStatus(
                binding.project,
                binding.name,
                pointer_relpath(binding.project, binding.name),
                "absent",
                bound=binding.path,
                bound_state="no pointer",
            )
        )
    return rows


def check_staged_pointers(
    ctx: Context, *, offline_ok: bool = True, cwd: Path | None = None
) -> list[str]:
    """pre-commit: problems with staged pointers (malformed, draft, not in the store, or
    not matching the store's record and manifest: see :func:`check_pointer`).

    Returns warnings; raises :class:`HookRefusedError` listing every problem.
    """
    repo = require_repo(cwd)
    problems: list[str] = []
    warnings: list[str] = []
    checks: list[tuple[str, Pointer]] = []
    for rel, data in sorted(staged_pointer_changes(repo).items()):
        if data is None:
            continue
        try:
            p = decode_pointer(data, rel)
            check_pointer_path(p, rel)
        except GitDataError as exc:
            problems.append(str(exc))
            continue
        if ctx.state.has_draft(p.id):
            problems.append(
                f"{rel} points at {p.id}, which is still a draft (run gd close --id {p.id})"
            )
            continue
        checks.append((rel, p))
    if checks:
        try:
            for rel, p in checks:
                try:
                    check_pointer(ctx, p, rel)
                except DatasetNotFoundError:
                    problems.append(f"{rel}: version {p.id} is not in the store {ctx.store.url}")
                except IntegrityError as exc:
                    problems.append(str(exc))
        except StoreNotFoundError as exc:
            problems.append(f"cannot check staged pointers: {exc}")
        except StorageUnavailableError as exc:
            if not offline_ok:
                problems.append(f"cannot reach the store to check staged pointers: {exc}")
            else:
                warnings.append(f"store unreachable, pointers not checked against it: {exc}")
    if problems:
        raise HookRefusedError(
            f"commit refused: {len(problems)} problem(s) with dataset pointers",
            problems=problems,
            hint="fix the pointers, or bypass once with git commit --no-verify",
        )
    return warnings


def _upload_from_local(ctx: Context, version_id: str) -> bool:
    """If the version exists only in this machine's embedded store, copy it up."""
    from gitdata.config import default_store_path
    from gitdata.ops.replicate import copy_version
    from gitdata.storage import open_store

    local_path = str(default_store_path())
    if os.path.abspath(os.path.expanduser(ctx.settings.storage)) == local_path:
        return False
    local = open_store(local_path)
    if not local.exists(version_key(version_id)):
        return False
    copy_version(local, ctx.store_for_writing(), version_id, ctx.settings.cache_dir / "tmp")
    return True


def _in_store(ctx: Context, version_id: str) -> bool:
    """Whether the configured store holds the version (a store not made yet holds none)."""
    try:
        return ctx.store.exists(version_key(version_id))
    except StoreNotFoundError:
        return False


def _store_label(ctx: Context) -> str:
    """The configured store's URL as messages show it, whether or not it exists yet."""
    try:
        return ctx.store.url
    except StoreNotFoundError as exc:
        return str(exc.fields.get("store", ctx.settings.storage))


def store_is_local(url: str) -> bool:
    """Whether a store URL is a filesystem path (or ``file://``) of this machine."""
    return "://" not in url or url.lower().startswith("file://")


def _local_store_refused(ctx: Context, remote_url: str | None) -> bool:
    """pre-push: would teammates who clone from ``remote_url`` be unable to reach the store?

    True when the store is a local path (the default embedded store included), the
    remote is on another machine, and ``hooks.allow_local_store`` is off.  An unknown
    remote (no URL given) is not judged.
    """
    return (
        remote_url is not None
        and not remote_is_on_this_machine(remote_url)
        and store_is_local(ctx.settings.storage)
        and not ctx.settings.allow_local_store
    )


def check_push(
    ctx: Context,
    stdin_text: str,
    cwd: Path | None = None,
    notes: list[str] | None = None,
    remote_url: str | None = None,
) -> int:
    """pre-push: every pointer version in the pushed commits must be in the store.

    A version that exists only in this machine's embedded store is uploaded
    (with its ancestors) first; anything else missing refuses the push.  When
    ``remote_url`` (git's second hook argument) is on another machine and the store
    is a local path, every pushed pointer is refused: nobody cloning from there
    could get its data (``hooks.allow_local_store`` / ``GD_ALLOW_LOCAL_STORE=1``
    allow it for a path every machine mounts).

    Every pushed pointer file is also cross-checked against the store's record and
    manifest of its version (:func:`check_pointer`): a mismatch refuses the push,
    naming the file (``path@commit``) and the field.

    ``stdin_text`` is what git passes: ``<local ref> <local sha> <remote ref> <remote sha>``
    per line.  Returns the number of pointer versions checked.
    """
    repo = require_repo(cwd)
    local_refused = _local_store_refused(ctx, remote_url)
    problems: list[str] = []
    stranded: list[str] = []
    mismatched = 0
    checked = 0
    seen: set[str] = set()
    missing: set[str] = set()
    for line in stdin_text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[1] == _ZERO:
            continue  # malformed line, or a branch deletion
        local_sha, remote_sha = parts[1], parts[3]
        exclude = [remote_sha] if remote_sha != _ZERO else []
        for commit, rel, data in pointers_in_commits(repo, local_sha, exclude):
            source = f"{rel}@{commit[:12]}"
            try:
                p = decode_pointer(data, source)
            except GitDataError as exc:
                problems.append(str(exc))
                continue
            first = p.id not in seen
            seen.add(p.id)
            if first:
                checked += 1
            if local_refused:
                if first:
                    stranded.append(p.id)
                    problems.append(
                        f"{p.project}/{p.name} {p.version} (id {p.id}) in commit {commit[:12]} "
                        f"is in the local store {ctx.settings.storage}, which nobody cloning "
                        f"from {remote_url} can reach"
                    )
                continue
            if first and not _in_store(ctx, p.id):
                if _upload_from_local(ctx, p.id):
                    if notes is not None:
                        notes.append(
                            f"uploaded {p.project}/{p.name} {p.version} to {ctx.store.url}"
                        )
                else:
                    missing.add(p.id)
                    problems.append(
                        f"{p.project}/{p.name} {p.version} (id {p.id}) in commit {commit[:12]} "
                        f"is not in the store {_store_label(ctx)}"
                    )
            if p.id in missing:
                continue
            # every pushed pointer file (not only the first naming an id) must match the
            # store's record and manifest of its version (docs/format.md section 9)
            try:
                check_pointer(ctx, p, rel, source)
            except (IntegrityError, FormatError) as exc:
                mismatched += 1
                problems.append(str(exc))
    if problems:
        hint = "close/upload those versions to the shared store, then push again"
        if mismatched:
            hint = (
                "a pushed pointer does not match the store's record of its version: restore "
                "it from an earlier commit (git log -p FILE) or check the store "
                "(gd verify --remote), then push again"
            )
        if stranded:
            hint = (
                "use a store your team can reach: gd init --storage URL (and commit "
                ".gitdata/config.yaml), then "
                f"gd push --id {stranded[0] if len(stranded) == 1 else 'ID'} --to URL "
                "for each version listed, and push again (if the local path is shared, "
                "e.g. NFS, set hooks.allow_local_store: true or GD_ALLOW_LOCAL_STORE=1)"
            )
        what = (
            f"push refused: {mismatched} pushed pointer(s) do not match the store's record"
            if mismatched == len(problems)
            else f"push refused: {len(problems)} dataset version(s) nobody else could get"
        )
        raise HookRefusedError(
            what,
            problems=problems,
            hint=hint,
        )
    return checked


@dataclass
class DatasetDiff:
    """How one dataset differs between two revisions."""

    project: str
    name: str
    path: str
    old_id: str | None
    new_id: str | None
    old_version: str | None
    new_version: str | None
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)


def diff_revisions(
    ctx: Context, old_rev: str | None = "HEAD", new_rev: str | None = None, cwd: Path | None = None
) -> list[DatasetDiff]:
    """Datasets whose pointer differs between ``old_rev`` and ``new_rev`` (None = working
    tree), with file-level changes from the manifests (no data is downloaded).

    Every pointer read is cross-checked against the store's record and manifest of its
    version (:func:`check_pointer`): a mismatch raises :class:`IntegrityError` naming
    the file (``path@rev``) and the field, rather than diffing content the pointer does
    not pin.
    """
    from gitdata.core.summary import summarize
    from gitdata.ops.reader import load_manifest

    repo = require_repo(cwd)
    old = repo.pointer_blobs(old_rev)
    new = repo.pointer_blobs(new_rev)
    out: list[DatasetDiff] = []

    def read(blobs: dict[str, bytes], rel: str, rev: str | None) -> Pointer | None:
        if rel not in blobs:
            return None
        source = rel if rev is None else f"{rel}@{rev}"
        return decode_pointer(blobs[rel], source)

    def files(p: Pointer | None, rel: str, rev: str | None) -> dict:
        if p is None:
            return {}
        record = check_pointer(ctx, p, rel, rel if rev is None else f"{rel}@{rev}")
        return load_manifest(ctx, record.manifest).as_dict()

    for rel in sorted(set(old) | set(new)):
        if old.get(rel) == new.get(rel):
            continue
        a = read(old, rel, old_rev)
        b = read(new, rel, new_rev)
        # both sides are checked even when they name the same id: a hand-edited
        # manifest or count beside an unchanged id is a mismatch, not a cosmetic change
        files_a, files_b = files(a, rel, old_rev), files(b, rel, new_rev)
        if a and b and a.id == b.id:
            continue  # only cosmetic pointer changes
        ref = b or a
        assert ref is not None
        changes = summarize(files_a, files_b).paths()
        out.append(
            DatasetDiff(
                ref.project,
                ref.name,
                rel,
                a.id if a else None,
                b.id if b else None,
                a.version if a else None,
                b.version if b else None,
                changes["added"],
                changes["modified"],
                changes["removed"],
                changes["renamed"],
            )
        )
    return out


# git runs the driver command with /bin/sh, %O %A %B as temp file names and %P as the
# single-quoted path, so the command is a shell snippet.  Without gd (nor
# python3 -m gitdata) it says so and exits 1: git then leaves the pointer as an
# ordinary conflict for `gd merge --resolve`.
_DRIVER_ARGS = "%O %A %B %P"
MERGE_DRIVER = (
    f"if command -v gd >/dev/null 2>&1; then exec gd merge-driver {_DRIVER_ARGS}; fi; "
    "if python3 -c 'import gitdata' >/dev/null 2>&1; then "
    f"exec python3 -m gitdata merge-driver {_DRIVER_ARGS}; fi; "
    'echo "gitdata: gd not found on PATH; "%P" left conflicted; run gd merge --resolve '
    'after activating the environment that has gitdata (or installing it)" >&2; exit 1'
)


def register_merge_driver(repo: GitRepo) -> None:
    """Tell git (repo-local config) how to merge pointer files (``gd init`` refreshes it)."""
    cfg = repo.repo.config
    cfg["merge.gitdata.name"] = "gitdata dataset pointer merge"
    cfg["merge.gitdata.driver"] = MERGE_DRIVER
