"""The capacity LP solved by pricing gives the optimum of the whole LP, stated independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from karvan.assign.capacity import solve_capacity_lp
from karvan.assign.classes import TrafficClass
from karvan.network.demand import Demand
from karvan.network.model import Network


def _grid(rng, size=5):
    """A size x size grid, both directions, random times, a few tight capacities; zones at the
    four corners and the centre."""
    ids = [f"n{r}_{c}" for r in range(size) for c in range(size)]
    corners = {0: "A", size - 1: "B", size * (size - 1): "C", size * size - 1: "D",
               (size * size) // 2: "E"}
    nodes = pd.DataFrame({"zone_id": [corners.get(i) for i in range(size * size)]},
                         index=pd.Index(ids, name="node_id"))
    rows = []
    for r in range(size):
        for c in range(size):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < size and c + dc < size:
                    a, b = f"n{r}_{c}", f"n{r + dr}_{c + dc}"
                    t = float(rng.uniform(1, 5))
                    cap = float(rng.uniform(2, 8)) if rng.random() < 0.3 else np.nan
                    rows += [(f"{a}>{b}", a, b, t, cap), (f"{b}>{a}", b, a, t, cap)]
    links = pd.DataFrame(rows, columns=["link_id", "from_node_id", "to_node_id",
                                        "free_flow_time", "capacity"]).set_index("link_id")
    links["vdf"] = "constant"
    return Network(nodes, links), [z for z in corners.values()]


def _naive_lp(net, zones, q, pen):
    """The same LP, one commodity per OD pair (not per origin), all arcs, no pricing."""
    links = net.links
    node_ix = {n: i for i, n in enumerate(net.nodes.index)}
    tail = links["from_node_id"].map(node_ix).to_numpy()
    head = links["to_node_id"].map(node_ix).to_numpy()
    cost = links["free_flow_time"].to_numpy()
    zone_node = {z: node_ix[n] for n, z in net.nodes["zone_id"].dropna().items()}
    n, m = len(node_ix), len(links)
    ods = [(o, d, q[i, j]) for i, o in enumerate(zones) for j, d in enumerate(zones) if q[i, j]]
    inc = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[tail, head],
                                                             np.r_[np.arange(m), np.arange(m)])),
                        shape=(n, m))
    k = len(ods)
    a_eq = sp.block_diag([inc] * k, format="csr")
    u = sp.lil_matrix((k * n, k))
    b_eq = np.zeros(k * n)
    for j, (o, d, qq) in enumerate(ods):
        b_eq[j * n + zone_node[o]] += qq
        b_eq[j * n + zone_node[d]] -= qq
        u[j * n + zone_node[o], j] = 1.0
        u[j * n + zone_node[d], j] = -1.0
    a_eq = sp.hstack([a_eq, u.tocsr()], format="csr")
    capped = np.flatnonzero(np.isfinite(links["capacity"].to_numpy()))
    sel = sp.csr_matrix((np.ones(len(capped)), (np.arange(len(capped)), capped)),
                        shape=(len(capped), m))
    a_ub = sp.hstack([sel] * k + [sp.csr_matrix((len(capped), k))], format="csr")
    c = np.r_[np.tile(cost, k), np.full(k, pen)]
    bounds = np.c_[np.zeros(len(c)), np.r_[np.full(k * m, np.inf), [x[2] for x in ods]]]
    res = linprog(c, A_ub=a_ub, b_ub=links["capacity"].to_numpy()[capped], A_eq=a_eq,
                  b_eq=b_eq, bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_priced_lp_reaches_the_optimum_of_the_whole_lp(seed):
    rng = np.random.default_rng(seed)
    net, zones = _grid(rng)
    q = rng.uniform(0, 6, (len(zones), len(zones))).round(1)
    np.fill_diagonal(q, 0.0)
    pen = 40.0
    r = solve_capacity_lp(net, Demand(tuple(zones), {"demand": q}), [TrafficClass()],
                          unserved_penalty=pen)
    assert r.total_cost == pytest.approx(_naive_lp(net, zones, q, pen), rel=1e-7)
    cap = net.links["capacity"].to_numpy()
    ab = r.volume  # arcs are the links here (directed)
    fin = np.isfinite(cap[r.graph.arc_link])
    assert (ab[fin] <= cap[r.graph.arc_link][fin] * (1 + 1e-6) + 1e-9).all()
    # capacities bind in these draws (and demand is left unserved in two of them): the duals
    # move flow off the first solve's arcs, which the pricing has to let in
    assert (r.shadow_price > 0).sum() >= 5


@pytest.mark.parametrize("seed", range(6))
def test_pricing_distances_equal_scipy_dijkstra(seed):
    """The pricing loop's least costs (from the nearest source, to each of several targets) over
    a subset of arcs equal scipy's Dijkstra on the matrix of the cheapest usable parallel arc;
    zero, negative (counted as 0) and infinite costs included."""
    from scipy.sparse import csgraph

    from karvan.assign.capacity import _dist, _Stars
    from karvan.network.graph import compile_graph

    rng = np.random.default_rng(seed)
    n, m = 30, 140
    ids = [f"v{i}" for i in range(n)]
    nodes = pd.DataFrame({"zone_id": [None] * n}, index=pd.Index(ids, name="node_id"))
    tail, head = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = tail != head
    links = pd.DataFrame({"from_node_id": np.array(ids)[tail[keep]],
                          "to_node_id": np.array(ids)[head[keep]],
                          "free_flow_time": 1.0, "vdf": "constant"},
                         index=pd.Index([f"e{i}" for i in range(int(keep.sum()))],
                                        name="link_id"))
    g = compile_graph(Network(nodes, links))
    w = rng.uniform(0, 10, g.n_arcs)
    w[rng.random(g.n_arcs) < 0.1] = 0.0
    w[rng.random(g.n_arcs) < 0.05] = -1.0
    w[rng.random(g.n_arcs) < 0.05] = np.inf
    ok = rng.random(g.n_arcs) < 0.8
    stars = _Stars(g)

    def reference(sources, reverse, each):
        use = ok & np.isfinite(w)
        t, h = (g.head, g.tail) if reverse else (g.tail, g.head)
        dense = np.full((n, n), np.inf)
        for a in np.flatnonzero(use):
            dense[t[a], h[a]] = min(dense[t[a], h[a]], max(w[a], 0.0))
        # sparse, so that an arc of cost 0 is a stored zero (an arc to csgraph), not a gap
        r, c = np.nonzero(np.isfinite(dense))
        mat = sp.csr_matrix((dense[r, c], (r, c)), shape=(n, n))
        return csgraph.dijkstra(mat, indices=sources, min_only=not each)

    sources = rng.choice(n, 4, replace=False)
    for reverse in (False, True):
        np.testing.assert_array_equal(_dist(stars, w, ok, sources[:1], reverse=reverse),
                                      reference(sources[:1], reverse, False))
        np.testing.assert_array_equal(_dist(stars, w, ok, sources, reverse=reverse),
                                      reference(sources, reverse, False))
        np.testing.assert_array_equal(_dist(stars, w, ok, sources, reverse=reverse, each=True),
                                      reference(sources, reverse, True))
