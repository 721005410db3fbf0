"""Entry point of the ``gd`` console script."""

from __future__ import annotations

from gitdata.cli import (  # noqa: F401 - registers commands
    build_cmds,
    check_cmds,
    git_cmds,
    meta_cmds,
    read_cmds,
    shell_cmds,
    transfer_cmds,
    ui_cmds,
)
from gitdata.cli.app import app

# gen0 threshold, then gen1 and gen2 counts (CPython's defaults: 700, 10, 10)
GC_THRESHOLDS = (100_000, 20, 100)


def run() -> None:
    """Console-script entry point."""
    tune_gc()
    app(prog_name="gd")


def tune_gc() -> None:
    """Make the cyclic garbage collector run rarely in a gd process.

    A command holds a few hundred thousand small objects that live to its end
    (manifest entries, draft files, stat results) and makes almost no cycles, yet
    with CPython's default thresholds the collector walked them over and over:
    0.19 s of a 1.2 s re-sync of a 20,000-file dataset (docs/benchmarks.md).
    What import made is frozen out of collection and collections run a hundred
    times less often; cycles are still collected, so long-running commands (gd
    ui) keep their memory bounded.  Only the CLI does this: the library never
    changes its caller's interpreter.
    """
    import gc

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


if __name__ == "__main__":
    run()
