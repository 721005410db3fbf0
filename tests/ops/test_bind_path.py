"""check_bind: where a folder would be bound, checked without touching anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitdata.errors import InvalidInputError
from gitdata.gitio.repo import find_repo
from gitdata.ops.bind import check_bind


def test_check_bind_accepts_sub_folders_only_and_writes_nothing(tmp_path: Path):
    work = tmp_path / "repo"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    repo = find_repo(work)
    assert repo is not None
    assert check_bind(repo, "p", "n", work / "data" / "train") == "data/train"
    for bad in (tmp_path / "elsewhere", work, work / ".git" / "x", work / ".gitdata" / "d"):
        with pytest.raises(InvalidInputError):
            check_bind(repo, "p", "n", bad)
    assert sorted(p.name for p in work.iterdir()) == [".git"]
    assert not (tmp_path / "elsewhere").exists()
