"""Name the local disk behind an ``OSError``: the cache's full disk is not "the store".

Low layers only attach the path they were writing (``errors.os_errors_name``);
this module, at the API boundary, tells from that path whose folder it is, by the
markers gd leaves in what it owns: the cache's marker, a folder store's marker, a
get target's tree marker or its staging folder, and the state folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitdata.cache.owned import CACHE_MARKER
from gitdata.config import default_state_dir
from gitdata.errors import (
    DISK_FAILING_ERRNOS,
    DISK_FULL_ERRNOS,
    UNWRITABLE_ERRNOS,
    GitDataError,
    local_disk_error,
)
from gitdata.ops.scratch import STAGING_TAG
from gitdata.ops.target import MARKER_NAME
from gitdata.storage.keys import MARKER_KEY

_STAGING = re.compile(rf"^\.(?P<name>.+){re.escape(STAGING_TAG)}[^/]*$")
_EXPLAINED = DISK_FULL_ERRNOS | DISK_FAILING_ERRNOS | UNWRITABLE_ERRNOS
_ELSEWHERE = {
    "the cache": "shrink the cache (gd cache prune --max-size SIZE) or point GD_CACHE_DIR "
    "at a folder on another disk",
    "gd's state folder": "point XDG_STATE_HOME at a folder on another disk",
    "the store": "remove what no commit needs (gd gc), or use another store",
    "the get target": "get into a folder on another disk",
}


def _role_of(path: Path) -> tuple[str, Path]:
    """Whose folder ``path`` lies in, and that folder's root."""
    state = default_state_dir()
    for folder in (path, *path.parents):
        staging = _STAGING.match(folder.name)
        if staging:
            return "the get target", folder.parent / staging.group("name")
        if folder == state:
            return "gd's state folder", folder
        try:
            if (folder / CACHE_MARKER).is_file():
                return "the cache", folder
            if (folder / MARKER_KEY).is_file():
                return "the store", folder
            if (folder / MARKER_NAME).is_file():
                return "the get target", folder
        except OSError:
            continue
    return "the folder", path


def explain_os_error(exc: OSError) -> GitDataError | None:
    """A one-line gitdata error for a disk fault (full, failing, unwritable) with a file
    name; ``None`` for anything else, which stays what it is."""
    if isinstance(exc, GitDataError) or exc.filename is None:
        return None
    if exc.errno not in _EXPLAINED:
        return None
    path = Path(os.path.abspath(os.fsdecode(exc.filename)))
    role, root = _role_of(path)
    if exc.errno in UNWRITABLE_ERRNOS and role == "the folder":
        return None  # a read may fail the same way: only gd's own folders are named
    return local_disk_error(exc, role, root, elsewhere=_ELSEWHERE.get(role))
