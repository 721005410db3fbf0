"""Short ids: a unique prefix of 6+ hex characters works wherever gd takes an id."""

from __future__ import annotations

from pathlib import Path

from gitdata.api import Dataset
from tests.conftest import make_tree


def closed(gd, src: Path, name: str = "cats", *parents: str) -> str:
    args = ["create", "--project", "vision", "--name", name, "--json"]
    if parents:
        args += ["--parents", *parents]
    vid = gd(*args).json()["id"]
    gd("add", "--id", vid, "--files", str(src))
    gd("close", "--id", vid)
    return vid


def drafts_with_prefix(prefix: str, count: int) -> list[str]:
    """Drafts whose ids all start with ``prefix`` (ids chosen beforehand)."""
    ids = [prefix + format(i, "x") + "0" * (31 - len(prefix)) for i in range(count)]
    for vid in ids:
        Dataset._create(vid[-4:], "vision", None, None, None, None, None, vid)
    return ids


def test_a_prefix_names_a_closed_version(gd, tmp_path: Path):
    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    out = gd("get", "--id", vid[:8], "--json").json()
    assert out["id"] == vid  # --json always shows full ids
    assert gd("list", "--id", vid[:6], "--json").json()[0]["path"] == "a.txt"
    assert gd("show", "--id", vid[:7].upper(), "--json").json()["id"] == vid
    assert gd("graph", "--id", vid[:6], "--json").json()["nodes"][0]["id"] == vid
    copy = tmp_path / "copy"
    gd("get", "--id", vid[:10], "--copy", str(copy))
    assert (copy / "a.txt").read_text() == "one"


def test_a_prefix_names_parents_and_drafts(gd, tmp_path: Path):
    base = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    child = gd(
        "create", "--project", "vision", "--name", "cats", "--parents", base[:6], "--json"
    ).json()
    assert child["parents"] == [base]
    gd("add", "--id", child["id"][:6], "--files", str(make_tree(tmp_path / "b", {"b.txt": "2"})))
    out = gd("close", "--id", child["id"][:9], "--json").json()
    assert out["id"] == child["id"] and out["stats"]["files"] == 2


def test_compare_merge_search_and_delete_take_prefixes(gd, tmp_path: Path):
    base = closed(gd, make_tree(tmp_path / "s0", {"a.txt": "one"}))
    ours = closed(gd, make_tree(tmp_path / "s1", {"b.txt": "b"}), "cats", base[:6])
    theirs = closed(gd, make_tree(tmp_path / "s2", {"c.txt": "c"}), "cats", base[:6])
    diff = gd("compare", "--source", base[:6], "--target", ours[:6], "--json").json()
    assert diff["added"] == ["b.txt"]
    assert (diff["source"], diff["target"]) == (base, ours)
    merged = gd("merge", ours[:6], theirs[:6], "--json").json()
    assert merged["parents"] == [ours, theirs]
    rows = gd("search", "--ids", base[:6], theirs[:8], "--json").json()
    assert sorted(r["id"] for r in rows) == sorted([base, theirs])
    draft = gd("create", "--project", "vision", "--name", "dogs", "--json").json()["id"]
    gone = gd("delete", "--id", draft[:6], "--json").json()
    assert gone == {"id": draft, "deleted": "draft"}


def test_push_and_pull_take_prefixes(gd, tmp_path: Path):
    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    other = tmp_path / "other-store"
    assert gd("push", "--to", str(other), "--id", vid[:6], "--json").json()["id"] == vid
    gd("delete", "--id", vid[:6], "--force")
    assert gd("pull", "--from", str(other), "--id", vid[:6], "--json").json()["id"] == vid
    assert gd("get", "--id", vid, "--json").json()["id"] == vid


def test_an_ambiguous_prefix_lists_the_candidates(gd, tmp_path: Path):
    ids = drafts_with_prefix("abcdef", 7)
    r = gd("add", "--id", "abcdef", "--files", str(tmp_path), ok=False)
    assert r.exit_code == 4
    assert "dataset id abcdef is ambiguous: 7 ids start with it" in r.stderr
    assert ", ".join(ids[:5]) + " (and 2 more)" in r.stderr
    assert ids[5] not in r.stderr
    assert "hint: give more characters" in r.stderr
    # one more character is unique again
    assert gd("show", "--id", ids[3][:7], "--json").json()["id"] == ids[3]


def test_a_too_short_or_unknown_prefix_is_refused(gd, tmp_path: Path):
    vid = closed(gd, make_tree(tmp_path / "src", {"a.txt": "one"}))
    r = gd("get", "--id", vid[:5], ok=False)
    assert r.exit_code == 4 and "too short: give at least 6 hex characters" in r.stderr
    r = gd("get", "--id", "not-hex", ok=False)
    assert r.exit_code == 4 and "not a dataset id" in r.stderr
    unknown = "0123456" if not vid.startswith("0123456") else "fedcba9"
    r = gd("get", "--id", unknown, ok=False)
    assert r.exit_code == 3 and f"no dataset version or draft id starts with {unknown}" in r.stderr
