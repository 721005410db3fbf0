"""The dataset engine: drafts, upload/close, get, verify, compare, squash, delete.

Sits between the ClearML-shaped facade (:mod:`gitdata.api`) and the layers
below (gitio, cache, storage, core).  Never prints; reports progress through
:class:`gitdata.core.progress.Progress`.
"""
