"""The clearml-data workflow through the CLI, and every bad-input case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitdata.cli.app import expand_multi_value
from tests.conftest import make_tree, read_tree

FILES = {"a/1.txt": "one", "a/2.txt": "two", "b/3.bin": b"\x00\x01", "top.md": "# top"}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", FILES)


def new_version(gd, src: Path, **kw) -> str:
    did = gd(
        "create", "--project", kw.get("project", "p"), "--name", kw.get("name", "n"), "--json"
    ).json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    return did


def test_expand_multi_value():
    assert expand_multi_value(["add", "--files", "a", "b", "--id", "x"]) == [
        "add",
        "--files",
        "a",
        "--files",
        "b",
        "--id",
        "x",
    ]
    assert expand_multi_value(["--tags=x", "y"]) == ["--tags=x", "y"]


def test_full_workflow(gd, src: Path, tmp_path: Path):
    created = gd("create", "--project", "p", "--name", "n", "--tags", "x", "y", "--json").json()
    assert created["version"] == "1.0.0" and created["tags"] == ["x", "y"]
    assert gd("add", "--files", str(src / "a"), str(src / "top.md"), "--json").json()["added"] == 3
    assert (
        gd("add", "--files", str(src / "b"), "--dataset-folder", "bin", "--json").json()["added"]
        == 1
    )
    assert gd("remove", "--files", "top.md", "--json").json()["removed"] == 1
    gd("upload", "--chunk-size", "1")
    closed = gd("close", "--json").json()
    assert closed["id"] == created["id"] and closed["stats"]["files"] == 3
    listed = gd("list", "--json").json()
    assert [x["path"] for x in listed] == ["1.txt", "2.txt", "bin/3.bin"]
    assert {"path", "size", "sha256"} <= set(listed[0])
    assert [x["path"] for x in gd("list", "--filter", "*.txt", "--json").json()] == [
        "1.txt",
        "2.txt",
    ]

    path = gd("get", "--json").json()["path"]
    assert read_tree(Path(path)) == {"1.txt": b"one", "2.txt": b"two", "bin/3.bin": b"\x00\x01"}
    gd("get", "--id", created["id"], "--link", str(tmp_path / "linked"))
    gd("get", "--id", created["id"], "--copy", str(tmp_path / "copy"))
    assert gd("verify", "--folder", str(tmp_path / "copy"), "--json").json()["ok"]
    assert gd("verify", "--folder", str(tmp_path / "linked"), "--filesize").exit_code == 0

    # child by sync, then compare and show
    child = gd(
        "create", "--project", "p", "--name", "n", "--parents", created["id"], "--json"
    ).json()
    work = make_tree(tmp_path / "work", {"1.txt": "one", "2.txt": "TWO", "new.txt": "n"})
    synced = gd("sync", "--folder", str(work), "--json").json()
    assert (synced["added"], synced["modified"], synced["removed"]) == (1, 1, 1)
    gd("close")
    cmp = gd("compare", "--source", created["id"], "--target", child["id"], "--json").json()
    assert cmp == {
        "source": created["id"],
        "target": child["id"],
        "added": ["new.txt"],
        "modified": ["2.txt"],
        "removed": ["bin/3.bin"],
        "renamed": [],
    }
    shown = gd("show", "--id", child["id"], "--json").json()
    assert shown["added"] == ["new.txt"] and shown["parents"] == [created["id"]]

    found = gd("search", "--project", "p", "--json").json()
    assert [r["id"] for r in found] == [created["id"], child["id"]]
    assert {"id", "project", "name", "version", "tags", "parents"} <= set(found[0])
    assert [r["id"] for r in gd("search", "--tags", "x", "--json").json()] == [created["id"]]

    sq = gd("squash", "--name", "flat", "--ids", created["id"], child["id"], "--json").json()
    assert gd("show", "--id", sq["id"], "--json").json()["parents"] == []
    out = gd("get", "--id", sq["id"], "--copy", str(tmp_path / "flat"), "--json").json()["path"]
    assert read_tree(Path(out)) == {
        "1.txt": b"one",
        "2.txt": b"TWO",
        "new.txt": b"n",
    }  # the squash of a chain is its last state: the removed bin/3.bin stays removed


def test_get_by_project_name_and_parts(gd, src: Path, tmp_path: Path):
    did = new_version(gd, src)
    r = gd("get", "--project", "p", "--name", "n", "--json")
    assert r.json()["id"] == did
    assert "latest in store" in r.stderr
    parts = [
        read_tree(
            Path(
                gd("get", "--id", did, "--part", str(i), "--num-parts", "2", "--json").json()[
                    "path"
                ]
            )
        )
        for i in range(2)
    ]
    assert not set(parts[0]) & set(parts[1])
    assert {**parts[0], **parts[1]} == read_tree(src)


def test_verify_names_bad_files_and_exits_9(gd, src: Path, tmp_path: Path):
    did = new_version(gd, src)
    target = tmp_path / "copy"
    gd("get", "--id", did, "--copy", str(target))
    (target / "a/1.txt").write_text("ONE")
    (target / "top.md").unlink()
    (target / "stray").write_text("?")
    r = gd("verify", "--id", did, "--folder", str(target), ok=False)
    assert r.exit_code == 9
    for name in ("a/1.txt", "top.md", "stray"):
        assert name in r.stderr
    assert (
        "a/1.txt"
        not in gd(
            "verify", "--id", did, "--folder", str(target), "--filesize", "--json", ok=False
        ).json()["hash_mismatch"]
    )


def test_delete_with_dependents(gd, src: Path):
    parent = new_version(gd, src)
    child = gd("create", "--project", "p", "--name", "n", "--parents", parent, "--json").json()[
        "id"
    ]
    gd("close")
    r = gd("delete", "--id", parent, ok=False)
    assert r.exit_code == 8 and child in r.stderr
    assert gd("delete", "--id", parent, "--force", "--json").json()["orphaned_children"] == [child]
    assert gd("get", "--id", parent, ok=False).exit_code == 3


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["get", "--id", "0" * 32], 3, "not found"),
        (["get", "--id", "nonsense"], 4, "not a dataset id"),
        (["show"], 4, "no dataset given"),
        (["search", "--storage", "/dev/null/store"], 6, ""),
        (["get", "--project", "p", "--name", "missing"], 3, "no closed dataset"),
        (["create", "--project", "p", "--name", "../x"], 4, ""),
        (["compare", "--source", "1" * 32, "--target", "2" * 32], 3, ""),
    ],
)
def test_bad_input_one_line_error(gd, args, code, words):
    r = gd(*args, ok=False)
    assert r.exit_code == code, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("gd: error:")
    assert words in r.stderr
    assert "Traceback" not in r.stderr


def test_add_to_closed_and_missing_path(gd, src: Path, tmp_path: Path):
    did = new_version(gd, src)
    r = gd("add", "--id", did, "--files", str(src), ok=False)
    assert r.exit_code == 4 and "closed" in r.stderr
    gd("create", "--project", "p", "--name", "other")
    r = gd("add", "--files", str(tmp_path / "nope"), ok=False)
    assert r.exit_code == 3 and "does not exist" in r.stderr


def test_target_not_empty(gd, src: Path, tmp_path: Path):
    did = new_version(gd, src)
    busy = make_tree(tmp_path / "busy", {"mine": "keep"})
    r = gd("get", "--id", did, "--copy", str(busy), ok=False)
    assert r.exit_code == 8 and "not empty" in r.stderr and "mine" in r.stderr
    assert read_tree(busy) == {"mine": b"keep"}
    r = gd("get", "--id", did, "--copy", str(busy), "--overwrite", ok=False)
    assert r.exit_code == 8 and "mine" in r.stderr  # not a tree gd made
    assert read_tree(busy) == {"mine": b"keep"}
    copy = tmp_path / "copy"
    gd("get", "--id", did, "--copy", str(copy))
    r = gd("get", "--id", did, "--copy", str(copy), ok=False)
    assert r.exit_code == 8 and "--overwrite" in r.stderr
    gd("get", "--id", did, "--copy", str(copy), "--overwrite")
    assert read_tree(copy) == read_tree(src)


def test_malformed_record_in_store(gd, src: Path, tmp_path: Path):
    store = tmp_path / "store"
    os.environ["GD_STORAGE"] = str(store)
    try:
        did = new_version(gd, src)
        rec = store / "versions" / f"{did}.yaml"
        os.chmod(rec, 0o644)
        rec.write_text("id: [unclosed\n")
        import shutil

        shutil.rmtree(
            Path(os.environ["XDG_CACHE_HOME"]) / "gitdata" / "records", ignore_errors=True
        )
        r = gd("get", "--id", did, ok=False)
        assert r.exit_code == 5 and "malformed YAML" in r.stderr
    finally:
        del os.environ["GD_STORAGE"]


def test_debug_shows_traceback(gd):
    r = gd("--debug", "get", "--id", "0" * 32, ok=False)
    assert r.exit_code != 0
    assert r.exception is not None


def test_cache_show_and_prune(gd, src: Path):
    did = new_version(gd, src)
    gd("get", "--id", did)
    info = gd("cache", "--json").json()
    assert info["bytes"] > 0 and info["blobs"] == 5  # 4 files + the manifest
    pruned = gd("cache", "prune", "--max-size", "0", "--json").json()
    assert pruned["remaining_bytes"] == 0
    assert gd("cache", "--json").json()["bytes"] == 0
    gd("get", "--id", did)  # refetched


def test_real_subprocess_help_version_and_error(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "--version"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0 and "gd (gitdata)" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "gitdata", "get", "--id", "0" * 32],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 3
    assert r.stderr.startswith("gd: error:") and "Traceback" not in r.stderr
    # --help must not import fsspec, cloud SDKs or pygit2
    code = "import sys; sys.argv=['gd','--help']\ntry:\n    from gitdata.cli.main import run; run()\nexcept SystemExit: pass\nprint(sorted(m for m in ('fsspec','s3fs','gcsfs','adlfs','pygit2') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.strip().endswith("[]"), r.stdout


def test_real_subprocess_workflow(tmp_path: Path, src: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def gd(*args):
        r = subprocess.run(
            [sys.executable, "-m", "gitdata", *args], capture_output=True, text=True, env=env
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    did = gd("create", "--project", "p", "--name", "n")
    gd("add", "--files", str(src))
    gd("close")
    path = gd("get")
    assert read_tree(Path(path)) == read_tree(src)
    assert did in gd("search")


def test_a_failing_command_takes_down_its_progress_bar(gd):
    """A bar still running when a command fails is stopped before the error line."""
    from gitdata.cli import output

    bar = output.RichProgress()
    bar.start("uploading", 100)  # as a command would, before failing
    assert bar in output._LIVE_BARS
    failed = gd("get", "--id", "0" * 32, ok=False)
    assert failed.exit_code == 3
    assert bar not in output._LIVE_BARS and bar._bar is None


def test_add_refuses_folders_whose_files_collide(gd, tmp_path: Path):
    images = make_tree(tmp_path / "images", {"a.png": "img", "x.png": "x"})
    labels = make_tree(tmp_path / "labels", {"a.png": "lab"})
    gd("create", "--project", "p", "--name", "n")
    r = gd("add", "--files", str(images), str(labels), ok=False)
    assert r.exit_code == 4
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("gd: error: 1 dataset path(s)") and "a.png" in lines[0]
    assert str(labels / "a.png") in lines[0] and "--dataset-folder" in lines[1]
    assert gd("list", "--json").json() == []  # nothing was added, not even x.png
    gd("add", "--files", str(images), "--dataset-folder", "images")
    gd("add", "--files", str(labels), "--dataset-folder", "labels")
    assert [x["path"] for x in gd("list", "--json").json()] == [
        "images/a.png",
        "images/x.png",
        "labels/a.png",
    ]


def test_close_refuses_a_file_that_is_also_a_folder(gd, tmp_path: Path):
    gd("create", "--project", "p", "--name", "clash")
    gd("add", "--files", str(make_tree(tmp_path / "one", {"a": "file"})))
    gd("add", "--files", str(make_tree(tmp_path / "two", {"a/b": "inside"})))
    r = gd("close", ok=False)
    assert r.exit_code == 4 and "'a' is a file and also the folder of 'a/b'" in r.stderr
    gd("remove", "--files", "a")
    gd("close")


def test_create_without_project_needs_a_parent(gd) -> None:
    """``create --name N`` without --project: with --parents the project is the first
    parent's (clearml-data's rule); with neither, a usage error and no draft."""
    make_tree(Path("src"), {"a.txt": "a"})
    parent = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", "src")
    gd("close")

    r = gd("create", "--name", "orphan", "--json", ok=False)
    assert r.exit_code == 2
    assert r.json()["error"]["type"] == "BadParameter"
    assert "--project" in r.json()["error"]["message"]
    assert [d["id"] for d in gd("search", "--drafts", "--json").json()] == [parent]
    assert gd("list", "--json").json()[0]["path"] == "a.txt"  # the current one is unchanged

    child = gd("create", "--name", "child", "--parents", parent, "--json").json()
    assert (child["project"], child["name"], child["parents"]) == ("p", "child", [parent])
