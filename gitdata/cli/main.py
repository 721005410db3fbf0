"""Entry point of the ``gd`` console script."""

from __future__ import annotations

from gitdata.cli import (  # noqa: F401 - registers commands
    build_cmds,
    check_cmds,
    git_cmds,
    meta_cmds,
    read_cmds,
    transfer_cmds,
    ui_cmds,
)
from gitdata.cli.app import app


def run() -> None:
    """Console-script entry point."""
    app(prog_name="gd")


if __name__ == "__main__":
    run()
