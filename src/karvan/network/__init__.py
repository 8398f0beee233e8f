"""What a network and a demand are: tables keyed by ids, their checks, and the compiled graph."""

from __future__ import annotations

from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph, compile_graph
from karvan.network.model import LINK_DEFAULTS, Network, check_network

__all__ = ["LINK_DEFAULTS", "CompiledGraph", "Demand", "Network", "check_network", "compile_graph"]
