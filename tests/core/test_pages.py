"""Paged manifests (format 3): encoding, lazy reading, deltas, shared pages, forgeries."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest

from gitdata.core import pages
from gitdata.core.manifest import METHOD_DEFLATE, FileEntry, Manifest, link_entry
from gitdata.core.pages import PagedManifest, encode_manifest, encode_paged
from gitdata.errors import FormatError, UnsafePathError

CHUNKS = [hashlib.sha256(b"chunk%d" % i).hexdigest() for i in range(7)]


def entry(i: int, tag: str = "") -> FileEntry:
    sha = hashlib.sha256(f"{i}{tag}".encode()).hexdigest()
    return FileEntry(
        f"d{i // 1000:03d}/f{i:06d}.bin", 100 + i % 7, sha, CHUNKS[i % 7], i * 10, 100 + i % 7
    )


def build(n: int) -> Manifest:
    return Manifest(entry(i) for i in range(n))


def store_of(*encoded: pages.EncodedManifest) -> dict[str, bytes]:
    objects: dict[str, bytes] = {}
    for enc in encoded:
        objects.update(enc.objects)
        objects[enc.sha256] = enc.root
    return objects


LOADS: list[str] = []


def read(enc: pages.EncodedManifest, objects: dict[str, bytes] | None = None) -> Manifest:
    """The manifest as a reader sees it; the objects it fetched go to LOADS."""
    objects = objects if objects is not None else store_of(enc)
    LOADS.clear()

    def load(sha: str) -> bytes:
        LOADS.append(sha)
        return objects[sha]

    return Manifest.decode(enc.root, "test", load)


def doc_of(data: bytes) -> dict[str, Any]:
    return json.loads(gzip.decompress(data))


def redo(doc: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)


def test_small_manifest_keeps_format_1_bytes():
    m = build(100)
    enc = encode_manifest(m)
    assert enc.objects == {} and enc.root == m.encode()
    assert doc_of(enc.root)["format"] == 1


def test_big_manifest_is_paged_and_reads_back():
    m = build(30_000)
    enc = encode_manifest(m)
    root = doc_of(enc.root)
    assert root["format"] == 3 and root["kind"] == "root" and root["count"] == 30_000
    assert len(root["pages"]) == len(enc.objects) >= 3
    assert all(p["count"] <= pages.PAGE_MAX_FILES for p in root["pages"])
    got = read(enc)
    assert isinstance(got, PagedManifest)
    assert len(got) == 30_000 and got.total_size == m.total_size
    assert got == m and list(got) == list(m)
    assert got.chunks() == set(CHUNKS)
    assert set(got.objects()) == set(enc.objects)


def test_one_lookup_reads_one_page():
    m = build(30_000)
    enc = encode_manifest(m)
    got = read(enc)
    assert got.get(entry(12_345).path) == entry(12_345)
    assert len(LOADS) == 1
    assert got.get("d012/nothing") is None and "zzz" not in got and "" not in got
    assert entry(0).path in got and entry(29_999).path in got


def test_page_boundaries_depend_on_paths_only():
    a = encode_paged(build(30_000))
    b = encode_paged(Manifest([*build(30_000), FileEntry("d029/zz", 1, "a" * 64, CHUNKS[0], 0, 1)]))
    shared = set(a.objects) & set(b.objects)
    assert len(shared) >= len(a.objects) - 1  # only the last page differs


def test_child_writes_a_delta_and_shares_every_page():
    parent = build(30_000)
    penc = encode_manifest(parent)
    pread = read(penc)
    files = parent.as_dict()
    del files[entry(5).path]  # removed
    files[entry(7).path] = entry(7, "changed")  # modified
    extra = FileEntry("d010/new.bin", 3, "b" * 64, CHUNKS[1], 0, 3)
    files[extra.path] = extra  # added
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, pread, pread.as_dict())
    assert len(cenc.objects) == 1  # the delta only
    root = doc_of(cenc.root)
    assert root["pages"] == doc_of(penc.root)["pages"]
    assert root["delta"]["files"] == 2 and root["delta"]["removed"] == 1
    got = read(cenc, store_of(penc, cenc))
    assert got == child
    assert got.get(entry(5).path) is None and got.get(entry(7).path) == entry(7, "changed")
    assert got.get(extra.path) == extra and len(got) == 30_000
    assert got.chunks() >= {e.chunk for e in child}


def test_grandchild_carries_the_delta_forward():
    parent = build(20_000)
    penc = encode_manifest(parent)
    p = read(penc)
    files = parent.as_dict()
    added = FileEntry("d001/added", 1, "c" * 64, CHUNKS[2], 0, 1)
    files[added.path] = added
    del files[entry(1).path]
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, p, p.as_dict())
    c = read(cenc, store_of(penc, cenc))
    files = c.as_dict()
    del files[added.path]  # added by the child, removed again
    files[entry(1).path] = entry(1)  # removed by the child, back as it was
    files[entry(2).path] = entry(2, "x")
    grand = Manifest.from_mapping(files)
    genc = encode_manifest(grand, c, c.as_dict())
    g = read(genc, store_of(penc, cenc, genc))
    assert g == grand
    delta = doc_of(next(iter(genc.objects.values())))
    assert [f[0] for f in delta["files"]] == [entry(1).path, entry(2).path]
    assert delta["removed"] == ["d001/added"]


def test_big_delta_pages_afresh_and_shares_untouched_pages(monkeypatch):
    monkeypatch.setattr(pages, "DELTA_MAX_FILES", 10)
    parent = build(30_000)
    penc = encode_manifest(parent)
    p = read(penc)
    files = parent.as_dict()
    for i in range(100):  # one folder changed
        files[entry(3000 + i).path] = entry(3000 + i, "new")
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, p, p.as_dict())
    assert "delta" not in doc_of(cenc.root)
    assert read(cenc, store_of(penc, cenc)) == child
    fresh = set(cenc.objects) - set(penc.objects)
    assert 1 <= len(fresh) <= 2 < len(cenc.objects)


def test_unchanged_child_has_the_parents_pages():
    parent = build(20_000)
    p = read(encode_manifest(parent))
    enc = encode_manifest(parent, p, p.as_dict())
    assert enc.objects == {} and doc_of(enc.root)["pages"] == [
        {"page": r.page, "first": r.first, "last": r.last, "count": r.count} for r in p.page_refs
    ]


def test_links_deflate_and_executables_round_trip(monkeypatch):
    monkeypatch.setattr(pages, "PAGED_FROM_FILES", 2)
    monkeypatch.setattr(pages, "PAGE_MIN_FILES", 1)
    monkeypatch.setattr(pages, "PAGE_MAX_FILES", 2)
    m = Manifest(
        [
            entry(1)._replace(method=METHOD_DEFLATE, length=50),
            entry(2)._replace(executable=True),
            link_entry("l/one", 5, "d" * 64, "https://example.com/x", '"e1"'),
            link_entry("l/two", 5, "e" * 64, "s3://b/k", None),
            entry(3),
        ]
    )
    enc = encode_manifest(m)
    assert len(enc.objects) == 3
    got = read(enc)
    assert got == m and [e.path for e in got.links()] == ["l/one", "l/two"]


def _from_columns(m: Manifest) -> list[tuple[str, int, str, str | None]]:
    """(path, size, sha256, url) of every file, as a listing's column batches give them."""
    out: list[tuple[str, int, str, str | None]] = []
    for batch in m.column_batches():
        urls = batch.urls if batch.urls is not None else [None] * len(batch.paths)
        out.extend(zip(batch.paths, batch.sizes, batch.sha256s, urls, strict=True))
    return out


def _expected_rows(m: Manifest) -> list[tuple[str, int, str, str | None]]:
    return [(e.path, e.size, e.sha256, e.url) for e in m]


def test_column_batches_list_every_file_of_a_paged_child_in_order():
    """Untouched pages come as their columns; pages the delta touches (an edit, a
    removal, an addition after the last page) come merged, as iteration gives them."""
    parent = build(30_000)
    penc = encode_manifest(parent)
    p = read(penc)
    files = p.as_dict()
    del files[entry(5).path]
    files[entry(20_007).path] = entry(20_007, "changed")
    files["zzz/last.bin"] = FileEntry("zzz/last.bin", 3, "b" * 64, CHUNKS[1], 0, 3)
    files["a/first.bin"] = FileEntry("a/first.bin", 4, "c" * 64, CHUNKS[2], 0, 4)
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, p, p.as_dict())
    assert "delta" in doc_of(cenc.root)
    got = read(cenc, store_of(penc, cenc))
    assert _from_columns(got) == _expected_rows(child)
    assert _from_columns(p) == _expected_rows(parent)
    assert len(list(got.column_batches())) == len(p.page_refs)  # one batch a page


def test_column_batches_of_pages_with_links_and_of_a_format_1_manifest(monkeypatch):
    small = build(10)
    assert _from_columns(small) == _expected_rows(small)
    assert _from_columns(Manifest()) == []
    monkeypatch.setattr(pages, "PAGED_FROM_FILES", 2)
    monkeypatch.setattr(pages, "PAGE_MIN_FILES", 1)
    monkeypatch.setattr(pages, "PAGE_MAX_FILES", 2)
    m = Manifest(
        [
            entry(1),
            link_entry("l/one", 5, "d" * 64, "https://example.com/x", None),
            entry(2)._replace(method=METHOD_DEFLATE, length=50),
            entry(3),
        ]
    )
    got = read(encode_manifest(m))
    assert _from_columns(got) == _expected_rows(m)
    assert [b.urls for b in got.column_batches() if b.urls is not None] == [
        [None, "https://example.com/x"]  # (d000/f000003.bin, l/one)
    ]


# ---------------------------------------------------------------- forged objects


def _paged(n: int = 20_000) -> tuple[pages.EncodedManifest, dict[str, Any], dict[str, bytes]]:
    enc = encode_manifest(build(n))
    return enc, doc_of(enc.root), store_of(enc)


READERS = ["entries", "columns"]


def _read_all(root: bytes, objects: dict[str, bytes], how: str = "entries") -> None:
    """Read the whole file list, as entries or as a listing's column batches."""
    m = Manifest.decode(root, "forged", objects.__getitem__)
    list(m) if how == "entries" else list(m.column_batches())


def _replace_page(
    objects: dict[str, bytes], root: dict[str, Any], i: int, page: dict[str, Any]
) -> bytes:
    data = redo(page)
    sha = hashlib.sha256(data).hexdigest()
    objects[sha] = data
    root["pages"][i]["page"] = sha
    return redo(root)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(kind="page"),
        lambda r: r.update(extra=1),
        lambda r: r.update(count="3"),
        lambda r: r["pages"].reverse(),
        lambda r: r["pages"][0].update(count=0),
        lambda r: r["pages"][0].update(first="zzz"),
        lambda r: r["pages"][0].update(page="nothex"),
        lambda r: r["pages"][1].update(first=r["pages"][0]["last"]),
        lambda r: r["pages"][0].update(first="../x"),
        lambda r: r.update(delta={"page": "a" * 64}),
    ],
)
@pytest.mark.parametrize("how", READERS)
def test_forged_roots_are_refused(change, how: str):
    _, root, objects = _paged()
    change(root)
    with pytest.raises((FormatError, UnsafePathError)):
        _read_all(redo(root), objects, how)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(kind="delta"),
        lambda p: p["files"].pop(),
        lambda p: p["files"].reverse(),
        lambda p: p["files"][3].__setitem__(3, 99),
        lambda p: p["files"][3].__setitem__(1, -1),
        lambda p: p["files"][3].__setitem__(1, 5.0),
        lambda p: p["files"][3].append({}),
        lambda p: p["files"][3].append({"method": "stored"}),
        lambda p: p["files"][3].append({"executable": False}),
        lambda p: p["files"][3].append({"method": "zstd"}),
        lambda p: p["files"][3].__setitem__(2, "A" * 64),
        lambda p: p["files"][3].pop(),
        lambda p: p["files"][3].__setitem__(0, "/etc/passwd"),
        lambda p: p["chunks"].append(p["chunks"][0]),
        lambda p: p["files"].__setitem__(3, [p["files"][3][0], 1, "a" * 64, {"url": "ftp://x"}]),
        lambda p: p["files"].__setitem__(3, [p["files"][3][0], 1, "a" * 64, {"etag": "x"}]),
    ],
)
@pytest.mark.parametrize("how", READERS)
def test_forged_pages_are_refused(change, how: str):
    _, root, objects = _paged()
    page = doc_of(objects[root["pages"][1]["page"]])
    change(page)
    with pytest.raises((FormatError, UnsafePathError)):
        _read_all(_replace_page(objects, root, 1, page), objects, how)


def test_a_root_that_lies_about_its_size_is_refused_when_read_whole():
    _, root, objects = _paged()
    root["size"] += 1
    data = redo(root)
    m = Manifest.decode(data, "forged", objects.__getitem__)
    assert m.total_size == build(20_000).total_size + 1  # trusted for a count
    with pytest.raises(FormatError, match="root says"):
        list(m)
    with pytest.raises(FormatError, match="root says"):
        list(Manifest.decode(data, "forged", objects.__getitem__).column_batches())


def test_a_delta_removing_and_writing_one_path_is_refused():
    parent = build(20_000)
    p = read(encode_manifest(parent))
    files = parent.as_dict()
    files[entry(1).path] = entry(1, "x")
    del files[entry(2).path]
    enc = encode_manifest(Manifest.from_mapping(files), p, p.as_dict())
    objects = store_of(encode_manifest(parent), enc)
    (delta_sha,) = enc.objects
    delta = doc_of(objects[delta_sha])
    delta["removed"].append(entry(1).path)
    delta["removed"].sort()
    data = redo(delta)
    sha = hashlib.sha256(data).hexdigest()
    objects[sha] = data
    root = doc_of(enc.root)
    root["delta"]["page"] = sha
    with pytest.raises(FormatError, match="both removed and written"):
        Manifest.decode(redo(root), "forged", objects.__getitem__).get("x")


@pytest.mark.parametrize("change", ["unsorted", "count"])
def test_a_delta_out_of_order_or_miscounted_is_refused(change):
    parent = build(20_000)
    penc = encode_manifest(parent)
    p = read(penc)
    files = p.as_dict()
    del files[entry(2).path]
    del files[entry(1).path]
    enc = encode_manifest(Manifest.from_mapping(files), p, p.as_dict())
    objects = store_of(penc, enc)
    root = doc_of(enc.root)
    if change == "unsorted":
        delta = doc_of(objects[root["delta"]["page"]])
        delta["removed"].reverse()
        data = redo(delta)
        objects[hashlib.sha256(data).hexdigest()] = data
        root["delta"]["page"] = hashlib.sha256(data).hexdigest()
    else:
        root["delta"]["removed"] = 1
    with pytest.raises(FormatError, match="sorted|count"):
        Manifest.decode(redo(root), "forged", objects.__getitem__).get("x")


def test_a_page_given_as_the_manifest_is_refused():
    enc, root, objects = _paged()
    page = objects[root["pages"][0]["page"]]
    with pytest.raises(FormatError, match="not a root"):
        Manifest.decode(page, "forged", objects.__getitem__)


def test_a_paged_manifest_needs_a_page_reader():
    enc, _, _ = _paged()
    with pytest.raises(FormatError, match="page reader"):
        Manifest.decode(enc.root, "x")


def test_a_page_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(pages, "MAX_OBJECT_JSON", 1000)
    enc, root, objects = _paged()
    with pytest.raises(FormatError, match="more than 1000 bytes"):
        _read_all(enc.root, objects)


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "..",
        "a/./b",
        "a/../b",
        "./a",
        "a/.",
        "/a",
        "a/",
        "a//b",
        "a\\b",
        "a\x00b",
        "c:x",
        "C:/x",
        "é:x",
        "1:x",
        "a:b",
        "\ud800x",
        "x" * 256,
        "a/" * 200 + "b",
        ("b/" * 130) + "c",
        "ok/name.txt",
        "dots.../x",
        "..a/b.",
        "ü/ñ/文件",
    ],
)
def test_bulk_page_checks_agree_with_entry_checks(path):
    """A plain page is checked in bulk first; it must accept exactly what the
    entry-by-entry rules (and a format 1 manifest) accept."""
    sha = "a" * 64
    v1 = {
        "format": 1,
        "files": [{"path": path, "size": 1, "sha256": sha, "chunk": sha, "offset": 0, "length": 1}],
    }
    page = {"format": 3, "kind": "page", "chunks": [sha], "files": [[path, 1, sha, 0, 0, 1]]}

    def outcome(fn) -> str:
        try:
            fn()
        except (FormatError, UnsafePathError):
            return "refused"
        return "read"

    try:
        v1_bytes = redo(v1)
    except UnicodeEncodeError:
        v1_bytes = gzip.compress(json.dumps(v1).encode(), mtime=0)  # \ud800 as an escape
        page_bytes = gzip.compress(json.dumps(page).encode(), mtime=0)
    else:
        page_bytes = redo(page)
    expected = outcome(lambda: Manifest.decode(v1_bytes, "v1"))
    got = outcome(lambda: pages._decode_entries(pages._load_doc(page_bytes, "p", "page"), "p"))
    assert got == expected


def test_a_childs_delta_is_checked_without_reading_a_page():
    parent = build(20_000)
    penc = encode_manifest(parent)
    p = read(penc)
    before = p.as_dict()
    files = dict(before)
    files[entry(3).path] = entry(3, "x")
    del files[entry(4).path]
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, p, before)
    decoded = read(cenc, store_of(penc, cenc))
    LOADS.clear()
    assert pages.reads_as_child(decoded, p, child, before) is True
    assert [sha for sha in LOADS if sha not in cenc.objects] == []  # no page was read
    other = dict(files)
    other[entry(9).path] = entry(9, "not in the delta")
    assert pages.reads_as_child(decoded, p, Manifest.from_mapping(other), before) is False
    fewer = dict(files)
    del fewer[entry(3).path]
    assert pages.reads_as_child(decoded, p, Manifest.from_mapping(fewer), before) is False
    assert pages.reads_as_child(read(penc), None, child, before) is None


def test_a_delta_that_drops_the_parents_delta_is_caught():
    parent = build(20_000)
    penc = encode_manifest(parent)
    p = read(penc)
    files = p.as_dict()
    files[entry(1).path] = entry(1, "child")
    cenc = encode_manifest(Manifest.from_mapping(files), p, p.as_dict())
    c = read(cenc, store_of(penc, cenc))
    files[entry(2).path] = entry(2, "grandchild")
    grand = Manifest.from_mapping(files)
    # a grandchild delta that forgot the child's change to entry 1
    forged = pages._encode_entries(pages.KIND_DELTA, [entry(2, "grandchild")], removed=[])
    sha = hashlib.sha256(forged).hexdigest()
    root = pages._encode_root(
        c.page_refs,
        (sha, pages.Delta({entry(2).path: entry(2, "grandchild")}, frozenset())),
        len(grand),
        grand.total_size,
    )
    objects = {**store_of(penc, cenc), sha: forged}
    decoded = Manifest.decode(root, "forged", objects.__getitem__)
    assert pages.reads_as_child(decoded, c, grand, c.as_dict()) is False
    assert decoded != grand


@pytest.mark.parametrize("delta_max", [8192, 10])
def test_narrowed_maps_give_the_same_change_set_and_summary(monkeypatch, delta_max):
    """Compared on only the paths where they can differ, a child and its parent (a
    delta, or fresh pages sharing the untouched ones) give the whole comparison."""
    from gitdata.core.lineage import diff
    from gitdata.core.summary import summarize

    monkeypatch.setattr(pages, "DELTA_MAX_FILES", delta_max)
    parent = build(30_000)
    p = read(encode_manifest(parent))
    objects = store_of(encode_manifest(parent))
    files = p.as_dict()
    for i in range(0, 30_000, 997):
        files[entry(i).path] = entry(i, "changed")
    for i in range(5, 30_000, 1499):
        del files[entry(i).path]
    moved = files.pop(entry(12_001).path)
    files["d012/renamed.bin"] = moved._replace(path="d012/renamed.bin")
    child = Manifest.from_mapping(files)
    cenc = encode_manifest(child, p, p.as_dict())
    objects.update(store_of(cenc))
    c = Manifest.decode(cenc.root, "child", objects.__getitem__)
    pair = pages.narrowed(p, c)
    assert pair is not None
    old, new = pair
    if delta_max > 100:  # a delta: only its paths (scattered changes repage everything)
        assert len(old) < 100
    assert diff(old, new) == diff(p.as_dict(), c.as_dict())
    assert summarize(old, new) == summarize(p.as_dict(), c.as_dict())
    assert pages.narrowed(c, p) is not None
    assert diff(*pages.narrowed(c, p)) == diff(c.as_dict(), p.as_dict())


def test_manifests_sharing_no_page_are_compared_whole():
    a = read(encode_manifest(build(20_000)))
    other = Manifest(entry(i, "other") for i in range(20_000))
    b = Manifest.decode(
        encode_manifest(other).root, "b", store_of(encode_manifest(other)).__getitem__
    )
    assert pages.narrowed(a, b) is None
    assert pages.narrowed(build(10), a) is None


def test_find_content_scans_the_hash_column_and_skips_links_and_changed_paths():
    parent = build(20_000)
    penc = encode_paged(parent)
    pm = read(penc)
    changed = entry(5, "changed")
    gone = entry(7)
    files = parent.as_dict()
    files[changed.path] = changed
    del files[gone.path]
    link = link_entry("zz/link", 3, entry(9).sha256, "https://example.com/x", None)
    files[link.path] = link
    child = Manifest(files.values())
    cenc = encode_manifest(child, pm, parent.as_dict())
    cm = read(cenc, store_of(penc, cenc))
    wanted = {entry(i).sha256 for i in (1, 5, 7, 9, 19_999)} | {changed.sha256, "0" * 64}
    got = cm.find_content(wanted)
    # 5 and 7 sit only at paths the child replaced or removed; 9 is also a link's
    assert set(got) == {entry(i).sha256 for i in (1, 9, 19_999)} | {changed.sha256}
    assert got[entry(1).sha256] == entry(1) and got[changed.sha256] == changed
    assert len(LOADS) == len(pm.page_refs) + 1  # every page once, and the delta
    plain = child.find_content(wanted)  # an unpaged manifest's scan: all current files
    assert plain == got


def test_find_content_checks_every_entry_it_returns():
    enc = encode_paged(build(20_000))
    objects = store_of(enc)
    first = doc_of(
        objects[pages.decode_root(doc_of(enc.root), "t", objects.__getitem__).page_refs[0].page]
    )
    first["files"][3][4] = -1  # a negative offset
    data = redo(first)
    sha = hashlib.sha256(data).hexdigest()
    root = doc_of(enc.root)
    root["pages"][0]["page"] = sha
    objects[sha] = data
    m = pages.decode_root(root, "t", objects.__getitem__)
    assert m.find_content({"0" * 64}) == {}  # no hit: the entry is not built
    with pytest.raises(FormatError):
        m.find_content({first["files"][3][2]})


@pytest.mark.parametrize(
    "change",
    ["clustered", "scattered", "at_the_ends", "a_whole_page_removed", "nothing"],
)
def test_a_compacted_child_is_paged_exactly_as_afresh_and_shares_untouched_pages(change):
    parent = build(30_000)
    penc = encode_paged(parent)
    pm = read(penc)
    files = parent.as_dict()
    if change == "clustered":
        for i in range(10_000, 10_300):
            files[entry(i).path] = entry(i, "new")
        for i in range(10_300, 10_400):
            del files[entry(i).path]
    elif change == "scattered":
        for i in range(0, 30_000, 97):
            files[entry(i).path] = entry(i, "new")
        for i in range(5, 30_000, 1001):
            del files[entry(i).path]
    elif change == "at_the_ends":
        first = FileEntry("a/first", 1, entry(0).sha256, CHUNKS[0], 0, 1)
        last = FileEntry("zz/last", 1, entry(0).sha256, CHUNKS[0], 0, 1)
        files[first.path] = first
        files[last.path] = last
    elif change == "a_whole_page_removed":
        for p in list(files)[: pm.page_refs[1].count + pm.page_refs[0].count]:
            if p >= pm.page_refs[1].first:
                del files[p]
    child = Manifest(files.values())
    old = parent.as_dict()
    upserts = {p: e for p, e in files.items() if old.get(p) != e}
    removed = [p for p in old if p not in files]
    enc = pages.encode_compacted(pm, upserts, removed, len(child), child.total_size)
    fresh = encode_paged(child)
    assert enc.root == fresh.root  # the same pages, cut at the same paths
    assert read(enc, store_of(penc, enc)) == child
    shared = {r.page for r in pm.page_refs} & enc.reaches
    assert enc.objects.keys() == enc.reaches - shared  # only pages not the parent's are new
    if change == "nothing":
        assert enc.objects == {}  # every page kept by reference
    if change in ("clustered", "at_the_ends"):
        assert len(shared) >= len(pm.page_refs) - 3


def test_compacting_a_child_of_a_child_with_a_delta_reads_back():
    parent = build(30_000)
    penc = encode_paged(parent)
    pm = read(penc)
    files = parent.as_dict()
    for i in range(0, 30_000, 500):
        files[entry(i).path] = entry(i, "mid")
    mid = Manifest(files.values())
    menc = encode_manifest(mid, pm, parent.as_dict())
    assert doc_of(menc.root).get("delta")  # the middle version is a delta
    mm = read(menc, store_of(penc, menc))
    for i in range(1, 30_000, 50):
        files[entry(i).path] = entry(i, "last")
    child = Manifest(files.values())
    before = mid.as_dict()
    upserts = {p: e for p, e in files.items() if before.get(p) != e}
    enc = pages.encode_compacted(mm, upserts, [], len(child), child.total_size)
    assert read(enc, store_of(penc, menc, enc)) == child
    assert "delta" not in doc_of(enc.root)


@pytest.mark.parametrize(
    "column, value",
    [
        (1, True),  # a JSON true is no size
        (1, 1.0),
        (1, -1),
        (5, True),  # nor a length (though True == 1)
        (5, 1.0),
        (5, 2),  # stored: length == size
        (4, True),
        (4, -1),
        (4, 0.0),
        (3, True),  # nor a chunk index
        (3, -1),
        (3, 1),  # past the chunk list
        (2, "A" * 64),  # hashes are lowercase hex
        (2, "a" * 63),
        (2, "é" * 64),
        (2, 7),
        (0, 7),
    ],
)
def test_bulk_page_checks_refuse_what_entry_checks_refuse(column: int, value: Any):
    """The column-by-column checks of a plain page accept a page only when every
    entry passes the entry-by-entry rules, and then give the same entries."""
    sha = "b" * 64
    good = [["a/x", 1, sha, 0, 0, 1], ["a/y", 1, sha, 0, 5, 1]]
    bad = [list(row) for row in good]
    bad[1][column] = value
    for files in (good, bad):
        try:
            expected = [pages._entry_from_array(r, [sha], "p", i) for i, r in enumerate(files)]
        except (FormatError, UnsafePathError):
            expected = None
        columns = pages._plain_columns(files, [sha])
        got = None if columns is None else pages._plain_entries(columns, [sha])
        assert got is None or got == expected, (files, got)
        assert (files is good) == (got is not None)


def test_sorted_entries_page_as_a_whole_manifest_does():
    m = build(30_000)
    enc, count, size = pages.encode_sorted(iter(m))
    whole = encode_paged(m)
    assert (count, size) == (30_000, m.total_size)
    assert enc.root == whole.root and enc.objects == whole.objects
    assert read(enc) == m


@pytest.mark.parametrize("order", ["reversed", "repeated"])
def test_entries_out_of_order_are_refused(order: str):
    listed = list(build(50))
    listed = listed[::-1] if order == "reversed" else [*listed[:10], listed[9], *listed[10:]]
    with pytest.raises(FormatError, match="not strictly sorted"):
        pages.encode_sorted(listed)
