"""Run a nogil kernel over chunks of work on a few threads, each chunk going to the next free
thread.

numba's parallel loops hand every thread a fixed share and wait for the slowest at a barrier, so
when another process holds a core the whole loop runs at the pace of the thread that shares it,
slower than one thread alone. Here the chunks are taken one at a time from a shared counter: a
thread that gets less CPU takes fewer chunks, and a thread that has nothing left sleeps instead
of spinning. The kernels release the GIL (``nogil=True``), so only taking a chunk holds it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# The parallel loops that remain on numba's OpenMP layer (shortest-path trees and skims) spin at
# their barriers by default: when another process holds a core, the spinning thread takes the
# time the other one needs, and 2 threads run slower than 1. Waiting passively avoids that.
# libgomp reads this when numba first loads it, after this module is imported (karvan imports
# it); a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Workers:
    """``n_threads`` workers (the calling thread and ``n_threads - 1`` pool threads), each with
    its own scratch arrays.

    Parameters
    ----------
    n_threads
        Threads to use, >= 1.
    make_scratch
        Called once per thread for that thread's work arrays.
    """

    def __init__(self, n_threads: int, make_scratch: Callable[[], Any]) -> None:
        self.n_threads = max(1, int(n_threads))
        self.scratch = [make_scratch() for _ in range(self.n_threads)]
        self._pool = (ThreadPoolExecutor(self.n_threads - 1, thread_name_prefix="karvan")
                      if self.n_threads > 1 else None)

    def run(self, fn: Callable[[int, int, Any], Any], chunks: Sequence[tuple[int, int]]) -> list:
        """``[fn(lo, hi, scratch) for (lo, hi) in chunks]``, the chunks spread over the threads.

        The results come back in chunk order.
        """
        n = len(chunks)
        if self._pool is None or n <= 1:
            sc = self.scratch[0]
            return [fn(lo, hi, sc) for lo, hi in chunks]
        out: list = [None] * n
        counter = itertools.count()  # next() on a count is atomic under the GIL

        def work(w: int) -> None:
            sc = self.scratch[w]
            while True:
                i = next(counter)
                if i >= n:
                    return
                lo, hi = chunks[i]
                out[i] = fn(lo, hi, sc)

        futures = [self._pool.submit(work, w) for w in range(1, self.n_threads)]
        try:
            work(0)
        finally:
            for f in futures:
                f.result()
        return out

    def each(self, fn: Callable[[Any], Any]) -> list:
        """``fn(scratch)`` once on every thread at the same time; the results in thread order.

        For kernels that take their work items from a shared counter themselves (no hand-out
        through Python, so no thread waits for the GIL between items).
        """
        if self._pool is None:
            return [fn(self.scratch[0])]
        futures = [self._pool.submit(fn, self.scratch[w]) for w in range(1, self.n_threads)]
        out = [None] * self.n_threads
        try:
            out[0] = fn(self.scratch[0])
        finally:
            for w, f in enumerate(futures, start=1):
                out[w] = f.result()
        return out

    def close(self) -> None:
        """Stop the pool threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunks_of(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """``n_chunks`` (at most ``n_items``) contiguous ranges covering ``range(n_items)``."""
    n_chunks = max(1, min(n_chunks, n_items))
    edges = [round(i * n_items / n_chunks) for i in range(n_chunks + 1)]
    return [(edges[i], edges[i + 1]) for i in range(n_chunks) if edges[i + 1] > edges[i]]
