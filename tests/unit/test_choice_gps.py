"""Generalized path size (Ramming 2002): the closed form on a hand-solved network (gamma 0 there
is Ben-Akiva and Bierlaire's path size), the obvious formula on random route sets, the same
shares from the dual solver, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, compile_graph
from karvan.choice import RouteOptions, generate_route_sets, logit_loading, stochastic_equilibrium
from karvan.choice.dual import fixed_cost_equilibrium
from karvan.errors import InputError
from tests import naive


def detour_network():
    """O -> A (1), then A -> D (1) or A -> B -> D (2 + 2).

    Routes: r1 = (oa, ad), length 2; r2 = (oa, ab, bd), length 5; they share oa.
    Generalized path size: PS1 = (1/2) / (1 + (2/5)^g) + 1/2, PS2 = (1/5) / ((5/2)^g + 1) + 4/5.
    """
    nodes = pd.DataFrame({"zone_id": ["O", None, None, "D"]},
                         index=pd.Index(["O", "A", "B", "D"], name="node_id"))
    links = pd.DataFrame({"from_node_id": ["O", "A", "A", "B"],
                          "to_node_id": ["A", "D", "B", "D"],
                          "free_flow_time": [1.0, 1.0, 2.0, 2.0], "vdf": "constant"},
                         index=pd.Index(["oa", "ad", "ab", "bd"], name="link_id"))
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    return Network(nodes, links), dem


def closed_form(gamma: float, theta: float) -> tuple[float, float]:
    ps1 = 0.5 / (1 + (2 / 5) ** gamma) + 0.5
    ps2 = 0.2 / ((5 / 2) ** gamma + 1) + 0.8
    w1, w2 = ps1 * math.exp(-2 * theta), ps2 * math.exp(-5 * theta)
    return w1 / (w1 + w2), w2 / (w1 + w2)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 8.0])
def test_generalized_path_size_equals_the_closed_form(gamma):
    net, dem = detour_network()
    res = logit_loading(net, dem, theta=0.4, gamma=gamma,
                        routes=RouteOptions(max_routes=5, penalty=10.0))
    got = {tuple(r.links): r.probability for r in res.route_table().itertuples()}
    assert set(got) == {("oa", "ad"), ("oa", "ab", "bd")}
    p1, p2 = closed_form(gamma, 0.4)
    assert got[("oa", "ad")] == pytest.approx(p1, rel=1e-12)
    assert got[("oa", "ab", "bd")] == pytest.approx(p2, rel=1e-12)
    assert res.params["gamma"] == gamma


def test_a_long_detour_stops_lowering_the_short_routes_path_size():
    # as gamma grows the short route's path size goes to 1 (the detour no longer counts on the
    # shared link) and the detour's to 4/5 (the short route counts fully there): the loading
    # reaches that limit, whereas gamma 0 gives 3/4 and 9/10
    net, dem = detour_network()
    opts = RouteOptions(max_routes=5, penalty=10.0)
    # gamma 900 and 1e4: (2/5) ** gamma underflows to 0 (the sums of relevance must not)
    for gamma, (ps1, ps2) in ((30.0, (1.0, 0.8)), (900.0, (1.0, 0.8)), (1e4, (1.0, 0.8)),
                              (0.0, (0.75, 0.9))):
        res = logit_loading(net, dem, theta=0.4, gamma=gamma, routes=opts)
        got = {tuple(r.links): r.probability for r in res.route_table().itertuples()}
        w1, w2 = ps1 * math.exp(-0.8), ps2 * math.exp(-2.0)
        assert got[("oa", "ad")] == pytest.approx(w1 / (w1 + w2), rel=1e-9)


def test_path_sizes_stay_finite_when_a_routes_relevance_underflows():
    """Two routes of lengths 1 and 1000 sharing an arc of 0.5: at gamma 120, (1/1000) ** 120
    underflows to 0; the long route's path size is its own arcs' share (0.9995) plus the shared
    arc's 0.5/1000 / (1 + 1000 ** 120), i.e. 0.9995, and the short route's 1."""
    from karvan.kernels import logit as KL

    od_ptr, od_class = np.array([0, 2]), np.array([0])
    route_ptr, route_arcs = np.array([0, 2, 4]), np.array([0, 1, 0, 2])
    w = np.array([[0.5, 0.5, 999.5]])
    for gamma in (120.0, 400.0, 1e6):
        ps = KL.path_size(od_ptr, od_class, route_ptr, route_arcs, w, 1, gamma)
        assert np.isfinite(ps).all()
        assert ps == pytest.approx([1.0, 0.9995], rel=1e-12)
    # and the obvious formula where nothing underflows
    ps = KL.path_size(od_ptr, od_class, route_ptr, route_arcs, w, 1, 2.0)
    assert ps[0] == pytest.approx(0.5 + 0.5 / (1 + 1e-6), rel=1e-12)
    assert ps[1] == pytest.approx(0.9995 + 0.0005 / (1 + 1e6), rel=1e-12)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 6.0])
def test_generalized_path_sizes_equal_the_obvious_formula_on_random_route_sets(gamma):
    from tests.unit.test_choice_routes import random_network

    for seed in range(5):
        net, dem = random_network(seed)
        res = logit_loading(net, dem, theta=0.4, gamma=gamma,
                            routes=RouteOptions(max_routes=6))
        rs = res.route_set
        g = compile_graph(net)
        for w in range(rs.n_od):
            idx = list(range(rs.od_ptr[w], rs.od_ptr[w + 1]))
            routes = [rs.arcs(r).tolist() for r in idx]
            ps = naive.path_sizes(routes, g.free_flow_time, gamma)
            costs = [naive.path_cost(r, g.free_flow_time) for r in routes]
            want = naive.logit_shares(costs, ps, 0.4)
            assert res.route_share[idx] == pytest.approx(want, rel=1e-10)


def test_the_exponent_moves_the_shares_over_the_same_routes():
    from tests.unit.test_choice_routes import random_network

    net, dem = random_network(3)
    a = logit_loading(net, dem, theta=0.4, routes=RouteOptions(max_routes=6))
    c = logit_loading(net, dem, theta=0.4, gamma=2.0, routes=a.route_set)
    assert a.params["gamma"] == 0.0 and c.route_set.n_routes == a.route_set.n_routes
    assert not np.allclose(a.route_share, c.route_share)


@pytest.mark.parametrize("gamma", [0.0, 3.0])
def test_the_dual_solver_gives_the_loadings_shares(gamma):
    # no capacity, constant times: the fixed-cost equilibrium is one logit loading
    net, dem = detour_network()
    rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=5, penalty=10.0))
    a = fixed_cost_equilibrium(net, dem, theta=0.4, routes=rs, gamma=gamma)
    b = logit_loading(net, dem, theta=0.4, gamma=gamma, routes=rs)
    assert a.flow == pytest.approx(b.flow, rel=1e-10)
    assert a.params["gamma"] == gamma


def test_bad_gamma_is_refused():
    net, dem = detour_network()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="gamma"):
            stochastic_equilibrium(net, dem, theta=0.4, gamma=bad)
        with pytest.raises(InputError, match="gamma"):
            logit_loading(net, dem, theta=0.4, gamma=bad)
        rs = generate_route_sets(net, dem, options=RouteOptions(max_routes=5, penalty=10.0))
        with pytest.raises(InputError, match="gamma"):
            fixed_cost_equilibrium(net, dem, theta=0.4, routes=rs, gamma=bad)
    with pytest.raises(InputError, match="Dial"):
        stochastic_equilibrium(net, dem, theta=0.4, gamma=1.0, loading="dial")
