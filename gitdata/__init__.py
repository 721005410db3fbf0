"""gitdata: dataset version control for people who already live in git.

``from gitdata import Dataset`` gives the ClearML-shaped Python API;
``gitdata.open(path, project=, name=, rev=, ...)`` and ``gitdata.read(...)`` read one
file of a version, as ``dvc.api.open`` / ``dvc.api.read`` do; ``gd://`` URLs reach
versions from fsspec-aware tools (``gitdata.fs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__"]

if TYPE_CHECKING:
    from gitdata.api import Dataset
    from gitdata.api import open_version_file as open  # noqa: F401 (typing only)
    from gitdata.api import read_version_file as read  # noqa: F401


def __getattr__(name: str) -> Any:
    # Lazy so that `gd --help` and `import gitdata` stay cheap.
    if name == "Dataset":
        from gitdata.api import Dataset

        return Dataset
    if name == "open":  # not in __all__: a star import must not shadow the builtin
        from gitdata.api import open_version_file

        return open_version_file
    if name == "read":
        from gitdata.api import read_version_file

        return read_version_file
    raise AttributeError(name)
