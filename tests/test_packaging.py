"""The wheel, as users install it: built from this checkout, installed into a clean
virtual environment (its dependencies from the package index), `gd --version`, the
README's quickstart and the `gd://` filesystem run from it; the cloud extras resolve;
the runtime dependencies stay the five the project chose."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = {"typer", "rich", "fsspec", "pyyaml", "pygit2"}
EXTRAS = {"s3": {"s3fs"}, "gcs": {"gcsfs"}, "azure": {"adlfs"}, "all": {"s3fs", "gcsfs", "adlfs"}}


def run(*args: str | Path, env: dict[str, str], cwd: Path, timeout: int = 900) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "-w", out, ROOT, env=env, cwd=out)
    (built,) = out.glob("gitdata-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtual environment (no system site-packages) with the wheel installed."""
    where = tmp_path_factory.mktemp("venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run(sys.executable, "-m", "venv", where / "env", env=env, cwd=where)
    bin_dir = where / "env" / "bin"
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    run(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", wheel, env=env, cwd=where)
    return bin_dir, env


def test_the_wheel_holds_the_package_the_hooks_and_the_entry_points(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = email.message_from_bytes(z.read("gitdata-0.1.0.dist-info/METADATA"))
        entry_points = z.read("gitdata-0.1.0.dist-info/entry_points.txt").decode()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    for hook in ("pre-commit", "pre-push", "post-checkout", "post-merge"):
        shipped = f"gitdata/hooks/{hook}"
        assert shipped in names and modes[shipped] & 0o111
        assert z_text(wheel, shipped) == (ROOT / "hooks" / hook).read_text()
    assert {"gitdata/fs.py", "gitdata/cli/main.py", "gitdata/ops/fileread.py"} <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "examples/")) for n in names)
    assert "gd = gitdata.cli.main:run" in entry_points
    assert "[fsspec.specs]" in entry_points and "gd = gitdata.fs:GitDataFileSystem" in entry_points
    requires = meta.get_all("Requires-Dist") or []
    runtime = {_name(r) for r in requires if "extra ==" not in r}
    assert runtime == RUNTIME  # pandas, pyarrow, datasets, dask: tests only
    for extra, wanted in EXTRAS.items():
        got = {_name(r) for r in requires if f'extra == "{extra}"' in r}
        assert got == wanted, extra


def z_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read(name).decode()


def _name(requirement: str) -> str:
    head = requirement.split(";")[0].strip()
    for sep in "<>=!~[ (":
        head = head.split(sep)[0]
    return head.lower()


def test_installed_wheel_runs_gd_the_quickstart_and_gd_urls(venv, tmp_path: Path):
    bin_dir, env = venv
    home = tmp_path / "user"
    home.mkdir()
    env = {**env, "HOME": str(home), "TMPDIR": str(tmp_path)}
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(home / var.lower())
    env.pop("GD_STORAGE", None)
    assert run(bin_dir / "gd", "--version", env=env, cwd=tmp_path).strip() == "gd (gitdata) 0.1.0"
    where = run(
        bin_dir / "python",
        "-c",
        "import gitdata, fsspec; from gitdata.gitio.hooks import shims_folder; "
        "print(gitdata.__file__); print(shims_folder()); "
        "print(fsspec.get_filesystem_class('gd').__module__)",
        env=env,
        cwd=tmp_path,
    ).split()
    assert all(str(bin_dir.parent) in w for w in where[:2]), where  # not this checkout
    assert where[2] == "gitdata.fs"
    out = run("bash", ROOT / "examples/quickstart/quickstart.sh", env=env, cwd=tmp_path)
    assert "== done" in out
    # the installed gd installs the shipped shims
    repo = next(tmp_path.glob("gd-quickstart.*")) / "repo"
    run(bin_dir / "gd", "install-hooks", env=env, cwd=repo)
    assert (repo / ".git/hooks/pre-commit").read_text() == (ROOT / "hooks/pre-commit").read_text()
    got = run(
        bin_dir / "python",
        "-c",
        "import fsspec; print(sorted(fsspec.filesystem('gd').ls('quickstart/flowers', detail=False)))",
        env=env,
        cwd=repo,
    )
    assert "quickstart/flowers/images" in got and "quickstart/flowers/labels" in got


def test_the_cloud_extras_resolve_on_a_clean_environment(venv, wheel: Path, tmp_path: Path):
    bin_dir, env = venv
    for extra, wanted in EXTRAS.items():
        report = tmp_path / f"{extra}.json"
        run(
            bin_dir / "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--dry-run",
            "--ignore-installed",
            "--report",
            report,
            f"{wheel}[{extra}]",
            env=env,
            cwd=tmp_path,
        )
        names = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
        assert wanted <= names and names >= RUNTIME, (extra, sorted(names))
