"""The data sets of compare_dvc.py, their changes, and the physical floors.

Every byte comes from ``random.Random`` seeded with the set, the file's index and
its generation, so two runs (and two tools) see the same files. The floors use the
standard library only: what the disk and one core need for the same work.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = "gitdata-compare-dvc"
KIB = 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class DataSet:
    """``files`` files of ``size`` bytes spread over ``folders`` folders;
    ``changes`` files are modified (and as many added and deleted) per increment."""

    key: str
    title: str
    files: int
    size: int
    folders: int
    changes: int

    @property
    def per_folder(self) -> int:
        """Files per folder (the last folder may hold fewer)."""
        return -(-self.files // self.folders)

    def path(self, index: int) -> str:
        """The dataset path of file ``index``."""
        return f"d{index // self.per_folder:04d}/f{index:07d}.bin"

    def content(self, index: int, generation: int = 0) -> bytes:
        """File ``index``'s bytes at ``generation`` (0: as first written)."""
        rng = random.Random(f"{SEED}:{self.key}:{index}:{generation}")
        return rng.randbytes(self.size)


def data_sets(scale: float) -> dict[str, DataSet]:
    """Sets a, b and c at ``scale`` (1.0: 20,000 x 4 KiB; 8 x 64 MiB; 1,000,000 x 256 B)."""

    def count(n: int) -> int:
        return max(1, round(n * scale))

    a_files = max(4, count(20_000))
    c_files = max(4, count(1_000_000))
    return {
        "a": DataSet("a", "small files", a_files, 4 * KIB, min(100, a_files), count(100)),
        "b": DataSet("b", "large files", 8, max(KIB, round(64 * MIB * scale)), 1, 1),
        "c": DataSet(
            "c", "a million small files, gd alone", c_files, 256, min(1000, c_files), count(1000)
        ),
    }


def write_set(root: Path, spec: DataSet) -> None:
    """Write every file of ``spec`` under ``root``."""
    for index in range(spec.files):
        target = root / spec.path(index)
        if index % spec.per_folder == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(spec.content(index))


def walk(root: Path) -> Iterator[os.DirEntry[str]]:
    """Every regular file under ``root`` (scandir, sorted per folder)."""
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield entry


def count_files(root: Path, skip: str = "") -> tuple[int, int]:
    """How many files lie under ``root`` and their bytes (names equal to ``skip`` left out)."""
    files = size = 0
    for entry in walk(root):
        if entry.name != skip:
            files += 1
            size += entry.stat(follow_symlinks=False).st_size
    return files, size


@dataclass(frozen=True)
class Increment:
    """The paths one increment modified, deleted and added (dataset paths)."""

    modified: list[str]
    deleted: list[str]
    added: list[str]


def increment(root: Path, spec: DataSet, step: int) -> Increment:
    """Modify ``spec.changes`` files, delete as many and add as many new ones."""
    current = sorted(os.path.relpath(e.path, root) for e in walk(root))
    k = min(spec.changes, len(current) // 2)
    picked = random.Random(f"{SEED}:{spec.key}:increment:{step}").sample(current, 2 * k)
    modified, deleted = picked[:k], picked[k:]
    for rel in modified:
        (root / rel).write_bytes(_fresh(spec, f"m{step}:{rel}"))
    for rel in deleted:
        (root / rel).unlink()
    added = [f"d{j % spec.folders:04d}/new{step}-{j:05d}.bin" for j in range(k)]
    for rel in added:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(_fresh(spec, f"a{step}:{rel}"))
    return Increment(modified, deleted, added)


def _fresh(spec: DataSet, label: str) -> bytes:
    return random.Random(f"{SEED}:{spec.key}:{label}").randbytes(spec.size)


def chosen(spec: DataSet, distribution: str) -> list[int]:
    """The indices a child changes: ``clustered`` (one folder's files, the middle
    folder) or ``scattered`` (every files/changes-th file)."""
    if distribution == "clustered":
        first = (spec.folders // 2) * spec.per_folder
        return list(range(first, min(spec.files, first + spec.changes)))
    if distribution == "scattered":
        step = max(1, spec.files // spec.changes)
        return list(range(0, spec.files, step))[: spec.changes]
    raise ValueError(f"unknown distribution {distribution!r}")


def rewrite(root: Path, spec: DataSet, indices: list[int], generation: int) -> None:
    """Write files ``indices`` at ``generation`` (0 puts the original bytes back)."""
    for index in indices:
        (root / spec.path(index)).write_bytes(spec.content(index, generation))


# -- floors: the same work with the standard library only ---------------------


def floor_scan(root: Path) -> int:
    """scandir + stat of every file (what a status or a listing must at least touch)."""
    files = 0
    for entry in walk(root):
        entry.stat(follow_symlinks=False)
        files += 1
    return files


def floor_hash(root: Path) -> list[tuple[str, int]]:
    """Read and SHA-256 every file; its paths and sizes in walk order."""
    layout = []
    for entry in walk(root):
        with open(entry.path, "rb") as fh:
            data = fh.read()
        hashlib.sha256(data).digest()
        layout.append((os.path.relpath(entry.path, root), len(data)))
    return layout


def floor_pack(root: Path, pack: Path, paths: list[str] | None = None) -> list[tuple[str, int]]:
    """Read, hash and write every file (or ``paths``) once into the one file ``pack``."""
    names = paths if paths is not None else [os.path.relpath(e.path, root) for e in walk(root)]
    layout = []
    with open(pack, "wb") as out:
        for rel in names:
            with open(root / rel, "rb") as fh:
                data = fh.read()
            hashlib.sha256(data).digest()
            out.write(data)
            layout.append((rel, len(data)))
    return layout


def floor_unpack(pack: Path, layout: list[tuple[str, int]], dest: Path) -> None:
    """Create the files of ``layout`` under ``dest`` from the one file ``pack``."""
    made: set[Path] = set()
    with open(pack, "rb") as fh:
        for rel, size in layout:
            target = dest / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            data = fh.read(size)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


def floor_link(source: Path, layout: list[tuple[str, int]], dest: Path) -> None:
    """Hardlink every file of ``layout`` from ``source`` into ``dest``."""
    made: set[Path] = set()
    for rel, _ in layout:
        target = dest / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        os.link(source / rel, target)


def floor_increment(root: Path, changed: list[str], pack: Path) -> None:
    """Stat the whole tree, then read, hash and pack only the ``changed`` files."""
    floor_scan(root)
    floor_pack(root, pack, changed)


def floor_cat(path: Path) -> int:
    """Read one file."""
    with open(path, "rb") as fh:
        return len(fh.read())
