"""What a network and a demand are: tables keyed by ids, their checks, and the compiled graph.

The names load on first use (:pep:`562`): the compiled graph and the demand need no pandas, the
network tables do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from karvan.network.demand import Demand
    from karvan.network.graph import CompiledGraph, compile_graph
    from karvan.network.model import LINK_DEFAULTS, Network, check_network

_LAZY = {
    "Demand": "karvan.network.demand",
    "CompiledGraph": "karvan.network.graph",
    "compile_graph": "karvan.network.graph",
    "LINK_DEFAULTS": "karvan.network.model",
    "Network": "karvan.network.model",
    "check_network": "karvan.network.model",
}

__all__ = ["LINK_DEFAULTS", "CompiledGraph", "Demand", "Network", "check_network", "compile_graph"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'karvan.network' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
