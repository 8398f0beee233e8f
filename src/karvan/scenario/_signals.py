"""Ctrl-C and SIGTERM while worker processes run (:func:`karvan.scenario.batch.run_scenarios`).

- :func:`held` holds SIGINT and SIGTERM back inside a block; one that arrives meanwhile takes
  effect (``KeyboardInterrupt``) when the block ends. It defers their handlers
  (:func:`karvan.io.atomic.defer_signals`), which Python runs in the main thread whichever
  thread received the signal, and blocks them in the calling thread, a mask that threads and
  processes started inside the block inherit, so that a signal sent to the process reaches its
  main thread, which is the one that can act on it. Listing a run inside the block makes
  listing, copying and printing it one step that a signal does not cut in two, however many
  threads (numba's) the process has; the mask alone held nothing while another thread, started
  outside the block, left the signals unblocked.
- :func:`sigterm_raises` turns SIGTERM into :class:`Terminated` in the main thread, so that the
  ``finally`` clauses stop the workers and remove what they staged, and then passes the signal
  on: the process ends as SIGTERM ends it (the idiom of git's ``sigchain``).
- :func:`init_worker_signals` is for a worker: it ignores SIGINT (the main process stops it;
  a Ctrl-C from a terminal reaches every process of the group) and dies at once on SIGTERM.

Only the main thread of the main interpreter can set signal handlers; elsewhere these do
nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from karvan.io.atomic import defer_signals

SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class Terminated(BaseException):
    """SIGTERM received inside :func:`sigterm_raises`."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back inside the block (see the module)."""
    with defer_signals():
        if not _main_thread() or not hasattr(signal, "pthread_sigmask"):
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            yield
        finally:
            # a signal blocked meanwhile is noted here (pthread_sigmask runs the handlers), and
            # raised again as defer_signals ends
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _raise_terminated(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` in this (the main) thread; when it
    leaves the block, the default action of SIGTERM follows (see the module).

    Where SIGTERM has a handler already (or is ignored), or off the main thread, the block
    changes nothing: whoever set that handler decides what SIGTERM does.

    Raises
    ------
    Terminated
        Inside the block, on SIGTERM (outside it the process ends).
    """
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)  # ends the process
        raise  # not reached
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def init_worker_signals() -> None:
    """In a worker process: ignore SIGINT, die at once on SIGTERM, and take the signals that
    were held when the worker was started (a held SIGINT is dropped, a SIGTERM ends it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
