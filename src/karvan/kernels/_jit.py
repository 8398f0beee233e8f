"""The one place where numba options are set."""

from __future__ import annotations

import numba

JIT = {"cache": True, "nogil": True, "fastmath": False}
PJIT = {**JIT, "parallel": True}

njit = numba.njit
prange = numba.prange


def num_threads() -> int:
    """Threads numba will use for parallel kernels."""
    return int(numba.get_num_threads())
