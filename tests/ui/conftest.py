"""A store with a small but complete history, and the UI server over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.ui.catalog import Catalog
from gitdata.ui.server import make_server, serve_in_background
from tests.conftest import make_tree

HOSTILE = '<script>document.title="owned"</script><img src=x onerror=alert(1)>'


@dataclass
class History:
    """The versions the pages show: a chain, a branch, their merge and a squash."""

    v1: str
    v2: str
    branch: str
    merge: str
    squash: str
    hostile: str
    many: str


def _close(ds: Dataset) -> str:
    ds.upload()
    ds.finalize()
    return ds.id


def build_history(tmp: Path) -> History:
    src = make_tree(
        tmp / "v1",
        {"images/a.png": b"A" * 3000, "images/b.png": b"B" * 2000, "labels/a.txt": "cat\n",
         "README.md": "# cats\n"},
    )
    ds = Dataset.create(dataset_project="vision", dataset_name="cats", dataset_tags=["raw"],
                        description="first cut")
    ds.add_files(str(src))
    v1 = _close(ds)

    ds = Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[v1])
    ds.remove_files("labels/a.txt")
    extra = make_tree(tmp / "v2", {"images/c.png": b"C" * 5000, "labels/b.txt": "cat\n"})
    ds.add_files(str(extra))
    v2 = _close(ds)

    ds = Dataset.create(dataset_project="vision", dataset_name="cats", parent_datasets=[v1])
    side = make_tree(tmp / "side", {"extra/d.csv": "x,y\n1,2\n"})
    ds.add_files(str(side))
    branch = _close(ds)

    ds = Dataset.create(dataset_project="vision", dataset_name="cats",
                        parent_datasets=[v2, branch], dataset_tags=["merged"])
    merge = _close(ds)

    squash = Dataset.squash("cats-flat", dataset_ids=[v1, v2], dataset_project="vision").id

    ds = Dataset.create(dataset_project="evil", dataset_name=HOSTILE, dataset_tags=[HOSTILE],
                        description=HOSTILE)
    ds.add_files(str(make_tree(tmp / "evil", {"<b>x</b>.txt": HOSTILE})))
    hostile = _close(ds)

    many_src = tmp / "many"
    make_tree(many_src, {f"part{i // 100:02d}/f{i:04d}.txt": f"{i}\n" for i in range(450)})
    ds = Dataset.create(dataset_project="text", dataset_name="many")
    ds.add_files(str(many_src))
    many = _close(ds)
    shutil.rmtree(tmp)
    return History(v1, v2, branch, merge, squash, hostile, many)


@pytest.fixture
def history(tmp_path: Path) -> History:
    return build_history(tmp_path / "sources")


@pytest.fixture
def ui_url(history: History) -> Iterator[str]:
    """The base URL of a UI server over the default store (any free port)."""
    server = make_server(Catalog(), "127.0.0.1", 0)
    serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
