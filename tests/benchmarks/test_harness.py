"""benchmarks/harness.py: one command measured with its own peak RSS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ALLOCATE = "b = bytearray({n} << 20); b[::4096] = b'x' * len(b[::4096])"


def test_peak_rss_is_the_child_s_own(tmp_path: Path, bench: Path):
    import harness

    held = bytearray(200 << 20)
    held[::4096] = b"x" * len(held[::4096])  # this process now has 200 MiB resident
    small = harness.run_measured([sys.executable, "-c", "pass"], dict(os.environ), tmp_path)
    big = harness.run_measured(
        [sys.executable, "-c", ALLOCATE.format(n=120)], dict(os.environ), tmp_path
    )
    del held
    assert small.returncode == big.returncode == 0
    assert small.rss_kib < 100 * 1024  # not the 200 MiB of the process that asked
    assert big.rss_kib >= 120 * 1024


def test_cpu_seconds_are_the_child_s_work_not_its_waiting(tmp_path: Path, bench: Path):
    import harness

    busy = "import time; end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    sleepy = "import time; time.sleep(0.4)"
    b = harness.run_measured([sys.executable, "-c", busy], dict(os.environ), tmp_path)
    s = harness.run_measured([sys.executable, "-c", sleepy], dict(os.environ), tmp_path)
    assert b.returncode == s.returncode == 0
    assert b.cpu_seconds >= 0.3
    assert s.seconds >= 0.4 and s.cpu_seconds < s.seconds - 0.3


def test_exit_code_output_and_folder(tmp_path: Path, bench: Path):
    import harness

    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(3)"
    m = harness.run_measured([sys.executable, "-c", code], dict(os.environ), tmp_path)
    assert (m.returncode, m.text.strip(), m.stderr.strip()) == (3, str(tmp_path), "oops")
    assert m.seconds > 0
    missing = harness.run_measured([str(tmp_path / "nothing")], dict(os.environ), tmp_path)
    assert missing.returncode == 127 and "cannot run" in missing.stderr


def test_remove_tree_removes_read_only_folders(tmp_path: Path, bench: Path):
    import harness

    inner = tmp_path / "t" / "a" / "b"
    inner.mkdir(parents=True)
    (inner / "f").write_text("x")
    (inner / "f").chmod(0o444)
    inner.chmod(0o555)
    (tmp_path / "t" / "a").chmod(0o555)
    harness.remove_tree(tmp_path / "t")
    assert not (tmp_path / "t").exists()
    harness.remove_tree(tmp_path / "t")  # absent: nothing to do
