"""The local cache: content-addressed blobs, read-only copies, byte budget, stat cache."""

from gitdata.cache.local import CacheUsage, LocalCache, PruneReport
from gitdata.cache.statcache import StatCache

__all__ = ["CacheUsage", "LocalCache", "PruneReport", "StatCache"]
