"""Ctrl-C held back from a block (:func:`karvan.scenario._signals.held`) whatever threads the
process runs."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from karvan.scenario._signals import held


def test_held_holds_ctrl_c_back_while_another_thread_runs(sigint_raises):
    """The kernel hands a signal for the process to a thread that does not block it (numba's
    threads, started before the block); Python then runs the handler in the main thread."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    steps = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with held():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler would run here
                steps.append("the block went on")
    finally:
        stop.set()
        other.join()
    assert steps == ["the block went on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_held_gives_one_keyboard_interrupt_for_two_ctrl_cs(sigint_raises):
    with pytest.raises(KeyboardInterrupt):
        with held():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
    with held():  # nothing left pending
        pass
