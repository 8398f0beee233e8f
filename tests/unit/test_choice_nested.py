"""Nested logit over route families: the closed form for two nests, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network
from karvan.choice import (
    Nests,
    RouteOptions,
    Waypoints,
    generate_route_sets,
    route_families,
    stochastic_equilibrium,
)
from karvan.errors import InputError

COST = {"l1": 1.0, "l2": 1.5, "l3": 2.0, "l4": 2.2, "l5": 2.5}


def parallel():
    nodes = pd.DataFrame({"zone_id": ["O", "D"]}, index=pd.Index(["O", "D"], name="node_id"))
    links = pd.DataFrame({"from_node_id": "O", "to_node_id": "D",
                          "free_flow_time": list(COST.values()), "vdf": "constant"},
                         index=pd.Index(list(COST), name="link_id"))
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    return Network(nodes, links), dem


def closed_form(theta, scale, asc):
    nests = {"A": ["l1", "l2"], "B": ["l3", "l4"]}
    iv = {}
    within = {}
    for f, ls in nests.items():
        v = {lk: -theta * (COST[lk] + asc.get(f, 0.0)) for lk in ls}
        s = sum(math.exp(x / scale[f]) for x in v.values())
        iv[f] = scale[f] * math.log(s)
        within.update({lk: math.exp(v[lk] / scale[f]) / s for lk in ls})
    # l5 belongs to no family: a nest of its own
    iv_none = -theta * COST["l5"]
    tot = sum(math.exp(x) for x in iv.values()) + math.exp(iv_none)
    p = {lk: math.exp(iv[f]) / tot * within[lk] for f, ls in nests.items() for lk in ls}
    p["l5"] = math.exp(iv_none) / tot
    return p


@pytest.mark.parametrize(("theta", "scale", "asc"), [
    (1.0, {"A": 0.5, "B": 0.8}, {"B": -0.3}),
    (2.0, {"A": 1.0, "B": 0.3}, {"A": 0.4}),
    (0.5, {"A": 1.0, "B": 1.0}, {}),
])
def test_nested_shares_equal_the_closed_form_for_two_nests(theta, scale, asc):
    net, dem = parallel()
    nests = Nests(links={"A": ["l1", "l2"], "B": ["l3", "l4"]}, scale=scale,
                  constants=asc or None)
    r = stochastic_equilibrium(net, dem, theta=theta, nests=nests, gap=1e-12,
                               routes=RouteOptions(max_routes=5, penalty=10.0))
    want = closed_form(theta, scale, asc)
    tab = r.route_table()
    got = dict(zip([x[0] for x in tab["links"]], tab["probability"], strict=True))
    assert got == pytest.approx(want, rel=1e-12)
    assert dict(zip([x[0] for x in tab["links"]], tab["flow"], strict=True)) == pytest.approx(
        {k: 10 * v for k, v in want.items()}, rel=1e-12)
    if all(v == 1.0 for v in scale.values()) and not asc:
        # scale 1 and no constants: plain multinomial logit
        e = {k: math.exp(-theta * c) for k, c in COST.items()}
        assert got == pytest.approx({k: v / sum(e.values()) for k, v in e.items()}, rel=1e-12)


def test_constants_per_class_and_family_table():
    net, dem = parallel()
    dem2 = Demand(("O", "D"), {"a": dem.matrices["demand"], "b": dem.matrices["demand"]})
    from karvan import TrafficClass

    classes = [TrafficClass("a", "a"), TrafficClass("b", "b")]
    table = pd.DataFrame({"family": ["B", "B"], "class": ["a", None], "constant": [-0.3, 0.2]})
    nests = Nests(links={"A": ["l1", "l2"], "B": ["l3", "l4"]}, scale={"A": 0.5, "B": 0.8},
                  constants=table)
    r = stochastic_equilibrium(net, dem2, classes=classes, theta=1.0, nests=nests, gap=1e-12,
                               routes=RouteOptions(max_routes=5, penalty=10.0))
    tab = r.route_table()
    for cls, asc in (("a", {"B": -0.3}), ("b", {"B": 0.2})):
        t = tab[tab["class"] == cls]
        got = dict(zip([x[0] for x in t["links"]], t["probability"], strict=True))
        assert got == pytest.approx(closed_form(1.0, {"A": 0.5, "B": 0.8}, asc), rel=1e-12)


def test_families_from_links_and_waypoints():
    net, dem = parallel()
    opts = RouteOptions(max_routes=2, penalty=10.0, waypoints=(Waypoints("B", ("l4",),
                                                                         kind="link"),))
    rs = generate_route_sets(net, dem, options=opts)
    fam = route_families(rs, Nests(links={"A": ["l1"], "B": ["l3"]}))
    links = [x[0] for x in rs.table()["links"]]
    # l1 in A, l2 in none, l4 forced by the waypoints named B
    assert dict(zip(links, fam.tolist(), strict=True)) == {"l1": 0, "l2": -1, "l4": 1}


def test_bad_nests_are_input_errors():
    net, dem = parallel()
    with pytest.raises(InputError, match="no member"):
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(links={"A": ["l1"], "B": []}))
    with pytest.raises(InputError, match="no member"):
        # l5 exists but no route of the set uses it
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(links={"A": ["l1"], "B": ["l5"]}),
                               routes=RouteOptions(max_routes=1))
    with pytest.raises(InputError, match="unknown families"):
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(
            links={"A": ["l1"]}, constants={"Suez": -1.0}))
    with pytest.raises(InputError, match="scale"):
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(links={"A": ["l1"]},
                                                                scale={"A": 1.5}))
    with pytest.raises(InputError, match="not in the network"):
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(links={"A": ["l9"]}))
    with pytest.raises(InputError, match="msa"):
        stochastic_equilibrium(net, dem, theta=1.0, nests=Nests(links={"A": ["l1"]}),
                               method="newton")
