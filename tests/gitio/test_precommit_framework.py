"""The repository's .pre-commit-hooks.yaml, used by the real pre-commit framework in a
scratch repository: pre-commit installs gitdata from this repository's commit into
its own environment, refuses a commit that stages a broken pointer and lets a good
one through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata import Dataset
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]


def head_commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        pytest.fail(f"the project is not a git checkout, pre-commit cannot use it: {proc.stderr}")
    return proc.stdout.strip()


def run(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=repo, capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_pre_commit_framework_installs_refuses_and_passes(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = tmp_path / "store"
    env = {
        **os.environ,
        "GD_STORAGE": str(store),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PYTHONPATH": "",  # the hook must run the gitdata pre-commit installed, not ours
    }
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {ROOT}\n"
        f"    rev: {head_commit()}\n"
        "    hooks:\n"
        "      - id: gitdata-pointers\n"
    )
    py = [sys.executable, "-m", "pre_commit"]
    installed = run(repo, *py, "install", env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "pre-commit installed" in installed.stdout
    assert run(repo, "git", "add", ".pre-commit-config.yaml", env=env).returncode == 0
    first = run(repo, "git", "commit", "-qm", "use pre-commit", env=env)
    assert first.returncode == 0, first.stdout + first.stderr  # builds the hook's env
    assert "gitdata dataset pointers" in first.stdout + first.stderr

    # a pointer to a version the store does not hold is refused
    monkeypatch.setenv("GD_STORAGE", str(store))
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)  # (a version closed outside the repository: no pointer)
    other = Dataset.create(dataset_project="vision", dataset_name="dogs")
    other.add_files(make_tree(tmp_path / "dogs", {"d.txt": "dog"}))
    other.finalize(auto_upload=True)
    bad = repo / ".gitdata" / "datasets" / "vision" / "cats.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "format: 1\nproject: vision\nname: cats\nversion: 1.0.0\n"
        "id: 0123456789abcdef0123456789abcdef\nmanifest: " + "a" * 64 + "\n"
    )
    run(repo, "git", "add", str(bad), env=env)
    refused = run(repo, "git", "commit", "-qm", "broken pointer", env=env)
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert "gitdata dataset pointers" in out and "Failed" in out
    assert "0123456789abcdef0123456789abcdef" in out, out
    assert run(repo, "git", "log", "--oneline", env=env).stdout.count("\n") == 1
    run(repo, "git", "rm", "-q", "--cached", str(bad), env=env)
    bad.unlink()

    # a version closed here writes and stages its pointer; that commit passes
    monkeypatch.chdir(repo)
    ds = Dataset.create(dataset_project="vision", dataset_name="cats")
    ds.add_files(make_tree(tmp_path / "src", {"a.txt": "one"}))
    ds.finalize(auto_upload=True)
    assert (repo / ".gitdata" / "datasets" / "vision" / "cats.yaml").is_file()
    passed = run(repo, "git", "commit", "-qm", "cats 1.0.0", env=env)
    out = passed.stdout + passed.stderr
    assert passed.returncode == 0, out
    assert "gitdata dataset pointers" in out and "Passed" in out
    assert run(repo, "git", "log", "--oneline", env=env).stdout.count("\n") == 2
