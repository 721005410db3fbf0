"""Every failure a user can cause, as one exception hierarchy.

Each error subclasses :class:`GitDataError` and the builtin it resembles, so
callers can catch either.  Each carries structured fields, a one-line message,
an optional hint, and the CLI exit code it maps to (see docs/cli.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from typing import Any

# Exit codes, one per failure family.  docs/cli.md documents this table.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INVALID = 4
EXIT_INTEGRITY = 5
EXIT_STORAGE = 6
EXIT_PERMISSION = 7
EXIT_CONFLICT = 8
EXIT_VERIFY_FAILED = 9


# ------------------------------------------------------------------ URL masking
#
# Credentials a user put into a URL never reach a message: the password of
# ``scheme://user:password@host``, a lone ``scheme://TOKEN@host`` (but not Azure's
# ``container@account``), and every query value (``?sv=...&sig=...``, an Azure
# SAS) are shown as ``***``.  One function does it for every message gd shows
# (docs/storage.md).

_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*)://([^\s'\"<>`]*)")
_MASK = "***"
_AZURE_SCHEMES = frozenset({"az", "azure", "abfs", "abfss", "adl", "wasb", "wasbs"})


def _mask_one(scheme: str, rest: str) -> str:
    trail = re.search(r"[:;,.)\]]*$", rest)
    end = rest[trail.start() :] if trail else ""
    rest = rest[: len(rest) - len(end)]
    query = ""
    if "?" in rest:
        rest, _, query = rest.partition("?")
    # the last '@': a password may hold '@' or '/' (masking too much is the safe side)
    head, at, tail = rest.rpartition("@")
    if at:
        user, colon, password = head.partition(":")
        if colon and "/" not in user and not re.fullmatch(r"\d*(/.*)?", password):
            rest = f"{user}:{_MASK}@{tail}"  # user:password@ (a password may hold a '/')
        elif not colon and "/" not in head and scheme.lower() not in _AZURE_SCHEMES:
            rest = f"{_MASK}@{tail}"  # https://TOKEN@host (Azure's container@account is kept)
    if query:
        fields = [f.partition("=") for f in query.split("&")]
        rest += "?" + "&".join(f"{k}={_MASK}" if eq else (_MASK if k else k) for k, eq, _ in fields)
    return f"{scheme}://{rest}{end}"


def mask_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it masked (``***``).

    ``s3://KEY:SECRET@bucket/x`` -> ``s3://KEY:***@bucket/x``,
    ``az://c/p?se=2030&sig=abc`` -> ``az://c/p?se=***&sig=***``,
    ``https://TOKEN@host/x`` -> ``https://***@host/x`` (Azure's
    ``abfs://container@account...`` is kept).  Text without ``://``
    is returned unchanged.
    """
    if "://" not in text:
        return text
    return _URL.sub(lambda m: _mask_one(m.group(1), m.group(2)), text)


class GitDataError(Exception):
    """Base class: a failure with a clear one-line message and an exit code.

    The message and hint never carry URL credentials (:func:`mask_credentials`).
    ``hint`` is written for the Python API; ``cli_hint``, when given, says the same
    with gd's commands and flags, and is what the CLI shows instead.
    """

    exit_code: int = EXIT_INTERNAL

    def __init__(
        self, message: str, *, hint: str | None = None, cli_hint: str | None = None, **fields: Any
    ) -> None:
        message = mask_credentials(message)
        hint = mask_credentials(hint) if hint else hint
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.cli_hint = mask_credentials(cli_hint) if cli_hint else cli_hint
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form used by ``--json`` error output."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        for key, value in self.fields.items():
            if isinstance(value, list):
                out[key] = [mask_credentials(v) if isinstance(v, str) else v for v in value]
            elif isinstance(value, (int, float, bool, type(None))):
                out[key] = value
            else:
                out[key] = mask_credentials(str(value))
        return out


class NotFoundError(GitDataError, LookupError):
    """Something named by the user does not exist."""

    exit_code = EXIT_NOT_FOUND


class DatasetNotFoundError(NotFoundError):
    """No dataset version matches the id or project/name/version given."""


class LocalPathNotFoundError(NotFoundError, FileNotFoundError):
    """A local file or folder named on the command line does not exist."""


class InvalidInputError(GitDataError, ValueError):
    """An argument or combination of arguments that cannot be acted on."""

    exit_code = EXIT_INVALID


class AmbiguousIdError(InvalidInputError):
    """A short id (a prefix) names more than one version or draft; ``candidates``
    holds the first few, ``matches`` how many there are."""


class UnsupportedArgumentError(GitDataError, NotImplementedError):
    """A ClearML argument gitdata cannot honour, where going on without it would mislead."""

    exit_code = EXIT_INVALID


class UnsafePathError(InvalidInputError):
    """A path that is absolute, contains ``..`` or NUL, or escapes its root."""


class DatasetStateError(GitDataError, PermissionError):
    """The operation does not fit the version's state (e.g. adding to a closed version)."""

    exit_code = EXIT_INVALID


class SourceChangedError(GitDataError, RuntimeError):
    """A local file changed between ``add`` and ``upload``."""

    exit_code = EXIT_INVALID


class LocalPathUnreadableError(GitDataError, PermissionError):
    """A local file or folder to add (or upload) cannot be read: permissions or I/O."""

    exit_code = EXIT_INVALID


class FormatError(GitDataError, ValueError):
    """A record, manifest, pointer or config file is malformed."""

    exit_code = EXIT_INTEGRITY


class IntegrityError(GitDataError, ValueError):
    """Content does not match its hash, or an object a version needs is missing."""

    exit_code = EXIT_INTEGRITY


class StorageUnavailableError(GitDataError, ConnectionError):
    """The store cannot be reached or answered with an I/O failure."""

    exit_code = EXIT_STORAGE


class StorageThrottledError(StorageUnavailableError):
    """The store kept asking us to slow down (HTTP 429/503) after every retry."""


class StoragePermissionError(GitDataError, PermissionError):
    """The store refused access (credentials or permissions)."""

    exit_code = EXIT_PERMISSION


class StorageCredentialsError(StoragePermissionError):
    """The store rejected the credentials, or none were found."""


class ConflictError(GitDataError):
    """The operation would clobber or orphan something (non-empty target, dependents)."""

    exit_code = EXIT_CONFLICT


class TargetNotEmptyError(ConflictError, FileExistsError):
    """A target folder is not empty and ``overwrite`` was not given."""


class HasDependentsError(ConflictError):
    """A version cannot be deleted because other versions name it as a parent."""


class MergeConflictError(ConflictError):
    """Both sides of a merge changed the same paths differently; nothing was guessed.

    Fields: ``paths`` (every conflicted dataset path, sorted) and ``conflicts``
    (dicts with path, kind, base, ours, theirs hashes).
    """


class PinnedVersionError(ConflictError):
    """A version cannot be deleted because a git ref (or the index, or the working tree)
    pins it or a version built on it; ``pinned_by`` names them, ``paths`` the pointers."""


class PublishedVersionError(ConflictError):
    """A published version (``gd publish``) cannot be deleted without ``force``."""


class StoreLockedError(ConflictError):
    """Another process holds a conflicting lock on the store (docs/format.md §11):
    ``holders`` describes them, ``locks`` gives their keys."""


class VerificationFailedError(GitDataError):
    """A local folder does not match a version; ``bad_files`` lists the offenders."""

    exit_code = EXIT_VERIFY_FAILED


class NotARepositoryError(NotFoundError):
    """The command needs a git repository and none was found."""


class ObjectNotFoundError(NotFoundError):
    """A key asked of the store does not exist there; ``key`` names it."""


class ExternalFileNotFoundError(NotFoundError):
    """An external file's URL (``gd add --links``) names nothing; ``url`` names it."""


class ExternalFileChangedError(IntegrityError):
    """An external file no longer holds the content recorded when it was added
    (its size or sha256 differ, or it is gone); ``url`` and ``path`` name it."""


class BucketNotFoundError(NotFoundError):
    """The bucket or container a store URL names does not exist; ``bucket`` names it."""


class StoreNotFoundError(NotFoundError):
    """A command that only reads named a store that does not exist; ``store`` names it.

    Reads never create a store (docs/format.md section 1): only writing commands do.
    """


class MissingDependencyError(GitDataError, ImportError):
    """An optional package (e.g. a cloud fsspec backend) is not installed."""

    exit_code = EXIT_INVALID


EXIT_HOOK_REFUSED = 10


class HookRefusedError(GitDataError):
    """A git hook found problems (``problems`` lists them); git aborts the operation."""

    exit_code = EXIT_HOOK_REFUSED


EXIT_LOCAL_DISK = 11


class LocalDiskError(GitDataError, OSError):
    """A local disk gd writes to is full, over quota or failing (``role`` says which:
    the cache, the state folder, a get target, a folder store); ``mount`` names the
    filesystem."""

    exit_code = EXIT_LOCAL_DISK


class LocalPathUnwritableError(GitDataError, PermissionError):
    """A local folder gd was asked to write into cannot be written: permissions, a
    read-only filesystem, or a place no file can be made (``/proc``)."""

    exit_code = EXIT_INVALID


# errno values that mean "this disk cannot take what gd writes", whoever the writer is
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DISK_FAILING_ERRNOS = frozenset({errno.EIO})
UNWRITABLE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EINVAL}
)


@contextlib.contextmanager
def os_errors_name(path: str | os.PathLike[str]) -> Iterator[None]:
    """Give an ``OSError`` raised inside (a ``write`` on an open file carries no file
    name) the path being written, so the boundary that explains it can say which disk."""
    try:
        yield
    except GitDataError:
        raise
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc
        raise


def mount_point(path: str | os.PathLike[str]) -> str:
    """The mount point of the filesystem holding ``path`` (its nearest existing ancestor)."""
    p = os.path.abspath(os.fspath(path))
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    try:
        dev = os.stat(p).st_dev
        while os.path.dirname(p) != p and os.stat(os.path.dirname(p)).st_dev == dev:
            p = os.path.dirname(p)
    except OSError:
        pass
    return p


def local_disk_error(
    exc: OSError, role: str, where: str | os.PathLike[str], *, elsewhere: str | None = None
) -> GitDataError:
    """The gitdata error for ``exc`` raised while writing ``where``, which belongs to
    ``role`` ("the cache", "a get target", ...); ``exc`` itself when it is not a disk
    fault gd can name.  ``elsewhere`` says how to move that folder to another disk."""
    where = os.fspath(where)
    mount = mount_point(where)
    reason = exc.strerror or str(exc)
    fields: dict[str, Any] = {"path": where, "mount": mount, "role": role, "errno": exc.errno}
    if exc.errno in DISK_FULL_ERRNOS:
        return LocalDiskError(
            f"the disk holding {role} is full ({reason}): {where} is on the filesystem "
            f"mounted at {mount}",
            hint=f"free space on {mount}, or {elsewhere or 'use a folder on another disk'}",
            **fields,
        )
    if exc.errno in DISK_FAILING_ERRNOS:
        return LocalDiskError(
            f"the disk holding {role} failed ({reason}) writing {where} (filesystem "
            f"mounted at {mount})",
            hint="check the disk (dmesg, fsck); nothing was changed",
            **fields,
        )
    if exc.errno in UNWRITABLE_ERRNOS:
        return LocalPathUnwritableError(
            f"cannot write {role} {where}: {reason}",
            hint="choose a folder you can write on a normal filesystem",
            **fields,
        )
    return LocalDiskError(f"cannot write {role} {where}: {reason}", **fields)
