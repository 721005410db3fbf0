"""What compare_dvc.py runs: the same operations with each tool, the floors, and
set (c) with gd alone. Each function records into ``ops[op][tool]`` (a list of runs)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import compare_data as cd
from compare_tools import Dvc, Gd, check
from harness import Measured, measure, run_measured

MARKER = ".gitdata-tree.json"  # the marker gd writes into a --link/--copy tree

# operation: (DVC's commands, gd's commands), for the report
OPS_AB: dict[str, tuple[str, str]] = {
    "ingest": ("`add` + `push`", "`create` + `add` + `close`"),
    "ingest, one-shot": ("(the ingest above)", "`sync --project --name --folder`"),
    "status, unchanged": ("`status`", "`status`"),
    "data status, unchanged": ("`data status`", "`status`"),
    "list a version": ("`ls -R . data`", "`list --id`"),
    "cold get (empty cache)": ("`pull` (cache and workspace removed)", "`get --copy`"),
    "warm get, links": ("`checkout`, cache.type hardlink", "`get --link`"),
    "warm get, copy": ("`checkout`, cache.type copy", "`get --copy`"),
    "increment, one-shot": ("`add` + `push`", "`sync --project --name --folder`"),
    "increment, create --parents": ("`add` + `push`", "`create --parents` + `sync` + `close`"),
    "--help": ("`--help`", "`--help`"),
    "--version": ("`--version`", "`--version`"),
}
SAME_AS = {("ingest, one-shot", "dvc"): "ingest"}  # cells the report copies from another row

OPS_C_BASE = ["add", "close", "list", "get --link", "get --copy"]
OPS_C_CHILD = ["sync child", "compare", "cat one file"]
DISTRIBUTIONS = ("clustered", "scattered")


def ops_c(dists: Sequence[str] = DISTRIBUTIONS) -> list[str]:
    """Set (c)'s operations, in order, for the children's distributions ``dists``."""
    return OPS_C_BASE + [f"{op} ({d})" for d in dists for op in OPS_C_CHILD]


Ops = dict[str, dict[str, list[Any]]]


def _slot(ops: Ops, op: str, tool: str) -> list[Any]:
    return ops.setdefault(op, {}).setdefault(tool, [])


def _expect_files(root: Path, spec: cd.DataSet, files: int, what: str) -> None:
    found, _ = cd.count_files(root, skip=MARKER)
    check(found == files, f"{what}: {root} holds {found} files, expected {files}")


def _lines(m: Measured) -> list[str]:
    return [line for line in m.text.splitlines() if line.strip()]


def _json(m: Measured) -> Any:
    return json.loads(m.text)


# -- floors -------------------------------------------------------------------


def floors_ab(scratch: Path, spec: cd.DataSet, ops: Ops) -> None:
    """The physical floor of every operation of sets (a) and (b), stdlib only."""
    data, pack = scratch / "data", scratch / "pack"
    cd.write_set(data, spec)
    layout: list[tuple[str, int]] = []

    def t(op: str, fn: Any) -> None:
        _slot(ops, op, "floor").append({"seconds": measure(fn)})

    # every pack is a new file: truncating one frees its blocks, which slows the
    # steps after it on this VM (see compare_dvc.py, _REMOVE_LATER)
    t("ingest", lambda: layout.extend(cd.floor_pack(data, pack)))
    t("ingest, one-shot", lambda: cd.floor_pack(data, scratch / "pack-one-shot"))
    t("status, unchanged", lambda: cd.floor_scan(data))
    t("data status, unchanged", lambda: cd.floor_scan(data))
    t("list a version", lambda: cd.floor_scan(data))
    t("cold get (empty cache)", lambda: cd.floor_unpack(pack, layout, scratch / "cold"))
    t("warm get, links", lambda: cd.floor_link(scratch / "cold", layout, scratch / "links"))
    t("warm get, copy", lambda: cd.floor_unpack(pack, layout, scratch / "copy"))
    for step, op in enumerate(("increment, one-shot", "increment, create --parents")):
        inc = cd.increment(data, spec, step)
        changed = inc.modified + inc.added
        t(op, lambda c=changed, s=step: cd.floor_increment(data, c, scratch / f"pack-inc{s}"))
    for op in ("--help", "--version"):
        start = run_measured([sys.executable, "-c", "pass"], dict(os.environ), scratch)
        _slot(ops, op, "floor").append({"seconds": start.seconds})


def floors_c(
    scratch: Path, spec: cd.DataSet, ops: Ops, dists: Sequence[str] = DISTRIBUTIONS
) -> None:
    """The floors of set (c)'s operations (compare has none)."""
    data, pack = scratch / "data", scratch / "pack"
    cd.write_set(data, spec)
    layout: list[tuple[str, int]] = []

    def t(op: str, fn: Any) -> None:
        _slot(ops, op, "floor").append({"seconds": measure(fn)})

    t("add", lambda: layout.extend(cd.floor_hash(data)))
    t("close", lambda: cd.floor_pack(data, pack))
    t("list", lambda: cd.floor_scan(data))
    t("get --link", lambda: cd.floor_link(data, layout, scratch / "links"))
    t("get --copy", lambda: cd.floor_unpack(pack, layout, scratch / "copy"))
    for dist in dists:
        changed = [spec.path(i) for i in cd.chosen(spec, dist)]
        t(
            f"sync child ({dist})",
            lambda c=changed, d=dist: cd.floor_increment(data, c, scratch / f"pack-{d}"),
        )
        t(f"cat one file ({dist})", lambda changed=changed: cd.floor_cat(data / changed[0]))


# -- sets (a) and (b), each tool ------------------------------------------------


def dvc_ab(tool: Dvc, spec: cd.DataSet, ops: Ops) -> None:
    """Every operation of sets (a)/(b) with DVC."""
    tool.init()
    cd.write_set(tool.data, spec)
    with tool.record(_slot(ops, "ingest", "dvc")):
        tool.run("add", "-q", "data")
        tool.run("push", "-q")
    pushed, _ = cd.count_files(tool.remote)
    check(
        pushed >= spec.files, f"dvc push: the remote holds {pushed} objects for {spec.files} files"
    )
    tool.commit("ingest")
    with tool.record(_slot(ops, "status, unchanged", "dvc")):
        tool.run("status", "-q")  # exit 1 when anything changed
    with tool.record(_slot(ops, "data status, unchanged", "dvc")):
        m = tool.run("data", "status", "--json")
    report = _json(m)
    check(
        not report.get("committed") and not report.get("uncommitted"), f"dvc data status: {report}"
    )
    with tool.record(_slot(ops, "list a version", "dvc")):
        m = tool.run("ls", "-R", ".", "data")
    check(len(_lines(m)) == spec.files, f"dvc ls listed {len(_lines(m))} of {spec.files} files")
    tool.set_aside(tool.cache)
    tool.set_aside(tool.data)
    with tool.record(_slot(ops, "cold get (empty cache)", "dvc")):
        tool.run("pull", "-q")
    _expect_files(tool.data, spec, spec.files, "dvc pull")
    for op, kind in (("warm get, links", "hardlink"), ("warm get, copy", "copy")):
        tool.setup("TOOL", "config", "cache.type", kind)
        tool.set_aside(tool.data)
        with tool.record(_slot(ops, op, "dvc")):
            tool.run("checkout", "-q")
        _expect_files(tool.data, spec, spec.files, f"dvc checkout ({kind})")
        links = os.stat(tool.data / spec.path(0)).st_nlink
        check((links > 1) == (kind == "hardlink"), f"dvc checkout ({kind}): {links} links")
    for step, op in enumerate(("increment, one-shot", "increment, create --parents")):
        cd.increment(tool.data, spec, step)
        with tool.record(_slot(ops, op, "dvc")):
            tool.run("add", "-q", "data")
            tool.run("push", "-q")
        tool.setup("TOOL", "status", "-q")
        tool.commit(op)
    with tool.record(_slot(ops, "--help", "dvc")):
        tool.run("--help")
    with tool.record(_slot(ops, "--version", "dvc")):
        m = tool.run("--version")
    check(m.text.strip() != "", "dvc --version printed nothing")


def gd_ab(tool: Gd, spec: cd.DataSet, ops: Ops) -> None:
    """Every operation of sets (a)/(b) with gd."""
    tool.init()
    cd.write_set(tool.data, spec)
    with tool.record(_slot(ops, "ingest", "gd")):
        m = tool.run("create", "--project", "bench", "--name", "ds", "--json")
        first = _json(m)["id"]
        tool.run("add", "--files", "data", "--gitignore")
        m = tool.run("close", "--json")
    files = _json(m)["stats"]["files"]
    check(files == spec.files, f"gd close: {files} files, expected {spec.files}")
    _one_shot_ingest(tool, spec, ops)
    tool.commit("ingest")
    for op in ("status, unchanged", "data status, unchanged"):
        with tool.record(_slot(ops, op, "gd")):
            m = tool.run("status", "--json")
        states = [row["state"] for row in _json(m)]
        check(states == ["clean"], f"gd status: {states}, expected one clean pointer")
    with tool.record(_slot(ops, "list a version", "gd")):
        m = tool.run("list", "--id", first)
    rows = [line for line in _lines(m) if not line.startswith("path\t")]
    check(len(rows) == spec.files, f"gd list listed {len(rows)} of {spec.files} files")
    cold = tool.scratch / "cold-cache"
    with tool.record(_slot(ops, "cold get (empty cache)", "gd")):
        tool.run(
            "get",
            "--id",
            first,
            "--copy",
            str(tool.scratch / "out-cold"),
            env=tool.with_cache(cold),
        )
    _expect_files(tool.scratch / "out-cold", spec, spec.files, "gd get --copy (cold)")
    tool.set_aside(cold)
    tool.setup("TOOL", "get", "--id", first)  # fills the cache for the warm gets
    for op, flag in (("warm get, links", "--link"), ("warm get, copy", "--copy")):
        target = tool.scratch / f"out{flag}"
        with tool.record(_slot(ops, op, "gd")):
            tool.run("get", "--id", first, flag, str(target))
        _expect_files(target, spec, spec.files, f"gd get {flag}")
        links = os.stat(target / spec.path(0)).st_nlink
        check((links > 1) == (flag == "--link"), f"gd get {flag}: {links} links")
    inc = cd.increment(tool.data, spec, 0)
    with tool.record(_slot(ops, "increment, one-shot", "gd")):
        m = tool.run("sync", "--project", "bench", "--name", "ds", "--folder", "data", "--json")
    _check_sync(_json(m), inc, "gd sync (one-shot)")
    tool.commit("increment 1")
    child = _json(m)["id"]
    inc = cd.increment(tool.data, spec, 1)
    with tool.record(_slot(ops, "increment, create --parents", "gd")):
        m = tool.run("create", "--project", "bench", "--name", "ds", "--parents", child, "--json")
        draft = _json(m)["id"]
        m = tool.run("sync", "--id", draft, "--folder", "data", "--json")
        tool.run("close")
    _check_sync(_json(m), inc, "gd create --parents + sync")
    with tool.record(_slot(ops, "--help", "gd")):
        tool.run("--help")
    with tool.record(_slot(ops, "--version", "gd")):
        m = tool.run("--version")
    check("gitdata" in m.text, f"gd --version printed {m.text!r}")


def _one_shot_ingest(tool: Gd, spec: cd.DataSet, ops: Ops) -> None:
    """`gd sync --project --name --folder` of the same data, in a second fresh home,
    repository and store (so nothing is deduplicated against the first ingest)."""
    second = Gd(tool.scratch / "one-shot")
    try:
        second.init()
        with second.record(_slot(ops, "ingest, one-shot", "gd")):
            m = second.run(
                "sync", "--project", "bench", "--name", "ds", "--folder", str(tool.data), "--json"
            )
        added = _json(m)["added"]
        check(
            added == spec.files, f"gd sync (one-shot ingest): {added} added, expected {spec.files}"
        )
    finally:
        tool.set_aside(second.scratch)  # removed with the first tool's scratch folder


def _check_sync(result: dict[str, Any], inc: cd.Increment, what: str) -> None:
    got = (result["added"], result["modified"], result["removed"])
    want = (len(inc.added), len(inc.modified), len(inc.deleted))
    check(got == want, f"{what}: added/modified/removed {got}, expected {want}")


# -- set (c), gd alone ------------------------------------------------------------


def gd_c(
    tool: Gd,
    spec: cd.DataSet,
    ops: Ops,
    sizes: dict[str, list[Any]],
    dists: Sequence[str] = DISTRIBUTIONS,
) -> None:
    """Set (c): a million small files and two children of 1,000 changes each."""
    tool.init()
    cd.write_set(tool.data, spec)
    created = tool.setup("TOOL", "create", "--project", "bench", "--name", "ds", "--json")
    parent = json.loads(created)["id"]
    with tool.record(_slot(ops, "add", "gd")):
        tool.run("add", "--files", "data", "--gitignore")
    before = tool.store_objects()
    with tool.record(_slot(ops, "close", "gd")):
        m = tool.run("close", "--json")
    check(_json(m)["stats"]["files"] == spec.files, f"gd close: {_json(m)['stats']}")
    sizes.setdefault("parent manifest", []).append(_manifest_size(tool, before))
    with tool.record(_slot(ops, "list", "gd")):
        m = tool.run("list", "--id", parent)
    rows = [line for line in _lines(m) if not line.startswith("path\t")]
    check(len(rows) == spec.files, f"gd list listed {len(rows)} of {spec.files} files")
    for op, flag in (("get --link", "--link"), ("get --copy", "--copy")):
        target = tool.scratch / f"out{flag}"
        with tool.record(_slot(ops, op, "gd")):
            tool.run("get", "--id", parent, flag, str(target))
        _expect_files(target, spec, spec.files, f"gd get {flag}")
        tool.set_aside(target)
    for dist in dists:
        _child_c(tool, spec, parent, dist, ops, sizes)


def _child_c(
    tool: Gd, spec: cd.DataSet, parent: str, dist: str, ops: Ops, sizes: dict[str, list[Any]]
) -> None:
    indices = cd.chosen(spec, dist)
    cd.rewrite(tool.data, spec, indices, 1)
    before = tool.store_objects()
    with tool.record(_slot(ops, f"sync child ({dist})", "gd")):
        m = tool.run(
            "sync",
            "--project",
            "bench",
            "--name",
            "ds",
            "--parents",
            parent,
            "--folder",
            "data",
            "--json",
        )
    result = _json(m)
    check(result["modified"] == len(indices), f"gd sync child ({dist}): {result}")
    sizes.setdefault(f"child manifest ({dist})", []).append(_manifest_size(tool, before))
    with tool.record(_slot(ops, f"compare ({dist})", "gd")):
        m = tool.run("compare", "--source", parent, "--target", result["id"], "--json")
    modified = len(_json(m)["modified"])
    check(
        modified == len(indices),
        f"gd compare ({dist}): {modified} modified, expected {len(indices)}",
    )
    path = spec.path(indices[0])
    with tool.record(_slot(ops, f"cat one file ({dist})", "gd")):
        m = tool.run("cat", "--id", result["id"], path)
    check(m.stdout == spec.content(indices[0], 1), f"gd cat {path}: wrong bytes")
    cd.rewrite(tool.data, spec, indices, 0)


def _manifest_size(tool: Gd, before: dict[str, int]) -> dict[str, int]:
    count, size = tool.non_chunk_bytes(before)
    check(count >= 1, "a close wrote no manifest object into the store")
    return {"objects": count, "bytes": size}
