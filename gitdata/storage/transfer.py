"""Parallel transfers and retries with backoff."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from gitdata.storage.faults import classify

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 8
TRANSFER_THREAD_PREFIX = "gd-transfer"
DEFAULT_RETRIES = 3
_MAX_DELAY = 10.0


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: network hiccups and throttling, not missing keys or refusals."""
    return classify(exc).retryable


def with_retries(
    fn: Callable[[], R], *, retries: int = DEFAULT_RETRIES, base_delay: float = 0.2
) -> R:
    """Call ``fn``; retry transient failures with exponential backoff and full jitter."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if attempt >= retries or not is_transient(exc):
                raise
            delay = min(_MAX_DELAY, base_delay * (2**attempt))
            time.sleep(delay * (0.5 + random.random() / 2))
            attempt += 1


# Temp files that transfer threads are writing right now (see discard_scratch).
_SCRATCH: set[str] = set()


def track_scratch(path: str) -> None:
    """Note a temp file a transfer thread is writing; :func:`untrack_scratch` once it
    is gone or renamed into place."""
    _SCRATCH.add(path)


def untrack_scratch(path: str) -> None:
    _SCRATCH.discard(path)


def discard_scratch() -> int:
    """Remove every tracked temp file; returns how many were removed.

    For a process leaving without waiting for its transfer threads (the CLI after
    Ctrl-C): their own cleanup will never run.
    """
    removed = 0
    for path in list(_SCRATCH):
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            pass
        _SCRATCH.discard(path)
    return removed


def run_parallel(
    fn: Callable[[T], R], items: Sequence[T], max_workers: int | None = None, progress=None
) -> list[R]:
    """Apply ``fn`` to every item on a thread pool; results in input order.

    The first exception cancels work not yet started and is re-raised.
    ``max_workers=1`` (or a single item) runs inline, without a pool.
    """
    items = list(items)
    if not items:
        return []
    workers = min(max_workers or DEFAULT_WORKERS, len(items))
    if workers <= 1:
        out = []
        for item in items:
            out.append(fn(item))
            if progress is not None:
                progress.advance(1)
        return out
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=TRANSFER_THREAD_PREFIX)
    try:
        futures = [pool.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    except BaseException:
        # Ctrl-C: start nothing more and do not wait for transfers in flight (the
        # CLI exits at once; every write is crash-safe, so an abandoned one is harmless)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    for f in pending:
        f.cancel()
    pool.shutdown(wait=True)  # let running transfers finish and save their progress
    for f in futures:
        if f.done() and not f.cancelled() and f.exception() is not None:
            raise f.exception()  # type: ignore[misc]
    results = [f.result() for f in futures]
    if progress is not None:
        progress.advance(len(items))
    return results
