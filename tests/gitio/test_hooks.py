"""Hook chaining: a user's hook keeps its own file name, and comes back byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gitdata.gitio.hooks import MARKER, install_hooks, uninstall_hooks
from gitdata.gitio.repo import find_repo

ROOT = Path(__file__).resolve().parents[2]
# a hook multiplexer in the style of husky v4: it acts on the name it runs under
DISPATCHING_HOOK = b"""#!/bin/sh
case "$(basename "$0")" in
  pre-commit) echo "user pre-commit refuses" >&2; exit 1;;
esac
exit 0
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env())


def commit(repo: Path) -> subprocess.CompletedProcess:
    (repo / "f.txt").write_text(uuid.uuid4().hex)  # always something to commit
    assert run(repo, "git", "add", "f.txt").returncode == 0
    return run(repo, "git", "commit", "-qm", "change")


def write_hook(path: Path, data: bytes, mode: int = 0o751) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def test_dispatching_user_hook_still_blocks_after_init_and_uninstall_restores_it(
    repo: Path, tmp_path: Path
):
    hook = repo / ".git/hooks/pre-commit"
    write_hook(hook, DISPATCHING_HOOK)
    before = os.stat(hook)
    assert commit(repo).returncode != 0  # the user's hook alone refuses
    r = run(repo, sys.executable, "-m", "gitdata", "init", "--storage", str(tmp_path / "store"))
    assert r.returncode == 0, r.stderr
    assert MARKER in hook.read_text()
    assert (repo / ".git/hooks/pre-gitdata/pre-commit").read_bytes() == DISPATCHING_HOOK
    r = commit(repo)
    assert r.returncode != 0 and "user pre-commit refuses" in r.stderr
    r = run(repo, sys.executable, "-m", "gitdata", "install-hooks", "--uninstall")
    assert r.returncode == 0, r.stderr
    assert hook.read_bytes() == DISPATCHING_HOOK
    after = os.stat(hook)
    assert (after.st_mode, after.st_mtime_ns, after.st_ino) == (
        before.st_mode,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert not (repo / ".git/hooks/pre-gitdata").exists()
    assert commit(repo).returncode != 0


def test_pre_push_user_hook_gets_its_name_and_the_refs(repo: Path, tmp_path: Path):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    assert run(repo, "git", "remote", "add", "origin", str(bare)).returncode == 0
    log = tmp_path / "seen.txt"
    write_hook(
        repo / ".git/hooks/pre-push",
        f'#!/bin/sh\n{{ basename "$0"; cat; }} > "{log}"\n'.encode(),
    )
    install_hooks(find_repo(repo).repo)
    assert commit(repo).returncode == 0
    r = run(repo, "git", "push", "-q", "origin", "main")
    assert r.returncode == 0, r.stderr
    seen = log.read_text().splitlines()
    assert seen[0] == "pre-push" and seen[1].startswith("refs/heads/main ")


def test_hooks_chained_by_the_old_layout_are_migrated(repo: Path):
    hooks = repo / ".git/hooks"
    legacy = hooks / "pre-commit.pre-gitdata"
    write_hook(legacy, DISPATCHING_HOOK, 0o700)
    write_hook(
        hooks / "pre-commit",
        f'#!/bin/sh\n{MARKER} (pre-commit)\n"$(dirname "$0")/pre-commit.pre-gitdata" "$@"\n'.encode(),
    )
    pygit = find_repo(repo).repo
    actions = {c.name: c.action for c in install_hooks(pygit)}
    assert actions["pre-commit"] == "updated" and actions["pre-push"] == "installed"
    assert not legacy.exists()
    assert (hooks / "pre-gitdata/pre-commit").read_bytes() == DISPATCHING_HOOK
    assert "user pre-commit refuses" in commit(repo).stderr
    assert {c.name: c.action for c in install_hooks(pygit)}["pre-commit"] == "unchanged"
    actions = {c.name: c.action for c in uninstall_hooks(pygit)}
    assert actions["pre-commit"] == "restored"
    assert (hooks / "pre-commit").read_bytes() == DISPATCHING_HOOK
    assert (hooks / "pre-commit").stat().st_mode & 0o777 == 0o700


def test_uninstall_restores_an_old_layout_chain(repo: Path):
    hooks = repo / ".git/hooks"
    write_hook(hooks / "pre-commit.pre-gitdata", DISPATCHING_HOOK)
    write_hook(hooks / "pre-commit", f"#!/bin/sh\n{MARKER} (pre-commit)\n".encode())
    actions = {c.name: c.action for c in uninstall_hooks(find_repo(repo).repo)}
    assert actions["pre-commit"] == "restored"
    assert (hooks / "pre-commit").read_bytes() == DISPATCHING_HOOK


def test_relative_symlink_hook_still_resolves_and_comes_back_unchanged(repo: Path):
    scripts = repo / "scripts"
    scripts.mkdir()
    write_hook(scripts / "pre-commit", DISPATCHING_HOOK)
    hook = repo / ".git/hooks/pre-commit"
    os.symlink("../../scripts/pre-commit", hook)
    pygit = find_repo(repo).repo
    install_hooks(pygit)
    assert "user pre-commit refuses" in commit(repo).stderr
    uninstall_hooks(pygit)
    assert os.readlink(hook) == "../../scripts/pre-commit"


def test_both_layouts_present_refuses_and_changes_nothing(repo: Path):
    hooks = repo / ".git/hooks"
    write_hook(hooks / "pre-commit", b"#!/bin/sh\nexit 0\n")
    write_hook(hooks / "pre-commit.pre-gitdata", DISPATCHING_HOOK)
    with pytest.raises(FileExistsError, match="move one of them away"):
        install_hooks(find_repo(repo).repo, ("pre-commit",))
    assert (hooks / "pre-commit").read_bytes() == b"#!/bin/sh\nexit 0\n"
    assert (hooks / "pre-commit.pre-gitdata").read_bytes() == DISPATCHING_HOOK
    assert not (hooks / "pre-gitdata").exists()


def test_the_installed_shims_are_the_files_in_hooks(repo: Path):
    """What runs in a repository is exactly the readable scripts in hooks/."""
    from gitdata.gitio.hooks import HOOK_NAMES, shims_folder
    from gitdata.gitio.pointer import POINTER_DIR

    assert shims_folder() == ROOT / "hooks"  # a checkout (the wheel has gitdata/hooks)
    install_hooks(find_repo(repo).repo)
    for name in HOOK_NAMES:
        shipped = ROOT / "hooks" / name
        installed = repo / ".git/hooks" / name
        assert installed.read_bytes() == shipped.read_bytes()
        assert os.access(shipped, os.X_OK) and os.access(installed, os.X_OK)
        text = shipped.read_text()
        assert text.startswith("#!/bin/sh\n") and MARKER in text and f"hook {name}" in text
        if name in ("pre-commit", "pre-push"):
            assert POINTER_DIR in text  # the no-gd fallback looks where pointers live


def test_core_hooks_path_husky_style_gets_the_shims_and_keeps_the_users_hook(
    repo: Path, tmp_path: Path
):
    """A repository whose hooks live in a committed folder (husky: core.hooksPath
    .husky): the shims go there, the user's hook is chained, .git/hooks is untouched."""
    husky = repo / ".husky"
    husky.mkdir()
    assert run(repo, "git", "config", "core.hooksPath", ".husky").returncode == 0
    ran = tmp_path / "user-hook-ran"
    user = f'#!/bin/sh\necho "$(basename "$0")" >> "{ran}"\n'.encode()
    write_hook(husky / "pre-commit", user)
    before_git_hooks = sorted(p.name for p in (repo / ".git/hooks").iterdir())
    r = run(repo, sys.executable, "-m", "gitdata", "install-hooks")
    assert r.returncode == 0, r.stderr
    assert MARKER in (husky / "pre-commit").read_text()
    assert (husky / "pre-gitdata" / "pre-commit").read_bytes() == user
    assert (husky / "post-merge").is_file()
    assert sorted(p.name for p in (repo / ".git/hooks").iterdir()) == before_git_hooks
    assert commit(repo).returncode == 0
    assert ran.read_text() == "pre-commit\n"  # the user's hook ran under its own name
    # gd's check runs too: a broken pointer staged is refused
    bad = repo / ".gitdata/datasets/p/n.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("not: a pointer\n")
    assert run(repo, "git", "add", str(bad)).returncode == 0
    refused = run(repo, "git", "commit", "-qm", "bad")
    assert refused.returncode != 0 and "pointer" in refused.stderr
    r = run(repo, sys.executable, "-m", "gitdata", "install-hooks", "--uninstall")
    assert r.returncode == 0, r.stderr
    assert (husky / "pre-commit").read_bytes() == user
    assert sorted(p.name for p in husky.iterdir()) == ["pre-commit"]
