"""gd get --copy gives files and folders the modes a plain write under the user's umask
would (files 0666 & ~umask, folders 0777 & ~umask), whether the content came from the
store or from the cache."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_tree


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    mask: int = request.param
    old = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of every file and folder under ``root`` (the marker left out)."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.name.startswith(".gitdata"):
            out[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return out


@pytest.mark.parametrize("umask", [0o002, 0o027], indirect=True)
def test_copy_follows_the_umask(gd, tmp_path: Path, umask: int) -> None:
    src = make_tree(tmp_path / "src", {"a.txt": "one", "sub/b.txt": "bee"})
    did = gd("create", "--project", "p", "--name", "n", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    want = {
        ".": 0o777 & ~umask,
        "sub": 0o777 & ~umask,
        "a.txt": 0o666 & ~umask,
        "sub/b.txt": 0o666 & ~umask,
    }
    gd("get", "--id", did, "--copy", str(tmp_path / "first"))  # from the store
    gd("get", "--id", did, "--link", str(tmp_path / "linked"))  # fills the cache
    gd("get", "--id", did, "--copy", str(tmp_path / "second"))  # from the cache
    assert modes(tmp_path / "first") == want
    assert modes(tmp_path / "second") == want
