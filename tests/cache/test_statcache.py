from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from gitdata.cache import StatCache


def settled(path: Path) -> os.stat_result:
    """Give ``path`` an mtime safely in the past (not racily clean) and stat it."""
    old = time.time() - 10
    os.utime(path, (old, old))
    return os.stat(path)


def test_hit_then_miss_when_content_changes(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    sc.store_many([(str(f), settled(f), "h1")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "h1"}
    f.write_bytes(b"abcd")
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}


def test_miss_when_only_mtime_or_inode_changes(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    f, g = tmp_path / "f", tmp_path / "g"
    f.write_bytes(b"abc")
    g.write_bytes(b"xyz")
    sc.store_many([(str(f), settled(f), "hf"), (str(g), settled(g), "hg")])
    os.utime(f, (time.time() - 5, time.time() - 5))  # touched, same size
    replacement = tmp_path / "g.new"
    replacement.write_bytes(b"XYZ")
    os.utime(replacement, ns=(os.stat(g).st_atime_ns, os.stat(g).st_mtime_ns))
    os.replace(replacement, g)  # same size and mtime, other inode
    assert sc.lookup_many([(str(f), os.stat(f)), (str(g), os.stat(g))]) == {}


def test_shared_by_two_connections(tmp_path: Path):
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    StatCache(tmp_path / "stat.db").store_many([(str(f), settled(f), "h")])
    assert StatCache(tmp_path / "stat.db").lookup_many([(str(f), os.stat(f))]) == {str(f): "h"}


def test_many_paths_among_many_rows(tmp_path: Path):
    """Lookups are right whether the prefix range is tight or crowded with other rows."""
    sc = StatCache(tmp_path / "stat.db")
    st = settled(tmp_path)  # any settled stat will do: rows are compared, not files
    rows = [(f"/data/set/d{i % 7}/f{i}", st, f"h{i}") for i in range(3000)]
    rows += [(f"/data/set-other/f{i}", st, "other") for i in range(5000)]
    sc.store_many(rows)
    few = [(p, st) for p, _, _ in rows[:10]]
    assert sc.lookup_many(few) == {p: f"h{i}" for i, (p, _, _) in enumerate(rows[:10])}
    spread = [(p, st) for p, _, _ in rows[::500]] + [("/not/stored", st)]
    assert sc.lookup_many(spread) == {p: h for p, _, h in rows[::500]}
    assert len(sc.lookup_many([(p, st) for p, _, _ in rows[:3000]])) == 3000


def test_racily_clean_files_are_not_stored(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    f = tmp_path / "fresh"
    f.write_bytes(b"abc")
    now = time.time_ns()
    os.utime(f, ns=(now, now))  # just modified: its mtime tick is not over
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}
    coarse = (now // 10**9 - 1) * 10**9  # whole-second timestamps get a 2 s window
    os.utime(f, ns=(coarse, coarse))
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {}


def test_undecodable_path_names_are_skipped(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    st = settled(tmp_path)
    weird = os.fsdecode(b"/data/caf\xe9")  # not UTF-8: carries a surrogate
    sc.store_many([(weird, st, "h"), ("/data/ok", st, "k")])
    assert sc.lookup_many([(weird, st), ("/data/ok", st)]) == {"/data/ok": "k"}


def test_corrupt_db_is_recreated(tmp_path: Path):
    db = tmp_path / "stat.db"
    db.write_bytes(b"this is not sqlite" * 100)
    sc = StatCache(db)
    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert sc.lookup_many([(str(f), settled(f))]) == {}
    sc.store_many([(str(f), os.stat(f), "h")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "h"}
    assert StatCache(db).lookup_many([(str(f), os.stat(f))]) == {str(f): "h"}


def test_db_damaged_while_open_is_recreated(tmp_path: Path):
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    f = tmp_path / "f"
    f.write_bytes(b"x")
    sc.store_many([(str(f), settled(f), "h")])
    sc.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{db}{suffix}"):
            os.unlink(f"{db}{suffix}")
    with open(db, "r+b") as fh:  # keep the header, wreck the pages
        fh.seek(100)
        fh.write(os.urandom(os.path.getsize(db) - 100))
    assert sc.lookup_many([(str(f), os.stat(f))]) in ({}, {str(f): "h"})
    sc.store_many([(str(f), os.stat(f), "h2")])
    assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "h2"}


def test_locked_db_skips_writes_and_keeps_data(tmp_path: Path):
    db = tmp_path / "stat.db"
    f, g = tmp_path / "f", tmp_path / "g"
    f.write_bytes(b"x")
    g.write_bytes(b"y")
    sc = StatCache(db, timeout=0.1)
    sc.store_many([(str(f), settled(f), "hf")])
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        sc.store_many([(str(g), settled(g), "hg")])  # gives up quietly
        assert sc.lookup_many([(str(f), os.stat(f))]) == {str(f): "hf"}  # readers not blocked
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert sc.lookup_many([(str(g), os.stat(g))]) == {}
    sc.store_many([(str(g), os.stat(g), "hg")])
    assert sc.lookup_many([(str(f), os.stat(f)), (str(g), os.stat(g))]) == {
        str(f): "hf",
        str(g): "hg",
    }


def test_unusable_location_means_nothing_known(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    sc = StatCache(blocker / "stat.db")  # parent is a file: cannot be created
    sc.store_many([(str(blocker), settled(blocker), "h")])
    assert sc.lookup_many([(str(blocker), os.stat(blocker))]) == {}


# ------------------------------------------------- runs (a sync's batch of one folder)


def _run(tmp_path: Path, count: int) -> tuple[str, list[str], list[os.stat_result]]:
    folder = tmp_path / "run"
    folder.mkdir()
    names = [f"f{i:03d}" for i in range(count)]
    for name in names:
        (folder / name).write_bytes(name.encode())
    return str(folder) + "/", names, [settled(folder / name) for name in names]


def _sha(i: int) -> str:
    return f"{i:064x}"


def _keys(stats: list[os.stat_result]) -> list[tuple[int, int, int]]:
    return [(st.st_ino, st.st_mtime_ns, st.st_size) for st in stats]


def _run_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def test_a_stored_run_is_found_whole_without_its_files_rows(tmp_path: Path):
    base, names, stats = _run(tmp_path, 5)
    sc = StatCache(tmp_path / "stat.db")
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(5)])
    assert sc.lookup_run(base, names, stats) == [_sha(i) for i in range(5)]
    assert (
        sc.lookup_many([(base + n, st) for n, st in zip(names, stats, strict=True)]) == {}
    )  # no rows


def test_a_run_with_one_file_changed_falls_back_to_the_rows(tmp_path: Path):
    base, names, stats = _run(tmp_path, 4)
    sc = StatCache(tmp_path / "stat.db")
    sc.store_many(
        [(base + n, st, _sha(i)) for i, (n, st) in enumerate(zip(names, stats, strict=True))]
    )
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(4)])
    (Path(base) / names[2]).write_bytes(b"changed, and longer")
    now = [os.stat(base + n) for n in names]
    assert sc.lookup_run(base, names, now) == [_sha(0), _sha(1), None, _sha(3)]
    assert sc.lookup_run(base, names[:3], now[:3]) == [_sha(0), _sha(1), None]  # fewer files
    assert sc.lookup_run(base, names[1:], now[1:]) == [_sha(1), None, _sha(3)]  # another first


def test_a_run_whose_rows_all_match_is_remembered_as_a_run(tmp_path: Path):
    base, names, stats = _run(tmp_path, 3)
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    sc.store_many(
        [(base + n, st, _sha(i)) for i, (n, st) in enumerate(zip(names, stats, strict=True))]
    )
    assert sc.lookup_run(base, names[:2] + ["missing"], stats) == [_sha(0), _sha(1), None]
    assert _run_rows(db) == 0  # a file unknown: no run
    assert sc.lookup_run(base, names, stats) == [_sha(0), _sha(1), _sha(2)]
    assert _run_rows(db) == 1
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM stat")
    assert sc.lookup_run(base, names, stats) == [_sha(0), _sha(1), _sha(2)]  # from the run


def test_a_racily_clean_run_is_not_stored(tmp_path: Path):
    base, names, stats = _run(tmp_path, 3)
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    now = time.time_ns()
    os.utime(base + names[1], ns=(now, now))  # just written: its mtime tick is not over
    fresh = [os.stat(base + n) for n in names]
    sc.store_run(base, names, _keys(fresh), [_sha(i) for i in range(3)])
    assert sc.lookup_run(base, names, fresh) == [None, None, None]
    assert _run_rows(db) == 0


def test_a_run_is_keyed_by_every_name_and_stat(tmp_path: Path):
    base, names, stats = _run(tmp_path, 3)
    sc = StatCache(tmp_path / "stat.db")
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(3)])
    # the same stats under other names, or in another folder, are not that run
    assert sc.lookup_run(base, ["f000", "f001", "f003"], stats) == [None, None, None]
    assert sc.lookup_run(base[:-1] + "2/", names, stats) == [None, None, None]
    touched = [os.stat_result((*st[:8], st.st_mtime + 1, st[9])) for st in stats]
    assert sc.lookup_run(base, names, touched) == [None, None, None]


def test_names_a_run_cannot_hold_are_looked_up_by_their_rows(tmp_path: Path):
    st = settled(tmp_path)
    sc = StatCache(tmp_path / "stat.db")
    names = ["a\nb", "c"]  # a newline: no unambiguous run digest
    sc.store_many([(f"/data/{n}", st, _sha(i)) for i, n in enumerate(names)])
    sc.store_run("/data/", names, _keys([st, st]), [_sha(0), _sha(1)])
    assert sc.lookup_run("/data/", names, [st, st]) == [_sha(0), _sha(1)]
    weird = os.fsdecode(b"caf\xe9")  # not UTF-8: never stored
    assert sc.lookup_run("/data/", [weird, "c"], [st, st]) == [None, _sha(1)]


def test_page_columns_are_kept_by_page_hash_and_sealed(tmp_path: Path):
    sc = StatCache(tmp_path / "stat.db")
    page = "ab" * 32
    cols = (b"d/a\x00d/b", bytes(64), b"\x00\x01")
    assert sc.page_columns(page) is None
    sc.store_page_columns(page, *cols)
    assert sc.page_columns(page) == cols
    assert sc.page_columns("cd" * 32) is None  # another page's columns are not these
    conn = sqlite3.connect(tmp_path / "stat.db")
    with conn:  # damaged: one hash byte changed, the seal left as it was
        conn.execute("UPDATE page SET shas = ? WHERE sha = ?", (b"\x01" + bytes(63), page))
    conn.close()
    assert sc.page_columns(page) is None
    sc.store_page_columns(page, *cols)
    conn = sqlite3.connect(tmp_path / "stat.db")
    with conn:  # a row moved under another page's hash: its seal names its own page
        conn.execute("UPDATE page SET sha = ? WHERE sha = ?", ("cd" * 32, page))
    conn.close()
    assert sc.page_columns("cd" * 32) is None


def test_a_run_with_a_file_changed_still_gives_the_others_without_rows(tmp_path: Path):
    base, names, stats = _run(tmp_path, 4)
    sc = StatCache(tmp_path / "stat.db")
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(4)])  # (no rows)
    (Path(base) / names[1]).write_bytes(b"changed, and longer")
    os.utime(base + names[3], (time.time() - 5, time.time() - 5))  # touched only
    now = [os.stat(base + n) for n in names]
    assert sc.lookup_run(base, names, now) == [_sha(0), None, _sha(2), None]
    sc.store_many([(base + names[1], settled(Path(base) / names[1]), _sha(9))])
    now = [os.stat(base + n) for n in names]  # (its row, of its stat now)
    assert sc.lookup_run(base, names, now) == [_sha(0), _sha(9), _sha(2), None]


def test_a_run_of_other_names_gives_nothing(tmp_path: Path):
    base, names, stats = _run(tmp_path, 3)
    sc = StatCache(tmp_path / "stat.db")
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(3)])
    # the same first name and stats, another name after it: none of the run is taken
    assert sc.lookup_run(base, [names[0], names[1], "f009"], stats) == [None, None, None]
    assert sc.lookup_run(base, names[:2], stats[:2]) == [None, None]  # fewer files


def _stored_run(db: Path, first: str) -> tuple[bytes, bytes]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT stats, shas FROM runs WHERE first = ?", (first,)).fetchone()


def test_a_run_changed_in_a_few_files_is_not_written_again(tmp_path: Path):
    """One file of a 20-file folder changed and hashed (its row stored): neither the
    lookup nor the sync's store of the folder rewrites the run, and the next lookup
    still gives every hash (the run's, and the row's for the changed file)."""
    base, names, stats = _run(tmp_path, 20)
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    shas = [_sha(i) for i in range(20)]
    sc.store_run(base, names, _keys(stats), shas)
    before = _stored_run(db, base + names[0])
    (Path(base) / names[5]).write_bytes(b"changed, and longer")
    changed = settled(Path(base) / names[5])
    now = [os.stat(base + n) for n in names]
    assert sc.lookup_run(base, names, now) == [*shas[:5], None, *shas[6:]]
    sc.store_many([(base + names[5], changed, _sha(99))])  # as hashing the file does
    new = [*shas[:5], _sha(99), *shas[6:]]
    sc.store_runs([(base, names, _keys(now), new)])
    assert _stored_run(db, base + names[0]) == before  # not rewritten
    again = StatCache(db)  # the next sync, another process
    assert again.lookup_run(base, names, now) == new
    assert _stored_run(db, base + names[0]) == before


def test_a_run_changed_in_many_files_is_written_again(tmp_path: Path):
    base, names, stats = _run(tmp_path, 20)
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(20)])
    for n in names[:9]:  # past max(8, 20 // 16)
        (Path(base) / n).write_bytes(b"changed, and longer")
    now = [settled(Path(base) / n) for n in names]
    assert sc.lookup_run(base, names, now)[:9] == [None] * 9
    new = [_sha(100 + i) for i in range(20)]
    sc.store_runs([(base, names, _keys(now), new)])
    assert StatCache(db).lookup_run(base, names, now) == new  # from the run alone
    assert _stored_run(db, base + names[0])[1] == bytes.fromhex("".join(new))


def test_a_patched_run_with_other_names_is_written(tmp_path: Path):
    base, names, stats = _run(tmp_path, 20)
    db = tmp_path / "stat.db"
    sc = StatCache(db)
    sc.store_run(base, names, _keys(stats), [_sha(i) for i in range(20)])
    (Path(base) / names[3]).write_bytes(b"changed, and longer")
    now = [os.stat(base + n) for n in names]
    sc.lookup_run(base, names, now)
    (Path(base) / "zz").write_bytes(b"new")  # the folder gained a file since
    more = [*names, "zz"]
    stats_more = [settled(Path(base) / n) for n in more]
    sc.store_runs([(base, more, _keys(stats_more), [_sha(i) for i in range(21)])])
    assert StatCache(db).lookup_run(base, more, stats_more) == [_sha(i) for i in range(21)]
