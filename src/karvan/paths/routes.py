"""Route lists per OD pair and select-link analysis: from the bushes of an Algorithm B result, or
from an assignment of the Frank-Wolfe family run with ``record_routes=True``."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from karvan.assign.result import AssignmentResult
from karvan.errors import InputError


def _need_routes(result: AssignmentResult):
    if result.routes is None:
        raise InputError("this result has no route record; assign with method='algorithm-b' "
                         "or with record_routes=True.")
    return result.routes


def _bush_routes(result: AssignmentResult, *, min_share: float) -> pd.DataFrame:
    """Routes from origin-based flows, split at every node in proportion to the bush flows on
    its in-arcs (the proportionality of Bar-Gera 2010). Routes whose share of the OD flow falls
    below ``min_share`` are left out, so the listed flows may miss that much."""
    bs = result.bushes
    g = result.graph
    in_arcs = [[] for _ in range(g.n_nodes)]
    for a in range(g.n_arcs):
        in_arcs[g.head[a]].append(a)
    rows = []
    for b in range(bs.flow.shape[0]):
        k = int(bs.bush_class[b])
        cls = result.classes[k]
        f = bs.flow[b]
        eps = 1e-12 * max(1.0, float(bs.demand[b].sum()))
        used = [[a for a in arcs if f[a] > eps] for arcs in in_arcs]
        inflow = np.array([sum(f[a] for a in arcs) for arcs in used])
        o = int(bs.zone_nodes[bs.bush_zone[b]])
        cost_k = result.class_costs[k]
        for j in np.flatnonzero(bs.demand[b] > 0):
            d = int(bs.zone_nodes[j])
            if d == o:
                continue
            q = float(bs.demand[b, j])
            found: list[tuple[tuple, float]] = []
            stack = [(d, 1.0, ())]
            while stack:
                u, share, arcs = stack.pop()
                if u == o:
                    found.append((arcs, share))
                    continue
                for a in used[u]:
                    s2 = share * f[a] / inflow[u]
                    if s2 >= min_share:
                        stack.append((int(g.tail[a]), s2, (a, *arcs)))
            found.sort(key=lambda x: -x[1])
            for r, (arcs, share) in enumerate(found):
                a = np.asarray(arcs, dtype=np.int64)
                rows.append((cls.name, bs.zone_ids[bs.bush_zone[b]], bs.zone_ids[j], r, arcs,
                             tuple(g.link_ids[g.arc_link[a]]), q * share, share,
                             float(cost_k[a].sum())))
    return pd.DataFrame(rows, columns=["class", "origin", "destination", "route", "arcs", "links",
                                       "flow", "share", "cost"])


def route_flows(result: AssignmentResult, *, min_share: float = 0.0) -> pd.DataFrame:
    """Every route used by every OD pair and class, with its flow.

    Returns
    -------
    DataFrame
        Columns ``class, origin, destination, route, arcs, links, flow, share, cost``: ``route``
        numbers the routes of an OD pair from 0 (largest flow first), ``arcs`` is a tuple of arc
        positions, ``links`` a tuple of link ids, ``cost`` the route's generalized cost at the
        final link costs. Flows of an OD pair sum to its demand; summed over routes they give
        the link flows.
    """
    if result.bushes is not None:
        return _bush_routes(result, min_share=max(min_share, 1e-12))
    trees, wx, origins, zone_ids, mats = _need_routes(result)
    g = result.graph
    n_trees = len(trees)
    used = np.flatnonzero(wx > 0)
    rows = []
    for k, cls in enumerate(result.classes):
        m = mats[k]
        cost_k = result.class_costs[k]
        for i in range(len(origins)):
            dests = np.flatnonzero(m[i] > 0)
            if not len(dests):
                continue
            # identical trees from different iterations are walked once, with their weights summed
            preds = np.stack([trees[t][k][i] for t in used]) if n_trees else np.zeros((0, 0))
            uniq, inv = np.unique(preds, axis=0, return_inverse=True)
            w = np.bincount(inv.ravel(), weights=wx[used], minlength=len(uniq))
            o = origins[i]
            for j in dests:
                d = origins[j]
                acc: dict[tuple, float] = defaultdict(float)
                for u in range(len(uniq)):
                    if w[u] <= 0:
                        continue
                    acc[_walk(uniq[u], g.tail, o, d)] += w[u]
                q = m[i, j]
                items = sorted(acc.items(), key=lambda kv: -kv[1])
                for r, (arcs, wt) in enumerate(items):
                    if wt < min_share:
                        continue
                    a = np.asarray(arcs, dtype=np.int64)
                    rows.append((cls.name, zone_ids[i], zone_ids[j], r, arcs,
                                 tuple(g.link_ids[g.arc_link[a]]), q * wt, wt,
                                 float(cost_k[a].sum())))
    return pd.DataFrame(rows, columns=["class", "origin", "destination", "route", "arcs", "links",
                                       "flow", "share", "cost"])


def _walk(pred: np.ndarray, tail: np.ndarray, o: int, d: int) -> tuple:
    arcs = []
    v = d
    while v != o:
        e = int(pred[v])
        if e < 0:
            raise InputError("a recorded tree does not reach a destination with demand.")
        arcs.append(e)
        v = int(tail[e])
    return tuple(arcs[::-1])


def select_link(result: AssignmentResult, link_ids, routes: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """Which OD pairs (and classes) use any of ``link_ids``, and how much.

    Returns a table ``class, origin, destination, flow`` of the flow through the selected links
    (a route that crosses several of them counts once).

    Raises
    ------
    InputError
        When some of ``link_ids`` are not links of the result's graph.
    """
    routes = route_flows(result) if routes is None else routes
    sel = set(np.atleast_1d(np.asarray(link_ids, dtype=object)).tolist())
    unknown = sel - set(result.graph.link_ids.tolist())
    if unknown:
        raise InputError(f"unknown link ids: {sorted(map(str, unknown))[:5]}.")
    hit = routes["links"].map(lambda ls: bool(sel.intersection(ls)))
    out = routes[hit].groupby(["class", "origin", "destination"], as_index=False)["flow"].sum()
    return out.sort_values("flow", ascending=False, ignore_index=True)


def _need_bushes(result: AssignmentResult):
    if result.bushes is None:
        raise InputError("flows by origin or destination need a result of "
                         "method='algorithm-b' (origin-based flows).")
    return result.bushes


def flows_by_origin(result: AssignmentResult) -> pd.DataFrame:
    """Link flows split by origin zone (all classes): one column per origin, one row per arc
    (``link_id``, ``direction``); the columns sum to the link flows."""
    bs = _need_bushes(result)
    g = result.graph
    zones = [bs.zone_ids[i] for i in bs.bush_zone]
    df = pd.DataFrame(bs.flow.T, columns=pd.Index(zones, name="origin"))
    df = df.T.groupby(level=0, sort=False).sum().T
    df.insert(0, "direction", g.arc_dir.astype(np.int64))
    df.insert(0, "link_id", g.link_ids[g.arc_link])
    return df


def flows_by_destination(result: AssignmentResult) -> pd.DataFrame:
    """Link flows split by destination zone (all classes), by the proportional split of the
    origin-based flows: one column per destination, one row per arc; they sum to the link
    flows."""
    from karvan.kernels.bush import bush_destination_flows

    bs = _need_bushes(result)
    g = result.graph
    rindptr, order = g.reverse_star()
    total = np.zeros((len(bs.zone_ids), g.n_arcs))
    for b in range(bs.flow.shape[0]):
        o = int(bs.zone_nodes[bs.bush_zone[b]])
        total += bush_destination_flows(b, o, g.indptr, g.head, g.tail, rindptr, order,
                                        bs.inbush, bs.flow, bs.demand[b], bs.zone_nodes)
    df = pd.DataFrame(total.T, columns=pd.Index(list(bs.zone_ids), name="destination"))
    df = df.loc[:, df.abs().sum() > 0]
    df.insert(0, "direction", g.arc_dir.astype(np.int64))
    df.insert(0, "link_id", g.link_ids[g.arc_link])
    return df


def od_arc_flows(result: AssignmentResult, arcs) -> tuple[pd.DataFrame, np.ndarray]:
    """Flow of every OD pair and class on each of ``arcs``, from Algorithm B's bushes with the
    proportional split at every node (as :func:`flows_by_destination`, per origin).

    Returns
    -------
    (DataFrame, ndarray)
        The cells (``class, origin, destination, demand``: every OD pair and class with demand)
        and their flows on the arcs, one row per cell, one column per arc of ``arcs``.

    Raises
    ------
    InputError
        The result has no bushes, or an arc position is outside the graph.
    """
    from karvan.kernels.bush import bush_destination_flows

    bs = _need_bushes(result)
    g = result.graph
    arcs = np.asarray(arcs, dtype=np.int64)
    if len(arcs) and (arcs.min() < 0 or arcs.max() >= g.n_arcs):
        raise InputError(f"arc positions outside 0..{g.n_arcs - 1}.")
    rindptr, order = g.reverse_star()
    rows, parts = [], []
    for b in range(bs.flow.shape[0]):
        o = int(bs.zone_nodes[bs.bush_zone[b]])
        dem = bs.demand[b]
        js = np.flatnonzero(dem > 0)
        if not len(js):
            continue
        by_d = bush_destination_flows(b, o, g.indptr, g.head, g.tail, rindptr, order,
                                      bs.inbush, bs.flow, dem, bs.zone_nodes)
        name = result.classes[int(bs.bush_class[b])].name
        origin = bs.zone_ids[bs.bush_zone[b]]
        for j in js:
            rows.append((name, origin, bs.zone_ids[j], float(dem[j])))
        parts.append(by_d[js][:, arcs])
    cells = pd.DataFrame(rows, columns=["class", "origin", "destination", "demand"])
    flows = np.vstack(parts) if parts else np.zeros((0, len(arcs)))
    return cells, flows
