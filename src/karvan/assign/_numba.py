"""numba's one-time cost per process, made as small as numba allows.

The first call of any compiled kernel in a process, cached or not, refreshes numba's CPU target:
it imports numba's implementation modules and installs their registries. One of them
(``numba.np.arraymath``) checks for a BLAS by importing ``scipy.linalg``, about a third of the
refresh, although no karvan kernel uses BLAS. :func:`load_numba_target` runs that refresh with
the check's import made to fail, so it finds no BLAS; numba's ``np.dot`` and ``np.linalg``
import the BLAS themselves when they are compiled, so only numba's inner-product helper of a few
array functions falls back to a plain loop in this process.
"""

from __future__ import annotations

import sys

_BLAS = "scipy.linalg.cython_blas"


def load_numba_target() -> None:
    """Refresh numba's CPU target once per process, without importing scipy.linalg for it."""
    if "numba.np.arraymath" in sys.modules or _BLAS in sys.modules:
        return  # refreshed already, or the BLAS is loaded anyway
    try:
        from numba.core.registry import cpu_target
    except ImportError:  # a numba without this layout: let the first dispatch do it
        return
    sys.modules[_BLAS] = None  # type: ignore[assignment]  (import raises ImportError)
    try:
        cpu_target.target_context.refresh()
    finally:
        if _BLAS in sys.modules and sys.modules[_BLAS] is None:
            del sys.modules[_BLAS]
