"""What gd owns in a cache folder: the marker at its root, and the shapes of its entries.

gd removes files only in a folder that carries the marker (written when gd
creates or initialises the cache), and there only entries of the shapes it
makes itself (docs/format.md section 10)::

    blobs/<aa>/<64 hex, starting with aa>   regular files
    copies/<32 hex>[.filter-<16 hex>][.part-<i>-of-<n>]   folders
    tmp/<prefix>...                         prefixes in TMP_PREFIXES

A folder with no marker that holds only such entries (and gd's databases,
lock, records and record indexes) is a cache made by an older gd, and is adopted: the marker
is written.  Anything else in it means the folder is not a gitdata cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path

CACHE_MARKER = ".gitdata-cache.json"
MARKER_CONTENT = b'{"gitdata": "cache", "format": 1}\n'
# staging gd writes into tmp/: the cache's blobs and copies, trash being deleted,
# chunks fetched whole (ops/materialize), packed for upload, copied between stores
TMP_PREFIXES = ("blob-", "copy-", "trash-", "get-", "chunk-")

_HEX2 = re.compile(r"[0-9a-f]{2}")
_SHA = re.compile(r"[0-9a-f]{64}")
COPY_KEY = re.compile(r"[0-9a-f]{32}(?:\.filter-[0-9a-f]{16})?(?:\.part-[0-9]+-of-[0-9]+)?")
_STORE_DIR = re.compile(r"[0-9a-f]{16}")
_DB_FILES = {
    f"{db}{suffix}" for db in ("state.db", "stat.db", "index.db") for suffix in ("", "-wal", "-shm")
}
_TOP_FILES = {"lock", CACHE_MARKER} | _DB_FILES
# records/<store>/: the record index (cache/recordindex.py) beside the record copies
RECORD_INDEX = "index.db"
_INDEX_FILES = {f"{RECORD_INDEX}{suffix}" for suffix in ("", "-wal", "-shm")}
_LISTED = 5  # foreign entries named in an error


def is_blob_folder(name: str) -> bool:
    """``blobs/<name>`` is a name gd gives a folder of blobs (two hex digits)."""
    return bool(_HEX2.fullmatch(name))


def is_blob_name(prefix: str, name: str) -> bool:
    """``blobs/<prefix>/<name>`` is a name gd gives a blob."""
    return bool(_HEX2.fullmatch(prefix)) and bool(_SHA.fullmatch(name)) and name[:2] == prefix


def is_copy_key(name: str) -> bool:
    """``copies/<name>`` is a name gd gives a read-only copy."""
    return bool(COPY_KEY.fullmatch(name))


def is_tmp_name(name: str) -> bool:
    """``tmp/<name>`` is staging gd names."""
    return name.startswith(TMP_PREFIXES)


def is_store_folder(name: str) -> bool:
    """``records/<name>`` is a name gd gives a store's records folder (16 hex digits)."""
    return bool(_STORE_DIR.fullmatch(name))


def is_temp_name(name: str) -> bool:
    """A temporary file gd's atomic writes use beside their target (``.<name>.<random>.tmp``)."""
    return name[:1] == "." and name.endswith(".tmp")


def real_dir(path: str | os.PathLike[str]) -> bool:
    """``path`` is a folder itself, not a symlink to one (gd never removes through links)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def has_marker(root: Path) -> bool:
    """``root`` carries gd's cache marker (a regular file naming a gitdata cache)."""
    path = root / CACHE_MARKER
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as fh:
            data = json.loads(fh.read(4096))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("gitdata") == "cache"


def write_marker(root: Path) -> None:
    """Write the marker atomically (a crash never leaves half of it)."""
    tmp = root / f"{CACHE_MARKER}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, MARKER_CONTENT)
        finally:
            os.close(fd)
        os.replace(tmp, root / CACHE_MARKER)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _entries(path: str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except OSError:
        return []


def _foreign_blobs(blobs: str) -> list[str]:
    out = []
    for top in _entries(blobs):
        if not (_HEX2.fullmatch(top.name) and top.is_dir(follow_symlinks=False)):
            out.append(f"blobs/{top.name}")
            continue
        out += [
            f"blobs/{top.name}/{e.name}"
            for e in _entries(top.path)
            if not (is_blob_name(top.name, e.name) and e.is_file(follow_symlinks=False))
        ]
    return out


def _foreign_records(records: str) -> list[str]:
    out = []
    for store in _entries(records):
        if not (_STORE_DIR.fullmatch(store.name) and store.is_dir(follow_symlinks=False)):
            out.append(f"records/{store.name}")
            continue
        for e in _entries(store.path):
            if e.name == "events" and e.is_dir(follow_symlinks=False):
                # cached metadata events (ops/events.py): <stamp>-<nonce>.yaml files
                out += [
                    f"records/{store.name}/events/{ev.name}"
                    for ev in _entries(e.path)
                    if not (ev.is_file(follow_symlinks=False) and _is_yaml_or_tmp(ev.name))
                ]
            elif not (
                e.is_file(follow_symlinks=False)
                and (_is_yaml_or_tmp(e.name) or e.name in _INDEX_FILES)
            ):
                out.append(f"records/{store.name}/{e.name}")
    return out


def _is_yaml_or_tmp(name: str) -> bool:
    """A cached record or event, or the temporary file it is written through."""
    return name.endswith(".yaml") or (name[:1] == "." and name.endswith(".tmp"))


def foreign_entries(root: Path) -> list[str]:
    """Entries under ``root`` gd would not have made (relative names); empty if none."""
    out: list[str] = []
    for e in _entries(str(root)):
        name = e.name
        if name in _TOP_FILES or (name.startswith(CACHE_MARKER) and name.endswith(".tmp")):
            if e.is_file(follow_symlinks=False):
                continue
        elif name in ("blobs", "copies", "tmp", "records") and e.is_dir(follow_symlinks=False):
            if name == "blobs":
                out += _foreign_blobs(e.path)
            elif name == "copies":
                out += [
                    f"copies/{c.name}"
                    for c in _entries(e.path)
                    if not (is_copy_key(c.name) and c.is_dir(follow_symlinks=False))
                ]
            elif name == "tmp":
                out += [f"tmp/{t.name}" for t in _entries(e.path) if not is_tmp_name(t.name)]
            else:
                out += _foreign_records(e.path)
            continue
        out.append(name)
    return sorted(out, key=lambda name: (name.count("/"), name))  # top level first


def describe(foreign: list[str]) -> str:
    """The first few foreign entries and how many there are, for an error message."""
    shown = ", ".join(foreign[:_LISTED])
    more = len(foreign) - _LISTED
    return shown + (f" and {more} more" if more > 0 else "")
