"""gd against DVC 3.67.1, measured side by side on the same data sets.

  python3 benchmarks/compare_dvc.py                       # sets a,b,c; 3 runs; both tools
  python3 benchmarks/compare_dvc.py --scale 0.01 --repeat 1   # a smoke run
  python3 benchmarks/compare_dvc.py --tools gd --sets a   # gd alone (DVC not installed)

Sets: (a) 20,000 x 4 KiB in 100 folders, (b) 8 x 64 MiB, (c) gd alone: 1,000,000 x
256 B in 1,000 folders and children changing 1,000 of them, clustered and scattered.
DVC is installed into its own virtual environment ($XDG_CACHE_HOME/gitdata-bench/
dvc-3.67.1, reused); gd runs from this checkout (`python -m gitdata`). Each tool
runs in a fresh temporary git repository with its own home, caches and store; the
tools alternate run by run; every step is checked; a stdlib-only floor is measured
for each operation in each run. Writes benchmarks/results/compare_dvc.json (raw
runs) and the section of docs/benchmarks.md between its compare_dvc markers.
Not a test: nothing asserts a time. docs/benchmarks.md says what each row measures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import compare_data as cd
import compare_report as report
import compare_scenarios as sc
from compare_tools import DVC_VERSION, BenchError, Dvc, Gd, install_dvc
from harness import ROOT, machine_info, outside_project, remove_tree

TOOLS = ("dvc", "gd")
SETS = ("a", "b", "c")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiply the sets' sizes (0.01: a smoke run)"
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per tool (default 3)")
    p.add_argument("--sets", default="a,b,c", help="comma-separated: a, b, c (default all)")
    p.add_argument("--tools", default="dvc,gd", help="comma-separated: dvc, gd (default both)")
    p.add_argument(
        "--distributions",
        default="clustered,scattered",
        help="set (c)'s children: clustered (one folder's files), scattered (every Nth file)",
    )
    p.add_argument("--out-json", type=Path, default=ROOT / "benchmarks/results/compare_dvc.json")
    p.add_argument("--out-md", type=Path, default=ROOT / "docs/benchmarks.md")
    p.add_argument("--no-write", action="store_true", help="write neither file (print the section)")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the sets of the existing JSON file this run does not measure "
        "(each set's table then says which run it comes from)",
    )
    p.add_argument("--tmp", type=Path, default=None, help="where the scratch folders go")
    args = p.parse_args(argv)
    args.sets = _choice(p, args.sets, SETS, "--sets")
    args.tools = _choice(p, args.tools, TOOLS, "--tools")
    args.distributions = _choice(p, args.distributions, sc.DISTRIBUTIONS, "--distributions")
    if args.repeat < 1 or args.scale <= 0:
        p.error("--repeat must be at least 1 and --scale positive")
    return args


def _choice(
    p: argparse.ArgumentParser, value: str, allowed: tuple[str, ...], flag: str
) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        p.error(f"{flag}: choose from {', '.join(allowed)} (got {value!r})")
    return [v for v in allowed if v in chosen]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; 0 on success, 1 when a step failed, 130 on Ctrl-C."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    dvc = install_dvc() if "dvc" in args.tools else None
    base = Path(tempfile.mkdtemp(prefix="gd-compare-dvc-", dir=args.tmp))
    try:
        outside_project(base)
        results = run_all(args, base, dvc)
    except BenchError as exc:
        print(f"compare_dvc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("compare_dvc: interrupted; temporary folders removed", file=sys.stderr)
        return 130
    finally:
        remove_tree(base)
    if args.merge and args.out_json.exists():
        results = _merged(json.loads(args.out_json.read_text()), results)
    text = report.section(results)
    if args.no_write:
        print(text)
        return 0
    args.out_json.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps(results, indent=1) + "\n")
    report.replace_section(args.out_md, text)
    print(f"wrote {args.out_json} and the compare_dvc section of {args.out_md}", file=sys.stderr)
    return 0


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the sets of ``old`` it did not measure, each set tagged with its run."""
    out = dict(new)
    sets: dict[str, Any] = {}
    for results in (old, new):
        for key, result in results["sets"].items():
            result.setdefault("run", _run_line(results))
            sets[key] = result
    out["sets"] = {key: sets[key] for key in sorted(sets)}
    return out


def _run_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return f"{m['date']}, gd {m['gd_commit'][:12]}, {results['config']['repeat']} run(s)"


def run_all(args: argparse.Namespace, base: Path, dvc: Path | None) -> dict[str, Any]:
    """Every run of every chosen set: the floor first, then the tools, alternating."""
    specs = cd.data_sets(args.scale)
    dists: list[str] = args.distributions
    raw: dict[str, tuple[sc.Ops, dict[str, list[Any]]]] = {}
    for run in range(args.repeat):
        order = args.tools if run % 2 == 0 else args.tools[::-1]
        for key in args.sets:
            if key == "c" and "gd" not in args.tools:
                continue
            ops, sizes = raw.setdefault(key, ({}, {}))
            _progress(f"run {run + 1}/{args.repeat}, set {key}: floor")
            _scratch(
                base / f"{key}{run}-floor",
                lambda d, k=key, o=ops: _floors(d, specs[k], o, dists),
                key,
            )
            for tool in order:
                if key == "c" and tool != "gd":
                    continue
                _progress(f"run {run + 1}/{args.repeat}, set {key}: {tool}")
                scratch = base / f"{key}{run}-{tool}"
                _run_tool(scratch, key, tool, specs[key], ops, sizes, dvc, dists)
    while _REMOVE_LATER:
        remove_tree(_REMOVE_LATER.pop())
    return {
        "machine": machine_info(),
        "dvc_version": DVC_VERSION if dvc else None,
        "config": {
            "scale": args.scale,
            "repeat": args.repeat,
            "sets": args.sets,
            "tools": args.tools,
            "distributions": dists,
        },
        "sets": {key: _assemble(key, specs[key], *raw[key], dists) for key in raw},
    }


def _floors(scratch: Path, spec: cd.DataSet, ops: sc.Ops, dists: list[str]) -> None:
    if spec.key == "c":
        sc.floors_c(scratch, spec, ops, dists)
    else:
        sc.floors_ab(scratch, spec, ops)


# This VM's ext4 (online discard) makes the file creation that follows a big removal
# several times slower in the kernel (a cold get of 20,000 files: 2.5 s settled, 10-15 s
# right after 20,000 files were removed), so a removal must never land just before a
# timed step.  The scratch folders of sets (a) and (b) (a few GB) are removed once all
# runs are done; set (c)'s (millions of inodes) after each run, followed by a pause.
_REMOVE_LATER: list[Path] = []
_SETTLE_SECONDS = 30


def _done_with(folder: Path, key: str) -> None:
    if key != "c":
        _REMOVE_LATER.append(folder)
        return
    remove_tree(folder)
    os.sync()
    time.sleep(_SETTLE_SECONDS)


def _scratch(folder: Path, fn: Any, key: str) -> None:
    folder.mkdir(parents=True)
    try:
        fn(folder)
    finally:
        _done_with(folder, key)


def _run_tool(
    scratch: Path,
    key: str,
    name: str,
    spec: cd.DataSet,
    ops: sc.Ops,
    sizes: dict[str, list[Any]],
    dvc: Path | None,
    dists: list[str],
) -> None:
    scratch.mkdir(parents=True)
    tool: Dvc | Gd = Gd(scratch) if name == "gd" else Dvc(scratch, dvc or Path("dvc"))
    try:
        if key == "c":
            assert isinstance(tool, Gd)
            sc.gd_c(tool, spec, ops, sizes, dists)
        elif isinstance(tool, Gd):
            sc.gd_ab(tool, spec, ops)
        else:
            sc.dvc_ab(tool, spec, ops)
    finally:
        _done_with(tool.scratch, key)


def _assemble(
    key: str, spec: cd.DataSet, ops: sc.Ops, sizes: dict[str, list[Any]], dists: list[str]
) -> dict[str, Any]:
    """One set's JSON: its spec, each operation's runs and summaries, the sizes."""
    names = sc.ops_c(dists) if key == "c" else list(sc.OPS_AB)
    out: dict[str, Any] = {}
    for op in names:
        row: dict[str, Any] = {}
        if key != "c":
            dvc_cmd, gd_cmd = sc.OPS_AB[op]
            row["commands"] = {"dvc": dvc_cmd, "gd": gd_cmd}
        for who, runs in ops.get(op, {}).items():
            row[who] = {"runs": runs, "summary": report.summarise(runs)}
        for (same_op, who), source in sc.SAME_AS.items():
            if same_op == op and who not in row and who in ops.get(source, {}):
                row[who] = {"same_as": source, "summary": report.summarise(ops[source][who])}
        out[op] = row
    return {"spec": asdict(spec), "ops": out, "sizes": sizes}


def _progress(message: str) -> None:
    print(f"compare_dvc: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
