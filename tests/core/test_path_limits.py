"""The limits every dataset path keeps (docs/format.md, section 6), checked where every
reader passes: path normalisation and manifest decoding."""

from __future__ import annotations

import gzip
import json

import pytest

from gitdata.core.manifest import FileEntry, Manifest
from gitdata.core.paths import (
    MAX_COMPONENT_BYTES,
    MAX_PATH_BYTES,
    MAX_PATH_DEPTH,
    check_path_room,
    is_normal_path,
    limit_problem,
    normalize_dataset_path,
)
from gitdata.core.zipchunk import check_member_extent
from gitdata.errors import FormatError, IntegrityError, InvalidInputError, UnsafePathError

SHA = "ab" * 32

LEGAL = [
    "x" * MAX_COMPONENT_BYTES,
    "é" * 127,  # 254 bytes
    "/".join(["y" * 255] * 15) + "/" + "z" * 255,  # 16 * 256 - 1 = 4095 bytes
    "/".join(["a"] * MAX_PATH_DEPTH),
    "A.txt",
    "e\u0301",  # NFD is kept as it is
    "\ufffe\uffff",  # noncharacters are still Unicode text
]
ILLEGAL = {
    "x" * (MAX_COMPONENT_BYTES + 1): "name of 256 bytes",
    "d/" + "é" * 128: "name of 256 bytes",
    "/".join(["y" * 255] * 16) + "/z": "4097 bytes long",
    "a/" * MAX_PATH_DEPTH + "f": "257 folders deep",
    "\ud800x": "not valid Unicode",
    "d/\udce9.txt": "not valid Unicode",
    "\udc00\ud800": "not valid Unicode",
}


def _id(path: object) -> str:
    text = ascii(path)
    return text if len(text) < 30 else f"{text[:20]}...{len(str(path))}"


@pytest.mark.parametrize("path", LEGAL, ids=_id)
def test_paths_within_the_limits_are_normal(path: str):
    assert limit_problem(path) is None
    assert is_normal_path(path)
    assert normalize_dataset_path(path) == path


@pytest.mark.parametrize(("path", "why"), ILLEGAL.items(), ids=_id)
def test_paths_past_a_limit_are_refused(path: str, why: str):
    assert why in (limit_problem(path) or "")
    assert not is_normal_path(path)
    with pytest.raises(UnsafePathError) as info:
        normalize_dataset_path(path)
    assert why in str(info.value) and len(str(info.value)) < 300


def _manifest(files: list[dict]) -> bytes:
    raw = json.dumps({"format": 1, "files": files}, separators=(",", ":")).encode("ascii")
    return gzip.compress(raw, mtime=0)


def _item(**fields: object) -> dict:
    item = {"path": "f", "size": 3, "sha256": SHA, "chunk": SHA, "offset": 0, "length": 3}
    item.update(fields)
    return item


@pytest.mark.parametrize(("path", "why"), ILLEGAL.items(), ids=_id)
def test_manifest_with_a_path_past_a_limit_is_refused(path: str, why: str):
    with pytest.raises(UnsafePathError) as info:
        Manifest.decode(_manifest([_item(path=path)]), "m")
    assert why in str(info.value) and len(str(info.value)) < 300
    assert info.value.path.encode("utf-8")  # the structured field is printable


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"sha256": 5}, "bad sha256"),
        ({"chunk": ["x"]}, "bad sha256"),
        ({"size": -3, "length": -3}, "bad size"),
        ({"size": 3.0}, "bad size"),
        ({"size": 10**12}, "length != size"),
        ({"size": 10**12, "method": "deflate"}, "more than DEFLATE can expand"),
        ({"size": 1, "length": 0, "method": "deflate"}, "more than DEFLATE can expand"),
        ({"method": "x" * 10_000}, "unknown method"),
    ],
)
def test_manifest_with_impossible_numbers_is_refused(fields: dict, why: str):
    with pytest.raises(FormatError) as info:
        Manifest.decode(_manifest([_item(**fields)]), "m")
    assert why in str(info.value) and len(str(info.value)) < 300


def test_legal_extremes_decode():
    files = [
        _item(path="a", size=10**12, length=10**12),  # a terabyte file is legal
        _item(path="b", size=1032 * 5, length=5, method="deflate"),  # DEFLATE's best
    ]
    manifest = Manifest.decode(_manifest(files), "m")
    assert manifest.total_size == 10**12 + 5160


def test_deeply_nested_json_is_a_format_error():
    raw = b'{"format":1,"files":[],"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(FormatError, match="too deeply"):
        Manifest.decode(gzip.compress(raw), "m")


def test_writer_refuses_what_readers_refuse():
    """close decodes what it is about to write: a path past a limit never gets out."""
    entry = FileEntry("a/" * MAX_PATH_DEPTH + "f", 3, SHA, SHA, 0, 3)
    with pytest.raises(UnsafePathError):
        Manifest.decode(Manifest([entry]).encode(), "m")


def test_member_extent_is_checked_against_the_chunk():
    check_member_extent("f", 10, 90, 100)
    with pytest.raises(IntegrityError, match="which has only 100 bytes"):
        check_member_extent("f", 10, 91, 100)
    with pytest.raises(IntegrityError):
        check_member_extent("f", 0, 10**12, 100)


def test_path_room_under_a_folder():
    root = "/" + "r" * 95  # 96 bytes
    fits = "p" * (MAX_PATH_BYTES - 97)
    check_path_room(root, [fits, "a"])
    with pytest.raises(InvalidInputError, match="does not fit under"):
        check_path_room(root, ["a", fits + "p"])
    check_path_room(root, [])
