"""Installing git hook shims without ever clobbering a user's own hooks.

Each shim is a small ``sh`` script, shipped as a plain file in the top-level
``hooks/`` folder (``gitdata/hooks/`` in the wheel) so that users can read exactly
what will run in their repository.  It first runs the user's previous hook, then
``gd hook <name>``.  The user's hook is moved, unchanged, to
``<hooks dir>/pre-gitdata/<name>``: it keeps its own file name, so hooks that
dispatch on ``basename "$0"`` (husky v4, hook multiplexers) still see
``pre-commit``.  Uninstalling removes the shim and moves the user's hook back.
Hooks chained by an older gd (``<name>.pre-gitdata`` beside the shim) are moved
to the folder on install and restored from either place on uninstall.  pre-push
receives the pushed refs on stdin, so the shim buffers stdin and hands it to both.

When gd is not on PATH (the environment is not active), the shims still decide
in plain sh: pre-commit refuses only commits that stage pointer files, pre-push
only when the repository tracks pointer files, and the post-* hooks warn.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

HOOK_NAMES = ("pre-commit", "pre-push", "post-checkout", "post-merge")
MARKER = "# gitdata hook shim"
CHAINED_DIR = "pre-gitdata"  # <hooks dir>/pre-gitdata/<name>: the user's own hook
LEGACY_SUFFIX = ".pre-gitdata"  # <hooks dir>/<name>.pre-gitdata: the layout before


@dataclass
class HookChange:
    """What install/uninstall did to one hook."""

    name: str
    action: str  # installed, updated, chained, removed, restored, unchanged
    path: Path


def hooks_dir(repo) -> Path:
    """The folder git runs hooks from (``core.hooksPath`` or ``.git/hooks``)."""
    try:
        configured = repo.config["core.hooksPath"]
    except KeyError:
        configured = None
    if configured:
        path = Path(os.path.expanduser(configured))
        return path if path.is_absolute() else Path(repo.workdir) / path
    return Path(repo.path) / "hooks"


def shims_folder() -> Path:
    """Where the hook shims are: ``gitdata/hooks/`` in an installed wheel, the
    top-level ``hooks/`` folder of a source checkout (an editable install)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "hooks"
    return installed if installed.is_dir() else package.parent / "hooks"


def shim_text(name: str) -> str:
    """The shell script installed as hook ``name`` (POSIX sh, no bash-isms): the file
    ``hooks/<name>``, as shipped."""
    path = shims_folder() / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"gitdata's hook shim {path} is missing ({exc.strerror}): reinstall gitdata"
        ) from None


def _is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(4096)
    except OSError:
        return False


def missing_hooks(repo, names: tuple[str, ...] = HOOK_NAMES) -> list[str]:
    """The hooks of ``names`` whose file in :func:`hooks_dir` is not gd's shim (a fresh
    clone has none: git never copies hooks)."""
    folder = hooks_dir(repo)
    return [name for name in names if not _is_ours(folder / name)]


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.gd-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, path)


def chained_path(folder: Path, name: str) -> Path:
    """Where the user's own hook ``name`` lives while our shim is installed."""
    return folder / CHAINED_DIR / name


def _move_aside(src: Path, folder: Path, name: str) -> None:
    """Move a user's hook (or an old-layout chained one) to ``pre-gitdata/<name>``."""
    dest = chained_path(folder, name)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"both {src} and {dest} exist; move one of them away and run again")
    dest.parent.mkdir(exist_ok=True)
    if src.is_symlink() and not os.path.isabs(target := os.readlink(src)):
        # a relative link one folder deeper needs one more "..", undone on restore
        os.symlink(f"../{target}", dest)
        src.unlink()
        return
    os.rename(src, dest)  # same folder tree: content, mode and times are kept


def _restore(saved: Path, path: Path) -> None:
    """Put a chained hook back as ``path``, exactly as it was before install."""
    if saved.parent.name == CHAINED_DIR and saved.is_symlink():
        target = os.readlink(saved)
        if target.startswith("../"):
            os.symlink(target[3:], path)
            saved.unlink()
            return
    os.rename(saved, path)


def install_hooks(repo, names: tuple[str, ...] = HOOK_NAMES) -> list[HookChange]:
    """Install shims; a user's existing hook is kept and chained, never overwritten.

    The user's hook moves to ``pre-gitdata/<name>``; one chained by an older gd as
    ``<name>.pre-gitdata`` is moved there too (reported as ``updated``).
    """
    folder = hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    changes = []
    for name in names:
        path = folder / name
        legacy = folder / f"{name}{LEGACY_SUFFIX}"
        text = shim_text(name)
        if path.exists() and not _is_ours(path):
            if legacy.exists():
                raise FileExistsError(
                    f"both {path} and {legacy} exist; move one of them away and run again"
                )
            _move_aside(path, folder, name)
            _write_executable(path, text)
            changes.append(HookChange(name, "chained", path))
            continue
        migrated = False
        if legacy.exists() or legacy.is_symlink():
            _move_aside(legacy, folder, name)
            migrated = True
        if path.exists():
            if path.read_text(encoding="utf-8") == text and not migrated:
                changes.append(HookChange(name, "unchanged", path))
            else:
                _write_executable(path, text)
                changes.append(HookChange(name, "updated", path))
        else:
            _write_executable(path, text)
            changes.append(HookChange(name, "chained" if migrated else "installed", path))
    return changes


def uninstall_hooks(repo, names: tuple[str, ...] = HOOK_NAMES) -> list[HookChange]:
    """Remove our shims and restore, byte for byte, any hook they chained to."""
    folder = hooks_dir(repo)
    changes = []
    for name in names:
        path = folder / name
        chained = chained_path(folder, name)
        legacy = folder / f"{name}{LEGACY_SUFFIX}"
        saved = next((p for p in (chained, legacy) if p.exists() or p.is_symlink()), None)
        if path.exists() and _is_ours(path):
            path.unlink()
            if saved is not None:
                _restore(saved, path)
                changes.append(HookChange(name, "restored", path))
            else:
                changes.append(HookChange(name, "removed", path))
        elif saved is not None and not (path.exists() or path.is_symlink()):
            _restore(saved, path)
            changes.append(HookChange(name, "restored", path))
        else:
            changes.append(HookChange(name, "unchanged", path))
    with contextlib.suppress(OSError):
        (folder / CHAINED_DIR).rmdir()  # only when empty: nothing of the user's is lost
    return changes
