"""A hostile store's manifest (well-formed gzip'd JSON, hostile in shape) never makes a
reading command escape its target, hang, use huge memory or crash: each is refused with
one clear line and its exit code, or, where docs/format.md says the case is legal, it
works (issue 10)."""

from __future__ import annotations

import gc
import gzip
import json
import os
import subprocess
import tracemalloc
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.core.manifest import Manifest
from gitdata.errors import GitDataError
from tests.cli.test_hostile_store_bombs import _closed_version, _point_record_at, _put_object
from tests.conftest import make_tree, read_tree

Files = list[dict[str, object]]

# What each command exits with for a manifest it reads but whose entry lies about the
# chunk: listings only list (0), a folder check finds the size wrong (9), the store
# check finds the chunk too short (9), a read is refused before it asks for the bytes (5).
LYING_EXTENT = {
    "list": 0,
    "show": 0,
    "verify": 9,
    "remote": 9,
    "get": 5,
    "copy": 5,
    "link": 5,
    "cat": 5,
}


def _all(code: int) -> dict[str, int]:
    return dict.fromkeys(LYING_EXTENT, code)


def _deep(e: dict) -> Files:
    return [dict(e, path="a/" * 2100 + "f")]


CASES: dict[str, tuple[Callable[[dict], Files], dict[str, int]]] = {
    # 1. NAME_MAX and PATH_MAX
    "name-300": (lambda e: [dict(e, path="x" * 300)], _all(4)),
    "name-300-in-folder": (lambda e: [dict(e, path="d/" + "x" * 300 + "/f")], _all(4)),
    "path-5000": (lambda e: [dict(e, path="/".join(["y" * 200] * 25))], _all(4)),
    # 2. depth
    "depth-2100": (_deep, _all(4)),
    "depth-300": (lambda e: [dict(e, path="a/" * 300 + "f")], _all(4)),
    # 3. names that are not Unicode text
    "lone-high-surrogate": (lambda e: [dict(e, path="\ud800x")], _all(4)),
    "lone-low-surrogate": (lambda e: [dict(e, path="d/\udce9.txt")], _all(4)),
    "reversed-pair": (lambda e: [dict(e, path="\udc00\ud800")], _all(4)),
    # 4. sizes and extents
    "size-1e12": (lambda e: [dict(e, size=10**12, length=10**12)], LYING_EXTENT),
    "size-negative": (lambda e: [dict(e, size=-3, length=-3)], _all(5)),
    "size-not-length": (lambda e: [dict(e, size=10**12)], _all(5)),
    "deflate-size-1e12": (lambda e: [dict(e, size=10**12, method="deflate")], _all(5)),
    "offset-past-end": (lambda e: [dict(e, offset=10**9)], dict(LYING_EXTENT, verify=0)),
    "length-past-end": (lambda e: [dict(e, size=10**6, length=10**6)], LYING_EXTENT),
    "size-float": (lambda e: [dict(e, size=3.0)], _all(5)),
    "size-bool": (lambda e: [dict(e, size=True, length=True)], _all(5)),
    "sha-not-a-string": (lambda e: [dict(e, sha256=5)], _all(5)),
    # 5. a file that is also a folder
    "file-and-folder": (lambda e: [dict(e, path="a"), dict(e, path="a/b")], _all(5)),
    # 6. the executable bit: only true may be written (docs/format.md §4)
    "executable-false": (lambda e: [dict(e, executable=False)], _all(5)),
    "executable-string": (lambda e: [dict(e, executable="yes")], _all(5)),
}


def _forge(store: Path, did: str, doc: object) -> str:
    """Point version ``did`` at a manifest holding ``doc`` (JSON with ASCII escapes, so
    lone surrogates survive as ``\\ud800``); returns the manifest's sha256."""
    raw = json.dumps(doc, separators=(",", ":")).encode("ascii")
    sha = _put_object(store, gzip.compress(raw, mtime=0))
    _point_record_at(store, did, sha)
    for cached in store.parent.glob(f"home/**/records/**/{did}.yaml"):
        cached.unlink()  # this machine's copy of the record it closed
    return sha


def _real_entry(store: Path, did: str) -> dict:
    record = (store / "versions" / f"{did}.yaml").read_text()
    sha = next(x.split()[1] for x in record.splitlines() if x.startswith("manifest:"))
    entry = next(iter(Manifest.decode((store / "objects" / sha[:2] / sha).read_bytes())))
    return {
        "path": entry.path,
        "size": entry.size,
        "sha256": entry.sha256,
        "chunk": entry.chunk,
        "offset": entry.offset,
        "length": entry.length,
    }


def _sorted(files: Files) -> Files:
    return sorted(files, key=lambda f: str(f["path"]).encode("utf-8", "surrogatepass"))


def _snapshot(root: Path) -> set[str]:
    """Every path under ``root`` but the cache and state folders (which may legitimately
    keep verified content and the record)."""
    out = set()
    for folder, dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel in ("home/.cache", "home/.local/state"):
            dirs.clear()
            continue
        out.update(os.path.join(rel, n) for n in (*dirs, *names))
    return out


def _args(command: str, did: str, tmp_path: Path, first: str) -> list[str]:
    target = str(tmp_path / "t")
    return {
        "list": ["list", "--id", did],
        "show": ["show", "--id", did, "--files"],
        "verify": ["verify", "--id", did, "--folder", str(tmp_path / "src")],
        "remote": ["verify", "--id", did, "--remote"],
        "get": ["get", "--id", did],
        "copy": ["get", "--id", did, "--copy", target],
        "link": ["get", "--id", did, "--link", target],
        "cat": ["cat", "--id", did, first],
    }[command]


def _assert_one_clear_line(r, code: int) -> None:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr, r.exception)
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    if code in (0, 9):
        return
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("gd: error: ") and len(lines[0]) < 600, r.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), r.stderr


@pytest.mark.parametrize("command", list(LYING_EXTENT))
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_manifest_is_refused_cleanly(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, command: str
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    build, codes = CASES[case]
    files = _sorted(build(_real_entry(store, did)))
    _forge(store, did, {"format": 1, "files": files})
    before = _snapshot(tmp_path)
    r = gd(*_args(command, did, tmp_path, str(files[0]["path"])), ok=False)
    _assert_one_clear_line(r, codes[command])
    after = _snapshot(tmp_path)
    assert after == before, sorted(after ^ before)  # no target, no staging, nothing else
    cache = tmp_path / "home/.cache/gitdata"
    escaped = [p for p in cache.rglob("*") if p.name in ("x" * 300, "f", "b")]
    assert not escaped, escaped


def _forge_paged(store: Path, did: str, files: Files) -> None:
    """Point version ``did`` at a format 3 root whose one page holds ``files`` (the
    keyed entries above in the page's array form, docs/format.md §4b)."""
    chunk = str(files[0]["chunk"])
    rows: list[list[object]] = []
    for f in files:
        row: list[object] = [f["path"], f["size"], f["sha256"], 0, f["offset"], f["length"]]
        options = {k: f[k] for k in ("method", "executable") if k in f}
        if options:
            row.append(options)
        rows.append(row)
    page = {"format": 3, "kind": "page", "chunks": [chunk], "files": rows}
    raw = json.dumps(page, separators=(",", ":")).encode("ascii")
    page_sha = _put_object(store, gzip.compress(raw, mtime=0))
    sizes = [f["size"] for f in files]
    root = {
        "format": 3,
        "kind": "root",
        "count": len(files),
        "size": sum(sizes) if all(type(n) is int for n in sizes) else sizes[0],
        "pages": [
            {
                "page": page_sha,
                "first": files[0]["path"],
                "last": files[-1]["path"],
                "count": len(files),
            }
        ],
    }
    _forge(store, did, root)


# A paged manifest is read page by page, so a file that is also a folder is seen only by
# the commands that write the version out (docs/format.md §4b); the others list it, and
# a check of the files against the store or a folder finds what it finds.
PAGED_CODES = {"file-and-folder": dict(_all(5), list=0, show=0, verify=9, remote=0, cat=0)}


@pytest.mark.parametrize("command", list(LYING_EXTENT))
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_paged_manifest_is_refused_cleanly(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, command: str
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    build, codes = CASES[case]
    files = _sorted(build(_real_entry(store, did)))
    _forge_paged(store, did, files)
    before = _snapshot(tmp_path)
    r = gd(*_args(command, did, tmp_path, str(files[0]["path"])), ok=False)
    _assert_one_clear_line(r, PAGED_CODES.get(case, codes)[command])
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["size-1e12", "deflate-size-1e12", "length-past-end"])
def test_huge_declared_size_allocates_nothing(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    _forge(store, did, {"format": 1, "files": CASES[case][0](_real_entry(store, did))})
    gc.collect()
    tracemalloc.start()
    try:
        r = gd("get", "--id", did, "--copy", str(tmp_path / "t"), ok=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _assert_one_clear_line(r, 5)
    assert peak < 48 * 1024 * 1024, f"refusing the entry cost {peak} bytes"


def test_json_nested_past_the_parser_depth_is_a_format_error(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    raw = b'{"format":1,"files":[],"x":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    _point_record_at(store, did, _put_object(store, gzip.compress(raw, mtime=0)))
    r = gd("list", "--id", did, ok=False)
    _assert_one_clear_line(r, 5)
    assert "too deeply" in r.stderr


def test_path_that_fits_the_limits_but_not_under_the_target(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A 4,020-byte path is legal, but under any real folder the whole path passes
    PATH_MAX: the get is refused before anything is written (not half-way through)."""
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    long = "/".join(["y" * 200] * 20) + "/f"
    _forge(store, did, {"format": 1, "files": [dict(_real_entry(store, did), path=long)]})
    assert gd("list", "--id", did).exit_code == 0  # a listing shows it
    before = _snapshot(tmp_path)
    for args in (["--copy", str(tmp_path / "t")], ["--link", str(tmp_path / "t")], []):
        r = gd("get", "--id", did, *args, ok=False)
        _assert_one_clear_line(r, 4)
        assert "does not fit under" in r.stderr
        assert _snapshot(tmp_path) == before


def test_api_reads_refuse_hostile_manifests(gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store, did = _closed_version(gd, tmp_path, monkeypatch)
    entry = _real_entry(store, did)
    _forge(store, did, {"format": 1, "files": [dict(entry, path="\ud800x")]})
    with pytest.raises(GitDataError) as info:
        Dataset.get(dataset_id=did).list_files()
    assert info.value.exit_code == 4 and "not valid Unicode" in str(info.value)
    _forge(store, did, {"format": 1, "files": [dict(entry, path="a/" * 300 + "f")]})
    with pytest.raises(GitDataError) as info:
        Dataset.get(dataset_id=did).get_local_copy()
    assert info.value.exit_code == 4 and "folders deep" in str(info.value)
    _forge(store, did, {"format": 1, "files": [dict(entry, size=10**12, length=10**12)]})
    ds = Dataset.get(dataset_id=did)
    assert ds.list_files() == ["a.txt"]  # listing a lying entry is harmless
    with pytest.raises(GitDataError) as info:
        ds.get_local_copy()
    assert info.value.exit_code == 5 and "which has only" in str(info.value)
    assert not list((tmp_path / "home/.cache/gitdata").glob("copies/*"))


def test_diff_refuses_a_hostile_manifest(gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    store, first = _closed_version(gd, tmp_path, monkeypatch)
    subprocess.run(["git", "commit", "-qm", "v1"], cwd=repo, check=True)
    (tmp_path / "src" / "a.txt").write_text("changed")
    gd("create", "--project", "p", "--name", "n", "--parents", first)
    gd("sync", "--folder", str(tmp_path / "src"))
    second = gd("close", "--json").json()["id"]
    entry = _real_entry(store, second)
    sha = _forge(store, second, {"format": 1, "files": [dict(entry, path="\udce9.txt")]})
    pointer = repo / ".gitdata/datasets/p/n.yaml"
    pointer.write_text(
        "\n".join(
            f"manifest: {sha}" if line.startswith("manifest:") else line
            for line in pointer.read_text().splitlines()
        )
        + "\n"
    )
    r = gd("diff", ok=False)
    _assert_one_clear_line(r, 4)
    assert "not valid Unicode" in r.stderr


# 6. Case-only and NFC/NFD twins are different paths (docs/format.md, section 12); on a
# case-sensitive filesystem that does not normalise names, gd writes each of them.
TWINS = {
    "A.txt": "upper",
    "a.txt": "lower",
    unicodedata.normalize("NFC", "café.txt"): "composed",
    unicodedata.normalize("NFD", "café.txt"): "decomposed",
}


def _holds_twins(folder: Path) -> bool:
    try:
        make_tree(folder, TWINS)
    except OSError:
        return False
    return len(os.listdir(folder)) == len(TWINS)


def test_case_and_normalisation_twins_are_distinct_files(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = tmp_path / "src"
    if not _holds_twins(src):
        pytest.skip("this filesystem folds case or normalises names")
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    did = gd("create", "--project", "p", "--name", "twins", "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    listed = {f["path"] for f in gd("list", "--id", did, "--json").json()}
    assert listed == set(TWINS)
    expected = {name: text.encode() for name, text in TWINS.items()}
    for mode in ("--copy", "--link"):
        target = tmp_path / mode.strip("-")
        gd("get", "--id", did, mode, str(target))
        assert read_tree(target) == expected
        gd("verify", "--id", did, "--folder", str(target))
    for name, text in TWINS.items():
        assert gd("cat", "--id", did, name).stdout == text


def test_checkout_writes_a_name_at_the_limit(gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A 250-byte name is legal; the bound folder's update writes it (its temporary name
    must not pass NAME_MAX)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    _closed_version(gd, tmp_path, monkeypatch)
    gd("get", "--project", "p", "--name", "n", "--link", str(repo / "data"), "--bind")
    name = "n" * 250
    (tmp_path / "src" / name).write_text("long")
    gd("create", "--project", "p", "--name", "n")
    gd("sync", "--folder", str(tmp_path / "src"))
    gd("close")
    gd("checkout")
    assert (repo / "data" / name).read_text() == "long"


@pytest.mark.parametrize("command", ["add", "sync"])
def test_add_refuses_a_local_tree_readers_would_refuse(
    gd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
):
    """A local tree 300 folders deep is refused before the draft changes, not at close."""
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    src = make_tree(tmp_path / "src", {"ok.txt": "1", "a/" * 300 + "f": "deep"})
    gd("create", "--project", "p", "--name", "n")
    args = ["--files", str(src)] if command == "add" else ["--folder", str(src)]
    r = gd(command, *args, ok=False)
    _assert_one_clear_line(r, 4)
    assert "301 folders deep, over the limit of 256" in r.stderr
    assert gd("list", "--json").json() == []
