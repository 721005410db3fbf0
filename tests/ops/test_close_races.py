"""Races between closes of one draft, and between creates of one dataset on two machines.

One machine = one state folder (drafts) and one cache; two "machines" share one
folder store, as two computers sharing a mount would.  Interleavings are forced:
a paused thread at a hook point (right before the record is written), a lock
attempt seen to block, or one step run after the other in the order that races.
The free-running test at the end runs real ``gd close`` processes at once.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.config import resolve_settings
from gitdata.errors import ConflictError
from gitdata.ops import commit, drafts, resolve
from gitdata.ops.context import Context
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.remote import verify_remote
from gitdata.ops.state import StateDir
from gitdata.storage import FsspecStore
from tests.conftest import draft_content, draft_files, make_tree, restore_draft

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ helpers


def machine(tmp_path: Path, name: str, store: Path) -> Context:
    """A Context with its own drafts and cache on the shared store (one per process:
    two Contexts of one ``name`` are two processes of one machine)."""
    settings = resolve_settings(storage=str(store))
    return Context(
        dataclasses.replace(
            settings, state_dir=tmp_path / name / "state", cache_dir=tmp_path / name / "cache"
        )
    )


def env_of(tmp_path: Path, name: str, store: Path) -> dict[str, str]:
    """The environment of a real ``gd`` process on machine ``name``."""
    home = tmp_path / name / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GD_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        GD_STORAGE=str(store),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    return env


def gd(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gitdata", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def gd_start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gitdata", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def records(store: Path) -> list[str]:
    return sorted(p.stem for p in (store / "versions").glob("*.yaml"))


def leftovers(state_dir: Path) -> list[str]:
    """Everything a finished close could have left in the drafts folder."""
    drafts_dir = state_dir / "drafts"
    return sorted(p.name for p in drafts_dir.iterdir()) if drafts_dir.is_dir() else []


def deep_ok(ctx: Context, version_id: str) -> bool:
    fresh = Context(ctx.settings)
    record = load_record(fresh, version_id)
    report = verify_remote(
        fresh, version_id, record.manifest, load_manifest(fresh, record.manifest), deep=True
    )
    return not (report.missing or report.short or report.corrupt)


def open_draft(ctx: Context, src: Path, **kwargs) -> str:
    draft = drafts.create_draft(ctx, project="vision", name="cats", **kwargs)
    drafts.sync_folder(ctx, draft.id, src)
    return draft.id


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {f"d{i}/f{i}.bin": os.urandom(2000 + i) for i in range(6)})


@pytest.fixture
def pause_record(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """The first version record a non-main thread writes waits until released (the
    writer has checked its chunks and its version number; the record is next)."""
    reached, release = threading.Event(), threading.Event()
    real = FsspecStore.put_bytes

    def wrapper(self, key, *args, **kwargs):
        if (
            key.startswith("versions/")
            and threading.current_thread() is not threading.main_thread()
            and not reached.is_set()
        ):
            reached.set()
            assert release.wait(30), "the test never released the paused writer"
        return real(self, key, *args, **kwargs)

    monkeypatch.setattr(FsspecStore, "put_bytes", wrapper)
    return reached, release


# ------------------------------------------------------- 1. two closes of one draft


@pytest.mark.parametrize("auto_upload", [True, False], ids=["waits-in-upload", "waits-in-commit"])
def test_close_that_waited_for_the_draft_lock_finds_it_closed(
    tmp_path: Path, store: Path, src: Path, pause_record, in_thread, monkeypatch, auto_upload
):
    """A holds the draft's lock right before its record; B's close is seen blocking
    on that lock.  B must not commit the draft again: it reports the version A
    closed (same content), and neither leaves a draft, a lock file or a lock."""
    first = machine(tmp_path, "m", store)
    second = machine(tmp_path, "m", store)  # a second process on the same machine
    draft_id = open_draft(first, src)
    if not auto_upload:
        commit.upload(first, draft_id)
    reached, release = pause_record
    a = in_thread(lambda: commit.close_draft(first, draft_id, auto_upload=True))
    assert reached.wait(30)
    blocked = threading.Event()
    real_flock = fcntl.flock

    def flock(fd, op):  # B's first attempt shows whether the lock is held
        if threading.current_thread() is b_thread[0] and op == fcntl.LOCK_EX:
            try:
                return real_flock(fd, op | fcntl.LOCK_NB)
            except BlockingIOError:
                blocked.set()
        return real_flock(fd, op)

    b_thread: list[threading.Thread | None] = [None]
    monkeypatch.setattr(fcntl, "flock", flock)
    b = in_thread(lambda: commit.close_draft(second, draft_id, auto_upload=auto_upload))
    b_thread[0] = b["thread"]
    try:
        assert blocked.wait(30), "B never reached the draft lock"
    finally:
        release.set()
        a["thread"].join(30)
        b["thread"].join(30)
    assert "error" not in a and "error" not in b, (a.get("error"), b.get("error"))
    assert a["value"].closed_here and not b["value"].closed_here
    assert a["value"].record == b["value"].record
    assert records(store) == [draft_id]
    assert leftovers(tmp_path / "m" / "state") == []
    assert not list((store / "locks").glob("*"))
    assert deep_ok(first, draft_id)


def test_dataset_closed_by_another_process_with_same_content(src: Path, store: Path):
    """B opened the draft; A closed it; B then uploads and finalizes: no error, no
    second record, ``closed_elsewhere`` says what happened."""
    a = Dataset.create(dataset_project="vision", dataset_name="cats", output_uri=str(store))
    a.add_files(src)
    b = Dataset.get(dataset_id=a.id)  # another process's view of the same draft
    assert a.finalize(auto_upload=True)
    b.upload()
    assert b.closed_elsewhere
    assert b.finalize()
    assert b.is_final() and b.record == a.record
    assert records(store) == [a.id]
    assert not a.closed_elsewhere


def test_dataset_closed_by_another_process_with_other_content_is_a_conflict(
    src: Path, store: Path, tmp_path: Path
):
    a = Dataset.create(dataset_project="vision", dataset_name="cats", output_uri=str(store))
    a.add_files(src)
    b = Dataset.get(dataset_id=a.id)  # B read the draft ...
    a.add_files(make_tree(tmp_path / "more", {"extra.txt": "late"}))  # ... then it changed
    assert a.finalize(auto_upload=True)
    for call in (b.upload, b.finalize):
        with pytest.raises(ConflictError) as err:
            call()
        assert err.value.exit_code == 8
        assert "closed by another gd process meanwhile" in str(err.value)
        assert "files (1 path(s), e.g. extra.txt)" in str(err.value)
    assert not b.closed_elsewhere
    assert records(store) == [a.id]
    assert load_record(Context.for_storage(str(store)), a.id).stats["files"] == 7


def test_gd_close_after_the_other_finished_exits_0(tmp_path: Path, store: Path, src: Path):
    """The second `gd close` starts once the first is done: already closed, exit 0;
    a close of a version another machine closed is still refused (exit 4)."""
    env = env_of(tmp_path, "m", store)
    draft_id = json.loads(
        gd(env, tmp_path, "create", "--project", "vision", "--name", "cats", "--json").stdout
    )["id"]
    assert gd(env, tmp_path, "add", "--files", str(src)).returncode == 0
    assert gd(env, tmp_path, "close", "--id", draft_id).returncode == 0
    again = gd(env, tmp_path, "close", "--id", draft_id, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_closed"] is True
    text = gd(env, tmp_path, "close", "--id", draft_id)
    assert text.stdout.startswith(f"already closed vision/cats 1.0.0 (id {draft_id})")
    other = gd(env_of(tmp_path, "other", store), tmp_path, "close", "--id", draft_id)
    assert other.returncode == 4 and "is closed" in other.stderr
    assert records(store) == [draft_id]


def _killed_after_record(env: dict[str, str], cwd: Path, src: Path) -> tuple[str, Path, bytes]:
    """A close whose draft file is back after its record: as a close killed between
    writing the record and removing the draft leaves it."""
    draft_id = json.loads(
        gd(env, cwd, "create", "--project", "vision", "--name", "cats", "--json").stdout
    )["id"]
    assert gd(env, cwd, "add", "--files", str(src)).returncode == 0
    assert gd(env, cwd, "upload").returncode == 0
    drafts_dir = Path(env["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    saved = draft_files(drafts_dir, draft_id)
    assert gd(env, cwd, "close").returncode == 0
    restore_draft(drafts_dir, draft_id, saved)
    return draft_id, drafts_dir / f"{draft_id}.db", saved


def test_rerun_close_of_a_draft_whose_record_exists(tmp_path: Path, store: Path, src: Path):
    env = env_of(tmp_path, "m", store)
    draft_id, path, _ = _killed_after_record(env, tmp_path, src)
    record_bytes = (store / "versions" / f"{draft_id}.yaml").read_bytes()
    rerun = gd(env, tmp_path, "close", "--id", draft_id)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith("already closed")
    assert not path.exists() and leftovers(path.parents[1]) == []
    assert (store / "versions" / f"{draft_id}.yaml").read_bytes() == record_bytes


def test_rerun_close_with_other_content_than_the_record_is_refused(
    tmp_path: Path, store: Path, src: Path
):
    env = env_of(tmp_path, "m", store)
    draft_id = json.loads(
        gd(env, tmp_path, "create", "--project", "vision", "--name", "cats", "--json").stdout
    )["id"]
    assert gd(env, tmp_path, "add", "--files", str(src)).returncode == 0
    assert gd(env, tmp_path, "upload").returncode == 0
    drafts_dir = Path(env["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    closed_as = draft_files(drafts_dir, draft_id)
    extra = make_tree(tmp_path / "more", {"extra.txt": "late"})
    assert gd(env, tmp_path, "add", "--id", draft_id, "--files", str(extra)).returncode == 0
    assert gd(env, tmp_path, "upload", "--id", draft_id).returncode == 0
    with_extra = draft_files(drafts_dir, draft_id)
    restore_draft(drafts_dir, draft_id, closed_as)
    assert gd(env, tmp_path, "close").returncode == 0
    restore_draft(drafts_dir, draft_id, with_extra)  # a draft with more than its record holds
    record_bytes = (store / "versions" / f"{draft_id}.yaml").read_bytes()
    shown = gd(env, tmp_path, "show", "--id", draft_id, "--json")
    assert json.loads(shown.stdout)["state"] == "draft"  # not taken for the closed one
    kept = draft_content(drafts_dir, draft_id)
    rerun = gd(env, tmp_path, "close", "--id", draft_id)
    assert rerun.returncode == 8, rerun.stderr
    lines = rerun.stderr.strip().splitlines()
    assert lines[0].startswith(f"gd: error: draft {draft_id} was closed by another gd process")
    assert "extra.txt" in lines[0] and lines[1].startswith("hint:")
    assert draft_content(drafts_dir, draft_id) == kept  # the refused close changed nothing
    assert (store / "versions" / f"{draft_id}.yaml").read_bytes() == record_bytes
    assert records(store) == [draft_id]


def test_three_gd_closes_at_once(tmp_path: Path, store: Path, src: Path):
    """Free-running: three real `gd close` processes of one draft, three rounds."""
    env = env_of(tmp_path, "m", store)
    state = Path(env["XDG_STATE_HOME"]) / "gitdata"
    for round_ in range(3):
        (src / f"round{round_}.txt").write_text(str(round_))
        out = gd(env, tmp_path, "create", "--project", "vision", "--name", "cats", "--json")
        draft_id = json.loads(out.stdout)["id"]
        assert gd(env, tmp_path, "add", "--files", str(src)).returncode == 0
        procs = [
            gd_start(env, tmp_path, "close", "--id", draft_id, "--chunk-size", "1")
            for _ in range(3)
        ]
        results = [(p.wait(120), *p.communicate()) for p in procs]
        assert [r[0] for r in results] == [0, 0, 0], results
        said = sorted(r[1].split(" ")[0] for r in results)
        assert said == ["already", "already", "closed"], results
        assert leftovers(state) == []
    assert len(records(store)) == 3
    ctx = Context.for_storage(str(store))
    assert all(deep_ok(ctx, vid) for vid in records(store))
    versions = sorted(load_record(ctx, vid).version for vid in records(store))
    assert versions == ["1.0.0", "1.0.1", "1.0.2"]


# ---------------------------------------------- 2. creates of one dataset on two machines


def test_second_machine_closes_as_the_next_free_number(tmp_path: Path, store: Path, src: Path):
    """Both machines open vision/cats while the store has none: both drafts are 1.0.0.
    The first close keeps it; the second moves to 1.0.1 and says so."""
    a, b = env_of(tmp_path, "a", store), env_of(tmp_path, "b", store)
    ids = {}
    for env, name in ((a, "a"), (b, "b")):
        out = gd(env, tmp_path, "create", "--project", "vision", "--name", "cats", "--json")
        ids[name] = json.loads(out.stdout)["id"]
        assert json.loads(out.stdout)["version"] == "1.0.0"
        assert gd(env, tmp_path, "add", "--files", str(src)).returncode == 0
    assert gd(a, tmp_path, "close").returncode == 0
    second = gd(b, tmp_path, "close")
    assert second.returncode == 0, second.stderr
    assert f"closed vision/cats 1.0.1 (id {ids['b']})" in second.stdout
    assert (
        f"gd: warning: version 1.0.0 of vision/cats was closed meanwhile as {ids['a']}; "
        f"{ids['b']} is closed as 1.0.1" in second.stderr
    )
    ctx = Context.for_storage(str(store))
    assert load_record(ctx, ids["a"]).version == "1.0.0"
    assert load_record(ctx, ids["b"]).version == "1.0.1"
    got = gd(a, tmp_path, "get", "--project", "vision", "--name", "cats", "--version", "1.0.0")
    assert got.returncode == 0 and ids["a"] in got.stdout


def test_explicit_version_closed_elsewhere_is_refused(tmp_path: Path, store: Path, src: Path):
    a, b = env_of(tmp_path, "a", store), env_of(tmp_path, "b", store)
    ids = {}
    for env, name in ((a, "a"), (b, "b")):
        out = gd(env, tmp_path, "create", "--project", "vision", "--name", "cats",
                 "--version", "2.0.0", "--json")  # fmt: skip
        ids[name] = json.loads(out.stdout)["id"]
        assert gd(env, tmp_path, "add", "--files", str(src)).returncode == 0
    assert gd(a, tmp_path, "close").returncode == 0
    assert gd(b, tmp_path, "upload").returncode == 0
    drafts_dir = Path(b["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    before = draft_content(drafts_dir, ids["b"])
    refused = gd(b, tmp_path, "close")
    assert refused.returncode == 8
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == (
        f"gd: error: version 2.0.0 of vision/cats was closed meanwhile as {ids['a']} "
        "(on another machine or by another draft); nothing was written"
    )
    assert lines[1].startswith("hint: open the draft again with another --version")
    assert records(store) == [ids["a"]]
    assert draft_content(drafts_dir, ids["b"]) == before  # the draft is kept, unchanged ...
    assert not list((store / "locks").glob("*"))  # ... and no lock is left


def test_closes_at_the_same_instant_make_the_number_ambiguous(
    tmp_path: Path, store: Path, src: Path, pause_record, in_thread
):
    """Both machines passed the number check before either wrote its record (the
    window §12 leaves): the second to write warns, and --version refuses the
    number naming both ids, while --id and the latest still work."""
    ctx_a, ctx_b = machine(tmp_path, "a", store), machine(tmp_path, "b", store)
    id_a, id_b = open_draft(ctx_a, src), open_draft(ctx_b, src)
    reached, release = pause_record
    a = in_thread(lambda: commit.finalize(ctx_a, id_a, auto_upload=True))
    assert reached.wait(30)  # A checked 1.0.0 is free; its record is next
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            b = commit.finalize(ctx_b, id_b, auto_upload=True)  # B: 1.0.0 is free too
    finally:
        release.set()
        a["thread"].join(30)
    assert "error" not in a, a.get("error")
    assert a["value"].version == b.version == "1.0.0"
    assert any(
        f"version 1.0.0 of vision/cats is also held by {id_b}" in w for w in a["warnings"]
    ), a["warnings"]
    reader = Context.for_storage(str(store))
    with pytest.raises(ConflictError) as err:
        resolve.resolve(reader, project="vision", name="cats", version="1.0.0")
    assert id_a in str(err.value) and id_b in str(err.value)
    env = env_of(tmp_path, "c", store)
    cli = gd(env, tmp_path, "get", "--project", "vision", "--name", "cats", "--version", "1.0.0")
    assert cli.returncode == 8 and id_a in cli.stderr and id_b in cli.stderr
    assert "--id" in cli.stderr
    assert gd(env, tmp_path, "show", "--id", id_a).returncode == 0
    latest = resolve.resolve(reader, project="vision", name="cats")
    assert latest.record is not None and latest.record.id in (id_a, id_b)


def test_draft_version_origin_is_kept_in_the_draft_file(tmp_path: Path, store: Path, src: Path):
    """auto_version survives a reload; a draft file of an older gd (no key) is explicit."""
    ctx = machine(tmp_path, "a", store)
    auto = open_draft(ctx, src)
    given = drafts.create_draft(ctx, project="vision", name="cats", version="9.0.0").id
    fresh = StateDir(ctx.settings.state_dir, ctx.parent_files)
    assert fresh.load_draft(auto).auto_version and not fresh.load_draft(given).auto_version
    # an older gd's draft file (format 1, JSON) had no such key
    doc = {**fresh.load_draft(auto).meta_doc(), "format": 1, "changed": {}, "removed": []}
    del doc["auto_version"]
    fresh.delete_draft(auto)
    fresh.legacy_path(auto).write_text(json.dumps(doc))
    assert not StateDir(ctx.settings.state_dir, ctx.parent_files).load_draft(auto).auto_version
