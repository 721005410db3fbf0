"""gd ui and gd report as users run them: real processes, a real git repository."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli.conftest import run_gd
from tests.conftest import interruptible

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def start_ui(*args: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitdata", "ui", "--port", "0", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+/)", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, m.group(1)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return err


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def test_gd_ui_serves_the_store_and_the_repo_timeline(tmp_path) -> None:
    store = str(tmp_path / "store")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    e = env()
    data = repo / "data"
    data.mkdir()
    (data / "a.txt").write_text("one\n")
    for args in (
        ("init", "--storage", store),
        ("create", "--project", "p", "--name", "n"),
        ("add", "--files", "data"),
        ("close",),
    ):
        r = run_gd(*args, env=e, cwd=repo)
        assert r.returncode == 0, r.stderr
    subprocess.run(["git", "commit", "-qm", "pin p/n"], cwd=repo, check=True, env=e)

    proc, url = start_ui(cwd=repo)  # the repository's configured store
    try:
        assert url.startswith("http://127.0.0.1:")
        assert ">n<" in get(url)
        timeline = get(url + "timeline")
        assert "pin p/n" in timeline and "p/n" in timeline
    finally:
        err = stop(proc)
    assert "Traceback" not in err


def test_gd_ui_warns_when_bound_beyond_loopback(tmp_path, history) -> None:
    proc, url = start_ui("--host", "0.0.0.0", "--storage", history.store, cwd=tmp_path)
    err = stop(proc)
    assert "gd: warning: binding to 0.0.0.0" in err and "no login" in err


def test_gd_ui_port_in_use_is_one_line(tmp_path, history) -> None:
    proc, url = start_ui("--storage", history.store, cwd=tmp_path)
    try:
        port = url.rsplit(":", 1)[1].strip("/")
        r = run_gd("ui", "--port", port, "--storage", history.store, env=env(), cwd=tmp_path)
        assert r.returncode == 2 and "cannot listen on 127.0.0.1:" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        stop(proc)


def test_gd_report_is_one_self_contained_file(tmp_path, history) -> None:
    out = tmp_path / "report.html"
    r = run_gd(
        "report",
        "--id",
        history.merge,
        "--output",
        str(out),
        "--storage",
        history.store,
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert history.merge in html and "<svg" in html and 'id="summary"' in html
    # nothing to fetch: no src= at all, no link to a server, no external URL
    assert " src=" not in html and 'href="/' not in html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)


def test_gd_report_refuses_a_symlinked_output(tmp_path, history) -> None:
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("mine")
    out = tmp_path / "report.html"
    out.symlink_to(elsewhere)
    r = run_gd(
        "report",
        "--id",
        history.v1,
        "--output",
        str(out),
        "--storage",
        history.store,
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "symlink" in r.stderr
    assert elsewhere.read_text() == "mine"


def test_gd_report_of_unknown_version_is_one_line(tmp_path, history) -> None:
    r = run_gd(
        "report",
        "--id",
        "0" * 32,
        "--output",
        str(tmp_path / "r.html"),
        "--storage",
        history.store,
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert not (tmp_path / "r.html").exists()


def test_gd_report_makes_missing_folders_and_names_an_unwritable_place(tmp_path, history) -> None:
    out = tmp_path / "reports" / "ci" / "v1.html"
    r = run_gd("report", "--id", history.v1, "--output", str(out), "--storage", history.store,
               env=env(), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0 and out.is_file(), r.stderr
    r = run_gd("report", "--id", history.v1, "--output", "/proc/x.html", "--storage",
               history.store, env=env(), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4 and "cannot write the report /proc/x.html" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_gd_ui_refuses_a_port_out_of_range(tmp_path) -> None:
    r = run_gd("ui", "--port", "99999", env=env(), cwd=tmp_path)
    assert r.returncode == 2 and "99999" in r.stderr and "internal error" not in r.stderr
