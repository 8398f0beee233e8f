"""The capacity LP solved by pricing gives the optimum of the whole LP, stated independently:
its least cost, flows within the capacities, and shadow prices that are an optimal dual of it
(money per capacity unit), with two classes, undirected and parallel links and blocked zones."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from karvan.assign.capacity import solve_capacity_lp
from karvan.assign.classes import TrafficClass
from karvan.errors import InputError
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


@dataclass(frozen=True)
class _Arcs:
    """The whole LP as arrays, read from the tables without karvan: arc ``e`` runs from
    ``tail[e]`` to ``head[e]`` (every link from -> to, then an undirected one to -> from, ``key``
    naming it as (link_id, +1 or -1)); ``cost[k]`` is class k's money per unit on each arc."""

    tail: np.ndarray
    head: np.ndarray
    key: list
    cost: np.ndarray
    cap: np.ndarray  # capacity units; inf where none
    pce: np.ndarray
    pen: np.ndarray
    blocked: np.ndarray
    pairs: list  # (class, origin node, destination node, demand)


def _arcs_of(net, demand, classes, pen) -> _Arcs:
    nodes, links = net.nodes, net.links
    pos = {v: i for i, v in enumerate(nodes.index)}
    fr = links["from_node_id"].map(pos).to_numpy()
    to = links["to_node_id"].map(pos).to_numpy()
    both = ~links["directed"].to_numpy(bool) if "directed" in links else np.zeros(len(fr), bool)
    link = np.r_[np.arange(len(links)), np.flatnonzero(both)]
    sense = np.r_[np.ones(len(links), int), -np.ones(both.sum(), int)]
    cost = []
    for c in classes:
        money = np.zeros(len(links)) if c.link_cost is None else np.array(c.link_cost, float)
        for col, w in c.cost_fields.items():
            money += w * links[col].to_numpy(float)
        cost.append((c.value_of_time * links["free_flow_time"].to_numpy(float) + money)[link])
    cap = links["capacity"].to_numpy(float)[link]
    blocked = (~nodes["passable"].to_numpy(bool) if "passable" in nodes
               else np.zeros(len(nodes), bool))
    at = {z: pos[v] for v, z in nodes["zone_id"].dropna().items()}
    pairs = [(k, at[o], at[d], q)
             for k, c in enumerate(classes)
             for (i, o), (j, d) in itertools.product(enumerate(demand.zone_ids), repeat=2)
             if o != d and (q := demand.matrices[c.demand][i, j]) > 0]
    return _Arcs(tail=np.r_[fr, to[both]], head=np.r_[to, fr[both]],
                 key=list(zip(links.index[link], sense, strict=True)), cost=np.array(cost),
                 cap=np.where(np.isnan(cap), np.inf, cap), pce=np.array([c.pce for c in classes]),
                 pen=np.array([pen[c.name] for c in classes]), blocked=blocked, pairs=pairs)


def _reference_lp(p: _Arcs) -> tuple[float, np.ndarray]:
    """The least cost and each arc's capacity dual (money per capacity unit, 0 where uncapped),
    from one commodity per class and OD pair (karvan has one per class and origin), all arcs,
    one linprog call. A pair's unserved demand is one more arc, straight from its origin to its
    destination at the penalty; no flow leaves a blocked node other than the pair's origin."""
    n, m = len(p.blocked), len(p.tail)
    incidence = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)],
                               (np.r_[p.tail, p.head], np.r_[np.arange(m), np.arange(m)])),
                              shape=(n, m))
    capped = np.flatnonzero(np.isfinite(p.cap))
    pick = sp.csr_matrix((np.ones(len(capped)), (np.arange(len(capped)), capped)),
                         shape=(len(capped), m + 1))
    blocks, supply, cost, upper, load = [], [], [], [], []
    for k, o, d, q in p.pairs:
        ends = np.zeros(n)
        ends[[o, d]] = 1.0, -1.0
        blocks.append(sp.hstack([incidence, sp.csr_matrix(ends[:, None])]))
        supply.append(q * ends)
        cost.append(np.r_[p.cost[k], p.pen[k]])
        upper.append(np.r_[np.where(p.blocked[p.tail] & (p.tail != o), 0.0, np.inf), np.inf])
        load.append(p.pce[k] * pick)
    res = linprog(np.concatenate(cost), A_ub=sp.hstack(load), b_ub=p.cap[capped],
                  A_eq=sp.block_diag(blocks), b_eq=np.concatenate(supply),
                  bounds=np.c_[np.zeros(len(p.pairs) * (m + 1)), np.concatenate(upper)],
                  method="highs")
    assert res.status == 0, res.message
    dual = np.zeros(m)
    dual[capped] = -res.ineqlin.marginals
    return res.fun, dual


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_priced_lp_reaches_the_optimum_of_the_whole_lp(seed):
    rng = np.random.default_rng(seed)
    net, zones = _grid(rng)
    q = rng.uniform(0, 6, (len(zones), len(zones))).round(1)
    np.fill_diagonal(q, 0.0)
    pen = 40.0
    r = solve_capacity_lp(net, Demand(tuple(zones), {"demand": q}), [TrafficClass()],
                          unserved_penalty=pen)
    best, _ = _reference_lp(_arcs_of(net, Demand(tuple(zones), {"demand": q}), [TrafficClass()],
                                     {"all": pen}))
    assert r.total_cost == pytest.approx(best, rel=1e-7)
    cap = net.links["capacity"].to_numpy()
    ab = r.volume  # arcs are the links here (directed)
    fin = np.isfinite(cap[r.graph.arc_link])
    assert (ab[fin] <= cap[r.graph.arc_link][fin] * (1 + 1e-6) + 1e-9).all()
    # capacities bind in these draws (and demand is left unserved in two of them): the duals
    # move flow off the first solve's arcs, which the pricing has to let in
    assert (r.shadow_price > 0).sum() >= 5


@pytest.mark.parametrize("seed", range(3))
def test_the_lp_gives_the_same_answer_at_any_scale_of_tonnes(seed):
    """A demand 300 times the corridor's (10^10 t) was called infeasible by HiGHS, whose
    tolerances are absolute: demand and capacities scaled by 10^10 give the unserved demand
    and the cost scaled by 10^10 and the same shadow prices."""
    rng = np.random.default_rng(seed)
    net, zones = _grid(rng)
    q = rng.uniform(0, 6, (len(zones), len(zones))).round(1)
    np.fill_diagonal(q, 0.0)
    k = 1e10
    big = replace(net, links=net.links.assign(capacity=net.links["capacity"] * k))
    r = solve_capacity_lp(net, Demand(tuple(zones), {"demand": q}), [TrafficClass()],
                          unserved_penalty=40.0)
    rk = solve_capacity_lp(big, Demand(tuple(zones), {"demand": q * k}), [TrafficClass()],
                           unserved_penalty=40.0)
    assert rk.total_cost == pytest.approx(r.total_cost * k, rel=1e-7)
    np.testing.assert_allclose(rk.shadow_price, r.shadow_price, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rk.unserved["unserved"].sum(), r.unserved["unserved"].sum() * k,
                               rtol=1e-6)
    assert (r.shadow_price > 0).any()


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


def _two_classes(seed):
    """A random network of 8 nodes and about 20 links, undirected ones and a few parallel pairs
    among them, with tight capacities; zones A-D on four of its nodes, of which B and C are not
    passable, and zone F at the end of a spur from B, so that only B can reach F and F only B
    (every other pair of F is left unserved at the penalty). Two classes: ``a`` (value of time
    1, pce 1, pays the toll) and ``b`` (value of time 3, pce 2.5, pays 0.5 per unit of length
    and a random cost per link), over a demand whose zones are in another order than the
    network's."""
    rng = np.random.default_rng(seed)
    ids = [f"v{i}" for i in range(8)] + ["far"]
    zone = {"v0": "A", "v1": "B", "v2": "C", "v3": "D", "far": "F"}
    nodes = pd.DataFrame({"zone_id": [zone.get(v) for v in ids],
                          "passable": [v not in ("v1", "v2") for v in ids]},
                         index=pd.Index(ids, name="node_id"))
    m = 16
    ends = np.array([rng.choice(8, 2, replace=False) for _ in range(m)])
    ends = np.r_[ends, ends[:3]]  # three parallel links
    n_links = len(ends)
    links = pd.DataFrame({
        "from_node_id": [ids[a] for a in ends[:, 0]] + ["v1"],
        "to_node_id": [ids[b] for b in ends[:, 1]] + ["far"],
        "directed": list(rng.random(n_links) < 0.5) + [False],
        "free_flow_time": list(rng.uniform(0.5, 5, n_links)) + [1.0],
        "capacity": list(np.where(rng.random(n_links) < 0.6, rng.integers(1, 8, n_links),
                                  np.nan)) + [np.nan],
        "toll": list(rng.uniform(0, 3, n_links)) + [0.5],
        "length": list(rng.uniform(1, 10, n_links)) + [2.0],
        "vdf": "constant",
    }, index=pd.Index([f"e{i}" for i in range(n_links)] + ["spur"], name="link_id"))
    zones = tuple(rng.permutation(list(zone.values())))
    # whole numbers, like the capacities: ties, so that some shadow prices are not unique
    a, b = rng.integers(0, 6, (5, 5)).astype(float), rng.integers(0, 3, (5, 5)).astype(float)
    classes = [TrafficClass("a", "a", value_of_time=1.0, pce=1.0, cost_fields={"toll": 1.0}),
               TrafficClass("b", "b", value_of_time=3.0, pce=2.5, cost_fields={"length": 0.5},
                            link_cost=rng.uniform(0, 2, n_links + 1))]
    return Network(nodes, links), Demand(zones, {"a": a, "b": b}), classes, {"a": 30.0, "b": 90.0}


def _price_range(p: _Arcs, a: int, best: float, h: float = 1e-3) -> tuple[float, float]:
    """The range of arc ``a``'s shadow price over the optimal duals: from the saving per unit of
    ``h`` more capacity to the cost per unit of ``h`` less (one-sided differences of the
    reference optimum, exact while no other price changes within ``h``)."""
    def least(cap_a):
        cap = p.cap.copy()
        cap[a] = cap_a
        return _reference_lp(replace(p, cap=cap))[0]

    return (best - least(p.cap[a] + h)) / h, (least(p.cap[a] - h) - best) / h


@pytest.mark.parametrize("seed", range(6))
def test_capacity_lp_equals_an_independent_multicommodity_lp(seed):
    net, demand, classes, pen = _two_classes(seed)
    p = _arcs_of(net, demand, classes, pen)
    best, dual = _reference_lp(p)
    r = solve_capacity_lp(net, demand, classes, unserved_penalty=pen)
    g = r.graph
    at = {(link, int(sense)): a for a, (link, sense) in enumerate(zip(g.link_ids[g.arc_link],
                                                                      g.arc_dir, strict=True))}
    arc = np.array([at[key] for key in p.key])  # karvan's arc of each reference arc
    assert sorted(arc) == list(range(g.n_arcs))
    assert r.total_cost == pytest.approx(best, rel=1e-9)

    # the flows cost what karvan says at the classes' own prices, and respect the capacities
    flows = r.class_flows[:, arc]
    unserved = r.unserved["unserved"] * r.unserved["class"].map(pen)
    assert (p.cost * flows).sum() + unserved.sum() == pytest.approx(best, rel=1e-9)
    volume = p.pce @ flows  # capacity units
    np.testing.assert_allclose(r.volume[arc], volume, rtol=1e-12, atol=1e-12)
    capped = np.isfinite(p.cap)
    assert (volume[capped] <= p.cap[capped] * (1 + 1e-6)).all()
    u = r.unserved.set_index(["class", "origin", "destination"])
    cut_off = u.query("(origin == 'F' and destination != 'B') or "
                      "(destination == 'F' and origin != 'B')")
    np.testing.assert_allclose(cut_off["unserved"], cut_off["demand"])

    # shadow prices, money per capacity unit: the reference's dual, or where the dual is not
    # unique one that is as good
    price = r.shadow_price[arc]
    assert (price[~capped] == 0).all()
    for a in np.flatnonzero(capped):
        if price[a] != pytest.approx(dual[a], rel=1e-7, abs=1e-7):
            low, high = _price_range(p, a, best)
            assert low - 1e-6 <= price[a] <= high + 1e-6, (p.key[a], price[a], low, high)
    # and together they are an optimal dual: the Lagrangian bound they give (capacities priced
    # into the arc costs instead of imposed) reaches the optimum
    priced = replace(p, cost=p.cost + p.pce[:, None] * price, cap=np.full(len(arc), np.inf))
    bound = _reference_lp(priced)[0] - price[capped] @ p.cap[capped]
    assert bound == pytest.approx(best, rel=1e-9)

    # the draw exercises what it is for: capacities that bind at a price on both senses of
    # undirected links (read off the problem, whose optimal duals may be many: a price that one
    # optimal dual sets to 0 is still a binding capacity where less of it costs more), blocked
    # zones and the pce weighing on the optimum, and a pair that capacity leaves partly unserved
    binds = [a for a in np.flatnonzero(capped) if _price_range(p, a, best)[1] > 1e-6]
    assert len(binds) >= 3 and {int(p.key[a][1]) for a in binds} == {1, -1}
    assert _reference_lp(replace(p, blocked=np.zeros_like(p.blocked)))[0] < best - 1
    assert abs(_reference_lp(replace(p, pce=np.ones(2)))[0] - best) > 1
    assert ((u["unserved"] > 1e-6) & (u["unserved"] < u["demand"] - 1e-6)).any()


@pytest.mark.parametrize(("demand_b", "fast_a", "fast_b", "price", "total"),
                         [(4.0, 2.0, 4.0, 2.0, 66.0), (6.0, 0.0, 4.8, 4.0, 92.0)])
def test_toy_shadow_price_is_the_saving_per_capacity_unit(demand_b, fast_a, fast_b, price,
                                                          total):
    """Two links from A to B: fast (time 1, toll 2, 12 capacity units) and slow (time 5, no
    toll, no capacity), 10 units of class a and some of class b, both paying the toll. Class a
    (value of time 1, pce 1) pays 3 on the fast link and 5 on the slow one: it saves 2 per
    capacity unit. Class b (value of time 3, pce 2.5) pays 5 and 15: it saves 10 per unit, 4 per
    capacity unit, so b has the fast link first.

    With 4 units of b (10 capacity units) a has the 2 left and is split between the links: one
    more capacity unit moves one unit of a, the price is 2; total 4 x 5 + 2 x 3 + 8 x 5 = 66.
    With 6 units of b (15 capacity units) b has 12 / 2.5 = 4.8 on the fast link and is split:
    the price is 10 / 2.5 = 4 per capacity unit (not 10 per unit of b); total
    4.8 x 5 + 1.2 x 15 + 10 x 5 = 92."""
    nodes = pd.DataFrame({"zone_id": ["A", "B"]}, index=pd.Index(["A", "B"], name="node_id"))
    links = pd.DataFrame({"from_node_id": "A", "to_node_id": "B", "free_flow_time": [1.0, 5.0],
                          "toll": [2.0, 0.0], "capacity": [12.0, np.nan], "vdf": "constant"},
                         index=pd.Index(["fast", "slow"], name="link_id"))
    classes = [TrafficClass("a", "a", value_of_time=1.0, pce=1.0, cost_fields={"toll": 1.0}),
               TrafficClass("b", "b", value_of_time=3.0, pce=2.5, cost_fields={"toll": 1.0})]
    demand = Demand(("A", "B"), {"a": np.array([[0.0, 10.0], [0.0, 0.0]]),
                                 "b": np.array([[0.0, demand_b], [0.0, 0.0]])})
    r = solve_capacity_lp(Network(nodes, links), demand, classes)
    fast = int(np.flatnonzero(r.graph.link_ids[r.graph.arc_link] == "fast")[0])
    assert r.class_flows[:, fast] == pytest.approx([fast_a, fast_b], abs=1e-9)
    assert r.volume[fast] == pytest.approx(12.0, rel=1e-12)
    assert r.shadow_price[fast] == pytest.approx(price, rel=1e-9)
    assert r.shadow_price[1 - fast] == 0.0
    assert r.total_cost == pytest.approx(total, rel=1e-12)


def _one_pair(links: pd.DataFrame, q: float = 10.0):
    nodes = pd.DataFrame({"zone_id": ["A", "B"]}, index=pd.Index(["A", "B"], name="node_id"))
    links = links.assign(from_node_id="A", to_node_id="B", vdf="constant")
    links.index.name = "link_id"
    return Network(nodes, links), Demand(("A", "B"), {"demand": np.array([[0.0, q], [0.0, 0.0]])})


def test_demand_is_unserved_only_where_the_capacities_cannot_carry_it():
    """The default penalty is derived from the problem: a pair whose only route costs 20,000
    (above the 10,000 the LP used to charge per unit unserved) is carried, and, on 6 units of
    capacity for 10, 4 units are unserved at the penalty 2 x 20,000, the capacity's price
    40,000 - 20,000 set by it."""
    net, d = _one_pair(pd.DataFrame({"free_flow_time": [2e4], "capacity": [np.nan]},
                                    index=["only"]))
    r = solve_capacity_lp(net, d, [TrafficClass()])
    assert r.unserved["unserved"].tolist() == [0.0]
    assert r.class_flows[0].tolist() == pytest.approx([10.0], rel=1e-12)
    assert r.total_cost == pytest.approx(2e5, rel=1e-12)

    net, d = _one_pair(pd.DataFrame({"free_flow_time": [2e4], "capacity": [6.0]},
                                    index=["only"]))
    r = solve_capacity_lp(net, d, [TrafficClass()])
    assert r.unserved[["unserved", "penalty"]].values.tolist() == [[4.0, 4e4]]
    assert r.shadow_price.tolist() == pytest.approx([2e4], rel=1e-9)
    assert r.shadow_price_capped.tolist() == [True]
    # a given penalty prices unserved demand as before: below the route's cost, none is carried
    r = solve_capacity_lp(net, d, [TrafficClass()], unserved_penalty=1e4)
    assert r.unserved["unserved"].tolist() == [10.0]


def test_a_capacity_shows_its_real_price_where_room_can_be_made():
    """Class a may use only the short link (capacity 10, cost 1); class b the short link or a
    detour (cost 100); 10 units each. At the starting penalty, 2 x 1 (both classes' cheapest
    route costs 1), the LP would rather leave a out than move b to the detour. But room can be
    made: the least unserved is 0, so the penalty doubles until it carries a (above 100), b takes
    the detour, and the short link's price is b's saving, 100 - 1 = 99: a real price, not set by
    the penalty (and not the 2 - 1 it would have been)."""
    net, _ = _one_pair(pd.DataFrame({"free_flow_time": [1.0, 100.0],
                                     "capacity": [10.0, np.nan]}, index=["short", "detour"]))
    q = np.array([[0.0, 10.0], [0.0, 0.0]])
    d = Demand(("A", "B"), {"a": q, "b": q})
    classes = [TrafficClass("a", "a"), TrafficClass("b", "b")]
    r = solve_capacity_lp(net, d, classes, closed_links={"a": ["detour"]})
    assert r.unserved["unserved"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(r.class_flows, [[10.0, 0.0], [0.0, 10.0]], atol=1e-9)
    assert r.shadow_price.tolist() == pytest.approx([99.0, 0.0], rel=1e-9)
    assert r.shadow_price_capped.tolist() == [False, False]
    assert r.total_cost == pytest.approx(10.0 + 1000.0, rel=1e-12)


def test_closed_links_name_what_is_not_in_the_problem():
    net, d = _one_pair(pd.DataFrame({"free_flow_time": [1.0], "capacity": [6.0]},
                                    index=["only"]))
    with pytest.raises(InputError) as e:
        solve_capacity_lp(net, d, [TrafficClass()], closed_links={"all": ["nope"], "x": []})
    assert e.value.problems == [
        "closed_links names classes that are not in the problem (x); use the names of the "
        "classes passed.",
        "closed_links of class 'all' names links that are not in the network (nope); use link "
        "ids of its links table."]


@pytest.mark.parametrize("penalty", [None, 100.0, 1e4])
def test_capacities_exactly_full_are_priced_at_the_saving_not_at_the_penalty(penalty):
    """Two links of 5 units each, at costs 1 and 3, for 10 units: demand fills them exactly.
    One more unit on the cheap link saves 3 - 1 = 2; the dear link's saves nothing. The prices
    were the penalty less each route's cost (99 and 97 at a penalty of 100; 3 and 1 at the
    derived 4): the unserved columns, fixed at 0 in the LP that must carry everything, kept
    the penalty as their cost."""
    net, d = _one_pair(pd.DataFrame({"free_flow_time": [1.0, 3.0], "capacity": [5.0, 5.0]},
                                    index=["cheap", "dear"]))
    kw = {} if penalty is None else {"unserved_penalty": penalty}
    r = solve_capacity_lp(net, d, [TrafficClass()], **kw)
    assert r.unserved["unserved"].tolist() == [0.0]
    assert r.total_cost == pytest.approx(20.0, rel=1e-12)
    assert r.shadow_price.tolist() == pytest.approx([2.0, 0.0], abs=1e-9)
    assert not r.shadow_price_capped.any()


@pytest.mark.parametrize("seed", range(4))
def test_a_capacity_both_directions_share_is_one_row_over_both_arcs(seed):
    """A terminal's or a crossing's throughput bounds its two directions together: the LP put
    a bound on each arc, so an undirected link could carry twice its published throughput
    (Astara's terminal 2.83 Mt against 2 Mt). Stated independently: the least cost and duals of
    the whole LP with one row per shared link (scipy), flows within the shared capacities."""
    rng = np.random.default_rng(seed)
    net, zones = _grid(rng)
    # one undirected link per pair of neighbours, every third of the capped ones shared
    links = net.links[net.links.index.str.split(">").map(lambda ab: ab[0] < ab[1])]
    links = links.assign(directed=False, shared=False)
    capped = np.flatnonzero(links["capacity"].notna().to_numpy())
    links.iloc[capped[::3], links.columns.get_loc("shared")] = True
    net = Network(net.nodes, links)
    q = rng.uniform(0, 6, (len(zones), len(zones))).round(1)
    np.fill_diagonal(q, 0.0)
    dem = Demand(tuple(zones), {"demand": q})
    r = solve_capacity_lp(net, dem, [TrafficClass()], unserved_penalty=40.0,
                          both_directions="shared")
    p = _arcs_of(net, dem, [TrafficClass()], {"all": 40.0})
    # the reference: the same LP with the rows of shared links summed over their two arcs
    n, m = len(p.blocked), len(p.tail)
    link_of = [net.links.index.get_loc(lid) for lid, _ in p.key]
    shared = links["shared"].to_numpy()
    row_key = [("link", li) if shared[li] else ("arc", e)
               for e, li in enumerate(link_of) if np.isfinite(p.cap[e])]
    rows = {k: i for i, k in enumerate(dict.fromkeys(row_key))}
    arcs = [e for e in range(m) if np.isfinite(p.cap[e])]
    pick = sp.csr_matrix((np.ones(len(arcs)), ([rows[k] for k in row_key], arcs)),
                         shape=(len(rows), m + 1))
    bound = np.zeros(len(rows))
    for k, e in zip(row_key, arcs, strict=True):
        bound[rows[k]] = p.cap[e]
    incidence = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)],
                               (np.r_[p.tail, p.head], np.r_[np.arange(m), np.arange(m)])),
                              shape=(n, m))
    blocks, supply, cost = [], [], []
    for _k, o, d, qq in p.pairs:
        ends = np.zeros(n)
        ends[[o, d]] = 1.0, -1.0
        blocks.append(sp.hstack([incidence, sp.csr_matrix(ends[:, None])]))
        supply.append(qq * ends)
        cost.append(np.r_[p.cost[0], p.pen[0]])
    ref = linprog(np.concatenate(cost), A_ub=sp.hstack([pick] * len(p.pairs)), b_ub=bound,
                  A_eq=sp.block_diag(blocks), b_eq=np.concatenate(supply),
                  bounds=(0, None), method="highs")
    assert ref.status == 0
    assert r.total_cost == pytest.approx(ref.fun, rel=1e-7)
    g = r.graph
    ab, ba = g.to_links(r.volume)
    cap = links.loc[list(g.link_ids), "capacity"].to_numpy(float)
    sh = links.loc[list(g.link_ids), "shared"].to_numpy(bool)
    fin = np.isfinite(cap)
    assert ((ab + ba)[sh & fin] <= cap[sh & fin] * (1 + 1e-6) + 1e-9).all()
    assert (np.maximum(ab, ba)[~sh & fin] <= cap[~sh & fin] * (1 + 1e-6) + 1e-9).all()
    # a shared row binds in these draws, and its price is the reference's dual of that row
    duals = -ref.ineqlin.marginals
    price_ab, price_ba = g.to_links(r.shadow_price)
    for (kind, li), i in rows.items():
        if kind == "link":
            j = list(g.link_ids).index(links.index[li])
            assert price_ab[j] == pytest.approx(duals[i], abs=1e-6)
            assert price_ba[j] == pytest.approx(duals[i], abs=1e-6)
    assert any(duals[i] > 1e-6 for (kind, _), i in rows.items() if kind == "link")


def test_the_lp_writes_nothing_on_standard_output():
    """HiGHS's banner went to the process's standard output (below sys.stdout) with the first
    LP of a process: into `karvan run`'s summary and answers on stdout. A fresh process, since
    it came once per process."""
    import subprocess
    import sys

    code = ("import numpy as np, pandas as pd\n"
            "from karvan.assign.capacity import solve_capacity_lp\n"
            "from karvan.assign.classes import TrafficClass\n"
            "from karvan.network.demand import Demand\n"
            "from karvan.network.model import Network\n"
            "nodes = pd.DataFrame({'zone_id': ['A', 'B']}, index=pd.Index(['A', 'B'], "
            "name='node_id'))\n"
            "links = pd.DataFrame({'from_node_id': ['A', 'A'], 'to_node_id': ['B', 'B'], "
            "'free_flow_time': [1.0, 3.0], 'capacity': [6.0, np.nan], 'vdf': 'constant'}, "
            "index=pd.Index(['cheap', 'dear'], name='link_id'))\n"
            "d = Demand(('A', 'B'), {'demand': np.array([[0.0, 10.0], [0.0, 0.0]])})\n"
            "r = solve_capacity_lp(Network(nodes, links), d, [TrafficClass()])\n"
            "assert abs(r.shadow_price[0] - 2.0) < 1e-9\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout == "" and out.stderr == ""


@pytest.mark.parametrize("seed", range(6, 12))
def test_a_price_is_marked_as_set_by_the_penalty_only_where_it_moves_with_it(seed):
    """shadow_price_capped, at the derived penalty: a capacity whose range of optimal prices
    is the same at the penalty and at twice it (one-sided differences of the reference LP) is
    not marked. The LP at twice the penalty started from the basis of the LP of least unserved
    demand, whose prices are another matter, and marked capacities priced at 0 (draw 8)."""
    net, demand, classes, _ = _two_classes(seed)
    r = solve_capacity_lp(net, demand, classes)
    pen = {c: float(v) for c, v in r.unserved.groupby("class")["penalty"].first().items()}
    assert (r.unserved["unserved"] > 1e-6).any()  # the penalty is in play
    g = r.graph
    at = {(link, int(sense)): a for a, (link, sense) in enumerate(zip(g.link_ids[g.arc_link],
                                                                      g.arc_dir, strict=True))}
    p1 = _arcs_of(net, demand, classes, pen)
    p2 = _arcs_of(net, demand, classes, {k: 2 * v for k, v in pen.items()})
    best1, best2 = _reference_lp(p1)[0], _reference_lp(p2)[0]
    wrong = []
    for a in np.flatnonzero(np.isfinite(p1.cap)):
        arc = at[p1.key[a]]
        if r.shadow_price_capped[arc]:
            r1 = np.array(_price_range(p1, a, best1))
            r2 = np.array(_price_range(p2, a, best2))
            if np.allclose(r1, r2, rtol=0, atol=1e-6):
                wrong.append((p1.key[a], float(r.shadow_price[arc]), r1.round(4).tolist()))
    assert not wrong, wrong
