"""Shortest paths and skims: validate, then one kernel call."""

from __future__ import annotations

from karvan.paths.routes import flows_by_destination, flows_by_origin, route_flows, select_link
from karvan.paths.skims import path_between, skim, skim_result

__all__ = ["flows_by_destination", "flows_by_origin", "path_between", "route_flows",
           "select_link", "skim", "skim_result"]
