"""The README's quickstart runs as written, on the embedded default store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitdata.ops.target import MARKER_NAME

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_script_runs(tmp_path: Path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("GD_STORAGE", None)
    result = subprocess.run(
        ["bash", str(ROOT / "examples/quickstart/quickstart.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "== done" in out
    # it ends with the lineage drawn by gd graph: the child above its parent
    tail = out.rsplit("== done", 1)[1].splitlines()[1:]
    assert [line.split()[:2] for line in tail if line.strip()] == [["*", "1.0.1"], ["*", "1.0.0"]]
    # the default store under XDG_DATA_HOME received the versions
    store = Path(os.environ["XDG_DATA_HOME"]) / "gitdata" / "store"
    assert (store / "versions").is_dir() and len(list((store / "versions").iterdir())) >= 2
    # the writable v1 copy matches the sample as it was at v1
    work = next(tmp_path.glob("gd-quickstart.*"))
    sample = ROOT / "examples/quickstart/sample"
    v1 = work / "v1-copy"
    got = [p.relative_to(v1) for p in v1.rglob("*") if p.is_file() and p.name != MARKER_NAME]
    assert (v1 / MARKER_NAME).is_file()  # the record that gd made this copy
    assert sorted(got) == sorted(p.relative_to(sample) for p in sample.rglob("*") if p.is_file())
