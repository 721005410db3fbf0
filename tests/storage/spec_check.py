"""The independent reader of docs/format.md (tests/spec_reader.py) must read every store
gd writes, on every backend, and agree with gd about every closed version in it.

The reader is stdlib-only over a folder, so a cloud store is first mirrored, through
the store API, into a scratch folder: only the keys it needs (the marker, the version
records and the manifests and chunks those name), so big unrelated objects are not
downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from spec_reader import parse_yaml, read_store

from gitdata import Dataset
from gitdata.storage import object_key
from tests.conftest import read_tree


def spec_folder(store, scratch: Path) -> Path:
    """A folder with the store's layout: the store's own folder when local, else a
    mirror in ``scratch`` of the keys the spec reader reads."""
    if store.is_local:
        return Path(store.root)

    def fetch(key: str) -> bytes:
        path = scratch / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(key, path)
        return path.read_bytes()

    fetch("gitdata-store.yaml")
    for key in store.list("versions/"):
        if not key.endswith(".yaml"):
            continue
        record = parse_yaml(fetch(key))
        manifest = json.loads(gzip.decompress(fetch(object_key(record["manifest"]))))
        for chunk in sorted({entry["chunk"] for entry in manifest["files"]}):
            fetch(object_key(chunk))
    return scratch


def spec_reader_agrees_with_gd(store, scratch: Path, *, compare_bytes: bool = True) -> int:
    """Read every closed version of ``store`` with the spec reader and assert that gd
    reads the same: file list, sizes and sha256 (from gd's manifest) and, unless
    ``compare_bytes`` is off, the bytes of gd's own copy. Returns how many versions."""
    got = read_store(spec_folder(store, scratch))
    for vid, files in got.items():
        ds = Dataset.get(dataset_id=vid, storage=store.url)
        spec = {p: (len(d), hashlib.sha256(d).hexdigest()) for p, d in files.items()}
        ours = {p: (e["size"], e["sha256"]) for p, e in ds.file_entries_dict.items()}
        assert spec == ours, f"version {vid}: the spec reader and gd disagree"
        if compare_bytes:
            assert read_tree(Path(ds.get_local_copy())) == files, vid
    return len(got)
