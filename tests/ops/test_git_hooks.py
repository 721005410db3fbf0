"""gd init, hooks run by real git (commit, push to a bare repo), status and log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.gitio.hooks import install_hooks, uninstall_hooks
from gitdata.gitio.repo import find_repo
from gitdata.ops.target import MARKER_NAME
from tests.conftest import make_tree

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    # Hooks run `gd`; make sure they import this checkout's gitdata.
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env())
    if check and r.returncode:
        raise AssertionError(f"git {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


def gd(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gitdata", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env(),
    )


def close_version(src: Path, parents=None, name="cats") -> Dataset:
    ds = Dataset.create(dataset_project="vision", dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def test_init_is_idempotent(repo: Path, tmp_path: Path):
    r = gd(repo, "init", "--storage", str(tmp_path / "store"), "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert set(first["hooks"].values()) == {"installed"}
    config = (repo / ".gitdata/config.yaml").read_text()
    assert f"storage: {tmp_path / 'store'}" in config
    assert "merge=gitdata" in (repo / ".gitattributes").read_text()
    again = json.loads(gd(repo, "init", "--json").stdout)
    assert set(again["hooks"].values()) == {"unchanged"} and not again["attributes_added"]
    assert (repo / ".gitdata/config.yaml").read_text() == config
    assert (repo / ".gitattributes").read_text().count("merge=gitdata") == 1


def test_hooks_chain_to_user_hook_and_uninstall_cleanly(repo: Path):
    hooks = repo / ".git/hooks"
    user_hook = hooks / "pre-commit"
    user_hook.write_text(
        '#!/bin/sh\necho user-hook-ran >> "$(git rev-parse --show-toplevel)/ran.txt"\n'
    )
    user_hook.chmod(0o755)
    pygit = find_repo(repo).repo
    actions = {c.name: c.action for c in install_hooks(pygit)}
    assert actions["pre-commit"] == "chained"
    (repo / "f.txt").write_text("x")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "one")
    assert (repo / "ran.txt").read_text() == "user-hook-ran\n"  # the user's hook still runs
    actions = {c.name: c.action for c in uninstall_hooks(pygit)}
    assert actions["pre-commit"] == "restored" and actions["pre-push"] == "removed"
    assert "user-hook-ran" in user_hook.read_text()
    assert not (hooks / "pre-commit.pre-gitdata").exists()


def test_user_hook_failure_still_blocks_commit(repo: Path):
    hooks = repo / ".git/hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\necho no >&2\nexit 1\n")
    (hooks / "pre-commit").chmod(0o755)
    install_hooks(find_repo(repo).repo)
    (repo / "f.txt").write_text("x")
    git(repo, "add", "f.txt")
    assert git(repo, "commit", "-qm", "one", check=False).returncode != 0


def test_pre_commit_refuses_malformed_and_draft_pointers(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "good pointer")  # hook accepts a closed, stored version
    pointer = repo / ".gitdata/datasets/vision/cats.yaml"
    pointer.write_text(pointer.read_text().replace("version: 1.0.0", "version: [broken"))
    git(repo, "add", ".")
    r = git(repo, "commit", "-qm", "bad", check=False)
    assert r.returncode != 0
    assert ".gitdata/datasets/vision/cats.yaml" in r.stderr and "malformed YAML" in r.stderr
    draft = Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[v1.id])
    pointer.write_text(
        pointer.read_text().replace("version: [broken", "version: 1.0.0").replace(v1.id, draft.id)
    )
    git(repo, "add", ".")
    r = git(repo, "commit", "-qm", "draft", check=False)
    assert r.returncode != 0 and "still a draft" in r.stderr


def test_pre_push_refuses_unknown_version_then_allows(repo: Path, tmp_path: Path):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    install_hooks(find_repo(repo).repo)
    close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    # a teammate's pointer to a version that only exists in *their* store
    other = Dataset.create(dataset_project="vision", dataset_name="dogs")
    other.sync_folder(make_tree(tmp_path / "dogs", {"d": "1"}))
    store = tmp_path / "elsewhere"
    other.upload(output_url=str(store))
    other.finalize()
    git(repo, "commit", "-qm", "dogs from another store", "--no-verify")
    r = git(repo, "push", "-q", "origin", "main", check=False)
    assert r.returncode != 0
    assert "vision/dogs" in r.stderr and "not in the store" in r.stderr
    assert git(bare.parent, "--git-dir", str(bare), "branch", "--list").stdout == ""
    # make the version available in the shared store: copy the other store's content in
    import shutil

    shared = Path(os.environ["XDG_DATA_HOME"]) / "gitdata/store"
    shutil.copytree(store / "objects", shared / "objects", dirs_exist_ok=True)
    shutil.copytree(store / "versions", shared / "versions", dirs_exist_ok=True)
    r = git(repo, "push", "-q", "origin", "main", check=False)
    assert r.returncode == 0, r.stderr


def test_status_and_log(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    (src / "b").write_text("2")
    v2 = close_version(src, [v1.id])
    rows = json.loads(gd(repo, "status", "--json").stdout)
    assert [(r["name"], r["state"], r["id"]) for r in rows] == [("cats", "modified", v2.id)]
    git(repo, "commit", "-qm", "v2")
    Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[v2.id])
    rows = json.loads(gd(repo, "status", "--remote", "--json").stdout)
    assert rows[0]["state"] == "clean" and rows[0]["draft_open"] and rows[0]["in_store"] is True
    log = json.loads(gd(repo, "log", "--project", "vision", "--name", "cats", "--json").stdout)
    assert [e["id"] for e in log] == [v2.id, v1.id]
    assert log[0]["message"] == "v2" and log[0]["stats"]["added"] == 1


def test_log_counts_a_moved_file_as_renamed(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "same", "b": "2", "t1": "t", "t2": "t"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    (src / "a").rename(src / "moved")
    (src / "t1").rename(src / "t3")  # one of two files with one content
    (src / "b").write_text("changed")
    close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    log = json.loads(gd(repo, "log", "--project", "vision", "--name", "cats", "--json").stdout)
    assert log[0]["stats"] == {
        "files": 4,
        "bytes": 4 + 7 + 1 + 1,
        "added": 0,
        "modified": 1,
        "removed": 0,
        "renamed": 2,
    }
    assert "renamed" not in log[1]["stats"]  # no rename: the key is left out
    table = gd(repo, "log", "--project", "vision", "--name", "cats").stdout
    header, newest = (line.split("\t") for line in table.splitlines()[:2])  # piped: tabs
    assert newest[header.index(">")] == "2" and newest[header.index("+")] == "0"


def test_git_commands_outside_a_repo(tmp_path: Path):
    outside = tmp_path / "plain"
    outside.mkdir()
    r = gd(outside, "status")
    assert r.returncode == 3 and "not inside a git repository" in r.stderr


def test_diff_between_revisions(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1", "b": "2"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "one")
    (src / "a").write_text("changed")
    (src / "b").unlink()
    (src / "c").write_text("3")
    close_version(src, [v1.id])
    dogs = close_version(make_tree(tmp_path / "dogs", {"d": "1"}), name="dogs")
    work = json.loads(gd(repo, "diff", "--json").stdout)  # HEAD vs working tree
    by_name = {d["name"]: d for d in work}
    assert by_name["cats"]["added"] == ["c"] and by_name["cats"]["modified"] == ["a"]
    assert by_name["cats"]["removed"] == ["b"] and by_name["cats"]["old_id"] == v1.id
    assert by_name["dogs"]["old_id"] is None and by_name["dogs"]["added"] == ["d"]
    git(repo, "commit", "-qm", "v2")
    assert json.loads(gd(repo, "diff", "one", "HEAD", "--json").stdout) == work
    assert json.loads(gd(repo, "diff", "--json").stdout) == []
    assert dogs.id in gd(repo, "diff", "HEAD~1", "HEAD", "--json").stdout


def test_diff_reports_a_moved_file_as_renamed(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "same", "b": "2", "twin1": "t", "twin2": "t"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    (src / "a").rename(src / "z")
    (src / "twin1").rename(src / "twin9")  # of two paths holding one content, one moved
    (src / "b").unlink()
    close_version(src, [v1.id])
    (cats,) = json.loads(gd(repo, "diff", "--json").stdout)
    assert cats["renamed"] == [{"from": "twin1", "to": "twin9"}, {"from": "a", "to": "z"}]
    assert cats["added"] == [] and cats["removed"] == ["b"] and cats["modified"] == []
    out = gd(repo, "diff", "--files").stdout
    assert "+0 ~0 -1 >2" in out and "    > a -> z\n" in out and "+ z" not in out


def test_bound_folder_follows_checkout_and_keeps_user_files(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    src = make_tree(tmp_path / "src", {"a.txt": "v1", "gone.txt": "old"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    r = gd(repo, "get", "--project", "vision", "--name", "cats", "--link", "data", "--bind")
    assert r.returncode == 0, r.stderr
    assert "/data/" in (repo / ".git/info/exclude").read_text()
    git(repo, "commit", "-qm", "bind data/", "--allow-empty")
    (src / "a.txt").write_text("v2")
    (src / "gone.txt").unlink()
    (src / "new.txt").write_text("new")
    v2 = close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2")
    status = json.loads(gd(repo, "status", "--json").stdout)[0]
    assert status["bound"] == "data" and status["bound_state"] == "stale"
    assert json.loads(gd(repo, "checkout", "--json").stdout)[0]["written"] == 2
    data = repo / "data"
    assert sorted(p.name for p in data.iterdir()) == [MARKER_NAME, "a.txt", "new.txt"]
    (data / "my-notes.txt").write_text("mine")  # not tracked by the dataset
    git(repo, "checkout", "-q", "HEAD~1")  # post-checkout hook brings v1 back
    assert (data / "a.txt").read_text() == "v1" and (data / "gone.txt").read_text() == "old"
    assert not (data / "new.txt").exists()
    assert (data / "my-notes.txt").read_text() == "mine"
    git(repo, "checkout", "-q", "main")
    assert (data / "a.txt").read_text() == "v2" and not (data / "gone.txt").exists()
    assert json.loads(gd(repo, "status", "--json").stdout)[0]["bound_state"] == "current"
    assert v2.id in (repo / ".gitdata/datasets/vision/cats.yaml").read_text()


def test_copy_bound_folder_keeps_local_edits(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "v1", "b.txt": "b1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    assert (
        gd(
            repo, "get", "--project", "vision", "--name", "cats", "--copy", "work", "--bind"
        ).returncode
        == 0
    )
    (repo / "work/a.txt").write_text("edited by me")
    (src / "a.txt").write_text("v2")
    (src / "b.txt").write_text("b2")
    close_version(src, [v1.id])
    updates = json.loads(gd(repo, "checkout", "--json").stdout)
    assert updates[0]["kept_modified"] == ["a.txt"]
    assert (repo / "work/a.txt").read_text() == "edited by me"
    assert (repo / "work/b.txt").read_text() == "b2"


def test_merge_conflict_when_store_offline_then_resolve(repo: Path, tmp_path: Path, monkeypatch):
    assert gd(repo, "init").returncode == 0
    v1 = close_version(make_tree(tmp_path / "base", {"a": "1"}))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    git(repo, "checkout", "-qb", "theirs")
    close_version(make_tree(tmp_path / "t", {"a": "1", "t": "t"}), [v1.id])
    git(repo, "commit", "-qm", "theirs")
    git(repo, "checkout", "-q", "main")
    close_version(make_tree(tmp_path / "o", {"a": "1", "o": "o"}), [v1.id])
    git(repo, "commit", "-qm", "ours")
    from gitdata.ops.context import Context

    store = Path(Context().store.url)
    hidden = store.with_name("store-offline")
    store.rename(hidden)  # the driver cannot reach the versions' store
    hidden.joinpath("..").resolve().joinpath("store").write_text("not a folder")
    r = git(repo, "merge", "--no-edit", "theirs", check=False)
    assert r.returncode != 0 and "gd merge --resolve" in r.stderr + r.stdout
    store.unlink()
    hidden.rename(store)
    resolved = json.loads(gd(repo, "merge", "--resolve", "--json").stdout)
    assert resolved == {"resolved": [".gitdata/datasets/vision/cats.yaml"]}
    git(repo, "commit", "-qm", "merged")
    merged = find_repo(repo).read_pointer("vision", "cats", "HEAD")
    assert len(merged.parents) == 2


def test_gc_removes_only_unreachable_content(repo: Path, tmp_path: Path, monkeypatch):
    from gitdata.ops.context import Context

    src = make_tree(tmp_path / "src", {"a": "1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    git(repo, "checkout", "-qb", "experiment")
    (src / "big").write_text("experiment data")
    v2 = close_version(src, [v1.id])
    git(repo, "commit", "-qm", "v2 on a branch")
    git(repo, "checkout", "-q", "main")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    orphan = close_version(make_tree(tmp_path / "o", {"o": "orphan"}), name="orphan")
    monkeypatch.chdir(repo)
    store = Context().store
    before = set(store.list("objects/"))

    # default grace: everything is recent, nothing goes
    report = json.loads(gd(repo, "gc", "--json").stdout)
    assert report["removed_versions"] == [] and report["removed_objects"] == 0
    # the branch still references v2: only the orphan is unreachable
    report = json.loads(gd(repo, "gc", "--grace", "0", "--dry-run", "--json").stdout)
    assert report["removed_versions"] == [orphan.id] and report["dry_run"]
    assert set(store.list("objects/")) == before  # dry run removed nothing
    git(repo, "branch", "-qD", "experiment")
    # HEAD's reflog still remembers the experiment commit: --reflog keeps v2
    report = json.loads(gd(repo, "gc", "--grace", "0", "--reflog", "--dry-run", "--json").stdout)
    assert report["removed_versions"] == [orphan.id]
    report = json.loads(gd(repo, "gc", "--grace", "0", "--json").stdout)
    assert sorted(report["removed_versions"]) == sorted([orphan.id, v2.id])
    assert report["removed_objects"] == 4  # two manifests, two chunks
    with pytest.raises(LookupError):
        Dataset.get(dataset_id=v2.id)
    Context().cache.clear()
    from tests.conftest import read_tree

    assert read_tree(Path(Dataset.get(dataset_id=v1.id).get_local_copy())) == {"a": b"1"}


def test_status_check_is_a_ci_gate(repo: Path, tmp_path: Path):
    close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    assert gd(repo, "status", "--remote", "--check").returncode == 0
    pointer = repo / ".gitdata/datasets/vision/cats.yaml"
    import re

    pointer.write_text(re.sub(r"(?m)^id: [0-9a-f]{32}$", "id: " + "f" * 32, pointer.read_text()))
    r = gd(repo, "status", "--remote", "--check")
    assert r.returncode == 10 and "not in the store" in r.stderr


def test_pre_push_uploads_versions_that_exist_only_locally(repo: Path, tmp_path: Path):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    shared = tmp_path / "shared-store"
    assert gd(repo, "init", "--storage", str(shared)).returncode == 0
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    local = Path(os.environ["XDG_DATA_HOME"]) / "gitdata/store"
    src = make_tree(tmp_path / "src", {"a": "1"})
    ds = Dataset.create(dataset_project="vision", dataset_name="cats", output_uri=str(local))
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)  # closed into the laptop's embedded store only
    child = Dataset.create(
        dataset_project="vision",
        dataset_name="cats",
        parent_datasets=[ds.id],
        output_uri=str(local),
    )
    (src / "b").write_text("2")
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert not (shared / "versions" / f"{child.id}.yaml").exists()
    git(repo, "commit", "-qm", "data", "--no-verify")
    r = git(repo, "push", "-q", "origin", "main", check=False)
    assert r.returncode == 0, r.stderr
    assert "uploaded vision/cats" in r.stderr
    for vid in (ds.id, child.id):  # with its ancestor
        assert (shared / "versions" / f"{vid}.yaml").exists()
    from gitdata.ops.context import Context

    Context().cache.clear()
    from tests.conftest import read_tree

    got = Dataset.get(dataset_id=child.id, storage=str(shared))
    assert read_tree(Path(got.get_local_copy())) == {"a": b"1", "b": b"2"}


def test_detached_head_and_shallow_clone(repo: Path, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a": "1"})
    v1 = close_version(src)
    git(repo, "commit", "-qm", "v1")
    for i in range(3):
        (src / f"f{i}").write_text(str(i))
        close_version(src, [v1.id])
        git(repo, "commit", "-qm", f"v{i + 2}")
    git(repo, "checkout", "-q", "--detach", "HEAD~3")
    assert Dataset.get(dataset_project="vision", dataset_name="cats").id == v1.id
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    r = gd(shallow, "get", "--project", "vision", "--name", "cats", "--rev", "HEAD~2")
    assert r.returncode == 3
    assert "not found" in r.stderr and "shallow clone" in r.stderr
    r = gd(shallow, "get", "--project", "vision", "--name", "cats", "--rev", "HEAD", "--json")
    assert r.returncode == 0, r.stderr  # a second clone shares the store


def test_hook_settings_offline_refuse_and_bound_warn(repo: Path, tmp_path: Path):
    install_hooks(find_repo(repo).repo)
    close_version(make_tree(tmp_path / "src", {"a": "1"}))
    (repo / ".gitdata/config.yaml").write_text("hooks:\n  offline: refuse\n  bound_folders: warn\n")
    git(repo, "add", ".")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = subprocess.run(
        ["git", "commit", "-qm", "offline"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**env(), "GD_STORAGE": str(blocker / "store")},
    )
    assert r.returncode != 0 and "cannot reach the store" in r.stderr
    (repo / ".gitdata/config.yaml").write_text("hooks:\n  offline: sometimes\n")
    r = gd(repo, "status")
    assert r.returncode == 5 and "bad hooks setting" in r.stderr


def test_status_never_contacts_the_store_for_open_drafts(repo: Path, tmp_path: Path):
    import shutil

    from gitdata.ops.context import Context

    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[v1.id])
    ctx = Context()
    ctx.cache.clear()
    shutil.rmtree(ctx.records_dir, ignore_errors=True)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "status", "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**env(), "GD_STORAGE": str(blocker / "store")},
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["draft_open"] is True


# ---------------------------------------------------------------- hooks when gd is missing


@pytest.fixture
def no_gd(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has git and the few tools the shims use, but no gd
    (and no python3, so the shims cannot fall back to ``python3 -m gitdata``)."""
    import shutil

    bin_dir = tmp_path / "bin-without-gd"
    bin_dir.mkdir()
    for tool in ("git", "dirname", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return {**env(), "PATH": str(bin_dir)}


def run(repo: Path, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=environ)


def test_pre_commit_without_gd_passes_plain_commits_and_refuses_pointers(
    repo: Path, tmp_path: Path, no_gd: dict[str, str]
):
    install_hooks(find_repo(repo).repo)
    (repo / "f.txt").write_text("x")
    git(repo, "add", "f.txt")
    r = run(repo, no_gd, "commit", "-qm", "no pointer")
    assert r.returncode == 0, r.stderr
    assert "gd not found on PATH; pointer checks skipped" in r.stderr
    close_version(make_tree(tmp_path / "src", {"a": "1"}))  # stages the pointer
    r = run(repo, no_gd, "commit", "-qm", "pointer")
    assert r.returncode != 0
    assert ".gitdata/datasets/vision/cats.yaml" in r.stderr
    assert "activate" in r.stderr and "install gitdata" in r.stderr
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "1"  # nothing committed
    # a commit that only deletes a pointer has nothing for gd to check
    git(repo, "commit", "-qm", "pointer, checked by gd")
    git(repo, "rm", "-q", ".gitdata/datasets/vision/cats.yaml")
    r = run(repo, no_gd, "commit", "-qm", "drop pointer")
    assert r.returncode == 0, r.stderr


def test_pre_push_without_gd_refuses_only_when_pointers_are_tracked(
    repo: Path, tmp_path: Path, no_gd: dict[str, str]
):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    install_hooks(find_repo(repo).repo)
    (repo / "f.txt").write_text("x")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "plain")
    r = run(repo, no_gd, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    assert "gd not found on PATH" in r.stderr
    close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "pointer")
    r = run(repo, no_gd, "push", "-q", "origin", "main")
    assert r.returncode != 0
    assert "gd not found on PATH" in r.stderr and "activate" in r.stderr
    remote_head = git(bare, "--git-dir", str(bare), "rev-parse", "main").stdout
    assert remote_head == git(repo, "rev-parse", "HEAD~1").stdout  # the pointer did not go


def test_post_checkout_without_gd_warns_and_never_blocks(repo: Path, no_gd: dict[str, str]):
    install_hooks(find_repo(repo).repo)
    (repo / "f.txt").write_text("x")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "one")
    r = run(repo, no_gd, "checkout", "-qb", "other")
    assert r.returncode == 0, r.stderr
    assert "gd not found on PATH; bound folders not updated" in r.stderr


def test_merge_driver_without_gd_leaves_a_conflict_and_says_why(
    repo: Path, tmp_path: Path, no_gd: dict[str, str]
):
    assert gd(repo, "init").returncode == 0
    v1 = close_version(make_tree(tmp_path / "base", {"a": "1"}))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    git(repo, "checkout", "-qb", "theirs")
    close_version(make_tree(tmp_path / "t", {"a": "1", "t": "t"}), [v1.id])
    git(repo, "commit", "-qm", "theirs")
    git(repo, "checkout", "-q", "main")
    close_version(make_tree(tmp_path / "o", {"a": "1", "o": "o"}), [v1.id])
    git(repo, "commit", "-qm", "ours")
    r = run(repo, no_gd, "merge", "--no-edit", "theirs")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    rel = ".gitdata/datasets/vision/cats.yaml"
    assert f"gitdata: gd not found on PATH; {rel} left conflicted" in out
    assert "gd merge --resolve" in out
    assert git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split() == [rel]
    # with gd back, the conflict resolves as usual
    resolved = json.loads(gd(repo, "merge", "--resolve", "--json").stdout)
    assert resolved == {"resolved": [rel]}


# ------------------------------------------- pre-push and stores only this machine can reach

_LOCAL_REMOTES = ("/srv/git/repo.git", "../repo.git", "file:///srv/git/repo.git")
_OTHER_MACHINE = (
    "git@github.com:team/repo.git",
    "ssh://git@host:2222/team/repo.git",
    "https://github.com/team/repo.git",
)


def _push_line(repo: Path) -> str:
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    return f"refs/heads/main {head} refs/heads/main {'0' * 40}\n"


def test_check_push_refuses_a_local_store_for_a_remote_on_another_machine(
    repo: Path, tmp_path: Path
):
    from gitdata.errors import HookRefusedError
    from gitdata.ops.context import Context
    from gitdata.ops.gitops import check_push

    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))  # the default, local store
    git(repo, "commit", "-qm", "v1")
    line = _push_line(repo)
    for url in _OTHER_MACHINE:
        with pytest.raises(HookRefusedError) as info:
            check_push(Context(), line, remote_url=url)
        (problem,) = info.value.fields["problems"]
        assert "vision/cats" in problem and v1.id in problem and url in problem
        assert "local store" in problem
        assert "gd init --storage URL" in info.value.hint
        assert f"gd push --id {v1.id} --to URL" in info.value.hint
    for url in (*_LOCAL_REMOTES, None):  # None: run by hand, remote unknown
        assert check_push(Context(), line, remote_url=url) == 1
    # any local path counts, not only the default store
    shared = tmp_path / "other-local-store"
    from gitdata.ops.replicate import copy_version
    from gitdata.storage import open_store

    ctx = Context()
    copy_version(ctx.store, open_store(str(shared)), v1.id, tmp_path / "tmp")
    for store in (str(shared), f"file://{shared}"):
        with pytest.raises(HookRefusedError, match="push refused") as info:
            check_push(Context.for_storage(store), line, remote_url=_OTHER_MACHINE[0])
        assert "local store" in info.value.fields["problems"][0]


def test_local_store_decision_ignores_remote_stores(repo: Path):
    from gitdata.ops.context import Context
    from gitdata.ops.gitops import _local_store_refused

    ctx = Context()
    assert _local_store_refused(ctx, _OTHER_MACHINE[0])
    ctx.settings.storage = "s3://team-bucket/datasets"
    assert not _local_store_refused(ctx, _OTHER_MACHINE[0])


def test_allow_local_store_switch(repo: Path, tmp_path: Path, monkeypatch):
    from gitdata.config import user_config_path
    from gitdata.errors import FormatError, HookRefusedError
    from gitdata.ops.context import Context
    from gitdata.ops.gitops import check_push

    close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    line, url = _push_line(repo), _OTHER_MACHINE[0]
    repo_cfg = repo / ".gitdata/config.yaml"
    repo_cfg.write_text("hooks:\n  allow_local_store: true\n  offline: refuse\n")
    assert check_push(Context(), line, remote_url=url) == 1
    assert Context().settings.hooks["offline"] == "refuse"  # the other keys still apply
    monkeypatch.setenv("GD_ALLOW_LOCAL_STORE", "0")  # the environment wins
    with pytest.raises(HookRefusedError):
        check_push(Context(), line, remote_url=url)
    monkeypatch.delenv("GD_ALLOW_LOCAL_STORE")
    repo_cfg.write_text("hooks:\n  bound_folders: warn\n")  # the user's key is not hidden
    user_config_path().parent.mkdir(parents=True)
    user_config_path().write_text("hooks:\n  allow_local_store: true\n")
    assert check_push(Context(), line, remote_url=url) == 1
    user_config_path().write_text("hooks:\n  allow_local_store: false\n")
    with pytest.raises(HookRefusedError):
        check_push(Context(), line, remote_url=url)
    monkeypatch.setenv("GD_ALLOW_LOCAL_STORE", "1")
    assert check_push(Context(), line, remote_url=url) == 1
    monkeypatch.setenv("GD_ALLOW_LOCAL_STORE", "maybe")
    with pytest.raises(FormatError, match="GD_ALLOW_LOCAL_STORE"):
        Context().settings  # noqa: B018
    monkeypatch.delenv("GD_ALLOW_LOCAL_STORE")
    repo_cfg.write_text("hooks:\n  allow_local_store: sometimes\n")
    r = gd(repo, "status")
    assert r.returncode == 5 and "bad hooks setting allow_local_store" in r.stderr


def test_pre_push_with_a_local_store_to_an_ssh_remote_is_refused(repo: Path, tmp_path: Path):
    # git reaches the "ssh" remote through a stand-in ssh that runs the command here
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text('#!/bin/sh\nshift\nexec sh -c "$*"\n')
    fake_ssh.chmod(0o755)
    ssh_env = {**env(), "GIT_SSH_COMMAND": str(fake_ssh), "GIT_SSH_VARIANT": "simple"}
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", f"git@teamhost:{bare}")
    git(repo, "remote", "add", "here", f"file://{bare}")
    install_hooks(find_repo(repo).repo)
    v1 = close_version(make_tree(tmp_path / "src", {"a": "1"}))
    git(repo, "commit", "-qm", "v1")
    r = run(repo, ssh_env, "push", "-q", "origin", "main")
    assert r.returncode != 0
    assert "push refused" in r.stderr and "vision/cats" in r.stderr
    assert f"gd push --id {v1.id} --to URL" in r.stderr
    assert git(bare, "--git-dir", str(bare), "branch", "--list").stdout == ""
    r = run(repo, {**ssh_env, "GD_ALLOW_LOCAL_STORE": "1"}, "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    git(repo, "commit", "-q", "--allow-empty", "-m", "more")
    r = run(repo, ssh_env, "push", "-q", "here", "main")  # the same folder, as file://
    assert r.returncode == 0, r.stderr
