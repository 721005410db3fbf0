"""The manifest: every file of one version, and its canonical encoding.

Encoding (docs/format.md, "Manifest"): gzip (mtime 0, no file name) of
UTF-8 JSON ``{"format": 1, "files": [...]}`` (format 2 when it holds an external
file, docs/format.md section 4a) with entries sorted by path,
keys in a fixed order, no insignificant whitespace.  The manifest object's
store key is the sha256 of those compressed bytes.
"""

from __future__ import annotations

import bisect
import gzip
import json
import re
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from gitdata.core.paths import brief_path, is_normal_path, limit_problem
from gitdata.errors import FormatError, UnsafePathError

MANIFEST_FORMAT = 1
# A manifest holding an external file (a link) is written as format 2, so a reader
# that predates links refuses it ("upgrade gd") instead of misreading it.
MANIFEST_FORMAT_LINKS = 2
# A big manifest is a root listing page objects (gitdata.core.pages, docs/format.md §4b).
MANIFEST_FORMAT_PAGED = 3
_READ_FORMATS = (MANIFEST_FORMAT, MANIFEST_FORMAT_LINKS)
METHOD_STORED = "stored"
METHOD_DEFLATE = "deflate"
_METHODS = (METHOD_STORED, METHOD_DEFLATE)

# The largest manifest JSON gd writes or reads (docs/format.md, section 4): 2**21
# entries of 512 bytes, about four million files at typical path lengths.  A
# reader stops decompressing there, so a gzip bomb costs at most this much.
MAX_MANIFEST_JSON = 512 * 2**21
_GUNZIP_STEP = 16 * 1024 * 1024
# DEFLATE's largest expansion: a 258-byte match coded in 2 bits (RFC 1951).  A deflate
# entry declaring more than this times its stored length is impossible (forged).
MAX_DEFLATE_RATIO = 1032


def gunzip_bounded(data: bytes, limit: int, source: str) -> bytes:
    """gzip ``data`` (one or more members, like :func:`gzip.decompress`) decoded in
    bounded steps; :class:`FormatError` as soon as the output passes ``limit``."""
    parts: list[bytes] = []
    produced = 0
    pending = data
    try:
        while pending:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while True:
                part = d.decompress(pending, min(_GUNZIP_STEP, limit + 1 - produced))
                produced += len(part)
                if produced > limit:
                    raise FormatError(
                        f"manifest {source} decompresses to more than {limit} bytes "
                        "(the manifest size limit); refusing it",
                        file=source,
                    )
                parts.append(part)
                pending = d.unconsumed_tail
                if d.eof or not pending:
                    break
            if not d.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            pending = d.unused_data.lstrip(b"\x00")  # members may be zero-padded
    except zlib.error as exc:
        raise FormatError(f"manifest {source} is not valid gzip JSON: {exc}", file=source) from None
    return b"".join(parts)


def load_gzip_json(data: bytes, limit: int, source: str) -> Any:
    """The JSON document in gzip ``data`` (decompressed in bounded steps, at most
    ``limit`` bytes); :class:`FormatError` naming ``source`` for anything unreadable,
    a document nested too deeply included."""
    try:
        return json.loads(gunzip_bounded(data, limit, source))
    except (OSError, EOFError, ValueError) as exc:
        raise FormatError(f"manifest {source} is not valid gzip JSON: {exc}", file=source) from None
    except RecursionError:
        raise FormatError(
            f"manifest {source} nests JSON arrays or objects too deeply to parse", file=source
        ) from None


class FileEntry(NamedTuple):
    """One file of a version: where its bytes live inside a chunk, or, for an
    external file (a link), the URL they are read from (``chunk`` is then empty).

    A named tuple, not a dataclass: a manifest of a million files builds a million of
    them, and a tuple is built in a third of the time (immutable all the same)."""

    path: str
    size: int
    sha256: str
    chunk: str
    offset: int
    length: int
    method: str = METHOD_STORED
    url: str | None = None
    etag: str | None = None
    executable: bool = False  # written as ``"executable": true`` only when set

    @property
    def is_link(self) -> bool:
        """True for an external file: its content stays at ``url``."""
        return self.url is not None


class FileColumns(NamedTuple):
    """A run of consecutive files of a listing as columns (path order): what a listing
    of a million files shows, without a :class:`FileEntry` built per file.

    ``urls`` is None when no file of the run is external, else each file's URL (None
    for a stored file)."""

    paths: Sequence[str]
    sizes: Sequence[int]
    sha256s: Sequence[str]
    urls: Sequence[str | None] | None = None


COLUMN_BATCH = 4096  # files per :class:`FileColumns` of a manifest that is not paged


def columns_of(entries: Sequence[FileEntry]) -> FileColumns:
    """The entries (in path order) as one run of columns."""
    urls = [e.url for e in entries] if any(e.url is not None for e in entries) else None
    return FileColumns(
        [e.path for e in entries], [e.size for e in entries], [e.sha256 for e in entries], urls
    )


def prefix_columns(columns: FileColumns, prefix: str) -> FileColumns:
    """The files of ``columns`` (in path order) whose path starts with ``prefix``:
    one contiguous run of them."""
    if not prefix:
        return columns
    paths = columns.paths
    lo = bisect.bisect_left(paths, prefix)
    hi = bisect.bisect_left(paths, prefix_end(prefix), lo)
    if lo == 0 and hi == len(paths):
        return columns
    urls = columns.urls
    return FileColumns(
        paths[lo:hi],
        columns.sizes[lo:hi],
        columns.sha256s[lo:hi],
        None if urls is None else urls[lo:hi],
    )


def prefix_end(prefix: str) -> str:
    """The least string after every string that starts with ``prefix`` (not empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def link_entry(path: str, size: int, sha256: str, url: str, etag: str | None) -> FileEntry:
    """The entry of an external file (no chunk)."""
    return FileEntry(path, size, sha256, "", 0, 0, METHOD_STORED, url, etag)


class Manifest:
    """An immutable mapping of dataset path -> :class:`FileEntry`."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[FileEntry] = ()) -> None:
        self._entries: dict[str, FileEntry] = {e.path: e for e in sorted(entries, key=_path_key)}

    @classmethod
    def from_mapping(cls, entries: Mapping[str, FileEntry]) -> Manifest:
        """Build from a path -> entry mapping (keys must equal entry paths)."""
        return cls(entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries.values())

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self._entries == other._entries

    def get(self, path: str) -> FileEntry | None:
        """The entry at ``path`` or None."""
        return self._entries.get(path)

    def column_batches(self, prefix: str = "") -> Iterator[FileColumns]:
        """Every file in path order (or those whose path starts with ``prefix``) as runs
        of columns (see :class:`FileColumns`)."""
        entries = [e for e in self._entries.values() if e.path.startswith(prefix)]
        for start in range(0, len(entries), COLUMN_BATCH):
            yield columns_of(entries[start : start + COLUMN_BATCH])

    def find_content(self, shas: Container[str]) -> dict[str, FileEntry]:
        """content sha256 -> an entry that stores it, for each of ``shas`` a file of
        this manifest holds (links hold none)."""
        out: dict[str, FileEntry] = {}
        for e in self._entries.values():
            if e.sha256 in shas and not e.is_link:
                out.setdefault(e.sha256, e)
        return out

    def as_dict(self) -> dict[str, FileEntry]:
        """A new path -> entry dict (sorted by path)."""
        return dict(self._entries)

    @property
    def total_size(self) -> int:
        """Sum of file sizes."""
        return sum(e.size for e in self._entries.values())

    def chunks(self) -> set[str]:
        """Hashes of every chunk this manifest reaches (links reach none)."""
        return {e.chunk for e in self._entries.values() if not e.is_link}

    def links(self) -> list[FileEntry]:
        """The external files, sorted by path."""
        return [e for e in self._entries.values() if e.is_link]

    def objects(self) -> tuple[str, ...]:
        """Hashes of the store objects besides the manifest's own that hold its file
        list (a paged manifest's pages and delta; none here)."""
        return ()

    def encode(self) -> bytes:
        """Canonical compressed bytes (see module docstring)."""
        files: list[dict[str, object]] = []
        for e in self._entries.values():
            if e.is_link:
                link: dict[str, object] = {
                    "path": e.path,
                    "size": e.size,
                    "sha256": e.sha256,
                    "url": e.url,
                }
                if e.etag is not None:
                    link["etag"] = e.etag
                files.append(link)
                continue
            item: dict[str, object] = {
                "path": e.path,
                "size": e.size,
                "sha256": e.sha256,
                "chunk": e.chunk,
                "offset": e.offset,
                "length": e.length,
            }
            if e.method != METHOD_STORED:
                item["method"] = e.method
            if e.executable:
                item["executable"] = True
            files.append(item)
        fmt = MANIFEST_FORMAT_LINKS if any(e.is_link for e in self) else MANIFEST_FORMAT
        doc = {"format": fmt, "files": files}
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(raw) > MAX_MANIFEST_JSON:
            raise FormatError(
                f"the file list of this version ({len(self._entries)} files) is "
                f"{len(raw)} bytes, over the manifest limit of {MAX_MANIFEST_JSON}",
                hint="split the dataset into several versions or datasets",
            )
        return gzip.compress(raw, compresslevel=1, mtime=0)

    @classmethod
    def decode(
        cls,
        data: bytes,
        source: str = "manifest",
        load: Callable[[str], bytes] | None = None,
    ) -> Manifest:
        """Parse and validate manifest bytes; raise :class:`FormatError` naming ``source``.

        A paged manifest (format 3) comes back as a
        :class:`~gitdata.core.pages.PagedManifest` reading its pages through ``load``
        (an object's hash -> its verified bytes).  Decompression stops at
        :data:`MAX_MANIFEST_JSON` bytes (a gzip bomb is refused with bounded memory)."""
        doc = load_gzip_json(data, MAX_MANIFEST_JSON, source)
        fmt = doc.get("format") if isinstance(doc, dict) else None
        if fmt == MANIFEST_FORMAT_PAGED and type(fmt) is int:
            from gitdata.core.pages import decode_root

            return decode_root(doc, source, load)
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
            raise FormatError(f"manifest {source} has no 'files' list", file=source)
        if type(fmt) is not int or fmt not in _READ_FORMATS:
            raise FormatError(
                f"manifest {source} has format {brief_value(fmt)}; this gd reads formats "
                f"{MANIFEST_FORMAT} to {MANIFEST_FORMAT_PAGED}",
                file=source,
                hint="upgrade gd" if isinstance(fmt, int) and fmt > MANIFEST_FORMAT_PAGED else None,
            )
        entries: list[FileEntry] = []
        previous = None
        for i, item in enumerate(doc["files"]):
            entry = _entry_from_json(item, source, i)
            if entry.is_link and fmt != MANIFEST_FORMAT_LINKS:
                raise FormatError(
                    f"manifest {source}: external file {brief_path(entry.path)} in a format "
                    f"{fmt} manifest (links need format {MANIFEST_FORMAT_LINKS})",
                    file=source,
                )
            key = _path_key(entry)
            if previous is not None and key <= previous:
                raise FormatError(
                    f"manifest {source}: entries not strictly sorted by path at #{i} ({brief_path(entry.path)})",
                    file=source,
                )
            previous = key
            entries.append(entry)
        m = cls.__new__(cls)
        m._entries = {e.path: e for e in entries}
        clash = file_folder_clash(m._entries)
        if clash is not None:
            raise FormatError(
                f"manifest {source}: {brief_path(clash[0])} is a file and also the folder of "
                f"{brief_path(clash[1])}",
                file=source,
            )
        return m


is_hex64 = re.compile(r"[0-9a-f]{64}").fullmatch


def file_folder_clash(paths: Iterable[str]) -> tuple[str, str] | None:
    """A path that is a file and also a folder of another path (``a`` and ``a/b``), or None.

    No folder can hold both, so no reader could write such a version out.
    """
    files = set(paths)
    for path in files:
        folder = path
        while "/" in folder:
            folder = folder.rsplit("/", 1)[0]
            if folder in files:
                return folder, path
    return None


class SortedClashCheck:
    """:func:`file_folder_clash` over paths that arrive sorted by their UTF-8 bytes, in
    memory bounded by one path's depth instead of the whole list.

    In that order every path under ``a/`` follows ``a`` before any path that does not
    start with ``a``, so only the chain of earlier paths that are prefixes of the
    latest one can still be the folder of a later path.
    """

    def __init__(self) -> None:
        self._chain: list[str] = []
        self._last: bytes | None = None

    def see(self, path: str) -> tuple[str, str] | None:
        """Take the next path: the clash it completes (file, path under it), or None.

        Raises :class:`FormatError` when the paths do not come strictly sorted.
        """
        key = path.encode("utf-8", "surrogatepass")
        if self._last is not None and key <= self._last:
            raise FormatError(f"manifest paths not strictly sorted at {path!r}")
        self._last = key
        chain = self._chain
        while chain and not path.startswith(chain[-1]):
            chain.pop()
        for earlier in chain:
            if path[len(earlier)] == "/":
                return earlier, path
        chain.append(path)
        return None


def brief_value(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _path_key(entry: FileEntry) -> bytes:
    return entry.path.encode("utf-8")


def _entry_from_json(item: object, source: str, index: int) -> FileEntry:
    if not isinstance(item, dict):
        raise FormatError(f"manifest {source}: entry #{index} is not an object", file=source)
    if "url" in item:
        return _link_from_json(item, source, index)
    try:
        path = item["path"]
        size = item["size"]
        sha = item["sha256"]
        chunk = item["chunk"]
        offset = item["offset"]
        length = item["length"]
    except KeyError as exc:
        raise FormatError(f"manifest {source}: entry #{index} lacks {exc}", file=source) from None
    method = item.get("method", METHOD_STORED)
    executable = item.get("executable", False)
    check_entry_path(path, source, index)
    if "executable" in item and executable is not True:
        raise FormatError(
            f"manifest {source}: 'executable' of {brief_path(path)} is "
            f"{brief_value(executable)}; only true may be written",
            file=source,
        )
    if not (isinstance(chunk, str) and is_hex64(chunk)) or not (
        isinstance(sha, str) and is_hex64(sha)
    ):
        raise FormatError(
            f"manifest {source}: bad sha256 or chunk for {brief_path(path)}", file=source
        )
    if method not in _METHODS:
        raise FormatError(
            f"manifest {source}: unknown method {brief_value(method)} for {brief_path(path)}",
            file=source,
        )
    check_stored_numbers(path, size, offset, length, method, source)
    return FileEntry(path, size, sha, chunk, offset, length, method, executable=executable)


def check_stored_numbers(
    path: str, size: Any, offset: Any, length: Any, method: str, source: str
) -> None:
    """Refuse a chunk member's size, offset and length that no writer could store
    (section 4): not JSON integers, negative, or more than its method can give."""
    if (
        not (type(size) is int and type(offset) is int and type(length) is int)
        or min(size, offset, length) < 0
    ):
        raise FormatError(
            f"manifest {source}: bad size, offset or length for {brief_path(path)}", file=source
        )
    if method == METHOD_DEFLATE and size > MAX_DEFLATE_RATIO * length:
        raise FormatError(
            f"manifest {source}: deflate entry {brief_path(path)} declares {size} bytes from "
            f"{length} stored bytes, more than DEFLATE can expand ({MAX_DEFLATE_RATIO} times)",
            file=source,
        )
    if method == METHOD_STORED and length != size:
        raise FormatError(
            f"manifest {source}: stored entry {brief_path(path)} has length != size", file=source
        )


_MAX_URL = 4096
_MAX_ETAG = 1024


def check_entry_path(path: Any, source: str, index: int) -> None:
    """Refuse an entry's path that is not a safe, normal dataset path (section 6)."""
    if isinstance(path, str) and is_normal_path(path):
        return
    problem = limit_problem(path) if isinstance(path, str) else None
    raise UnsafePathError(
        f"manifest {source}: "
        + (
            f"path {brief_path(path)} at entry #{index} {problem}"
            if problem
            else f"unsafe or non-normal path {brief_path(path)} at entry #{index}"
        ),
        path=path.encode("utf-8", "backslashreplace").decode()
        if isinstance(path, str)
        else str(path),
        file=source,
    )


def _link_from_json(item: dict[str, object], source: str, index: int) -> FileEntry:
    """An external file's entry: path, size, sha256, url and an optional etag."""
    if set(item) - {"path", "size", "sha256", "url", "etag"}:
        extra = sorted(set(item) - {"path", "size", "sha256", "url", "etag"})
        raise FormatError(
            f"manifest {source}: external file entry #{index} has keys a link does not have: {extra}",
            file=source,
        )
    try:
        path, size, sha, url = item["path"], item["size"], item["sha256"], item["url"]
    except KeyError as exc:
        raise FormatError(f"manifest {source}: entry #{index} lacks {exc}", file=source) from None
    etag = item.get("etag")
    check_entry_path(path, source, index)
    assert isinstance(path, str)
    if not (isinstance(sha, str) and is_hex64(sha)):
        raise FormatError(f"manifest {source}: bad sha256 for {brief_path(path)}", file=source)
    problem = link_fields_problem(size, url, etag)
    if problem:
        raise FormatError(f"manifest {source}: {problem} for {brief_path(path)}", file=source)
    assert isinstance(url, str) and isinstance(size, int)
    assert etag is None or isinstance(etag, str)
    return link_entry(path, size, sha, url, etag)


def link_fields_problem(size: Any, url: Any, etag: Any) -> str | None:
    """What is wrong with an external file's size, url or etag (section 4a), or None."""
    if type(size) is not int or size < 0:
        return "bad size"
    if not (isinstance(url, str) and is_link_url(url)):
        return f"bad url {brief_value(url)}"
    if etag is not None and not (isinstance(etag, str) and 0 < len(etag) <= _MAX_ETAG):
        return "bad etag"
    return None


LINK_SCHEMES = ("file", "s3", "gs", "gcs", "az", "azure", "abfs", "http", "https")


def is_link_url(url: str) -> bool:
    """Whether ``url`` is an absolute URL an external file may live at (docs/format.md §4)."""
    scheme, sep, rest = url.partition("://")
    return (
        bool(sep)
        and scheme in LINK_SCHEMES
        and bool(rest.strip("/"))
        and len(url) <= _MAX_URL
        and url.isprintable()
    )
