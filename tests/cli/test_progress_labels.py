"""Long steps draw a bar labelled with what really happens, only on a terminal:
never with --json, -q or when stderr is piped."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata.cli import output
from tests.conftest import make_tree


class Recorder:
    """A Progress that remembers each phase's label and how far it got."""

    phases: list[tuple[str, int | None, int]] = []

    def start(self, description: str, total: int | None) -> None:
        Recorder.phases.append((description, total, 0))

    def advance(self, amount: int = 1) -> None:
        label, total, done = Recorder.phases[-1]
        Recorder.phases[-1] = (label, total, done + amount)

    def finish(self) -> None:
        pass


@pytest.fixture
def bars(monkeypatch) -> list[tuple[str, int | None, int]]:
    """Progress forced on (as on a terminal), recorded instead of drawn."""
    Recorder.phases = []
    monkeypatch.setattr(output, "stderr_is_tty", lambda: True)
    monkeypatch.setattr(output.RichProgress, "__new__", lambda cls: Recorder())
    monkeypatch.setattr(output.RichProgress, "__init__", lambda self: None)
    return Recorder.phases


def _closed(gd, tmp_path: Path) -> tuple[str, Path]:
    src = make_tree(tmp_path / "src", {"a.txt": "a" * 100, "b/c.txt": "c" * 50})
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return did, src


def test_verify_labels_its_steps(gd, tmp_path: Path, bars):
    did, src = _closed(gd, tmp_path)
    bars.clear()
    gd("verify", "--id", did, "--folder", str(src))
    assert ("hashing local files", 150, 150) in bars
    bars.clear()
    gd("verify", "--id", did, "--folder", str(src), "--filesize")
    assert bars == [("checking sizes", 2, 2)]
    bars.clear()
    gd("verify", "--id", did, "--remote")
    assert bars == [("checking store objects", 1, 1)]
    bars.clear()
    gd("verify", "--id", did, "--remote", "--deep")
    assert len(bars) == 1 and bars[0][0] == "downloading and hashing chunks"


def test_gc_labels_its_deletes(gd, tmp_path: Path, bars, monkeypatch):
    import subprocess

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _closed(gd, tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    bars.clear()
    gd("gc", "--grace", "0", "--yes")
    assert bars == [("deleting from the store", 3, 3)]  # the record, manifest, chunk


def test_delete_labels_its_steps(gd, tmp_path: Path, bars):
    did, src = _closed(gd, tmp_path)
    other = gd("create", "--project", "p", "--name", "other", "--json").json()["id"]
    gd("add", "--files", str(make_tree(tmp_path / "o", {"x": "other"})))
    gd("close")
    bars.clear()
    gd("delete", "--id", did)
    assert bars == [
        ("reading the other versions' manifests", 1, 1),
        ("deleting from the store", 2, 2),  # its manifest and its chunk
    ]
    bars.clear()
    gd("delete", "--id", other, "--json")
    assert bars == []


def test_push_and_pull_label_the_chunks_they_copy(gd, tmp_path: Path, bars, monkeypatch):
    did, _ = _closed(gd, tmp_path)
    other = tmp_path / "other"
    bars.clear()
    gd("push", "--id", did, "--to", str(other))
    assert bars == [(f"copying {did[:12]}: chunks the target lacks", 1, 1)]
    bars.clear()
    gd("push", "--id", did, "--to", str(other))  # already there: nothing to copy
    assert bars == []
    third = tmp_path / "third"
    monkeypatch.setenv("GD_STORAGE", str(third))
    bars.clear()
    gd("pull", "--from", str(other), "--id", did)
    assert bars == [(f"copying {did[:12]}: chunks the target lacks", 1, 1)]
    bars.clear()
    gd("push", "--id", did, "--to", str(tmp_path / "fourth"), "--json")
    assert bars == []


def test_squash_labels_its_steps(gd, tmp_path: Path, bars):
    first, _ = _closed(gd, tmp_path)
    second = gd("create", "--parents", first, "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(make_tree(tmp_path / "more", {"z.txt": "z"})))
    gd("close")
    bars.clear()
    gd("squash", "--name", "flat", "--ids", first, second)
    assert [label for label, _, _ in bars] == [
        "merging 2 versions' manifests",
        "writing the squashed version",
    ]
    bars.clear()
    gd("squash", "--name", "flat2", "--ids", first, second, "--json")
    assert bars == []


def test_json_and_quiet_draw_no_bar(gd, tmp_path: Path, bars):
    did, src = _closed(gd, tmp_path)
    bars.clear()
    gd("verify", "--id", did, "--folder", str(src), "--json")
    gd("verify", "--id", did, "--remote", "--json")
    gd("-q", "verify", "--id", did, "--folder", str(src))
    assert bars == []


def test_piped_stderr_draws_no_bar(gd, tmp_path: Path, monkeypatch):
    did, src = _closed(gd, tmp_path)
    monkeypatch.setattr(output, "stderr_is_tty", lambda: False)
    from gitdata.core.progress import NULL_PROGRESS

    assert output.RichProgress.maybe() is NULL_PROGRESS
    r = gd("verify", "--id", did, "--folder", str(src))
    assert "hashing" not in r.stderr


def test_a_bar_counts_items_as_n_of_total_and_bytes_as_sizes(monkeypatch):
    import io

    from rich.console import Console

    from gitdata.core.progress import start_counting

    screen = io.StringIO()
    monkeypatch.setattr(
        output, "_stderr_console", lambda: Console(file=screen, force_terminal=True, width=120)
    )
    bar = output.RichProgress()
    start_counting(bar, "checking sizes", 7)
    bar.advance(3)
    bar._bar.refresh()
    assert "checking sizes" in screen.getvalue() and "3/7" in screen.getvalue()
    assert "bytes" not in screen.getvalue()
    bar.start("hashing", 4096)
    bar.advance(2048)
    bar._bar.refresh()
    bar.finish()
    assert "hashing" in screen.getvalue() and "kB" in screen.getvalue()
