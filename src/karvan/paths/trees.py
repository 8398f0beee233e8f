"""Least-cost trees and path sums on arrays: the checked entry to the path kernels for callers
above ``paths/`` (freight accounting, scenario runs), which never call :mod:`karvan.kernels`
themselves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from karvan import kernels as K
from karvan.errors import InputError
from karvan.kernels import routesets as KR
from karvan.kernels._jit import num_threads
from karvan.network.graph import CompiledGraph


def _cost(graph: CompiledGraph, cost: np.ndarray) -> np.ndarray:
    c = np.ascontiguousarray(np.asarray(cost, dtype=float))
    if c.shape != (graph.n_arcs,):
        raise InputError(f"cost has shape {c.shape}; expected one value per arc "
                         f"({graph.n_arcs}).")
    if not (c >= 0).all():
        raise InputError("cost must be non-negative (and not NaN) on every arc; +inf closes an "
                         "arc.")
    return c


def _nodes(graph: CompiledGraph, nodes: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(nodes, dtype=np.int64).ravel())
    if len(a) and (a.min() < 0 or a.max() >= graph.n_nodes):
        raise InputError(f"{name} holds node positions outside 0..{graph.n_nodes - 1}.")
    return a


def shortest_path_trees(graph: CompiledGraph, cost: np.ndarray,
                        origins: Sequence[int] | np.ndarray, *, threads: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Least-cost trees from each origin node.

    Parameters
    ----------
    graph
        A compiled graph.
    cost
        Per-arc cost (non-negative; ``inf`` closes an arc).
    origins
        Node positions (``*_idx``, not ids) to grow trees from.
    threads
        Threads to use (default: numba's thread count).

    Returns
    -------
    dist, pred
        Two ``(len(origins), n_nodes)`` arrays: the least cost to each node (``inf`` where
        unreachable) and the arc that reaches it on the tree (-1 at the root and unreached
        nodes).

    Raises
    ------
    InputError
        ``cost`` of the wrong shape, negative or NaN; an origin outside the graph.
    """
    c = _cost(graph, cost)
    o = _nodes(graph, origins, "origins")
    n = max(1, num_threads() if threads is None else int(threads))
    return K.shortest_path_trees(graph.indptr, graph.head, c, graph.blocked, o, n)


def tree_routes_through(graph: CompiledGraph, pred: np.ndarray, origins, destinations, via
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Routes on the least-cost trees of every node (``pred`` of :func:`shortest_path_trees`
    from ``range(graph.n_nodes)``): for each item, the tree path from ``origins[i]`` through the
    arcs ``via[i]`` in order (a row of arc positions, -1 for none) to ``destinations[i]``.

    Returns
    -------
    ok, route_len, route_arcs
        ``ok[i]`` false where a leg is unreachable or the route would pass a node twice; the
        number of arcs of each route (0 where not ok) and their arcs, concatenated in item order.

    Raises
    ------
    InputError
        ``pred`` not of shape ``(n_nodes, n_nodes)``; a node or an arc outside the graph.
    """
    p = np.ascontiguousarray(pred)
    if p.shape != (graph.n_nodes, graph.n_nodes):
        raise InputError(f"pred has shape {p.shape}; expected the trees of every node "
                         f"({graph.n_nodes}, {graph.n_nodes}).")
    o = _nodes(graph, origins, "origins")
    d = _nodes(graph, destinations, "destinations")
    v = np.asarray(via, dtype=np.int64)
    v = np.ascontiguousarray(v[:, None] if v.ndim == 1 else v)
    if not (len(d) == len(o) == len(v)) or v.ndim != 2:
        raise InputError(f"{len(o)} origins, {len(d)} destinations and via of shape {v.shape}: "
                         "one of each per route (via: a row of arcs per route).")
    if v.size and (v.min() < -1 or v.max() >= graph.n_arcs):
        raise InputError(f"via holds arc positions outside 0..{graph.n_arcs - 1} (-1: none).")
    return KR.routes_through_trees(p, graph.tail, graph.head, o, d, v)


def zone_reachability(graph: CompiledGraph, cost: np.ndarray) -> np.ndarray:
    """Which zone reaches which on arcs of finite ``cost``: a ``(n_zones, n_zones)`` boolean
    array in the order of ``graph.zone_ids``.

    Raises
    ------
    InputError
        As :func:`shortest_path_trees`.
    """
    dist, _ = shortest_path_trees(graph, cost, graph.zone_nodes)
    return np.isfinite(dist[:, graph.zone_nodes])


def path_sums(graph: CompiledGraph, cost: np.ndarray, fields: Sequence[np.ndarray] | np.ndarray,
              *, origins: Sequence[int] | np.ndarray | None = None,
              destinations: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Sums of per-arc ``fields`` along the least-cost paths between node sets.

    Parameters
    ----------
    graph
        A compiled graph.
    cost
        Per-arc cost the paths minimise (non-negative).
    fields
        One or more per-arc arrays (time, length, charges...).
    origins, destinations
        Node positions (default: every zone's node).

    Returns
    -------
    numpy.ndarray
        ``(n_origins, n_destinations, n_fields)``: NaN where no path exists, 0 from a node to
        itself.

    Raises
    ------
    InputError
        ``cost`` or a field of the wrong shape; ``cost`` negative or NaN; a node outside the
        graph.
    """
    c = _cost(graph, cost)
    stack = np.ascontiguousarray(np.atleast_2d(np.asarray(fields, dtype=float)))
    if stack.shape[1:] != (graph.n_arcs,):
        raise InputError(f"fields have shape {stack.shape}; expected (n_fields, {graph.n_arcs}).")
    o = _nodes(graph, graph.zone_nodes if origins is None else origins, "origins")
    d = _nodes(graph, graph.zone_nodes if destinations is None else destinations, "destinations")
    return K.path_skims(graph.indptr, graph.head, graph.tail, c, graph.blocked, o, d, stack,
                        max(1, num_threads()))

