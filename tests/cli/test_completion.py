"""Shell completion: `gd completion SHELL` prints a script that real shells source and
that completes commands and options through gd itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def gd_env(tmp_path: Path) -> dict[str, str]:
    """gd on PATH (a wrapper running this checkout) for the shells' completion calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "gd"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitdata "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}


def script(shell: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["gd", "completion", shell], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        if os.environ.get("GD_TEST_SERVERS") == "required":
            pytest.fail(f"{shell} is not installed: tests/servers/manage.py install adds it")
        pytest.skip(f"{shell} is not installed (tests/servers/manage.py install adds it)")
    return path


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_that_calls_gd(shell: str, tmp_path: Path):
    text = script(shell, gd_env(tmp_path))
    assert "_GD_COMPLETE=complete_" + shell in text and text.endswith("\n")


def test_an_unknown_shell_is_a_usage_error(tmp_path: Path):
    proc = subprocess.run(
        ["gd", "completion", "tcsh"], env=gd_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 2 and "'tcsh' is not one of bash, zsh, fish" in proc.stderr
    assert proc.stdout == ""


def test_bash_completes_commands_and_options(tmp_path: Path):
    env = gd_env(tmp_path)
    (tmp_path / "gd.bash").write_text(script("bash", env))
    probe = (
        f'source "{tmp_path / "gd.bash"}"\n'
        'COMP_WORDS=(gd cl); COMP_CWORD=1; _gd_completion gd; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(gd get --li); COMP_CWORD=2; _gd_completion gd; echo "${COMPREPLY[*]}"\n'
        'COMP_WORDS=(gd completion ""); COMP_CWORD=2; _gd_completion gd; echo "${COMPREPLY[*]}"\n'
    )
    proc = subprocess.run(
        [need("bash"), "--norc", "-c", probe], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["close", "--link"]


def test_zsh_completes_through_its_script(tmp_path: Path):
    env = gd_env(tmp_path)
    (tmp_path / "_gd").write_text(script("zsh", env))
    # the script's function, called as zsh's completion system would, with compadd-style
    # output captured from the eval'd _arguments line
    probe = (
        "autoload -Uz compinit && compinit -u -D\n"
        f'source "{tmp_path / "_gd"}"\n'
        '_arguments() { print -r -- "$@" }\n'
        "words=(gd cl); CURRENT=2; _gd_completion\n"
    )
    proc = subprocess.run([need("zsh"), "-f", "-c", probe], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '"close":"Upload what is pending' in proc.stdout


def test_fish_completes_commands(tmp_path: Path):
    env = gd_env(tmp_path)
    (tmp_path / "gd.fish").write_text(script("fish", env))
    probe = f'source "{tmp_path / "gd.fish"}"; complete -C "gd cl"'
    proc = subprocess.run(
        [need("fish"), "--no-config", "-c", probe], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("close\t")


def test_python_dash_m_gitdata_is_gd(tmp_path: Path):
    env = gd_env(tmp_path)
    for args in (["--version"], ["--help"], ["list", "--id"]):
        a = subprocess.run(["gd", *args], env=env, capture_output=True, text=True)
        b = subprocess.run(
            [sys.executable, "-m", "gitdata", *args], env=env, capture_output=True, text=True
        )
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
