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
from karvan.choice.dual import fixed_cost_equilibrium
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
