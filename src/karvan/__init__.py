"""karvan: an open freight-corridor network model."""

from __future__ import annotations

from karvan.assign import AssignmentResult, TrafficClass, assign
from karvan.errors import InputError, KarvanError, NoPathError
from karvan.io import read_gmns, read_tntp, write_gmns
from karvan.network import CompiledGraph, Demand, Network, compile_graph

from karvan._version import __version__

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
