"""The two tools of compare_dvc.py: DVC in its own virtual environment, gd from
this checkout; each command timed with its own peak RSS and checked."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import Measured, isolated_env, outside_project, remove_tree, run_measured

DVC_VERSION = "3.67.1"


class BenchError(RuntimeError):
    """A command failed or gave a wrong result: the benchmark stops."""


def check(condition: bool, message: str) -> None:
    """Stop the benchmark with ``message`` unless ``condition``."""
    if not condition:
        raise BenchError(message)


def dvc_venv_dir() -> Path:
    """``$XDG_CACHE_HOME/gitdata-bench/dvc-VERSION`` (or under ``~/.cache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gitdata-bench" / f"dvc-{DVC_VERSION}"


def install_dvc(log: Any = sys.stderr) -> Path:
    """The ``dvc`` executable of DVC_VERSION, installed into its own venv unless present."""
    venv = dvc_venv_dir()
    dvc = venv / "bin" / "dvc"
    if dvc.exists() and _dvc_version(dvc) == DVC_VERSION:
        return dvc
    print(f"installing dvc=={DVC_VERSION} into {venv}", file=log)
    remove_tree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    r = subprocess.run([*pip, "--disable-pip-version-check", f"dvc=={DVC_VERSION}"])
    check(r.returncode == 0, f"pip could not install dvc=={DVC_VERSION} into {venv}")
    found = _dvc_version(dvc)
    check(found == DVC_VERSION, f"{dvc} says version {found!r}, expected {DVC_VERSION}")
    return dvc


def _dvc_version(dvc: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as for gd: see harness.isolated_env
    r = subprocess.run([str(dvc), "--version"], capture_output=True, text=True, env=env)
    return r.stdout.strip() if r.returncode == 0 else ""


def tool_env(home: Path) -> dict[str, str]:
    """An isolated home (harness.isolated_env) with git's identity for commits."""
    env = isolated_env(home)
    for var in [v for v in env if v.startswith("GIT_")]:
        del env[var]
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    return env


class Tool:
    """One tool in one scratch folder: its home, repository and recorded steps.

    ``run`` times a command and adds it to the operation being recorded;
    ``setup`` runs one untimed. Both stop the benchmark when it fails.
    """

    name = ""

    def __init__(self, scratch: Path, argv0: list[str], env: dict[str, str]) -> None:
        self.scratch = outside_project(scratch)
        self.repo = self.scratch / "repo"
        self.data = self.repo / "data"
        self.argv0 = argv0
        self.env = env
        self._steps: list[dict[str, Any]] | None = None

    @contextlib.contextmanager
    def record(self, into: list[dict[str, Any]]) -> Iterator[None]:
        """Every ``run`` inside the block is one step of a run appended to ``into``."""
        self._steps = []
        try:
            yield
            steps = self._steps
            into.append(
                {
                    "seconds": sum(s["seconds"] for s in steps),
                    "cpu_seconds": sum(s["cpu_seconds"] for s in steps),
                    "rss_mib": max((s["rss_mib"] for s in steps), default=0.0),
                    "steps": steps,
                }
            )
        finally:
            self._steps = None

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Measured:
        """Run ``TOOL ARGS`` timed; part of the operation being recorded."""
        check(self._steps is not None, f"{self.name} {' '.join(args)}: timed outside an operation")
        m = run_measured([*self.argv0, *args], env or self.env, cwd or self.repo)
        self._fail_unless_ok(args, m.returncode, m.stderr, m.text)
        assert self._steps is not None
        label = " ".join(a if len(a) < 40 else "..." for a in args)
        self._steps.append(
            {
                "cmd": f"{self.name} {label}",
                "seconds": m.seconds,
                "cpu_seconds": m.cpu_seconds,
                "rss_mib": m.rss_kib / 1024,
            }
        )
        return m

    def setup(self, *argv: str, cwd: Path | None = None) -> str:
        """Run ``argv`` (``TOOL`` for the tool itself) untimed; its stdout."""
        cmd = [*self.argv0, *argv[1:]] if argv[0] == "TOOL" else list(argv)
        r = subprocess.run(cmd, env=self.env, cwd=cwd or self.repo, capture_output=True, text=True)
        self._fail_unless_ok(argv, r.returncode, r.stderr, r.stdout)
        return r.stdout

    def _fail_unless_ok(self, args: Any, code: int, stderr: str, stdout: str) -> None:
        if code:
            raise BenchError(
                f"{self.name} {' '.join(args)} failed with exit code {code} in {self.repo}:\n"
                f"{stderr.strip() or stdout.strip()[-2000:]}"
            )

    def commit(self, message: str) -> None:
        """Commit everything in the repository (hooks skipped: not what is measured)."""
        self.setup("git", "add", "-A")
        self.setup("git", "commit", "-q", "--no-verify", "--allow-empty", "-m", message)

    def set_aside(self, path: Path) -> None:
        """Take ``path`` out of the way by a rename into the scratch folder, removed with
        it at :meth:`cleanup`: this VM's ext4 (online discard) makes the file creation
        that follows a big removal several times slower in the kernel, so nothing is
        removed between timed steps."""
        if not path.exists():
            return
        aside = self.scratch / "set-aside"
        aside.mkdir(exist_ok=True)
        path.rename(aside / f"{len(list(aside.iterdir()))}-{path.name}")

    def cleanup(self) -> None:
        """Remove the scratch folder."""
        remove_tree(self.scratch)


class Dvc(Tool):
    """DVC with its cache in the repository and a local remote folder."""

    name = "dvc"

    def __init__(self, scratch: Path, dvc: Path) -> None:
        home = scratch / "home"
        env = tool_env(home)
        env.pop("PYTHONPATH", None)
        env.update(
            DVC_NO_ANALYTICS="1",
            DVC_GLOBAL_CONFIG_DIR=str(home / ".config" / "dvc"),
            DVC_SYSTEM_CONFIG_DIR=str(home / "dvc-system"),
            DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        )
        super().__init__(scratch, [str(dvc)], env)
        self.remote = self.scratch / "remote"
        self.cache = self.repo / ".dvc" / "cache"

    def init(self) -> None:
        """git init, dvc init, a default local remote; no update checks."""
        config = Path(self.env["DVC_GLOBAL_CONFIG_DIR"])
        config.mkdir(parents=True, exist_ok=True)
        (config / "config").write_text("[core]\n    check_update = false\n    analytics = false\n")
        self.repo.mkdir(parents=True)
        self.setup("git", "init", "-q")
        self.setup("TOOL", "init", "-q")
        self.setup("TOOL", "remote", "add", "-d", "store", str(self.remote))
        self.commit("dvc init")


class Gd(Tool):
    """gd from this checkout with its embedded folder store under the home."""

    name = "gd"

    def __init__(self, scratch: Path) -> None:
        home = scratch / "home"
        env = tool_env(home)
        env["GD_CACHE_DIR"] = str(home / "gd-cache")
        super().__init__(scratch, [sys.executable, "-m", "gitdata", "-q"], env)
        self.store = Path(env["XDG_DATA_HOME"]) / "gitdata" / "store"

    def init(self) -> None:
        """git init, gd init."""
        self.repo.mkdir(parents=True)
        self.setup("git", "init", "-q")
        self.setup("TOOL", "init")
        self.commit("gd init")

    def with_cache(self, cache: Path) -> dict[str, str]:
        """This tool's environment with another GD_CACHE_DIR."""
        return {**self.env, "GD_CACHE_DIR": str(cache)}

    def store_objects(self) -> dict[str, int]:
        """Every object in the store and its size (``objects/<aa>/<hash>``)."""
        root = self.store / "objects"
        found: dict[str, int] = {}
        if root.is_dir():
            for folder in os.scandir(root):
                for obj in os.scandir(folder.path):
                    found[obj.name] = obj.stat().st_size
        return found

    def non_chunk_bytes(self, before: dict[str, int]) -> tuple[int, int]:
        """Objects added since ``before`` that are not zip chunks: (count, bytes).
        These are what a close wrote besides content: the manifest objects."""
        count = size = 0
        for name, length in self.store_objects().items():
            if name in before:
                continue
            obj = self.store / "objects" / name[:2] / name
            with open(obj, "rb") as fh:
                if fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06"):
                    continue
            count += 1
            size += length
        return count, size
