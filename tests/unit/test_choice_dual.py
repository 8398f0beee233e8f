"""Logit at fixed costs with hard capacities solved in the dual: the closed-form multiplier, the
augmented-Lagrangian equilibrium on a shared network, nested shares, unserved demand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network
from karvan.choice import (
    Capacities,
    Nests,
    RouteOptions,
    generate_route_sets,
    stochastic_equilibrium,
)
from karvan.choice.dual import fixed_cost_equilibrium, fixed_cost_lp
from karvan.choice.routes import SOURCE_UNSERVED
from karvan.errors import InputError

REL = 1e-6


def parallel(times=(1.0, 3.0), demand=10.0):
    n = len(times)
    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    ids = [f"l{i}" for i in range(n)]
    links = pd.DataFrame({"from_node_id": [1] * n, "to_node_id": [2] * n,
                          "free_flow_time": list(times), "vdf": "constant"},
                         index=pd.Index(ids, name="link_id"))
    dem = Demand((1, 2), {"demand": np.array([[0.0, demand], [0.0, 0.0]])})
    return Network(nodes, links), dem


def caps(rows):
    return Capacities(pd.DataFrame(rows, columns=["link_id", "direction", "capacity"]))


def routes(net, dem, k=5):
    return generate_route_sets(net, dem, options=RouteOptions(max_routes=k, penalty=10.0))


@pytest.mark.parametrize("theta", [0.5, 1.0, 3.0])
def test_multiplier_equals_the_closed_form(theta):
    # logit at costs 1 + mu and 3 puts 10 / (1 + exp(-theta (2 - mu))) on l0: 6 at
    # mu = 2 - ln(6 / 4) / theta
    net, dem = parallel()
    r = fixed_cost_equilibrium(net, dem, theta=theta, routes=routes(net, dem),
                               capacities=caps([("l0", "ab", 6.0)]), beta=0.0)
    assert r.converged
    assert r.capacities["multiplier"].iloc[0] == pytest.approx(2 - math.log(1.5) / theta,
                                                               rel=1e-7)
    assert r.flow[0] <= 6.0 * (1 + REL)
    assert r.flow[0] == pytest.approx(6.0, rel=1e-7)


def test_equals_the_augmented_lagrangian_on_a_network_with_shared_capacities():
    # three routes, two capacities, one shared by two routes: the dual and the engine's
    # augmented Lagrangian (a different algorithm) agree on flows and multipliers
    net, dem = parallel(times=(1.0, 1.5, 2.0, 4.0), demand=20.0)
    cap = Capacities(pd.DataFrame({"link_id": ["l0", "l1", "l2"], "direction": "ab",
                                   "capacity": [9.0, 9.0, 4.0],
                                   "constraint_id": ["pair", "pair", "l2"]}))
    rs = routes(net, dem)
    a = fixed_cost_equilibrium(net, dem, theta=1.2, routes=rs, capacities=cap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = stochastic_equilibrium(net, dem, theta=1.2, routes=rs, capacities=cap, gap=1e-11)
    ta = a.capacities.set_index("constraint_id")
    tb = b.capacities.set_index("constraint_id")
    assert ta.loc["pair", "volume"] == pytest.approx(9.0, rel=1e-9)
    assert ta["multiplier"].to_numpy() == pytest.approx(tb["multiplier"].to_numpy(), rel=1e-5)
    assert a.flow == pytest.approx(b.flow, rel=1e-5)
    assert (a.capacities["relative_excess"] <= REL).all()


def test_nested_groups_give_the_nested_logit_shares():
    # without capacities the flows are the nested-logit loading of the engine's kernel
    net, dem = parallel(times=(1.0, 1.5, 2.0, 2.2, 2.5))
    rs = routes(net, dem)
    nests = Nests(links={"A": ["l0", "l1"], "B": ["l2", "l3"]}, scale={"A": 0.5, "B": 0.8})
    from karvan.choice import route_families

    fam = route_families(rs, nests)
    want = stochastic_equilibrium(net, dem, theta=1.0, routes=rs, nests=nests, beta=0.0,
                                  gap=1e-12)
    got = fixed_cost_equilibrium(net, dem, theta=1.0, routes=rs, beta=0.0, groups=fam,
                                 scale=np.array([0.5, 0.8]))
    assert got.route_flow == pytest.approx(want.route_flow, rel=1e-10)


def test_infeasible_capacity_leaves_reported_unserved_demand():
    net, dem = parallel(times=(1.0, 3.0))
    r = fixed_cost_equilibrium(net, dem, theta=1.0, routes=routes(net, dem),
                               capacities=caps([("l0", "ab", 3.0), ("l1", "ab", 2.0)]))
    assert r.converged
    assert r.unserved["unserved"].sum() == pytest.approx(5.0, rel=1e-6)
    assert (r.capacities["relative_excess"] <= REL).all()


def test_flow_dependent_times_are_refused():
    net, dem = parallel()
    links = net.links.assign(vdf="bpr", capacity=5.0, alpha=0.15, beta=4.0)
    with pytest.raises(InputError, match="flow-dependent"):
        fixed_cost_equilibrium(Network(net.nodes, links), dem, theta=1.0,
                               routes=routes(net, dem))
    # without a vdf column the network's default (BPR) is flow-dependent too
    links = net.links.drop(columns="vdf").assign(capacity=5.0)
    with pytest.raises(InputError, match="flow-dependent"):
        fixed_cost_equilibrium(Network(net.nodes, links), dem, theta=1.0,
                               routes=routes(net, dem))


def test_capacity_rows_without_a_constraint_id_are_constraints_of_their_own():
    # l0 and l1 each hold 5 of 10; a blank constraint_id must not join them into one of 5
    net, dem = parallel(times=(1.0, 1.2, 3.0))
    cap = Capacities(pd.DataFrame({"link_id": ["l0", "l1"], "direction": "ab",
                                   "capacity": [5.0, 5.0], "constraint_id": [None, ""]}))
    r = fixed_cost_equilibrium(net, dem, theta=1.0, routes=routes(net, dem), capacities=cap)
    assert r.converged and len(r.capacities) == 2
    assert r.flow[0] == pytest.approx(5.0, rel=1e-6) and r.flow[1] <= 5.0 * (1 + REL)
    assert r.flow[0] + r.flow[1] > 5.0 + 1e-3


# ------------------------------------------------------------------ nested Hessian (scale < 1)


def nested_problem(scales=(0.5, 0.5)):
    """Five parallel routes, nests A = {l0, l1} and B = {l2, l3} with the given scales, l4 in
    no nest; constraints l0 <= 3 and l2 + l3 <= 2.5 (two routes of one nest), demand 10."""
    net, dem = parallel(times=(1.0, 1.5, 2.0, 2.2, 2.5))
    rs = routes(net, dem)
    tab = rs.table()
    link = [lk[0] for lk in tab["links"]]
    fam = np.array([{"l0": 0, "l1": 0, "l2": 1, "l3": 1}.get(lk, -1) for lk in link])
    cap = Capacities(pd.DataFrame({"link_id": ["l0", "l2", "l3"], "direction": "ab",
                                   "capacity": [3.0, 2.5, 2.5],
                                   "constraint_id": ["l0", "B", "B"]}))
    return net, dem, rs, link, fam, np.asarray(scales, dtype=float), cap


def nested_dual_by_hand(link, fam, scale, theta, demand, cons_links, cap):
    """F(mu) of the dual written out for one OD pair: (q / theta) * nested logsum of
    -theta (time + sum of the multipliers of the constraints a route uses) + mu . C."""
    times = {"l0": 1.0, "l1": 1.5, "l2": 2.0, "l3": 2.2, "l4": 2.5}

    def F(mu):
        c = np.array([times[lk] + sum(m for m, ls in zip(mu, cons_links, strict=True)
                                      if lk in ls) for lk in link])
        v = -theta * c
        ivs = [v[i] for i in range(len(link)) if fam[i] < 0]
        for n, s in enumerate(scale):
            vn = v[fam == n] / s
            ivs.append(s * (vn.max() + math.log(np.exp(vn - vn.max()).sum())))
        ivs = np.array(ivs)
        lse = ivs.max() + math.log(np.exp(ivs - ivs.max()).sum())
        return demand / theta * lse + float(np.dot(mu, cap))

    return F


@pytest.mark.parametrize("scales", [(0.5, 0.5), (0.3, 0.8), (1.0, 0.5)])
def test_nested_dual_hessian_equals_finite_differences_of_the_gradient(scales):
    import scipy.sparse as sp

    from karvan.choice._setup import setup
    from karvan.choice.capacities import compile_capacities
    from karvan.choice.dual import _Dual

    net, dem, rs, link, fam, sc, cap = nested_problem(scales)
    ca = setup(net, dem)
    cons = compile_capacities(cap, ca.graph)
    # route x constraint incidence by hand: l0 -> constraint "l0", l2 and l3 -> "B"
    ids = list(cons.ids)
    M = np.zeros((rs.n_routes, cons.n))
    for r, lk in enumerate(link):
        if lk == "l0":
            M[r, ids.index("l0")] = 1.0
        if lk in ("l2", "l3"):
            M[r, ids.index("B")] = 1.0
    rc0 = np.array([{"l0": 1.0, "l1": 1.5, "l2": 2.0, "l3": 2.2, "l4": 2.5}[lk] for lk in link])
    theta = 1.3
    dual = _Dual(rs, rc0, np.zeros(rs.n_routes), np.array([theta]), np.ones(1),
                 sp.csr_matrix(M), cons.cap, fam, sc)
    by_hand = nested_dual_by_hand(link, fam, sc,
                                  theta, 10.0, [["l0"] if i == "l0" else ["l2", "l3"]
                                                for i in ids], cons.cap)
    for mu in (np.array([0.3, 0.7]), np.array([1.1, 0.0]), np.array([0.0, 2.0])):
        F, p, _h, S, nest = dual.evaluate(mu)
        assert F == pytest.approx(by_hand(mu), rel=1e-12)
        H = dual.hessian(p, nest)
        eps = 1e-6
        fd = np.empty((2, 2))
        for j in range(2):
            e = np.zeros(2)
            e[j] = eps
            Sp = dual.evaluate(mu + e)[3]
            Sm = dual.evaluate(mu - e)[3]
            # gradient C - S: its derivative is -dS/dmu
            fd[:, j] = -(Sp - Sm) / (2 * eps)
            # and the gradient itself is the derivative of the hand-written F
            dF = (by_hand(mu + e) - by_hand(mu - e)) / (2 * eps)
            assert dF == pytest.approx(cons.cap[j] - S[j], rel=1e-6, abs=1e-8)
        assert H == pytest.approx(fd, rel=1e-6, abs=1e-9)
        assert np.allclose(H, H.T)


def test_nested_dual_equals_scipy_with_scale_one_half_in_few_newton_iterations():
    from scipy.optimize import minimize

    net, dem, rs, link, fam, sc, cap = nested_problem((0.5, 0.5))
    r = fixed_cost_equilibrium(net, dem, theta=1.3, routes=rs, capacities=cap, beta=0.0,
                               groups=fam, scale=sc)
    assert r.converged
    # Newton in the dual: a handful of iterations (the Hessian is exact)
    assert r.iterations <= 8
    t = r.capacities.set_index("constraint_id")
    ids = list(t.index)
    by_hand = nested_dual_by_hand(link, fam, sc, 1.3, 10.0,
                                  [["l0"] if i == "l0" else ["l2", "l3"] for i in ids],
                                  t["capacity"].to_numpy())
    best = minimize(by_hand, np.ones(len(ids)), method="L-BFGS-B",
                    bounds=[(0.0, None)] * len(ids), options={"ftol": 1e-15, "gtol": 1e-11})
    assert best.success
    assert t["multiplier"].to_numpy() == pytest.approx(best.x, rel=1e-5, abs=1e-7)
    # both capacities bind: l0 at 3, l2 + l3 at 2.5
    assert t["volume"].to_numpy() == pytest.approx([3.0, 2.5] if ids[0] == "l0" else
                                                   [2.5, 3.0], rel=1e-7)
    assert (t["multiplier"] > 0).all()


# ------------------------------------------------------------------ expected cost (logsum)


@pytest.mark.parametrize("theta", [0.5, 2.0])
def test_expected_cost_is_the_logsum_and_falls_when_a_dearer_route_opens(theta):
    # two parallel routes at costs 1 and 6: -ln(e^-theta + e^-6 theta) / theta, below the
    # least cost; a third route at 1.5 lowers it, while the tonne-weighted cost of the routes
    # taken rises (the new route draws its share mostly from the cheapest one)
    def solve(times):
        net, dem = parallel(times=times)
        return fixed_cost_equilibrium(net, dem, theta=theta, routes=routes(net, dem), beta=0.0)

    two, three = solve((1.0, 6.0)), solve((1.0, 6.0, 1.5))
    want = -math.log(math.exp(-theta) + math.exp(-6 * theta)) / theta
    assert two.od_expected_cost == pytest.approx([want], rel=1e-12)
    assert two.od_expected_cost[0] < 1.0
    want3 = -math.log(math.exp(-theta) + math.exp(-6 * theta) + math.exp(-1.5 * theta)) / theta
    assert three.od_expected_cost == pytest.approx([want3], rel=1e-12)
    assert three.od_expected_cost[0] < two.od_expected_cost[0]

    def mean_cost(r):
        return float(r.route_flow @ r.route_cost / r.route_flow.sum())

    assert mean_cost(three) > mean_cost(two)



@pytest.mark.parametrize("theta", [1.5, 3.0])
def test_expected_cost_leaves_out_path_size_and_does_not_rise_when_an_overlapping_route_opens(
        theta):
    # O -> A -> D (1 + 1) and O -> D (3); then A -> B -> D (1 + 2) opens, a dearer route that
    # shares O -> A with the cheapest. Path size still shapes the shares (the cheapest route's
    # PS falls from 1 to 1/2 * 1/2 + 1/2 = 3/4), but the expected cost is the logsum of the
    # costs alone: with the PS terms in it, it rose when the route opened
    def solve(extra):
        ids = ["oa", "ad", "od", *(["ab", "bd"] if extra else [])]
        frm = {"oa": "O", "ad": "A", "od": "O", "ab": "A", "bd": "B"}
        to = {"oa": "A", "ad": "D", "od": "D", "ab": "B", "bd": "D"}
        t = {"oa": 1.0, "ad": 1.0, "od": 3.0, "ab": 1.0, "bd": 2.0}
        nodes = pd.DataFrame({"zone_id": ["O", None, None, "D"]},
                             index=pd.Index(["O", "A", "B", "D"], name="node_id"))
        links = pd.DataFrame({"from_node_id": [frm[i] for i in ids],
                              "to_node_id": [to[i] for i in ids],
                              "free_flow_time": [t[i] for i in ids], "vdf": "constant"},
                             index=pd.Index(ids, name="link_id"))
        net = Network(nodes, links)
        dem = Demand(("O", "D"), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
        return fixed_cost_equilibrium(net, dem, theta=theta, routes=routes(net, dem),
                                      beta=1.0)

    before, after = solve(False), solve(True)
    assert after.route_set.n_routes == before.route_set.n_routes + 1 == 3
    costs = [2.0, 3.0, 4.0]
    want_before = -math.log(sum(math.exp(-theta * c) for c in costs[:2])) / theta
    want_after = -math.log(sum(math.exp(-theta * c) for c in costs)) / theta
    assert before.od_expected_cost == pytest.approx([want_before], rel=1e-12)
    assert after.od_expected_cost == pytest.approx([want_after], rel=1e-12)
    assert after.od_expected_cost[0] < before.od_expected_cost[0]
    # the logsum with the PS terms would have risen: 3/4 e^-2t + 7/8 e^-4t + e^-3t against
    # e^-2t + e^-3t (PS by time: of O -> A -> B -> D 1/4 * 1/2 + 1/4 + 2/4 = 7/8, of
    # O -> A -> D 3/4)
    with_ps = -math.log(0.75 * math.exp(-2 * theta) + 7 / 8 * math.exp(-4 * theta)
                        + math.exp(-3 * theta)) / theta
    assert with_ps > want_before
    # the shares keep their path-size terms
    w = {2.0: 0.75 * math.exp(-2 * theta), 3.0: math.exp(-3 * theta),
         4.0: 7 / 8 * math.exp(-4 * theta)}
    got = dict(zip(np.round(after.route_cost, 9), after.route_flow / 10.0, strict=True))
    for c, x in w.items():
        assert got[c] == pytest.approx(x / sum(w.values()), rel=1e-9)

def test_expected_cost_holds_the_multipliers_and_the_nests():
    # with capacities that bind and nests of scale < 1: the nested logsum, written out by
    # hand, of the returned route costs (the multipliers included) and of the unserved
    # alternative
    net, dem, rs, link, fam, scale, cap = nested_problem((0.3, 0.8))
    theta = 1.3
    r = fixed_cost_equilibrium(net, dem, theta=theta, routes=rs, capacities=cap, beta=0.0,
                               groups=fam, scale=scale)
    assert r.converged and (r.capacities["multiplier"] > 0).all()
    real = np.flatnonzero(r.route_set.route_source != SOURCE_UNSERVED)
    fam_all = np.full(r.route_set.n_routes, -1)
    fam_all[real] = fam
    v = -theta * r.route_cost
    ivs = [v[i] for i in range(len(v)) if fam_all[i] < 0]
    for n, s in enumerate(scale):
        vn = v[fam_all == n] / s
        ivs.append(s * (vn.max() + math.log(np.exp(vn - vn.max()).sum())))
    ivs = np.array(ivs)
    want = -(ivs.max() + math.log(np.exp(ivs - ivs.max()).sum())) / theta
    assert r.od_expected_cost == pytest.approx([want], rel=1e-12)


def two_class_problem():
    """Cars (PCE 1, 6 units) and trucks (PCE 2.5, 4 units) on two parallel links of 1 and 3
    hours; l0 holds 9 capacity units."""
    from karvan.assign import TrafficClass

    net, _ = parallel()
    dem = Demand((1, 2), {"cars": np.array([[0.0, 6.0], [0.0, 0.0]]),
                          "trucks": np.array([[0.0, 4.0], [0.0, 0.0]])})
    classes = [TrafficClass(name="cars", demand="cars", pce=1.0),
               TrafficClass(name="trucks", demand="trucks", pce=2.5)]
    return net, dem, classes, caps([("l0", "ab", 9.0)])


def test_a_class_of_pce_above_one_gets_the_closed_form_multiplier_and_flows():
    # every class chooses by logit at costs 1 + mu and 3 (the surcharge is per unit of
    # demand, as in the engine's augmented Lagrangian); mu fills l0 to 9 capacity units:
    # 6 P(mu; 1.0) + 2.5 * 4 P(mu; 0.7) = 9, P(mu; theta) = 1 / (1 + exp(-theta (2 - mu)))
    from scipy.optimize import brentq

    net, dem, classes, cap = two_class_problem()
    theta = {"cars": 1.0, "trucks": 0.7}

    def share(mu, th):
        return 1.0 / (1.0 + math.exp(-th * (2.0 - mu)))

    mu = brentq(lambda m: 6 * share(m, 1.0) + 2.5 * 4 * share(m, 0.7) - 9.0, 0.0, 50.0,
                xtol=1e-14)
    rs = generate_route_sets(net, dem, classes=classes,
                             options=RouteOptions(max_routes=5, penalty=10.0))
    r = fixed_cost_equilibrium(net, dem, theta=theta, classes=classes, routes=rs,
                               capacities=cap, beta=0.0)
    assert r.converged
    assert r.capacities["multiplier"].iloc[0] == pytest.approx(mu, rel=1e-7)
    assert r.capacities["volume"].iloc[0] == pytest.approx(9.0, rel=1e-7)
    # each class's flow on l0, from the class flows
    assert r.class_flows[0, 0] == pytest.approx(6 * share(mu, 1.0), rel=1e-7)
    assert r.class_flows[1, 0] == pytest.approx(4 * share(mu, 0.7), rel=1e-7)


def test_two_classes_of_different_pce_agree_with_the_augmented_lagrangian():
    net, dem, classes, cap = two_class_problem()
    theta = {"cars": 1.0, "trucks": 0.7}
    rs = generate_route_sets(net, dem, classes=classes,
                             options=RouteOptions(max_routes=5, penalty=10.0))
    a = fixed_cost_equilibrium(net, dem, theta=theta, classes=classes, routes=rs,
                               capacities=cap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = stochastic_equilibrium(net, dem, theta=theta, classes=classes, routes=rs,
                                   capacities=cap, gap=1e-11)
    assert a.capacities["multiplier"].to_numpy() == pytest.approx(
        b.capacities["multiplier"].to_numpy(), rel=1e-5)
    assert a.class_flows == pytest.approx(b.class_flows, rel=1e-5)


def test_the_dual_gradient_and_hessian_hold_with_a_pce_above_one():
    """F's derivative is C - S (S counts PCE) and the Hessian is -dS/dmu, by differences."""
    import scipy.sparse as sp

    from karvan.choice._setup import setup
    from karvan.choice.capacities import compile_capacities
    from karvan.choice.dual import _Dual

    net, dem, classes, cap = two_class_problem()
    ca = setup(net, dem, classes)
    cons = compile_capacities(cap, ca.graph)
    rs = generate_route_sets(net, dem, classes=classes,
                             options=RouteOptions(max_routes=5, penalty=10.0))
    real = rs.route_source != SOURCE_UNSERVED
    arcs = [rs.route_arcs[rs.route_ptr[r]:rs.route_ptr[r + 1]] for r in range(rs.n_routes)]
    g = ca.graph
    on_l0 = [real[r] and any(g.link_ids[g.arc_link[a]] == "l0" for a in arcs[r])
             for r in range(rs.n_routes)]
    M = np.array([[1.0 if on_l0[r] else 0.0] for r in range(rs.n_routes)])
    rc0 = np.array([1.0 if M[r, 0] else (3.0 if real[r] else 50.0)
                    for r in range(rs.n_routes)])
    th = np.array([1.0, 0.7])
    dual = _Dual(rs, rc0, np.zeros(rs.n_routes), th, ca.pce, sp.csr_matrix(M), cons.cap,
                 np.full(rs.n_routes, -1), np.ones(1))
    eps = 1e-6
    for mu in (0.0, 0.8, 2.5):
        F, p, _h, S, nest = dual.evaluate(np.array([mu]))
        Fp = dual.evaluate(np.array([mu + eps]))
        Fm = dual.evaluate(np.array([mu - eps]))
        assert (Fp[0] - Fm[0]) / (2 * eps) == pytest.approx(cons.cap[0] - S[0], rel=1e-6)
        H = dual.hessian(p, nest)
        assert H[0, 0] == pytest.approx(-(Fp[3][0] - Fm[3][0]) / (2 * eps), rel=1e-6)


def test_a_compiled_graph_with_its_link_table_gives_what_the_network_gives():
    # the route set's own graph and the link table spare compiling the network again; the
    # classes' cost fields are read from the table given (a column the graph does not hold)
    from karvan import TrafficClass

    net, dem = parallel(times=(1.0, 2.0, 3.0))
    links = net.links.assign(charge=[4.0, 1.0, 0.0])
    net = Network(net.nodes, links)
    classes = [TrafficClass("freight", "demand", value_of_time=2.0,
                            cost_fields={"charge": 1.0})]
    rs = generate_route_sets(net, dem, classes=classes,
                             options=RouteOptions(max_routes=5, penalty=10.0))
    cap = caps([("l1", "ab", 4.0)])
    a = fixed_cost_equilibrium(net, dem, theta=1.5, classes=classes, routes=rs,
                               capacities=cap, beta=0.0)
    b = fixed_cost_equilibrium(rs.graph, dem, theta=1.5, classes=classes, routes=rs,
                               capacities=cap, beta=0.0, links=links)
    assert a.converged and b.converged
    np.testing.assert_array_equal(a.flow, b.flow)
    np.testing.assert_array_equal(a.route_flow, b.route_flow)
    np.testing.assert_array_equal(a.capacities["multiplier"], b.capacities["multiplier"])
    # the charges count: 3, 2.5 and 3 hours a route, l1 the cheapest, and its capacity binds
    assert a.capacities["multiplier"].iloc[0] > 0
    with pytest.raises(InputError, match="cost field 'charge' is not a link column"):
        fixed_cost_equilibrium(rs.graph, dem, theta=1.5, classes=classes, routes=rs, beta=0.0)


# -- the deterministic limit: the LP over the same route sets ------------------------------------


def shared_capacities():
    # four parallel routes of times 1, 1.5, 2, 4 for 20 units; l0 and l1 share a capacity of 9,
    # l2 holds 4: the LP fills the pair (9, all by l0, the cheaper) and l2 (4) and sends 7 by
    # l3; a unit more of the pair's capacity moves a unit from l3 to l0, so its price is
    # 4 - 1 = 3, and l2's 4 - 2 = 2
    net, dem = parallel(times=(1.0, 1.5, 2.0, 4.0), demand=20.0)
    cap = Capacities(pd.DataFrame({"link_id": ["l0", "l1", "l2"], "direction": "ab",
                                   "capacity": [9.0, 9.0, 4.0],
                                   "constraint_id": ["pair", "pair", "l2"]}))
    return net, dem, cap


def test_the_lp_gives_the_hand_solved_flows_and_prices():
    net, dem, cap = shared_capacities()
    r = fixed_cost_lp(net, dem, routes=routes(net, dem), capacities=cap)
    t = r.capacities.set_index("constraint_id")
    assert t.loc["pair", "multiplier"] == pytest.approx(3.0, rel=1e-9)
    assert t.loc["l2", "multiplier"] == pytest.approx(2.0, rel=1e-9)
    assert t["binding"].all()
    # at the prices l0 costs 4, as l2 and l3 do, and l1 4.5: unused
    assert r.flow == pytest.approx([9.0, 0.0, 4.0, 7.0], abs=1e-9)
    assert (r.capacities["relative_excess"] <= REL).all()
    # every unit takes a least-cost route at the costs with the multipliers
    used = r.route_flow > 1e-9
    assert r.route_cost[used] == pytest.approx(np.full(used.sum(), 4.0), rel=1e-9)
    assert r.unserved.empty


@pytest.mark.parametrize("theta", [10.0, 100.0, 1000.0])
def test_the_logit_multipliers_tend_to_the_lps_as_theta_grows(theta):
    # the logit equilibrium (projected Newton in the dual) and the LP (HiGHS' simplex) are
    # different algorithms; at theta the logit multipliers differ from the limit by O(1/theta)
    net, dem, cap = shared_capacities()
    rs = routes(net, dem)
    lp = fixed_cost_lp(net, dem, routes=rs, capacities=cap)
    lg = fixed_cost_equilibrium(net, dem, theta=theta, routes=rs, capacities=cap, beta=0.0)
    assert lg.converged
    a = lp.capacities.set_index("constraint_id")["multiplier"]
    b = lg.capacities.set_index("constraint_id")["multiplier"]
    # logit at the multipliers: l3 carries 7 (20 - 9 - 4), l2 4 and the pair 9, of which l1 a
    # share exp(-theta / 2) of l0's; so mu_l2 = 2 - ln(4 / 7) / theta and mu_pair = 3 - ln(h0 /
    # 7) / theta, which tend to the LP's 2 and 3 as 1 / theta
    h0 = 9.0 / (1.0 + math.exp(-theta / 2))
    assert b["l2"] == pytest.approx(a["l2"] - math.log(4 / 7) / theta, rel=1e-9)
    assert b["pair"] == pytest.approx(a["pair"] - math.log(h0 / 7) / theta, rel=1e-9)
    assert (lg.capacities["binding"].to_numpy() == lp.capacities["binding"].to_numpy()).all()


def test_the_lp_over_every_route_equals_the_network_lp():
    # a grid where routes share links: over route sets that hold every loop-free route, the
    # LP over routes and the arc-based capacity LP of karvan.assign are the same problem
    from karvan import TrafficClass
    from karvan.assign.capacity import solve_capacity_lp

    nodes = pd.DataFrame({"zone_id": [1, np.nan, np.nan, 2]},
                         index=pd.Index([1, 2, 3, 4], name="node_id"))
    ends = [(1, 2, 1.0, 5.0), (1, 3, 2.0, np.nan), (2, 4, 1.0, np.nan), (3, 4, 1.0, 8.0),
            (2, 3, 0.5, np.nan)]
    links = pd.DataFrame({"from_node_id": [e[0] for e in ends], "to_node_id": [e[1] for e in ends],
                          "free_flow_time": [e[2] for e in ends], "capacity": [e[3] for e in ends],
                          "vdf": "constant"},
                         index=pd.Index([f"e{i}" for i in range(len(ends))], name="link_id"))
    net = Network(nodes, links)
    dem = Demand((1, 2), {"demand": np.array([[0.0, 12.0], [0.0, 0.0]])})
    rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=10, penalty=1.5))
    assert rs.n_routes == 3  # 1-2-4, 1-3-4, 1-2-3-4: every route
    cap = Capacities(pd.DataFrame({"link_id": ["e0", "e3"], "direction": "ab",
                                   "capacity": [5.0, 8.0]}))
    got = fixed_cost_lp(net, dem, routes=rs, capacities=cap)
    want = solve_capacity_lp(net, dem, [TrafficClass()])
    assert got.flow == pytest.approx(want.class_flows[0], abs=1e-9)
    t = got.capacities.set_index("constraint_id")["multiplier"]
    price = dict(zip(net.links.index, want.graph.to_links(want.shadow_price)[0], strict=True))
    assert [t.iloc[0], t.iloc[1]] == pytest.approx([price["e0"], price["e3"]], abs=1e-9)


def test_the_lp_leaves_what_no_route_can_carry_unserved():
    net, dem = parallel(times=(1.0, 3.0))
    r = fixed_cost_lp(net, dem, routes=routes(net, dem),
                      capacities=caps([("l0", "ab", 3.0), ("l1", "ab", 2.0)]))
    assert r.unserved["unserved"].sum() == pytest.approx(5.0, rel=1e-9)
    assert r.flow == pytest.approx([3.0, 2.0], rel=1e-9)
    assert (r.capacities["relative_excess"] <= REL).all()


def test_the_lp_without_capacities_and_an_od_pair_without_a_route():
    # without capacities every unit takes its cheapest route; an OD pair with demand and no
    # route (which would leave the LP infeasible) is refused as input, with the pair named
    net, dem = parallel(times=(1.0, 3.0))
    r = fixed_cost_lp(net, dem, routes=routes(net, dem))
    assert r.flow == pytest.approx([10.0, 0.0], abs=1e-9)
    assert r.capacities is None and r.unserved.empty
    dem2 = Demand((1, 2), {"demand": np.array([[0.0, 10.0], [5.0, 0.0]])})  # 2 -> 1: no link
    with pytest.raises(InputError, match="empty route set.*2->1"):
        fixed_cost_lp(net, dem2, routes=routes(net, dem))
