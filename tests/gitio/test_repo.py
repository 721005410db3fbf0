from __future__ import annotations

from pathlib import Path

import pytest

from gitdata.errors import FormatError
from gitdata.gitio.pointer import Pointer
from gitdata.gitio.repo import RevisionNotFoundError, find_repo
from tests.gitio.conftest import git


def pointer(version: str, n: int) -> Pointer:
    return Pointer(
        project="p", name="n", id=f"{n:032x}", version=version, parents=[], manifest="c" * 64
    )


def test_find_repo(repo: Path, tmp_path: Path):
    (repo / "a/b").mkdir(parents=True)
    assert find_repo(repo / "a/b").workdir == repo
    outside = tmp_path / "outside"
    outside.mkdir()
    assert find_repo(outside) is None


def test_write_stages_and_read_at_revisions(repo: Path):
    r = find_repo(repo)
    assert r.read_pointer("p", "n", "HEAD") is None  # empty repo: no error
    path = r.write_pointer(pointer("1.0.0", 1))
    assert path == repo / ".gitdata/datasets/p/n.yaml"
    assert git(repo, "diff", "--cached", "--name-only").strip() == ".gitdata/datasets/p/n.yaml"
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    r.write_pointer(pointer("1.0.1", 2))
    git(repo, "commit", "-qm", "v2")
    git(repo, "checkout", "-qb", "feature")
    r.write_pointer(pointer("1.0.2", 3))
    git(repo, "commit", "-qm", "v3")
    git(repo, "checkout", "-q", "main")
    assert r.read_pointer("p", "n", "HEAD").version == "1.0.1"
    assert r.read_pointer("p", "n", "HEAD~1").version == "1.0.0"
    assert r.read_pointer("p", "n", "v1").version == "1.0.0"
    assert r.read_pointer("p", "n", "feature").version == "1.0.2"
    assert r.read_pointer("p", "n").version == "1.0.1"  # working tree
    assert r.read_pointer("p", "other", "HEAD") is None
    assert [p.version for p in r.list_pointers("feature")] == ["1.0.2"]
    assert [p.version for p in r.list_pointers()] == ["1.0.1"]


def test_unknown_revision(repo: Path):
    r = find_repo(repo)
    r.write_pointer(pointer("1.0.0", 1))
    git(repo, "commit", "-qm", "v1")
    with pytest.raises(RevisionNotFoundError) as info:
        r.read_pointer("p", "n", "no-such-branch")
    assert isinstance(info.value, LookupError)
    assert "no-such-branch" in str(info.value)


def test_corrupt_pointer_committed_by_hand(repo: Path):
    path = repo / ".gitdata/datasets/p/n.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("format: 1\nproject: p\nname: [oops\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "bad")
    with pytest.raises(FormatError) as info:
        find_repo(repo).read_pointer("p", "n", "HEAD")
    assert ".gitdata/datasets/p/n.yaml@HEAD:" in str(info.value)
