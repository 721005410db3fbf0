import gzip
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitdata.core.manifest import FileEntry, Manifest, link_entry
from gitdata.core.paths import is_normal_path
from gitdata.errors import FormatError, UnsafePathError

hexdigest = st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
segment = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=6,
).filter(lambda s: s not in (".", ".."))
path = st.lists(segment, min_size=1, max_size=3).map("/".join).filter(is_normal_path)


@st.composite
def entries(draw):
    paths = draw(st.lists(path, min_size=0, max_size=12, unique=True))
    # a file cannot also be a folder: keep each path only if none is its folder
    paths = [p for p in paths if not any(p.startswith(q + "/") for q in paths)]
    out = []
    for p in paths:
        size = draw(st.integers(0, 2**40))
        deflate = draw(st.booleans())
        out.append(
            FileEntry(
                p,
                size,
                draw(hexdigest),
                draw(hexdigest),
                draw(st.integers(0, 2**40)),
                # DEFLATE expands at most 1032 times (a longer declared size is forged)
                draw(st.integers(-(-size // 1032), 2**40)) if deflate else size,
                "deflate" if deflate else "stored",
                executable=draw(st.booleans()),
            )
        )
    return out


@given(entries())
def test_round_trip(items):
    m = Manifest(items)
    assert Manifest.decode(m.encode()) == m
    assert [e.path for e in m] == sorted((e.path for e in items), key=str.encode)


@given(entries())
def test_encoding_is_canonical(items):
    assert Manifest(items).encode() == Manifest(list(reversed(items))).encode()


def _raw(doc) -> bytes:
    return gzip.compress(json.dumps(doc).encode(), mtime=0)


def _entry(p="a", **kw):
    e = {"path": p, "size": 1, "sha256": "a" * 64, "chunk": "b" * 64, "offset": 0, "length": 1}
    e.update(kw)
    return e


@pytest.mark.parametrize("bad_path", ["../etc/passwd", "/abs", "a/../b", "a//b", "./a"])
def test_unsafe_paths_refused(bad_path):
    with pytest.raises(UnsafePathError):
        Manifest.decode(_raw({"format": 1, "files": [_entry(bad_path)]}))


@pytest.mark.parametrize(
    "doc",
    [
        {"format": 3, "files": []},
        {"format": 1},
        {"format": 1, "files": [_entry(size=-1)]},
        {"format": 1, "files": [_entry(sha256="xyz")]},
        {"format": 1, "files": [_entry(method="lzma")]},
        {"format": 1, "files": [_entry(length=5)]},
        {"format": 1, "files": [_entry("b"), _entry("a")]},
        {"format": 1, "files": [_entry("a"), _entry("a")]},
        {"format": 1, "files": [{"path": "a"}]},
    ],
)
def test_malformed_refused(doc):
    with pytest.raises(FormatError):
        Manifest.decode(_raw(doc))


def test_not_gzip_refused():
    with pytest.raises(FormatError):
        Manifest.decode(b"not a manifest")


def test_a_file_that_is_also_a_folder_is_refused():
    import gzip
    import json

    import pytest

    from gitdata.core.manifest import Manifest, file_folder_clash
    from gitdata.errors import FormatError

    h = "0" * 64
    entry = {"size": 0, "sha256": h, "chunk": h, "offset": 0, "length": 0}
    doc = {"format": 1, "files": [{"path": "a", **entry}, {"path": "a/b", **entry}]}
    data = gzip.compress(json.dumps(doc).encode(), mtime=0)
    with pytest.raises(FormatError, match="'a' is a file and also the folder of 'a/b'"):
        Manifest.decode(data)
    assert file_folder_clash(["a-x", "a/b/c", "ab"]) is None
    assert file_folder_clash(["x/y", "x/y/z/w"]) == ("x/y", "x/y/z/w")


def test_gunzip_matches_gzip_decompress_for_several_members():
    from gitdata.core.manifest import gunzip_bounded

    data = gzip.compress(b'{"format":1,') + b"\x00\x00" + gzip.compress(b'"files":[]}')
    assert gunzip_bounded(data, 100, "m") == gzip.decompress(data)
    assert Manifest.decode(data) == Manifest()
    with pytest.raises(FormatError, match="more than 10 bytes"):
        gunzip_bounded(data, 10, "m")
    with pytest.raises(FormatError, match="not valid gzip"):
        Manifest.decode(data[:-3])
    with pytest.raises(FormatError, match="not valid gzip"):
        Manifest.decode(gzip.compress(b"{}")[:-4] + b"xxxx")  # CRC / length trailer


def test_manifest_over_the_size_limit_is_not_written(monkeypatch):
    from gitdata.core import manifest as module

    monkeypatch.setattr(module, "MAX_MANIFEST_JSON", 100)
    entry = FileEntry("a" * 80, 1, "0" * 64, "1" * 64, 0, 1)
    with pytest.raises(FormatError, match="over the manifest limit"):
        Manifest([entry]).encode()


# ------------------------------------------------------------------ external files

_SHA = hashlib.sha256(b"x").hexdigest()


def test_links_round_trip_as_format_2_without_chunk_keys():
    link = link_entry("ext/a.csv", 1, _SHA, "s3://bucket/data/a.csv", '"etag-1"')
    plain = FileEntry("b.txt", 1, _SHA, _SHA, 0, 1)
    m = Manifest([link, plain])
    doc = json.loads(gzip.decompress(m.encode()))
    assert doc["format"] == 2
    assert doc["files"][1] == {
        "path": "ext/a.csv",
        "size": 1,
        "sha256": _SHA,
        "url": "s3://bucket/data/a.csv",
        "etag": '"etag-1"',
    }
    back = Manifest.decode(m.encode())
    assert back == m and back.chunks() == {_SHA} and back.links() == [link]
    # without links a manifest stays format 1, byte for byte as before
    assert json.loads(gzip.decompress(Manifest([plain]).encode()))["format"] == 1


def _link(**over):
    item = {"path": "a", "size": 1, "sha256": _SHA, "url": "file:///srv/a"}
    item.update(over)
    return item


@pytest.mark.parametrize(
    "doc",
    [
        {"format": 1, "files": [_link()]},  # links need format 2
        {"format": 2, "files": [_link(url="ftp://host/a")]},
        {"format": 2, "files": [_link(url="relative/a")]},
        {"format": 2, "files": [_link(url=7)]},
        {"format": 2, "files": [_link(etag="")]},
        {"format": 2, "files": [_link(chunk=_SHA)]},
        {"format": 2, "files": [_link(size=True)]},
        {"format": 2, "files": [_link(sha256="no")]},
        {"format": 2, "files": [_link(executable=True)]},  # a link has no mode
    ],
)
def test_malformed_links_refused(doc):
    with pytest.raises(FormatError):
        Manifest.decode(_raw(doc))


def test_unsafe_link_path_refused():
    with pytest.raises(UnsafePathError):
        Manifest.decode(_raw({"format": 2, "files": [_link(path="../a")]}))


# ------------------------------------------------------------------ executable files


def test_executable_is_written_only_when_set():
    plain = FileEntry("a.txt", 1, _SHA, _SHA, 0, 1)
    runnable = FileEntry("run.sh", 1, _SHA, _SHA, 0, 1, executable=True)
    doc = json.loads(gzip.decompress(Manifest([plain, runnable]).encode()))
    assert doc["format"] == 1
    assert "executable" not in doc["files"][0]
    assert list(doc["files"][1])[-1] == "executable" and doc["files"][1]["executable"] is True
    back = Manifest.decode(Manifest([plain, runnable]).encode())
    assert back.get("run.sh").executable and not back.get("a.txt").executable
    # a manifest without executables keeps its bytes: no key, no new format
    old = {"format": 1, "files": [_entry("a.txt", sha256=_SHA, chunk=_SHA)]}
    raw = json.dumps(old, separators=(",", ":")).encode()
    assert gzip.decompress(Manifest([plain]).encode()) == raw


@pytest.mark.parametrize("value", [False, 1, "true", None, [True]])
def test_executable_other_than_true_refused(value):
    with pytest.raises(FormatError, match="executable"):
        Manifest.decode(_raw({"format": 1, "files": [_entry(executable=value)]}))


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="ab/.-é", min_size=1, max_size=6), unique=True, max_size=30))
def test_the_streaming_clash_check_agrees_with_the_whole_list_one(paths):
    from gitdata.core.manifest import SortedClashCheck, file_folder_clash

    paths = sorted(paths, key=str.encode)
    check = SortedClashCheck()
    found = next((c for p in paths if (c := check.see(p)) is not None), None)
    assert (found is None) == (file_folder_clash(paths) is None)
    if found is not None:
        assert found[1].startswith(found[0] + "/")


def test_the_streaming_clash_check_needs_sorted_paths():
    from gitdata.core.manifest import SortedClashCheck

    check = SortedClashCheck()
    assert check.see("a") is None and check.see("a-b") is None and check.see("a.c/d") is None
    assert check.see("a/b") == ("a", "a/b")
    check = SortedClashCheck()
    check.see("b")
    with pytest.raises(FormatError, match="not strictly sorted"):
        check.see("a")
