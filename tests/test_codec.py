"""Canonical YAML: every string reads back as the same string under YAML 1.1 and 1.2."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gitdata.codec import dump_yaml, load_yaml_mapping

TRICKY = [
    "1e3",
    "2e5",
    "0o17",
    "0x1F",
    "+1",
    "-2.5",
    "1.",
    ".5e3",
    ".inf",
    ".NaN",
    "True",
    "null",
    "~",
    "yes",
    "off",
    "2026-01-01",
    "1_000",
    "",
    "1.0.0",
    "plain",
    "a: b",
    "#x",
]


def read_yaml12(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def test_strings_that_look_like_other_types_are_quoted():
    doc = {"version": "1e3", "tags": TRICKY}
    text = dump_yaml(doc)
    assert "version: '1e3'" in text
    assert load_yaml_mapping(text, "t") == doc  # our YAML 1.1 reader
    assert read_yaml12(text) == doc  # a YAML 1.2 reader


_scalars = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(TRICKY),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        _scalars | st.lists(_scalars, max_size=4),
        max_size=6,
    )
)
def test_any_document_reads_back_the_same_under_both_yaml_versions(doc):
    text = dump_yaml(doc)
    assert load_yaml_mapping(text, "t") == doc
    assert read_yaml12(text) == doc
