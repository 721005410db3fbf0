"""compare_dvc.py's outputs: the summary of the raw runs, and the Markdown section
of docs/benchmarks.md between its markers."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

START = "<!-- compare_dvc:start -->"
END = "<!-- compare_dvc:end -->"

INTRO = """## gd against DVC 3.67.1, side by side

`python3 benchmarks/compare_dvc.py` (`--scale 0.01 --repeat 1` for a smoke run,
`--sets a,b,c` to choose sets, `--tools gd` to leave DVC out, `--no-write` for a dry
run; at full scale set (c) writes a million files several times per run). It
installs DVC 3.67.1 from PyPI into its own virtual environment
(`$XDG_CACHE_HOME/gitdata-bench/dvc-3.67.1`, reused; DVC is no dependency of gd)
and runs gd from this checkout. Data sets, all seeded: (a) 20,000 x 4 KiB in 100
folders, (b) 8 x 64 MiB, (c) gd alone: 1,000,000 x 256 B in 1,000 folders and two
children of 1,000 changed files each, `clustered` (one folder's files) or
`scattered` (every 1,000th file). An increment modifies 100 files, adds 100 and
deletes 100 (set (b): one each); the second increment starts from the first.

Each tool runs in a real git repository in its own fresh temporary folder, with its
own home, XDG folders and caches (`GD_CACHE_DIR`; DVC's cache in the repository, its
site-cache and config folders under the home) and its own store: a DVC local remote
folder, gd's embedded folder store (the one-shot ingest gets a second fresh home and
store, so nothing is deduplicated against the first). The tools alternate run by
run; every command's exit code is checked, and every result cheaply (file counts,
listed rows, change counts, link counts), so a broken command cannot look fast.
`dvc status` compares the workspace with the cache (it stats every file); `gd status`
reads the pointers and the drafts only. Seconds are the median of the runs with the
spread (min-max); peak RSS is each process's own (`wait4`; started from a small
spawner process, as Linux counts the forking process's memory in a child's peak),
the largest of an operation's processes. The **floor** is the same work done by the same script with
the standard library alone: ingest = read, hash and write every file once into one
file; get = create the same files from one file; links = hardlink them; status and
list = scandir and stat the tree; increment = stat the tree and pack the changed
files; `--help` = start the interpreter. This machine's disk speed varies
several-fold between runs, so read each figure against the floor of its own run.
Nothing is removed between timed steps (DVC's cache and workspace before `pull` are
renamed aside; scratch trees go after all runs, set (c)'s after each run and a
30 s pause): on this VM's ext4 (online discard) creating 20,000 files right after
20,000 were removed took 10-15 s of kernel time instead of 2-3 s, whoever came next.
Raw runs: `benchmarks/results/compare_dvc.json`."""

PENDING = "_Figures pending: they come from a full run on a quiet machine._"


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max seconds (and the largest peak RSS) of ``runs``."""
    seconds = [r["seconds"] for r in runs]
    out: dict[str, Any] = {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
    }
    rss = [r["rss_mib"] for r in runs if "rss_mib" in r]
    if rss:
        out["rss_mib_max"] = max(rss)
    cpu = [r["cpu_seconds"] for r in runs if "cpu_seconds" in r]
    if cpu:
        out["cpu_median"] = statistics.median(cpu)
    return out


def _time(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "–"
    return f"{cell['median']:.2f} ({cell['min']:.2f}-{cell['max']:.2f})"


def _cpu(cell: dict[str, Any] | None) -> str:
    return f"{cell['cpu_median']:.2f}" if cell and "cpu_median" in cell else "–"


def _rss(cell: dict[str, Any] | None) -> str:
    return f"{cell['rss_mib_max']:.0f}" if cell and "rss_mib_max" in cell else "–"


def _ratio(dvc: dict[str, Any] | None, gd: dict[str, Any] | None) -> str:
    if not dvc or not gd or gd["median"] <= 0:
        return "–"
    return f"{dvc['median'] / gd['median']:.2f}"


def table_ab(key: str, result: dict[str, Any]) -> list[str]:
    """The table of set (a) or (b): floor, DVC, gd, their ratio and peak RSS."""
    spec = result["spec"]
    lines = [
        f"### ({key}) {spec['files']:,} x {_size(spec['size'])}",
        "",
        "| operation | DVC | gd | floor s | DVC s (median, spread) | gd s (median, spread) "
        "| ratio DVC/gd | peak RSS DVC MiB | peak RSS gd MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for op, row in result["ops"].items():
        dvc = row.get("dvc", {}).get("summary")
        gd = row.get("gd", {}).get("summary")
        floor = row.get("floor", {}).get("summary")
        floor_s = f"{floor['median']:.2f}" if floor else "–"
        lines.append(
            f"| {op} | {row['commands']['dvc']} | {row['commands']['gd']} | {floor_s} "
            f"| {_time(dvc)} | {_time(gd)} | {_ratio(dvc, gd)} | {_rss(dvc)} | {_rss(gd)} |"
        )
    return lines


def table_c(result: dict[str, Any]) -> list[str]:
    """Set (c)'s table, gd alone, and the manifest bytes each close wrote."""
    spec = result["spec"]
    lines = [
        f"### (c) {spec['files']:,} x {_size(spec['size'])}, gd alone",
        "",
        "| operation | floor s | gd s (median, spread) | gd CPU s (median) | peak RSS gd MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, row in result["ops"].items():
        floor = row.get("floor", {}).get("summary")
        gd = row.get("gd", {}).get("summary")
        floor_s = f"{floor['median']:.2f}" if floor else "–"
        lines.append(f"| {op} | {floor_s} | {_time(gd)} | {_cpu(gd)} | {_rss(gd)} |")
    lines += [
        "",
        "| manifest objects a close wrote | objects | bytes (median) |",
        "|---|---:|---:|",
    ]
    for what, runs in result.get("sizes", {}).items():
        median = statistics.median(r["bytes"] for r in runs)
        lines.append(f"| {what} | {runs[0]['objects']} | {median:,.0f} |")
    return lines


def _size(n: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} B"


def section(results: dict[str, Any] | None) -> str:
    """The whole section, markers included; without ``results``, the intro alone."""
    parts = [START, INTRO, ""]
    if results is None:
        parts.append(PENDING)
    else:
        m = results["machine"]
        parts.append(
            f"Run {m['date']}: {m['cpu_count']} x {m['cpu_model']}, "
            f"{m['ram_bytes'] / (1 << 30):.0f} GiB RAM, {m['python']}, gd {m['gd_commit'][:12]}, "
            f"DVC {results.get('dvc_version') or '(not run)'}; scale {results['config']['scale']}, "
            f"{results['config']['repeat']} run(s)."
        )
        for key, result in results["sets"].items():
            parts.append("")
            table = table_c(result) if key == "c" else table_ab(key, result)
            if "run" in result:  # merged from runs of their own (compare_dvc.py --merge)
                table[1:1] = ["", f"From the run of {result['run']}."]
            parts += table
    parts.append(END)
    return "\n".join(parts) + "\n"


def replace_section(path: Path, text: str) -> None:
    """Put ``text`` between the markers of ``path`` (appended when they are absent)."""
    old = path.read_text() if path.exists() else ""
    start, end = old.find(START), old.find(END)
    if start != -1 and end > start:
        new = old[:start] + text.rstrip("\n") + old[end + len(END) :]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text
    path.write_text(new if new.endswith("\n") else new + "\n")
