"""The ClearML-shaped Python API, end to end on a local store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import (
    DatasetNotFoundError,
    DatasetStateError,
    HasDependentsError,
    IntegrityError,
    LocalPathNotFoundError,
    TargetNotEmptyError,
    UnsafePathError,
)
from gitdata.ops import scan
from gitdata.ops.context import Context
from tests.conftest import make_tree, read_tree

FILES = {
    "images/a.jpg": b"A" * 1000,
    "images/b.jpg": b"B" * 2000,
    "labels/a.txt": "cat",
    "labels/b.txt": "dog",
    "README": "sample",
}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", FILES)


def closed(src: Path, **kw) -> Dataset:
    ds = Dataset.create(
        dataset_project=kw.pop("project", "proj"), dataset_name=kw.pop("name", "ds"), **kw
    )
    ds.add_files(src)
    ds.upload()
    assert ds.finalize()
    return ds


def store_objects() -> list[str]:
    return Context().store.list("objects/")


def test_create_add_close_get_round_trip(src: Path):
    ds = closed(src)
    assert ds.is_final()
    assert ds.version == "1.0.0"
    got = Dataset.get(dataset_id=ds.id)
    path = Path(got.get_local_copy())
    assert read_tree(path) == {k: v.encode() if isinstance(v, str) else v for k, v in FILES.items()}
    # the cached copy is read-only
    mode = os.stat(path / "README").st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert got.list_files() == sorted(FILES)
    assert got.verify_dataset_hash() == []


def test_get_by_project_and_name_latest_and_version(src: Path):
    v1 = closed(src)
    (src / "new.txt").write_text("new")
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[v1.id])
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert child.version == "1.0.1"
    assert Dataset.get(dataset_project="proj", dataset_name="ds").id == child.id
    assert (
        Dataset.get(dataset_project="proj", dataset_name="ds", dataset_version="1.0.0").id == v1.id
    )
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_project="proj", dataset_name="nope")


def test_child_by_sync_detects_changes_and_uploads_only_new_content(src: Path, tmp_path: Path):
    v1 = closed(src)
    before = set(store_objects())
    (src / "labels/a.txt").write_text("tiger")  # modified
    (src / "README").unlink()  # removed
    os.rename(src / "images/b.jpg", src / "images/c.jpg")  # renamed: no new content
    (src / "extra.bin").write_bytes(b"\x00" * 10)  # added
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[v1.id])
    removed, added, modified = child.sync_folder(src)
    assert (removed, added, modified) == (2, 2, 1)
    child.upload()
    child.finalize()
    assert child.list_added_files() == ["extra.bin", "images/c.jpg"]
    assert child.list_modified_files() == ["labels/a.txt"]
    assert child.list_removed_files() == ["README", "images/b.jpg"]
    new_objects = set(store_objects()) - before
    # one new chunk (tiger + zeros) and one manifest: the renamed image was not re-uploaded
    assert len(new_objects) == 2
    assert child.get_dependency_graph() == {child.id: [v1.id], v1.id: []}
    assert read_tree(Path(child.get_local_copy()))["images/c.jpg"] == b"B" * 2000


def test_rename_only_version_uploads_nothing_but_manifest(src: Path):
    v1 = closed(src)
    before = set(store_objects())
    os.rename(src / "images", src / "pictures")
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[v1.id])
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert len(set(store_objects()) - before) == 1  # the manifest only


def test_multi_parent_merge_later_parent_wins(tmp_path: Path):
    a = make_tree(tmp_path / "a", {"shared.txt": "from a", "only_a": "a"})
    b = make_tree(tmp_path / "b", {"shared.txt": "from b", "only_b": "b"})
    pa, pb = closed(a, name="a"), closed(b, name="b")
    merged = Dataset.create(
        dataset_project="proj", dataset_name="m", parent_datasets=[pa.id, pb.id]
    )
    merged.finalize(auto_upload=True)
    tree = read_tree(Path(merged.get_local_copy()))
    assert tree == {"shared.txt": b"from b", "only_a": b"a", "only_b": b"b"}
    flipped = Dataset.create(
        dataset_project="proj", dataset_name="m2", parent_datasets=[pb.id, pa.id]
    )
    flipped.finalize(auto_upload=True)
    assert read_tree(Path(flipped.get_local_copy()))["shared.txt"] == b"from a"


def test_add_options_wildcard_dataset_path_non_recursive(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    assert ds.add_files(src, wildcard="*.jpg", dataset_path="train") == 2
    assert ds.list_files() == ["train/images/a.jpg", "train/images/b.jpg"]
    assert ds.add_files(src, recursive=False, dataset_path="top") == 1
    assert "top/README" in ds.list_files()
    assert ds.add_files(src / "README") == 1
    assert "README" in ds.list_files()


def test_remove_files_by_path_and_wildcard(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    assert ds.remove_files("*.txt") == 2
    assert ds.remove_files("images") == 2
    assert ds.list_files() == ["README"]


def test_parts_partition_the_version(tmp_path: Path):
    src = make_tree(
        tmp_path / "many", {f"d{i % 3}/f{i}.bin": os.urandom(100 + i) for i in range(30)}
    )
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    ds.upload(chunk_size=0.001)  # ~1 KB chunks: many chunks
    ds.finalize()
    seen: dict[str, bytes] = {}
    for i in range(3):
        part = read_tree(Path(ds.get_local_copy(part=i, num_parts=3)))
        assert part, f"part {i} is empty"
        assert not set(part) & set(seen)
        seen.update(part)
    assert seen == read_tree(src)


def test_mutable_copy_is_writable_and_independent(src: Path, tmp_path: Path):
    ds = closed(src)
    target = Path(ds.get_mutable_local_copy(tmp_path / "copy"))
    (target / "README").write_text("changed")
    assert read_tree(Path(ds.get_local_copy()))["README"] == b"sample"
    assert ds.verify_dataset_hash(target) == ["README"]
    assert ds.verify_dataset_hash(target, skip_hash=True) == ["README"]  # size differs too


def test_target_not_empty_needs_overwrite(src: Path, tmp_path: Path):
    ds = closed(src)
    target = make_tree(tmp_path / "busy", {"keep.txt": "mine"})
    with pytest.raises(TargetNotEmptyError):
        ds.get_mutable_local_copy(target)
    assert read_tree(target) == {"keep.txt": b"mine"}  # nothing changed
    with pytest.raises(TargetNotEmptyError, match="keep.txt"):  # not gd's: never replaced
        ds.get_mutable_local_copy(target, overwrite=True)
    assert read_tree(target) == {"keep.txt": b"mine"}
    copy = Path(ds.get_mutable_local_copy(tmp_path / "copy"))
    with pytest.raises(TargetNotEmptyError):
        ds.get_mutable_local_copy(copy)
    (copy / "README").write_text("edited")
    ds.get_mutable_local_copy(copy, overwrite=True)  # a copy gd made: replaced
    assert ds.verify_dataset_hash(copy) == []


def test_closed_version_is_immutable(src: Path):
    ds = closed(src)
    with pytest.raises(DatasetStateError):
        ds.add_files(src)
    with pytest.raises(DatasetStateError):
        ds.remove_files("README")
    with pytest.raises(PermissionError):  # builtin parent too
        ds.sync_folder(src)
    assert Dataset.get(dataset_id=ds.id).list_files() == sorted(FILES)


def test_unknown_id_and_missing_path(src: Path):
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_id="0" * 32)
    with pytest.raises(LookupError):
        Dataset.get(dataset_id="f" * 32)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(LocalPathNotFoundError):
        ds.add_files(src / "does-not-exist")
    assert ds.list_files() == []


def test_unsafe_dataset_path_refused(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(UnsafePathError):
        ds.add_files(src, dataset_path="../outside")
    with pytest.raises(UnsafePathError):
        Dataset.create(dataset_project="p", dataset_name="../evil")


def test_file_changed_after_add_is_refused_at_upload(src: Path, monkeypatch):
    # read in blocks (as a file over 16 MiB is): the add keeps no copy of its bytes
    monkeypatch.setattr(scan, "WHOLE_READ", 0)
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    (src / "README").write_text("sneaky change!")
    with pytest.raises(Exception) as info:
        ds.upload()
    assert "changed after it was added" in str(info.value)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    assert read_tree(Path(ds.get_local_copy()))["README"] == b"sneaky change!"


def test_a_small_file_changed_after_add_is_stored_as_it_was_added(src: Path):
    """The add packed the bytes it hashed (ops/spool.py): the version holds them,
    as git's index holds what was added."""
    before = (src / "README").read_bytes()
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    (src / "README").write_text("changed after the add")
    (src / "images" / "a.jpg").unlink()
    ds.finalize(auto_upload=True)
    files = read_tree(Path(ds.get_local_copy()))
    assert files["README"] == before and files["images/a.jpg"] == FILES["images/a.jpg"]


def test_corrupt_chunk_in_store_detected_and_nothing_cached(src: Path, tmp_path: Path):
    from gitdata.ops.reader import load_manifest

    ds = closed(src)
    ctx = Context()
    entry = load_manifest(ctx, ds.record.manifest).get("images/b.jpg")
    chunk = Path(ctx.settings.storage) / f"objects/{entry.chunk[:2]}/{entry.chunk}"
    os.chmod(chunk, 0o644)
    data = bytearray(chunk.read_bytes())
    data[entry.offset + 10] ^= 0xFF
    chunk.write_bytes(bytes(data))
    ctx.cache.clear()
    with pytest.raises(IntegrityError):
        Dataset.get(dataset_id=ds.id).get_mutable_local_copy(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not ctx.cache.has_blob(entry.sha256)
    with pytest.raises(IntegrityError):
        Dataset.get(dataset_id=ds.id).get_local_copy()
    assert not ctx.cache.has_copy(ds.id)


def test_corrupt_cache_blob_detected_on_copy(src: Path, tmp_path: Path):
    ds = closed(src)
    ds.get_local_copy()
    ctx = Context()
    sha = next(
        e
        for e in __import__("gitdata.ops.reader", fromlist=["x"]).load_manifest(
            ctx, ds.record.manifest
        )
        if e.path == "README"
    ).sha256
    blob = ctx.cache.blob_path(sha)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"xxxxxx")  # same size, wrong content
    out = Path(ds.get_mutable_local_copy(tmp_path / "fresh"))
    assert (out / "README").read_bytes() == b"sample"


def test_squash_flattens_without_copying(tmp_path: Path):
    a = closed(make_tree(tmp_path / "a", {"x": "1", "y": "a"}), name="a")
    b = closed(make_tree(tmp_path / "b", {"y": "b", "z": "3"}), name="b")
    before = set(store_objects())
    sq = Dataset.squash("flat", dataset_ids=[a.id, b.id])
    assert sq.parents == []
    assert read_tree(Path(sq.get_local_copy())) == {"x": b"1", "y": b"b", "z": b"3"}
    assert len(set(store_objects()) - before) == 1  # one manifest


def test_delete_refuses_with_dependents_unless_forced(src: Path):
    parent = closed(src)
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[parent.id])
    (src / "more").write_text("more")
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    with pytest.raises(HasDependentsError) as info:
        Dataset.delete(dataset_id=parent.id)
    assert child.id in str(info.value)
    assert Dataset.get(dataset_id=parent.id).is_final()
    Dataset.delete(dataset_id=parent.id, force=True)
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_id=parent.id)
    Context().cache.clear()
    # the child's data survives the forced delete of its parent
    assert read_tree(Path(Dataset.get(dataset_id=child.id).get_local_copy()))["more"] == b"more"


def test_delete_removes_unshared_objects(src: Path):
    ds = closed(src)
    assert store_objects()
    Dataset.delete(dataset_id=ds.id)
    assert store_objects() == []


def test_list_datasets_filters(src: Path):
    a = closed(src, project="vision/cats", name="train", dataset_tags=["raw"])
    closed(src, project="audio", name="speech")
    rows = Dataset.list_datasets(dataset_project="vision")
    assert [r["id"] for r in rows] == [a.id]
    assert Dataset.list_datasets(tags=["raw"])[0]["name"] == "train"
    assert Dataset.list_datasets(partial_name="spe")[0]["project"] == "audio"
    assert Dataset.list_datasets(ids=[a.id])[0]["id"] == a.id
    draft = Dataset.create(dataset_project="audio", dataset_name="speech")
    assert draft.id not in [r["id"] for r in Dataset.list_datasets()]
    assert draft.id in [r["id"] for r in Dataset.list_datasets(only_completed=False)]


def test_draft_persists_between_processes(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    ds.add_files(src)
    again = Dataset.get(dataset_id=ds.id)
    assert not again.is_final()
    assert again.list_files() == sorted(FILES)


def test_metadata_and_tags(src: Path):
    ds = Dataset.create(dataset_project="p", dataset_name="n", dataset_tags=["a"])
    ds.set_metadata({"classes": 2})
    ds.tags = ["a", "b"]
    ds.add_files(src)
    ds.finalize(auto_upload=True)
    got = Dataset.get(dataset_id=ds.id)
    assert got.get_metadata() == {"classes": 2}
    assert got.tags == ["a", "b"]


def test_duplicate_version_refused(src: Path):
    closed(src, dataset_version="2.0.0")
    with pytest.raises(ValueError):
        Dataset.create(dataset_project="proj", dataset_name="ds", dataset_version="2.0.0")
    assert Dataset.create(dataset_project="proj", dataset_name="ds").version == "2.0.1"


def test_get_local_copy_of_draft_refused():
    ds = Dataset.create(dataset_project="p", dataset_name="n")
    with pytest.raises(DatasetStateError):
        ds.get_local_copy()


def test_diamond_lineage(tmp_path: Path):
    a = closed(make_tree(tmp_path / "a", {"base": "a", "x": "a"}), name="d")
    b = Dataset.create(dataset_project="proj", dataset_name="d", parent_datasets=[a.id])
    b.sync_folder(make_tree(tmp_path / "b", {"base": "a", "x": "b", "only_b": "b"}))
    b.finalize(auto_upload=True)
    c = Dataset.create(dataset_project="proj", dataset_name="d", parent_datasets=[a.id])
    c.sync_folder(make_tree(tmp_path / "c", {"base": "a", "x": "c", "only_c": "c"}))
    c.finalize(auto_upload=True)
    d = Dataset.create(dataset_project="proj", dataset_name="d", parent_datasets=[b.id, c.id])
    d.finalize(auto_upload=True)
    assert read_tree(Path(d.get_local_copy())) == {
        "base": b"a",
        "x": b"c",
        "only_b": b"b",
        "only_c": b"c",
    }
    assert d.get_dependency_graph() == {d.id: [b.id, c.id], b.id: [a.id], c.id: [a.id], a.id: []}
    assert d.list_added_files() == [] and d.list_modified_files() == []


def test_hostile_manifest_cannot_write_outside_target(src: Path, tmp_path: Path):
    """A store holding a manifest with '../' paths is refused before anything is written."""
    import gzip
    import hashlib
    import json

    from gitdata.codec import dump_yaml, load_yaml_mapping

    ds = closed(src)
    ctx = Context()
    store = Path(ctx.settings.storage)
    m = ds.record.manifest
    doc = json.loads(gzip.decompress((store / f"objects/{m[:2]}/{m}").read_bytes()))
    doc["files"][0]["path"] = "../../escaped.txt"
    doc["files"].sort(key=lambda e: e["path"].encode())
    evil = gzip.compress(json.dumps(doc).encode(), mtime=0)
    evil_sha = hashlib.sha256(evil).hexdigest()
    (store / f"objects/{evil_sha[:2]}").mkdir(exist_ok=True)
    (store / f"objects/{evil_sha[:2]}/{evil_sha}").write_bytes(evil)
    rec_path = store / f"versions/{ds.id}.yaml"
    rec = load_yaml_mapping(rec_path.read_bytes(), "r")
    rec["manifest"] = evil_sha
    rec_path.chmod(0o644)
    rec_path.write_text(dump_yaml(rec))
    ctx.cache.clear()
    import shutil

    shutil.rmtree(ctx.records_dir, ignore_errors=True)
    from gitdata.ops import reader

    reader._MANIFESTS.clear()
    target = tmp_path / "deep" / "target"
    with pytest.raises(UnsafePathError):
        Dataset.get(dataset_id=ds.id).get_mutable_local_copy(target)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "deep" / "escaped.txt").exists()
    assert not target.exists()
