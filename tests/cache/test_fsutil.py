"""fsutil.clone_into: reflink, else copy_file_range, else reads and writes."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from gitdata.cache import fsutil


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "_broken", set())


def clone(tmp_path: Path, data: bytes) -> bytes:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.write_bytes(data)
    with open(src, "rb") as s, open(dest, "xb") as d:
        fsutil.clone_into(s.fileno(), d.fileno())
    return dest.read_bytes()


def refuse(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


DATA = bytes(range(256)) * 5000


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL])
def test_copy_file_range_refused_falls_back_to_reads_and_writes(tmp_path, monkeypatch, code):
    monkeypatch.setattr(fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    monkeypatch.setattr(os, "copy_file_range", refuse(code))
    assert clone(tmp_path, DATA) == DATA


def test_without_reflinks_copy_file_range_copies(tmp_path, monkeypatch):
    monkeypatch.setattr(fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    calls = []
    real = os.copy_file_range

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "copy_file_range", counting)
    assert clone(tmp_path, DATA) == DATA and calls
    (tmp_path / "empty").mkdir()
    assert clone(tmp_path / "empty", b"") == b""  # an empty file too


def test_a_real_fault_is_not_hidden_by_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    monkeypatch.setattr(os, "copy_file_range", refuse(errno.EIO))
    with pytest.raises(OSError) as info:
        clone(tmp_path, DATA)
    assert info.value.errno == errno.EIO
