"""gitdata.fs: the read-only ``gd://`` fsspec filesystem, on real stores (a local
folder and the suite's S3 server), with paged manifests."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import fsspec
import pytest

from gitdata import Dataset
from gitdata import fs as gitdata_fs
from gitdata.errors import IntegrityError
from gitdata.fs import GitDataFile, GitDataFileSystem
from gitdata.ops import fileread
from gitdata.storage.fsstore import FsspecStore
from tests.conftest import cloud_url

BIG = bytes(range(256)) * 64  # 16 KiB: a "big" file once WHOLE_UP_TO is lowered
FILES: dict[str, bytes] = {
    "README.md": b"# sample\n",
    "big.bin": BIG,
    "tables/a.csv": b"x,y\n1,2\n3,4\n",
    "tables/b.csv": b"x,y\n5,6\n",
    "tables/deep/c.csv": b"x,y\n7,8\n",
    "with space/é.txt": "unicodé\n".encode(),
    **{f"many/f{i:03d}.txt": b"%d\n" % i for i in range(40)},
}


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh store of each kind, the default one for this test."""
    if request.param == "s3":
        request.getfixturevalue("storage_servers")
        url = cloud_url("s3")
    else:
        url = str(tmp_path / "store")
    monkeypatch.setenv("GD_STORAGE", url)
    return url


@pytest.fixture
def ranged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files over 1 KiB are read by ranges, 4 KiB at least per request (and 4 KiB
    read ahead by the fsspec file object)."""
    monkeypatch.setattr(fileread, "WHOLE_UP_TO", 1024)
    monkeypatch.setattr(fileread, "RANGE_BLOCK", 4096)
    monkeypatch.setattr(gitdata_fs, "_BLOCK", 4096)


def make_version(
    root: Path, files: dict[str, bytes], project: str = "vision", name: str = "cats"
) -> str:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    ds = Dataset.create(dataset_project=project, dataset_name=name)
    ds.add_files(root)
    ds.upload()
    ds.finalize()
    return ds.id


@pytest.fixture
def version(store: str, tmp_path: Path, small_pages: None) -> str:
    """A closed, paged version of FILES in vision/cats."""
    return make_version(tmp_path / "src", FILES)


def fresh(**options: Any) -> GitDataFileSystem:
    return GitDataFileSystem(skip_instance_cache=True, **options)


def test_the_entry_point_registers_the_gd_protocol():
    assert fsspec.get_filesystem_class("gd") is GitDataFileSystem
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="fsspec.specs") if e.name == "gd"]
    assert ep.value == "gitdata.fs:GitDataFileSystem"


def test_listing_by_id_and_by_project_and_name(version: str):
    fs = fresh()
    top = ["README.md", "big.bin", "many", "tables", "with space"]
    assert fs.ls(f"gd://{version}", detail=False) == [f"{version}/{n}" for n in top]
    assert fs.ls("gd://vision/cats/", detail=False) == [f"vision/cats/{n}" for n in top]
    assert fs.ls("vision/cats/tables", detail=False) == [
        "vision/cats/tables/a.csv",
        "vision/cats/tables/b.csv",
        "vision/cats/tables/deep",
    ]
    info = fs.info("gd://vision/cats/tables/a.csv")
    assert info == {
        "name": "vision/cats/tables/a.csv",
        "size": 12,
        "type": "file",
        "sha256": hashlib.sha256(FILES["tables/a.csv"]).hexdigest(),
    }
    assert fs.info("vision/cats/tables/deep") == {
        "name": "vision/cats/tables/deep",
        "size": 0,
        "type": "directory",
    }
    assert fs.ls("vision/cats/tables/a.csv") == [info]  # ls of a file: the file
    assert fs.isdir("vision/cats") and fs.isfile(f"{version}/big.bin")
    assert fs.size("vision/cats/big.bin") == len(BIG)
    assert fs.ukey("vision/cats/big.bin") == hashlib.sha256(BIG).hexdigest()
    assert len(fs.ls("vision/cats/many")) == 40


def test_find_glob_walk_and_du(version: str):
    fs = fresh()
    every = sorted(f"vision/cats/{p}" for p in FILES)
    assert fs.find("gd://vision/cats") == every
    assert fs.find("vision/cats/tables", maxdepth=1) == [
        "vision/cats/tables/a.csv",
        "vision/cats/tables/b.csv",
    ]
    with_dirs = fs.find("vision/cats/tables", withdirs=True)
    assert "vision/cats/tables/deep" in with_dirs and "vision/cats/tables" in with_dirs
    local = fsspec.filesystem("file")  # the same shape as fsspec's own local filesystem
    assert local.find(str(Path(__file__).parent / "cli"), withdirs=True, maxdepth=1)[0] == str(
        Path(__file__).parent / "cli"
    )
    assert fs.find("gd://vision/cats", withdirs=True, maxdepth=1)[0] == "vision/cats"
    assert (
        fresh(project="vision", name="cats").find("", withdirs=True, maxdepth=1)[0] == "README.md"
    )
    assert fs.find("vision/cats/tables/a.csv") == ["vision/cats/tables/a.csv"]
    assert fs.find("vision/cats/nothing") == []
    assert fs.glob("gd://vision/cats/tables/*.csv") == [
        "vision/cats/tables/a.csv",
        "vision/cats/tables/b.csv",
    ]
    assert fs.glob("vision/cats/tables/**/*.csv") == [
        "vision/cats/tables/a.csv",
        "vision/cats/tables/b.csv",
        "vision/cats/tables/deep/c.csv",
    ]
    assert fs.glob(f"{version}/many/f00?.txt") == [f"{version}/many/f00{i}.txt" for i in range(10)]
    walked = {root: sorted(files) for root, _dirs, files in fs.walk("vision/cats/tables")}
    assert walked == {
        "vision/cats/tables": ["a.csv", "b.csv"],
        "vision/cats/tables/deep": ["c.csv"],
    }
    assert fs.du("vision/cats") == sum(len(v) for v in FILES.values())


def test_a_bound_filesystem_reads_a_nested_project(store: str, tmp_path: Path):
    vid = make_version(tmp_path / "n", {"a/b.txt": b"nested"}, project="team/vision", name="dogs")
    fs = fresh(project="team/vision", name="dogs")
    assert fs.ls("", detail=False) == ["a"]
    assert fs.cat("gd://a/b.txt") == b"nested"
    assert fresh(id=vid).find("") == ["a/b.txt"]
    assert fresh(id=vid).open("a/b.txt").read() == b"nested"


def test_opened_files_are_seekable_and_read_by_ranges(version: str, ranged: None, monkeypatch):
    asked: list[int] = []
    real = FsspecStore.get_range

    def counting(self: FsspecStore, key: str, start: int, length: int) -> bytes:
        asked.append(length)
        return real(self, key, start, length)

    monkeypatch.setattr(FsspecStore, "get_range", counting)
    fs = fresh()
    with fs.open("vision/cats/big.bin") as fh:
        assert fh.seekable()
        assert fh.seek(0, io.SEEK_END) == len(BIG)
        fh.seek(-10, io.SEEK_END)
        assert fh.read() == BIG[-10:]
        fh.seek(5000)
        assert fh.read(3) == BIG[5000:5003]
        assert fh.tell() == 5003
    assert asked and sum(asked) < len(BIG) and max(asked) <= 2 * 4096  # never the whole file
    assert fs.cat_file("vision/cats/big.bin", start=100, end=110) == BIG[100:110]
    assert fs.cat_file("vision/cats/big.bin", start=-4) == BIG[-4:]
    assert fs.cat_file("vision/cats/big.bin", start=10, end=-10) == BIG[10:-10]
    assert fs.cat_file("vision/cats/tables/a.csv", start=4) == FILES["tables/a.csv"][4:]
    assert fs.cat("vision/cats/with space/é.txt") == FILES["with space/é.txt"]
    with fs.open("vision/cats/tables/a.csv", "r") as text:
        assert text.read() == "x,y\n1,2\n3,4\n"
    with fs.open("vision/cats/big.bin") as fh:  # fsspec's own file object
        assert isinstance(fh, GitDataFile) and fh.size == len(BIG)
        assert fh.details["sha256"] == hashlib.sha256(BIG).hexdigest()


def test_fsspec_cache_chains_work_over_gd(version: str, ranged: None, tmp_path: Path):
    for chain in ("simplecache", "blockcache", "filecache"):
        url = f"{chain}::gd://vision/cats/big.bin"
        options = {chain: {"cache_storage": str(tmp_path / chain)}}
        with fsspec.open(url, **options) as fh:
            fh.seek(-5, io.SEEK_END)
            assert fh.read() == BIG[-5:]
        with fsspec.open(url, **options) as fh:  # (again: from that cache)
            assert fh.read() == BIG


def test_a_file_in_the_local_cache_is_read_from_there(version: str, ranged: None, monkeypatch):
    Dataset.get(dataset_id=version).get_local_copy()
    monkeypatch.setattr(FsspecStore, "get_range", lambda *a, **k: pytest.fail("read the store"))
    fs = fresh()
    assert fs.cat("vision/cats/big.bin") == BIG
    assert fs.open("vision/cats/tables/a.csv").read() == FILES["tables/a.csv"]


def test_one_open_reads_the_root_and_one_page(version: str, monkeypatch):
    from gitdata.ops import reader

    loaded: list[str] = []
    real = reader.load_manifest_object

    def counting(ctx: Any, sha: str, what: str = "manifest") -> bytes:
        loaded.append(what)
        return real(ctx, sha, what)

    monkeypatch.setattr(reader, "load_manifest_object", counting)
    monkeypatch.setattr(reader, "_MANIFESTS", {})
    m = Dataset.get(dataset_id=version).get_manifest()
    pages = len(m.page_refs)  # type: ignore[attr-defined]
    assert pages >= 3
    loaded.clear()
    monkeypatch.setattr(reader, "_MANIFESTS", {})
    assert fresh().cat(f"{version}/many/f007.txt") == b"7\n"
    assert loaded == ["manifest", "manifest page"]


def test_a_corrupt_chunk_is_caught_when_a_file_is_read_through(
    tmp_path: Path, ranged: None, monkeypatch: pytest.MonkeyPatch
):
    store = str(tmp_path / "store")  # (a local store: its chunk is corrupted in place)
    monkeypatch.setenv("GD_STORAGE", store)
    vid = make_version(tmp_path / "c", {"big.bin": BIG})
    entry = Dataset.get(dataset_id=vid).get_manifest().get("big.bin")
    assert entry is not None
    chunk = next(Path(store).rglob(f"{entry.chunk}*"))
    chunk.chmod(0o644)
    data = bytearray(chunk.read_bytes())
    data[entry.offset + 9000] ^= 0xFF
    chunk.write_bytes(bytes(data))
    fs = fresh()
    assert fs.cat_file(f"{vid}/big.bin", start=0, end=100) == BIG[:100]  # (not checked)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        fs.cat(f"{vid}/big.bin")
    with fs.open(f"{vid}/big.bin") as fh:  # read about first, then through from the start
        fh.seek(12_000)
        fh.read(10)
        fh.seek(0)
        with pytest.raises(IntegrityError, match="sha256 mismatch"):
            fh.read()


@pytest.mark.parametrize(
    "write",
    [
        lambda fs: fs.open("vision/cats/new.txt", "wb"),
        lambda fs: fs.open("vision/cats/README.md", "ab"),
        lambda fs: fs.open("vision/cats/README.md", "w"),
        lambda fs: fs.rm("vision/cats/README.md"),
        lambda fs: fs.rm_file("vision/cats/README.md"),
        lambda fs: fs.mkdir("vision/cats/new"),
        lambda fs: fs.makedirs("vision/cats/new/deeper", exist_ok=True),
        lambda fs: fs.pipe("vision/cats/x.txt", b"x"),
        lambda fs: fs.pipe_file("vision/cats/x.txt", b"x"),
        lambda fs: fs.touch("vision/cats/x.txt"),
        lambda fs: fs.mv("vision/cats/README.md", "vision/cats/R.md"),
        lambda fs: fs.copy("vision/cats/README.md", "vision/cats/R.md"),
        lambda fs: fs.cp_file("vision/cats/README.md", "vision/cats/R.md"),
        lambda fs: fs.put(__file__, "vision/cats/t.py"),
        lambda fs: fs.rmdir("vision/cats/tables"),
    ],
)
def test_every_write_is_refused(version: str, write):
    fs = fresh()
    before = fs.find("vision/cats")
    with pytest.raises(PermissionError, match="read-only"):
        write(fs)
    assert fresh().find("vision/cats") == before


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("vision/cats/nothing.txt", FileNotFoundError),
        ("vision/cats/tables/a.csv/x", FileNotFoundError),
        ("vision/cats/../cats/README.md", FileNotFoundError),
        ("vision/dogs/README.md", FileNotFoundError),
        ("0123456789abcdef0123456789abcdef/README.md", FileNotFoundError),
        ("justone", FileNotFoundError),
        ("", FileNotFoundError),
        ("vision/cats/tables", IsADirectoryError),
    ],
)
def test_missing_paths_and_versions_are_file_not_found(version: str, path: str, error: type):
    fs = fresh()
    with pytest.raises(error):
        fs.open(path).read()
    if error is FileNotFoundError:
        with pytest.raises(FileNotFoundError):
            fs.info(path)
        assert not fs.exists(path)


def test_a_short_id_in_a_url_says_the_full_id_is_needed(version: str):
    with pytest.raises(FileNotFoundError, match="full 32-character id"):
        fresh().cat(f"gd://{version[:8]}/README.md")


def test_a_draft_is_not_readable(store: str, tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    draft = Dataset.create(dataset_project="p", dataset_name="draft")
    draft.add_files(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="not closed"):
        fresh().ls(f"gd://{draft.id}")


def test_storage_options_are_checked():
    for bad in (
        {"project": "p"},
        {"id": "a" * 32, "project": "p", "name": "n"},
        {"version": "1.0.0", "rev": "HEAD"},
        {"id": "a" * 32, "rev": "HEAD"},
    ):
        with pytest.raises(ValueError):
            fresh(**bad)


def test_the_filesystem_pickles_and_reads_again(version: str):
    fs = fresh(storage=os.environ["GD_STORAGE"])
    again = pickle.loads(pickle.dumps(fs))
    assert again.storage_options == fs.storage_options
    assert again.cat("vision/cats/tables/b.csv") == FILES["tables/b.csv"]


def test_rev_and_version_choose_the_version(store: str, tmp_path: Path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    monkeypatch.chdir(repo)
    v1 = make_version(tmp_path / "v1", {"a.txt": b"one"})
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    make_version(tmp_path / "v2", {"a.txt": b"two"})
    subprocess.run([*git, "commit", "-qm", "v2"], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert fresh(rev="HEAD~1", repo=str(repo)).cat("vision/cats/a.txt") == b"one"
    assert fresh(rev="main", repo=str(repo)).cat("vision/cats/a.txt") == b"two"
    assert fresh(version="1.0.0").cat("vision/cats/a.txt") == b"one"
    assert fresh(id=v1).cat("a.txt") == b"one"
    with pytest.raises(FileNotFoundError):
        fresh(rev="HEAD~5", repo=str(repo)).cat("vision/cats/a.txt")
