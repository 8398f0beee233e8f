"""numba's one-time cost per process, made as small as numba allows.

The first call of any compiled kernel in a process, cached or not, refreshes numba's CPU target:
it imports numba's implementation modules and installs their registries. One of them
(``numba.np.arraymath``) checks for a BLAS by importing ``scipy.linalg``, about a third of the
refresh, although no karvan kernel uses BLAS. :func:`load_numba_target` runs that refresh with
the check's import made to fail, so it finds no BLAS; numba's ``np.dot`` and ``np.linalg``
import the BLAS themselves when they are compiled, so only numba's inner-product helper of a few
array functions falls back to a plain loop in this process. The refresh (and numba's import,
when it comes first here) runs with the garbage collector paused: they create some hundred
thousand long-lived objects, and the collections they would trigger find nothing to free.
"""

from __future__ import annotations

import gc
import sys

_BLAS = "scipy.linalg.cython_blas"


def load_numba_target() -> None:
    """Refresh numba's CPU target once per process, without importing scipy.linalg for it."""
    if "numba.np.arraymath" in sys.modules:
        return  # refreshed already
    paused = gc.isenabled()
    gc.disable()
    try:
        try:
            from numba.core.registry import cpu_target
        except ImportError:  # a numba without this layout: let the first dispatch do it
            return
        block = _BLAS not in sys.modules
        if block:
            sys.modules[_BLAS] = None  # type: ignore[assignment]  (import raises ImportError)
        try:
            cpu_target.target_context.refresh()
        finally:
            if block and sys.modules.get(_BLAS, 0) is None:
                del sys.modules[_BLAS]
    finally:
        if paused:
            gc.enable()
