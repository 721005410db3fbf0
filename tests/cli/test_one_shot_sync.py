"""gd sync --project P --name N: a failure leaves no draft; an interruption is resumed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata.config import user_config_path
from gitdata.errors import StorageUnavailableError
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree

ONE_SHOT = ("sync", "--project", "p", "--name", "n")


def open_drafts() -> list[str]:
    drafts = Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    return sorted(p.stem for p in drafts.glob("*.db")) if drafts.is_dir() else []


def current_marker() -> str | None:
    path = Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "current"
    return path.read_text().strip() if path.exists() else None


def versions(gd) -> list[dict]:
    return gd("search", "--project", "p", "--drafts", "--json").json()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {f"d{i % 3}/f{i}.bin": os.urandom(4000) for i in range(12)})


def test_a_missing_folder_is_refused_before_a_draft_exists(gd):
    for _ in range(3):
        r = gd(*ONE_SHOT, "--folder", "./missing", ok=False)
        assert r.exit_code == 3 and "not a folder" in r.stderr
    assert open_drafts() == [] and current_marker() is None
    assert versions(gd) == []


def test_a_later_failure_removes_the_draft_the_command_made(gd, src: Path, tmp_path: Path):
    mine = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    (src / "escape").symlink_to(tmp_path)  # refused while syncing, after the draft exists
    r = gd(*ONE_SHOT, "--folder", str(src), ok=False)
    assert r.exit_code == 4 and "points outside" in r.stderr
    assert open_drafts() == [mine]  # the hand-made draft is untouched, nothing new
    assert current_marker() == mine
    r = gd(*ONE_SHOT, "--folder", str(src), "--dataset-folder", "../up", ok=False)
    assert r.exit_code == 4 and open_drafts() == [mine]


class Interrupt:
    """Makes the store fail on the third chunk put; remembers which chunks landed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
        self.landed: list[str] = []
        self.calls = 0
        self.error: BaseException | None = error
        real = FsspecStore.put_file

        def put_file(store, key, local_path, **kw):
            if key.startswith("objects/"):
                self.calls += 1
                if self.error is not None and self.calls == 3:
                    raise self.error
            done = real(store, key, local_path, **kw)
            if key.startswith("objects/"):
                self.landed.append(key)
            return done

        monkeypatch.setattr(FsspecStore, "put_file", put_file)


@pytest.fixture
def small_chunks() -> None:
    cfg = user_config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("chunk_size_mb: 0.01\n")  # ~10 KB chunks: several per version


@pytest.mark.parametrize(
    ("error", "code"),
    [(KeyboardInterrupt(), 130), (StorageUnavailableError("connection lost"), 6)],
)
def test_an_interrupted_one_shot_is_resumed_by_its_rerun(
    gd, src: Path, monkeypatch, small_chunks, error, code
):
    mine = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    interrupt = Interrupt(monkeypatch, error)
    r = gd(*ONE_SHOT, "--folder", str(src), ok=False)
    assert r.exit_code == code, r.stderr
    left = [d for d in open_drafts() if d != mine]
    assert len(left) == 1, "the interrupted one-shot keeps its draft for the rerun"
    before = set(interrupt.landed)
    assert before, "some chunks landed before the interruption"

    interrupt.error = None
    interrupt.landed.clear()
    done = gd(*ONE_SHOT, "--folder", str(src), "--json").json()
    assert done["id"] == left[0] and done["resumed"] is True and done["state"] == "closed"
    assert not before & set(interrupt.landed), "chunks stored before were sent again"
    assert open_drafts() == [mine], "the hand-made draft is never resumed nor removed"
    closed = [v for v in versions(gd) if v["state"] == "closed"]
    assert [v["id"] for v in closed] == [left[0]]
    out = Path("out")
    gd("get", "--id", left[0], "--copy", str(out))
    assert read_tree(out) == read_tree(src)


def test_a_rerun_after_the_latest_moved_on_starts_over(gd, src: Path, monkeypatch, small_chunks):
    interrupt = Interrupt(monkeypatch, KeyboardInterrupt())
    gd(*ONE_SHOT, "--folder", str(src), ok=False)
    [stale] = open_drafts()
    interrupt.error = None
    other = make_tree(src.parent / "other", {"x.txt": "x"})
    newer = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(other))
    gd("close")
    done = gd(*ONE_SHOT, "--folder", str(src), "--json").json()
    assert done["id"] != stale and done["resumed"] is False
    assert open_drafts() == []
    assert gd("show", "--id", done["id"], "--json").json()["parents"] == [newer]


def test_a_one_shot_that_succeeds_leaves_no_draft_and_bumps_next_time(gd, src: Path):
    first = gd(*ONE_SHOT, "--folder", str(src), "--json").json()
    (src / "new.txt").write_text("new")
    second = gd(*ONE_SHOT, "--folder", str(src), "--json").json()
    assert (first["version"], second["version"]) == ("1.0.0", "1.0.1")
    assert second["added"] == 1 and second["resumed"] is False
    assert open_drafts() == []


def test_a_one_shot_draft_a_running_sync_holds_is_not_resumed(
    gd, src: Path, monkeypatch, small_chunks
):
    from gitdata.ops.context import Context

    interrupt = Interrupt(monkeypatch, KeyboardInterrupt())
    gd(*ONE_SHOT, "--folder", str(src), ok=False)
    [busy] = open_drafts()
    interrupt.error = None
    claim = Context().state.claim_one_shot(busy)  # as a sync still running would
    assert claim is not None
    try:
        done = gd(*ONE_SHOT, "--folder", str(src), "--json").json()
    finally:
        claim.release()
    assert done["id"] != busy and done["resumed"] is False
    assert open_drafts() == [busy]
