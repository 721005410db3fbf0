"""Parallel transfers and retries with backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from gitdata.storage.faults import classify

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 8
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
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gd-transfer") as pool:
        futures = [pool.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in futures:
            if f.done() and not f.cancelled() and f.exception() is not None:
                raise f.exception()  # type: ignore[misc]
        results = [f.result() for f in futures]
    if progress is not None:
        progress.advance(len(items))
    return results
