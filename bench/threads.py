"""Process-wide thread pools, one per (name, size): kept for the process, not made per batch.

    from bench.threads import shared_pool
    shared_pool("ssim", 1).submit(work)          # the SSIM engine's helper thread
    shared_pool("folder-read", 2).map(read, paths)

Creating a pool per batch (or per model instance) costs thread starts and leaves idle threads
behind; the work here is short and its callers wait for it, so one pool per size serves all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_POOLS: dict[tuple[str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def shared_pool(name: str, threads: int) -> ThreadPoolExecutor:
    """The pool of ``threads`` threads named ``name`` (created on first use)."""
    with _LOCK:
        pool = _POOLS.get((name, threads))
        if pool is None:
            pool = _POOLS[(name, threads)] = ThreadPoolExecutor(threads, thread_name_prefix=name)
        return pool
