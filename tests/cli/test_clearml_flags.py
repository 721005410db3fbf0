"""clearml-data's flags on gd: each does what clearml-data documents (docs/clearml.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_tree


def open_drafts() -> list[str]:
    drafts = Path(os.environ["XDG_STATE_HOME"]) / "gitdata" / "drafts"
    return sorted(p.stem for p in drafts.glob("*.db")) if drafts.is_dir() else []


def one_line_error(r) -> str:
    lines = [line for line in r.stderr.splitlines() if line.startswith("gd: error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def closed(gd, src: Path, project: str = "p", name: str = "n", *parents: str) -> str:
    args = ["create", "--project", project, "--name", name, "--json"]
    if parents:
        args += ["--parents", *parents]
    vid = gd(*args).json()["id"]
    gd("sync", "--folder", str(src))
    gd("close")
    return vid


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {"a.txt": "alpha", "sub/b.txt": "beta", "sub/c.json": "{}"})


# ------------------------------------------------------------------ create


def test_create_output_uri_is_the_store_of_the_version(gd, src: Path, tmp_path: Path):
    store = tmp_path / "elsewhere"
    vid = gd("create", "--project", "p", "--name", "n", "--output-uri", str(store), "--json")
    vid = vid.json()["id"]
    assert gd("show", "--id", vid, "--json").json()["store"] == str(store)
    gd("add", "--files", str(src))
    gd("close")
    assert (store / "versions").is_dir() and any((store / "versions").iterdir())
    assert gd("show", "--id", vid, "--json").json()["state"] == "closed"


def test_create_version_names_the_version(gd):
    r = gd("create", "--project", "p", "--name", "n", "--version", "3.1.4", "--json")
    assert r.json()["version"] == "3.1.4"


# ------------------------------------------------------------------- close


def test_close_disable_upload_refuses_pending_content_and_changes_nothing(gd, src: Path):
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    r = gd("close", "--disable-upload", ok=False)
    assert r.exit_code == 4
    line = one_line_error(r)
    assert "3 file(s)" in line and "not uploaded" in line and vid in line
    assert "hint:" in r.stderr and "gd upload" in r.stderr
    assert open_drafts() == [vid]
    assert gd("show", "--id", vid, "--json").json()["state"] == "draft"
    # once everything is uploaded, --disable-upload closes without uploading
    gd("upload")
    r = gd("close", "--disable-upload", "--json")
    assert r.json()["state"] == "closed" and open_drafts() == []


def test_close_disable_upload_of_an_empty_draft_closes_it(gd):
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    assert gd("close", "--disable-upload", "--json").json()["id"] == vid


# -------------------------------------------------------------------- sync


def test_sync_output_uri_is_the_store_of_the_new_version(gd, src: Path, tmp_path: Path):
    store = tmp_path / "elsewhere"
    r = gd(
        "sync", "--project", "p", "--name", "n", "--folder", str(src), "--output-uri", str(store)
    )
    vid = r.stdout.split(":")[0].strip()
    assert (store / "versions").is_dir()
    assert gd("show", "--id", vid, "--json").json()["store"] == str(store)
    assert gd("search", "--json").json() == []  # nothing in the default store


def test_sync_skip_close_draft_is_uploaded_current_and_not_resumed(gd, src: Path):
    first = gd("sync", "--project", "p", "--name", "n", "--folder", str(src), "--json").json()
    (src / "new.txt").write_text("new")
    r = gd(
        "sync",
        "--project",
        "p",
        "--name",
        "n",
        "--version",
        "7.0.0",
        "--folder",
        str(src),
        "--skip-close",
        "--json",
    ).json()
    assert r["state"] == "draft" and r["version"] == "7.0.0" and r["added"] == 1
    draft = r["id"]
    assert open_drafts() == [draft]
    info = gd("show", "--json").json()  # the current dataset is the open draft
    assert info["id"] == draft and info["state"] == "draft" and info["parents"] == [first["id"]]
    # a later one-shot sync neither resumes nor discards it: it is an ordinary draft now
    other = gd("sync", "--project", "p", "--name", "n", "--folder", str(src), "--json").json()
    assert other["id"] != draft and other["state"] == "closed"
    assert open_drafts() == [draft]
    # everything was uploaded: closing it needs no upload
    assert gd("close", "--id", draft, "--disable-upload", "--json").json()["version"] == "7.0.0"


def test_sync_chunk_size_sets_the_chunk_size_of_the_one_shot(gd, tmp_path: Path):
    big = make_tree(tmp_path / "big", {f"f{i}.bin": os.urandom(400_000) for i in range(6)})
    vid = gd("sync", "--project", "p", "--name", "n", "--folder", str(big), "--chunk-size", "1")
    vid = vid.stdout.split(":")[0].strip()
    small = gd("show", "--id", vid, "--json").json()
    # other content: the same files would be found in the store and not packed again
    other = make_tree(tmp_path / "other", {f"f{i}.bin": os.urandom(400_000) for i in range(6)})
    one = gd("sync", "--project", "p", "--name", "m", "--folder", str(other), "--chunk-size", "-1")
    one_id = one.stdout.split(":")[0].strip()
    chunks = len(set(_chunks_of(gd, vid)))
    assert chunks >= 2 and len(set(_chunks_of(gd, one_id))) == 1
    assert small["files"] == 6


def _chunks_of(gd, vid: str) -> list[str]:
    from gitdata.api import open_dataset

    return sorted(open_dataset(vid).get_manifest().chunks())


@pytest.mark.parametrize(
    "flag", [["--version", "2.0.0"], ["--tags", "t"], ["--parents", "x"], ["--chunk-size", "5"]]
)
def test_sync_id_refuses_flags_of_a_new_version(gd, src: Path, flag: list[str]):
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    r = gd("sync", "--id", vid, "--folder", str(src), *flag, ok=False)
    assert r.exit_code == 2 and flag[0] in r.stderr and "--project/--name" in r.stderr
    assert gd("list", "--id", vid, "--json").json() == []


# -------------------------------------------------------------------- list


def test_list_version_filter_and_modified(gd, src: Path):
    v1 = closed(gd, src)
    (src / "a.txt").write_text("changed")
    (src / "sub" / "d.txt").write_text("delta")
    (src / "sub" / "b.txt").unlink()
    v2 = closed(gd, src, "p", "n", v1)
    versions = {r["id"]: r["version"] for r in gd("search", "--project", "p", "--json").json()}
    old = gd("list", "--project", "p", "--name", "n", "--version", versions[v1], "--json")
    assert [f["path"] for f in old.json()] == ["a.txt", "sub/b.txt", "sub/c.json"]
    # several filters, clearml-data style: the union, sorted
    r = gd("list", "--id", v2, "--filter", "sub/c.json", "a.txt", "--json").json()
    assert [f["path"] for f in r] == ["a.txt", "sub/c.json"]
    # --modified: what this version added or modified against its parents (removed files are gone)
    r = gd("list", "--id", v2, "--modified", "--json").json()
    assert [f["path"] for f in r] == ["a.txt", "sub/d.txt"]
    r = gd("list", "--id", v2, "--modified", "--filter", "sub/*", "--json").json()
    assert [f["path"] for f in r] == ["sub/d.txt"]
    assert [f["path"] for f in gd("list", "--id", v1, "--modified", "--json").json()] == [
        "a.txt",
        "sub/b.txt",
        "sub/c.json",
    ]


def test_list_version_without_project_is_a_usage_error(gd, src: Path):
    closed(gd, src)
    r = gd("list", "--version", "1.0.0", ok=False)
    assert r.exit_code == 2 and "--version goes with --project and --name" in r.stderr


def test_list_unknown_version_is_not_found(gd, src: Path):
    closed(gd, src)
    r = gd("list", "--project", "p", "--name", "n", "--version", "9.9.9", ok=False)
    assert r.exit_code == 3
    one_line_error(r)


# ------------------------------------------------------------------ delete


def test_delete_by_project_name_version(gd, src: Path):
    v1 = closed(gd, src)
    (src / "x.txt").write_text("x")
    v2 = closed(gd, src, "p", "n", v1)
    version2 = gd("show", "--id", v2, "--json").json()["version"]
    r = gd("delete", "--project", "p", "--name", "n", "--version", version2, "--json").json()
    assert r["id"] == v2 and r["deleted"] == "version"
    assert [x["id"] for x in gd("search", "--project", "p", "--json").json()] == [v1]


def test_delete_entire_dataset_refuses_dependents_before_deleting_anything(gd, src: Path):
    v1 = closed(gd, src)
    v2 = closed(gd, src, "p", "n", v1)
    kid = closed(gd, src, "p", "kid", v2)
    draft = gd("create", "--project", "p", "--name", "n", "--parents", v2, "--json").json()["id"]
    r = gd("delete", "--project", "p", "--name", "n", "--entire-dataset", ok=False)
    assert r.exit_code == 8 and kid in one_line_error(r)
    assert {x["id"] for x in gd("search", "--project", "p", "--json").json()} == {v1, v2, kid}
    assert open_drafts() == [draft]
    r = gd("delete", "--project", "p", "--name", "n", "--entire-dataset", "--force", "--json")
    assert sorted(r.json()["deleted"]) == sorted([v1, v2])
    assert [x["id"] for x in gd("search", "--project", "p", "--json").json()] == [kid]
    assert open_drafts() == []
    # the kid keeps its data
    assert [f["path"] for f in gd("list", "--id", kid, "--json").json()] == [
        "a.txt",
        "sub/b.txt",
        "sub/c.json",
    ]


def test_delete_entire_dataset_without_dependents_needs_no_force(gd, src: Path):
    v1 = closed(gd, src)
    v2 = closed(gd, src, "p", "n", v1)
    other = closed(gd, src, "p", "other")
    r = gd("delete", "--project", "p", "--name", "n", "--entire-dataset")
    assert "deleted 2 version(s) of p/n" in r.stdout
    assert [x["id"] for x in gd("search", "--project", "p", "--json").json()] == [other]
    for gone in (v1, v2):
        assert gd("show", "--id", gone, ok=False).exit_code == 3


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_delete_entire_dataset_refuses_a_pinned_version(
    gd, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    monkeypatch.chdir(repo)
    v1 = closed(gd, src)  # writes and stages the pointer
    git(repo, "commit", "-q", "-m", "pin")
    (src / "x.txt").write_text("x")
    v2 = closed(gd, src, "p", "n", v1)
    git(repo, "commit", "-q", "-am", "pin v2")
    r = gd("delete", "--project", "p", "--name", "n", "--entire-dataset", ok=False)
    assert r.exit_code == 8 and "pinned by" in one_line_error(r)
    assert {x["id"] for x in gd("search", "--project", "p", "--json").json()} == {v1, v2}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--entire-dataset", "--id", "abc"], "(not --id)"),
        (["--entire-dataset"], "--entire-dataset needs --project and --name"),
        (["--project", "p"], "--project and --name go together"),
        ([], "give --id ID, or --project P --name N"),
    ],
)
def test_delete_usage_errors_change_nothing(gd, src: Path, args: list[str], message: str):
    vid = closed(gd, src)
    r = gd("delete", *args, ok=False)
    assert r.exit_code == 2 and message in r.stderr
    assert [x["id"] for x in gd("search", "--json").json()] == [vid]


def test_delete_entire_dataset_of_nothing_is_not_found(gd):
    r = gd("delete", "--project", "p", "--name", "none", "--entire-dataset", ok=False)
    assert r.exit_code == 3 and "no version of p/none" in one_line_error(r)


# ------------------------------------------------------------------ search


def test_search_not_only_completed_and_non_recursive_project_search(gd, src: Path):
    top = closed(gd, src, "p", "n")
    sub = closed(gd, src, "p/sub", "n")
    draft = gd("create", "--project", "p", "--name", "d", "--json").json()["id"]
    ids = [r["id"] for r in gd("search", "--project", "p", "--json").json()]
    assert ids == [top, sub]
    r = gd("search", "--project", "p", "--not-only-completed", "--json").json()
    assert {x["id"]: x["state"] for x in r} == {top: "closed", sub: "closed", draft: "draft"}
    r = gd("search", "--project", "p", "--non-recursive-project-search", "--json").json()
    assert [x["id"] for x in r] == [top]


# ----------------------------------------------------------------- verbose


def test_compare_verbose_lists_every_changed_path(gd, tmp_path: Path):
    many = make_tree(tmp_path / "many", {f"f{i:02}.txt": str(i) for i in range(30)})
    v1 = closed(gd, many)
    for i in range(25):
        (many / f"f{i:02}.txt").write_text(f"changed {i}")
    (many / "new.txt").write_text("new")
    v2 = closed(gd, many, "p", "n", v1)
    quiet = gd("compare", "--source", v1, "--target", v2, "--limit", "3").stdout
    loud = gd("compare", "--source", v1, "--target", v2, "--limit", "3", "--verbose").stdout
    assert "~ f24.txt" not in quiet
    assert loud.startswith(quiet)
    lines = loud[len(quiet) :].splitlines()
    assert lines == ["  + new.txt"] + [f"  ~ f{i:02}.txt" for i in range(25)]


def test_verify_verbose_prints_an_ok_line_per_matching_file(gd, src: Path, tmp_path: Path):
    vid = closed(gd, src)
    folder = tmp_path / "copy"
    gd("get", "--id", vid, "--copy", str(folder), "--verbose")
    (folder / "a.txt").write_text("alphx")  # same size, other content
    r = gd("verify", "--id", vid, "--folder", str(folder), "--verbose", ok=False)
    assert r.exit_code == 9
    assert "ok: sub/b.txt" in r.stdout and "ok: sub/c.json" in r.stdout
    assert "ok: a.txt" not in r.stdout and "content differs: a.txt" in r.stderr


def test_squash_verbose_lists_the_files_of_the_new_version(gd, src: Path):
    v1 = closed(gd, src)
    (src / "sub" / "b.txt").unlink()
    (src / "z.txt").write_text("z")
    v2 = closed(gd, src, "p", "n", v1)
    r = gd("squash", "--name", "flat", "--ids", v1, v2, "--verbose")
    assert [line for line in r.stdout.splitlines() if line.startswith("  + ")] == [
        "  + a.txt",
        "  + sub/c.json",
        "  + z.txt",
    ]
    assert "  + " not in gd("squash", "--name", "flat2", "--ids", v1, v2).stdout


def test_verbose_is_accepted_by_the_building_commands(gd, src: Path, tmp_path: Path):
    vid = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    assert "3 file(s) added" in gd("add", "--files", str(src), "--verbose").stdout
    assert "1 file(s) removed" in gd("remove", "--files", "a.txt", "--verbose").stdout
    assert "1 added" in gd("sync", "--folder", str(src), "--verbose").stdout
    assert "uploaded" in gd("upload", "--verbose").stdout
    assert "closed p/n" in gd("close", "--verbose").stdout
    path = gd("get", "--id", vid, "--verbose").stdout.strip()
    assert sorted(p.name for p in Path(path).iterdir()) == ["a.txt", "sub"]


def test_add_max_workers_is_accepted_with_a_warning(gd, src: Path):
    gd("create", "--project", "p", "--name", "n")
    r = gd("add", "--files", str(src), "--max-workers", "8")
    assert "3 file(s) added" in r.stdout
    assert "gd: warning:" in r.stderr and "max_workers" in r.stderr
