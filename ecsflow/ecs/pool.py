"""The bounded thread pool that describes and registers many families at once.

botocore clients are thread-safe (sessions are not), so one client is made on the calling thread and shared by
the pool's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

DEFAULT_CONCURRENCY = 8

_T = TypeVar("_T")
_R = TypeVar("_R")


def bounded(
    work: Callable[[_T], _R], items: list[_T], concurrency: int, key: Callable[[_T], Any] = lambda item: item
) -> Generator[tuple[Any, _R], None, None]:
    """``(key(item), work(item))`` as each completes, at most ``concurrency`` at a time.

    On the first exception the items not started yet are cancelled and the exception propagates.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="ecsflow-aws")
    try:
        futures = {pool.submit(work, item): key(item) for item in items}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # Normal end: nothing left. Error (or the caller stopped early): drop what has not started; the few
        # calls in flight finish on their own, and their results are discarded.
        pool.shutdown(wait=True, cancel_futures=True)
