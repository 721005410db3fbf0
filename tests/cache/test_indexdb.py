"""The local copy of stores' content indexes (cache/indexdb.py)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from gitdata.cache.indexdb import INDEX_DB, IndexDB
from gitdata.core.contentindex import IndexEntry


def sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entry(n: int, chunk: str | None = None) -> IndexEntry:
    return IndexEntry(sha(n), 10 + n, chunk or sha(1000), 100 * n, 10 + n)


def test_entries_round_trip_per_store_and_go_with_their_object(tmp_path: Path):
    db = IndexDB(tmp_path)
    assert db.add_object("s1", "index/a", [entry(1), entry(2)])
    assert db.add_object("s1", "index/b", [entry(2, sha(2000)), entry(3)])
    assert db.add_object("s2", "index/a", [entry(4)])
    assert db.known_objects("s1") == {"index/a", "index/b"}
    found = db.lookup("s1", [sha(1), sha(2), sha(4), sha(9)])
    assert found[sha(1)] == [entry(1)]
    assert sorted(e.chunk for e in found[sha(2)]) == sorted([sha(1000), sha(2000)])
    assert sha(4) not in found and sha(9) not in found  # another store's, unknown
    assert db.drop_objects("s1", ["index/a"])
    assert db.known_objects("s1") == {"index/b"}
    assert db.lookup("s1", [sha(1), sha(2)]) == {sha(2): [entry(2, sha(2000))]}
    assert db.lookup("s2", [sha(4)]) == {sha(4): [entry(4)]}


def test_a_store_with_no_index_and_hashes_that_are_no_sha256_find_nothing(tmp_path: Path):
    db = IndexDB(tmp_path)
    assert db.lookup("s1", [sha(1)]) == {}
    bad = IndexEntry("x" * 64, 1, sha(1000), 0, 1)
    assert db.add_object("s1", "index/a", [bad, IndexEntry(sha(1), 1, "not a hash", 0, 1)])
    assert db.known_objects("s1") == {"index/a"}
    assert db.lookup("s1", ["x" * 64, sha(1), "NOT-HEX"]) == {}


def test_the_first_layout_is_dropped_and_filled_again_from_the_store(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / INDEX_DB)
    with conn:
        conn.execute("CREATE TABLE index_objects (store TEXT, key TEXT)")
        conn.execute("INSERT INTO index_objects VALUES ('s1', 'index/old')")
        conn.execute("CREATE TABLE index_entries (store TEXT, sha TEXT)")
    conn.close()
    db = IndexDB(tmp_path)
    assert db.known_objects("s1") == set()  # the next listing fetches every object again
    db.close()
    conn = sqlite3.connect(tmp_path / INDEX_DB)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "index_objects" not in tables and "index_entries" not in tables
