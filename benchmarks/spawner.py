"""A small process that starts the measured commands for harness.run_measured.

Linux counts in a child's peak RSS (``ru_maxrss``) the memory of the process it
was forked from: a command started by a benchmark that holds 300 MiB of data
reports at least 300 MiB. This process stays small (the standard library's json
only), so what ``os.wait4`` reports for its children is theirs.

Protocol: one JSON request per line on stdin ``{"argv", "env", "cwd", "out",
"err"}`` (out/err: files for the child's stdout/stderr); one JSON reply per line
on stdout ``{"seconds", "cpu_seconds", "rss_kib", "status"}``, timed after an
``os.sync()`` (``cpu_seconds``: the child's user + system time).
SIGTERM or SIGINT kills the running child, then this process exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

_child = 0


def _stop(signum: int, frame: Any) -> None:
    if _child:
        try:
            os.kill(_child, signal.SIGKILL)
            os.waitpid(_child, 0)
        except OSError:
            pass
    os._exit(130)


def _exec(req: dict[str, Any]) -> None:
    """In the forked child: redirect, change folder, exec; exit 127 if that fails."""
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(req["out"], flags, 0o600), 1)
        os.dup2(os.open(req["err"], flags, 0o600), 2)
        os.chdir(req["cwd"])
        os.execvpe(req["argv"][0], req["argv"], req["env"])
    except BaseException as exc:  # noqa: BLE001 - report anything, then leave
        os.write(2, f"cannot run {req['argv'][0]}: {exc}\n".encode())
    os._exit(127)


def main() -> None:
    """Serve requests until stdin closes."""
    global _child
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for line in sys.stdin:
        req = json.loads(line)
        os.sync()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _exec(req)
        _child = pid
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        _child = 0
        reply = {
            "seconds": seconds,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "rss_kib": usage.ru_maxrss,
            "status": status,
        }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
