"""Shared fixtures: every test runs with its own HOME, XDG folders, cache and store."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gitdata import Dataset

PROJECT = Path(__file__).resolve().parents[1]


def _pointer_dir_status() -> tuple[bool, set[str]] | None:
    """Whether the project's work tree has a ``.gitdata/`` folder, and what
    ``git status`` says under it (untracked and ignored files included); None
    when the project is not a git checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # a status must not write the project's index
    git = ["git", "-C", str(PROJECT)]
    try:
        top = subprocess.run(
            [*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True, env=env
        )
        if top.returncode or Path(top.stdout.strip()).resolve() != PROJECT:
            return None
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=all", "--ignored", "--", ".gitdata"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return (PROJECT / ".gitdata").exists(), set(status.stdout.splitlines())


@pytest.fixture(scope="session", autouse=True)
def project_tree_untouched() -> Iterator[None]:
    """Fail the run if a test wrote pointers into the project's own work tree
    (a ``.gitdata/`` folder appears, or anything under it changes): tests and
    benchmarks must work in temporary repositories."""
    before = _pointer_dir_status()
    yield
    if before is None:
        return
    after = _pointer_dir_status()
    if after is None:
        return
    problems = sorted(after[1] - before[1])
    if after[0] and not before[0]:
        problems.insert(0, f"{PROJECT / '.gitdata'} was created")
    if problems:
        pytest.fail(
            "the test session wrote into the project's work tree (a test ran gd with its "
            "cwd inside the project?): " + "; ".join(problems),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the real ~/.cache, ~/.config or ~/.local."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in ("GD_STORAGE", "GD_CACHE_DIR", "GD_CACHE_SIZE", "GD_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def interruptible() -> None:
    """``preexec_fn`` of a child a test sends SIGINT: a shell that runs the suite in the
    background (``cmd &``) starts it with SIGINT ignored (POSIX), and Python keeps an
    inherited ignore instead of raising KeyboardInterrupt; here the child gets the
    default back, so it starts as it would from a terminal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Create files under ``root`` from a path -> content map."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    return root


def closed_version(
    src: Path,
    files: dict[str, bytes | str],
    name: str = "ds",
    parents: list[str] | None = None,
) -> Dataset:
    """A closed version of project ``p`` holding ``files`` (written under ``src``),
    made as ClearML code does (create, add_files, upload, finalize), read back by id."""
    from gitdata import Dataset

    make_tree(src, files)
    ds = Dataset.create(dataset_project="p", dataset_name=name, parent_datasets=parents)
    ds.add_files(src)
    ds.upload()
    ds.finalize()
    return Dataset.get(dataset_id=ds.id)


def read_tree(root: Path) -> dict[str, bytes]:
    """path -> bytes for every file under ``root`` (but the marker gd leaves in a
    tree it made: tests/ops/test_overwrite.py checks that one)."""
    from gitdata.ops.target import is_marker_file

    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = Path(dirpath) / name
            if not is_marker_file(full):
                out[full.relative_to(root).as_posix()] = full.read_bytes()
    return out


# ------------------------------------------------------------------ object stores
#
# Cloud tests run against real local servers (Ceph RGW, fake-gcs-server, Azurite)
# started once per session by tests/servers/manage.py.  scripts/test.sh (the
# README's test command and CI) installs them and sets GD_TEST_SERVERS=required,
# so a server that cannot start fails the run instead of skipping a backend.
# Servers started outside (their variables already exported) are used as they are.


def _pin_server_tools() -> None:
    """The servers' binaries live under the real home; each test gets a fake HOME, so
    the folder is fixed here, before any test changes it."""
    from servers import manage

    os.environ.setdefault("GD_SERVERS_TOOLS", str(manage.tools_dir()))


_pin_server_tools()

CLOUDS = ("s3", "gcs", "azure")
STORE_KINDS = ("local", *CLOUDS)
_ENV_MARKERS = {
    "s3": "GD_TEST_S3_ENDPOINT_URL",
    "gcs": "GD_TEST_GCS_ENDPOINT_URL",
    "azure": "GD_TEST_AZURE_CONNECTION_STRING",
}
_SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "azure"}


@pytest.fixture(scope="session")
def storage_servers(tmp_path_factory: pytest.TempPathFactory):
    """Variables of the running local servers (started here unless already running)."""
    import shutil
    import tempfile
    import uuid

    missing = [c for c in CLOUDS if not os.environ.get(_ENV_MARKERS[c])]
    root = None
    if missing:
        from servers import manage

        required = os.environ.get("GD_TEST_SERVERS") == "required"
        problem = manage.missing_tools()
        if problem:
            if required:
                pytest.fail(f"storage servers required but not installed: {problem}")
            pytest.skip(f"storage servers not installed ({problem}): run scripts/test.sh")
        # Ceph's admin sockets want a short path: not under pytest's deep tmp dirs.
        root = Path(tempfile.gettempdir()) / f"gd-srv-{uuid.uuid4().hex[:8]}"
        try:
            env = manage.start(root, missing)
        except Exception as exc:  # noqa: BLE001 - reported as a test failure
            manage.stop(root)
            pytest.fail(f"could not start storage servers {missing}: {exc}")
        os.environ.update(env)
        os.environ["GD_TEST_SERVERS_DIR"] = str(root)
    yield {k: v for k, v in os.environ.items() if k.startswith(("GD_TEST_", "AWS_", "AZURE_"))}
    if root is not None:
        manage.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def cloud_options(kind: str) -> dict:
    """Explicit fsspec options for a local test server (tests that bypass the env)."""
    e = os.environ
    if kind == "s3":
        return {
            "key": e["GD_TEST_S3_KEY"],
            "secret": e["GD_TEST_S3_SECRET"],
            "endpoint_url": e["GD_TEST_S3_ENDPOINT_URL"],
        }
    if kind == "gcs":
        return {"token": "anon", "endpoint_url": e["GD_TEST_GCS_ENDPOINT_URL"]}
    return {"connection_string": e["GD_TEST_AZURE_CONNECTION_STRING"]}


def new_bucket(kind: str) -> str:
    """Create a fresh, empty bucket / container on a test server; returns its name."""
    import uuid

    import fsspec

    name = f"gd-{uuid.uuid4().hex[:16]}"
    protocol = {"s3": "s3", "gcs": "gcs", "azure": "az"}[kind]
    fs = fsspec.filesystem(protocol, skip_instance_cache=True, **cloud_options(kind))
    fs.mkdir(name)
    return name


def cloud_url(kind: str, bucket: str | None = None, prefix: str = "store") -> str:
    """A store URL on a test server; a fresh bucket unless one is given."""
    return f"{_SCHEMES[kind]}://{bucket or new_bucket(kind)}/{prefix}"


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each store kind in turn: local, s3, gcs, azure (cloud kinds start the servers)."""
    if request.param != "local":
        request.getfixturevalue("storage_servers")
    return request.param


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path) -> str:
    """A fresh, empty store of the current kind, as a URL."""
    if store_kind == "local":
        return str(tmp_path / "store")
    return cloud_url(store_kind)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Page manifests of more than 20 files, 5 to 12 files a page, deltas up to 10
    (so a test's hundred files make a paged version and its children)."""
    from gitdata.core import pages

    monkeypatch.setattr(pages, "PAGED_FROM_FILES", 20)
    monkeypatch.setattr(pages, "PAGE_MIN_FILES", 5)
    monkeypatch.setattr(pages, "PAGE_CUT_MASK", 7)
    monkeypatch.setattr(pages, "PAGE_MAX_FILES", 12)
    monkeypatch.setattr(pages, "DELTA_MAX_FILES", 10)


def draft_files(drafts_dir: Path, draft_id: str) -> dict[str, bytes]:
    """The bytes of a draft as it sits on disk (its database and write-ahead log), to
    put back with :func:`restore_draft` (as a killed command would leave it)."""
    return {
        p.name: p.read_bytes()
        for p in drafts_dir.glob(f"{draft_id}.db*")
        if not p.name.endswith("-shm")  # (rebuilt by the first connection)
    }


def restore_draft(drafts_dir: Path, draft_id: str, saved: dict[str, bytes]) -> None:
    """Put back a draft saved by :func:`draft_files`, replacing what is there."""
    for p in drafts_dir.glob(f"{draft_id}.db*"):
        p.unlink()
    for name, data in saved.items():
        (drafts_dir / name).write_bytes(data)


def draft_content(drafts_dir: Path, draft_id: str) -> list[str]:
    """What a draft's database holds, as SQL (compare before and after a command)."""
    import sqlite3

    conn = sqlite3.connect(drafts_dir / f"{draft_id}.db")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
