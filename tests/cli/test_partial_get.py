"""`gd get --filter PATTERN` / `--only-added`: only the wanted files, only their chunk members."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitdata.api import Dataset
from gitdata.ops.target import MARKER_NAME
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import make_tree, read_tree

KB = 1024


def blob(tag: str, size: int) -> bytes:
    """Distinct, incompressible-enough content of ``size`` bytes."""
    seed = tag.encode() * (size // max(len(tag), 1) + 1)
    return bytes((b + i * 7) % 251 for i, b in enumerate(seed[:size]))


# 12 files of 300 KB in 1 MB chunks: several chunks, a few members each
FILES = {f"{d}/f{i}.bin": blob(f"{d}{i}", 300 * KB) for d in "abc" for i in range(4)}
FILES.update({"a/notes.txt": b"alpha notes", "c/x.txt": b"sea"})


def close_version(gd, src: Path, files: dict[str, bytes], *extra: str, chunk_mb: int = 1) -> str:
    make_tree(src, files)
    vid = gd("create", "--project", "p", "--name", "n", *extra, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("close", "--chunk-size", str(chunk_mb))
    return vid


@pytest.fixture
def v1(gd, tmp_path: Path) -> str:
    return close_version(gd, tmp_path / "src", FILES)


def wanted(pattern_paths: list[str]) -> dict[str, bytes]:
    return {p: FILES[p] for p in pattern_paths}


def cache_root() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "gitdata"


def cached_shas() -> set[str]:
    blobs = cache_root() / "blobs"
    return {f.name for f in blobs.rglob("*") if f.is_file()} if blobs.exists() else set()


class Reads:
    """The store's reads of chunks and manifests, recorded while a test runs."""

    def __init__(self) -> None:
        self.ranged: list[tuple[str, int]] = []  # (key, length)
        self.whole: list[str] = []

    @property
    def chunks(self) -> set[str]:
        return {k.rsplit("/", 1)[-1] for k, _ in self.ranged} | {
            k.rsplit("/", 1)[-1] for k in self.whole
        }


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    seen = Reads()
    get_range, get_file, get_bytes = (
        FsspecStore.get_range,
        FsspecStore.get_file,
        FsspecStore.get_bytes,
    )

    def ranged(self, key: str, start: int, length: int) -> bytes:
        if key.startswith("objects/"):
            seen.ranged.append((key, length))
        return get_range(self, key, start, length)

    def whole_file(self, key: str, *args, **kwargs):
        if key.startswith("objects/"):
            seen.whole.append(key)
        return get_file(self, key, *args, **kwargs)

    monkeypatch.setattr(FsspecStore, "get_range", ranged)
    monkeypatch.setattr(FsspecStore, "get_file", whole_file)
    monkeypatch.setattr(FsspecStore, "get_bytes", get_bytes)
    return seen


def refused(r, code: int, *words: str) -> None:
    assert r.exit_code == code, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("gd: error:") and "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_cached_copy_holds_exactly_the_matching_files(gd, v1: str):
    path = Path(gd("get", "--id", v1, "--filter", "b").stdout.strip())
    assert read_tree(path) == wanted([f"b/f{i}.bin" for i in range(4)])
    # the full version's cached copy is another folder, with every file
    full = Path(gd("get", "--id", v1).stdout.strip())
    assert full != path
    assert read_tree(full) == FILES
    assert read_tree(path) == wanted([f"b/f{i}.bin" for i in range(4)])
    # the same filter (given in another order) finds the same cached copy
    again = gd("get", "--id", v1, "--filter", "b/", "--filter", "b").stdout.strip()
    assert Path(again) == path


def test_several_filters_and_wildcards_select_their_union(gd, v1: str):
    path = gd("get", "--id", v1, "--filter", "*.txt", "--filter", "a/f1.bin").stdout.strip()
    assert read_tree(Path(path)) == wanted(["a/notes.txt", "c/x.txt", "a/f1.bin"])


def test_only_the_wanted_members_are_read_from_the_store(gd, v1: str, reads: Reads):
    manifest = Dataset.get(dataset_id=v1).get_manifest()
    entries = {e.path: e for e in manifest}
    assert len({e.chunk for e in manifest}) >= 4  # several chunks
    picked = ["a/f2.bin", "c/x.txt"]
    path = gd("get", "--id", v1, "--filter", "a/f2.bin", "--filter", "c/x.txt").stdout.strip()
    assert read_tree(Path(path)) == wanted(picked)
    assert reads.whole == []  # no chunk downloaded whole
    assert sorted(n for _, n in reads.ranged) == sorted(entries[p].length for p in picked)
    assert reads.chunks == {entries[p].chunk for p in picked}
    # the cache holds the wanted contents and no other file of the version
    shas = {e.sha256 for e in manifest}
    assert cached_shas() & shas == {entries[p].sha256 for p in picked}


def test_many_small_members_of_a_big_chunk_are_ranged_reads(gd, tmp_path: Path, reads: Reads):
    """Nine small files beside a 10 MB one in a 16 MB chunk: a get of the small ones
    reads them (9 ranged reads), not the whole chunk (which the old rule, more than
    eight members: whole chunk, downloaded)."""
    files: dict[str, bytes] = {f"small/s{i}.txt": f"small {i}".encode() for i in range(9)}
    files["big.bin"] = blob("big", 10 * KB * KB)
    vid = close_version(gd, tmp_path / "src", files, chunk_mb=16)
    manifest = Dataset.get(dataset_id=vid).get_manifest()
    assert len({e.chunk for e in manifest}) == 1
    reads.ranged.clear()
    path = gd("get", "--id", vid, "--filter", "small").stdout.strip()
    assert read_tree(Path(path)) == {p: d for p, d in files.items() if p.startswith("small/")}
    assert reads.whole == []
    assert len(reads.ranged) == 9
    assert sum(n for _, n in reads.ranged) < 10 * KB


def test_a_full_get_still_reads_a_chunk_whole(gd, tmp_path: Path, reads: Reads):
    files = {f"s{i}.txt": f"small {i}".encode() for i in range(20)}
    vid = close_version(gd, tmp_path / "src", files)
    path = gd("get", "--id", vid).stdout.strip()
    assert read_tree(Path(path)) == files
    assert len(reads.whole) == 1 and reads.ranged == []


@pytest.mark.parametrize("mode", ["--link", "--copy"])
def test_filter_into_a_tree_records_it_and_verify_checks_those_files(
    gd, v1: str, tmp_path: Path, mode: str
):
    target = tmp_path / "out"
    gd("get", "--id", v1, "--filter", "c", mode, str(target))
    picked = ["c/x.txt", *(f"c/f{i}.bin" for i in range(4))]
    assert read_tree(target) == wanted(picked)
    marker = json.loads((target / MARKER_NAME).read_text())
    assert marker["filter"] == ["c"] and marker["only_added"] is False
    assert sorted(marker["files"]) == sorted(picked)
    ok = gd("verify", "--id", v1, "--folder", str(target), "--json").json()
    assert ok["ok"] and ok["checked"] == len(picked) and ok["missing"] == []
    assert ok["selection"]["filter"] == ["c"]
    human = gd("verify", "--id", v1, "--folder", str(target)).stdout
    assert "--filter 'c'" in human
    # a file the get put there that goes missing is reported; the others are not
    os.chmod(target / "c", 0o755)
    (target / "c/x.txt").unlink()
    bad = gd("verify", "--id", v1, "--folder", str(target), "--json", ok=False)
    assert bad.exit_code == 9 and bad.json()["missing"] == ["c/x.txt"]


@pytest.mark.parametrize("mode", ["--link", "--copy"])
def test_overwrite_replaces_a_filtered_tree_with_another_selection(
    gd, v1: str, tmp_path: Path, mode: str
):
    target = tmp_path / "out"
    gd("get", "--id", v1, "--filter", "a", mode, str(target))
    gd("get", "--id", v1, "--filter", "*.txt", mode, str(target), "--overwrite")
    assert read_tree(target) == wanted(["a/notes.txt", "c/x.txt"])
    gd("get", "--id", v1, mode, str(target), "--overwrite")
    assert read_tree(target) == FILES
    assert json.loads((target / MARKER_NAME).read_text())["filter"] is None


@pytest.mark.parametrize("mode", [None, "--link", "--copy"])
def test_filter_then_part_splits_the_matching_files(gd, v1: str, tmp_path: Path, mode):
    got: dict[str, bytes] = {}
    for part in range(3):
        where = ["--copy" if mode is None else mode, str(tmp_path / f"p{part}")] if mode else []
        out = gd(
            "get", "--id", v1, "--filter", "a", "--filter", "b",
            "--part", str(part), "--num-parts", "3", *where,
        ).stdout.strip()  # fmt: skip
        tree = read_tree(Path(out))
        assert tree and not (tree.keys() & got.keys())
        got.update(tree)
    assert got == {p: d for p, d in FILES.items() if p.startswith(("a/", "b/"))}
    if mode:
        verified = gd("verify", "--id", v1, "--folder", str(tmp_path / "p1"), "--json").json()
        assert verified["ok"] and verified["selection"]["part"] == 1


def test_only_added_gets_what_the_version_added_or_modified(gd, v1: str, tmp_path: Path):
    src = tmp_path / "child"
    make_tree(src, {"a/notes.txt": b"new notes", "d/new.txt": b"brand new"})
    child = gd("create", "--project", "p", "--name", "n", "--parents", v1, "--json").json()["id"]
    gd("add", "--files", str(src))
    gd("remove", "--files", "b/f0.bin")
    gd("close")
    target = tmp_path / "out"
    gd("get", "--id", child, "--only-added", "--copy", str(target))
    assert read_tree(target) == {"a/notes.txt": b"new notes", "d/new.txt": b"brand new"}
    assert json.loads((target / MARKER_NAME).read_text())["only_added"] is True
    assert gd("verify", "--id", child, "--folder", str(target), "--json").json()["ok"]
    both = gd("get", "--id", child, "--only-added", "--filter", "d").stdout.strip()
    assert read_tree(Path(both)) == {"d/new.txt": b"brand new"}
    # the parent added every file it holds
    assert read_tree(Path(gd("get", "--id", v1, "--only-added").stdout.strip())) == FILES


def _entries(root: Path) -> set[str]:
    """What is under ``root``, less sqlite's own -wal and -shm files (they come and go
    as connections to a database open and close, whoever's)."""
    if not root.exists():
        return set()
    return {
        str(p.relative_to(root)) for p in root.rglob("*") if not p.name.endswith(("-wal", "-shm"))
    }


@pytest.mark.parametrize("mode", [None, "--link", "--copy"])
def test_a_filter_matching_nothing_is_an_error_and_writes_nothing(
    gd, v1: str, tmp_path: Path, mode
):
    target = tmp_path / "out"
    where = [mode, str(target)] if mode else []
    gd("list", "--id", v1)  # the record and manifest are cached: what a get may keep
    cache_before = _entries(cache_root())
    r = gd("get", "--id", v1, "--filter", "nope/*.png", *where, ok=False)
    refused(r, 3, "no file matches", "--filter 'nope/*.png'", "gd list --filter")
    assert len(r.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert not target.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".out")]
    assert _entries(cache_root()) == cache_before


def test_only_added_with_nothing_added_is_an_error(gd, v1: str, tmp_path: Path):
    child = gd("create", "--project", "p", "--name", "n", "--parents", v1, "--json").json()["id"]
    gd("remove", "--files", "c")
    gd("close")
    target = tmp_path / "out"
    r = gd("get", "--id", child, "--only-added", "--link", str(target), ok=False)
    refused(r, 3, "added or modified no file")
    assert not target.exists()


def test_an_empty_filter_pattern_is_refused(gd, v1: str):
    refused(gd("get", "--id", v1, "--filter", "/", ok=False), 4, "invalid filter pattern")


def test_bind_does_not_go_with_a_filter(gd, v1: str, tmp_path: Path):
    r = gd("get", "--id", v1, "--filter", "a", "--link", str(tmp_path / "out"), "--bind", ok=False)
    assert r.exit_code == 2 and "--bind" in r.stderr
    assert not (tmp_path / "out").exists()


def test_cat_reads_one_member_of_a_chunk_by_a_ranged_read(gd, v1: str, reads: Reads):
    entry = Dataset.get(dataset_id=v1).get_manifest().get("a/notes.txt")
    assert entry is not None
    assert gd("cat", "--id", v1, "a/notes.txt").stdout == "alpha notes"
    assert reads.whole == []
    assert reads.ranged == [(f"objects/{entry.chunk[:2]}/{entry.chunk}", entry.length)]
