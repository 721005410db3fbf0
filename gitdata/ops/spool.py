"""Content captured when it is added: spool chunks in a local store's ``tmp/``.

``gd add`` and ``gd sync`` read every new file whole to hash it.  For a draft whose
store is a local folder, those bytes are packed there and then, into chunks of the
store's format written under the store's ``tmp/`` (on the store's filesystem), and
the draft records which content each holds (docs/format.md §10).  The upload then
publishes such a chunk by a rename, after checking its size and hash, instead of
reading every file a second time; the version holds exactly the bytes that were
hashed.  A spool chunk is used only whole: when any of its contents is no longer
wanted (removed from the draft, found stored elsewhere) or the chunk is missing or
damaged, its files are packed from their sources as before, and the chunk removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gitdata.core.zipchunk import ChunkWriter
from gitdata.errors import GitDataError
from gitdata.ops.context import Context
from gitdata.ops.draftdb import DbChanges, SpoolChunk
from gitdata.ops.state import Draft
from gitdata.storage.opener import store_protocol
from gitdata.storage.transfer import track_scratch, untrack_scratch

PREFIX = "spool-"
_NAME = re.compile(r"spool-[0-9a-f]{32}-[0-9a-f]{16}\.zip")
_BUFFER = 1 << 20


def is_spool_name(name: str) -> bool:
    """Whether ``name`` is one a spool chunk gets (nothing else is ever removed as one)."""
    return _NAME.fullmatch(name) is not None


def spool_path(folder: Path, name: str) -> Path:
    """Where the spool chunk ``name`` lives in the store's staging ``folder``."""
    if not is_spool_name(name):
        raise ValueError(f"not a spool chunk name: {name!r}")
    return folder / name


@dataclass
class Spool:
    """The spool chunks one command writes for one draft: content in, chunks out.

    ``keep`` packs one content (once per command); a chunk is closed when it reaches
    ``target`` bytes.  :meth:`finish` closes the last and returns every chunk for the
    draft to record; :meth:`discard` removes what was written (a failed command).
    """

    folder: Path
    draft_id: str
    target: int
    compression: str
    chunks: list[SpoolChunk] = field(default_factory=list)
    record: Callable[[SpoolChunk], object] | None = None
    failed: bool = False
    _seen: set[str] = field(default_factory=set)
    _writer: ChunkWriter | None = None
    _out: BinaryIO | None = None
    _name: str = ""
    _members: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    _written: list[Path] = field(default_factory=list)

    def keep(self, sha256: str, data: bytes) -> None:
        """Pack ``data`` (already hashed to ``sha256`` by the caller).  A write that
        fails (the store's disk is full) ends the spool, not the command: what it
        wrote is removed and the upload reads the sources."""
        if self.failed or sha256 in self._seen:
            return
        self._seen.add(sha256)
        try:
            writer = self._writer or self._open()
            info = writer.add_bytes(data, sha256, hashed=True)
            self._members[sha256] = (info.offset, info.length, info.method)
            if info.offset + info.length >= self.target:
                self._close_chunk()
        except OSError:
            self.failed = True
            self.discard()

    def _open(self) -> ChunkWriter:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._name = f"{PREFIX}{self.draft_id}-{secrets.token_hex(8)}.zip"
        path = spool_path(self.folder, self._name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        track_scratch(str(path))  # removed if the command is killed while writing it
        self._written.append(path)
        self._out = os.fdopen(fd, "wb", buffering=_BUFFER)
        self._writer = ChunkWriter(self._out, self.compression)
        return self._writer

    def _close_chunk(self) -> None:
        writer, out = self._writer, self._out
        assert writer is not None and out is not None
        self._writer = self._out = None
        size = writer.close()
        out.close()
        assert writer.sha256 is not None  # only whole members: nothing was patched
        chunk = SpoolChunk(
            self._name, writer.sha256, size, self.compression, self.target, dict(self._members)
        )
        self._members.clear()
        # recorded as it is closed (in the command's open transaction), so memory holds
        # one chunk's members, not the command's; a content a later chunk holds again
        # makes that chunk unpublishable (its member count), never stored twice
        self._seen.clear()
        if self.record is not None:
            self.record(chunk)
        else:
            self.chunks.append(chunk)

    def finish(self) -> list[SpoolChunk]:
        """Close the open chunk; every chunk written, for the draft to record."""
        if self._writer is not None:
            try:
                self._close_chunk()
            except OSError:
                self.failed = True
                self.discard()
        if self.failed:
            return []
        for path in self._written:
            untrack_scratch(str(path))  # the draft refers to them from now on
        return self.chunks

    def discard(self) -> None:
        """Remove every chunk this spool wrote."""
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
        self._writer = self._out = None
        for path in self._written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            untrack_scratch(str(path))
        self._written.clear()


def remove_spools(folder: Path | None, changes: DbChanges, names: Iterable[str]) -> None:
    """Forget the spool chunks ``names`` and remove their files from ``folder``."""
    names = list(names)
    if not names:
        return
    changes.drop_spools(names)
    if folder is None:
        return
    for name in names:
        if is_spool_name(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path(folder, name))


def open_spool(ctx: Context, draft: Draft) -> Spool | None:
    """A spool for one command on ``draft``, when its store is a local folder and the
    draft a database (else None: the upload reads the sources, as for object stores).
    A store that cannot be opened gives None too: the add goes on without a spool."""
    if not isinstance(draft.files.changed, DbChanges):
        return None
    url = draft.storage or ctx.settings.storage
    if store_protocol(url) != "file":
        return None
    try:
        folder = ctx.store_for_writing(url).staging_dir()
    except (GitDataError, OSError):
        return None
    if folder is None:
        return None
    changes = draft.files.changed
    return Spool(
        folder,
        draft.id,
        ctx.settings.chunk_size,
        ctx.settings.compression,
        record=lambda chunk: changes.add_spools([chunk]),
    )


@contextlib.contextmanager
def spooling(ctx: Context, draft: Draft) -> Iterator[Spool | None]:
    """A spool for the block's command: its chunks are recorded in the draft when the
    block ends normally, and removed when it raises."""
    spool = open_spool(ctx, draft)
    try:
        yield spool
    except BaseException:
        if spool is not None:
            spool.discard()
        raise
    if spool is not None:
        chunks = spool.finish()
        if chunks:
            changes = draft.files.changed
            assert isinstance(changes, DbChanges)
            try:
                changes.add_spools(chunks)
            except BaseException:
                spool.discard()
                raise


def discard_spools(ctx: Context, draft_id: str) -> None:
    """Remove the spool chunks of a draft being discarded (before its file goes: its
    store is read from it).  Only files named as this draft's spool chunks, in its
    local store's tmp/ folder, are removed; a symlink is never followed."""
    url = ctx.state.draft_storage(draft_id) or ctx.settings.storage
    if store_protocol(url) != "file":
        return
    path = url.partition("://")[2] if "://" in url else url
    remove_draft_spools(Path(os.path.abspath(os.path.expanduser(path))) / "tmp", draft_id)


def remove_draft_spools(folder: Path, draft_id: str) -> None:
    """Remove every file in ``folder`` named as a spool chunk of ``draft_id``: those
    recorded and those a killed command left.  The caller holds the draft's lock (or
    the draft is gone), so no command is writing one."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(f"{PREFIX}{draft_id}-") and is_spool_name(name):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(folder / name)
