"""Signals for tests that interrupt a child process."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """``preexec_fn`` for a child that a test sends SIGINT: the default disposition, so that
    Python in the child turns it into KeyboardInterrupt. A test run started in the background of
    a shell inherits SIGINT ignored, and the child would inherit that too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
