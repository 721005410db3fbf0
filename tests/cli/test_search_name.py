"""`gd search --name` matches literal text, though the API's partial_name is a regex."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_tree


def test_search_name_is_literal_text(gd, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"f.txt": "f"})
    for name in ("cats.v1", "catsXv1", "dogs(1)"):
        did = gd("create", "--project", "p", "--name", name, "--json").json()["id"]
        gd("add", "--id", did, "--files", str(src))
        gd("close", "--id", did)
    found = gd("search", "--name", "cats.v", "--json").json()
    assert [r["name"] for r in found] == ["cats.v1"]
    assert [r["name"] for r in gd("search", "--name", "S(1", "--json").json()] == ["dogs(1)"]
