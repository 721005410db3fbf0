"""gd add / close on sources that loop, block, change or cannot be read: one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitdata.ops import scan as scan_mod
from tests.cli.conftest import run_gd
from tests.conftest import make_tree


def _clean_error(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("gd: error:")]
    assert len(errors) == 1, stderr
    for word in words:
        assert word in errors[0], stderr


def _files(gd) -> list[str]:
    return [x["path"] for x in gd("list", "--json").json()]


def test_a_fifo_given_to_add_is_refused(gd, tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    gd("create", "--project", "p", "--name", "n")
    r = gd("add", "--files", str(fifo), ok=False)
    assert r.exit_code == 4
    _clean_error(r.stderr, str(fifo), "FIFO")
    assert _files(gd) == []


def test_a_link_loop_is_followed_once_with_a_warning(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})
    os.symlink(".", src / "self")
    env = dict(os.environ)
    assert run_gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path).returncode == 0
    r = run_gd("add", "--files", str(src), "--json", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "gd: warning:" in r.stderr and str(src / "self") in r.stderr
    listed = run_gd("list", "--json", env=env, cwd=tmp_path)
    assert '"self/' not in listed.stdout
    assert listed.stdout.count('"path"') == 2


def test_an_added_file_replaced_by_a_fifo_fails_close_without_hanging(tmp_path: Path):
    # over WHOLE_READ: read in blocks, so the add captures nothing and the close
    # reads the source again (a small file's bytes are kept by the add: ops/spool.py)
    src = make_tree(tmp_path / "src", {"a.txt": b"a" * (scan_mod.WHOLE_READ + 1)})
    env = dict(os.environ)
    run_gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path)
    assert run_gd("add", "--files", str(src), env=env, cwd=tmp_path).returncode == 0
    (src / "a.txt").unlink()
    os.mkfifo(src / "a.txt")
    r = run_gd("close", env=env, cwd=tmp_path)
    assert r.returncode == 4
    _clean_error(r.stderr, str(src / "a.txt"), "FIFO")
    listed = run_gd("list", "--json", env=env, cwd=tmp_path)  # the draft is still open
    assert listed.returncode == 0 and '"a.txt"' in listed.stdout


def test_an_added_file_replaced_by_a_folder_fails_close_clearly(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(scan_mod, "WHOLE_READ", 0)  # read in blocks: nothing captured
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    gd("create", "--project", "p", "--name", "n")
    gd("add", "--files", str(src))
    (src / "a.txt").unlink()
    (src / "a.txt").mkdir()
    r = gd("close", ok=False)
    assert r.exit_code == 4
    _clean_error(r.stderr, str(src / "a.txt"), "folder")
    assert _files(gd) == ["a.txt"]  # the draft is still open, unchanged


def test_an_unreadable_file_is_named_and_nothing_is_added(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "secret.txt": "s"})
    target = str(src / "secret.txt")
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(scan_mod.os, "open", deny)
    gd("create", "--project", "p", "--name", "n")
    r = gd("add", "--files", str(src), ok=False)
    monkeypatch.setattr(scan_mod.os, "open", real_open)
    assert r.exit_code == 4
    _clean_error(r.stderr, target, "Permission denied")
    assert _files(gd) == []


def test_a_non_utf8_name_is_refused_clearly(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"c")
    env = dict(os.environ)
    run_gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path)
    r = run_gd("add", "--files", str(src), env=env, cwd=tmp_path)
    assert r.returncode == 4
    _clean_error(r.stderr, "caf\\xe9.txt", "UTF-8")
    listed = run_gd("list", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
