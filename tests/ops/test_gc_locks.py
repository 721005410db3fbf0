"""gc against concurrent writers on other machines, and the parents of open drafts.

Two "machines" share one store: each has its own state folder (drafts) and
cache, as two computers would.  Interleavings are forced with events at hook
points (the writer stops right before its commit point, gc right before its
first delete), never by sleeping and hoping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gitdata.config import resolve_settings
from gitdata.errors import GitDataError, IntegrityError, StoreLockedError
from gitdata.gitio.repo import find_repo
from gitdata.ops import commit, drafts, gc, upload
from gitdata.ops.context import Context
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.remote import verify_remote
from gitdata.storage import FsspecStore
from gitdata.storage.locks import LOCKS_PREFIX, StoreLock, store_lock
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]


def machine(tmp_path: Path, name: str, store: Path) -> Context:
    """A Context with its own drafts and cache, on the shared store."""
    settings = resolve_settings(storage=str(store))
    return Context(
        dataclasses.replace(
            settings,
            state_dir=tmp_path / name / "state",
            cache_dir=tmp_path / name / "cache",
        )
    )


def open_draft(ctx: Context, src: Path, parents: list[str] | None = None, name: str = "cats"):
    draft = drafts.create_draft(ctx, project="vision", name=name, parents=parents)
    drafts.sync_folder(ctx, draft.id, src)
    return draft


def close(ctx: Context, src: Path, parents: list[str] | None = None, name: str = "cats"):
    draft = open_draft(ctx, src, parents, name)
    return commit.finalize(ctx, draft.id, auto_upload=True)


def deep_ok(ctx: Context, version_id: str) -> bool:
    """gd verify --remote --deep, through a fresh Context (no cached records)."""
    fresh = Context(ctx.settings)
    record = load_record(fresh, version_id)
    report = verify_remote(
        fresh, version_id, record.manifest, load_manifest(fresh, record.manifest), deep=True
    )
    return not (report.missing or report.short or report.corrupt)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def git_repo(repo: Path):
    return find_repo(repo)


@pytest.fixture
def pause_before(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[threading.Event, ...]]:
    """pause_before(prefix, method): the first call of FsspecStore.<method> on a key
    under ``prefix`` made by a non-main thread waits until released."""

    def install(prefix: str, method: str = "put_bytes") -> tuple[threading.Event, threading.Event]:
        reached, release = threading.Event(), threading.Event()
        real = getattr(FsspecStore, method)

        def wrapper(self, key, *args, **kwargs):
            if (
                key.startswith(prefix)
                and threading.current_thread() is not threading.main_thread()
                and not reached.is_set()
            ):
                reached.set()
                assert release.wait(30), "the test never released the paused thread"
            return real(self, key, *args, **kwargs)

        monkeypatch.setattr(FsspecStore, method, wrapper)
        return reached, release

    return install


# ------------------------------------------------------------------ concurrent close


def test_gc_between_chunk_check_and_record_cannot_leave_holes(
    tmp_path: Path, store: Path, git_repo, pause_before, in_thread
):
    """The reported race: the writer checked its chunks exist, gc deleted them, the
    writer wrote its record.  gc must refuse while the writer holds its lock."""
    writer = machine(tmp_path, "a", store)
    collector = machine(tmp_path, "b", store)
    src = make_tree(tmp_path / "src", {"x/1.bin": b"1" * 5000, "x/2.bin": b"2" * 7000})
    draft = open_draft(writer, src)
    upload.upload(writer, draft.id)
    reached, release = pause_before("versions/")
    job = in_thread(lambda: commit.finalize(writer, draft.id))
    assert reached.wait(30)  # chunks checked, manifest written, record not yet
    refusal = None
    try:
        gc.collect_garbage(collector, [git_repo], grace_seconds=0)
    except StoreLockedError as exc:
        refusal = exc
    finally:
        release.set()
        job["thread"].join(30)
    assert "error" not in job, job.get("error")
    version = job["value"]
    assert deep_ok(writer, version.id)  # no visible version with holes
    assert refusal is not None  # ... because gc refused
    assert "gd close on host" in str(refusal) and f"pid {os.getpid()}" in str(refusal)
    # with the writer gone, gc runs (and, with no pointer naming it, may collect it)
    gc.collect_garbage(collector, [git_repo], grace_seconds=3600)
    assert deep_ok(writer, version.id)


def test_gc_during_upload_refuses_and_the_version_stays_whole(
    tmp_path: Path, store: Path, git_repo, pause_before, in_thread
):
    """gd close on one machine is sending chunks when gc starts on another."""
    writer = machine(tmp_path, "a", store)
    collector = machine(tmp_path, "b", store)
    files = {f"d{i}/f.bin": os.urandom(3000) for i in range(4)}
    src = make_tree(tmp_path / "src", files)
    draft = open_draft(writer, src)
    reached, release = pause_before("objects/", "put_file")
    job = in_thread(
        lambda: commit.finalize(writer, draft.id, auto_upload=True, chunk_size=2000, max_workers=1)
    )
    assert reached.wait(30)
    refusal = None
    try:
        gc.collect_garbage(collector, [git_repo], grace_seconds=0)
    except StoreLockedError as exc:
        refusal = exc
    finally:
        release.set()
        job["thread"].join(30)
    assert "error" not in job, job.get("error")  # the close went through ...
    assert deep_ok(writer, job["value"].id)  # ... whole
    assert refusal is not None


def test_close_refuses_while_gc_holds_the_store_then_succeeds(
    tmp_path: Path, store: Path, git_repo, pause_before, in_thread
):
    writer = machine(tmp_path, "a", store)
    collector = machine(tmp_path, "b", store)
    close(collector, make_tree(tmp_path / "old", {"o": "orphan"}), name="old")
    src = make_tree(tmp_path / "src", {"a.txt": "alpha", "b.txt": "beta"})
    draft = open_draft(writer, src)
    reached, release = pause_before("versions/", "delete")  # gc's first delete
    job = in_thread(lambda: gc.collect_garbage(collector, [git_repo], grace_seconds=0))
    assert reached.wait(30)
    try:
        with pytest.raises(StoreLockedError) as err:
            commit.finalize(writer, draft.id, auto_upload=True)
        assert "gd gc on host" in str(err.value)
        with pytest.raises(StoreLockedError):
            upload.upload(writer, draft.id)
    finally:
        release.set()
        job["thread"].join(30)
    assert "error" not in job, job.get("error")
    assert writer.state.has_draft(draft.id)  # the refused close changed nothing
    assert not list(writer.store.list(LOCKS_PREFIX))  # every lock was released
    version = commit.finalize(writer, draft.id, auto_upload=True)
    assert deep_ok(writer, version.id)


def test_writer_whose_lock_went_stale_checks_again_before_its_record(
    tmp_path: Path, store: Path, git_repo, pause_before, in_thread, monkeypatch
):
    """A writer paused so long that its lock went stale: gc went ahead.  When the
    writer resumes it rewrites its lock and lists again before its chunk check
    (docs/format.md §11 rule 6), finds gc, and refuses; a retry re-sends."""
    writer = machine(tmp_path, "a", store)
    writer.settings.lock_stale = 60
    collector = machine(tmp_path, "b", store)
    draft = open_draft(writer, make_tree(tmp_path / "src", {"a": "1", "b": "2"}))
    monkeypatch.setattr(StoreLock, "_refresh_loop", lambda self: None)  # paused too
    uploaded, resume_writer = threading.Event(), threading.Event()
    real_upload = commit.upload

    def upload_then_pause(*args, **kwargs):
        sent = real_upload(*args, **kwargs)
        uploaded.set()
        assert resume_writer.wait(30)
        return sent

    monkeypatch.setattr(commit, "upload", upload_then_pause)
    job = in_thread(lambda: commit.finalize(writer, draft.id, auto_upload=True))
    assert uploaded.wait(30)  # chunks uploaded, not yet checked
    _age_locks(store, 120)  # two minutes without a refresh: stale for a 60 s lock
    gc_at_delete, release_gc = pause_before("objects/", "delete")
    gc_job = in_thread(lambda: gc.collect_garbage(collector, [git_repo], grace_seconds=0))
    assert gc_at_delete.wait(30)  # gc ignored the stale lock and is deleting
    resume_writer.set()
    job["thread"].join(30)
    release_gc.set()
    gc_job["thread"].join(30)
    assert "error" not in gc_job, gc_job.get("error")
    assert isinstance(job.get("error"), StoreLockedError), job
    assert "gd gc on host" in str(job["error"])
    assert writer.state.has_draft(draft.id)
    assert gc_job["value"].removed_objects == 1  # the draft's chunk went
    monkeypatch.setattr(commit, "upload", real_upload)
    version = commit.finalize(writer, draft.id, auto_upload=True)  # re-sends it
    assert deep_ok(writer, version.id)


def test_chunks_removed_between_upload_and_close_are_reported_then_resent(
    tmp_path: Path, store: Path, git_repo
):
    """No lock spans two commands: gc may run between gd upload and gd close.  close
    then refuses (nothing visible with holes) and a new upload re-sends."""
    writer = machine(tmp_path, "a", store)
    collector = machine(tmp_path, "b", store)
    draft = open_draft(writer, make_tree(tmp_path / "src", {"a": "1", "b": "2"}))
    upload.upload(writer, draft.id)
    report = gc.collect_garbage(collector, [git_repo], grace_seconds=0)
    assert report.removed_objects == 1  # the draft's chunk: machine b cannot see the draft
    with pytest.raises(IntegrityError, match="chunk.* this version uploaded are missing"):
        commit.finalize(writer, draft.id)
    version = commit.finalize(writer, draft.id, auto_upload=True)
    assert deep_ok(writer, version.id)


def test_close_says_when_gc_elsewhere_removed_the_parent(tmp_path: Path, store: Path, git_repo):
    writer = machine(tmp_path, "a", store)
    collector = machine(tmp_path, "b", store)
    parent = close(writer, make_tree(tmp_path / "p", {"a": "1"}))
    draft = open_draft(writer, make_tree(tmp_path / "c", {"a": "1", "b": "2"}), [parent.id])
    upload.upload(writer, draft.id)
    gc.collect_garbage(collector, [git_repo], grace_seconds=0)  # b does not see a's draft
    with pytest.raises(GitDataError) as err:
        commit.finalize(writer, draft.id)
    text = str(err.value) + " " + (err.value.hint or "")
    assert "inherits" in text or parent.id in text, text
    assert "gd gc" in text, text
    assert writer.state.has_draft(draft.id)
    # a machine that has not cached the parent's record says the same
    cold = machine(tmp_path, "a", store)
    cold.settings.cache_dir = tmp_path / "a" / "cold-cache"
    with pytest.raises(GitDataError) as err:
        commit.finalize(cold, draft.id)
    text = str(err.value) + " " + (err.value.hint or "")
    assert parent.id in text and "gd gc" in text, text


# ------------------------------------------------------------------ drafts' parents


def test_gc_keeps_parent_and_grandparent_of_a_local_draft(tmp_path: Path, store: Path, git_repo):
    ctx = machine(tmp_path, "a", store)
    grand = close(ctx, make_tree(tmp_path / "g", {"g.txt": "grand"}))
    parent = close(
        ctx, make_tree(tmp_path / "p", {"g.txt": "grand", "p.txt": "parent"}), [grand.id]
    )
    draft = open_draft(
        ctx,
        make_tree(tmp_path / "c", {"g.txt": "grand", "p.txt": "parent", "c": "child"}),
        [parent.id],
    )
    upload.upload(ctx, draft.id)
    orphan = close(ctx, make_tree(tmp_path / "o", {"o": "orphan"}), name="orphan")
    report = gc.collect_garbage(Context(ctx.settings), [git_repo], grace_seconds=0)
    assert report.removed_versions == [orphan.id]
    for vid in (grand.id, parent.id):
        assert deep_ok(ctx, vid)
    version = commit.finalize(Context(ctx.settings), draft.id)
    assert version.parents == [parent.id]
    assert deep_ok(ctx, version.id)


def test_gd_gc_keeps_a_drafts_parent_cli(tmp_path: Path, repo: Path, store: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GD_STORAGE": str(store)}

    def gd(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gitdata", *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    make_tree(tmp_path / "p", {"a": "1"})
    r = gd("create", "--project", "p", "--name", "n", "--json")
    assert r.returncode == 0, r.stderr
    first = r.stdout
    assert gd("add", "--files", str(tmp_path / "p")).returncode == 0
    assert gd("close").returncode == 0, first
    parent_id = json.loads(first)["id"]
    assert gd("create", "--project", "p", "--name", "n", "--parents", parent_id).returncode == 0
    r = gd("gc", "--grace", "0", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["removed_versions"] == []
    assert gd("verify", "--id", parent_id, "--remote", "--deep").returncode == 0


# ------------------------------------------------------------------ stale locks


def _leave_lock(store: Path, stale: int) -> None:
    """A process takes a shared lock (as close does) and is killed holding it."""
    code = (
        "import os, signal\n"
        "from gitdata.ops.context import Context\n"
        "from gitdata.storage.locks import store_lock\n"
        "ctx = Context()\n"
        "with store_lock(ctx.store, exclusive=False, operation='close',"
        " stale_after=ctx.settings.lock_stale):\n"
        "    print(os.getpid(), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GD_STORAGE": str(store),
        "GD_LOCK_STALE": str(stale),
    }
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    return int(r.stdout)


def _age_locks(store: Path, seconds: float) -> None:
    for path in (store / "locks").iterdir():
        st = path.stat()
        os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_lock_of_a_killed_process_blocks_gc_until_stale(tmp_path: Path, store: Path, git_repo):
    ctx = machine(tmp_path, "a", store)
    close(ctx, make_tree(tmp_path / "o", {"o": "orphan"}), name="orphan")
    pid = _leave_lock(store, stale=5)
    with pytest.raises(StoreLockedError) as err:
        gc.collect_garbage(ctx, [git_repo], grace_seconds=0)
    assert f"(pid {pid})" in str(err.value) and "gd close" in str(err.value)
    assert "5s after its last refresh" in (err.value.hint or "")
    _age_locks(store, 3)  # younger than its stale time: still counts
    with pytest.raises(StoreLockedError):
        gc.collect_garbage(ctx, [git_repo], grace_seconds=0)
    _age_locks(store, 3)  # now 6 s without a refresh
    report = gc.collect_garbage(ctx, [git_repo], grace_seconds=0)
    assert len(report.removed_versions) == 1
    assert report.stale_locks == 1
    assert not list((store / "locks").iterdir())  # gc removed the dead lock


def test_default_stale_time_outlasts_minutes(tmp_path: Path, store: Path, git_repo):
    ctx = machine(tmp_path, "a", store)
    ctx.store_for_writing()  # initialise the store
    _leave_lock(store, stale=1800)
    _age_locks(store, 20 * 60)
    with pytest.raises(StoreLockedError):
        gc.collect_garbage(ctx, [git_repo], grace_seconds=0)


def test_gd_gc_refusal_is_one_line_exit_8(tmp_path: Path, repo: Path, store: Path):
    ctx = machine(tmp_path, "a", store)
    ctx.store_for_writing()  # initialise the store
    pid = _leave_lock(store, stale=600)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GD_STORAGE": str(store)}
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "gc", "--grace", "0"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 8, r.stderr
    assert f"pid {pid}" in r.stderr and "gd close" in r.stderr
    # --dry-run deletes nothing and needs no lock
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "gc", "--grace", "0", "--dry-run"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ the lock itself


def test_shared_locks_coexist_exclusive_excludes(tmp_path: Path, store: Path):
    ctx = machine(tmp_path, "a", store)
    s = ctx.store_for_writing()
    seen: list[str] = []

    def other_thread(exclusive: bool) -> None:
        try:
            with store_lock(s, exclusive=exclusive, operation="gc" if exclusive else "upload"):
                seen.append("got")
        except StoreLockedError:
            seen.append("refused")

    with store_lock(s, exclusive=False, operation="close"):
        for exclusive in (False, True):
            t = threading.Thread(target=other_thread, args=(exclusive,))
            t.start()
            t.join()
    assert seen == ["got", "refused"]
    with store_lock(s, exclusive=True, operation="gc"):
        for exclusive in (False, True):
            t = threading.Thread(target=other_thread, args=(exclusive,))
            t.start()
            t.join()
    assert seen == ["got", "refused", "refused", "refused"]
    assert s.list(LOCKS_PREFIX) == []


def test_two_lockers_that_write_before_either_lists_cannot_both_win(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
):
    """The restic rule: write, then list.  Both writes land before either listing;
    at least one of them must back off (here both do)."""
    ctx = machine(tmp_path, "a", store)
    s = ctx.store_for_writing()
    both_written = threading.Barrier(2, timeout=30)
    real = FsspecStore.list_info

    def list_after_both(self, prefix):
        if prefix == LOCKS_PREFIX and not getattr(both_written, "done", False):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_written.wait()
        return real(self, prefix)

    monkeypatch.setattr(FsspecStore, "list_info", list_after_both)
    results: list[str] = []

    def take(exclusive: bool) -> None:
        try:
            with store_lock(s, exclusive=exclusive, operation="gc" if exclusive else "close"):
                results.append("won")
        except StoreLockedError:
            results.append("backed off")

    threads = [threading.Thread(target=take, args=(x,)) for x in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    both_written.done = True
    assert results.count("won") <= 1 and len(results) == 2
    assert s.list(LOCKS_PREFIX) == []


def test_unreadable_lock_counts_as_exclusive_until_stale(tmp_path: Path, store: Path, git_repo):
    ctx = machine(tmp_path, "a", store)
    ctx.store_for_writing()  # initialise the store
    (store / "locks").mkdir()
    (store / "locks" / f"{'0' * 32}.yaml").write_text("format: 1\nexclusive: [\n")
    (store / "locks" / f"{'1' * 32}.yaml").write_text(
        "format: 1\nexclusive: false\nstale_after: 0\n"
    )
    with pytest.raises(StoreLockedError, match="unreadable lock"):
        gc.collect_garbage(ctx, [git_repo], grace_seconds=0)
    draft = open_draft(ctx, make_tree(tmp_path / "src", {"a": "1"}))
    with pytest.raises(StoreLockedError):
        upload.upload(ctx, draft.id)
    _age_locks(store, 1801)
    assert gc.collect_garbage(ctx, [git_repo], grace_seconds=0).stale_locks == 2
    assert deep_ok(ctx, commit.finalize(ctx, draft.id, auto_upload=True).id)
