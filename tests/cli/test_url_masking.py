"""Credentials in store URLs never reach the user's screen: errors, notes,
--json output and --debug tracebacks show them masked (``***``)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from gitdata.cli import output
from gitdata.errors import InvalidInputError, mask_credentials
from gitdata.storage.faults import redact
from gitdata.storage.opener import open_store
from tests.cli.conftest import run_gd

# (URL given by the user, the secret parts that must never be printed)
HOSTILE_URLS = [
    ("s3://AKIAXXXX:SECRETVALUE@bucket/x", ["SECRETVALUE"]),
    ("s3://AKIAXXXX:wJalr/XUtn+FEMI@bucket/x", ["wJalr", "XUtn+FEMI"]),
    ("az://container/x?sv=2022-11-02&se=2030-01-01&sig=SIGNATUREVALUE", ["SIGNATUREVALUE"]),
    ("azure://container/x?sig=SIGNATUREVALUE", ["SIGNATUREVALUE"]),
    ("https://user:PASSWORDVALUE@host.example/x", ["PASSWORDVALUE"]),
    ("gs://TOKENVALUE@bucket/x", ["TOKENVALUE"]),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in s3://AKIA:SECRET@bucket/x: failed", "in s3://AKIA:***@bucket/x: failed"),
        ("s3://AKIA:a/b@c@bucket/x", "s3://AKIA:***@bucket/x"),
        ("az://c/p?se=2030&sig=abc/k.yaml", "az://c/p?se=***&sig=***"),
        ("https://user:pw@host/x.", "https://user:***@host/x."),
        ("https://ghp_token@github.com/a", "https://***@github.com/a"),
        # not credentials: kept exactly
        ("abfs://container@acct.dfs.core.windows.net/p", None),
        ("http://127.0.0.1:9000/p/user@x", None),
        ("s3://bucket/me@example.com/data", None),
        ("a plain message: no URL", None),
    ],
)
def test_mask_credentials(text: str, expected: str | None):
    assert mask_credentials(text) == (text if expected is None else expected)


def test_errors_and_redact_mask_urls():
    exc = InvalidInputError(
        "cannot open s3://K:SECRETVALUE@b/x",
        hint="see s3://K:SECRETVALUE@b",
        file="s3://K:SECRETVALUE@b/y",
    )
    assert "SECRETVALUE" not in str(exc) + (exc.hint or "")
    assert "SECRETVALUE" not in json.dumps(exc.to_dict())
    assert redact("GET az://c/x?sig=SIGVALUE failed") == "GET az://c/x?sig=*** failed"


@pytest.mark.parametrize(
    ("url", "secrets"), [u for u in HOSTILE_URLS if not u[0].startswith("https:")]
)
def test_store_url_with_credentials_is_refused_masked(url: str, secrets: list[str]):
    with pytest.raises(InvalidInputError) as info:
        open_store(url)
    text = str(info.value) + (info.value.hint or "")
    assert "carries credentials" in text
    assert not any(s in text for s in secrets)


@pytest.mark.parametrize(("url", "secrets"), HOSTILE_URLS)
@pytest.mark.parametrize("flags", [(), ("--json",), ("--debug",), ("--debug", "--json")])
def test_failing_command_never_prints_the_secret(
    url: str, secrets: list[str], flags: tuple[str, ...], tmp_path: Path
):
    env = {**os.environ, "GD_RETRIES": "0", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    debug = [f for f in flags if f == "--debug"]
    rest = [f for f in flags if f != "--debug"]
    proc = run_gd(
        *debug,
        "get",
        "--storage",
        url,
        "--id",
        "0123456789abcdef" * 2,
        *rest,
        env=env,
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert not any(s in out for s in secrets), out
    assert "***" in out  # the URL is shown, masked
    if debug:
        assert "Traceback" in out


def test_cli_output_masks_every_line(monkeypatch: pytest.MonkeyPatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    url = "s3://K:SECRETVALUE@b/x?sig=SIGVALUE"
    output.say(f"pushed to {url}")
    output.note(f"store {url}")
    output.warn(f"store {url}")
    output.emit_json({"store": url, "files": ["a.txt"], "nested": [{"to": url}]})
    output.print_table(["store"], [[url]])
    text = out.getvalue() + err.getvalue()
    assert "SECRETVALUE" not in text and "SIGVALUE" not in text
    assert text.count("s3://K:***@b/x?sig=***") == 6
