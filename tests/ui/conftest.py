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
HOSTILE_NAME = "<b onmouseover=alert(1)>evil<b>"  # a name holds no "/"


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
    store: str = ""


def _close(ds: Dataset) -> str:
    ds.upload()
    ds.finalize()
    return ds.id


def build_history(tmp: Path, store: str) -> History:
    src = make_tree(
        tmp / "v1",
        {
            "images/a.png": b"A" * 3000,
            "images/b.png": b"B" * 2000,
            "labels/a.txt": "cat\n",
            "README.md": "# cats\n",
        },
    )
    ds = Dataset.create(
        dataset_project="vision",
        dataset_name="cats",
        output_uri=store,
        dataset_tags=["raw"],
        description="first cut",
    )
    ds.add_files(str(src))
    v1 = _close(ds)

    ds = Dataset.create(
        dataset_project="vision", dataset_name="cats", output_uri=store, parent_datasets=[v1]
    )
    ds.remove_files("labels/a.txt")
    extra = make_tree(tmp / "v2", {"images/c.png": b"C" * 5000, "labels/b.txt": "cat\n"})
    ds.add_files(str(extra))
    v2 = _close(ds)

    ds = Dataset.create(
        dataset_project="vision", dataset_name="cats", output_uri=store, parent_datasets=[v1]
    )
    side = make_tree(tmp / "side", {"extra/d.csv": "x,y\n1,2\n"})
    ds.add_files(str(side))
    branch = _close(ds)

    ds = Dataset.create(
        dataset_project="vision",
        dataset_name="cats",
        output_uri=store,
        parent_datasets=[v2, branch],
        dataset_tags=["merged"],
    )
    merge = _close(ds)

    squash = Dataset.squash(
        "cats-flat", dataset_ids=[v1, v2], dataset_project="vision", output_url=store
    ).id

    ds = Dataset.create(
        output_uri=store,
        dataset_project="evil",
        dataset_name=HOSTILE_NAME,
        dataset_tags=[HOSTILE],
        description=HOSTILE,
    )
    ds.add_files(str(make_tree(tmp / "evil", {"<i>x<i>.txt": HOSTILE})))
    hostile = _close(ds)

    many_src = tmp / "many"
    make_tree(many_src, {f"part{i // 100:02d}/f{i:04d}.txt": f"{i}\n" for i in range(450)})
    ds = Dataset.create(dataset_project="text", dataset_name="many", output_uri=store)
    ds.add_files(str(many_src))
    many = _close(ds)
    shutil.rmtree(tmp)
    return History(v1, v2, branch, merge, squash, hostile, many)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Built once per session, in a store of its own (tests only read it)."""
    root = tmp_path_factory.mktemp("ui-history")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            mp.setenv(var, str(root / "home" / var.lower()))
        mp.chdir(root)  # outside any repository: no pointer is written anywhere
        mp.delenv("GD_STORAGE", raising=False)
        mp.delenv("GD_CACHE_DIR", raising=False)
        store = str(root / "store")
        history = build_history(root / "sources", store)
    history.store = store
    return history


@pytest.fixture
def ui_url(history: History) -> Iterator[str]:
    """The base URL of a UI server over the history's store (any free port)."""
    server = make_server(Catalog(history.store), "127.0.0.1", 0)
    serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
