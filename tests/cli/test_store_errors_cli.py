"""Store faults as a user sees them: one line (plus a hint), an exit code, no
traceback unless --debug, no secret, and nothing changed."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree, new_bucket

pytestmark = pytest.mark.cloud


@pytest.fixture
def s3_env(storage_servers, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GD_RETRIES"] = "0"
    env["GD_STORAGE"] = f"s3://{new_bucket('s3')}/store"
    return env


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("gd: error: ") and all(w in lines[0] for w in words), lines
    assert len(lines) <= 2 and all(not line.startswith("  File") for line in lines)
    assert "Traceback" not in proc.stderr


def test_wrong_secret(s3_env, tmp_path: Path):
    secret = "not-the-secret-" + "9" * 20
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY": secret}
    proc = run_gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path)
    assert_one_line_error(proc, 7, "rejected the credentials")
    assert "AWS_SECRET_ACCESS_KEY" in proc.stderr  # the hint names where to look
    assert secret not in proc.stdout + proc.stderr


def test_missing_bucket_then_create_bucket(s3_env, tmp_path: Path):
    bucket = f"gd-not-there-yet-{uuid.uuid4().hex[:8]}"
    env = {**s3_env, "GD_STORAGE": f"s3://{bucket}/store"}
    proc = run_gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path)
    assert_one_line_error(proc, 3, f"bucket '{bucket}'", "does not exist")
    assert "--create-bucket" in proc.stderr
    proc = run_gd(
        "create", "--project", "p", "--name", "n", "--create-bucket", env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr


def test_endpoint_down_during_upload_keeps_the_draft(s3_env, tmp_path: Path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "b.txt": "b"})
    assert (
        run_gd("create", "--project", "p", "--name", "n", env=s3_env, cwd=tmp_path).returncode == 0
    )
    assert run_gd("add", "--files", str(src), env=s3_env, cwd=tmp_path).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = {**s3_env, "AWS_ENDPOINT_URL_S3": dead, "AWS_ENDPOINT_URL": dead}
    proc = run_gd("close", env=down, cwd=tmp_path)
    assert_one_line_error(proc, 6, "cannot reach store")
    debug = run_gd("--debug", "close", env=down, cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    # nothing lost: the same draft closes once the endpoint is back
    proc = run_gd("close", "--json", env=s3_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"files": 2' in proc.stdout
