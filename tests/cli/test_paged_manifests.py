"""Paged manifests in a real store: close, child deltas, get, cat, verify, gc, delete,
push, and the independent reader of docs/format.md (tests/spec_reader.py)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from spec_reader import read_store

from gitdata import Dataset
from gitdata.errors import IntegrityError
from gitdata.ops import reader
from gitdata.ops.context import Context
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree

pytestmark = pytest.mark.usefixtures("small_pages")


def files(n: int, tag: str = "") -> dict[str, str]:
    return {f"d{i // 10}/f{i:03d}.txt": f"file {i}{tag}\n" for i in range(n)}


def store_path() -> Path:
    return Path(Context().settings.storage)


def doc(sha: str) -> dict:
    return json.loads(gzip.decompress((store_path() / "objects" / sha[:2] / sha).read_bytes()))


@pytest.fixture
def family(tmp_path: Path) -> tuple[Dataset, Dataset, dict[str, str]]:
    """A paged parent of 100 files and a child with 3 changes (a delta)."""
    src = make_tree(tmp_path / "src", files(100))
    parent = Dataset.create(dataset_project="p", dataset_name="n")
    parent.add_files(src)
    parent.finalize(auto_upload=True)
    (src / "d0/f001.txt").write_text("changed\n")
    (src / "d5/f050.txt").unlink()
    (src / "d9/new.txt").write_text("new\n")
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    return parent, child, {p: (src / p).read_text() for p in read_tree(src)}


def test_a_child_shares_its_parents_pages(family):
    parent, child, expected = family
    proot, croot = doc(parent.record.manifest), doc(child.record.manifest)
    assert proot["kind"] == "root" and len(proot["pages"]) >= 8
    assert croot["pages"] == proot["pages"]
    assert croot["delta"] == {"page": croot["delta"]["page"], "files": 2, "removed": 1}
    Context().cache.clear()
    got = read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))
    assert {p: b.decode() for p, b in got.items()} == expected
    assert len(read_tree(Path(Dataset.get(dataset_id=parent.id).get_local_copy()))) == 100


def test_the_spec_reader_reads_paged_versions(family):
    parent, child, expected = family
    got = read_store(store_path())
    assert {p: b.decode() for p, b in got[child.id].items()} == expected
    assert len(got[parent.id]) == 100


def test_cat_reads_the_root_and_one_page(family, gd, monkeypatch):
    _, child, _ = family
    Context().cache.clear()
    monkeypatch.setattr(reader, "_MANIFESTS", {})  # nothing decoded in this process yet
    fetched: list[str] = []
    real = FsspecStore.get_bytes

    def spy(self, key: str, *a, **k):
        fetched.append(key)
        return real(self, key, *a, **k)

    monkeypatch.setattr(FsspecStore, "get_bytes", spy)
    assert gd("cat", "--id", child.id, "d7/f077.txt").stdout == "file 77\n"
    objects = [k for k in fetched if k.startswith("objects/")]
    manifest_objects = {child.record.manifest, *doc(child.record.manifest)["delta"].values()}
    pages_read = [k for k in objects if k.rsplit("/", 1)[-1] not in manifest_objects]
    # the root, the delta, one page, and the chunk member (a ranged read, not counted)
    assert len(pages_read) == 1, objects


def test_verify_remote_names_a_missing_page(family, gd):
    _, child, _ = family
    page = doc(child.record.manifest)["pages"][3]["page"]
    assert gd("verify", "--remote", "--id", child.id).exit_code == 0
    (store_path() / "objects" / page[:2] / page).unlink()
    r = gd("verify", "--remote", "--id", child.id, ok=False)
    assert r.exit_code != 0 and page in r.stdout + r.stderr


def test_deleting_the_parent_keeps_the_pages_its_child_reaches(family, gd):
    parent, child, expected = family
    gd("delete", "--id", parent.id, "--force")
    for ref in doc(child.record.manifest)["pages"]:
        assert (store_path() / "objects" / ref["page"][:2] / ref["page"]).exists()
    Context().cache.clear()
    got = read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))
    assert {p: b.decode() for p, b in got.items()} == expected


def test_gc_keeps_pages_and_removes_orphan_ones(family, gd, tmp_path: Path, monkeypatch):
    parent, child, _ = family
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    orphan = store_path() / "objects" / "ab" / ("ab" * 32)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"not reached")
    for obj in (store_path() / "objects").rglob("*"):  # all older than the grace period,
        if obj.is_file():  # so only reachability keeps them; the versions are recent
            os.utime(obj, (0, 0))
    gd("gc", "--yes")
    assert not orphan.exists()
    assert gd("verify", "--remote", "--deep", "--id", child.id).exit_code == 0
    assert gd("verify", "--remote", "--deep", "--id", parent.id).exit_code == 0


def test_push_copies_pages_and_delta(family, gd, tmp_path: Path):
    _, child, expected = family
    other = tmp_path / "other"
    gd("push", "--id", child.id, "--to", str(other))
    Context().cache.clear()
    got = Dataset.get(dataset_id=child.id, storage=str(other))
    assert {p: b.decode() for p, b in read_tree(Path(got.get_local_copy())).items()} == expected
    assert got.list_files() == sorted(expected)


def test_a_big_change_pages_the_child_afresh(tmp_path: Path):
    src = make_tree(tmp_path / "src", files(100))
    parent = Dataset.create(dataset_project="p", dataset_name="n")
    parent.add_files(src)
    parent.finalize(auto_upload=True)
    make_tree(src, {f"d3/f{i:03d}.txt": "changed\n" for i in range(30, 40)})
    make_tree(src, {"d3/extra.txt": "x"})
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    proot, croot = doc(parent.record.manifest), doc(child.record.manifest)
    assert "delta" not in croot
    shared = {p["page"] for p in proot["pages"]} & {p["page"] for p in croot["pages"]}
    assert len(shared) >= len(proot["pages"]) // 2  # tiny pages: see tests/core/test_pages.py
    assert len(Dataset.get(dataset_id=child.id).list_files()) == 101


def test_a_child_of_a_parent_with_a_lost_page_is_not_closed(tmp_path: Path):
    src = make_tree(tmp_path / "src", files(100))
    parent = Dataset.create(dataset_project="p", dataset_name="n")
    parent.add_files(src)
    parent.finalize(auto_upload=True)
    (src / "d1/f011.txt").write_text("changed\n")
    child = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[parent.id])
    child.sync_folder(src)
    lost = doc(parent.record.manifest)["pages"][4]["page"]
    (store_path() / "objects" / lost[:2] / lost).unlink()
    with pytest.raises(IntegrityError, match="shares with its parent are missing"):
        child.finalize(auto_upload=True)
    assert not (store_path() / "versions" / f"{child.id}.yaml").exists()
    assert Dataset.get(dataset_id=child.id).is_final() is False  # still a draft


def test_compare_and_show_of_a_paged_child(family, gd):
    parent, child, _ = family
    got = gd("compare", "--source", parent.id, "--target", child.id, "--json").json()
    assert (got["added"], got["modified"], got["removed"]) == (
        ["d9/new.txt"],
        ["d0/f001.txt"],
        ["d5/f050.txt"],
    )
    shown = gd("show", "--id", child.id, "--json").json()
    assert (shown["added"], shown["modified"], shown["removed"]) == (
        ["d9/new.txt"],
        ["d0/f001.txt"],
        ["d5/f050.txt"],
    )


def test_the_web_ui_pages_and_compares_paged_versions(family):
    from gitdata.ui.catalog import Catalog

    parent, child, expected = family
    cat = Catalog(str(store_path()))
    first, third = (
        cat.files(child.id, page=1, per_page=40),
        cat.files(child.id, page=3, per_page=40),
    )
    every = sorted(expected, key=str.encode)
    assert first.total == len(every) and first.pages == 3
    assert [e.path for e in first.entries] == every[:40]
    assert [e.path for e in third.entries] == every[80:]
    summary = cat.compare(parent.id, child.id).summary
    assert summary.paths()["added"] == ["d9/new.txt"]
    assert summary.paths()["removed"] == ["d5/f050.txt"]
