"""An independent reader of gitdata stores, written from docs/format.md alone.

Standard library only (no gitdata, no YAML library), so it checks that the spec, not
gd's code, is enough to read a store. It reads the subset of YAML the spec pins (§11):
block mappings and sequences, plain / single-quoted / double-quoted scalars, `[]`, `{}`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

_INT = re.compile(r"[-+]?[0-9]+")


class SpecError(Exception):
    """The store breaks a MUST rule of docs/format.md."""


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise SpecError(f"unterminated quoted scalar {text!r}")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text)
    if text in ("[]",):
        return []
    if text in ("{}",):
        return {}
    if text in ("null", "~", ""):
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    """Parse the block starting at lines[i] whose items sit at ``indent``."""
    if lines[i].lstrip().startswith("- "):
        items: list[Any] = []
        while i < len(lines) and _indent(lines[i]) == indent and lines[i].lstrip().startswith("- "):
            items.append(_scalar(lines[i].strip()[2:]))
            i += 1
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and _indent(lines[i]) == indent:
        key, sep, rest = lines[i].strip().partition(":")
        if not sep:
            raise SpecError(f"not a mapping line: {lines[i]!r}")
        key = _scalar(key)
        i += 1
        if rest.strip():
            mapping[key] = _scalar(rest)
        elif i < len(lines) and (
            _indent(lines[i]) > indent
            or (_indent(lines[i]) == indent and lines[i].lstrip().startswith("- "))
        ):
            mapping[key], i = _block(lines, i, _indent(lines[i]))
        else:
            mapping[key] = None
    return mapping, i


def parse_yaml(data: bytes) -> dict[str, Any]:
    """The pinned YAML subset -> a dict."""
    text = data.decode("utf-8")
    if "!!" in text or "\t" in text:
        raise SpecError("tags and tabs are outside the pinned YAML subset")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return {}
    doc, end = _block(lines, 0, 0)
    if end != len(lines) or not isinstance(doc, dict):
        raise SpecError(f"unexpected line {lines[end]!r}" if end < len(lines) else "not a mapping")
    return doc


def _object(root: Path, sha: str) -> bytes:
    data = (root / "objects" / sha[:2] / sha).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha:
        raise SpecError(f"object {sha} does not hash to its key")
    return data


def read_store(root: Path) -> dict[str, dict[str, bytes]]:
    """Every version of the store at ``root``: id -> {path: content}, all verified."""
    marker = parse_yaml((root / "gitdata-store.yaml").read_bytes())
    if marker.get("format") != 1 or marker.get("layout") != "gitdata":
        raise SpecError(f"unknown store marker {marker}")
    out: dict[str, dict[str, bytes]] = {}
    for path in sorted((root / "versions").glob("*.yaml")):
        record = parse_yaml(path.read_bytes())
        if record.get("format") != 1 or record.get("id") != path.stem:
            raise SpecError(f"record {path.name}: bad format or id")
        out[record["id"]] = read_version(root, record)
    return out


def read_version(root: Path, record: dict[str, Any]) -> dict[str, bytes]:
    """One version's files from its record."""
    doc = json.loads(gzip.decompress(_object(root, record["manifest"])))
    if doc.get("format") not in (1, 2, 3):
        raise SpecError("unknown manifest format")
    files: dict[str, bytes] = {}
    chunks: dict[str, bytes] = {}
    previous = b""
    for entry in manifest_entries(root, doc):
        key = entry["path"].encode("utf-8")
        if files and key <= previous:
            raise SpecError("manifest entries not sorted")
        previous = key
        if "executable" in entry and entry["executable"] is not True:
            raise SpecError(f"{entry['path']}: executable must be true when present")
        if "url" in entry:  # an external file (§4, "External files"): format 2 only
            if doc["format"] == 1 or {"chunk", "offset", "length", "method", "executable"} & set(
                entry
            ):
                raise SpecError(f"{entry['path']}: a link in format 1, or with chunk keys")
            data = _read_url(entry["url"])
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise SpecError(f"{entry['path']}: external file changed at its URL")
            files[entry["path"]] = data
            continue
        chunk = chunks.get(entry["chunk"])
        if chunk is None:
            chunk = chunks[entry["chunk"]] = _object(root, entry["chunk"])
        raw = chunk[entry["offset"] : entry["offset"] + entry["length"]]
        method = entry.get("method", "stored")
        if method == "stored":
            data = raw
        elif method == "deflate":
            inflater = zlib.decompressobj(-15)
            data = inflater.decompress(raw, entry["size"] + 1)
        else:
            raise SpecError(f"unknown method {method}")
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SpecError(f"{entry['path']}: content does not match its entry")
        files[entry["path"]] = data
    if int((record.get("stats") or {}).get("files", len(files))) != len(files):
        raise SpecError("stats.files differs from the manifest")
    return files


def read_executables(root: Path, version_id: str) -> set[str]:
    """The paths of one version that are executable (§4, "Executable files")."""
    record = parse_yaml((root / "versions" / f"{version_id}.yaml").read_bytes())
    read_version(root, record)  # every MUST rule checked
    doc = json.loads(gzip.decompress(_object(root, record["manifest"])))
    return {e["path"] for e in manifest_entries(root, doc) if e.get("executable") is True}


def manifest_entries(root: Path, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A manifest's entries in the keyed form of §4, whatever its format (§4b: a
    format 3 root's pages, with its delta applied)."""
    if doc["format"] != 3:
        return list(doc["files"])
    if doc.get("kind") != "root":
        raise SpecError("a format 3 manifest must be a root")
    listed: dict[str, dict[str, Any]] = {}
    last = b""
    for ref in doc["pages"]:
        page = _paged_object(root, ref["page"], "page")
        entries = _keyed(page)
        paths = [e["path"] for e in entries]
        if len(entries) != ref["count"] or paths[0] != ref["first"] or paths[-1] != ref["last"]:
            raise SpecError("a page does not hold what the root lists")
        if listed and ref["first"].encode() <= last:
            raise SpecError("pages overlap or are unsorted")
        last = ref["last"].encode()
        for e in entries:
            listed[e["path"]] = e
    if "delta" in doc:
        delta = _paged_object(root, doc["delta"]["page"], "delta")
        upserts = _keyed(delta)
        if set(delta["removed"]) & {e["path"] for e in upserts}:
            raise SpecError("the delta removes a path it writes")
        for path in delta["removed"]:
            listed.pop(path, None)
        for e in upserts:
            listed[e["path"]] = e
    out = [listed[p] for p in sorted(listed, key=lambda p: p.encode("utf-8"))]
    if len(out) != doc["count"] or sum(e["size"] for e in out) != doc["size"]:
        raise SpecError("the root's count or size is wrong")
    return out


def _paged_object(root: Path, sha: str, kind: str) -> dict[str, Any]:
    doc = json.loads(gzip.decompress(_object(root, sha)))
    if doc.get("format") != 3 or doc.get("kind") != kind:
        raise SpecError(f"object {sha} is not a format 3 {kind}")
    return doc


def _keyed(page: dict[str, Any]) -> list[dict[str, Any]]:
    """A page's or delta's array entries as §4 keyed entries."""
    out = []
    for item in page["files"]:
        if len(item) == 4:
            entry = {"path": item[0], "size": item[1], "sha256": item[2], **item[3]}
        else:
            entry = {
                "path": item[0],
                "size": item[1],
                "sha256": item[2],
                "chunk": page["chunks"][item[3]],
                "offset": item[4],
                "length": item[5],
            }
            if len(item) == 7:
                if not item[6]:
                    raise SpecError("an empty options object")
                entry.update(item[6])
        out.append(entry)
    return out


def _read_url(url: str) -> bytes:
    """The bytes at a file:// or http(s):// link URL (the cloud schemes need their SDKs)."""
    import urllib.parse
    import urllib.request

    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path)).read_bytes()
    if parsed.scheme in ("http", "https"):
        with urllib.request.urlopen(url, timeout=30) as response:
            return bytes(response.read())
    raise SpecError(f"this reader cannot fetch {parsed.scheme}:// links")


_EVENT_KEY = re.compile(r"(\d{8}T\d{12})Z-[0-9a-f]{16}\.yaml")
_SETTABLE = ("project", "name", "description", "published")


def _event_at(stamp: str) -> str:
    return f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}.{stamp[15:21]}Z"


def read_names(root: Path) -> dict[str, dict[str, Any]]:
    """Every version's current project, name, description, published flag and former
    names, from its record and the store's metadata events (§13); bad events skipped."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "versions").glob("*.yaml")):
        record = parse_yaml(path.read_bytes())
        out[record["id"]] = {
            "project": record["project"],
            "name": record["name"],
            "description": record.get("description") or "",
            "published": False,
            "former": [],
        }
    folder = root / "events"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    for name in names:
        m = _EVENT_KEY.fullmatch(name)
        if not m:
            continue
        try:
            event = parse_yaml((folder / name).read_bytes())
        except (SpecError, UnicodeDecodeError):
            continue
        changes = event.get("set")
        ids = event.get("ids")
        if (
            event.get("format") != 1
            or event.get("at") != _event_at(m.group(1))
            or not isinstance(ids, list)
            or not isinstance(changes, dict)
            or not any(k in changes for k in _SETTABLE)
            or ("published" in changes and changes["published"] is not True)
            or any(
                k in changes
                and (not isinstance(changes[k], str) or not changes[k] or ".." in changes[k])
                for k in ("project", "name")
            )
        ):
            continue
        for vid in ids:
            version = out.get(vid)
            if version is None:
                continue
            before = (version["project"], version["name"])
            for k in ("project", "name", "description"):
                if k in changes:
                    version[k] = changes[k]
            if (version["project"], version["name"]) != before and before not in version["former"]:
                version["former"].append(before)
            if changes.get("published") is True:
                version["published"] = True
    return out
