"""karvan: an open freight-corridor network model.

The names below load on first use (:pep:`562`), so that ``import karvan`` costs little: the
readers, the network tables (pandas) and the kernels (numba) are imported by the call that
needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from karvan._version import __version__
from karvan.assign import AssignmentResult, TrafficClass, assign
from karvan.errors import InputError, KarvanError, NoPathError

if TYPE_CHECKING:
    from karvan.io import read_gmns, read_tntp, write_gmns
    from karvan.network import CompiledGraph, Demand, Network, compile_graph

#: public names defined in a subpackage, loaded on first access
_LAZY = {
    "read_gmns": "karvan.io",
    "read_tntp": "karvan.io",
    "write_gmns": "karvan.io",
    "CompiledGraph": "karvan.network",
    "Demand": "karvan.network",
    "Network": "karvan.network",
    "compile_graph": "karvan.network",
}

__all__ = [
    "AssignmentResult",
    "CompiledGraph",
    "Demand",
    "InputError",
    "KarvanError",
    "Network",
    "NoPathError",
    "TrafficClass",
    "__version__",
    "assign",
    "compile_graph",
    "read_gmns",
    "read_tntp",
    "write_gmns",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'karvan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
