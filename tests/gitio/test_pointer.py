from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitdata.codec import dump_yaml, load_yaml_mapping
from gitdata.errors import FormatError, UnsafePathError
from gitdata.gitio.pointer import Pointer, decode_pointer, encode_pointer, pointer_relpath

ID = "a" * 32
SHA = "b" * 64


def make(**kw) -> Pointer:
    base = dict(
        project="vision/cats", name="train", id=ID, version="1.0.0", parents=[], manifest=SHA
    )
    base.update(kw)
    return Pointer(**base)


def test_relpath_and_unsafe_names():
    assert pointer_relpath("a/b", "n") == ".gitdata/datasets/a/b/n.yaml"
    for project, name in [
        ("..", "n"),
        ("a", "../n"),
        ("a", "x/y"),
        ("", "n"),
        ("a", " n"),
        ("a\\b", "n"),
        ("a//b", "n"),
    ]:
        with pytest.raises(UnsafePathError):
            pointer_relpath(project, name)


def test_canonical_and_stable():
    p = make(tags=["x"], stats={"files": 3}, store="s3://b/p")
    text = encode_pointer(p)
    assert text.startswith("# gitdata pointer")
    assert text == encode_pointer(decode_pointer(text, "f"))
    keys = [
        line.split(":")[0]
        for line in text.splitlines()[1:]
        if line and not line.startswith((" ", "-"))
    ]
    assert keys == [
        "format",
        "project",
        "name",
        "version",
        "id",
        "parents",
        "manifest",
        "store",
        "tags",
        "stats",
    ]


ids = st.binary(min_size=1, max_size=4).map(lambda b: hashlib.md5(b).hexdigest())
safe = st.text(
    alphabet=st.characters(
        blacklist_characters="/\\\x00", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", "..") and s == s.strip())


@given(
    safe,
    safe,
    st.lists(ids, max_size=3, unique=True),
    st.lists(safe, max_size=3),
    st.dictionaries(st.sampled_from(["zeta", "owner", "note"]), st.integers() | safe, max_size=2),
)
def test_round_trip(project, name, parents, tags, extra):
    p = make(
        project=project,
        name=name,
        parents=parents,
        tags=tags,
        extra=extra,
        stats={"files": 1, "bytes": 2, "added": 0, "modified": 0, "removed": 0},
    )
    assert decode_pointer(encode_pointer(p), "f") == p


def test_unknown_keys_preserved_in_order():
    text = encode_pointer(make()) + "team: data\nowner: me\n"
    p = decode_pointer(text, "f")
    assert list(p.extra) == ["team", "owner"]
    assert encode_pointer(p).endswith("team: data\nowner: me\n")


def test_malformed_yaml_reports_file_and_line():
    with pytest.raises(FormatError) as info:
        decode_pointer("format: 1\nproject: [unclosed\nname: x\n", ".gitdata/datasets/p/n.yaml")
    assert ".gitdata/datasets/p/n.yaml:" in str(info.value)
    assert info.value.line is not None


@pytest.mark.parametrize(
    "change",
    [
        {"id": "nothex"},
        {"manifest": "123"},
        {"parents": ["x"]},
        {"tags": "t"},
        {"stats": {"files": -1}},
        {"project": "../escape"},
        {"format": "one"},
    ],
)
def test_invalid_fields(change):
    import yaml

    doc = yaml.safe_load(encode_pointer(make()))
    doc.update(change)
    with pytest.raises(FormatError) as info:
        decode_pointer(yaml.safe_dump(doc), "p.yaml")
    assert "p.yaml" in str(info.value)


def test_newer_format_refused():
    text = encode_pointer(make()).replace("format: 1", "format: 2")
    with pytest.raises(FormatError) as info:
        decode_pointer(text, "p.yaml")
    assert info.value.hint == "upgrade gd"


def test_not_a_mapping():
    with pytest.raises(FormatError):
        decode_pointer("- a\n- b\n", "p.yaml")


@pytest.mark.parametrize(
    "path",
    [
        ".git",
        ".git/hooks",
        ".gitdata",
        ".gitdata/datasets/p",
        "sub/.git/objects",
        ".GIT/hooks",
        ".Gitdata/x",
        ".git./hooks",
        "/etc",
        "../outside",
        "a/../../b",
        "a//b",
        "./a",
        "C:/Windows",
        "c:data",
        "a\\b",
        "a/\x1b[2Jb",
        "line\nbreak",
        "",
    ],
)
def test_bind_path_outside_the_work_tree_or_in_git_folders_is_refused(path: str):
    doc = load_yaml_mapping(encode_pointer(make()), "f")
    doc["bind"] = {"path": path, "mode": "link"}
    with pytest.raises(FormatError, match=r"pointer f: 'bind.path'.*outside .git and .gitdata"):
        decode_pointer(dump_yaml(doc), "f")


@pytest.mark.parametrize("path", ["data", "data/train", "a.git/b", "my.gitdata", "x/.github"])
def test_bind_path_inside_the_work_tree_is_kept(path: str):
    p = decode_pointer(encode_pointer(make(bind={"path": path, "mode": "copy"})), "f")
    assert p.bind == {"path": path, "mode": "copy"}
