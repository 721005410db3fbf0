"""set-description, rename, move and publish: append-only events in the store,
pointers that follow a rename in a real git repository, gc, delete and push."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.codec import dump_yaml
from gitdata.errors import (
    ConflictError,
    DatasetNotFoundError,
    DatasetStateError,
    InvalidInputError,
    PublishedVersionError,
)
from gitdata.ops import metadata
from gitdata.ops.context import Context
from gitdata.ops.events import UnreadableEventWarning
from gitdata.ops.gc import collect_garbage
from gitdata.ops.reader import list_records, load_record
from gitdata.ops.replicate import copy_version
from gitdata.storage import open_store, version_key
from tests.conftest import make_tree


def closed(tmp_path: Path, name: str = "cats", parents=None, content: str = "a") -> Dataset:
    src = make_tree(tmp_path / f"src-{name}-{content}", {"a.txt": content, "b/c.txt": "c"})
    ds = Dataset.create(dataset_project="vision", dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def store_keys(prefix: str) -> list[str]:
    return Context().store.list(prefix)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_set_description_is_an_event_and_the_record_bytes_never_change(tmp_path: Path):
    ds = closed(tmp_path)
    ctx = Context()
    before = ctx.store.get_bytes(version_key(ds.id))
    change = metadata.set_description(ctx, ds.id, "cleaned labels")
    assert change.event in store_keys("events/")
    assert ctx.store.get_bytes(version_key(ds.id)) == before
    record = load_record(Context(), ds.id)
    assert record.description == "cleaned labels"
    assert record.meta_history[-1]["set"] == {"description": "cleaned labels"}
    # the same text again writes nothing
    assert metadata.set_description(Context(), ds.id, "cleaned labels").unchanged
    assert len(store_keys("events/")) == 1


def test_set_description_of_a_draft_edits_it_in_place(tmp_path: Path):
    ds = Dataset.create(dataset_project="vision", dataset_name="cats")
    ds.set_description("wip")
    assert Dataset.get(ds.id).description == "wip"
    assert store_keys("events/") == []


def test_bad_descriptions_are_refused_and_change_nothing(tmp_path: Path):
    ds = closed(tmp_path)
    with pytest.raises(InvalidInputError):
        metadata.set_description(Context(), ds.id, "a\x00b")
    with pytest.raises(InvalidInputError):
        metadata.set_description(Context(), ds.id, "x" * (metadata.MAX_DESCRIPTION + 1))
    assert store_keys("events/") == []


def test_rename_every_version_and_move_the_pointer_staged(repo: Path, tmp_path: Path):
    v1 = closed(tmp_path)
    v2 = closed(tmp_path, parents=[v1.id], content="b")
    git(repo, "commit", "-qm", "cats")
    change = metadata.rename(Context(), "vision", "cats", new_name="felines")
    assert sorted(change.ids) == sorted([v1.id, v2.id])
    assert change.pointers == [".gitdata/datasets/vision/felines.yaml"]
    status = git(repo, "status", "--porcelain")
    assert (
        "R  .gitdata/datasets/vision/cats.yaml -> .gitdata/datasets/vision/felines.yaml" in status
    )
    assert (
        "project: vision\nname: felines\n"
        in (repo / ".gitdata/datasets/vision/felines.yaml").read_text()
    )
    records = list_records(Context())
    assert {(r.project, r.name) for r in records} == {("vision", "felines")}
    assert all(r.former_names == [("vision", "cats")] for r in records)
    git(repo, "commit", "-qm", "rename")
    # the pointer committed before the rename still resolves (its old name is history)
    old = Dataset.get(dataset_project="vision", dataset_name="cats", rev="HEAD~1")
    assert old.id == v2.id and old.name == "felines"
    assert Dataset.get(dataset_project="vision", dataset_name="felines").id == v2.id
    # the next version of the renamed dataset follows on from it
    v3 = Dataset.create(dataset_project="vision", dataset_name="felines")
    assert v3.version == "1.0.2"


def test_rename_keeps_the_bound_folder(repo: Path, tmp_path: Path):
    from gitdata.gitio.repo import find_repo
    from gitdata.ops.bind import load_bindings

    ds = closed(tmp_path)
    subprocess.run(
        ["python3", "-m", "gitdata", "get", "--id", ds.id, "--link", "data", "--bind"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    metadata.rename(Context(), "vision", "cats", new_name="felines")
    bindings = load_bindings(find_repo(repo))
    assert list(bindings) == ["vision/felines"] and bindings["vision/felines"].path == "data"


def test_move_to_project_and_drafts_follow(tmp_path: Path):
    ds = closed(tmp_path)
    draft = Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[ds.id])
    change = metadata.rename(Context(), "vision", "cats", new_project="zoo/animals")
    assert change.drafts == [draft.id] and change.changes == {"project": "zoo/animals"}
    assert Dataset.get(draft.id).project == "zoo/animals"
    assert load_record(Context(), ds.id).project == "zoo/animals"


def test_rename_refusals_change_nothing(repo: Path, tmp_path: Path):
    closed(tmp_path)
    closed(tmp_path, name="dogs")
    with pytest.raises(ConflictError):
        metadata.rename(Context(), "vision", "cats", new_name="dogs")
    with pytest.raises(DatasetNotFoundError):
        metadata.rename(Context(), "vision", "cows", new_name="bulls")
    with pytest.raises(InvalidInputError):
        metadata.rename(Context(), "vision", "cats", new_name="../../etc")
    assert store_keys("events/") == []
    assert (repo / ".gitdata/datasets/vision/cats.yaml").exists()
    assert metadata.rename(Context(), "vision", "cats", new_name="cats").unchanged


def test_publish_refuses_drafts_and_protects_from_delete_and_gc(repo: Path, tmp_path: Path):
    draft = Dataset.create(dataset_project="vision", dataset_name="cats")
    with pytest.raises(DatasetStateError):
        metadata.publish(Context(), draft.id)
    assert draft.publish(raise_on_error=False) is False
    Dataset.delete(draft.id)
    ds = closed(tmp_path)
    assert Dataset.get(ds.id).publish() is True
    assert Dataset.get(ds.id).is_published()
    assert metadata.publish(Context(), ds.id).unchanged
    with pytest.raises(PublishedVersionError):
        Dataset.delete(ds.id)
    # gc with no pointer reaching it (the pointer file removed) keeps a published version
    git(repo, "rm", "-qf", ".gitdata/datasets/vision/cats.yaml")
    from gitdata.gitio.repo import find_repo

    report = collect_garbage(Context(), [find_repo(repo)], grace_seconds=0)
    assert report.removed_versions == []
    assert load_record(Context(), ds.id).published
    Dataset.delete(ds.id, force=True)
    # its events go with the next gc, once no version they name is left
    assert store_keys("events/")
    assert collect_garbage(Context(), [find_repo(repo)], grace_seconds=0).removed_events == 1
    assert store_keys("events/") == []


def test_get_only_published(tmp_path: Path):
    v1 = closed(tmp_path)
    v2 = closed(tmp_path, parents=[v1.id], content="b")
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_project="vision", dataset_name="cats", only_published=True)
    Dataset.get(v1.id).publish()
    got = Dataset.get(dataset_project="vision", dataset_name="cats", only_published=True)
    assert got.id == v1.id
    assert Dataset.get(dataset_project="vision", dataset_name="cats").id == v2.id
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(v2.id, only_published=True)


def test_push_copies_the_events(tmp_path: Path):
    ds = closed(tmp_path)
    metadata.rename(Context(), "vision", "cats", new_name="felines")
    Dataset.get(ds.id).publish()
    src = Context().store
    dst = open_store(str(tmp_path / "other"))
    dst.ensure_initialized(create=True)
    report = copy_version(src, dst, ds.id, tmp_path / "tmp")
    assert report.events == 2
    other = Context.for_storage(str(tmp_path / "other"))
    record = load_record(other, ds.id)
    assert (record.name, record.published) == ("felines", True)
    assert copy_version(src, dst, ds.id, tmp_path / "tmp").events == 0  # nothing new


def put_event(key: str, body: dict) -> None:
    Context().store.put_bytes(key, dump_yaml(body).encode())


def test_unreadable_and_hostile_events_are_skipped_with_a_warning(tmp_path: Path):
    ds = closed(tmp_path)
    stamp = "20261202T073000123456Z"
    at = "2026-12-02T07:30:00.123456Z"
    put_event(f"events/{stamp}-0000000000000001.yaml", {"format": 1, "at": at})
    put_event(
        f"events/{stamp}-0000000000000002.yaml",
        {"format": 1, "at": at, "ids": [ds.id], "set": {"project": "../../../etc"}},
    )
    put_event(
        f"events/{stamp}-0000000000000003.yaml",
        {"format": 1, "at": at, "ids": [ds.id], "set": {"description": "ok"}},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = load_record(Context(), ds.id)
    assert (record.project, record.description) == ("vision", "ok")
    assert sum(issubclass(w.category, UnreadableEventWarning) for w in caught) == 2


def test_events_are_read_offline_from_the_local_copies(tmp_path: Path, monkeypatch):
    ds = closed(tmp_path)
    metadata.set_description(Context(), ds.id, "seen once")
    load_record(Context(), ds.id)  # copies the event beside the record copy
    from gitdata.errors import StorageUnavailableError
    from gitdata.storage.fsstore import FsspecStore

    def offline(self, prefix):
        raise StorageUnavailableError("store unreachable")

    monkeypatch.setattr(FsspecStore, "list", offline)
    assert load_record(Context(), ds.id).description == "seen once"


def test_an_event_for_a_version_deleted_meanwhile_is_refused(tmp_path: Path):
    ds = closed(tmp_path)
    with pytest.raises(DatasetNotFoundError):
        metadata.write_event(Context(), [ds.id, "f" * 32], {"description": "x"})
    assert store_keys("events/") == []


def test_the_spec_reader_sees_the_same_names(tmp_path: Path):
    from spec_reader import read_names

    from gitdata.config import default_store_path

    v1 = closed(tmp_path)
    v2 = closed(tmp_path, name="dogs")
    metadata.rename(Context(), "vision", "cats", new_name="felines")
    metadata.rename(Context(), "vision", "felines", new_project="zoo")
    metadata.set_description(Context(), v2.id, "good dogs")
    metadata.publish(Context(), v2.id)
    spec = read_names(Path(default_store_path()))
    for record in list_records(Context()):
        seen = spec[record.id]
        assert (seen["project"], seen["name"], seen["description"], seen["published"]) == (
            record.project,
            record.name,
            record.description,
            record.published,
        )
        assert seen["former"] == record.former_names
    assert spec[v1.id]["former"] == [("vision", "cats"), ("vision", "felines")]


def test_a_rename_stopped_before_the_pointer_moved_is_finished_by_running_it_again(
    repo: Path, tmp_path: Path, monkeypatch
):
    ds = closed(tmp_path)
    git(repo, "commit", "-qm", "cats")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(metadata, "move_pointer", killed)
        with pytest.raises(KeyboardInterrupt):
            metadata.rename(Context(), "vision", "cats", new_name="felines")
    # meanwhile the old pointer is still valid (its name is a former name)
    assert Dataset.get(dataset_project="vision", dataset_name="cats").id == ds.id
    again = metadata.rename(Context(), "vision", "cats", new_name="felines")
    assert again.pointers == [".gitdata/datasets/vision/felines.yaml"] and again.event is None
    assert again.changes == {"name": "felines"}
    assert len(store_keys("events/")) == 1
    assert not (repo / ".gitdata/datasets/vision/cats.yaml").exists()


def test_a_pointer_of_another_store_does_not_move(repo: Path, tmp_path: Path):
    closed(tmp_path)  # pinned in the repo, in the default store
    other = str(tmp_path / "other-store")
    ds = Dataset.create(dataset_project="vision", dataset_name="cats", output_uri=other)
    ds.sync_folder(make_tree(tmp_path / "o", {"z.txt": "z"}))
    ds.finalize(auto_upload=True)
    change = metadata.rename(Context.for_storage(other), "vision", "cats", new_name="felines")
    assert change.ids == [ds.id]
    # the work tree's pointer pins ds (the last close), so it moves
    assert change.pointers == [".gitdata/datasets/vision/felines.yaml"]
    first = [r for r in list_records(Context()) if r.name == "cats"]
    assert len(first) == 1  # the default store's version keeps its name
    change2 = metadata.rename(Context(), "vision", "cats", new_name="kittens")
    assert change2.ids == [first[0].id] and change2.pointers == []  # no pointer of it here
