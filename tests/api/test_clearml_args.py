"""Every argument of the ClearML-shaped API does what ClearML documents, or says it cannot.

``ARGS`` lists each parameter of each public ``Dataset`` method as implemented,
or the value at which it warns (no effect in gitdata) or raises (unsupported).
A new parameter that is not in the table fails ``test_every_parameter_is_in_the_table``.
docs/api.md, "ClearML arguments gitdata does not use", is the same table.
"""

from __future__ import annotations

import inspect
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gitdata import Dataset
from gitdata.errors import (
    DatasetNotFoundError,
    GitDataError,
    HasDependentsError,
    InvalidInputError,
    UnsupportedArgumentError,
)
from gitdata.ops import reader
from gitdata.ops.context import Context
from tests.conftest import make_tree

FILES = {"a.txt": "alpha", "sub/b.txt": "beta", "sub/c.bin": b"C" * 3000}

IMPL = "implemented"


def warns(value: Any) -> tuple[str, Any]:
    return ("warns", value)


def raises(value: Any) -> tuple[str, Any]:
    return ("raises", value)


# method -> parameter -> IMPL, warns(value) or raises(value)
ARGS: dict[str, dict[str, Any]] = {
    "create": {
        "dataset_name": IMPL,
        "dataset_project": IMPL,
        "dataset_tags": IMPL,
        "parent_datasets": IMPL,
        "use_current_task": warns(True),
        "dataset_version": IMPL,
        "output_uri": IMPL,
        "description": IMPL,
    },
    "add_files": {
        "path": IMPL,
        "wildcard": IMPL,
        "local_base_folder": IMPL,
        "dataset_path": IMPL,
        "recursive": IMPL,
        "verbose": warns(True),
        "max_workers": warns(4),
    },
    "add_external_files": {
        "source_url": IMPL,
        "wildcard": IMPL,
        "dataset_path": IMPL,
        "recursive": IMPL,
        "verbose": warns(True),
        "max_workers": IMPL,
    },
    "get_num_chunks": {"include_parents": IMPL},
    "remove_files": {"dataset_path": IMPL, "recursive": IMPL, "verbose": warns(True)},
    "sync_folder": {"local_path": IMPL, "dataset_path": IMPL, "verbose": warns(True)},
    "upload": {
        "show_progress": IMPL,
        "verbose": warns(True),
        "output_url": IMPL,
        "compression": IMPL,
        "chunk_size": IMPL,
        "max_workers": IMPL,
        "retries": IMPL,
    },
    "finalize": {"verbose": warns(True), "raise_on_error": IMPL, "auto_upload": IMPL},
    "publish": {"raise_on_error": IMPL},
    "is_published": {},
    "set_description": {"description": IMPL},
    "rename": {
        "new_dataset_name": IMPL,
        "dataset_project": IMPL,
        "dataset_name": IMPL,
        "storage": IMPL,
    },
    "move_to_project": {
        "new_dataset_project": IMPL,
        "dataset_project": IMPL,
        "dataset_name": IMPL,
        "storage": IMPL,
    },
    "set_metadata": {"metadata": IMPL, "metadata_name": IMPL, "ui_visible": warns(False)},
    "get_metadata": {"metadata_name": IMPL},
    "get": {
        "dataset_id": IMPL,
        "dataset_project": IMPL,
        "dataset_name": IMPL,
        "dataset_tags": IMPL,
        "only_completed": IMPL,
        "only_published": IMPL,
        "include_archived": warns(True),
        "auto_create": IMPL,
        "writable_copy": IMPL,
        "dataset_version": IMPL,
        "alias": warns("train_data"),
        "overridable": warns(True),
        "shallow_search": warns(True),
        "silence_alias_warnings": IMPL,
        "rev": IMPL,
        "storage": IMPL,
        "repo": IMPL,
        # unknown names raise (ValueError, as in ClearML); "_"-prefixed ones warn
        "kwargs": raises({"no_such_argument": 1}),
    },
    "get_local_copy": {
        "use_soft_links": warns(True),
        "part": IMPL,
        "num_parts": IMPL,
        "raise_on_error": warns(False),
        "max_workers": IMPL,
        "dataset_path": IMPL,
        "only_added": IMPL,
    },
    "get_mutable_local_copy": {
        "target_folder": IMPL,
        "overwrite": IMPL,
        "part": IMPL,
        "num_parts": IMPL,
        "raise_on_error": IMPL,
        "max_workers": IMPL,
        "dataset_path": IMPL,
        "only_added": IMPL,
    },
    "get_linked_copy": {
        "target_folder": IMPL,
        "overwrite": IMPL,
        "part": IMPL,
        "num_parts": IMPL,
        "max_workers": IMPL,
        "dataset_path": IMPL,
        "only_added": IMPL,
    },
    "list_files": {"dataset_path": IMPL, "recursive": IMPL, "dataset_id": IMPL},
    "file_entries": {"dataset_path": IMPL},
    "iter_file_entries": {"patterns": IMPL, "recursive": IMPL, "dataset_id": IMPL},
    "iter_file_batches": {"patterns": IMPL, "recursive": IMPL, "dataset_id": IMPL, "prefix": IMPL},
    "list_added_files": {"dataset_id": IMPL},
    "list_modified_files": {"dataset_id": IMPL},
    "list_removed_files": {"dataset_id": IMPL},
    "merged_changes": {},
    "compare_to": {"older": IMPL},
    "change_set": {},
    "change_summary": {},
    "compare_summary": {"older": IMPL},
    "get_manifest": {},
    "make_current": {},
    "read_bytes": {"path": IMPL},
    "open": {"path": IMPL, "mode": IMPL, "encoding": IMPL},
    "file_info": {"path": IMPL},
    "get_dependency_graph": {},
    "verify_dataset_hash": {"local_copy_path": IMPL, "skip_hash": IMPL, "verbose": warns(True)},
    "verify": {"folder": IMPL, "size_only": IMPL, "raise_on_error": IMPL},
    "squash": {
        "dataset_name": IMPL,
        "dataset_ids": IMPL,
        "dataset_project_name_pairs": IMPL,
        "output_url": IMPL,
        "dataset_project": IMPL,
        "progress": IMPL,
    },
    "list_datasets": {
        "dataset_project": IMPL,
        "partial_name": IMPL,
        "tags": IMPL,
        "ids": IMPL,
        "only_completed": IMPL,
        "recursive_project_search": IMPL,
        "include_archived": warns(False),
        "storage": IMPL,
    },
    "delete": {
        "dataset_id": IMPL,
        "dataset_project": IMPL,
        "dataset_name": IMPL,
        "force": IMPL,
        "dataset_version": IMPL,
        "entire_dataset": IMPL,
        "shallow_search": warns(True),
        "delete_files": IMPL,
        "delete_external_files": raises(True),
        "storage": IMPL,
        "progress": IMPL,
    },
    "is_final": {},
    "is_dirty": {},
    "closed_on_this_machine": {},
    "require_uploaded": {"action": IMPL},
}


def public_methods() -> dict[str, inspect.Signature]:
    out = {}
    for name, member in vars(Dataset).items():
        if name.startswith("_") or isinstance(member, property):
            continue
        func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if callable(func):
            out[name] = inspect.signature(func)
    return out


def test_every_parameter_is_in_the_table():
    methods = public_methods()
    assert set(methods) == set(ARGS), "add the new method's parameters to ARGS (and docs/api.md)"
    for name, sig in methods.items():
        params = [p for p in sig.parameters if p not in ("self", "cls")]
        assert set(params) == set(ARGS[name]), f"Dataset.{name}: update ARGS and docs/api.md"


def test_the_docs_list_every_argument_that_warns_or_raises():
    doc = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    section = doc.split("## ClearML arguments gitdata does not use", 1)[1].split("\n## ", 1)[0]
    for method, params in ARGS.items():
        for param, how in params.items():
            if how != IMPL and param != "kwargs":
                assert f"`{method}({param}" in section, f"docs/api.md: {method}({param}=...)"


# ------------------------------------------------------------- calling a method


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", FILES)


def closed(src: Path, project: str = "proj", name: str = "ds", **kw: Any) -> Dataset:
    ds = Dataset.create(dataset_project=project, dataset_name=name, **kw)
    ds.add_files(src)
    ds.upload()
    assert ds.finalize()
    return ds


def objects() -> set[str]:
    return set(Context().store.list("objects/"))


def call_for(method: str, src: Path, tmp: Path) -> tuple[Any, dict[str, Any]]:
    """A bound method ready to call, and the arguments it needs besides the tested one."""
    if method in ("create", "get", "list_datasets", "delete"):
        version = closed(src)
        base = {
            "create": {"dataset_project": "proj", "dataset_name": "new"},
            "get": {"dataset_id": version.id},
            "list_datasets": {},
            "delete": {"dataset_id": version.id},
        }[method]
        return getattr(Dataset, method), base
    if method in ("get_local_copy", "get_mutable_local_copy", "verify_dataset_hash"):
        version = closed(src)
        base = {"target_folder": tmp / "copy"} if method == "get_mutable_local_copy" else {}
        return getattr(version, method), base
    draft = Dataset.create(dataset_project="proj", dataset_name="draft")
    if method not in ("add_files", "add_external_files"):
        draft.add_files(src)
    base = {
        "add_files": {"path": src},
        "add_external_files": {"source_url": src.as_uri()},
        "remove_files": {"dataset_path": "a.txt"},
        "sync_folder": {"local_path": src},
        "upload": {},
        "finalize": {"auto_upload": True},
        "set_metadata": {"metadata": {"k": 1}},
    }[method]
    return getattr(draft, method), base


def cases(kind: str) -> list[tuple[str, str, Any]]:
    return [
        (method, param, how[1])
        for method, params in ARGS.items()
        for param, how in params.items()
        if how != IMPL and how[0] == kind and param != "kwargs"
    ]


@pytest.mark.parametrize(("method", "param", "value"), cases("warns"))
def test_an_argument_without_effect_warns_once_at_the_caller(
    method: str, param: str, value: Any, src: Path, tmp_path: Path
):
    fn, base = call_for(method, src, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(**base, **{param: value})
    mine = [w for w in caught if f"Dataset.{method}({param}=" in str(w.message)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    assert issubclass(mine[0].category, UserWarning)
    assert "has no effect in gitdata" in str(mine[0].message)
    assert mine[0].filename == __file__  # points at the user's line, not at gitdata


@pytest.mark.parametrize("method", sorted({m for m, _, _ in cases("warns")}))
def test_default_arguments_do_not_warn(method: str, src: Path, tmp_path: Path):
    fn, base = call_for(method, src, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(**base)


def test_delete_external_files_refuses_and_deletes_nothing(src: Path):
    ds = closed(src)
    before = objects()
    with pytest.raises(NotImplementedError) as info:
        Dataset.delete(dataset_id=ds.id, delete_external_files=True)
    assert isinstance(info.value, UnsupportedArgumentError)
    assert isinstance(info.value, GitDataError) and info.value.hint
    assert "delete_external_files" in str(info.value)
    assert Dataset.get(dataset_id=ds.id).is_final()
    assert objects() == before


def test_get_refuses_unknown_keyword_arguments_and_warns_on_private_ones(src: Path):
    ds = closed(src)
    with pytest.raises(InvalidInputError, match="no_such_argument"):
        Dataset.get(dataset_id=ds.id, no_such_argument=1)
    with pytest.warns(UserWarning, match="ClearML-internal"):
        assert Dataset.get(dataset_id=ds.id, _dont_populate_runtime_props=True).id == ds.id


def test_get_silence_alias_warnings_silences_them(src: Path):
    ds = closed(src)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = Dataset.get(
            dataset_id=ds.id, alias="train", overridable=True, silence_alias_warnings=True
        )
    assert got.id == ds.id


# ------------------------------------------------------- implemented arguments


def test_delete_files_false_removes_the_record_and_keeps_the_objects(src: Path):
    ds = closed(src)
    before = objects()
    assert before
    report = Dataset.delete(dataset_id=ds.id, delete_files=False)
    assert report.objects_removed == 0
    with pytest.raises(DatasetNotFoundError):
        Dataset.get(dataset_id=ds.id)
    assert objects() == before
    assert Context().store.list("versions/") == []


def test_delete_files_true_still_removes_the_objects(src: Path):
    ds = closed(src)
    Dataset.delete(dataset_id=ds.id)
    assert objects() == set()


def test_delete_entire_dataset_checks_dependents_first_and_removes_every_version(src: Path):
    v1 = closed(src)
    (src / "more.txt").write_text("more")
    v2 = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[v1.id])
    v2.sync_folder(src)
    v2.finalize(auto_upload=True)
    draft = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[v2.id])
    other = closed(make_tree(src.parent / "other", {"o.txt": "other"}), name="other")
    child = Dataset.create(dataset_project="proj", dataset_name="kid", parent_datasets=[v2.id])
    child.finalize(auto_upload=True)
    # a version of another dataset is built on v2: refused, and nothing (not even the draft) goes
    with pytest.raises(HasDependentsError, match=child.id):
        Dataset.delete(dataset_project="proj", dataset_name="ds", entire_dataset=True)
    assert Dataset.get(dataset_id=v1.id).is_final() and Dataset.get(dataset_id=v2.id).is_final()
    assert not Dataset.get(dataset_id=draft.id).is_final()
    reports = Dataset.delete(
        dataset_project="proj", dataset_name="ds", entire_dataset=True, force=True
    )
    assert sorted(r.version_id for r in reports) == sorted([v1.id, v2.id])
    for gone in (v1.id, v2.id, draft.id):
        with pytest.raises(DatasetNotFoundError):
            Dataset.get(dataset_id=gone)
    Context().cache.clear()
    assert Dataset.get(dataset_id=other.id).list_files() == ["o.txt"]
    assert Path(Dataset.get(dataset_id=other.id).get_local_copy(), "o.txt").read_text() == "other"
    with pytest.raises(DatasetNotFoundError):
        Dataset.delete(dataset_project="proj", dataset_name="ds", entire_dataset=True, force=True)


def test_upload_retries_is_the_store_retry_count(src: Path, monkeypatch: pytest.MonkeyPatch):
    import gitdata.storage.fsstore as fsstore

    seen: list[int] = []
    real = fsstore.with_retries

    def spy(fn, *, retries, **kw):
        seen.append(retries)
        return real(fn, retries=retries, **kw)

    monkeypatch.setattr(fsstore, "with_retries", spy)
    draft = Dataset.create(dataset_project="proj", dataset_name="ds")
    draft.add_files(src)
    seen.clear()
    draft.upload(retries=7)
    assert seen and set(seen) == {7}
    assert draft.finalize()
    again = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[draft.id])
    (src / "new.txt").write_text("new")
    again.add_files(src)
    seen.clear()
    again.upload()  # the configured count (3) when not given
    assert seen and set(seen) == {3}
    with pytest.raises(InvalidInputError):
        again.upload(retries=-1)


def chunks_of(ds: Dataset) -> set[str]:
    assert ds.record is not None
    return {e.chunk for e in reader.load_manifest(Context(), ds.record.manifest)}


def test_upload_chunk_size_minus_one_makes_one_chunk(tmp_path: Path):
    many = make_tree(tmp_path / "many", {f"f{i}.bin": bytes([i]) * 4000 for i in range(6)})
    small = Dataset.create(dataset_project="proj", dataset_name="small")
    small.add_files(many)
    small.upload(chunk_size=0.005)  # about 5 kB: several chunks
    small.finalize()
    one = Dataset.create(dataset_project="proj", dataset_name="one")
    (many / "g.bin").write_bytes(b"g" * 4000)
    one.add_files(many)
    one.upload(chunk_size=-1)
    one.finalize()
    assert len(chunks_of(small)) > 1
    assert len(chunks_of(one) - chunks_of(small)) == 1


def test_upload_takes_zipfile_compression_constants(src: Path):
    ds = Dataset.create(dataset_project="proj", dataset_name="ds")
    ds.add_files(src)
    ds.upload(compression=zipfile.ZIP_DEFLATED)
    ds.finalize()
    assert ds.record is not None
    methods = {e.method for e in reader.load_manifest(Context(), ds.record.manifest)}
    assert methods == {"deflate"}
    with pytest.raises(InvalidInputError, match="compression"):
        bad = Dataset.create(dataset_project="proj", dataset_name="bad")
        bad.add_files(src)
        bad.upload(compression=zipfile.ZIP_LZMA)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, description: str, total: int | None) -> None:
        self.calls.append(description)

    def advance(self, amount: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


def test_upload_show_progress_false_reports_nothing(src: Path):
    ds = Dataset.create(dataset_project="proj", dataset_name="ds")
    ds.add_files(src)
    ds.progress = rec = Recorder()
    ds.upload(show_progress=False)
    assert rec.calls == []
    (src / "new.txt").write_text("new")
    ds.add_files(src)
    rec.calls.clear()
    ds.upload()
    assert "uploading" in rec.calls


def test_get_mutable_local_copy_raise_on_error_false_returns_none(src: Path, tmp_path: Path):
    ds = closed(src)
    target = make_tree(tmp_path / "busy", {"mine.txt": "keep"})
    assert ds.get_mutable_local_copy(target, raise_on_error=False) is None
    assert (target / "mine.txt").read_text() == "keep"
    assert not (target / "a.txt").exists()
    # overwrite never replaces files gitdata did not put there
    assert ds.get_mutable_local_copy(target, overwrite=True, raise_on_error=False) is None
    assert (target / "mine.txt").read_text() == "keep"
    fresh = tmp_path / "fresh"
    assert ds.get_mutable_local_copy(fresh, raise_on_error=False) == str(fresh)


def test_list_files_dataset_id_lists_the_files_that_version_introduced(src: Path):
    parent = closed(src)
    (src / "a.txt").write_text("changed")
    (src / "d.txt").write_text("new")
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[parent.id])
    child.sync_folder(src)
    assert child.list_files(dataset_id=child.id) == ["a.txt", "d.txt"]  # a draft, too
    child.finalize(auto_upload=True)
    assert child.list_files(dataset_id=parent.id) == ["sub/b.txt", "sub/c.bin"]
    assert child.list_files(dataset_id=child.id) == ["a.txt", "d.txt"]
    assert child.list_files("sub/*", dataset_id=parent.id) == ["sub/b.txt", "sub/c.bin"]
    unrelated = closed(make_tree(src.parent / "u", {"u.txt": "u"}), name="u")
    assert child.list_files(dataset_id=unrelated.id) == []
    # a grandchild that changes nothing inherits the owners
    grand = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[child.id])
    grand.finalize()
    assert grand.list_files(dataset_id=parent.id) == ["sub/b.txt", "sub/c.bin"]
    assert grand.list_files(dataset_id=grand.id) == []


def test_list_changes_against_its_own_id_compare_to_the_parents(src: Path):
    parent = closed(src)
    (src / "d.txt").write_text("new")
    child = Dataset.create(dataset_project="proj", dataset_name="ds", parent_datasets=[parent.id])
    child.sync_folder(src)
    child.finalize(auto_upload=True)
    assert child.list_added_files(dataset_id=child.id) == ["d.txt"]
    assert child.list_added_files(dataset_id=child.id) == child.list_added_files()


def test_list_datasets_partial_name_is_a_regular_expression(src: Path):
    closed(src, name="cats.v1")
    closed(src, name="catsXv2")

    def names(pattern: str) -> list[str]:
        return sorted(r["name"] for r in Dataset.list_datasets(partial_name=pattern))

    assert names("cats.v") == ["cats.v1", "catsXv2"]
    assert names(re.escape("cats.v")) == ["cats.v1"]
    assert names("^CATS") == ["cats.v1", "catsXv2"]  # case is ignored
    assert names("v2$") == ["catsXv2"]
    with pytest.raises(InvalidInputError, match="regular expression"):
        Dataset.list_datasets(partial_name="cats(")


def test_squash_takes_dataset_objects(src: Path):
    a = closed(src, name="a")
    b = closed(make_tree(src.parent / "b", {"b.txt": "b"}), name="b")
    squashed = Dataset.squash("both", dataset_ids=[a, b.id])
    assert squashed.list_files() == sorted([*FILES, "b.txt"])
