"""Bound folders with real git: the binding is this clone's state, not the pointer's."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gitdata.gitio.hooks import install_hooks
from gitdata.gitio.repo import find_repo
from tests.conftest import make_tree
from tests.ops.test_git_hooks import close_version, gd, git

POINTER = ".gitdata/datasets/vision/cats.yaml"
GET_BIND = ("get", "--project", "vision", "--name", "cats", "--bind")


def bind(repo: Path, folder: str, mode: str = "link") -> None:
    r = gd(repo, *GET_BIND, f"--{mode}", folder)
    assert r.returncode == 0, r.stderr


def test_folder_follows_checkout_to_a_commit_made_before_the_bind(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    src = make_tree(tmp_path / "src", {"a.txt": "v1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")  # its pointer has never heard of data/
    bind(repo, "data")
    git(repo, "commit", "-qm", "bind", "--allow-empty")
    (src / "a.txt").write_text("v2")
    (src / "b.txt").write_text("new")
    close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    assert json.loads(gd(repo, "checkout", "--json").stdout)[0]["written"] == 2
    data = repo / "data"
    git(repo, "checkout", "-q", "v1")
    assert (data / "a.txt").read_text() == "v1" and not (data / "b.txt").exists()
    git(repo, "checkout", "-q", "main")
    assert (data / "a.txt").read_text() == "v2" and (data / "b.txt").read_text() == "new"
    assert json.loads(gd(repo, "status", "--json").stdout)[0]["bound_state"] == "current"


def test_bind_changes_nothing_committed(repo: Path, tmp_path: Path):
    close_version(make_tree(tmp_path / "src", {"a.txt": "v1"}))
    git(repo, "commit", "-qm", "v1")
    before = (repo / POINTER).read_text()
    bind(repo, "data")
    assert (repo / POINTER).read_text() == before and "bind" not in before
    assert git(repo, "status", "--porcelain").stdout == ""  # data/ ignored, nothing staged
    assert "/data/" in (repo / ".git/info/exclude").read_text()
    state = json.loads((repo / ".git/gitdata/bindings.json").read_text())
    assert state["datasets"]["vision/cats"]["path"] == "data"


def test_commit_without_the_pointer_leaves_the_folder_alone(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    (repo / "README").write_text("x")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "before any dataset")
    git(repo, "tag", "bare")
    close_version(make_tree(tmp_path / "src", {"a.txt": "v1"}))
    git(repo, "commit", "-qm", "v1")
    bind(repo, "data")
    r = git(repo, "checkout", "-q", "bare")
    assert (repo / "data/a.txt").read_text() == "v1"  # user data is never deleted
    assert "vision/cats has no pointer here" in r.stderr and "data" in r.stderr
    r = gd(repo, "checkout", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["no_pointer"] is True


def test_update_removes_directories_it_emptied_but_not_user_ones(repo: Path, tmp_path: Path):
    files = {"a.txt": "1", "sub/x.txt": "x", "deep/a/b/z.txt": "z", "keep/y.txt": "y"}
    src = make_tree(tmp_path / "src", files)
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    bind(repo, "data")
    data = repo / "data"
    (data / "keep/mine.txt").write_text("mine")
    (data / "user-empty").mkdir()
    for rel in ("sub/x.txt", "deep/a/b/z.txt", "keep/y.txt"):
        (src / rel).unlink()
    close_version(src, [v1.id])
    update = json.loads(gd(repo, "checkout", "--json").stdout)[0]
    assert update["removed"] == 3 and update["removed_dirs"] == 4
    assert not (data / "sub").exists() and not (data / "deep").exists()
    assert (data / "keep/mine.txt").read_text() == "mine" and not (data / "keep/y.txt").exists()
    assert (data / "user-empty").is_dir()  # gitdata did not empty it
    assert sorted(p.name for p in data.iterdir()) == [
        ".gitdata-tree.json",
        "a.txt",
        "keep",
        "user-empty",
    ]


def test_teammate_bind_key_in_a_pointer_is_only_a_suggestion(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    src = make_tree(tmp_path / "src", {"a.txt": "v1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    # A teammate (or an older gd) committed a bind key by hand.
    pointer = repo / POINTER
    pointer.write_text(pointer.read_text() + "bind:\n  path: elsewhere\n  mode: link\n")
    git(repo, "commit", "-qam", "teammate binds elsewhere/")
    (src / "a.txt").write_text("v2")
    close_version(src, [v1.id])
    assert "path: elsewhere" in pointer.read_text()  # rewriting keeps the key
    git(repo, "commit", "-qm", "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    git(repo, "checkout", "-q", "main")
    r = gd(repo, "checkout", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    assert not (repo / "elsewhere").exists()
    row = json.loads(gd(repo, "status", "--json").stdout)[0]
    assert row["bound"] is None and row["suggested_bind"] == "elsewhere"
    r = gd(repo, "status")
    assert (
        "pointer suggests binding elsewhere/; run gd get --project vision --name cats "
        "--link elsewhere --bind to accept" in r.stderr
    )
    bind(repo, "elsewhere")  # accepting it is this clone's choice
    row = json.loads(gd(repo, "status", "--json").stdout)[0]
    assert row["bound"] == "elsewhere" and row["bound_state"] == "current"
    assert row["suggested_bind"] is None
    git(repo, "checkout", "-q", "HEAD~1")
    assert (repo / "elsewhere/a.txt").read_text() == "v1"


def test_update_refuses_a_symlink_leading_out_of_the_folder(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"sub/a.txt": "v1", "top.txt": "t1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    bind(repo, "data")
    outside = make_tree(tmp_path / "outside", {"a.txt": "v1"})
    data = repo / "data"
    for p in (data / "sub").iterdir():
        p.unlink()
    (data / "sub").rmdir()
    os.symlink(outside, data / "sub")
    (src / "sub/a.txt").write_text("v2")
    (src / "sub/new.txt").write_text("new")
    (src / "top.txt").write_text("t2")
    close_version(src, [v1.id])
    r = gd(repo, "checkout")
    assert r.returncode == 4, r.stderr
    assert "data/sub is a symlink leading out of the bound folder" in r.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["a.txt"]
    assert (outside / "a.txt").read_text() == "v1"
    assert (data / "top.txt").read_text() == "t1"  # refused before anything was written


def test_symlink_inside_the_folder_to_inside_is_followed(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"real/a.txt": "v1", "alias/b.txt": "b1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    bind(repo, "data", mode="copy")
    data = repo / "data"
    (data / "alias/b.txt").unlink()
    (data / "alias").rmdir()
    os.symlink("real", data / "alias")
    (data / "real/b.txt").write_text("b1")
    (src / "alias/b.txt").write_text("b2")
    close_version(src, [v1.id])
    r = gd(repo, "checkout", "--json")
    assert r.returncode == 0, r.stderr
    assert (data / "real/b.txt").read_text() == "b2"


def test_bind_refuses_a_folder_inside_another_bound_folder(repo: Path, tmp_path: Path):
    close_version(make_tree(tmp_path / "src", {"a.txt": "v1"}))
    close_version(make_tree(tmp_path / "dogs", {"d.txt": "d"}), name="dogs")
    git(repo, "commit", "-qm", "two datasets")
    bind(repo, "data")
    state = (repo / ".git/gitdata/bindings.json").read_text()
    r = gd(repo, "get", "--project", "vision", "--name", "dogs", "--link", "data/dogs", "--bind")
    assert r.returncode == 4
    assert "cannot bind data/dogs: data is already bound to vision/cats" in r.stderr
    assert (repo / ".git/gitdata/bindings.json").read_text() == state
    bind(repo, "cats-again")  # rebinding the same dataset moves it
    rows = {r["name"]: r for r in json.loads(gd(repo, "status", "--json").stdout)}
    assert rows["cats"]["bound"] == "cats-again" and rows["dogs"]["bound"] is None


def test_unreadable_bindings_state_is_a_clear_error(repo: Path, tmp_path: Path):
    close_version(make_tree(tmp_path / "src", {"a.txt": "v1"}))
    state = repo / ".git/gitdata/bindings.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"format": 1, "datasets": {"vision/cats": {"path": "../out"}}}')
    r = gd(repo, "checkout")
    assert r.returncode == 5 and "bindings.json: bad entry for 'vision/cats'" in r.stderr
    assert "bind the folders again" in r.stderr
    assert not (repo.parent / "out").exists()


def test_a_clone_bound_by_an_older_gd_keeps_following(repo: Path, tmp_path: Path):
    """Older gd: bind key in the pointer plus this clone's own .git/gitdata/bound.json."""
    install_hooks(find_repo(repo).repo)
    src = make_tree(tmp_path / "src", {"a.txt": "v1"})
    v1 = close_version(src)
    gd(repo, "get", "--project", "vision", "--name", "cats", "--link", "data")
    pointer = repo / POINTER
    pointer.write_text(pointer.read_text() + "bind:\n  path: data\n  mode: link\n")
    legacy = repo / ".git/gitdata/bound.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(json.dumps({"data": {"id": v1.id, "mode": "link"}}))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1 bound by old gd")
    (src / "a.txt").write_text("v2")
    close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    gd(repo, "checkout")
    assert (repo / "data/a.txt").read_text() == "v2"
    git(repo, "checkout", "-q", "HEAD~1")
    assert (repo / "data/a.txt").read_text() == "v1"
    # a bound.json entry for a folder no pointer names is not acted on
    legacy.write_text(
        json.dumps({"data": {"id": v1.id, "mode": "link"}, "other": {"mode": "link"}})
    )
    assert not (repo / "other").exists()


def test_bound_folders_keep_the_executable_bit(repo: Path, tmp_path: Path):
    """--link: an executable is its own 0555 copy; --copy: 0755; a chmod alone is
    written out by the next checkout."""
    src = make_tree(tmp_path / "src", {"run.sh": "echo", "a.txt": "1"})
    (src / "run.sh").chmod(0o755)
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    bind(repo, "data")
    data = repo / "data"
    assert (data / "run.sh").stat().st_mode & 0o777 == 0o555
    assert (data / "a.txt").stat().st_mode & 0o777 == 0o444
    (src / "run.sh").chmod(0o644)
    close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    update = json.loads(gd(repo, "checkout", "--json").stdout)[0]
    assert update["written"] == 1 and update["kept_modified"] == []
    assert (data / "run.sh").stat().st_mode & 0o777 == 0o444
    copied = repo / "copied"
    git(repo, "checkout", "-q", "HEAD~1")
    r = gd(repo, "get", "--project", "vision", "--name", "cats", "--bind", "--copy", "copied")
    assert r.returncode == 0, r.stderr
    assert (copied / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (copied / "a.txt").stat().st_mode & 0o777 == 0o644
