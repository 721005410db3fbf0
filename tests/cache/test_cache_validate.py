from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitdata.cache.validate import check_key, check_relpath
from gitdata.errors import InvalidInputError, UnsafePathError

# Path-like text built from the characters that matter for escaping a folder.
path_text = st.text(alphabet=st.sampled_from(["a", "b", ".", "/", "\x00", " ", "é"]), max_size=12)


@given(path_text)
def test_accepted_paths_stay_inside_the_target(rel: str):
    try:
        check_relpath(rel)
    except UnsafePathError:
        return
    joined = posixpath.normpath(posixpath.join("/target", rel))
    assert joined.startswith("/target/")
    assert posixpath.relpath(joined, "/target") == rel  # already in normal form
    assert "\x00" not in rel


@given(st.text(max_size=20))
def test_accepted_keys_are_single_safe_names(key: str):
    try:
        check_key(key)
    except InvalidInputError:
        return
    assert "/" not in key and key not in (".", "..") and key.isascii() and key


@pytest.mark.parametrize("ok", ["a", "a/b", "a.b/c..d", ".hidden/x", "...", "é/ü"])
def test_ordinary_paths_accepted(ok: str):
    check_relpath(ok)
