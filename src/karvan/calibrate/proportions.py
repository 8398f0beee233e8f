"""Link-use proportions: the share of each OD cell's flow that passes a counted element, from the
route flows of an assignment (Algorithm B's bushes, or recorded Frank-Wolfe trees)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from karvan.assign.result import AssignmentResult
from karvan.errors import InputError
from karvan.paths.routes import od_arc_flows, route_flows


def arc_proportions(result: AssignmentResult, count_arcs: Sequence[Sequence[int]],
                    cells: pd.DataFrame, *, routes: pd.DataFrame | None = None) -> np.ndarray:
    """Matrix (counts x cells) of the share of each cell's flow on each count's arcs.

    Parameters
    ----------
    result
        An assignment with route records (Algorithm B, or ``record_routes=True``).
    count_arcs
        For every count, the arc positions it counts (a route that uses several of them counts
        once, as for a two-way count on an undirected link).
    cells
        One row per cell: ``class, origin, destination`` (class names of ``result``, zone ids).
    routes
        The route flows of ``result`` when already computed (:func:`karvan.paths.route_flows`).

    Raises
    ------
    InputError
        Arc positions outside the graph, a cell whose class the result does not have.
    """
    g = result.graph
    classes = {c.name for c in result.classes}
    bad = sorted(set(cells["class"]) - classes)
    if bad:
        raise InputError(f"cells name classes the assignment does not have: {bad[:5]}.")
    sets = []
    for k, arcs in enumerate(count_arcs):
        a = np.asarray(list(arcs), dtype=np.int64)
        if len(a) and (a.min() < 0 or a.max() >= g.n_arcs):
            raise InputError(f"count {k}: arc positions outside 0..{g.n_arcs - 1}.")
        sets.append(a)
    key = {(c, o, d): i for i, (c, o, d) in enumerate(zip(cells["class"], cells["origin"],
                                                          cells["destination"], strict=True))}
    single = all(len(a) == 1 for a in sets)
    if single and routes is None and result.bushes is not None:
        # one arc per count: the per-OD arc flows of the bushes, without listing routes
        cf, flows = od_arc_flows(result, np.concatenate(sets) if sets else [])
        idx = np.array([key.get(k, -1) for k in zip(cf["class"], cf["origin"],
                                                     cf["destination"], strict=True)],
                       dtype=np.int64)
        out = np.zeros((len(sets), len(cells)))
        ok = idx >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            share = flows[ok] / cf["demand"].to_numpy()[ok, None]
        out[:, idx[ok]] = share.T
        return out
    rf = route_flows(result) if routes is None else routes
    member = np.zeros((len(sets), g.n_arcs), dtype=bool)
    for k, a in enumerate(sets):
        member[k, a] = True
    out = np.zeros((len(sets), len(cells)))
    for cls, o, d, arcs, share in zip(rf["class"], rf["origin"], rf["destination"], rf["arcs"],
                                      rf["share"], strict=True):
        c = key.get((cls, o, d))
        if c is None:
            continue
        hit = member[:, np.asarray(arcs, dtype=np.int64)].any(axis=1)
        out[hit, c] += share
    return out
