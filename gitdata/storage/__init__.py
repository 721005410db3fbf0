"""Object storage behind one small interface (fsspec underneath, imported lazily)."""

from gitdata.storage.fsstore import FsspecStore, Store
from gitdata.storage.keys import object_key, version_key
from gitdata.storage.opener import open_store
from gitdata.storage.transfer import run_parallel

__all__ = ["FsspecStore", "Store", "object_key", "open_store", "run_parallel", "version_key"]
