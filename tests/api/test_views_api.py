"""What the terminal views (and a web UI) read through the library: summaries and lineage."""

from __future__ import annotations

from pathlib import Path

from gitdata import Dataset
from gitdata.repo_api import Workspace
from tests.conftest import make_tree


def version(src: Path, parents: list[str] | None = None, name: str = "n") -> Dataset:
    ds = Dataset.create(dataset_project="p", dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def test_change_summary_of_a_draft_and_a_closed_version(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    src = make_tree(tmp_path / "src", {"a/x.bin": b"x" * 10, "b.txt": "bb"})
    v1 = version(src)
    draft = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[v1.id])
    (src / "a/x.bin").rename(src / "moved.bin")
    draft.sync_folder(src)
    s = draft.change_summary()
    assert [(c.old_path, c.path) for c in s.renamed] == [("a/x.bin", "moved.bin")]
    assert s.totals.files == 1 and s.totals.delta == 0
    draft.finalize(auto_upload=True)
    closed = Dataset.get(dataset_id=draft.id)
    assert closed.change_summary() == s
    assert closed.compare_summary(v1) == s
    assert v1.change_summary().totals.added == 2
    assert closed.storage_url == str(tmp_path / "store") and closed.squashed_from == []


def test_lineage_of_a_version_a_project_and_a_squash(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    a = version(make_tree(tmp_path / "a", {"x": "1"}))
    b = version(make_tree(tmp_path / "b", {"x": "2"}), [a.id])
    sq = Dataset.squash("flat", dataset_ids=[a.id, b.id], dataset_project="p")
    assert sq.squashed_from == [a.id, b.id]
    lin = Workspace().lineage(b.id)
    assert [n.id for n in lin.nodes] == [b.id, a.id] and lin.layout.edges == [(b.id, a.id)]
    whole = Workspace().lineage(project="p")
    assert [n.id for n in whole.nodes] == [sq.id, b.id, a.id]
    assert whole.nodes[0].squashed_from == [a.id, b.id]
    only_b = Workspace().lineage(project="p", name="n")
    assert {n.id for n in only_b.nodes} == {a.id, b.id}
    # a draft's lineage: the draft on top of its parents
    draft = Dataset.create(dataset_project="p", dataset_name="n", parent_datasets=[b.id])
    top = Workspace().lineage(draft.id).nodes[0]
    assert top.id == draft.id and top.state == "draft"
