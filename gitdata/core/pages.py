"""Paged manifests (format 3, docs/format.md section 4b).

A big version's file list is split by path into *pages*, separate objects named by
their hash, and a small *root* object lists them: reading one file reads the root and
one page, a listing streams page by page, and a child that changes a few files writes
a small *delta* object (its changes against the parent's pages) and a new root that
shares every page with the parent.  When the delta grows past a bound the child is
paged afresh; page boundaries depend on the paths alone, so the pages a change did not
touch come out byte-identical and are shared with the parent by hash.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import operator
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from gitdata.core.manifest import (
    METHOD_DEFLATE,
    METHOD_STORED,
    FileColumns,
    FileEntry,
    Manifest,
    brief_value,
    check_entry_path,
    check_stored_numbers,
    columns_of,
    is_hex64,
    link_entry,
    link_fields_problem,
    load_gzip_json,
    prefix_columns,
    prefix_end,
)
from gitdata.core.paths import SHORT_PATH_CHARS, brief_path, limit_problem
from gitdata.errors import FormatError

PAGED_FORMAT = 3
# A writer pages a manifest with more entries than this; smaller ones stay format 1/2.
PAGED_FROM_FILES = 8192
# Page boundaries: a page ends after a path whose CRC-32 has these low bits all zero
# (about one path in 2,048), once it holds PAGE_MIN_FILES entries; it ends at
# PAGE_MAX_FILES whatever the paths.
PAGE_MIN_FILES = 512
PAGE_CUT_MASK = 2047
PAGE_MAX_FILES = 8192
# A child whose delta against its parent's pages would hold more entries than this is
# paged afresh instead.
DELTA_MAX_FILES = 8192
# Reader limits: a page or delta holds at most this many entries, and no object of a
# paged manifest decompresses to more than MAX_OBJECT_JSON bytes.
MAX_PAGE_FILES = 65536
MAX_OBJECT_JSON = 64 * 1024 * 1024
MAX_PAGES = 1 << 20
# Decoded pages a reader keeps (a lookup in a recently read page costs no decode).
_PAGE_MEMO = 16

KIND_ROOT = "root"
KIND_PAGE = "page"
KIND_DELTA = "delta"

Loader = Callable[[str], bytes]
_PATH = operator.itemgetter(0)  # FileEntry.path
_SIZE = operator.itemgetter(1)  # FileEntry.size


@dataclass(frozen=True, slots=True)
class PageRef:
    """One page as the root lists it: its object, its first and last path, and how
    many entries it holds."""

    page: str
    first: str
    last: str
    count: int


@dataclass(frozen=True, slots=True)
class Delta:
    """A root's delta: entries that replace or add paths, and paths removed."""

    upserts: dict[str, FileEntry]
    removed: frozenset[str]


@dataclass(frozen=True)
class EncodedManifest:
    """A manifest ready to store: the root bytes (the object the record names) and
    every other object it reaches (pages, delta) by hash.  Format 1/2: ``objects``
    is empty."""

    root: bytes
    objects: dict[str, bytes]
    # every page and delta the root names: ``objects`` and those it shares with a parent
    reaches: frozenset[str] = frozenset()
    pages: tuple[PageRef, ...] = ()  # the pages the root lists, in order

    @property
    def sha256(self) -> str:
        """The manifest's key: the hash of the root bytes."""
        return hashlib.sha256(self.root).hexdigest()


# ------------------------------------------------------------------ writing


def _gzip(doc: Mapping[str, Any]) -> bytes:
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=1, mtime=0)


def _entry_array(e: FileEntry, chunk_index: dict[str, int]) -> list[Any]:
    if e.is_link:
        link: dict[str, Any] = {"url": e.url}
        if e.etag is not None:
            link["etag"] = e.etag
        return [e.path, e.size, e.sha256, link]
    index = chunk_index.setdefault(e.chunk, len(chunk_index))
    item: list[Any] = [e.path, e.size, e.sha256, index, e.offset, e.length]
    options: dict[str, Any] = {}
    if e.method != METHOD_STORED:
        options["method"] = e.method
    if e.executable:
        options["executable"] = True
    if options:
        item.append(options)
    return item


def _encode_entries(kind: str, entries: Iterable[FileEntry], **extra: Any) -> bytes:
    chunk_index: dict[str, int] = {}
    files = [_entry_array(e, chunk_index) for e in entries]
    doc: dict[str, Any] = {"format": PAGED_FORMAT, "kind": kind, "chunks": list(chunk_index)}
    doc["files"] = files
    doc.update(extra)
    return _gzip(doc)


def _is_cut(path: str, held: int) -> bool:
    if held >= PAGE_MAX_FILES:
        return True
    return held >= PAGE_MIN_FILES and zlib.crc32(path.encode("utf-8")) & PAGE_CUT_MASK == 0


def _paginate(entries: list[FileEntry]) -> Iterator[list[FileEntry]]:
    """Sorted entries cut into pages at path-defined boundaries."""
    page: list[FileEntry] = []
    for e in entries:
        page.append(e)
        if _is_cut(e.path, len(page)):
            yield page
            page = []
    if page:
        yield page


def _encode_root(
    pages: list[PageRef], delta: tuple[str, Delta] | None, count: int, size: int
) -> bytes:
    doc: dict[str, Any] = {
        "format": PAGED_FORMAT,
        "kind": KIND_ROOT,
        "count": count,
        "size": size,
        "pages": [
            {"page": p.page, "first": p.first, "last": p.last, "count": p.count} for p in pages
        ],
    }
    if delta is not None:
        sha, d = delta
        doc["delta"] = {"page": sha, "files": len(d.upserts), "removed": len(d.removed)}
    return _gzip(doc)


def encode_paged(manifest: Manifest) -> EncodedManifest:
    """``manifest`` written as a root and fresh pages (no delta)."""
    objects: dict[str, bytes] = {}
    refs: list[PageRef] = []
    for page in _paginate(list(manifest)):
        data = _encode_entries(KIND_PAGE, page)
        sha = hashlib.sha256(data).hexdigest()
        objects[sha] = data
        refs.append(PageRef(sha, page[0].path, page[-1].path, len(page)))
    root = _encode_root(refs, None, len(manifest), manifest.total_size)
    return EncodedManifest(root, objects, frozenset(objects))


def _checked_page(page: list[FileEntry]) -> tuple[PageRef, bytes]:
    """``page`` encoded, decoded back and compared with what was meant (FormatError
    when it differs); its reference and bytes."""
    data = _encode_entries(KIND_PAGE, page)
    source = "a page being written"
    if _decode_entries(_load_doc(data, source, KIND_PAGE), source) != page:
        raise FormatError("a manifest page does not read back as written", file=source)
    sha = hashlib.sha256(data).hexdigest()
    return PageRef(sha, page[0].path, page[-1].path, len(page)), data


# told of each page a writer encodes and checked, with its entries (e.g. to remember
# the page's columns for later syncs: ops/basecolumns)
PageHook = Callable[[PageRef, list[FileEntry]], None]


def encode_sorted(
    entries: Iterable[FileEntry], on_page: PageHook | None = None
) -> tuple[EncodedManifest, int, int]:
    """A paged manifest (no delta) of ``entries``, which MUST come strictly sorted by
    their paths' UTF-8 bytes, one page in memory at a time; with its file count and
    total size.  Each page is decoded back and compared with what was meant before it
    is kept (FormatError otherwise, or when the entries are not sorted), then given to
    ``on_page``."""
    objects: dict[str, bytes] = {}
    refs: list[PageRef] = []
    page: list[FileEntry] = []
    count = size = 0
    last: bytes | None = None

    def flush() -> None:
        ref, data = _checked_page(page)
        objects[ref.page] = data
        refs.append(ref)
        if on_page is not None:
            on_page(ref, page)

    for e in entries:
        key = _key(e)
        if last is not None and key <= last:
            raise FormatError(f"manifest paths not strictly sorted at {e.path!r}")
        last = key
        count += 1
        size += e.size
        page.append(e)
        if _is_cut(e.path, len(page)):
            flush()
            page = []
    if page:
        flush()
    root = _encode_root(refs, None, count, size)
    return EncodedManifest(root, objects, frozenset(objects), tuple(refs)), count, size


def encode_manifest(
    manifest: Manifest,
    parent: Manifest | None = None,
    parent_files: Mapping[str, FileEntry] | None = None,
) -> EncodedManifest:
    """The objects that store ``manifest``.

    Up to :data:`PAGED_FROM_FILES` entries: one format 1/2 object.  Beyond, paged; when
    ``parent`` is paged and ``parent_files`` is what it reads as, the child shares the
    parent's pages and stores its changes in a delta while that stays small."""
    if len(manifest) <= PAGED_FROM_FILES:
        return EncodedManifest(manifest.encode(), {})
    if isinstance(parent, PagedManifest) and parent_files is not None:
        delta = _child_delta(manifest, parent, parent_files)
        if delta is not None:
            pages = frozenset(r.page for r in parent.page_refs)
            if not delta.upserts and not delta.removed:
                root = _encode_root(parent.page_refs, None, len(manifest), manifest.total_size)
                return EncodedManifest(root, {}, pages)
            data = _encode_entries(
                KIND_DELTA,
                sorted(delta.upserts.values(), key=_key),
                removed=sorted(delta.removed, key=_bytes),
            )
            sha = hashlib.sha256(data).hexdigest()
            root = _encode_root(parent.page_refs, (sha, delta), len(manifest), manifest.total_size)
            return EncodedManifest(root, {sha: data}, pages | {sha})
    return encode_paged(manifest)


def is_paged_size(count: int) -> bool:
    """Whether a manifest of ``count`` files is written paged."""
    return count > PAGED_FROM_FILES


def encode_child(
    parent: PagedManifest,
    upserts: Mapping[str, FileEntry],
    removed: Iterable[str],
    count: int,
    size: int,
) -> EncodedManifest | None:
    """A child of the paged ``parent`` from its changes alone: ``upserts`` (entries that
    differ from what the parent reads as) and ``removed`` (parent paths it deleted);
    ``count`` and ``size`` are the child's totals.  The root keeps the parent's pages
    and the delta combines the parent's with the child's changes; None when that delta
    would pass :data:`DELTA_MAX_FILES` (page the child afresh instead)."""
    delta = combined_delta(parent, upserts, removed)
    if delta is None:
        return None
    pages = frozenset(r.page for r in parent.page_refs)
    listed = tuple(parent.page_refs)
    if not delta.upserts and not delta.removed:
        root = _encode_root(parent.page_refs, None, count, size)
        return EncodedManifest(root, {}, pages, listed)
    data = _encode_entries(
        KIND_DELTA,
        sorted(delta.upserts.values(), key=_key),
        removed=sorted(delta.removed, key=_bytes),
    )
    sha = hashlib.sha256(data).hexdigest()
    root = _encode_root(parent.page_refs, (sha, delta), count, size)
    return EncodedManifest(root, {sha: data}, pages | {sha}, listed)


def encode_compacted(
    parent: PagedManifest,
    upserts: Mapping[str, FileEntry],
    removed: Iterable[str],
    count: int,
    size: int,
    on_page: PageHook | None = None,
) -> EncodedManifest:
    """A child of the paged ``parent`` paged afresh, without a delta, from the parent's
    pages and the changes (the parent's delta and the child's ``upserts`` and
    ``removed``), one page in memory at a time.

    Every page is cut where a page is cut (:func:`_paginate`) and starts right after a
    cut, so where the new pages reach the start of a parent page that no change falls
    in, the rest of that page comes out the same: it is kept by reference, never read.
    Only the pages changes fall in (and those after them up to the next page boundary
    both share) are decoded, merged and encoded again.  Each fresh page is decoded back
    and compared with what was meant before it is kept, then given to ``on_page``."""
    ups, gone = _with_changes(parent.delta, upserts, removed)
    touched = sorted(ups.keys() | gone, key=_bytes)
    pending = sorted(ups.values(), key=_key)
    refs = parent.page_refs
    kept = {r.page for r in refs}
    out: list[PageRef] = []
    objects: dict[str, bytes] = {}
    page: list[FileEntry] = []

    def flush() -> None:
        ref, data = _checked_page(page)
        if ref.page not in kept:
            objects[ref.page] = data
        out.append(ref)
        if on_page is not None:
            on_page(ref, page)

    all_gone = frozenset(gone)
    t = k = 0
    for i, ref in enumerate(refs):
        nxt = refs[i + 1].first if i + 1 < len(refs) else None

        def before_next(path: str) -> bool:
            return nxt is None or _bytes(path) < _bytes(nxt)  # noqa: B023 (used at once)

        changed = t < len(touched) and before_next(touched[t])
        while t < len(touched) and before_next(touched[t]):
            t += 1
        if not page and not changed:
            out.append(ref)  # starts right after a cut, nothing changed in it: the same
            continue
        upto = k
        while upto < len(pending) and before_next(pending[upto].path):
            upto += 1
        part = Delta({e.path: e for e in pending[k:upto]}, all_gone)
        k = upto
        for e in _overlay(iter(parent._page(i)[1]), part):
            page.append(e)
            if _is_cut(e.path, len(page)):
                flush()
                page = []
    for e in pending[k:]:  # (none once there is a page: the last takes every later one)
        page.append(e)
        if _is_cut(e.path, len(page)):
            flush()
            page = []
    if page:
        flush()
    if sum(r.count for r in out) != count:
        raise FormatError("the pages of a compacted manifest do not add up to its count")
    root = _encode_root(out, None, count, size)
    return EncodedManifest(root, objects, frozenset(r.page for r in out), tuple(out))


def _with_changes(
    base: Delta, upserts: Mapping[str, FileEntry], removed: Iterable[str]
) -> tuple[dict[str, FileEntry], set[str]]:
    """``base``'s upserts and removed paths with a child's changes applied."""
    out = dict(base.upserts)
    gone = set(base.removed)
    for path, e in upserts.items():
        out[path] = e
        gone.discard(path)
    for path in removed:
        out.pop(path, None)
        gone.add(path)
    return out, gone


def combined_delta(
    parent: PagedManifest, upserts: Mapping[str, FileEntry], removed: Iterable[str]
) -> Delta | None:
    """The parent's delta with a child's changes applied (None past the bound)."""
    out, gone = _with_changes(parent.delta, upserts, removed)
    if len(out) + len(gone) > DELTA_MAX_FILES:
        return None
    return Delta(out, frozenset(gone))


def reads_as_delta(
    decoded: Manifest, written: EncodedManifest, expected: Delta, count: int, size: int
) -> bool:
    """Whether ``decoded`` (a child's root read back) lists exactly the pages ``written``
    reaches and holds exactly the ``expected`` delta and totals: then it reads as the
    child (fresh pages were checked as they were written, the others are the parent's)."""
    if not isinstance(decoded, PagedManifest) or decoded.page_refs != list(written.pages):
        return False
    if set(decoded.objects()) != written.reaches:
        return False
    if len(decoded) != count or decoded.total_size != size:
        return False
    return decoded.delta.upserts == expected.upserts and decoded.delta.removed == expected.removed


def _child_delta(
    manifest: Manifest, parent: PagedManifest, parent_files: Mapping[str, FileEntry]
) -> Delta | None:
    """The child's delta against the parent's pages, or None when it would pass the bound."""
    base = parent.delta
    upserts = dict(base.upserts)
    removed = set(base.removed)
    for e in manifest:
        if parent_files.get(e.path) != e:
            upserts[e.path] = e
            removed.discard(e.path)
            if len(upserts) + len(removed) > DELTA_MAX_FILES:
                return None
    for path in parent_files:
        if path not in manifest:
            upserts.pop(path, None)
            removed.add(path)
            if len(upserts) + len(removed) > DELTA_MAX_FILES:
                return None
    return Delta(upserts, frozenset(removed))


def reads_as_child(
    decoded: Manifest,
    parent: Manifest | None,
    manifest: Manifest,
    parent_files: Mapping[str, FileEntry] | None,
) -> bool | None:
    """Whether ``decoded``, a child's root that keeps its paged ``parent``'s pages,
    reads as ``manifest``, checked from its delta and ``parent_files`` (what the parent
    reads as) without reading a page; None when ``decoded`` is not such a root."""
    if not (
        isinstance(decoded, PagedManifest)
        and isinstance(parent, PagedManifest)
        and parent_files is not None
        and decoded.page_refs == parent.page_refs
    ):
        return None
    delta, before = decoded.delta, parent.delta
    touched = delta.upserts.keys() | delta.removed
    # a path neither delta names reads from the pages as it does in the parent
    if not (before.upserts.keys() | before.removed) <= touched:
        return False
    if len(decoded) != len(manifest) or decoded.total_size != manifest.total_size:
        return False
    if any(manifest.get(p) != e for p, e in delta.upserts.items()):
        return False
    if any(p in manifest for p in delta.removed):
        return False
    if any(e.path not in touched and parent_files.get(e.path) != e for e in manifest):
        return False
    return all(p in touched or p in manifest for p in parent_files)


def _key(e: FileEntry) -> bytes:
    return e.path.encode("utf-8")


def _bytes(path: str) -> bytes:
    return path.encode("utf-8")


# ------------------------------------------------------------------ reading


def _load_doc(data: bytes, source: str, kind: str) -> dict[str, Any]:
    doc = load_gzip_json(data, MAX_OBJECT_JSON, source)
    if not isinstance(doc, dict) or doc.get("format") != PAGED_FORMAT or doc.get("kind") != kind:
        raise FormatError(
            f"manifest {source} is not a format {PAGED_FORMAT} {kind} object", file=source
        )
    return doc


def _count(value: Any, source: str, what: str) -> int:
    if type(value) is not int or value < 0:
        raise FormatError(f"manifest {source}: bad {what} {brief_value(value)}", file=source)
    return value


def decode_root(doc: dict[str, Any], source: str, load: Loader | None) -> PagedManifest:
    """A format 3 root document (already parsed) as a lazily read manifest."""
    if doc.get("kind") != KIND_ROOT:
        raise FormatError(
            f"manifest {source} is a format 3 {doc.get('kind')!r} object, not a root", file=source
        )
    if load is None:
        raise FormatError(f"manifest {source} is paged and no page reader was given", file=source)
    count = _count(doc.get("count"), source, "count")
    size = _count(doc.get("size"), source, "size")
    raw_pages = doc.get("pages")
    if not isinstance(raw_pages, list) or len(raw_pages) > MAX_PAGES:
        raise FormatError(f"manifest {source} has no valid 'pages' list", file=source)
    refs: list[PageRef] = []
    previous: str | None = None
    for i, item in enumerate(raw_pages):
        if not isinstance(item, dict) or set(item) != {"page", "first", "last", "count"}:
            raise FormatError(f"manifest {source}: page #{i} is malformed", file=source)
        sha, first, last = item["page"], item["first"], item["last"]
        n = _count(item["count"], source, f"count of page #{i}")
        if not (isinstance(sha, str) and is_hex64(sha)):
            raise FormatError(f"manifest {source}: page #{i} has a bad hash", file=source)
        check_entry_path(first, source, i)
        check_entry_path(last, source, i)
        if not 0 < n <= MAX_PAGE_FILES or first > last or (n == 1) != (first == last):
            raise FormatError(f"manifest {source}: page #{i} has a bad range or count", file=source)
        if previous is not None and first <= previous:
            raise FormatError(
                f"manifest {source}: pages not sorted by path at page #{i} ({brief_path(first)})",
                file=source,
            )
        previous = last
        refs.append(PageRef(sha, first, last, n))
    delta_sha: str | None = None
    delta_ref = doc.get("delta")
    if delta_ref is not None:
        if not isinstance(delta_ref, dict) or set(delta_ref) != {"page", "files", "removed"}:
            raise FormatError(f"manifest {source}: the delta reference is malformed", file=source)
        delta_sha = delta_ref["page"]
        if not (isinstance(delta_sha, str) and is_hex64(delta_sha)):
            raise FormatError(f"manifest {source}: the delta has a bad hash", file=source)
        _count(delta_ref["files"], source, "delta file count")
        _count(delta_ref["removed"], source, "delta removed count")
    extra = set(doc) - {"format", "kind", "count", "size", "pages", "delta"}
    if extra:
        raise FormatError(f"manifest {source}: unknown root keys {sorted(extra)}", file=source)
    return PagedManifest(refs, delta_sha, delta_ref, count, size, load, source)


def _checked_lists(doc: dict[str, Any], source: str) -> tuple[list[str], list[Any]]:
    """A page or delta document's chunk list (checked) and its raw file list."""
    chunks = doc.get("chunks")
    files = doc.get("files")
    if not isinstance(chunks, list) or not isinstance(files, list) or len(files) > MAX_PAGE_FILES:
        raise FormatError(f"manifest {source} has no valid 'chunks' and 'files' lists", file=source)
    for c in chunks:
        if not (isinstance(c, str) and is_hex64(c)):
            raise FormatError(f"manifest {source}: bad chunk hash {brief_value(c)}", file=source)
    if len(set(chunks)) != len(chunks):
        raise FormatError(f"manifest {source}: a chunk is listed twice", file=source)
    return chunks, files


def _decode_entries(doc: dict[str, Any], source: str) -> list[FileEntry]:
    chunks, files = _checked_lists(doc, source)
    columns = _plain_columns(files, chunks)
    if columns is not None:
        return _plain_entries(columns, chunks)
    out: list[FileEntry] = []
    previous: str | None = None
    for i, item in enumerate(files):
        e = _entry_from_array(item, chunks, source, i)
        if previous is not None and e.path <= previous:
            raise FormatError(
                f"manifest {source}: entries not strictly sorted by path at #{i} "
                f"({brief_path(e.path)})",
                file=source,
            )
        previous = e.path
        out.append(e)
    return out


_HEX_DIGITS = b"0123456789abcdef"
_PlainColumns = tuple[tuple[Any, ...], ...]  # paths, sizes, shas, indexes, offsets, lengths


def _plain_columns(files: list[Any], chunks: list[str]) -> _PlainColumns | None:
    """The columns of a page of plain stored files (6-element arrays) checked in bulk,
    or None when anything needs the entry-by-entry check (which then names the fault).

    Conservative by construction: it accepts only what :func:`_entry_from_array` would.
    Every check runs over whole columns in C (``map``, ``set``, ``min``, tuple
    equality): a page is a few thousand entries and a sync decodes hundreds of pages."""
    if not files:
        return ((), (), (), (), (), ())
    try:
        if set(map(type, files)) != {list} or set(map(len, files)) != {6}:
            return None
        columns = tuple(zip(*files, strict=True))
        paths, sizes, shas, indexes, offsets, lengths = columns
        joined = "\x00".join(paths)  # TypeError unless every path is a str
        if joined.count("\x00") != len(paths) - 1 or "\\" in joined:
            return None  # a NUL or a backslash inside a path
        # with every path between slashes, "//" is an empty path or component or a
        # leading or trailing "/", and "/./" or "/../" a dot component
        slashed = "/" + joined.replace("\x00", "/") + "/"
        if "//" in slashed or "/./" in slashed or "/../" in slashed:
            return None
        if ":" in joined and any(p[1:2] == ":" for p in paths):
            return None  # perhaps a drive letter: the entry-by-entry check decides
        joined.encode("utf-8")  # UnicodeEncodeError for a lone surrogate
        if max(map(len, paths)) > SHORT_PATH_CHARS and any(
            limit_problem(p) for p in paths if len(p) > SHORT_PATH_CHARS
        ):
            return None
        if not all(map(str.__lt__, paths, paths[1:])):
            return None
        if set(map(type, shas)) != {str} or set(map(len, shas)) != {64}:
            return None
        if "".join(shas).encode("ascii").translate(None, _HEX_DIGITS):
            return None  # not lowercase hex (a regular expression took 7 ns a character)
        # type() is exact: a JSON true or false (a bool) is no integer here
        numbers = (sizes, offsets, lengths, indexes)
        if set().union(*(map(type, column) for column in numbers)) != {int}:
            return None
        # stored entries: length == size (so lengths are >= 0 as well)
        if sizes != lengths or min(sizes) < 0 or min(offsets) < 0:
            return None
        if min(indexes) < 0 or max(indexes) >= len(chunks):
            return None
    except (TypeError, UnicodeEncodeError):
        return None
    return columns


def _plain_entries(columns: _PlainColumns, chunks: list[str]) -> list[FileEntry]:
    """The entries of :func:`_plain_columns`' checked columns."""
    if not columns[0]:
        return []
    paths, sizes, shas, indexes, offsets, lengths = columns
    new = tuple.__new__  # FileEntry's own __new__ is a Python function: skip it
    rows = zip(
        paths,
        sizes,
        shas,
        map(chunks.__getitem__, indexes),
        offsets,
        lengths,
        repeat(METHOD_STORED),
        repeat(None),
        repeat(None),
        repeat(False),
    )
    return list(map(new, repeat(FileEntry), rows))


def _entry_from_array(item: Any, chunks: list[str], source: str, i: int) -> FileEntry:
    if type(item) is not list or len(item) not in (4, 6, 7):
        raise FormatError(
            f"manifest {source}: entry #{i} is not a 4, 6 or 7 element array", file=source
        )
    path, size, sha = item[0], item[1], item[2]
    check_entry_path(path, source, i)
    if not (isinstance(sha, str) and is_hex64(sha)):
        raise FormatError(f"manifest {source}: bad sha256 for {brief_path(path)}", file=source)
    if len(item) == 4:
        link = item[3]
        if type(link) is not dict or not set(link) <= {"url", "etag"} or "url" not in link:
            raise FormatError(f"manifest {source}: bad link of {brief_path(path)}", file=source)
        problem = link_fields_problem(size, link["url"], link.get("etag"))
        if problem:
            raise FormatError(f"manifest {source}: {problem} for {brief_path(path)}", file=source)
        return link_entry(path, size, sha, link["url"], link.get("etag"))
    index, offset, length = item[3], item[4], item[5]
    if type(index) is not int or not 0 <= index < len(chunks):
        raise FormatError(f"manifest {source}: bad chunk index for {brief_path(path)}", file=source)
    method, executable = METHOD_STORED, False
    if len(item) == 7:
        options = item[6]
        if type(options) is not dict or not options or not set(options) <= {"method", "executable"}:
            raise FormatError(f"manifest {source}: bad options of {brief_path(path)}", file=source)
        if "method" in options:
            method = options["method"]
            if method != METHOD_DEFLATE:
                raise FormatError(
                    f"manifest {source}: unknown method {brief_value(method)} for {brief_path(path)}",
                    file=source,
                )
        if "executable" in options:
            if options["executable"] is not True:
                raise FormatError(
                    f"manifest {source}: 'executable' of {brief_path(path)} is "
                    f"{brief_value(options['executable'])}; only true may be written",
                    file=source,
                )
            executable = True
    check_stored_numbers(path, size, offset, length, method, source)
    return FileEntry(path, size, sha, chunks[index], offset, length, method, executable=executable)


class PagedManifest(Manifest):
    """A format 3 manifest read lazily: pages are fetched (through ``load``, which
    returns an object's verified bytes) and decoded when a lookup or a listing needs
    them.  Same reading API as :class:`~gitdata.core.manifest.Manifest`."""

    __slots__ = (
        "page_refs",
        "_delta_counts",
        "_firsts",
        "_delta_sha",
        "_delta",
        "_count",
        "_size",
        "_load",
        "_source",
        "_memo",
        "_delta_paths",
    )

    def __init__(
        self,
        refs: list[PageRef],
        delta_sha: str | None,
        delta_ref: Mapping[str, Any] | None,
        count: int,
        size: int,
        load: Loader,
        source: str,
    ) -> None:
        self.page_refs = refs
        self._firsts = [r.first for r in refs]
        self._delta_sha = delta_sha
        self._delta_counts = (
            (delta_ref["files"], delta_ref["removed"]) if delta_ref is not None else (0, 0)
        )
        self._delta: Delta | None = None if delta_sha else Delta({}, frozenset())
        self._count = count
        self._size = size
        self._load = load
        self._source = source
        self._memo: dict[int, tuple[list[str], list[FileEntry]]] = {}
        self._delta_paths: list[str] | None = None

    # -------------------------------------------------------------- objects
    def objects(self) -> tuple[str, ...]:
        """Hashes of the pages and delta this root reaches."""
        extra = (self._delta_sha,) if self._delta_sha else ()
        return tuple(r.page for r in self.page_refs) + extra

    @property
    def delta(self) -> Delta:
        """The root's delta (empty when it has none), read on first use."""
        if self._delta is None:
            assert self._delta_sha is not None
            source = f"{self._source} delta {self._delta_sha[:12]}"
            doc = _load_doc(self._load(self._delta_sha), source, KIND_DELTA)
            entries = _decode_entries(doc, source)
            removed = doc.get("removed")
            if not isinstance(removed, list) or len(removed) > MAX_PAGE_FILES:
                raise FormatError(f"manifest {source} has no valid 'removed' list", file=source)
            for i, p in enumerate(removed):
                check_entry_path(p, source, i)
            if not all(map(str.__lt__, removed, removed[1:])):
                raise FormatError(
                    f"manifest {source}: removed paths not strictly sorted", file=source
                )
            upserts = {e.path: e for e in entries}
            gone = frozenset(removed)
            if gone & upserts.keys():
                raise FormatError(
                    f"manifest {source}: a path is both removed and written", file=source
                )
            if self._delta_counts != (len(upserts), len(gone)):
                raise FormatError(
                    f"manifest {source} does not hold what the root says (file or removed count)",
                    file=source,
                )
            self._delta = Delta(upserts, gone)
        return self._delta

    def _page(self, i: int) -> tuple[list[str], list[FileEntry]]:
        hit = self._memo.get(i)
        if hit is not None:
            return hit
        ref = self.page_refs[i]
        source = f"{self._source} page {ref.page[:12]}"
        entries = _decode_entries(_load_doc(self._load(ref.page), source, KIND_PAGE), source)
        if (
            len(entries) != ref.count
            or entries[0].path != ref.first
            or entries[-1].path != ref.last
        ):
            raise FormatError(
                f"manifest {source} does not hold what the root says (range or count)",
                file=source,
            )
        if len(self._memo) >= _PAGE_MEMO:
            self._memo.pop(next(iter(self._memo)))
        page = (list(map(_PATH, entries)), entries)
        self._memo[i] = page
        return page

    def page_entries(self, i: int) -> list[FileEntry]:
        """The entries of page ``i`` as its object holds them (verified and checked
        against its reference), the delta not applied; do not modify."""
        return self._page(i)[1]

    def touched_pages(self) -> frozenset[int]:
        """Indexes of the pages the delta changes as the file list reads them (an
        upsert placed in the page, as :meth:`__iter__` places it, or a removed path in
        its range): every other page reads as its object's entries."""
        delta = self.delta
        if not delta.upserts and not delta.removed:
            return frozenset()
        firsts = self._firsts
        out = {max(0, bisect.bisect_right(firsts, p) - 1) for p in delta.upserts}
        for p in delta.removed:
            i = bisect.bisect_right(firsts, p) - 1
            if i >= 0 and p <= self.page_refs[i].last:
                out.add(i)
        return frozenset(out)

    def page_view(self, i: int) -> list[FileEntry]:
        """Page ``i`` as the file list reads it: its entries with the delta's upserts
        placed in it and its removed paths dropped (see :meth:`touched_pages`)."""
        entries = self._page(i)[1]
        delta = self.delta
        if not delta.upserts and not delta.removed:
            return entries
        refs = self.page_refs
        low = refs[i].first if i > 0 else None
        high = refs[i + 1].first if i + 1 < len(refs) else None
        mine = {
            p: e
            for p, e in delta.upserts.items()
            if (low is None or p >= low) and (high is None or p < high)
        }
        return list(_overlay(iter(entries), Delta(mine, delta.removed)))

    def _base_get(self, path: str) -> FileEntry | None:
        i = bisect.bisect_right(self._firsts, path) - 1
        if i < 0 or path > self.page_refs[i].last:
            return None
        paths, entries = self._page(i)
        j = bisect.bisect_left(paths, path)
        return entries[j] if j < len(paths) and paths[j] == path else None

    def _base_entries(self) -> Iterator[FileEntry]:
        for i in range(len(self.page_refs)):
            entries = self._page(i)[1]
            self._memo.pop(i, None)  # a listing does not keep every page
            yield from entries

    # -------------------------------------------------------------- reading API
    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[FileEntry]:
        return self._walk()

    def _walk(self) -> Iterator[FileEntry]:
        """Every entry in path order: each page as decoded, the delta merged into the
        pages it touches (the others are passed on whole), the totals checked."""
        count = size = 0
        for i, part in self._plan():
            out = self._merged(i, part)
            count += len(out)
            size += sum(map(_SIZE, out))
            yield from out
        self._check_totals(count, size)

    def column_batches(self, prefix: str = "") -> Iterator[FileColumns]:
        """Every file in path order, a page at a time as columns: a page the delta does
        not touch is checked and passed on as its object's columns, with no
        :class:`FileEntry` built (a listing of a million files builds none).

        With ``prefix``, only the files whose path starts with it, from the pages
        whose range can hold them (the others are not read)."""
        count = size = 0
        end = prefix_end(prefix) if prefix else ""
        refs = self.page_refs
        for i, part in self._plan():
            if part is None:
                if prefix and (refs[i].last < prefix or refs[i].first >= end):
                    continue
                columns = self._page_columns(i)
            else:
                columns = columns_of(self._merged(i, part))
            if prefix:
                columns = prefix_columns(columns, prefix)
                if columns.paths:
                    yield columns
                continue
            count += len(columns.paths)
            size += sum(columns.sizes)
            yield columns
        if not prefix:
            self._check_totals(count, size)

    def _plan(self) -> Iterator[tuple[int, Delta | None]]:
        """Page by page, the part of the delta to merge into it (None: the page reads
        as its object's entries); a last ``(-1, delta)`` for upserts after every page
        (only when there are no pages)."""
        delta = self.delta
        pending = sorted(delta.upserts.values(), key=_key)
        removed = sorted(delta.removed)
        refs = self.page_refs
        k = 0
        for i in range(len(refs)):
            # the upserts sorting before the next page's first path merge into this one
            upto = len(pending)
            if i + 1 < len(refs):
                nxt = refs[i + 1].first
                upto = k
                while upto < len(pending) and pending[upto].path < nxt:
                    upto += 1
            r = bisect.bisect_left(removed, refs[i].first)
            if upto == k and not (r < len(removed) and removed[r] <= refs[i].last):
                yield i, None
            else:
                yield i, Delta({e.path: e for e in pending[k:upto]}, delta.removed)
                k = upto
        if k < len(pending):  # (none: the last page takes every later upsert)
            yield -1, Delta({e.path: e for e in pending[k:]}, frozenset())

    def _merged(self, i: int, part: Delta | None) -> list[FileEntry]:
        """Page ``i`` with ``part`` of the delta merged in (see :meth:`_plan`)."""
        if i < 0:
            assert part is not None
            return list(part.upserts.values())
        entries = self._page(i)[1]  # (the memo keeps the last few, as for lookups)
        return entries if part is None else list(_overlay(iter(entries), part))

    def _page_columns(self, i: int) -> FileColumns:
        hit = self._memo.get(i)
        if hit is not None:
            return columns_of(hit[1])
        ref = self.page_refs[i]
        source = f"{self._source} page {ref.page[:12]}"
        doc = _load_doc(self._load(ref.page), source, KIND_PAGE)
        chunks, files = _checked_lists(doc, source)
        plain = _plain_columns(files, chunks)
        if plain is None:  # the entry-by-entry decode names the fault or builds links
            return columns_of(self._page(i)[1])
        paths, sizes, shas = plain[0], plain[1], plain[2]
        if len(paths) != ref.count or paths[0] != ref.first or paths[-1] != ref.last:
            raise FormatError(
                f"manifest {source} does not hold what the root says (range or count)",
                file=source,
            )
        return FileColumns(paths, sizes, shas)

    def _check_totals(self, count: int, size: int) -> None:
        if count != self._count or size != self._size:
            raise FormatError(
                f"manifest {self._source} lists {count} files of {size} bytes, but its root "
                f"says {self._count} files of {self._size} bytes",
                file=self._source,
            )

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest) or len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def get(self, path: str) -> FileEntry | None:
        """The entry at ``path`` or None (reads at most the delta and one page)."""
        delta = self.delta
        hit = delta.upserts.get(path)
        if hit is not None:
            return hit
        if path in delta.removed:
            return None
        return self._base_get(path)

    def has_under(self, prefix: str, gone: Container[str] = frozenset()) -> bool:
        """Whether a path starting with ``prefix`` (a folder: ends with "/") reads from
        this manifest, not counting the paths in ``gone``; reads the delta and the
        pages where such paths would sort."""
        delta = self.delta
        if self._delta_paths is None:
            self._delta_paths = sorted(delta.upserts)
        written = self._delta_paths
        for p in written[bisect.bisect_left(written, prefix) :]:
            if not p.startswith(prefix):
                break
            if p not in gone:
                return True
        i = max(0, bisect.bisect_right(self._firsts, prefix) - 1)
        for k in range(i, len(self.page_refs)):
            if k > i and not self.page_refs[k].first.startswith(prefix):
                return False
            paths = self._page(k)[0]
            for q in paths[bisect.bisect_left(paths, prefix) :]:
                if not q.startswith(prefix):
                    return False
                if q not in gone and q not in delta.removed:
                    return True
        return False

    def find_content(self, shas: Container[str]) -> dict[str, FileEntry]:
        """content sha256 -> an entry that stores it, for each of ``shas`` a file of this
        manifest holds (links hold none).  Scans every page's hash column and builds
        (and fully checks) only the entries it returns."""
        delta = self.delta
        out: dict[str, FileEntry] = {}
        for e in delta.upserts.values():
            if e.sha256 in shas and not e.is_link:
                out.setdefault(e.sha256, e)
        touched = delta.upserts.keys() | delta.removed
        for ref in self.page_refs:
            source = f"{self._source} page {ref.page[:12]}"
            doc = _load_doc(self._load(ref.page), source, KIND_PAGE)
            chunks, files = doc.get("chunks"), doc.get("files")
            if not isinstance(chunks, list) or not isinstance(files, list):
                raise FormatError(
                    f"manifest {source} has no valid 'chunks' and 'files' lists", file=source
                )
            for i, row in enumerate(files):
                sha = row[2] if type(row) is list and len(row) > 2 else None
                if type(sha) is not str or sha not in shas or sha in out:
                    continue
                e = _entry_from_array(row, chunks, source, i)
                if not e.is_link and e.path not in touched:
                    if not (isinstance(e.chunk, str) and is_hex64(e.chunk)):
                        raise FormatError(
                            f"manifest {source}: bad chunk hash {brief_value(e.chunk)}",
                            file=source,
                        )
                    out[sha] = e
        return out

    def as_dict(self) -> dict[str, FileEntry]:
        """A new path -> entry dict (sorted by path); reads every page."""
        return {e.path: e for e in self}

    @property
    def total_size(self) -> int:
        """Sum of file sizes (from the root)."""
        return self._size

    def chunks(self) -> set[str]:
        """Hashes of every chunk the pages and delta reach (read from their tables)."""
        out: set[str] = set()
        for e in self._base_entries():
            if not e.is_link:
                out.add(e.chunk)
        for e in self.delta.upserts.values():
            if not e.is_link:
                out.add(e.chunk)
        return out

    def links(self) -> list[FileEntry]:
        """The external files, sorted by path."""
        return [e for e in self if e.is_link]

    def encode(self) -> bytes:
        """Not available: a paged manifest is stored as several objects (see
        :func:`encode_manifest`)."""
        raise TypeError("a paged manifest is written with gitdata.core.pages.encode_manifest")


def narrowed(a: Manifest, b: Manifest) -> tuple[dict[str, FileEntry], dict[str, FileEntry]] | None:
    """``a`` and ``b`` at only the paths where they can differ, when both are paged
    and share pages: a path on a page both roots list (and in neither delta) reads
    the same from both.  None when they share nothing (compare them whole).

    A change set, a comparison or a summary of the two maps is the same as of the
    whole manifests; a child against its parent costs its delta, not its size."""
    if not (isinstance(a, PagedManifest) and isinstance(b, PagedManifest)):
        return None
    shared = {r.page for r in a.page_refs} & {r.page for r in b.page_refs}
    if not shared:
        return None
    paths: set[str] = set()
    for m in (a, b):
        paths.update(m.delta.upserts)
        paths.update(m.delta.removed)
        for i, ref in enumerate(m.page_refs):
            if ref.page not in shared:
                paths.update(m._page(i)[0])
    ordered = sorted(paths, key=_bytes)
    old = {p: e for p in ordered if (e := a.get(p)) is not None}
    new = {p: e for p in ordered if (e := b.get(p)) is not None}
    return old, new


def _overlay(base: Iterator[FileEntry], delta: Delta) -> Iterator[FileEntry]:
    """The base entries with the delta applied, in path order."""
    pending = sorted(delta.upserts.values(), key=_key)
    k = 0
    for e in base:
        while k < len(pending) and pending[k].path < e.path:
            yield pending[k]
            k += 1
        if k < len(pending) and pending[k].path == e.path:
            yield pending[k]
            k += 1
            continue
        if e.path in delta.removed:
            continue
        yield e
    yield from pending[k:]
