"""Any bytes given to a decoder give a clean gitdata error, never another exception."""

from __future__ import annotations

import contextlib
import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitdata.codec import load_yaml_mapping
from gitdata.core.manifest import Manifest
from gitdata.core.record import VersionRecord
from gitdata.core.zipchunk import decode_member
from gitdata.errors import GitDataError
from gitdata.gitio.pointer import decode_pointer

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_record_like = st.fixed_dictionaries(
    {},
    optional={
        k: _json_values
        for k in (
            "format",
            "id",
            "project",
            "name",
            "version",
            "parents",
            "manifest",
            "stats",
            "tags",
            "description",
            "metadata",
            "created",
            "state",
        )
    },
)
_entry_like = st.fixed_dictionaries(
    {},
    optional={
        k: _json_values for k in ("path", "size", "sha256", "chunk", "offset", "length", "method")
    },
)


def only_gitdata_errors(call) -> None:
    """Run ``call``: a GitDataError is a clean refusal; anything else fails the test."""
    with contextlib.suppress(GitDataError):
        call()


@FUZZ
@given(st.binary(max_size=400))
def test_manifest_bytes(data):
    only_gitdata_errors(lambda: Manifest.decode(data, "fuzz"))
    only_gitdata_errors(lambda: Manifest.decode(gzip.compress(data), "fuzz"))


@FUZZ
@given(st.lists(_entry_like, max_size=4), _json_values)
def test_manifest_documents(entries, fmt):
    for doc in ({"format": 1, "files": entries}, {"format": fmt, "files": entries}, entries):
        data = gzip.compress(json.dumps(doc).encode())
        only_gitdata_errors(lambda d=data: Manifest.decode(d, "fuzz"))


_SHA = "a" * 64
_row = st.lists(
    st.one_of(_json_values, st.sampled_from(["x/y", _SHA, 0, 1, {"method": "deflate"}])),
    max_size=8,
)


@FUZZ
@given(
    st.lists(_row, max_size=4),
    st.lists(st.sampled_from([_SHA, "b" * 64]) | _json_values, max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={k: _json_values for k in ("page", "first", "last", "count")},
        ),
        max_size=3,
    ),
    _json_values,
)
def test_paged_manifest_documents(rows, chunks, refs, extra):
    """Format 3 roots, pages and deltas (docs/format.md §4b) of any shape."""
    page = gzip.compress(
        json.dumps({"format": 3, "kind": "page", "chunks": chunks, "files": rows}).encode()
    )
    delta = gzip.compress(
        json.dumps(
            {"format": 3, "kind": "delta", "chunks": chunks, "files": rows, "removed": extra}
        ).encode()
    )
    refs = [dict(r, page=_SHA) if isinstance(r, dict) else r for r in refs]
    objects = {_SHA: page, "b" * 64: delta}
    for root in (
        {"format": 3, "kind": "root", "count": len(rows), "size": 1, "pages": refs},
        {"format": 3, "kind": "root", "count": 1, "size": 1, "pages": [], "delta": extra},
        {
            "format": 3,
            "kind": "root",
            "count": 1,
            "size": 1,
            "pages": refs,
            "delta": {"page": "b" * 64, "files": 1, "removed": 1},
        },
    ):
        data = gzip.compress(json.dumps(root).encode())

        def read_all(d=data):
            m = Manifest.decode(d, "fuzz", objects.__getitem__)
            list(m)
            m.get("x/y")

        only_gitdata_errors(read_all)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_yaml_records_and_pointers_from_bytes(data):
    only_gitdata_errors(lambda: load_yaml_mapping(data, "fuzz"))
    only_gitdata_errors(lambda: decode_pointer(data, "fuzz"))
    only_gitdata_errors(lambda: VersionRecord.from_dict(load_yaml_mapping(data, "fuzz"), "fuzz"))


@FUZZ
@given(_record_like)
def test_record_and_pointer_documents(doc):
    only_gitdata_errors(lambda: VersionRecord.from_dict(dict(doc), "fuzz"))
    text = json.dumps(doc)  # JSON is YAML: the same document as a pointer file
    only_gitdata_errors(lambda: decode_pointer(text, "fuzz"))


@FUZZ
@given(
    st.binary(max_size=300), st.sampled_from(["stored", "deflate", "bogus"]), st.integers(-5, 400)
)
def test_chunk_members(raw, method, size):
    only_gitdata_errors(lambda: decode_member(raw, method, size, "0" * 64, "fuzz"))
