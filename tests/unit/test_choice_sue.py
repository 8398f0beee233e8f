"""Path-size logit and the stochastic user equilibrium: closed forms on hand-solved networks,
the fixed point at the reported gap, invariants, and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, TrafficClass, assign, compile_graph, read_tntp
from karvan.choice import (
    RouteOptions,
    deterministic_equilibrium,
    generate_route_sets,
    logit_loading,
    stochastic_equilibrium,
)
from karvan.errors import ConvergenceWarning, InputError
from tests import naive


def overlap_network(vdf="constant"):
    """O -> A (1), then A -> D (2) or A -> B -> D (1 + 1); or O -> D directly (4).

    Routes: r1 = (oa, ad) cost 3, r2 = (oa, ab, bd) cost 3, r3 = (od) cost 4; r1 and r2 share oa.
    With the free-flow cost as the arc weight, PS(r1) = 1/3 * 1/2 + 2/3 = 5/6, PS(r2) = 1/3 *
    1/2 + 1/3 + 1/3 = 5/6, PS(r3) = 1.
    """
    nodes = pd.DataFrame({"zone_id": ["O", None, None, "D"]},
                         index=pd.Index(["O", "A", "B", "D"], name="node_id"))
    links = pd.DataFrame({"from_node_id": ["O", "A", "A", "B", "O"],
                          "to_node_id": ["A", "D", "B", "D", "D"],
                          "free_flow_time": [1.0, 2.0, 1.0, 1.0, 4.0],
                          "length": [5.0, 1.0, 1.0, 1.0, 10.0],
                          "capacity": [10.0, 10.0, 10.0, 10.0, 10.0],
                          "alpha": 0.5, "beta": 2.0, "vdf": vdf},
                         index=pd.Index(["oa", "ad", "ab", "bd", "od"], name="link_id"))
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 12.0], [0.0, 0.0]])})
    return Network(nodes, links), dem


def routes_by_links(res):
    tab = res.route_table()
    return {tuple(r.links): r for r in tab.itertuples()}


@pytest.mark.parametrize("theta", [0.3, 1.0, 2.5])
def test_path_size_logit_equals_the_closed_form(theta):
    net, dem = overlap_network()
    res = logit_loading(net, dem, theta=theta, routes=RouteOptions(max_routes=5))
    got = routes_by_links(res)
    assert set(got) == {("oa", "ad"), ("oa", "ab", "bd"), ("od",)}
    w = [5 / 6 * math.exp(-3 * theta), 5 / 6 * math.exp(-3 * theta), math.exp(-4 * theta)]
    p = [x / sum(w) for x in w]
    for key, pk in zip([("oa", "ad"), ("oa", "ab", "bd"), ("od",)], p, strict=True):
        assert got[key].probability == pytest.approx(pk, rel=1e-12)
        assert got[key].flow == pytest.approx(12 * pk, rel=1e-12)
    flow = res.link_table().set_index("link_id")["flow"]
    assert flow["oa"] == pytest.approx(12 * (p[0] + p[1]), rel=1e-12)
    assert flow["ab"] == pytest.approx(12 * p[1], rel=1e-12)


def test_path_size_by_length_and_plain_logit():
    net, dem = overlap_network()
    # lengths: r1 = 5 + 1 -> PS = 5/6 * 1/2 + 1/6 = 7/12; r2 = 5 + 1 + 1 -> 5/7 * 1/2 + 2/7
    # = 9/14; r3 = 1
    res = logit_loading(net, dem, theta=1.0, overlap="length")
    got = routes_by_links(res)
    w = {("oa", "ad"): 7 / 12 * math.exp(-3), ("oa", "ab", "bd"): 9 / 14 * math.exp(-3),
         ("od",): math.exp(-4)}
    for key, wk in w.items():
        assert got[key].probability == pytest.approx(wk / sum(w.values()), rel=1e-12)
    # beta 0: multinomial logit over the same routes
    res = logit_loading(net, dem, theta=1.0, beta=0.0)
    got = routes_by_links(res)
    e = 2 * math.exp(-3) + math.exp(-4)
    assert got[("od",)].probability == pytest.approx(math.exp(-4) / e, rel=1e-12)


def test_path_sizes_equal_the_obvious_formula_on_random_route_sets():
    from tests.unit.test_choice_routes import random_network

    for seed in range(5):
        net, dem = random_network(seed)
        res = logit_loading(net, dem, theta=0.4, routes=RouteOptions(max_routes=6))
        rs = res.route_set
        g = compile_graph(net)
        for w in range(rs.n_od):
            idx = list(range(rs.od_ptr[w], rs.od_ptr[w + 1]))
            routes = [rs.arcs(r).tolist() for r in idx]
            ps = naive.path_sizes(routes, g.free_flow_time)
            costs = [naive.path_cost(r, g.free_flow_time) for r in routes]
            want = naive.logit_shares(costs, ps, 0.4)
            assert res.route_share[idx] == pytest.approx(want, rel=1e-10)


def test_congested_sue_on_a_hand_solved_network():
    # two parallel links t = 1 + x / 10 and t = 2 + x / 10, 20 units, theta 1, no overlap:
    # x1 / x2 = exp(-(t1 - t2)) with x1 + x2 = 20; solved below by bisection on x1
    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
                          "free_flow_time": [1.0, 2.0], "capacity": [10.0, 20.0],
                          "alpha": [1.0, 0.5], "beta": [1.0, 1.0]},
                         index=pd.Index(["a", "b"], name="link_id"))
    dem = Demand((1, 2), {"demand": np.array([[0.0, 20.0], [0.0, 0.0]])})

    def excess(x1):
        t1 = 1.0 + x1 / 10.0
        t2 = 2.0 * (1.0 + 0.5 * (20.0 - x1) / 20.0)
        return x1 - 20.0 / (1.0 + math.exp(-(t2 - t1)))

    lo, hi = 0.0, 20.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
    for method in ("newton", "msa"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = stochastic_equilibrium(Network(nodes, links), dem, theta=1.0, method=method,
                                         gap=1e-12, max_iter=3000)
        tol = 1e-9 if method == "newton" else 1e-3
        assert res.flow[0] == pytest.approx(lo, abs=tol * 20)
    assert res.link_table()["time"].iloc[0] == pytest.approx(1.0 + res.flow[0] / 10.0)


@pytest.fixture(scope="module")
def sioux(tntp_dir):
    return read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")


@pytest.fixture(scope="module")
def sue(sioux):
    return stochastic_equilibrium(sioux.network, sioux.demand, theta=0.5, gap=1e-7)


def test_sue_fixed_point_holds_at_the_reported_gap(sioux, sue):
    """Independent check: times from the returned link flows with the BPR formula, route costs
    by summing arcs, path sizes and shares by the obvious formulas; the route flows differ from
    that loading by at most the reported gap, and the link flows are the sum of the route
    flows."""
    res = sue
    assert res.converged and res.gap <= 1e-7
    g = res.graph
    rs = res.route_set
    t = np.array([naive.time(v, g.free_flow_time[a], g.capacity[a], g.alpha[a], g.beta[a],
                             g.vdf[a]) for a, v in enumerate(res.flow)])
    assert res.time == pytest.approx(t, rel=1e-12)
    load = np.zeros(g.n_arcs)
    dist = 0.0
    for w in range(rs.n_od):
        idx = list(range(rs.od_ptr[w], rs.od_ptr[w + 1]))
        routes = [rs.arcs(r).tolist() for r in idx]
        ps = naive.path_sizes(routes, g.free_flow_time)
        y = np.array(naive.logit_shares([t[r].sum() for r in routes], ps, 0.5)) * rs.od_demand[w]
        h = res.route_flow[idx]
        assert h.sum() == pytest.approx(rs.od_demand[w], rel=1e-12)
        dist += np.abs(h - y).sum()
        for r, f in zip(routes, h, strict=True):
            load[r] += f
    assert load == pytest.approx(res.flow, rel=1e-9, abs=1e-9)
    assert dist / (2 * rs.od_demand.sum()) <= res.gap * (1 + 1e-6) + 1e-14
    assert res.gap == pytest.approx(dist / (2 * rs.od_demand.sum()), rel=1e-3)


def test_newton_lowers_the_objective_at_every_iteration(sue):
    obj = sue.convergence["objective"].to_numpy()
    routes = sue.convergence["routes"].to_numpy()
    # while the route sets stay as they are, every sweep lowers Fisk's objective
    same = routes[1:] == routes[:-1]
    rise = np.diff(obj)[same]
    assert (rise <= 1e-9 * np.abs(obj[1:][same])).all()


def test_route_sets_grow_until_every_least_cost_route_is_in(sioux, sue):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    g = sue.graph
    rs = sue.route_set
    m = csr_matrix((sue.cost, (g.tail, g.head)), shape=(g.n_nodes, g.n_nodes))
    dist = dijkstra(m, indices=g.zone_nodes)
    best = np.full(rs.n_od, np.inf)
    np.minimum.at(best, rs.route_od, sue.route_cost)
    sp = dist[rs.od_origin, g.zone_nodes[rs.od_destination]]
    assert best == pytest.approx(sp, rel=1e-9)


def test_deterministic_limit_equals_algorithm_b(sioux):
    det = deterministic_equilibrium(sioux.network, sioux.demand, gap=1e-11)
    ue = assign(sioux.network, sioux.demand, gap=1e-13)
    assert det.converged and det.gap <= 1e-11
    # the link flows of a relative gap of 1e-11 agree to ~1e-3 vehicles on flows of ~1e4
    assert np.abs(det.flow - ue.flow).max() <= 1e-2


def test_classes_with_their_own_theta_and_costs():
    net, _ = overlap_network(vdf="bpr")
    m = np.array([[0.0, 12.0], [0.0, 0.0]])
    dem = Demand(("O", "D"), {"cars": m, "trucks": m / 2})
    classes = [TrafficClass("cars", "cars"),
               TrafficClass("trucks", "trucks", pce=2.5, value_of_time=2.0,
                            cost_fields={"length": 1.0})]
    res = stochastic_equilibrium(net, dem, classes=classes, theta={"cars": 1.0, "trucks": 0.2},
                                 gap=1e-10)
    assert res.converged
    rs = res.route_set
    # each class's flows are its own logit loading at its own costs (trucks pay length / 2)
    for w in range(rs.n_od):
        idx = list(range(rs.od_ptr[w], rs.od_ptr[w + 1]))
        k = rs.od_class[w]
        cost = res.class_costs[k]
        routes = [rs.arcs(r).tolist() for r in idx]
        ps = naive.path_sizes(routes, res.class_costs[k] - res.time + res.graph.free_flow_time)
        th = [1.0, 0.2][k]
        y = np.array(naive.logit_shares([cost[r].sum() for r in routes], ps, th))
        assert res.route_flow[idx] / rs.od_demand[w] == pytest.approx(y, abs=1e-8)
    assert res.volume == pytest.approx(res.class_flows[0] + 2.5 * res.class_flows[1])


@pytest.mark.parametrize("theta", [0.0, -1.0, float("nan"), float("inf"), "x"])
def test_theta_must_be_positive_and_finite(theta):
    net, dem = overlap_network()
    with pytest.raises(InputError, match="theta"):
        stochastic_equilibrium(net, dem, theta=theta)


def test_theta_per_class_names_known_classes():
    net, dem = overlap_network()
    with pytest.raises(InputError, match="unknown classes"):
        stochastic_equilibrium(net, dem, theta={"all": 1.0, "lorries": 2.0})
    with pytest.raises(InputError, match="missing"):
        stochastic_equilibrium(net, dem, theta={})


def test_a_route_set_without_routes_for_an_od_pair_with_demand_is_refused():
    net, dem = overlap_network()
    nodes = net.nodes.copy()
    nodes.loc["A", "zone_id"] = "A"
    net2 = Network(nodes, net.links)
    dem_a = Demand(("O", "A", "D"), {"demand": np.array([[0, 0, 12.0], [0, 0, 0], [0, 0, 0]])})
    rs = generate_route_sets(net2, dem_a)
    more = Demand(("O", "A", "D"), {"demand": np.array([[0, 3.0, 12.0], [0, 0, 0], [0, 0, 0]])})
    with pytest.raises(InputError, match="empty route set"):
        stochastic_equilibrium(net2, more, theta=1.0, routes=rs)


def test_other_bad_options_are_input_errors():
    net, dem = overlap_network()
    with pytest.raises(InputError, match="method"):
        stochastic_equilibrium(net, dem, theta=1.0, method="fw")
    with pytest.raises(InputError, match="overlap"):
        stochastic_equilibrium(net, dem, theta=1.0, overlap="time")
    with pytest.raises(InputError, match="beta"):
        stochastic_equilibrium(net, dem, theta=1.0, beta=-1.0)
    for gap in (-1.0, float("nan"), float("inf"), 10**400, "1e-4"):  # inf: "converged" at once
        with pytest.raises(InputError, match="gap must be a finite number >= 0"):
            stochastic_equilibrium(net, dem, theta=1.0, gap=gap)
    from fractions import Fraction  # a real number that numpy's isfinite does not take

    assert stochastic_equilibrium(net, dem, theta=1.0, gap=Fraction(1, 10**6)).converged


@pytest.mark.parametrize("with_capacity", [False, True])
def test_zero_demand_gives_an_empty_equilibrium(with_capacity):
    """No OD pair with demand: converged, nothing loaded (a ValueError from the column
    generation and a ZeroDivisionError from the capacities' scale before)."""
    from karvan.choice import Capacities
    from karvan.choice.equilibrium import deterministic_equilibrium

    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
                          "free_flow_time": [1.0, 3.0], "vdf": "constant"},
                         index=pd.Index(["l0", "l1"], name="link_id"))
    net = Network(nodes, links)
    dem = Demand((1, 2), {"demand": np.zeros((2, 2))})
    cap = (Capacities(pd.DataFrame({"link_id": ["l0"], "direction": ["ab"], "capacity": [5.0]}))
           if with_capacity else None)
    r = stochastic_equilibrium(net, dem, theta=1.0, capacities=cap)
    assert r.converged and not r.volume.any()
    if not with_capacity:
        d = deterministic_equilibrium(net, dem)
        assert d.converged and not d.volume.any()


def test_a_class_faster_than_the_link_time_is_taken_where_its_cost_stays_non_negative():
    # od's free-flow time is 4; a class whose money cost there is -2.5 (at value of time 1: a
    # class that crosses od 2.5 h faster) sees od at 1.5 against 3 for r1 and r2
    net, dem = overlap_network()
    net.links["faster"] = [0.0, 0.0, 0.0, 0.0, -2.5]
    cls = [TrafficClass(cost_fields={"faster": 1.0})]
    ue = assign(net, dem, classes=cls)
    flow = dict(zip(ue.link_table()["link_id"], ue.link_table()["flow"], strict=True))
    assert flow["od"] == pytest.approx(12.0)
    assert flow["oa"] == pytest.approx(0.0, abs=1e-9)
    res = logit_loading(net, dem, theta=1.0, classes=cls, routes=RouteOptions(max_routes=5))
    got = routes_by_links(res)
    w = [5 / 6 * math.exp(-3), 5 / 6 * math.exp(-3), math.exp(-1.5)]
    assert got[("od",)].probability == pytest.approx(w[2] / sum(w), rel=1e-12)
    # below minus the free-flow time the cost at free flow is negative: refused, by both
    net.links["faster"] = [0.0, 0.0, 0.0, 0.0, -4.5]
    with pytest.raises(InputError, match="negative cost at free flow.*od"):
        assign(net, dem, classes=cls)
    with pytest.raises(InputError, match="negative cost at free flow.*od"):
        logit_loading(net, dem, theta=1.0, classes=cls)
