"""numba's one-time cost per process (kept for callers of :func:`load_numba_target`).

The target refresh now runs inside :func:`karvan.kernels._jit.load_numba`, with scipy.linalg's
BLAS probe blocked (see :func:`karvan.kernels._jit.refresh_target`).
"""

from __future__ import annotations


def load_numba_target() -> None:
    """Refresh numba's CPU target once per process, without importing scipy.linalg for it."""
    from karvan.kernels._jit import refresh_target

    refresh_target()
