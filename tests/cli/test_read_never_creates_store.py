"""A read never creates a store: only close / upload / push (the destination) make one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import StoreNotFoundError
from gitdata.ops.context import Context
from tests.cli.conftest import run_gd
from tests.conftest import make_tree

ID = "0" * 32


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@pytest.mark.parametrize(
    "args",
    [
        ("get", "--id", ID),
        ("get", "--project", "p", "--name", "n"),
        ("list", "--id", ID),
        ("search",),
        ("verify", "--id", ID, "--remote"),
        ("delete", "--id", ID),
        ("gc",),
    ],
)
@pytest.mark.parametrize("how", ["--storage", "GD_STORAGE"])
def test_reading_a_missing_store_says_so_and_creates_nothing(tmp_path: Path, args, how):
    typo = tmp_path / "typo"
    work = tmp_path / "repo"  # gc needs a repository; the others do not mind one
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    if how == "GD_STORAGE":
        r = run_gd(*args, env={**env(), "GD_STORAGE": str(typo)}, cwd=work)
    elif args[0] == "gc":
        pytest.skip("gd gc works on the configured store only")
    else:
        r = run_gd(*args, "--storage", str(typo), env=env(), cwd=work)
    assert r.returncode == 3, r.stderr
    assert f"no store at {typo}" in r.stderr
    assert not typo.exists()


def test_an_existing_empty_folder_is_not_made_a_store_by_a_read(tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    r = run_gd("search", "--storage", str(folder), env=env(), cwd=tmp_path)
    assert r.returncode == 3 and "no store at" in r.stderr
    assert list(folder.iterdir()) == []


def test_api_read_raises_store_not_found(tmp_path: Path):
    typo = tmp_path / "typo"
    with pytest.raises(StoreNotFoundError, match="no store at"):
        Dataset.get(dataset_id=ID, storage=str(typo))
    with pytest.raises(StoreNotFoundError):
        Dataset.list_datasets(storage=str(typo))
    with pytest.raises(StoreNotFoundError):
        _ = Context.for_storage(str(typo)).store
    assert not typo.exists()


def test_writing_commands_still_create_the_store(tmp_path: Path):
    store = tmp_path / "new-store"
    ds = Dataset.create(dataset_project="p", dataset_name="n", output_uri=str(store))
    assert (store / "gitdata-store.yaml").is_file()  # create is a writing command
    ds.sync_folder(make_tree(tmp_path / "src", {"a": "1"}))
    ds.finalize(auto_upload=True)
    assert (store / "gitdata-store.yaml").is_file()
    assert Dataset.get(dataset_id=ds.id, storage=str(store)).id == ds.id
    copy = tmp_path / "copy-store"
    r = run_gd("push", "--id", ds.id, "--to", str(copy), env=env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (copy / "gitdata-store.yaml").is_file()


def test_get_auto_create_on_a_new_store(tmp_path: Path):
    store = tmp_path / "fresh"
    ds = Dataset.get(dataset_project="p", dataset_name="n", auto_create=True, storage=str(store))
    assert ds.name == "n" and (store / "gitdata-store.yaml").is_file()
    assert ds._ctx.settings.storage == str(store)  # drafted for the store searched


def test_the_default_store_not_made_yet_reads_as_empty(tmp_path: Path):
    default = Path(os.environ["XDG_DATA_HOME"]) / "gitdata" / "store"
    r = run_gd("search", "--json", env=env(), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr
    r = run_gd("get", "--id", ID, env=env(), cwd=tmp_path)
    assert r.returncode == 3 and "not found" in r.stderr
    assert not default.exists()


def test_one_shot_sync_into_a_new_store(tmp_path: Path):
    store = tmp_path / "fresh"
    src = make_tree(tmp_path / "src", {"a": "1"})
    r = run_gd(
        "sync",
        "--project",
        "p",
        "--name",
        "n",
        "--folder",
        str(src),
        "--storage",
        str(store),
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (store / "gitdata-store.yaml").is_file()
