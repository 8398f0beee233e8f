"""Hard capacities inside the stochastic and the deterministic equilibrium: hand-computed
multipliers, capacities never exceeded, unserved demand, agreement with the capacity LP."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from karvan import Demand, Network, TrafficClass, read_tntp
from karvan.choice import (
    Capacities,
    capacities_from_links,
    deterministic_equilibrium,
    stochastic_equilibrium,
)
from karvan.errors import InputError

REL = 1e-6  # the bound on a capacity's relative excess


def parallel(cap_cheap=6.0, cap_dear=np.nan, demand=10.0):
    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
                          "free_flow_time": [1.0, 3.0], "capacity": [cap_cheap, cap_dear],
                          "vdf": "constant"}, index=pd.Index(["cheap", "dear"], name="link_id"))
    dem = Demand((1, 2), {"demand": np.array([[0.0, demand], [0.0, 0.0]])})
    return Network(nodes, links), dem


def caps(rows, **kw):
    return Capacities(pd.DataFrame(rows, columns=["link_id", "direction", "capacity"]), **kw)


def test_deterministic_multiplier_is_the_cost_difference():
    net, dem = parallel()
    r = deterministic_equilibrium(net, dem, capacities=caps([("cheap", "ab", 6.0)]))
    assert r.converged
    t = r.capacities.set_index("constraint_id")
    assert t["volume"].iloc[0] <= 6.0 * (1 + REL)
    assert r.flow == pytest.approx([6.0, 4.0], rel=1e-7)
    assert t["multiplier"].iloc[0] == pytest.approx(3.0 - 1.0, rel=1e-7)
    # users of the cheap link pay time + queue = the dear link's time
    assert r.route_table().set_index("links")["cost"][("cheap",)] == pytest.approx(3.0)


@pytest.mark.parametrize("theta", [0.5, 1.0, 3.0])
def test_stochastic_multiplier_equals_the_closed_form(theta):
    # logit at costs 1 + mu and 3 puts 10 / (1 + exp(-theta (2 - mu))) on the cheap link;
    # that equals its capacity 6 at mu = 2 - ln(6 / 4) / theta
    net, dem = parallel()
    r = stochastic_equilibrium(net, dem, theta=theta, capacities=caps([("cheap", "ab", 6.0)]),
                               gap=1e-12)
    assert r.converged
    mu = r.capacities["multiplier"].iloc[0]
    assert mu == pytest.approx(2.0 - math.log(1.5) / theta, rel=1e-6)
    assert r.flow[0] <= 6.0 * (1 + REL)
    assert r.flow[0] == pytest.approx(6.0, rel=1e-6)
    assert r.surcharge[0] == pytest.approx(mu)


def test_a_capacity_that_does_not_bind_has_no_multiplier():
    net, dem = parallel()
    r = stochastic_equilibrium(net, dem, theta=1.0, capacities=caps([("cheap", "ab", 9.5)]),
                               gap=1e-12)
    # unconstrained logit puts 10 / (1 + e^-2) = 8.81 on the cheap link
    assert r.flow[0] == pytest.approx(10 / (1 + math.exp(-2)), rel=1e-9)
    assert r.capacities["multiplier"].iloc[0] == 0.0
    assert not r.capacities["binding"].iloc[0]


def test_both_directions_share_one_capacity():
    # an undirected link A-B (time 1) or a detour (time 3) each way; 5 A->B and 4 B->A
    nodes = pd.DataFrame({"zone_id": ["A", "B", None]}, index=pd.Index(["A", "B", "C"],
                                                                       name="node_id"))
    links = pd.DataFrame({"from_node_id": ["A", "A", "C"], "to_node_id": ["B", "C", "B"],
                          "free_flow_time": [1.0, 1.5, 1.5], "directed": False,
                          "vdf": "constant"}, index=pd.Index(["ab", "ac", "cb"], name="link_id"))
    dem = Demand(("A", "B"), {"demand": np.array([[0.0, 5.0], [4.0, 0.0]])})
    net = Network(nodes, links)
    r = deterministic_equilibrium(net, dem, capacities=caps([("ab", "both", 6.0)]))
    lt = r.link_table().set_index(["link_id", "direction"])
    both = lt.loc[("ab", 1), "volume"] + lt.loc[("ab", -1), "volume"]
    assert both <= 6.0 * (1 + REL)
    assert both == pytest.approx(6.0, rel=1e-7)
    assert r.capacities["multiplier"].iloc[0] == pytest.approx(2.0, rel=1e-6)
    # per direction, 6 is not binding on either
    r = deterministic_equilibrium(net, dem, capacities=caps([("ab", "ab", 6.0),
                                                             ("ab", "ba", 6.0)]))
    assert (r.capacities["multiplier"] == 0).all()
    assert r.flow[r.graph.arc_link == 0].sum() == pytest.approx(9.0)


def test_infeasible_capacities_give_unserved_rows_and_their_multipliers():
    net, dem = parallel(cap_cheap=6.0, cap_dear=3.0)
    c = caps([("cheap", "ab", 6.0), ("dear", "ab", 3.0)], unserved_cost=100.0)
    with pytest.warns(UserWarning, match="cannot be carried"):
        r = deterministic_equilibrium(net, dem, capacities=c)
    assert list(r.unserved["unserved"]) == pytest.approx([1.0], rel=1e-6)
    assert list(r.unserved["demand"]) == [10.0]
    t = r.capacities.set_index("constraint_id")["multiplier"]
    # the marginal unit leaves unserved: each element is worth the unserved cost less its time
    assert t["cheap:ab"] == pytest.approx(99.0, rel=1e-6)
    assert t["dear:ab"] == pytest.approx(97.0, rel=1e-6)
    assert (r.capacities["volume"] <= r.capacities["capacity"] * (1 + REL)).all()


def test_infeasible_capacities_in_the_stochastic_equilibrium():
    net, dem = parallel(cap_cheap=6.0, cap_dear=3.0)
    c = caps([("cheap", "ab", 6.0), ("dear", "ab", 3.0)], unserved_cost=50.0)
    with pytest.warns(UserWarning, match="cannot be carried"):
        r = stochastic_equilibrium(net, dem, theta=1.0, capacities=c, gap=1e-12)
    assert r.unserved["unserved"].sum() == pytest.approx(1.0, rel=1e-5)
    assert (r.capacities["volume"] <= r.capacities["capacity"] * (1 + REL)).all()
    # three alternatives in logit: unserved (50), cheap (1 + mu1), dear (3 + mu2) with shares
    # 1, 6, 3 of 10 -> mu1 = 50 - 1 - ln 6, mu2 = 50 - 3 - ln 3
    t = r.capacities.set_index("constraint_id")["multiplier"]
    assert t["cheap:ab"] == pytest.approx(49.0 - math.log(6.0), rel=1e-6)
    assert t["dear:ab"] == pytest.approx(47.0 - math.log(3.0), rel=1e-6)


def test_pce_counts_in_the_capacity():
    net, _ = parallel()
    m = np.array([[0.0, 4.0], [0.0, 0.0]])
    dem = Demand((1, 2), {"cars": m, "trucks": m})
    classes = [TrafficClass("cars", "cars"), TrafficClass("trucks", "trucks", pce=2.0)]
    r = deterministic_equilibrium(net, dem, classes=classes,
                                  capacities=caps([("cheap", "ab", 6.0)]))
    assert r.volume[0] <= 6.0 * (1 + REL)
    assert r.volume[0] == pytest.approx(6.0, rel=1e-7)
    assert r.capacities["multiplier"].iloc[0] == pytest.approx(2.0, rel=1e-6)


def test_capacities_hold_on_sioux_falls(tntp_dir):
    p = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    free = stochastic_equilibrium(p.network, p.demand, theta=0.5, gap=1e-6)
    lt = free.link_table()
    busiest = lt.nlargest(4, "volume")
    rows = [(int(r.link_id), "ab", 0.8 * r.volume) for r in busiest.itertuples()]
    r = stochastic_equilibrium(p.network, p.demand, theta=0.5, capacities=caps(rows),
                               gap=1e-6)
    assert r.converged
    c = r.capacities
    assert (c["volume"] <= c["capacity"] * (1 + REL)).all()
    assert (c["multiplier"] >= 0).all()
    # complementary slackness: a capacity with a multiplier is full
    full = c["multiplier"] > 0
    assert full.any()
    assert (c.loc[full, "volume"] >= c.loc[full, "capacity"] * (1 - 1e-4)).all()
    assert r.unserved.empty


def test_bad_capacities_are_input_errors():
    net, dem = parallel()
    with pytest.raises(InputError) as e:
        deterministic_equilibrium(net, dem, capacities=caps(
            [("nope", "ab", 6.0), ("cheap", "ba", 6.0), ("dear", "ab", 0.0),
             ("cheap", "sideways", 1.0)]))
    msg = str(e.value)
    assert "not in the network" in msg and "direction ba of a directed link" in msg
    assert "<= 0" in msg and "ab, ba, both" in msg
    bad = Capacities(pd.DataFrame({"link_id": ["cheap", "dear"], "capacity": [1.0, 2.0],
                                   "constraint_id": ["g", "g"]}))
    with pytest.raises(InputError, match="different capacities"):
        deterministic_equilibrium(net, dem, capacities=bad)
    with pytest.raises(InputError, match="unserved_cost"):
        deterministic_equilibrium(net, dem, capacities=caps([("cheap", "ab", 6.0)],
                                                            unserved_cost=-1.0))


def test_capacities_from_links():
    net, _ = parallel(cap_cheap=6.0, cap_dear=np.nan)
    c = capacities_from_links(net)
    assert list(c.table["link_id"]) == ["cheap"]
    nodes = net.nodes
    links = net.links.assign(directed=False, both=[True, False], capacity=[6.0, 8.0])
    c = capacities_from_links(Network(nodes, links), both_directions="both")
    assert [tuple(r) for r in c.table.itertuples(index=False)] == [
        ("cheap", "both", 6.0), ("dear", "ab", 8.0), ("dear", "ba", 8.0)]


# ---------------------------------------------------------------------- against the LP


def corridor_toy(tmp_path):
    """Three rail routes from X to Y: via M (cheap, its line limited to 500 t), via N (limited
    to 2,000 t, not reached) and a long one without limit; two commodities."""
    from karvan.freight.corridor import load_corridor
    from tests.toy_corridor import write_corridor

    def rail(lid, a, b, km, cap=None):
        row = {"link_id": lid, "from_node_id": a, "to_node_id": b, "mode": "rail",
               "length_km": km, "speed_kph": 50, "tariff_usd_per_tkm": 0.03, "vdf": "none",
               "country": "AA"}
        if cap is not None:
            row["capacity_tpy"] = cap
        return row

    links = [rail("xm", "X", "M", 100, 500), rail("my", "M", "Y", 100),
             rail("xn", "X", "N", 150, 2000), rail("ny", "N", "Y", 150),
             rail("xy", "X", "Y", 500)]
    folder = write_corridor(tmp_path / "c", nodes=[("X", 0, 0, "AA"), ("M", 1, 1, "AA"),
                                                   ("N", 1, -1, "AA"), ("Y", 2, 0, "AA")],
                            links=links, zones=[("ZX", "X", "AA"), ("ZY", "Y", "AA")],
                            commodities=[("grain", 1.0, 200.0), ("steel", 1.0, 600.0)],
                            demand=[("ZX", "ZY", "grain", 900.0), ("ZX", "ZY", "steel", 400.0)])
    return load_corridor(folder)


def test_equilibrium_and_lp_agree_on_what_binds(tmp_path):
    from karvan.assign.capacity import solve_capacity_lp
    from karvan.freight.costs import build_network, commodity_classes

    data = corridor_toy(tmp_path)
    net = build_network(data, data.links)
    classes = commodity_classes(data)
    dem = Demand.from_long(data.demand, origin="origin_zone_id",
                           destination="destination_zone_id", value="tonnes_per_year",
                           segment="commodity_id", zone_ids=tuple(net.zones.index))
    lp = solve_capacity_lp(net, dem, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = deterministic_equilibrium(net, dem, classes=classes,
                                      capacities=capacities_from_links(net))
    g = r.graph
    lp_bind = {(g.link_ids[g.arc_link[a]], int(g.arc_dir[a]))
               for a in np.flatnonzero(lp.shadow_price > 0)}
    c = r.capacities
    eq_bind = {(cid.split(":")[0], 1 if cid.endswith("ab") else -1)
               for cid in c.loc[c["binding"], "constraint_id"]}
    assert lp_bind == eq_bind == {("xm", 1)}
    # one class of value of time 1 USD/t/h: the LP's USD per tonne is the equilibrium's hours
    a = int(np.flatnonzero(lp.shadow_price > 0)[0])
    assert c.loc[c["binding"], "multiplier"].iloc[0] == pytest.approx(lp.shadow_price[a],
                                                                       rel=1e-6)
    assert (c["volume"] <= c["capacity"] * (1 + REL)).all()
    # and they carry the same tonnes on every link
    assert r.flow == pytest.approx(lp.class_flows.sum(axis=0), rel=1e-6, abs=1e-6)
