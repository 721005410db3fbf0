"""Credentials and endpoints from where each cloud's own tools keep them, with no
gd-specific variable: gd must work for a user set up for the AWS CLI or Azure SDK."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run_gd
from tests.conftest import make_tree, new_bucket, read_tree

pytestmark = pytest.mark.cloud

_CLOUD_VARS = ("AWS_", "AZURE_", "STORAGE_EMULATOR_HOST", "GOOGLE_")


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The test environment without any cloud variable (HOME is the test's own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_CLOUD_VARS)}


def round_trip(env: dict[str, str], tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a.txt": "alpha", "d/b.bin": os.urandom(2048)})
    for args in (
        ("create", "--project", "p", "--name", "n"),
        ("add", "--files", str(src)),
        ("close",),
        ("cache", "clear"),
        ("get", "--copy", str(tmp_path / "out")),
    ):
        done = run_gd(*args, env=env, cwd=tmp_path)
        assert done.returncode == 0, f"gd {' '.join(args)}: {done.stderr}"
    assert read_tree(tmp_path / "out") == read_tree(src)


def test_s3_from_an_aws_profile_alone(storage_servers, tmp_path: Path):
    """~/.aws/credentials + ~/.aws/config (endpoint_url in the profile), AWS_PROFILE."""
    bucket = new_bucket("s3")
    aws = Path(os.environ["HOME"]) / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[lab]\n"
        f"aws_access_key_id = {os.environ['GD_TEST_S3_KEY']}\n"
        f"aws_secret_access_key = {os.environ['GD_TEST_S3_SECRET']}\n"
    )
    (aws / "config").write_text(
        f"[profile lab]\nendpoint_url = {os.environ['GD_TEST_S3_ENDPOINT_URL']}\n"
    )
    env = {**clean_env(tmp_path), "AWS_PROFILE": "lab", "GD_STORAGE": f"s3://{bucket}/store"}
    round_trip(env, tmp_path)


def test_s3_endpoint_from_repo_config_secret_from_user_config(storage_servers, tmp_path: Path):
    """The endpoint shared in the repository's config, the keys in the user's own."""
    bucket = new_bucket("s3")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    init = run_gd("init", env=clean_env(tmp_path), cwd=repo)
    assert init.returncode == 0, init.stderr
    (repo / ".gitdata" / "config.yaml").write_text(
        f"storage: s3://{bucket}/store\n"
        f"storage_options:\n  endpoint_url: {os.environ['GD_TEST_S3_ENDPOINT_URL']}\n"
    )
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "gitdata"
    user.mkdir(parents=True)
    (user / "config.yaml").write_text(
        "storage_options:\n"
        f"  key: {os.environ['GD_TEST_S3_KEY']}\n"
        f"  secret: {os.environ['GD_TEST_S3_SECRET']}\n"
    )
    round_trip(clean_env(tmp_path), repo)


def test_azure_from_the_connection_string_alone(storage_servers, tmp_path: Path):
    container = new_bucket("azure")
    env = {
        **clean_env(tmp_path),
        "AZURE_STORAGE_CONNECTION_STRING": os.environ["GD_TEST_AZURE_CONNECTION_STRING"],
        "GD_STORAGE": f"azure://{container}/store",
    }
    round_trip(env, tmp_path)


def test_gcs_emulator_from_storage_emulator_host_alone(storage_servers, tmp_path: Path):
    bucket = new_bucket("gcs")
    env = {
        **clean_env(tmp_path),
        "STORAGE_EMULATOR_HOST": os.environ["GD_TEST_GCS_ENDPOINT_URL"],
        "GD_STORAGE": f"gs://{bucket}/store",
    }
    round_trip(env, tmp_path)
