"""examples/reading/: each library's script reads a version made by make_sample.py,
with the real pandas, pyarrow, Hugging Face datasets and Dask (on a two-process
local cluster), and two sharded-training processes split a version between them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cloud_url

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "reading"
SAMPLE_FILES = [
    *(f"csv/part-{i}.csv" for i in range(4)),
    "jsonl/all.jsonl",
    *(f"parquet/part-{i}.parquet" for i in range(4)),
]


def run(script: str, env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{script}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(params=["local", "s3"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], Path, str]:
    """(environment, a folder to run in, the sample version's id) on each store kind."""
    if request.param == "s3":
        request.getfixturevalue("storage_servers")
        store = cloud_url("s3")
    else:
        store = str(tmp_path / "store")
    env = {**os.environ, "GD_STORAGE": store, "PYTHONPATH": str(ROOT)}
    work = tmp_path / "run"
    work.mkdir()
    vid = run("make_sample.py", env, work).strip()
    assert len(vid) == 32
    return env, work, vid


def test_pandas_reads_csv_parquet_and_json_lines(sample):
    env, work, vid = sample
    out = run("read_pandas.py", env, work)
    assert "csv part-0: 250 rows, columns ['id', 'label', 'score']" in out
    assert "parquet part-1: 250 rows, first id 250" in out
    assert "jsonl: 1000 rows, 3 labels" in out
    by_id = run("read_pandas.py", env, work, f"gd://{vid}")
    assert by_id == out


def test_pyarrow_reads_the_parquet_parts_as_one_dataset(sample):
    env, work, _ = sample
    out = run("read_pyarrow.py", env, work)
    assert "4 parquet files, 1000 rows" in out and "cats: 334 rows" in out


def test_hugging_face_datasets_loads_the_csv_parts(sample):
    env, work, _ = sample
    out = run("read_hf_datasets.py", env, work)
    assert "train: 1000 rows, features ['id', 'label', 'score']" in out
    assert "labels: ['bird', 'cat', 'dog']" in out


def test_dask_reads_on_two_worker_processes(sample):
    env, work, _ = sample
    out = run("read_dask.py", env, work)
    assert "4 partitions on 2 workers, 1000 rows" in out
    # sums of (id % 97) by label over ids 0..999, as the rows are made
    sums = {"cat": 0, "dog": 0, "bird": 0}
    for i in range(1000):
        sums[("cat", "dog", "bird")[i % 3]] += i % 97
    assert f"score sums: bird={sums['bird']}, cat={sums['cat']}, dog={sums['dog']}" in out


def test_two_sharded_processes_take_disjoint_parts_that_cover_the_version(sample):
    env, work, vid = sample
    procs = [
        subprocess.Popen(
            [sys.executable, str(EXAMPLES / "sharded_training.py"), "--id", vid],
            env={**env, "RANK": str(rank), "WORLD_SIZE": "2"},
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    shards = []
    for rank, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        lines = out.splitlines()
        assert lines[0].startswith(f"rank {rank}/2: ")
        shards.append({line.strip() for line in lines[1:]})
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    assert sorted(shards[0] | shards[1]) == sorted(SAMPLE_FILES)
    # --rank / --world-size given on the command line win over the variables
    alone = run(
        "sharded_training.py", {**env, "RANK": "5"}, work, "--rank", "0", "--world-size", "1"
    )
    assert alone.startswith("rank 0/1: 9 files")


def test_a_rank_outside_the_world_is_refused(sample):
    env, work, vid = sample
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "sharded_training.py"), "--id", vid],
        env={**env, "RANK": "2", "WORLD_SIZE": "2"},
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "rank 2 is not in 0..1" in proc.stderr
