"""The edge: the only code that parses or writes file formats.

The names load on first use (:pep:`562`), so that reading a TNTP file needs neither pandas nor
the GMNS stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from karvan.io.gmns import read_gmns, read_gmns_demand, write_gmns
    from karvan.io.tntp import (
        TntpGraph,
        TntpProblem,
        read_tntp,
        read_tntp_flow,
        read_tntp_graph,
        read_tntp_net,
        read_tntp_node,
        read_tntp_trips,
    )

_LAZY = {
    "read_gmns": "karvan.io.gmns",
    "read_gmns_demand": "karvan.io.gmns",
    "write_gmns": "karvan.io.gmns",
    "TntpGraph": "karvan.io.tntp",
    "TntpProblem": "karvan.io.tntp",
    "read_tntp": "karvan.io.tntp",
    "read_tntp_flow": "karvan.io.tntp",
    "read_tntp_graph": "karvan.io.tntp",
    "read_tntp_net": "karvan.io.tntp",
    "read_tntp_node": "karvan.io.tntp",
    "read_tntp_trips": "karvan.io.tntp",
}

__all__ = [
    "TntpGraph",
    "TntpProblem",
    "read_gmns",
    "read_gmns_demand",
    "read_tntp",
    "read_tntp_flow",
    "read_tntp_graph",
    "read_tntp_net",
    "read_tntp_node",
    "read_tntp_trips",
    "write_gmns",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'karvan.io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
