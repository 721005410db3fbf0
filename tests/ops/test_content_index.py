"""Store-wide deduplication through the store content index (docs/format.md §14).

Content any closed version of the store holds is referenced by a close of an
unrelated dataset instead of being uploaded again; index objects are hints only
(missing, damaged or forged ones fall back to uploading), gc keeps them true,
and concurrent or killed closes leave nothing wrong behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from gitdata.config import resolve_settings
from gitdata.core.contentindex import IndexEntry, decode_index, encode_index, index_key
from gitdata.gitio.repo import find_repo
from gitdata.ops import commit, contentindex, drafts, gc, upload
from gitdata.ops.context import Context
from gitdata.ops.maintenance import delete_version
from gitdata.ops.metadata import publish
from gitdata.ops.reader import load_manifest, load_record
from gitdata.ops.remote import verify_remote
from gitdata.storage import FsspecStore
from tests.conftest import make_tree

SHARED = {f"d{i // 5}/f{i}.bin": os.urandom(21_000) for i in range(20)}  # 420 KB
NEW = os.urandom(10_000)


def machine(tmp_path: Path, name: str, store: Path) -> Context:
    """A Context with its own drafts and cache, on the shared store."""
    settings = resolve_settings(storage=str(store))
    return Context(
        dataclasses.replace(
            settings, state_dir=tmp_path / name / "state", cache_dir=tmp_path / name / "cache"
        )
    )


def close(ctx: Context, src: Path, name: str, **upload_args) -> tuple[str, int]:
    """Close a new parentless dataset ``name`` of ``src``: (version id, bytes uploaded)."""
    draft = drafts.create_draft(ctx, project="p", name=name)
    drafts.sync_folder(ctx, draft.id, src)
    sent = upload.upload(ctx, draft.id, **upload_args)
    return commit.finalize(ctx, draft.id).id, sent


def chunks_of(ctx: Context, version_id: str) -> set[str]:
    return load_manifest(ctx, load_record(ctx, version_id).manifest).chunks()


def deep_ok(ctx: Context, version_id: str) -> bool:
    """gd verify --remote --deep, through a fresh Context (no cached records)."""
    fresh = Context(ctx.settings)
    record = load_record(fresh, version_id)
    report = verify_remote(
        fresh, version_id, record.manifest, load_manifest(fresh, record.manifest), deep=True
    )
    return not (report.missing or report.short or report.corrupt)


def index_files(store: Path) -> list[Path]:
    folder = store / "index"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def shared_src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "a", SHARED)


@pytest.fixture
def plus_one(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "b", {**SHARED, "extra/new.bin": NEW})


def test_an_unrelated_dataset_references_what_the_store_holds(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path
):
    ctx = machine(tmp_path, "m", store)
    first, sent_first = close(ctx, shared_src, "first")
    assert sent_first > 420_000
    assert len(index_files(store)) == 1  # the first close indexed what it uploaded
    second, sent = close(ctx, plus_one, "second")
    assert 10_000 <= sent < 20_000  # only the new file (in its zip) went up
    assert chunks_of(ctx, first) < chunks_of(ctx, second)
    assert len(chunks_of(ctx, second) - chunks_of(ctx, first)) == 1
    assert deep_ok(ctx, second)
    # another machine (its own cache) reads the index from the store
    other = machine(tmp_path, "o", store)
    _third, sent_other = close(other, plus_one, "third")
    assert sent_other == 0


def test_a_store_without_an_index_still_works_and_gc_rebuilds_it(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path, repo: Path
):
    """An old store (no index/ yet): no store-wide dedup until gc rebuilds the index."""
    ctx = machine(tmp_path, "m", store)
    close(ctx, shared_src, "first")
    for path in index_files(store):
        path.unlink()
    second, sent = close(machine(tmp_path, "n", store), plus_one, "second")
    assert sent > 420_000  # nothing to reuse: everything uploaded, the close fine
    assert deep_ok(ctx, second)
    report = gc.collect_garbage(ctx, [find_repo(repo)])  # everything is young: kept
    assert (
        report.removed_versions == [] and report.index_entries == len(SHARED) + 1
    )  # one entry per content
    _third, sent_third = close(machine(tmp_path, "o", store), plus_one, "third")
    assert sent_third == 0


def test_damaged_index_objects_are_ignored(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path
):
    ctx = machine(tmp_path, "m", store)
    close(ctx, shared_src, "first")
    (path,) = index_files(store)
    path.write_bytes(path.read_bytes()[:-7])  # its bytes no longer match its name
    (store / "index" / "not-an-index").write_bytes(b"junk")
    second, sent = close(machine(tmp_path, "n", store), plus_one, "second")
    assert sent > 420_000
    assert deep_ok(ctx, second)


def test_a_damaged_local_index_database_is_rebuilt(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path
):
    ctx = machine(tmp_path, "m", store)
    close(ctx, shared_src, "first")
    fresh = machine(tmp_path, "m", store)  # same cache folder, a new command
    (tmp_path / "m" / "cache" / "index.db").write_bytes(b"not a database" * 100)
    second, sent = close(fresh, plus_one, "second")
    assert 10_000 <= sent < 20_000
    assert deep_ok(fresh, second)


@pytest.mark.parametrize("forgery", ["missing chunk", "wrong size", "impossible length"])
def test_forged_entries_never_make_a_version_with_holes(
    tmp_path: Path, store: Path, plus_one: Path, forgery: str
):
    """Index objects whose names match their bytes but whose entries lie."""
    ctx = machine(tmp_path, "m", store)
    ctx.store_for_writing()  # an empty store
    entries = []
    for data in [*SHARED.values(), NEW]:
        size, length, chunk = len(data), len(data), "0" * 64
        if forgery == "wrong size":
            chunk = sha(b"a chunk that exists")
            (store / "objects" / chunk[:2]).mkdir(parents=True, exist_ok=True)
            (store / "objects" / chunk[:2] / chunk).write_bytes(b"a chunk that exists")
            size = length = size + 1
        elif forgery == "impossible length":
            length = size - 1  # stored members have length == size
        entries.append(IndexEntry(sha(data), size, chunk, 0, length))
    entries.sort(key=lambda e: e.sha256)
    lines = b"".join(
        f"{e.sha256} {e.size} {e.chunk} {e.offset} {e.length} stored\n".encode() for e in entries
    )
    import gzip

    blob = gzip.compress(b"gitdata-index 1\n" + lines, mtime=0)
    (store / "index").mkdir(exist_ok=True)
    (store / index_key(sha(blob))).write_bytes(blob)
    version, sent = close(ctx, plus_one, "second")
    assert sent > 430_000  # every forged hit fell back to an upload
    assert deep_ok(ctx, version)


def test_a_hint_to_a_deleted_chunk_falls_back_and_gc_makes_the_index_true(
    tmp_path: Path, store: Path, repo: Path
):
    """gd delete removes the only version holding x.bin: the index still names its
    chunk (a hint), a close uploads x.bin again; gc then leaves the index naming
    only chunks that exist."""
    ctx = machine(tmp_path, "m", store)
    x, y = os.urandom(3000), os.urandom(3000)
    only_x, _ = close(
        ctx, make_tree(tmp_path / "a", {"x.bin": x, "y.bin": y}), "a", chunk_size=2000
    )
    keeper, sent = close(ctx, make_tree(tmp_path / "b", {"y.bin": y}), "b")
    assert sent == 0
    publish(ctx, keeper)  # gc keeps it
    delete_version(ctx, only_x)  # and x's chunk
    again, sent = close(ctx, make_tree(tmp_path / "c", {"x.bin": x}), "c")
    assert sent > 3000  # the hint named a chunk that is gone: x.bin went up again
    assert deep_ok(ctx, again)
    delete_version(ctx, again)
    report = gc.collect_garbage(ctx, [find_repo(repo)], grace_seconds=0)
    # (x.bin went up into a chunk of the same bytes and name: its old entry held again)
    assert report.index_entries == 1 and report.removed_index_objects == 1
    listed = [
        e for p in index_files(store) for e in decode_index(f"index/{p.name}", p.read_bytes())
    ]
    assert [e.sha256 for e in listed] == [sha(y)]
    assert all((store / "objects" / e.chunk[:2] / e.chunk).exists() for e in listed)
    later = machine(tmp_path, "m", store)  # a later command: its index listed afresh
    last, sent = close(later, make_tree(tmp_path / "d", {"x.bin": x}), "d")
    assert sent > 3000
    assert deep_ok(ctx, last)


def test_concurrent_closes_each_write_their_own_index_object(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path, in_thread
):
    one, two = machine(tmp_path, "m", store), machine(tmp_path, "m", store)  # one cache
    jobs = [
        in_thread(lambda: close(one, shared_src, "first")),
        in_thread(lambda: close(two, plus_one, "second")),
    ]
    for job in jobs:
        job["thread"].join(60)
        assert "error" not in job, job.get("error")
        assert deep_ok(one, job["value"][0])
    assert len(index_files(store)) >= 2
    _third, sent = close(machine(tmp_path, "n", store), plus_one, "third")
    assert sent == 0


class Killed(BaseException):
    """Stands in for a kill -9 at one point of a close."""


def _close_killed_at_its_record(
    tmp_path: Path, store: Path, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine's close of ``src`` killed just before its record (after its index
    object): the version is not in the store."""
    killed = machine(tmp_path, "k", store)
    real = FsspecStore.put_bytes

    def kill_at_record(self, key, *args, **kwargs):
        if key.startswith("versions/"):
            raise Killed()
        return real(self, key, *args, **kwargs)

    monkeypatch.setattr(FsspecStore, "put_bytes", kill_at_record)
    with pytest.raises(Killed):
        close(killed, src, "first")
    monkeypatch.setattr(FsspecStore, "put_bytes", real)


def test_a_close_killed_between_index_and_record_leaves_a_harmless_orphan(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path, repo: Path, monkeypatch
):
    _close_killed_at_its_record(tmp_path, store, shared_src, monkeypatch)
    assert len(index_files(store)) == 1 and not (store / "versions").is_dir()
    # another machine's gc (it knows nothing of the killed draft) removes the orphans
    other = machine(tmp_path, "o", store)
    report = gc.collect_garbage(other, [find_repo(repo)], grace_seconds=0)
    assert report.removed_index_objects == 1 and index_files(store) == []
    # the hint would name chunks gc removed: a close uploads everything again
    version, sent = close(other, plus_one, "second")
    assert sent > 430_000
    assert deep_ok(other, version)


def test_an_orphan_index_object_may_be_used_while_its_chunks_exist(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path, monkeypatch
):
    _close_killed_at_its_record(tmp_path, store, shared_src, monkeypatch)
    other = machine(tmp_path, "o", store)
    version, sent = close(other, plus_one, "second")
    assert sent < 20_000  # the chunks exist: referenced, and the version is whole
    assert deep_ok(other, version)


def test_index_objects_round_trip_and_refuse_what_breaks_the_rules():
    entries = [IndexEntry(f"{i:064x}", 5, "a" * 64, 30 * i, 5) for i in range(3)]
    (blob,) = list(encode_index(entries))
    key = index_key(sha(blob))
    assert decode_index(key, blob) == entries
    assert list(encode_index([])) == []
    with pytest.raises(ValueError):
        list(encode_index(entries[::-1]))
    import gzip

    from gitdata.errors import FormatError

    for text in (
        b"gitdata-index 2\n",
        b"gitdata-index 1\n" + b"%064x 5 %s 0 5 stored\n" % (1, b"a" * 64) * 2,  # duplicate
        b"gitdata-index 1\n" + b"%064x 5 %s 0 5 zstd\n" % (1, b"a" * 64),
        b"gitdata-index 1\n" + b"%064x 05 %s 0 5 stored\n" % (1, b"a" * 64),
    ):
        bad = gzip.compress(text, mtime=0)
        with pytest.raises(FormatError):
            decode_index(index_key(sha(bad)), bad)
    with pytest.raises(FormatError):
        decode_index(index_key("0" * 64), blob)


@pytest.mark.parametrize("in_memory", [100_000, 3], ids=["sorted-in-memory", "spilled"])
def test_many_contents_split_into_several_index_objects(
    tmp_path: Path, store: Path, repo: Path, monkeypatch, in_memory: int
):
    """An index object holds at most MAX_ENTRIES lines: a close, and gc's rebuild,
    write as many objects as needed, and readers merge them all (the close's
    contents sorted in memory, or past _IN_MEMORY in a scratch database)."""
    import gitdata.core.contentindex as core_index
    import gitdata.ops.contentindex as ops_index

    monkeypatch.setattr(core_index, "MAX_ENTRIES", 4)
    monkeypatch.setattr(ops_index, "MAX_ENTRIES", 4)
    monkeypatch.setattr(ops_index, "_IN_MEMORY", in_memory)
    files = {f"f{i}.bin": os.urandom(500) for i in range(10)}
    ctx = machine(tmp_path, "m", store)
    close(ctx, make_tree(tmp_path / "a", files), "first")
    assert len(index_files(store)) == 3  # 4 + 4 + 2
    version, sent = close(machine(tmp_path, "n", store), make_tree(tmp_path / "b", files), "b")
    assert sent == 0
    report = gc.collect_garbage(ctx, [find_repo(repo)])
    assert report.index_entries == 10 and report.removed_index_objects == 0  # same bytes
    assert len(index_files(store)) == 3
    assert deep_ok(ctx, version)


def test_rows_the_store_never_wrote_in_the_local_database_are_not_trusted(
    tmp_path: Path, store: Path, shared_src: Path, plus_one: Path
):
    """A local index.db edited by hand (a chunk that is no hash, a missing chunk)."""
    import sqlite3

    from gitdata.cache.indexdb import IndexDB

    ctx = machine(tmp_path, "m", store)
    ctx.store_for_writing()
    key = Context.store_key(str(store))
    db = IndexDB(tmp_path / "m" / "cache")
    db.known_objects(key)  # creates the tables
    db.close()
    conn = sqlite3.connect(tmp_path / "m" / "cache" / "index.db")
    with conn:
        conn.execute(
            "INSERT INTO content_objects VALUES (1, ?, 'index/x'), (2, ?, 'index/y')", (key, key)
        )
        for data in [*SHARED.values(), NEW][:10]:
            conn.execute(  # a chunk of 10 bytes: no sha256
                "INSERT INTO content_entries VALUES (?, 1, ?, CAST('not a hash' AS BLOB), 0, ?, 'stored')",
                (bytes.fromhex(sha(data)), len(data), len(data)),
            )
        for data in [*SHARED.values(), NEW][10:]:
            conn.execute(  # a chunk the store does not have
                "INSERT INTO content_entries VALUES (?, 2, ?, ?, 0, ?, 'stored')",
                (bytes.fromhex(sha(data)), len(data), b"\xff" * 32, len(data)),
            )
    conn.close()
    version, sent = close(ctx, plus_one, "second")
    assert sent > 430_000
    assert deep_ok(ctx, version)


def child_synced(ctx: Context, parent: str, src: Path) -> str:
    draft = drafts.create_draft(ctx, project="p", name="a", parents=[parent])
    drafts.sync_folder(ctx, draft.id, src)
    return draft.id


def test_a_covered_parent_is_not_read_for_content_and_a_rename_still_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    ctx = machine(tmp_path, "m1", tmp_path / "store")
    src = make_tree(tmp_path / "src", SHARED)
    first, _ = close(ctx, src, "a")
    second, _ = close(ctx, src, "b")
    os.rename(src / "d0/f0.bin", src / "d0/renamed.bin")
    (src / "d1/f5.bin").write_bytes(NEW)
    # the parent's content is in the index (its close wrote it): reading its manifest
    # for content would be wasted work, so it is not read at all
    assert contentindex.covers(ctx, ctx.store_for_writing(), [first])
    draft_id = child_synced(ctx, first, src)
    calls: list[str] = []
    real = upload.Context.manifest

    def counting(self, sha):
        calls.append(sha)
        return real(self, sha)

    monkeypatch.setattr(upload.Context, "manifest", counting)
    sent = upload.upload(ctx, draft_id)
    monkeypatch.undo()
    assert load_record(ctx, first).manifest not in calls
    assert 10_000 <= sent < 11_000  # only the new file's chunk
    child = commit.finalize(ctx, draft_id)
    assert contentindex.covers(ctx, ctx.store_for_writing(), [child.id])
    assert contentindex.covers(ctx, ctx.store_for_writing(), [second])


def test_without_the_index_a_parent_is_read_for_content_and_a_rename_stores_nothing(
    tmp_path: Path,
):
    ctx = machine(tmp_path, "m1", tmp_path / "store")
    src = make_tree(tmp_path / "src", SHARED)
    first, _ = close(ctx, src, "a")
    os.rename(src / "d0/f0.bin", src / "d0/renamed.bin")
    other = machine(tmp_path, "m2", tmp_path / "store")  # no local index yet
    for key in other.store_for_writing().list("index/"):
        other.store_for_writing().delete(key)  # and none in the store
    assert not contentindex.covers(other, other.store_for_writing(), [first])
    draft_id = child_synced(other, first, src)
    sent = upload.upload(other, draft_id)
    assert sent == 0  # the renamed file's content is the parent's
    commit.finalize(other, draft_id)


def test_coverage_is_forgotten_when_the_index_objects_it_relied_on_go(tmp_path: Path):
    ctx = machine(tmp_path, "m1", tmp_path / "store")
    src = make_tree(tmp_path / "src", SHARED)
    first, _ = close(ctx, src, "a")
    store = ctx.store_for_writing()
    assert contentindex.covers(ctx, store, [first])
    for key in store.list("index/"):
        store.delete(key)
    assert not contentindex.covers(Context(ctx.settings), store, [first])
