"""Deleting a version inside a git repository: refused while any ref, the index or the
working tree pins it (or a version built on it), unless forced."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import ConflictError, HasDependentsError
from gitdata.gitio.repo import find_repo
from gitdata.ops.context import Context
from tests.conftest import make_tree, read_tree

POINTER = ".gitdata/datasets/vision/cats.yaml"


def git(repo: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, f"git {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    monkeypatch.chdir(path)
    return path


def close_version(src: Path, parents: list[str] | None = None, name: str = "cats") -> Dataset:
    """Close a version from ``src``; inside a repo its pointer is written and staged."""
    ds = Dataset.create(dataset_project="vision", dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def refused(vid: str) -> ConflictError:
    """Dataset.delete refuses ``vid`` as pinned; the error."""
    with pytest.raises(ConflictError) as info:
        Dataset.delete(dataset_id=vid)
    assert type(info.value).__name__ == "PinnedVersionError", info.value
    return info.value


def assert_intact(vid: str) -> None:
    """The version's record and data are still there."""
    Context().cache.clear()
    assert read_tree(Path(Dataset.get(dataset_id=vid).get_local_copy()))


def unpinned_version(tmp_path: Path, repo: Path, monkeypatch, files: dict) -> Dataset:
    """A version closed outside the repo: no pointer anywhere names it."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    monkeypatch.chdir(outside)
    ds = close_version(make_tree(tmp_path / "u", files), name="loose")
    monkeypatch.chdir(repo)
    return ds


def test_head_pinned_version_is_refused_and_nothing_deleted(repo: Path, tmp_path: Path):
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    objects = set(Context().store.list("objects/"))
    err = refused(v1.id)
    assert isinstance(err, ConflictError) and err.exit_code == 8
    assert err.pinned_by == ["refs/heads/main"] and err.paths == [POINTER]
    assert f"pinned by refs/heads/main ({POINTER})" in str(err)
    assert "--force" in err.hint
    assert set(Context().store.list("objects/")) == objects
    assert_intact(v1.id)


def test_pinned_only_by_a_tag_or_another_branch(repo: Path, tmp_path: Path):
    (repo / "README").write_text("no data yet")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "start")
    src = make_tree(tmp_path / "src", {"a": "1"})
    git(repo, "checkout", "-qb", "release")
    tagged = close_version(src)
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-qD", "release")  # only the tag still reaches the v1 commit
    git(repo, "checkout", "-qb", "experiment")
    (src / "b").write_text("2")
    branched = close_version(src)
    git(repo, "commit", "-qm", "v2")
    git(repo, "checkout", "-q", "main")
    assert not (repo / POINTER).exists()  # main pins nothing

    err = refused(tagged.id)
    assert err.pinned_by == ["refs/tags/v1"] and err.paths == [POINTER]
    assert f"pinned by refs/tags/v1 ({POINTER})" in str(err)
    err = refused(branched.id)
    assert err.pinned_by == ["refs/heads/experiment"]
    assert "pinned by refs/heads/experiment" in str(err)
    for v in (tagged, branched):
        assert_intact(v.id)


def test_pinned_only_in_the_index(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    close_version(src)
    git(repo, "commit", "-qm", "v1")
    (src / "b").write_text("2")
    staged = close_version(src)  # its pointer is staged, not committed
    committed = git(repo, "show", f"HEAD:{POINTER}")
    (repo / POINTER).write_text(committed)  # the working tree is back at v1: only the index pins it
    err = refused(staged.id)
    assert err.pinned_by == ["the index"]
    assert "pinned by the index" in str(err)
    assert_intact(staged.id)


def test_pinned_only_in_the_working_tree(repo: Path, tmp_path: Path):
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "rm", "-q", "--cached", POINTER)  # untracked: only the file names it
    err = refused(v1.id)
    assert err.pinned_by == ["the working tree"]


def test_ancestor_of_a_pinned_version_is_refused(repo: Path, tmp_path: Path, monkeypatch):
    src = make_tree(tmp_path / "src", {"a": "1"})
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    parent = close_version(src)  # no pointer names the parent itself
    monkeypatch.chdir(repo)
    (src / "b").write_text("2")
    child = close_version(src, [parent.id])
    git(repo, "commit", "-qm", "child")
    err = refused(parent.id)
    assert err.pinned_version == child.id
    assert f"ancestor of {child.id}" in str(err)
    assert_intact(parent.id)


def test_force_deletes_a_pinned_version(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    report = Dataset.delete(dataset_id=v1.id, force=True)
    assert report is not None and report.objects_removed == 2  # manifest and chunk
    with pytest.raises(LookupError):
        Dataset.get(dataset_id=v1.id)


def test_force_deletes_a_pinned_parent_and_its_children_keep_their_data(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    parent = close_version(src)
    git(repo, "commit", "-qm", "v1")
    (src / "b").write_text("2")
    child = close_version(src, [parent.id])
    git(repo, "commit", "-qm", "v2")
    report = Dataset.delete(dataset_id=parent.id, force=True)
    assert report is not None and report.orphaned_children == [child.id]
    assert_intact(child.id)


def test_unpinned_version_in_a_repo_is_deleted(repo: Path, tmp_path: Path, monkeypatch):
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    loose = unpinned_version(tmp_path, repo, monkeypatch, {"x": "loose"})
    report = Dataset.delete(dataset_id=loose.id)
    assert report is not None and report.objects_removed == 2
    with pytest.raises(LookupError):
        Dataset.get(dataset_id=loose.id)
    assert_intact(v1.id)


def test_unpinned_parent_with_children_still_needs_force(repo: Path, tmp_path: Path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    src = make_tree(tmp_path / "src", {"a": "1"})
    parent = close_version(src)
    close_version(src, [parent.id])
    monkeypatch.chdir(repo)  # a repo, but no pointer in it names either version
    with pytest.raises(HasDependentsError):
        Dataset.delete(dataset_id=parent.id)


def test_outside_a_repository_nothing_changes(tmp_path: Path):
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    assert find_repo() is None
    assert Dataset.delete(dataset_id=v1.id) is not None


def test_pointer_reach_names_each_ref_once_and_covers_gc(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    for i in range(6):
        git(repo, "tag", f"t{i}")
    git(repo, "checkout", "-q", "--detach")
    from gitdata.gitio.history import pointer_reach

    reach = pointer_reach(find_repo(), track={v1.id, "f" * 32})
    assert reach.ids == {v1.id}
    where = sorted({w for w, _ in reach.pins[v1.id]})
    # detached HEAD is a tip of its own; the index and working tree match HEAD: not named
    assert where == ["HEAD", "refs/heads/main", *(f"refs/tags/t{i}" for i in range(6))]
    assert "f" * 32 not in reach.pins


def test_many_refs_are_summarised(repo: Path, tmp_path: Path):
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    for i in range(6):
        git(repo, "tag", f"t{i}")
    err = refused(v1.id)
    assert len(err.pinned_by) == 7
    assert "and 4 more" in str(err)
