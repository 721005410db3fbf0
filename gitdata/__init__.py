"""gitdata: dataset version control for people who already live in git.

``from gitdata import Dataset`` gives the ClearML-shaped Python API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__"]

if TYPE_CHECKING:
    from gitdata.api import Dataset


def __getattr__(name: str) -> Any:
    # Lazy so that `gd --help` and `import gitdata` stay cheap.
    if name == "Dataset":
        from gitdata.api import Dataset

        return Dataset
    raise AttributeError(name)
