"""Numba kernels: arrays in, arrays out.

Nothing here imports from karvan, validates input or logs: callers in ``paths`` and ``assign``
check their arguments first ("prior validation of data is assumed"). JIT options are set in one
place, :data:`JIT`, and compiled code is cached on disk next to the sources.
"""

from __future__ import annotations

from karvan.kernels.paths import (
    aon_assign,
    aon_range,
    aon_scratch,
    path_skims,
    shortest_path_trees,
)
from karvan.kernels.vdf import (
    VDF_BPR,
    VDF_CONICAL,
    VDF_CONSTANT,
    line_search,
    link_time,
    link_time_derivative,
    link_time_integral,
)

__all__ = [
    "VDF_BPR",
    "VDF_CONICAL",
    "VDF_CONSTANT",
    "aon_assign",
    "aon_range",
    "aon_scratch",
    "line_search",
    "link_time",
    "link_time_derivative",
    "link_time_integral",
    "path_skims",
    "shortest_path_trees",
]
