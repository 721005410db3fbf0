"""The seeded data sets and changes of benchmarks/compare_data.py."""

from __future__ import annotations

from pathlib import Path


def test_full_scale_sets(bench: Path):
    import compare_data as cd

    sets = cd.data_sets(1.0)
    assert (sets["a"].files, sets["a"].size, sets["a"].folders, sets["a"].changes) == (
        20_000,
        4096,
        100,
        100,
    )
    assert (sets["b"].files, sets["b"].size) == (8, 64 << 20)
    c = sets["c"]
    assert (c.files, c.size, c.folders, c.changes, c.per_folder) == (
        1_000_000,
        256,
        1000,
        1000,
        1000,
    )
    clustered = cd.chosen(c, "clustered")
    assert len(clustered) == 1000 and len({c.path(i).split("/")[0] for i in clustered}) == 1
    scattered = cd.chosen(c, "scattered")
    assert scattered[:3] == [0, 1000, 2000] and len(scattered) == 1000
    assert len({c.path(i).split("/")[0] for i in scattered}) == 1000


def test_content_is_seeded_and_increments_repeat(tmp_path: Path, bench: Path):
    import compare_data as cd

    spec = cd.data_sets(0.001)["a"]
    assert spec.content(3) == spec.content(3) != spec.content(4)
    assert spec.content(3, 1) != spec.content(3)
    trees = []
    for name in ("one", "two"):
        cd.write_set(tmp_path / name, spec)
        inc = cd.increment(tmp_path / name, spec, 0)
        assert len(inc.modified) == len(inc.deleted) == len(inc.added) == spec.changes
        trees.append(
            {
                p.relative_to(tmp_path / name): p.read_bytes()
                for p in (tmp_path / name).rglob("*.bin")
            }
        )
    assert trees[0] == trees[1]
    assert cd.count_files(tmp_path / "one") == (spec.files, spec.files * spec.size)


def test_floors_rebuild_the_same_files(tmp_path: Path, bench: Path):
    import compare_data as cd

    spec = cd.data_sets(0.001)["a"]
    cd.write_set(tmp_path / "src", spec)
    layout = cd.floor_pack(tmp_path / "src", tmp_path / "pack")
    assert layout == cd.floor_hash(tmp_path / "src")
    cd.floor_unpack(tmp_path / "pack", layout, tmp_path / "copy")
    cd.floor_link(tmp_path / "copy", layout, tmp_path / "links")
    for rel, _ in layout:
        assert (tmp_path / "copy" / rel).read_bytes() == (tmp_path / "src" / rel).read_bytes()
        assert (tmp_path / "links" / rel).stat().st_ino == (tmp_path / "copy" / rel).stat().st_ino
