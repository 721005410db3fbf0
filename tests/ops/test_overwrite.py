"""``overwrite`` replaces only an empty folder or a tree gd made; everything else is refused
before anything is deleted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.cache.fsutil import remove_tree
from gitdata.errors import ConflictError, TargetNotEmptyError, UnsafePathError
from gitdata.gitio.repo import find_repo
from gitdata.ops import materialize
from gitdata.ops.bind import bind, load_bindings, update_folder
from gitdata.ops.context import Context
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.target import MARKER_NAME, check_target, read_marker
from tests.conftest import make_tree, read_tree

V1 = {"a.txt": "one", "sub/b.txt": "bee", "gone.txt": "old"}
V2 = {"a.txt": "ONE", "sub/c.txt": "sea", "new/d.txt": "dee"}
MODES = ["link", "copy"]


def closed(src: Path, name: str = "ds") -> str:
    ds = Dataset.create(dataset_project="p", dataset_name=name)
    ds.add_files(src)
    ds.upload()
    ds.finalize()
    return ds.id


@pytest.fixture
def v1(tmp_path: Path) -> str:
    return closed(make_tree(tmp_path / "src1", V1))


@pytest.fixture
def v2(tmp_path: Path) -> str:
    return closed(make_tree(tmp_path / "src2", V2), name="other")


def get(version_id: str, target: Path, mode: str, overwrite: bool = False) -> Path:
    ctx = Context()
    manifest = load_manifest(ctx, load_record(ctx, version_id).manifest)
    return materialize.materialize(
        ctx, manifest, target, mode=mode, overwrite=overwrite, version_id=version_id
    )


def snapshot(root: Path) -> set[str]:
    """Every file, folder and link under ``root`` (hidden ones and .git included; the
    cache's sqlite side files, which come and go, left out)."""
    out = set()
    for dirpath, dirs, names in os.walk(root):
        for n in dirs + names:
            if not n.endswith(("-wal", "-shm", "-journal")):
                out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def data(files: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode() for k, v in files.items()}


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("mode", MODES)
def test_refuses_the_current_folder(v1: str, tmp_path: Path, mode: str, monkeypatch):
    here = make_tree(tmp_path / "here", {"mine.txt": "keep", "deep/x": "x"})
    monkeypatch.chdir(here)
    before = snapshot(here)
    with pytest.raises(ConflictError, match="current folder"):
        get(v1, Path("."), mode, overwrite=True)
    assert snapshot(here) == before
    assert os.getcwd() == str(here) and os.path.isdir(os.getcwd())


@pytest.mark.parametrize("overwrite", [False, True])
def test_refuses_the_current_folder_even_empty(v1: str, tmp_path: Path, overwrite, monkeypatch):
    """An empty current folder cannot be swapped out either: the shell would be left in
    a deleted folder."""
    here = tmp_path / "empty"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    with pytest.raises(ConflictError, match="current folder"):
        get(v1, here, "copy", overwrite=overwrite)
    assert here.stat().st_ino == inode and not any(here.iterdir())


@pytest.mark.parametrize("mode", MODES)
def test_refuses_an_ancestor_of_the_current_folder(v1: str, tmp_path: Path, mode, monkeypatch):
    top = make_tree(tmp_path / "top", {"notes.txt": "n", "work/deep/f.txt": "f"})
    monkeypatch.chdir(top / "work" / "deep")
    before = snapshot(top)
    with pytest.raises(ConflictError, match="holds the current folder"):
        get(v1, top, mode, overwrite=True)
    assert snapshot(top) == before


def git_repo(path: Path) -> Path:
    make_tree(path, {"code.py": "print(1)\n", "data/x.csv": "1,2\n"})
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "init"], check=True)
    return path


@pytest.mark.parametrize("mode", MODES)
def test_refuses_a_git_work_tree_root(v1: str, tmp_path: Path, mode: str):
    repo = git_repo(tmp_path / "repo")
    before = snapshot(repo)
    with pytest.raises(ConflictError, match=r"\.git"):
        get(v1, repo, mode, overwrite=True)
    assert snapshot(repo) == before
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True)
    assert log.returncode == 0 and b"init" in log.stdout


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_refuses_a_folder_with_a_nested_git(v1: str, tmp_path: Path, kind: str):
    outer = make_tree(tmp_path / "outer", {"readme": "r"})
    if kind == "dir":
        git_repo(outer / "vendor" / "lib")
    else:  # a submodule or worktree: .git is a file naming the real git dir
        make_tree(outer, {"vendor/lib/.git": "gitdir: /elsewhere/.git/modules/lib\n"})
    before = snapshot(outer)
    with pytest.raises(ConflictError, match="vendor/lib/.git"):
        get(v1, outer, "copy", overwrite=True)
    assert snapshot(outer) == before


def test_refuses_a_gd_tree_that_now_holds_a_git_repository(v1: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "copy")
    git_repo(tree / "sub" / "mine")
    before = snapshot(tree)
    with pytest.raises(ConflictError, match=r"\.git"):
        get(v1, tree, "copy", overwrite=True)
    assert snapshot(tree) == before


@pytest.mark.parametrize("mode", MODES)
def test_refuses_home(v1: str, tmp_path: Path, mode: str):
    home = Path(os.environ["HOME"])  # the test's own HOME (tests/conftest.py)
    make_tree(home, {"thesis.tex": "years of work"})
    get(v1, tmp_path / "warm", mode)  # the cache (under HOME) now holds all a get needs
    before = snapshot(home)
    with pytest.raises(ConflictError, match="home folder"):
        get(v1, home, mode, overwrite=True)
    assert snapshot(home) == before


def test_refuses_an_ancestor_of_home(v1: str, tmp_path: Path, tmp_path_factory, monkeypatch):
    home = Path(os.environ["HOME"])
    assert home.parent == tmp_path
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not the cwd rule this time
    get(v1, tmp_path / "warm", "copy")
    before = snapshot(tmp_path)
    with pytest.raises(ConflictError, match="home folder"):
        get(v1, tmp_path, "copy", overwrite=True)
    assert snapshot(tmp_path) == before


def test_refuses_the_filesystem_root():
    # The check alone: never let a bug here run a real get against "/".
    with pytest.raises(ConflictError, match="root"):
        check_target(Path("/"), overwrite=True)


@pytest.mark.parametrize("mode", MODES)
def test_refuses_foreign_files_naming_them(v1: str, tmp_path: Path, mode: str):
    names = {f"mine/{i:02}.txt": str(i) for i in range(12)}
    busy = make_tree(tmp_path / "busy", {"keep.txt": "mine", **names})
    before = read_tree(busy)
    with pytest.raises(TargetNotEmptyError) as info:
        get(v1, busy, mode, overwrite=True)
    msg = str(info.value)
    assert "13 files" in msg and "keep.txt" in msg and "mine/00.txt" in msg
    assert "mine/11.txt" not in msg  # a few named, not all
    assert "\n" not in msg
    assert info.value.count == 13 and "keep.txt" in info.value.foreign
    assert read_tree(busy) == before


def test_refuses_user_files_added_to_a_gd_tree(v1: str, v2: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "copy")
    make_tree(tree, {"my-notes.txt": "mine", "sub/extra.bin": "x"})
    before = read_tree(tree)
    with pytest.raises(TargetNotEmptyError) as info:
        get(v2, tree, "copy", overwrite=True)
    msg = str(info.value)
    assert "2 files" in msg and "my-notes.txt" in msg and "sub/extra.bin" in msg
    assert read_tree(tree) == before


def test_refuses_a_user_folder_added_to_a_gd_tree(v1: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "link")
    (tree / "scratch").mkdir()
    with pytest.raises(TargetNotEmptyError, match="scratch/"):
        get(v1, tree, "link", overwrite=True)
    assert (tree / "scratch").is_dir()


def test_a_marker_copied_into_a_user_folder_does_not_cover_its_files(v1: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "copy")
    mine = make_tree(tmp_path / "mine", {"a.txt": "my own a", "paper.pdf": "p"})
    (mine / MARKER_NAME).write_bytes((tree / MARKER_NAME).read_bytes())
    with pytest.raises(TargetNotEmptyError, match="paper.pdf"):
        get(v1, mine, "copy", overwrite=True)
    assert (mine / "paper.pdf").exists() and (mine / "a.txt").read_text() == "my own a"


def test_refuses_a_symlinked_target(v1: str, tmp_path: Path):
    real = get(v1, tmp_path / "real", "copy")
    link = tmp_path / "link"
    link.symlink_to(real)
    before = snapshot(real)
    with pytest.raises(UnsafePathError, match="symlink"):
        get(v1, link, "copy", overwrite=True)
    assert link.is_symlink() and snapshot(real) == before


def test_refuses_a_symlinked_folder_inside_the_tree(v1: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "copy")
    elsewhere = make_tree(tmp_path / "elsewhere", {"b.txt": "precious"})
    remove_tree(tree / "sub")
    (tree / "sub").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="sub"):
        get(v1, tree, "copy", overwrite=True)
    assert (elsewhere / "b.txt").read_text() == "precious"
    assert (tree / "sub").is_symlink()


def test_without_overwrite_a_busy_folder_is_refused_clearly(v1: str, tmp_path: Path):
    busy = make_tree(tmp_path / "busy", {"keep.txt": "mine"})
    with pytest.raises(TargetNotEmptyError, match="not empty") as info:
        get(v1, busy, "copy")
    assert "keep.txt" in str(info.value)
    assert "replaces only a tree gd made" in info.value.hint  # --overwrite would not help
    tree = get(v1, tmp_path / "tree", "copy")
    with pytest.raises(TargetNotEmptyError) as info:
        get(v1, tree, "copy")
    assert "--overwrite" in (info.value.hint or "")
    assert read_tree(busy) == {"keep.txt": b"mine"}


# ------------------------------------------------------------------ allowed


@pytest.mark.parametrize("mode", MODES)
def test_overwrite_of_an_empty_folder(v1: str, tmp_path: Path, mode: str):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_tree(get(v1, empty, mode, overwrite=True)) == data(V1)


@pytest.mark.parametrize("mode", MODES)
def test_overwrite_of_a_tree_gd_made(v1: str, tmp_path: Path, mode: str):
    tree = get(v1, tmp_path / "tree", mode)
    assert (tree / MARKER_NAME).is_file()
    assert read_tree(get(v1, tree, mode, overwrite=True)) == data(V1)


@pytest.mark.parametrize(("first", "second"), [("link", "copy"), ("copy", "link")])
def test_overwrite_across_modes(v1: str, tmp_path: Path, first: str, second: str):
    tree = get(v1, tmp_path / "tree", first)
    assert read_tree(get(v1, tree, second, overwrite=True)) == data(V1)


@pytest.mark.parametrize("mode", MODES)
def test_overwrite_from_one_version_to_another(v1: str, v2: str, tmp_path: Path, mode: str):
    tree = get(v1, tmp_path / "tree", mode)
    if mode == "copy":
        (tree / "a.txt").write_text("edited")  # a file gd put there: replaced
        (tree / "gone.txt").unlink()
    get(v2, tree, mode, overwrite=True)
    assert read_tree(tree) == data(V2)
    assert {p for p in snapshot(tree) if not (tree / p).is_dir()} == {*V2, MARKER_NAME}
    assert not (tree / "sub" / "b.txt").exists()
    assert not list(tmp_path.glob(".tree.gd-*"))  # no staging or old tree left beside


def test_marker_is_skipped_by_add_and_verify(v1: str, tmp_path: Path):
    tree = get(v1, tmp_path / "tree", "copy")
    (tree / "extra.txt").write_text("x")
    child = Dataset.create(dataset_project="p", dataset_name="child")
    child.add_files(tree)
    assert MARKER_NAME not in child.list_files()
    assert Dataset.get(dataset_id=v1).verify_dataset_hash(str(tree)) == ["extra.txt"]


def test_a_bound_folder_keeps_an_honest_marker_through_updates(tmp_path: Path, monkeypatch):
    """After `gd checkout` updates a bound folder, its marker lists what gd put there: a
    file the user made where the new version wants one is not gd's, so it is kept."""
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    subprocess.run(["git", "init", "-q", str(repo_dir)], check=True)
    monkeypatch.chdir(repo_dir)
    src = make_tree(tmp_path / "s", {"a.txt": "1", "old.txt": "o"})
    first = Dataset.create(dataset_project="p", dataset_name="ds")
    first.sync_folder(src)
    first.finalize(auto_upload=True)
    ctx, repo = Context(), find_repo(repo_dir)
    data = get(first.id, repo_dir / "data", "link")
    bind(ctx, repo, repo.read_pointer("p", "ds"), data, "link")
    (src / "old.txt").unlink()
    make_tree(src, {"new.txt": "n"})
    second = Dataset.create(dataset_project="p", dataset_name="ds", parent_datasets=[first.id])
    second.sync_folder(src)
    second.finalize(auto_upload=True)
    make_tree(data, {"new.txt": "the user's own", "mine.txt": "m"})
    update_folder(ctx, repo, load_bindings(repo)["p/ds"], repo.read_pointer("p", "ds"))
    marker = read_marker(data)
    assert marker is not None and marker.version_id == second.id
    assert marker.files == {"a.txt"}
    with pytest.raises(TargetNotEmptyError, match="2 files") as info:
        get(second.id, data, "link", overwrite=True)
    assert info.value.foreign == ["mine.txt", "new.txt"]
    assert (data / "new.txt").read_text() == "the user's own"
    (data / "new.txt").unlink()
    (data / "mine.txt").unlink()
    update_folder(ctx, repo, load_bindings(repo)["p/ds"], repo.read_pointer("p", "ds"))  # current
    get(second.id, data, "link", overwrite=True)
    assert read_tree(data) == {"a.txt": b"1", "new.txt": b"n"}
