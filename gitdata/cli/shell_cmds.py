"""Shell completion: ``gd completion bash|zsh|fish`` prints the script to source."""

from __future__ import annotations

import sys

import typer

from gitdata.cli.app import app

SHELLS = ("bash", "zsh", "fish")


@app.command()
def completion(
    shell: str = typer.Argument(..., metavar="SHELL", help="bash, zsh or fish."),
) -> None:
    """Print the tab-completion script for bash, zsh or fish.

    Each TAB runs gd once to list the commands, options and choices that fit (about
    0.2 s). Install it once per shell, as a file the shell loads or with
    eval "$(gd completion bash)" in its startup file (docs/cli.md, "Shell completion").

    Examples:

      gd completion bash > ~/.local/share/bash-completion/completions/gd

      gd completion zsh > ~/.gd-completion.zsh   # then: source it in ~/.zshrc

      gd completion fish > ~/.config/fish/completions/gd.fish
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}", param_hint="SHELL")
    # typer's own scripts, so they speak the protocol its completion code answers
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="gd", complete_var="_GD_COMPLETE", shell=shell)
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
