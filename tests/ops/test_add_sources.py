"""Adding local files that change, loop, block or cannot be read: clear errors, no bad versions."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from gitdata import Dataset
from gitdata.errors import (
    GitDataError,
    IntegrityError,
    InvalidInputError,
    LocalPathUnreadableError,
    SourceChangedError,
)
from gitdata.ops import drafts as drafts_mod
from gitdata.ops import scan as scan_mod
from gitdata.ops.commit import finalize
from gitdata.storage import version_key
from tests.conftest import make_tree


def _new(tmp_path: Path) -> Dataset:
    return Dataset.create(dataset_project="p", dataset_name="n")


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


# ------------------------------------------------- size and hash from one read


def test_a_file_rewritten_between_scan_and_hash_gets_the_size_of_what_was_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = make_tree(tmp_path / "src", {"grow.bin": b"x" * 10, "same.txt": "s"})
    real_walk = drafts_mod.iter_folder_runs  # (add walks a folder's files as runs)

    def walk_then_grow(*args, **kwargs):
        found = list(real_walk(*args, **kwargs))
        (src / "grow.bin").write_bytes(b"y" * 25)  # after the walk's stat, before hashing
        return iter(found)

    monkeypatch.setattr(drafts_mod, "iter_folder_runs", walk_then_grow)
    ds = _new(tmp_path)
    ds.add_files(src)
    entry = {e["path"]: e for e in ds.file_entries()}["grow.bin"]
    assert entry["size"] == 25
    ds.finalize(auto_upload=True)
    closed = Dataset.get(dataset_id=ds.id)
    assert closed.read_bytes("grow.bin") == b"y" * 25  # readable, the content hashed


def test_sync_takes_the_size_from_the_read_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = make_tree(tmp_path / "src", {"grow.bin": b"x" * 10})
    real_walk = drafts_mod.iter_folder_runs  # (sync walks a folder's files as runs)

    def walk_then_grow(*args, **kwargs):
        found = list(real_walk(*args, **kwargs))
        (src / "grow.bin").write_bytes(b"z" * 3)
        return iter(found)

    monkeypatch.setattr(drafts_mod, "iter_folder_runs", walk_then_grow)
    ds = _new(tmp_path)
    ds.sync_folder(src)
    ds.finalize(auto_upload=True)
    assert Dataset.get(dataset_id=ds.id).read_bytes("grow.bin") == b"zzz"


def test_read_expected_reads_one_byte_past_a_stat_that_is_out_of_date(tmp_path: Path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 5000)
    fd = os.open(path, os.O_RDONLY)
    try:
        for said, got in ((5000, 5000), (9000, 5000), (4999, 5000), (10, 11), (0, 1)):
            os.lseek(fd, 0, os.SEEK_SET)  # as stat'ed, shrank since, grew since
            assert scan_mod.read_expected(fd, said) == b"x" * got
    finally:
        os.close(fd)


@pytest.mark.parametrize("whole", [True, False], ids=["read-whole", "in-blocks"])
def test_files_read_whole_or_in_blocks_hash_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: bool
):
    if not whole:
        monkeypatch.setattr(scan_mod, "WHOLE_READ", 10)
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    digest, st = scan_mod.hash_source(str(path))
    assert digest == hashlib.sha256(data).hexdigest() and st.st_size == len(data)


_REAL_FSTAT = os.fstat


def _grow_on_fstat(monkeypatch: pytest.MonkeyPatch, target: Path, calls: set[int]) -> None:
    """Append a byte to ``target`` just before the n-th fstat of it (n in ``calls``)."""
    real_fstat = os.fstat
    count = 0

    def fstat(fd: int):
        nonlocal count
        if _fd_path(fd) == str(target):
            count += 1
            if count in calls:
                with open(target, "ab") as fh:
                    fh.write(b"+")
        return real_fstat(fd)

    monkeypatch.setattr(scan_mod.os, "fstat", fstat)


def test_a_file_that_changes_while_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = make_tree(tmp_path / "src", {"log.txt": "abc"})
    _grow_on_fstat(monkeypatch, src / "log.txt", {2})  # the fstat after the first read
    ds = _new(tmp_path)
    ds.add_files(src)
    monkeypatch.setattr(scan_mod.os, "fstat", _REAL_FSTAT)
    entry = ds.file_entries()[0]
    assert entry["size"] == 4
    ds.finalize(auto_upload=True)
    assert Dataset.get(dataset_id=ds.id).read_bytes("log.txt") == b"abc+"


def test_a_file_that_keeps_changing_is_refused_by_name_and_nothing_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = make_tree(tmp_path / "src", {"log.txt": "abc", "ok.txt": "ok"})
    _grow_on_fstat(monkeypatch, src / "log.txt", set(range(2, 100, 2)))
    ds = _new(tmp_path)
    with pytest.raises(SourceChangedError) as info:
        ds.add_files(src)
    assert str(src / "log.txt") in info.value.message
    assert info.value.path == str(src / "log.txt")
    assert ds.list_files() == []


def test_finalize_refuses_a_manifest_its_reader_would_reject(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "hello"})
    ds = _new(tmp_path)
    ds.add_files(src)
    ds.upload()
    ctx = ds._ctx
    draft = ctx.state.load_draft(ds.id)
    f = draft.files["a.txt"]
    f.size = 99  # what an older gd could record: length != size
    draft.files["a.txt"] = f
    ctx.state.save_draft(draft)
    store = ctx.store_for(draft.storage)
    before = set(store.list(""))
    with pytest.raises(IntegrityError) as info:
        finalize(ctx, ds.id)
    assert "a.txt" in info.value.message
    assert set(store.list("")) == before  # no manifest, no record
    assert not store.exists(version_key(ds.id))
    assert ctx.state.has_draft(ds.id)


# ------------------------------------------------------------------ symlinks


def test_a_link_back_to_the_added_folder_is_not_followed(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})
    os.symlink(".", src / "self")
    os.symlink(".", src / "again")
    os.symlink("..", src / "sub" / "up")
    ds = _new(tmp_path)
    result: list[object] = []

    def run() -> None:
        try:
            with pytest.warns(UserWarning, match="loop"):
                result.append(ds.add_files(src))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "gd add hung on a symlink loop"
    assert result == [2], result
    assert ds.list_files() == ["a.txt", "sub/b.txt"]


def test_a_link_to_a_sibling_folder_is_still_followed(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"v3/a.txt": "a"})
    os.symlink("v3", src / "latest")
    ds = _new(tmp_path)
    ds.add_files(src)
    assert ds.list_files() == ["latest/a.txt", "v3/a.txt"]


def test_a_link_that_cannot_be_resolved_is_skipped_like_a_dangling_one(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    os.symlink("loop2", src / "loop1")
    os.symlink("loop1", src / "loop2")
    os.symlink("missing", src / "dangling")
    ds = _new(tmp_path)
    ds.add_files(src)
    assert ds.list_files() == ["a.txt"]


# --------------------------------------------------------- non-regular files


def test_a_fifo_given_to_add_is_refused(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    ds = _new(tmp_path)
    with pytest.raises(InvalidInputError, match="FIFO") as info:
        ds.add_files(fifo)
    assert str(fifo) in info.value.message
    assert ds.list_files() == []


def test_a_fifo_inside_an_added_folder_is_skipped(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    os.mkfifo(src / "pipe")
    ds = _new(tmp_path)
    assert ds.add_files(src) == 1
    assert ds.list_files() == ["a.txt"]


def _close_in_thread(ds: Dataset) -> list[object]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(ds.finalize(auto_upload=True))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():
        # unblock the open() of the old code so the thread can end
        fd = os.open(ds._ctx.state.load_draft(ds.id).files["a.txt"].source, os.O_WRONLY)
        os.close(fd)
        worker.join(10)
        pytest.fail("close hung on a FIFO")
    return result


def _read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are read in blocks, as one over 16 MiB is: the add captures no content
    (ops/spool.py), so the close reads each source again."""
    monkeypatch.setattr(scan_mod, "WHOLE_READ", 0)


def test_an_added_file_replaced_by_a_fifo_fails_close_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _read_in_blocks(monkeypatch)
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ds = _new(tmp_path)
    ds.add_files(src)
    (src / "a.txt").unlink()
    os.mkfifo(src / "a.txt")
    (err,) = _close_in_thread(ds)
    assert isinstance(err, SourceChangedError), err
    assert str(src / "a.txt") in err.message and "FIFO" in err.message
    assert not ds.is_final()


def test_an_added_file_replaced_by_a_folder_fails_close_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _read_in_blocks(monkeypatch)
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ds = _new(tmp_path)
    ds.add_files(src)
    (src / "a.txt").unlink()
    (src / "a.txt").mkdir()
    with pytest.raises(SourceChangedError) as info:
        ds.finalize(auto_upload=True)
    assert str(src / "a.txt") in info.value.message
    assert ds._ctx.state.has_draft(ds.id)


# ------------------------------------------------------------ unreadable files


def _deny(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Opening ``target`` fails with EACCES (tests run as root, chmod 000 is no help)."""
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if os.fspath(path) == str(target):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(scan_mod.os, "open", deny)


def test_an_unreadable_file_is_named_and_nothing_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "secret.txt": "s"})
    _deny(monkeypatch, src / "secret.txt")
    ds = _new(tmp_path)
    with pytest.raises(LocalPathUnreadableError) as info:
        ds.add_files(src)
    assert isinstance(info.value, PermissionError)
    assert str(src / "secret.txt") in info.value.message
    assert ds.list_files() == []


def test_a_file_unreadable_at_close_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _read_in_blocks(monkeypatch)
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ds = _new(tmp_path)
    ds.add_files(src)
    _deny(monkeypatch, src / "a.txt")
    with pytest.raises(LocalPathUnreadableError) as info:
        ds.finalize(auto_upload=True)
    assert str(src / "a.txt") in info.value.message
    assert ds._ctx.state.has_draft(ds.id)


def test_an_unreadable_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "locked/b.txt": "b"})
    real_listdir = os.listdir

    def listdir(path):
        if os.fspath(path) == str(src / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_listdir(path)

    monkeypatch.setattr(scan_mod.os, "listdir", listdir)
    ds = _new(tmp_path)
    with pytest.raises(LocalPathUnreadableError) as info:
        ds.add_files(src)
    assert str(src / "locked") in info.value.message
    assert ds.list_files() == []


def test_a_non_utf8_file_name_is_refused_clearly(tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"c")
    ds = _new(tmp_path)
    with pytest.raises(InvalidInputError, match="UTF-8") as info:
        ds.add_files(src)
    assert "caf\\xe9.txt" in info.value.message
    info.value.message.encode("utf-8")  # printable as it is
    assert ds.list_files() == []
    assert stat.S_ISDIR(os.stat(src).st_mode)


@pytest.mark.parametrize(
    ("folder", "shown"),
    [
        (b"d\xe9", "d\\xe9/plain.txt"),  # an ASCII file right inside it
        (b"d\xe9j\xe0/inner", "d\\xe9j\\xe0/inner/plain.txt"),  # or in a folder below it
    ],
)
def test_an_ascii_file_in_a_non_utf8_folder_is_refused_clearly(
    tmp_path: Path, folder: bytes, shown: str
):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    bad = os.path.join(os.fsencode(src), folder)
    os.makedirs(bad)
    with open(os.path.join(bad, b"plain.txt"), "wb") as fh:
        fh.write(b"p")
    ds = _new(tmp_path)
    with pytest.raises(InvalidInputError, match="UTF-8") as info:
        ds.add_files(src)
    assert shown in info.value.message
    assert ds.list_files() == []


def test_errors_are_gitdata_errors():
    assert issubclass(LocalPathUnreadableError, GitDataError)
