import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitdata.core.paths import match_pattern, normalize_dataset_path
from gitdata.errors import UnsafePathError


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("a/b.txt", "a/b.txt"), ("./a//b", "a/b"), ("a/./b/", "a/b"), ("x", "x")],
)
def test_normalizes(raw, normal):
    assert normalize_dataset_path(raw) == normal


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../x", "a/../../x", "a/..", "a\\b", "C:/x", "a\x00b", "", ".", "//"]
)
def test_refuses_unsafe(bad):
    with pytest.raises(UnsafePathError):
        normalize_dataset_path(bad)


def test_unsafe_is_also_value_error():
    with pytest.raises(ValueError):
        normalize_dataset_path("../x")


@given(st.lists(st.text(alphabet="ab.-_ é", min_size=1, max_size=5), min_size=1, max_size=4))
def test_normal_form_is_idempotent_and_safe(parts):
    raw = "/".join(parts)
    try:
        normal = normalize_dataset_path(raw)
    except UnsafePathError:
        assert any(p == ".." for p in raw.split("/")) or not normalize_dataset_path(
            raw, allow_empty=True
        )
        return
    assert normalize_dataset_path(normal) == normal
    assert ".." not in normal.split("/")
    assert not normal.startswith("/")


@pytest.mark.parametrize(
    ("path", "pattern", "recursive", "expected"),
    [
        ("a/b.jpg", "*.jpg", True, True),
        ("a/b.jpg", "*.jpg", False, False),
        ("b.jpg", "*.jpg", False, True),
        ("a/b.jpg", "a", True, True),
        ("a/b.jpg", "a", False, False),
        ("ab/c", "a", True, False),
        ("a/b.jpg", "a/*.jpg", False, True),
        ("a/x/b.jpg", "a/*.jpg", False, False),
        ("a/b.txt", "*.jpg", True, False),
        ("anything/at/all", "*", True, True),
    ],
)
def test_match_pattern(path, pattern, recursive, expected):
    assert match_pattern(path, pattern, recursive=recursive) is expected
