"""Parents and squash merge three-way (docs/format.md §7) through the API and the CLI."""

from __future__ import annotations

from pathlib import Path

from gitdata import Dataset
from tests.conftest import make_tree, read_tree


def version(src: Path, parents: list[str] | None = None, name: str = "coll") -> Dataset:
    ds = Dataset.create(dataset_project="proj", dataset_name=name, parent_datasets=parents)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    return ds


def test_squash_of_a_chain_is_its_last_state(tmp_path: Path):
    files = {f"f{i:02d}": str(i) for i in range(20)}
    src = make_tree(tmp_path / "src", files)
    v1 = version(src)
    for i in range(11):  # the child removes 11 files
        (src / f"f{i:02d}").unlink()
    (src / "f19").write_text("edited")
    v2 = version(src, [v1.id])
    sq = Dataset.squash("flat", dataset_ids=[v1.id, v2.id], dataset_project="proj")
    assert read_tree(Path(sq.get_local_copy())) == read_tree(src)
    assert sq.merge_conflicts == []
    # listed the other way round, the ancestor adds nothing it removed
    sq2 = Dataset.squash("flat", dataset_ids=[v2.id, v1.id], dataset_project="proj")
    assert read_tree(Path(sq2.get_local_copy())) == read_tree(src)


def test_squash_version_bumps_past_open_drafts(tmp_path: Path):
    a = version(make_tree(tmp_path / "a", {"x": "1"}), name="a")
    b = version(make_tree(tmp_path / "b", {"y": "2"}), name="b")
    draft = Dataset.create(dataset_project="proj", dataset_name="flat")
    sq = Dataset.squash("flat", dataset_ids=[a.id, b.id], dataset_project="proj")
    assert sq.version != draft.version
    versions = [d["version"] for d in Dataset.list_datasets(dataset_project="proj")]
    assert versions.count(sq.version) == 1


def test_parents_that_changed_a_path_differently_are_reported(tmp_path: Path):
    base = version(make_tree(tmp_path / "base", {"shared": "0", "keep": "k"}))
    left = version(make_tree(tmp_path / "l", {"shared": "left", "keep": "k"}), [base.id])
    right = version(make_tree(tmp_path / "r", {"shared": "right"}), [base.id])
    child = Dataset.create(
        dataset_project="proj", dataset_name="coll", parent_datasets=[left.id, right.id]
    )
    # keep was deleted by right only: gone; shared conflicts: the later parent wins
    assert [(c["path"], c["kind"]) for c in child.merge_conflicts] == [("shared", "modify/modify")]
    child.finalize(auto_upload=True)
    assert read_tree(Path(child.get_local_copy())) == {"shared": b"right"}
