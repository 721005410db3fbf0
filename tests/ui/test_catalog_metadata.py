"""The web UI shows a version's current name, description and published mark: a
rename or publish made while the server runs shows once its short cache expires."""

from __future__ import annotations

from pathlib import Path

from gitdata import Dataset
from gitdata.ui import catalog as catalog_module
from gitdata.ui import pages
from gitdata.ui.catalog import Catalog
from gitdata.ui.pages import Links
from tests.conftest import make_tree


def test_a_rename_and_publish_show_on_the_version_page(tmp_path: Path, monkeypatch) -> None:
    store = str(tmp_path / "store")
    ds = Dataset.create(dataset_project="vision", dataset_name="cats", output_uri=store)
    ds.sync_folder(make_tree(tmp_path / "src", {"a.txt": "a"}))
    ds.finalize(auto_upload=True)
    monkeypatch.setattr(catalog_module, "METADATA_MAX_AGE", 0.0)
    cat = Catalog(store)
    assert cat.version(ds.id).name == "cats"
    Dataset.rename("felines", "vision", "cats", storage=store)
    Dataset.get(ds.id, storage=store).publish()
    shown = cat.version(ds.id)
    assert shown.name == "felines" and shown.is_published()
    assert [r.name for r in cat.datasets()] == ["felines"]
    html = str(pages._identity(shown, Links()))
    assert "formerly" in html and "vision/cats" in html and "published" in html
