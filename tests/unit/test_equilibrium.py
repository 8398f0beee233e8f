"""User-equilibrium assignment against hand-solved networks, the Braess example, path enumeration
(tests/naive.py) and an independent recomputation of the reported gap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import karvan
from karvan import Demand, InputError, KarvanError, Network, NoPathError, TrafficClass, assign
from karvan.errors import ConvergenceWarning
from tests import naive
from tests.conftest import TNTP  # noqa: E402

BRAESS = TNTP / "Braess-Example" / "Braess_net.tntp"
SIOUX_FALLS = TNTP / "SiouxFalls" / "SiouxFalls_net.tntp"

TIGHT_GAP = 1e-10
# kernel and naive sums of the same terms in different orders
REL_TOL = 1e-9
# Beckmann's objective may not rise by more than rounding between iterations
OBJECTIVE_RISE_TOL = 1e-11


def make_network(links: list[dict], zones: dict[int, int], passable: dict[int, bool] | None = None
                 ) -> Network:
    """Nodes from the links' ends; ``zones`` maps node id -> zone id."""
    df = pd.DataFrame(links).set_index("link_id")
    node_ids = sorted(set(df["from_node_id"]) | set(df["to_node_id"]) | set(zones))
    nodes = pd.DataFrame(
        {"zone_id": pd.array([zones.get(i) for i in node_ids], dtype="Int64")},
        index=pd.Index(node_ids, name="node_id"),
    )
    if passable is not None:
        nodes["passable"] = [passable.get(i, True) for i in node_ids]
    return Network(nodes, df)


def od(zones, cells: dict[tuple, float], name="demand") -> Demand:
    m = np.zeros((len(zones), len(zones)))
    for (o, d), q in cells.items():
        m[zones.index(o), zones.index(d)] = q
    return Demand(tuple(zones), {name: m})


def linear_link(link_id, a, b, intercept, slope, **extra) -> dict:
    """A BPR link with beta = 1: t = intercept + slope * v (fft = intercept, cap = 1,
    alpha = slope / intercept)."""
    return {"link_id": link_id, "from_node_id": a, "to_node_id": b, "free_flow_time": intercept,
            "capacity": 1.0, "alpha": slope / intercept, "beta": 1.0, **extra}


def link_flows(result) -> pd.Series:
    return result.link_summary()["flow_tot"]


def graph_lists(g):
    return g.n_nodes, g.tail, g.head, g.blocked


# ----------------------------------------------------------------------------- two routes

# Route a: t_a = A_a + B_a f_a, route b: t_b = A_b + B_b f_b, demand D from zone 1 to zone 2.
# With both routes used their times are equal: A_a + B_a f_a = A_b + B_b (D - f_a), so
# f_a = (A_b - A_a + B_b D) / (B_a + B_b); if that falls outside [0, D] only one route is used.
TWO_ROUTE = {"A_a": 10.0, "B_a": 1.0, "A_b": 20.0, "B_b": 0.5}


def two_route_network(**extra_b) -> Network:
    p = TWO_ROUTE
    return make_network(
        [linear_link("a", 1, 2, p["A_a"], p["B_a"]), linear_link("b", 1, 2, p["A_b"], p["B_b"],
                                                                 **extra_b)],
        {1: 1, 2: 2},
    )


def two_route_answer(demand: float) -> tuple[float, float]:
    p = TWO_ROUTE
    fa = (p["A_b"] - p["A_a"] + p["B_b"] * demand) / (p["B_a"] + p["B_b"])
    fa = min(max(fa, 0.0), demand)
    return fa, demand - fa


@pytest.mark.parametrize("demand", [5.0, 30.0, 90.0])  # one route used, then both
def test_two_routes_equal_times(demand):
    r = assign(two_route_network(), od([1, 2], {(1, 2): demand}), gap=TIGHT_GAP)
    fa, fb = two_route_answer(demand)
    flows = link_flows(r)
    np.testing.assert_allclose([flows["a"], flows["b"]], [fa, fb], rtol=1e-6, atol=1e-6)
    t = dict(zip(r.link_table()["link_id"], r.link_table()["time"], strict=True))
    if fb > 0:
        assert math.isclose(t["a"], t["b"], rel_tol=1e-6)
    else:
        assert t["a"] <= t["b"]


@pytest.mark.parametrize(("method", "target"),
                         [("msa", 1e-4), ("fw", 1e-6), ("cfw", 1e-8), ("bfw", 1e-8)])
def test_every_method_converges(method, target):
    """Each method reaches its target, and then the flows are as close to the analytic answer as
    that gap allows: TSTT - SPTT = f_x (t_x - t_min) for the dearer route x, and
    t_a - t_b = (B_a + B_b) (f_a - f_a*), so |f_a - f_a*| = gap SPTT / (f_x (B_a + B_b))."""
    demand = 30.0
    r = assign(two_route_network(), od([1, 2], {(1, 2): demand}), method=method, gap=target,
               max_iter=20_000)
    assert r.converged
    assert r.gap <= target
    fa, fb = two_route_answer(demand)
    flows = link_flows(r)
    t = r.time
    sptt = demand * t.min()
    f_dear = r.flow[np.argmax(t)]
    bound = r.gap * sptt / (f_dear * (TWO_ROUTE["B_a"] + TWO_ROUTE["B_b"]))
    assert abs(flows["a"] - fa) <= bound * (1 + 1e-6) + 1e-9


def test_aon_method_is_exact_without_congestion_and_reports_its_gap_with_it():
    net = two_route_network()
    free = Network(net.nodes, net.links.assign(vdf="constant"))
    d = od([1, 2], {(1, 2): 30.0})
    r = assign(free, d, method="aon", gap=0.0)
    assert r.converged and r.gap == 0.0
    np.testing.assert_array_equal(link_flows(r), [30.0, 0.0])
    # congested: everything on a (t_a = 10 + 30 = 40) while t_b = 20, so
    # gap = (30 * 40 - 30 * 20) / (30 * 20) = 1. All-or-nothing is not expected to converge and
    # does not warn (warnings are errors in this suite).
    r = assign(net, d, method="aon")
    assert not r.converged and r.iterations == 0
    assert r.gap == pytest.approx(1.0, rel=1e-12)


# ----------------------------------------------------------------------------- Braess


BRAESS_UE = {1: 4.0, 2: 2.0, 3: 2.0, 4: 2.0, 5: 4.0}  # link_id (1->3, 1->4, 3->2, 3->4, 4->2)
BRAESS_COST = 92.0
BRAESS_COST_WITHOUT_3_4 = 83.0
BRAESS_FLOW_TOL = 1e-4


def path_costs(r, o_id, d_id):
    g = r.graph
    o, d = g.node_index([o_id, d_id])
    return [naive.path_cost(p, r.time)
            for p in naive.simple_paths(g.n_nodes, g.tail, g.head, g.blocked, o, d)]


@pytest.mark.tntp
@pytest.mark.parametrize("method", ["msa", "fw", "cfw", "bfw"])
def test_braess_equilibrium(method):
    prob = karvan.read_tntp(BRAESS)
    r = assign(prob.network, prob.demand, method=method, gap=1e-8, max_iter=5000)
    flows = link_flows(r)
    for link_id, f in BRAESS_UE.items():
        assert flows[link_id] == pytest.approx(f, abs=BRAESS_FLOW_TOL)
    costs = path_costs(r, 1, 2)
    assert len(costs) == 3
    np.testing.assert_allclose(costs, BRAESS_COST, rtol=1e-5)


@pytest.mark.tntp
def test_braess_paradox_removing_a_link_helps_everyone():
    prob = karvan.read_tntp(BRAESS)
    links = prob.network.links
    without = prob.network.with_links(links[~((links.from_node_id == 3) & (links.to_node_id == 4))])
    r = assign(without, prob.demand, gap=1e-10)
    np.testing.assert_allclose(link_flows(r), 3.0, atol=BRAESS_FLOW_TOL)
    costs = path_costs(r, 1, 2)
    assert len(costs) == 2
    np.testing.assert_allclose(costs, BRAESS_COST_WITHOUT_3_4, rtol=1e-6)
    assert BRAESS_COST_WITHOUT_3_4 < BRAESS_COST


# ----------------------------------------------------------------------------- random grids

GRID_SIDE = 3


def grid_network(rng, side=GRID_SIDE) -> tuple[Network, list[int]]:
    """A side x side grid of two-way BPR links with random parameters; the corner nodes and the
    centre are zones (zone id = node id). Random free-flow times make shortest paths unique."""
    links = []
    node = lambda r, c: r * side + c + 1  # noqa: E731
    k = 0
    for r in range(side):
        for c in range(side):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < side and c + dc < side:
                    for a, b in ((node(r, c), node(r + dr, c + dc)),
                                 (node(r + dr, c + dc), node(r, c))):
                        k += 1
                        links.append({"link_id": k, "from_node_id": a, "to_node_id": b,
                                      "free_flow_time": rng.uniform(1.0, 5.0),
                                      "capacity": rng.uniform(5.0, 20.0),
                                      "alpha": rng.uniform(0.1, 1.0),
                                      "beta": float(rng.choice([1.0, 2.0, 4.0]))})
    zone_nodes = [node(0, 0), node(0, side - 1), node(side - 1, 0), node(side - 1, side - 1),
                  node(side // 2, side // 2)]
    return make_network(links, {z: z for z in zone_nodes}), zone_nodes


def random_demand(rng, zones, origins=None) -> Demand:
    m = rng.uniform(0.0, 20.0, (len(zones), len(zones)))
    if origins is not None:
        keep = np.isin(zones, origins)
        m[~keep] = 0.0
    return Demand(tuple(zones), {"demand": m})


GRID_SETTINGS = settings(max_examples=15, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])


@GRID_SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_used_paths_are_shortest_on_random_grid(seed):
    """Demand from one origin to every other zone: every path made of loaded arcs is a used path
    of some decomposition of the flows, and at equilibrium each one costs (nearly) the least."""
    rng = np.random.default_rng(seed)
    net, zones = grid_network(rng)
    d = random_demand(rng, zones, origins=[zones[0]])
    r = assign(net, d, gap=TIGHT_GAP, max_iter=2000)
    g = r.graph
    o = g.node_index(zones[0])[0]
    flow_tol = 1e-6 * d.total()
    for z in zones[1:]:
        paths = naive.simple_paths(g.n_nodes, g.tail, g.head, g.blocked, o, g.node_index(z)[0])
        assert naive.used_path_excess(paths, r.time, r.flow, flow_tol) <= 1e-6


def naive_gap(r, demand: Demand):
    """(TSTT - SPTT) / SPTT and (TSTT - SPTT) / demand of a one-class result, from naive times
    and naive all-or-nothing; also checks the reported times and objective."""
    g = r.graph
    params = list(zip(g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf, strict=True))
    times = np.array([naive.time(v, *p) for v, p in zip(r.volume, params, strict=True)])
    np.testing.assert_allclose(r.time, times, rtol=1e-12)
    objective = sum(naive.time_integral(v, *p) for v, p in zip(r.volume, params, strict=True))
    assert r.objective == pytest.approx(objective, rel=REL_TOL)
    origins = g.zone_nodes[g.zone_index(list(demand.zone_ids))]
    m = demand.matrices["demand"]
    gap, tstt, sptt = naive.relative_gap(g.n_nodes, g.tail, g.head, times, g.blocked, origins,
                                         origins, m, r.flow)
    intrazonal = np.trace(m)
    return gap, (tstt - sptt) / (m.sum() - intrazonal)


@GRID_SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from(["msa", "fw", "cfw", "bfw"]),
       st.integers(1, 30))
def test_reported_gap_equals_naive_recomputation(seed, method, max_iter):
    rng = np.random.default_rng(seed)
    net, zones = grid_network(rng)
    d = random_demand(rng, zones)
    with pytest.warns(ConvergenceWarning):  # gap 0 is not reached: stop at max_iter
        r = assign(net, d, method=method, gap=0.0, max_iter=max_iter)
    gap, aec = naive_gap(r, d)
    assert r.gap == pytest.approx(gap, rel=REL_TOL, abs=1e-13)
    assert r.aec == pytest.approx(aec, rel=REL_TOL, abs=1e-13)
    assert r.convergence["relative_gap"].iloc[-1] == r.gap
    assert r.iterations == max_iter


@pytest.mark.parametrize("method", ["fw", "cfw", "bfw"])
@pytest.mark.parametrize("source", ["grid", pytest.param("sioux_falls", marks=pytest.mark.tntp)])
def test_objective_never_rises(method, source):
    if source == "grid":
        rng = np.random.default_rng(7)
        net, zones = grid_network(rng, side=4)
        d = random_demand(rng, zones)
    else:
        prob = karvan.read_tntp(SIOUX_FALLS)
        net, d = prob.network, prob.demand
    with pytest.warns(ConvergenceWarning):
        r = assign(net, d, method=method, gap=0.0, max_iter=60)
    obj = r.convergence["objective"].to_numpy()
    rises = np.diff(obj)
    assert (rises <= OBJECTIVE_RISE_TOL * np.abs(obj[1:])).all(), rises.max()
    assert obj[-1] < obj[0]


# ----------------------------------------------------------------------------- classes and costs


def test_two_classes_with_value_of_time_and_pce():
    """Cars (value of time 1, pce 1, 30 units) and trucks (value of time 4, pce 2, 5 units)
    share route a (t_a = 10 + v_a, toll 5) and route b (t_b = 20 + v_b, free); v in pce.

    Generalized cost in time units is t + toll / value_of_time: 5 for cars, 1.25 for trucks.
    Guess: trucks all on a, cars split with x on a. Cars are indifferent:
        10 + (2 * 5 + x) + 5 = 20 + (30 - x)  =>  x = 12.5,
    so v_a = 22.5, t_a = 32.5, v_b = 17.5, t_b = 37.5; cars pay 37.5 either way. Trucks pay
    32.5 + 1.25 = 33.75 on a < 37.5 on b, so the guess is an equilibrium; the link volumes of an
    equilibrium are unique (the objective is strictly convex in them), hence so are these flows.
    """
    net = make_network([linear_link("a", 1, 2, 10.0, 1.0, toll=5.0),
                        linear_link("b", 1, 2, 20.0, 1.0, toll=0.0)], {1: 1, 2: 2})
    zones = (1, 2)
    d = Demand(zones, {"car": np.array([[0.0, 30.0], [0.0, 0.0]]),
                       "truck": np.array([[0.0, 5.0], [0.0, 0.0]])})
    classes = [TrafficClass("car", "car", value_of_time=1.0, pce=1.0, cost_fields={"toll": 1.0}),
               TrafficClass("truck", "truck", value_of_time=4.0, pce=2.0,
                            cost_fields={"toll": 1.0})]
    r = assign(net, d, classes=classes, gap=TIGHT_GAP)
    table = r.link_table().set_index("link_id")
    np.testing.assert_allclose(table.loc[["a", "b"], "flow_car"], [12.5, 17.5], rtol=1e-6)
    np.testing.assert_allclose(table.loc[["a", "b"], "flow_truck"], [5.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(table.loc[["a", "b"], "volume"], [22.5, 17.5], rtol=1e-6)
    np.testing.assert_allclose(table.loc[["a", "b"], "time"], [32.5, 37.5], rtol=1e-6)
    np.testing.assert_allclose(table.loc[["a", "b"], "cost_car"], [37.5, 37.5], rtol=1e-6)
    np.testing.assert_allclose(table.loc[["a", "b"], "cost_truck"], [33.75, 37.5], rtol=1e-6)


TOLL_FREE_TIME = 15.0
TOLLED_TIME = 10.0


def toll_network(toll: float) -> Network:
    # route a is faster and tolled; at full demand route b's time is below a's toll
    return make_network([linear_link("a", 1, 2, TOLLED_TIME, 0.1, toll=toll),
                         linear_link("b", 1, 2, TOLL_FREE_TIME, 0.1, toll=0.0)], {1: 1, 2: 2})


def test_large_toll_sends_a_costed_class_to_the_free_route():
    demand = 10.0
    big = 10 * (TOLL_FREE_TIME + 0.1 * demand)
    net = toll_network(big)
    d = od([1, 2], {(1, 2): demand})
    ignores = assign(net, d, gap=TIGHT_GAP)  # toll_factor 0: the toll is not a cost
    assert link_flows(ignores)["a"] == pytest.approx(demand)
    cls = TrafficClass("all", "demand", cost_fields={"toll": 1.0})
    for r in (assign(net, d, classes=[cls], gap=TIGHT_GAP),
              assign(net, d, toll_factor=1.0, gap=TIGHT_GAP)):
        assert link_flows(r)["b"] == pytest.approx(demand)
        assert link_flows(r)["a"] == 0.0


# ----------------------------------------------------------------------------- stopping and errors


def test_strict_raises_and_otherwise_warns_when_not_converged():
    net, zones = grid_network(np.random.default_rng(3))
    d = random_demand(np.random.default_rng(4), zones)
    with pytest.raises(KarvanError, match="stopped after 1 iterations"):
        assign(net, d, method="fw", gap=1e-12, max_iter=1, strict=True)
    with pytest.warns(ConvergenceWarning, match="stopped after 1 iterations"):
        r = assign(net, d, method="fw", gap=1e-12, max_iter=1)
    assert not r.converged
    assert r.iterations == 1
    assert r.gap > 1e-12
    # with room to converge neither happens (warnings are errors in this suite)
    r = assign(net, d, method="bfw", gap=1e-6, max_iter=1000, strict=True)
    assert r.converged


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "dijkstra"}, "unknown method"),
    ({"gap": -1e-4}, "gap must be a finite number >= 0"),
    ({"gap": float("nan")}, "gap must be a finite number >= 0"),
    # stopped before any iteration and said "converged" at a gap of 1e-2
    ({"gap": float("inf")}, "gap must be a finite number >= 0"),
    ({"max_iter": 0}, "max_iter"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        assign(two_route_network(), od([1, 2], {(1, 2): 1.0}), **kwargs)


def test_a_gap_of_any_real_number_kind_is_read():
    from fractions import Fraction

    r = assign(two_route_network(), od([1, 2], {(1, 2): 1.0}), gap=Fraction(1, 10**6))
    assert r.converged and r.gap <= 1e-6


def test_demand_for_unknown_zone():
    with pytest.raises(InputError, match="99"):
        assign(two_route_network(), od([1, 2, 99], {(1, 99): 1.0}))


def test_od_pair_without_path_is_named():
    net = make_network([linear_link("a", 1, 2, 1.0, 1.0), linear_link("b", 3, 2, 1.0, 1.0)],
                       {1: 1, 2: 2, 3: 3})
    with pytest.raises(NoPathError, match=r"1 OD pairs .*\(1->3\)"):
        assign(net, od([1, 2, 3], {(1, 2): 1.0, (1, 3): 2.0}))


def test_blocked_centroid_is_not_a_through_route():
    # 1 -> 3 -> 2 where node 3 is a zone centroid that traffic may not pass through
    links = [linear_link("a", 1, 3, 1.0, 1.0), linear_link("b", 3, 2, 1.0, 1.0)]
    zones = {1: 1, 2: 2, 3: 3}
    d = od([1, 2, 3], {(1, 2): 1.0})
    r = assign(make_network(links, zones), d, gap=TIGHT_GAP)
    np.testing.assert_allclose(link_flows(r), [1.0, 1.0])
    with pytest.raises(NoPathError, match="1->2"):
        assign(make_network(links, zones, passable={3: False}), d)
