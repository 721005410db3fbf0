"""benchmarks/compare_dvc.py runs end to end with gd alone at a tiny scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "compare_dvc.py"


def run_script(
    tmp_path: Path, sets: str, scale: float, extra: tuple[str, ...] = ()
) -> tuple[dict, str]:
    """Run compare_dvc.py with gd alone into tmp paths; its JSON and the Markdown file.
    The Markdown file starts with other text, which must stay."""
    md = tmp_path / "bench.md"
    md.write_text("# Benchmarks\n\nearlier text\n")
    out = tmp_path / "out.json"
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(SCRIPT), "--tools", "gd", "--sets", sets, "--scale", str(scale)]
    cmd += ["--repeat", "1", "--out-json", str(out), "--out-md", str(md), "--tmp", str(scratch)]
    cmd += extra
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    # DVC was never installed, and the scratch folders are gone
    assert not (Path(os.environ["XDG_CACHE_HOME"]) / "gitdata-bench").exists()
    assert list(scratch.iterdir()) == []
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nearlier text\n")
    assert (
        text.count("<!-- compare_dvc:start -->") == 1
        and text.count("<!-- compare_dvc:end -->") == 1
    )
    return json.loads(out.read_text()), text


@pytest.mark.slow
def test_sets_a_with_gd_alone(tmp_path: Path, bench: Path):
    import compare_scenarios as sc

    results, text = run_script(tmp_path, "a", 0.002)
    machine = results["machine"]
    for key in ("cpu_count", "cpu_model", "ram_bytes", "python", "gd_commit", "date"):
        assert key in machine
    assert machine["cpu_count"] >= 1 and machine["ram_bytes"] > 0
    assert results["dvc_version"] is None
    assert results["config"] == {
        "scale": 0.002,
        "repeat": 1,
        "sets": ["a"],
        "tools": ["gd"],
        "distributions": ["clustered", "scattered"],
    }
    assert set(results["sets"]) == {"a"}
    a = results["sets"]["a"]
    assert a["spec"]["files"] == 40
    assert list(a["ops"]) == list(sc.OPS_AB)
    for op, row in a["ops"].items():
        assert "dvc" not in row, op
        (run,) = row["gd"]["runs"]
        assert run["seconds"] > 0 and run["rss_mib"] > 0, op
        assert run["steps"] and all(s["cmd"].startswith("gd ") for s in run["steps"]), op
        assert row["floor"]["runs"][0]["seconds"] >= 0, op
        assert row["gd"]["summary"]["median"] == run["seconds"]
    assert "| ingest |" in text and "| --version |" in text


@pytest.mark.slow
def test_set_c_with_gd_alone(tmp_path: Path, bench: Path):
    import compare_scenarios as sc

    results, text = run_script(tmp_path, "c", 0.0001)
    c = results["sets"]["c"]
    assert (c["spec"]["files"], c["spec"]["folders"], c["spec"]["changes"]) == (100, 100, 1)
    assert list(c["ops"]) == sc.ops_c()
    for op, row in c["ops"].items():
        assert row["gd"]["runs"][0]["seconds"] > 0, op
        assert row["gd"]["runs"][0]["rss_mib"] > 0, op
        assert ("floor" in row) == (not op.startswith("compare")), op
    assert set(c["sizes"]) == {
        "parent manifest",
        "child manifest (clustered)",
        "child manifest (scattered)",
    }
    assert all(s[0]["bytes"] > 0 and s[0]["objects"] >= 1 for s in c["sizes"].values())
    assert "| sync child (scattered) |" in text and "| parent manifest |" in text


def test_a_failing_step_stops_the_run_and_cleans_up(tmp_path: Path, bench: Path):
    import compare_scenarios as sc
    import compare_tools as ct

    tool = ct.Gd(tmp_path / "scratch")
    tool.init()
    ops: sc.Ops = {}
    with pytest.raises(ct.BenchError, match="exit code 3"), tool.record(sc._slot(ops, "x", "gd")):
        tool.run("list", "--id", "0" * 32)
    assert ops == {"x": {"gd": []}}  # a failed operation records no run
    tool.cleanup()
    assert not (tmp_path / "scratch").exists()


def test_unknown_sets_and_tools_are_usage_errors(bench: Path, capsys: pytest.CaptureFixture[str]):
    import compare_dvc

    for argv in (
        ["--sets", "a,x"],
        ["--tools", "git"],
        ["--repeat", "0"],
        ["--distributions", "x"],
    ):
        with pytest.raises(SystemExit) as exc:
            compare_dvc.parse_args(argv)
        assert exc.value.code == 2, argv
    args = compare_dvc.parse_args(["--sets", "c,a", "--tools", "gd"])
    assert args.sets == ["a", "c"] and args.tools == ["gd"]
    assert args.distributions == ["clustered", "scattered"]
    assert compare_dvc.parse_args(["--distributions", "scattered"]).distributions == ["scattered"]


def test_a_failed_step_exits_1_with_its_message_and_no_leftovers(
    tmp_path: Path, bench: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import compare_dvc
    import compare_scenarios as sc
    import compare_tools as ct

    def broken(tool: ct.Gd, spec: object, ops: sc.Ops) -> None:
        tool.init()
        raise ct.BenchError("gd get --copy: out holds 3 files, expected 4")

    monkeypatch.setattr(sc, "gd_ab", broken)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    out, md = tmp_path / "out.json", tmp_path / "b.md"
    argv = ["--tools", "gd", "--sets", "a", "--scale", "0.0001", "--repeat", "1"]
    argv += ["--tmp", str(scratch), "--out-json", str(out), "--out-md", str(md)]
    assert compare_dvc.main(argv) == 1
    assert "compare_dvc: gd get --copy: out holds 3 files, expected 4" in capsys.readouterr().err
    assert list(scratch.iterdir()) == []  # the scratch folders are gone
    assert not out.exists() and not md.exists()


@pytest.mark.slow
def test_merge_keeps_the_sets_this_run_did_not_measure(tmp_path: Path, bench: Path):
    first, _ = run_script(tmp_path, "a", 0.002)
    results, text = run_script(tmp_path, "c", 0.0001, ("--merge",))
    assert list(results["sets"]) == ["a", "c"]
    assert results["sets"]["a"]["ops"] == first["sets"]["a"]["ops"]
    assert text.count("From the run of ") == 2  # each set says which run it comes from
    assert "### (a) 40 x 4 KiB" in text and "### (c) 100 x 256 B, gd alone" in text
