"""Shortest paths and skims: validate, then one kernel call."""

from __future__ import annotations

from karvan.paths.routes import flows_by_destination, flows_by_origin, route_flows, select_link
from karvan.paths.skims import path_between, skim, skim_result
from karvan.paths.trees import path_sums, shortest_path_trees, zone_reachability

__all__ = ["flows_by_destination", "flows_by_origin", "path_between", "path_sums", "route_flows",
           "select_link", "shortest_path_trees", "skim", "skim_result", "zone_reachability"]
