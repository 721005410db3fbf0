import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitdata.core.chunking import PendingFile, plan_chunks
from gitdata.core.ids import is_version_id, new_version_id, next_version
from gitdata.core.record import VersionRecord
from gitdata.core.sharding import select_part
from gitdata.errors import FormatError, InvalidInputError


def test_ids():
    a, b = new_version_id(), new_version_id()
    assert a != b and is_version_id(a)


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "1.0.0"),
        (["1.0.0"], "1.0.1"),
        (["1.0.9", "1.0.10", "x"], "1.0.11"),
        (["2.1.0", "1.9.9"], "2.1.1"),
    ],
)
def test_next_version(existing, expected):
    assert next_version(existing) == expected


files = st.lists(
    st.tuples(
        st.sampled_from(["a/", "b/", ""]),
        st.text("xyz", min_size=1, max_size=3),
        st.sampled_from("0123"),
        st.integers(0, 50),
    ),
    max_size=30,
    unique_by=lambda t: t[0] + t[1],
).map(lambda rows: [PendingFile(d + n, h * 64, s) for d, n, h, s in rows])


@given(files, st.integers(1, 100))
def test_chunk_plan_covers_each_content_once(pending, target):
    groups = plan_chunks(pending, target)
    shas = [f.sha256 for g in groups for f in g]
    assert len(shas) == len(set(shas)) == len({f.sha256 for f in pending})
    for g in groups:
        assert len(g) == 1 or sum(f.size for f in g) <= target


@given(st.lists(st.integers(0, 100), min_size=1, max_size=40), st.integers(1, 6))
def test_parts_partition_the_files(sizes, n):
    entries = [(f"p{i}", s, f"c{i % 3}") for i, s in enumerate(sizes)]
    parts = [
        select_part(
            entries, i, n, size_of=lambda e: e[1], chunk_of=lambda e: e[2], path_of=lambda e: e[0]
        )
        for i in range(n)
    ]
    flat = [e for p in parts for e in p]
    assert sorted(flat) == sorted(entries)
    if len(entries) >= n:
        assert all(parts)


def test_bad_part_arguments():
    with pytest.raises(InvalidInputError):
        select_part([], 3, 2, size_of=len, chunk_of=str, path_of=str)
    with pytest.raises(InvalidInputError):
        select_part([], 0, 0, size_of=len, chunk_of=str, path_of=str)


def _record(**kw):
    d = {
        "format": 1,
        "id": "a" * 32,
        "project": "p",
        "name": "n",
        "version": "1.0.0",
        "parents": [],
        "manifest": "b" * 64,
        "stats": {"files": 1},
        "tags": [],
        "description": "",
        "metadata": {},
        "created": "2026-01-01T00:00:00Z",
        "state": "closed",
    }
    d.update(kw)
    return d


def test_record_round_trip_keeps_unknown_keys():
    r = VersionRecord.from_dict(_record(future="x"), "r")
    assert r.to_dict()["future"] == "x"
    assert VersionRecord.from_dict(r.to_dict(), "r") == r


@pytest.mark.parametrize(
    "bad",
    [
        {"format": 2},
        {"id": "nope"},
        {"manifest": "1"},
        {"parents": ["x"]},
        {"parents": ["a" * 32]},
        {"tags": "t"},
        {"state": "draft"},
        {"stats": {"files": -1}},
        {"name": ""},
    ],
)
def test_record_validation(bad):
    with pytest.raises(FormatError):
        VersionRecord.from_dict(_record(**bad), "r")


def test_a_version_id_is_exactly_32_lowercase_hex_digits() -> None:
    from gitdata.core.ids import is_version_id

    assert is_version_id("0123456789abcdef" * 2)
    for bad in ("a" * 32 + "\n", "A" * 32, "a" * 31, "a" * 33, "g" * 32, None, 5):
        assert not is_version_id(bad), repr(bad)
