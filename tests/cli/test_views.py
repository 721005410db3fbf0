"""The terminal views: gd show, gd compare and gd graph, at a fixed width (100 columns)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_tree


@pytest.fixture(autouse=True)
def fixed_width(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("GD_STORAGE", str(tmp_path / "store"))
    for var in ("FORCE_COLOR", "NO_COLOR", "TERM"):
        monkeypatch.delenv(var, raising=False)


def sync(gd, folder: Path, name: str = "cats", *parents: str) -> str:
    args = ["sync", "--project", "vision", "--name", name, "--folder", str(folder), "--json"]
    if parents:
        args += ["--parents", *parents]
    return gd(*args).json()["id"]


def cells(line: str) -> list[str]:
    """The cells of one rich table row (any box character separates them)."""
    return [c.strip() for c in re.split("[│┃|]", line)]


def row(text: str, first: str) -> list[str]:
    """The table row whose first cell is ``first``."""
    for line in text.splitlines():
        got = cells(line)
        if got and got[0] == first:
            return got
    raise AssertionError(f"no row {first!r} in\n{text}")


@pytest.fixture
def two_versions(gd, tmp_path: Path) -> tuple[str, str]:
    src = make_tree(
        tmp_path / "src",
        {
            "images/a.jpg": b"a" * 1000,
            "images/b.jpg": b"b" * 2048,
            "labels/x.txt": "xx",
            "labels/y.txt": "yyy",
            "README.md": "# top",
        },
    )
    first = sync(gd, src)
    (src / "images/a.jpg").rename(src / "images/moved.jpg")  # a rename
    (src / "images/b.jpg").write_bytes(b"B" * 4096)  # modified, +2 KiB
    (src / "labels/y.txt").unlink()  # removed
    (src / "new.csv").write_text("1,2\n")  # added
    second = sync(gd, src)
    return first, second


def test_show_draws_identity_totals_groups_and_largest_changes(gd, two_versions):
    _, second = two_versions
    out = gd("show", "--id", second).stdout
    assert out.splitlines()[0] == "vision/cats 1.0.1  (closed)"
    assert re.search(rf"^id +{second}$", out, re.M)
    for label in ("project", "name", "version", "tags", "created", "store", "parents"):
        assert re.search(rf"^{label} +\S", out, re.M), (label, out)
    assert re.search(r"^totals +5 files, 5\.0 KiB", out, re.M)
    assert (
        "\nchanges: +1 added (4 B), ~1 modified (4.0 KiB), -1 removed (3 B), "
        ">1 renamed (1000 B); net +2.0 KiB\n" in out
    )
    assert row(out, "images/") == ["images/", "2", "", "1 (4.0 KiB)", "", "1 (1000 B)", "+2.0 KiB"]
    assert row(out, "labels/") == ["labels/", "1", "", "", "1 (3 B)", "", "-3 B"]
    assert row(out, "(top level)")[:3] == ["(top level)", "1", "1 (4 B)"]
    assert row(out, ".jpg")[1] == "2" and row(out, ".csv")[2] == "1 (4 B)"
    largest = out[out.index("Largest changes") :]
    assert row(largest, "~") == ["~", "images/b.jpg", "4.0 KiB", "+2.0 KiB"]
    assert row(largest, ">") == [">", "images/a.jpg -> images/moved.jpg", "1000 B", "0 B"]


def test_show_json_keeps_its_keys_and_adds_the_summary(gd, two_versions):
    first, second = two_versions
    info = gd("show", "--id", second, "--json").json()
    # the keys gd show always had; a rename is only under "renamed", not removed + added
    assert info["added"] == ["new.csv"]
    assert info["modified"] == ["images/b.jpg"]
    assert info["removed"] == ["labels/y.txt"]
    assert info["parents"] == [first] and info["files"] == 5 and info["state"] == "closed"
    # and the new ones
    assert info["renamed"] == [{"from": "images/a.jpg", "to": "images/moved.jpg"}]
    assert info["store"].endswith("store") and info["squashed_from"] == []
    totals = info["summary"]["totals"]
    assert (totals["added"], totals["modified"], totals["removed"], totals["renamed"]) == (
        1,
        1,
        1,
        1,
    )
    assert info["summary"]["largest"][0]["path"] == "images/b.jpg"
    assert {g["key"] for g in info["summary"]["by_folder"]} == {"images/", "labels/", ""}


def test_show_limits_tables_and_counts_the_rest(gd, tmp_path: Path):
    src = make_tree(tmp_path / "src", {f"d{i:02d}/f{i:02d}.txt": "x" * (i + 1) for i in range(30)})
    did = sync(gd, src)
    out = gd("show", "--id", did, "--limit", "5").stdout
    largest = out[out.index("Largest changes") :]
    shown = [ln for ln in largest.splitlines() if cells(ln)[0] == "+"]
    assert [cells(ln)[1] for ln in shown] == [
        f"d{i:02d}/f{i:02d}.txt" for i in (29, 28, 27, 26, 25)
    ]
    assert "... and 25 more" in largest
    folders = out[out.index("By top-level folder") : out.index("By file type")]
    assert "... and 25 more" in folders
    bad = gd("show", "--id", did, "--limit", "0", ok=False)
    assert bad.exit_code == 2


def test_dataset_strings_are_shown_as_text_never_markup_or_ansi(gd, tmp_path: Path, monkeypatch):
    src = make_tree(tmp_path / "src", {"[bold]p[/bold].txt": "a", "esc\x1b[31mred.txt": "b"})
    did = gd(
        "create",
        "--project",
        "vision",
        "--name",
        "cats",
        "--tags",
        "[red]t[/red]",
        "--description",
        "[red]x[/red] and \x1b[31mALERT\x1b[0m",
        "--json",
    ).json()["id"]
    gd("add", "--files", str(src))
    gd("close")
    for color in ("", "1"):  # plain, then as on a colour terminal
        if color:
            monkeypatch.setenv("FORCE_COLOR", color)
        out = gd("show", "--id", did).stdout
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # rich's own styling, when in colour
        assert "[red]x[/red] and \\x1b[31mALERT\\x1b[0m" in plain
        assert "[red]t[/red]" in plain and "[bold]p[/bold].txt" in plain
        assert "esc\\x1b[31mred.txt" in plain
        assert "\x1b[31mALERT" not in out and "\x1b[31mred" not in out
        graph = gd("graph", "--id", did).stdout
        assert "[red]t[/red]" in re.sub(r"\x1b\[[0-9;]*m", "", graph)


def test_compare_shows_a_summary_and_tables_with_sizes(gd, two_versions):
    first, second = two_versions
    out = gd("compare", "--source", first, "--target", second).stdout
    assert out.startswith(f"{first[:8]} -> {second[:8]}: +1 added (4 B)")
    assert row(out, "new.csv") == ["new.csv", "4 B"]
    assert row(out, "labels/y.txt") == ["labels/y.txt", "3 B"]
    assert row(out, "images/b.jpg") == ["images/b.jpg", "2.0 KiB", "4.0 KiB", "+2.0 KiB"]
    assert row(out, "images/a.jpg") == ["images/a.jpg", "images/moved.jpg", "1000 B"]
    for title in ("Added (1)", "Removed (1)", "Modified (1)", "Renamed (1)"):
        assert title in out


def test_compare_filter_and_json_renamed(gd, two_versions):
    first, second = two_versions
    only = gd("compare", "--source", first, "--target", second, "--filter", "images").stdout
    assert "images/b.jpg" in only and "new.csv" not in only and "labels/" not in only
    data = gd("compare", "--source", first, "--target", second, "--json").json()
    assert data == {
        "source": first,
        "target": second,
        "added": ["new.csv"],
        "modified": ["images/b.jpg"],
        "removed": ["labels/y.txt"],
        "renamed": [{"from": "images/a.jpg", "to": "images/moved.jpg"}],
    }
    txt = gd("compare", "--source", first, "--target", second, "--filter", "*.txt", "--json").json()
    assert txt["removed"] == ["labels/y.txt"] and txt["added"] == [] and txt["renamed"] == []
    none = gd("compare", "--source", first, "--target", first).stdout
    assert "no changes" in none


def test_compare_limit_counts_the_rest(gd, tmp_path: Path):
    empty = sync(gd, make_tree(tmp_path / "a", {"keep": "k"}))
    many = sync(gd, make_tree(tmp_path / "a", {f"f{i:02d}": "y" * (i + 1) for i in range(25)}))
    out = gd("compare", "--source", empty, "--target", many, "--limit", "3").stdout
    added = [ln for ln in out.splitlines() if re.match(r"^ ?f\d\d ", ln)]
    assert [cells(ln)[0] for ln in added] == ["f24", "f23", "f22"]
    assert "... and 22 more" in out


def test_graph_draws_merges_and_squashes(gd, tmp_path: Path):
    base = sync(gd, make_tree(tmp_path / "a", {"x": "1"}))
    left = sync(gd, make_tree(tmp_path / "b", {"x": "1", "l": "2"}), "cats", base)
    right = sync(gd, make_tree(tmp_path / "c", {"x": "1", "r": "3"}), "cats", base)
    merged = gd(
        "create", "--project", "vision", "--name", "cats", "--parents", left, right, "--json"
    ).json()["id"]
    gd("close")
    flat = gd("squash", "--name", "flat", "--ids", base, left, "--json").json()["id"]
    out = gd("graph", "--project", "vision").stdout.splitlines()
    assert [re.sub(r"[^*S|/\\X ]", "", ln.split("  ")[0]).rstrip() for ln in out] == [
        "S",
        "*",
        "|\\",
        "| *",
        "* |",
        "|/",
        "*",
    ]
    assert out[0].startswith(f"S 1.0.0  {flat[:8]}  vision/flat") and "squash of" in out[0]
    assert out[1].startswith(f"* 1.0.3  {merged[:8]}  vision/cats") and "merge of 2" in out[1]
    assert f"{right[:8]}" in out[3] and f"{left[:8]}" in out[4] and f"{base[:8]}" in out[6]
    assert "files" in out[6] and "+1 ~0 -0" in out[6]
    # --id: the version and its ancestors only; --json gives nodes and edges with full ids
    data = gd("graph", "--id", merged, "--json").json()
    assert {n["id"] for n in data["nodes"]} == {merged, left, right, base}
    assert {(e["child"], e["parent"]) for e in data["edges"]} == {
        (merged, left),
        (merged, right),
        (left, base),
        (right, base),
    }
    assert data["nodes"][0]["id"] == merged and data["nodes"][0]["column"] == 0
    squash = gd("graph", "--project", "vision", "--name", "flat", "--json").json()["nodes"]
    assert squash[0]["squashed_from"] == [base, left]


def test_graph_refuses_bad_arguments_and_unknown_versions(gd, tmp_path: Path):
    store = tmp_path / "store"
    assert gd("graph", "--project", "vision", ok=False).exit_code == 3
    assert not store.exists()  # reading never creates the store
    did = sync(gd, make_tree(tmp_path / "a", {"x": "1"}))

    def written() -> list[Path]:  # the store and gd's state (drafts, current); not the cache
        state = tmp_path / "home" / ".local" / "state"
        return sorted(p for root in (store, state) for p in root.rglob("*"))

    before = written()
    missing = gd("graph", "--project", "nope", ok=False)
    assert missing.exit_code == 3 and "no version of project nope" in missing.stderr
    assert missing.stdout == "" and "hint: gd search" in missing.stderr
    assert written() == before
    assert gd("graph", "--id", did, "--project", "vision", ok=False).exit_code == 2
    assert gd("graph", "--name", "cats", ok=False).exit_code == 2
    unknown = gd("graph", "--id", "0" * 32, ok=False)
    assert unknown.exit_code == 3
    assert gd("graph", "--project", "vision", "--name", "dogs", ok=False).exit_code == 3
    # without arguments: the current dataset
    assert did[:8] in gd("graph").stdout


def test_compare_takes_several_filters(gd, tmp_path) -> None:
    from tests.conftest import make_tree

    src = make_tree(tmp_path / "s", {"a/x.txt": "1", "b/y.txt": "2", "c/z.txt": "3"})
    gd("create", "--project", "p", "--name", "f")
    gd("add", "--files", str(src))
    v1 = gd("close", "--json").json()["id"]
    for rel in ("a/x.txt", "b/y.txt", "c/z.txt"):
        (src / rel).write_text("changed")
    child = gd("sync", "--project", "p", "--name", "f", "--folder", str(src), "--json")
    v2 = child.json()["id"]
    out = gd("compare", "--source", v1, "--target", v2, "--filter", "a", "c/*", "--json").json()
    assert out["modified"] == ["a/x.txt", "c/z.txt"]


def test_verbose_and_files_list_a_rename_as_one_line(gd, two_versions):
    first, second = two_versions
    for out in (
        gd("compare", "--source", first, "--target", second, "--verbose").stdout,
        gd("show", "--id", second, "--files").stdout,
    ):
        assert "  > images/a.jpg -> images/moved.jpg\n" in out
        assert "  + new.csv\n" in out and "  - labels/y.txt\n" in out
        assert "+ images/moved.jpg" not in out and "- images/a.jpg" not in out
