"""One unreadable version record never locks everyone out of a store."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.cli.test_workflow import new_version
from tests.conftest import make_tree

BAD_RECORDS = {
    "newer-format": "format: 2\nid: {id}\n",
    "id-mismatch": "format: 1\nid: {other}\nproject: p\nname: n\nversion: 9.9.9\n",
    "yaml-tag": "format: 1\nid: !!python/object/apply:os.system ['echo hi']\n",
    "not-yaml": "id: [unclosed\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_search_and_create_skip_a_bad_record_with_a_warning(gd, tmp_path: Path, kind: str):
    store = tmp_path / "store"
    os.environ["GD_STORAGE"] = str(store)
    try:
        good = new_version(gd, make_tree(tmp_path / "src", {"a": "1"}))
        bad_id = uuid.uuid4().hex
        text = BAD_RECORDS[kind].format(id=bad_id, other=uuid.uuid4().hex)
        (store / "versions" / f"{bad_id}.yaml").write_text(text)
        found = gd("search", "--json")
        assert [r["id"] for r in found.json()] == [good]
        assert f"versions/{bad_id}.yaml" in found.stderr and "gd: warning:" in found.stderr
        assert "Traceback" not in found.stderr
        created = gd("create", "--project", "p", "--name", "n", "--json").json()
        assert created["version"] != "1.0.0"  # bumped past the good version, bad one skipped
        gd("delete", "--id", created["id"])
        gd("delete", "--id", good, "--force")
    finally:
        del os.environ["GD_STORAGE"]
