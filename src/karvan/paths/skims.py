"""Least-cost paths and OD skims (sums of any arc field along the least-cost paths)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from karvan import kernels as K
from karvan.assign.result import AssignmentResult
from karvan.errors import InputError
from karvan.kernels._jit import num_threads
from karvan.network.graph import CompiledGraph


def _arc_array(graph: CompiledGraph, values, name: str) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(values, dtype=float))
    if a.shape != (graph.n_arcs,):
        raise InputError(f"{name} has shape {a.shape}; expected one value per arc "
                         f"({graph.n_arcs}).")
    return a


def skim(
    graph: CompiledGraph,
    cost,
    fields: Mapping[str, np.ndarray] | None = None,
    *,
    zones: Sequence | None = None,
) -> dict[str, pd.DataFrame]:
    """OD matrices of ``cost`` and of each arc field summed along the least-cost paths.

    Parameters
    ----------
    graph
        A compiled graph.
    cost
        Per-arc cost the paths minimise (non-negative).
    fields
        Name -> per-arc values to sum along those paths (time, length, a toll...).
    zones
        Zone ids to skim between (default: every zone).

    Returns
    -------
    dict
        ``"cost"`` and each field name -> DataFrame (origins x destinations, zone ids as labels);
        NaN where no path exists, 0 on the diagonal.

    Raises
    ------
    InputError
        When ``cost`` or a field has not one value per arc, ``cost`` is negative or NaN on some
        arc, or ``zones`` names ids that are not zones.
    """
    cost = _arc_array(graph, cost, "cost")
    if not (cost >= 0).all():
        raise InputError("cost must be non-negative (and not NaN) on every arc.")
    fields = dict(fields or {})
    names = ["cost", *fields]
    stack = np.vstack([cost] + [_arc_array(graph, v, k) for k, v in fields.items()])
    zone_ids = list(graph.zone_ids) if zones is None else list(zones)
    zn = graph.zone_nodes[graph.zone_index(zone_ids)]
    out = K.path_skims(graph.indptr, graph.head, graph.tail, cost, graph.blocked, zn, zn,
                       np.ascontiguousarray(stack), max(1, num_threads()))
    idx = pd.Index(zone_ids, name="origin")
    col = pd.Index(zone_ids, name="destination")
    return {n: pd.DataFrame(out[:, :, f], index=idx, columns=col) for f, n in enumerate(names)}


def skim_result(
    result: AssignmentResult,
    fields: Sequence[str] = ("time", "length"),
    *,
    traffic_class: int | str = 0,
) -> dict[str, pd.DataFrame]:
    """Skims along the least-cost paths of one class at the final costs of an assignment.

    ``fields`` are ``time``, ``length``, ``toll`` or ``free_flow_time``.

    Raises
    ------
    InputError
        When ``traffic_class`` names no class of the result, or ``fields`` an unknown field.
    """
    g = result.graph
    if isinstance(traffic_class, str):
        names = [c.name for c in result.classes]
        if traffic_class not in names:
            raise InputError(f"no class {traffic_class!r}; classes are {', '.join(names)}.")
        traffic_class = names.index(traffic_class)
    known = {"time": result.time, "length": g.length, "toll": g.toll,
             "free_flow_time": g.free_flow_time}
    bad = [f for f in fields if f not in known]
    if bad:
        raise InputError(f"unknown skim field(s) {', '.join(bad)}; use {', '.join(known)}.")
    return skim(g, result.class_costs[traffic_class], {f: known[f] for f in fields})


def path_between(graph: CompiledGraph, cost, origin, destination) -> list:
    """Node ids of the least-cost path from node ``origin`` to node ``destination``.

    Returns an empty list when there is no path.
    """
    cost = _arc_array(graph, cost, "cost")
    o, d = graph.node_index([origin, destination])
    dist, pred = K.shortest_path_trees(graph.indptr, graph.head, cost, graph.blocked,
                                       np.array([o]), 1)
    if not np.isfinite(dist[0, d]):
        return []
    nodes = [d]
    v = d
    while v != o:
        v = graph.tail[pred[0, v]]
        nodes.append(v)
    return list(graph.node_ids[nodes[::-1]])
