"""Where a git remote lives: on this machine, or behind a host name.

git accepts four spellings of a remote (git-push(1), "GIT URLS"): a local path,
``file://`` URLs, ``<scheme>://host/...`` URLs (ssh, git, http(s), ...), the
scp-like ``[user@]host:path`` (only when no slash comes before the first colon),
and ``<transport>::<address>`` for remote helpers.  Only the first two are sure
to be on this machine.
"""

from __future__ import annotations

import os
import re

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def remote_is_on_this_machine(url: str) -> bool:
    """True for a local path or ``file://`` URL; False for anything naming a host."""
    url = url.strip()
    if url.lower().startswith("file://"):
        return True
    if _SCHEME.match(url):
        return False  # ssh://, git://, https://, ... all name a host
    colon = url.find(":")
    slash = url.find("/")
    if colon <= 0 or (slash != -1 and slash < colon):
        return True  # a plain path (a colon after a slash is part of a file name)
    if url[colon : colon + 2] == "::":
        return False  # transport::address, a remote helper
    # scp-like [user@]host:path names a host; on Windows C:\repo or C:/repo is a drive
    return os.name == "nt" and colon == 1 and url[0].isalpha()
