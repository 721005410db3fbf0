"""Ctrl-C during a transfer: gd stops at once, leaves no temp chunk, and the
next run resumes from what had landed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pytest
from servers.faultproxy import FaultProxy

from tests.cli.conftest import run_gd as gd
from tests.conftest import cloud_options, interruptible, make_tree, new_bucket, read_tree

pytestmark = pytest.mark.cloud
CHUNKS = 6


def test_ctrl_c_during_upload_stops_now_and_resumes(storage_servers, tmp_path: Path):
    bucket = new_bucket("s3")
    direct = fsspec.filesystem("s3", skip_instance_cache=True, **cloud_options("s3"))
    src = make_tree(tmp_path / "src", {f"f{i}.bin": os.urandom(1_000_000) for i in range(CHUNKS)})
    with FaultProxy("127.0.0.1", int(os.environ["GD_TEST_S3_PORT"])) as proxy:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_S3": proxy.url,
            "GD_STORAGE": f"s3://{bucket}/store",
            "GD_RETRIES": "0",
        }
        assert gd("create", "--project", "p", "--name", "n", env=env, cwd=tmp_path).returncode == 0
        assert gd("add", "--files", str(src), env=env, cwd=tmp_path).returncode == 0

        proxy.bandwidth = 500_000  # ~2 s per 1 MB chunk: Ctrl-C lands mid-upload
        upload = subprocess.Popen(
            [sys.executable, "-m", "gitdata", "upload", "--chunk-size", "1", "--max-workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )

        def landed() -> list[str]:
            return [p for p in direct.find(f"{bucket}/store/objects/") if not p.endswith("/")]

        deadline = time.monotonic() + 120
        while not landed() and upload.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upload.poll() is None, "the upload ended before it could be interrupted"
        upload.send_signal(signal.SIGINT)
        _out, err = upload.communicate(timeout=60)
        assert upload.returncode == 130
        assert err.strip().splitlines() == [
            "gd: error: interrupted",
            "hint: run the same command again to resume",
        ]
        # it stopped instead of finishing the queued chunks first
        assert len(landed()) < CHUNKS
        cache_tmp = Path(os.environ["XDG_CACHE_HOME"]) / "gitdata" / "tmp"
        assert not list(cache_tmp.glob("chunk-*")), "an abandoned temp chunk was left behind"

        proxy.bandwidth = None
        assert gd("close", env=env, cwd=tmp_path).returncode == 0
        out = tmp_path / "out"
        got = gd("get", "--copy", str(out), env=env, cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert read_tree(out) == read_tree(src)


def test_ctrl_c_during_get_leaves_nothing_half_written(storage_servers, tmp_path: Path):
    bucket = new_bucket("s3")
    # ten 100 KB files per 1 MB chunk: chunks are fetched whole, through a temp file
    src = make_tree(tmp_path / "src", {f"f{i:02d}.bin": os.urandom(100_000) for i in range(60)})
    with FaultProxy("127.0.0.1", int(os.environ["GD_TEST_S3_PORT"])) as proxy:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_S3": proxy.url,
            "GD_STORAGE": f"s3://{bucket}/store",
            "GD_RETRIES": "0",
        }
        for args in (
            ("create", "--project", "p", "--name", "n"),
            ("add", "--files", str(src)),
            ("close", "--chunk-size", "1"),
            ("cache", "clear"),
        ):
            done = gd(*args, env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr

        proxy.bandwidth = 500_000
        proxy.reset_counters()
        target = tmp_path / "copy"
        get = subprocess.Popen(
            [sys.executable, "-m", "gitdata", "get", "--copy", str(target), "--max-workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )
        deadline = time.monotonic() + 120
        while proxy.bytes_down < 1_500_000 and get.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get.poll() is None, "the get ended before it could be interrupted"
        get.send_signal(signal.SIGINT)
        _out, err = get.communicate(timeout=60)
        assert get.returncode == 130
        assert err.strip().splitlines() == [
            "gd: error: interrupted",
            "hint: run the same command again to resume",
        ]
        assert not target.exists()
        assert not list(tmp_path.glob(".copy.gd-tmp-*")), "a staging folder was left behind"
        cache_tmp = Path(os.environ["XDG_CACHE_HOME"]) / "gitdata" / "tmp"
        assert not list(cache_tmp.glob("get-*")), "a half-downloaded chunk was left behind"

        proxy.bandwidth = None
        again = gd("get", "--copy", str(target), env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert read_tree(target) == read_tree(src)
