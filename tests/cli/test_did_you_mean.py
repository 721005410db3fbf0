"""An unknown project/name is answered with the closest names the store holds."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_tree


def _closed(gd, src: Path, project: str, name: str) -> None:
    gd("create", "--project", project, "--name", name)
    gd("add", "--files", str(src))
    gd("close")


def test_a_misspelt_name_suggests_the_closest(gd, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    _closed(gd, src, "vision", "cats")
    _closed(gd, src, "vision", "dogs")
    r = gd("list", "--project", "vision", "--name", "cat", ok=False)
    assert r.exit_code == 3 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "gd: error: no closed dataset version matches vision/cat"
    assert lines[1].startswith("hint: did you mean: vision/cats?")
    assert "vision/dogs" not in lines[1]
    err = gd("get", "--project", "visoin", "--name", "cats", "--json", ok=False).json()["error"]
    assert err["type"] == "DatasetNotFoundError" and err["suggestions"] == ["vision/cats"]
    assert "did you mean: vision/cats?" in err["hint"]


def test_only_a_project_or_nothing_close(gd, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    _closed(gd, src, "vision", "cats")
    err = gd("search", "--json", ok=True)  # the store holds the one version
    assert err.json()
    r = gd("list", "--project", "zzzzzz", "--name", "qqqq", "--json", ok=False)
    body = r.json()["error"]
    assert body["suggestions"] == [] and "did you mean" not in body["hint"]
    # the name exists, only the version does not: nothing to suggest
    r = gd(
        "list", "--project", "vision", "--name", "cats", "--version", "9.9.9", "--json", ok=False
    )
    assert r.exit_code == 3 and r.json()["error"]["suggestions"] == []


def test_rename_of_an_unknown_name_suggests_too(gd, tmp_path: Path):
    _closed(gd, make_tree(tmp_path / "src", {"a.txt": "a"}), "vision", "cats")
    r = gd("rename", "--project", "vision", "--name", "cast", "--new-name", "x", ok=False)
    assert r.exit_code == 3 and "hint: did you mean: vision/cats?" in r.stderr
    assert gd("list", "--project", "vision", "--name", "cats").exit_code == 0  # unchanged


def test_delete_entire_dataset_of_an_unknown_name_suggests_too(gd, tmp_path: Path):
    _closed(gd, make_tree(tmp_path / "src", {"a.txt": "a"}), "vision", "cats")
    r = gd(
        "delete", "--entire-dataset", "--project", "vision", "--name", "cast", "--json", ok=False
    )
    assert r.exit_code == 3 and r.json()["error"]["suggestions"] == ["vision/cats"]
    assert "hint: did you mean: vision/cats?" in r.stderr
    assert gd("list", "--project", "vision", "--name", "cats").exit_code == 0
