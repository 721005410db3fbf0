"""Getting versions onto disk (gitdata/ops/materialize.py): what a get leaves in the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitdata.cache import LocalCache
from gitdata.config import default_cache_dir
from tests.conftest import closed_version, read_tree


def test_a_get_past_the_cache_limit_evicts_the_least_recently_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GD_CACHE_SIZE", "5000")  # (read when a Dataset is made)
    first = closed_version(
        tmp_path / "a", {f"f{i}": bytes([65 + i]) * 1000 for i in range(4)}, name="a"
    )
    second = closed_version(
        tmp_path / "b", {f"g{i}": bytes([75 + i]) * 1000 for i in range(4)}, name="b"
    )
    old = Path(first.get_local_copy())
    assert len(read_tree(old)) == 4
    new = Path(second.get_mutable_local_copy(str(tmp_path / "out")))
    assert len(read_tree(new)) == 4  # a copy: no blobs of its own, the limit holds
    Path(second.get_local_copy())
    cache = LocalCache(default_cache_dir())
    usage = cache.usage()
    assert usage.bytes <= 5000  # the first version's blobs went, the second's stay
    assert not old.exists()
    assert read_tree(Path(second.get_local_copy())) == {
        f"g{i}": bytes([75 + i]) * 1000 for i in range(4)
    }
