"""Dial's STOCH loading against logit over every efficient path enumerated by brute force, and
its MSA equilibrium."""

from __future__ import annotations

import math

import numpy as np
import pytest

from karvan import compile_graph, read_tntp
from karvan.choice import dial_loading, stochastic_equilibrium
from karvan.errors import InputError
from karvan.kernels import dial as KD
from tests import naive
from tests.unit.test_choice_routes import random_network


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("theta", [0.2, 1.5])
def test_dial_equals_logit_over_all_efficient_paths(seed, theta):
    net, dem = random_network(seed, n=11, n_arcs=26, n_zones=3, block=seed % 2 == 0)
    res = dial_loading(net, dem, theta=theta)
    g = compile_graph(net)
    tails, heads, cost = g.tail.tolist(), g.head.tolist(), g.free_flow_time.tolist()
    m = dem.matrices["demand"]
    want = np.zeros(g.n_arcs)
    for i, o in enumerate(g.zone_nodes):
        for j, d in enumerate(g.zone_nodes):
            if m[i, j] == 0 or o == d:
                continue
            paths = naive.efficient_paths(g.n_nodes, tails, heads, cost, g.blocked, int(o),
                                          int(d))
            assert paths
            c = [naive.path_cost(p, cost) for p in paths]
            w = [math.exp(-theta * (x - min(c))) for x in c]
            for p, wp in zip(paths, w, strict=True):
                for e in p:
                    want[e] += m[i, j] * wp / sum(w)
    assert res.flow == pytest.approx(want, rel=1e-10, abs=1e-10)
    assert res.route_set is None


@pytest.mark.parametrize(("method", "target"), [("msa", 1e-2), ("sra", 1e-3)])
def test_dial_reaches_its_fixed_point_on_sioux_falls(tntp_dir, method, target):
    p = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    res = stochastic_equilibrium(p.network, p.demand, theta=0.5, loading="dial", gap=target,
                                 method=method, max_iter=400)
    assert res.converged and res.gap <= target
    g = res.graph
    rindptr, rarcs = g.reverse_star()
    m = np.array(p.demand.matrices["demand"], dtype=float)
    np.fill_diagonal(m, 0)
    y, lost, over, _ = KD.dial_load(g.indptr, g.head, g.tail, rindptr, rarcs,
                                    np.ascontiguousarray(res.class_costs[0]),
                                    np.ascontiguousarray(g.free_flow_time), g.blocked, 0.5,
                                    g.zone_nodes, g.zone_nodes, m, np.inf, 1)
    assert lost == 0 and over == 0
    assert np.abs(res.flow - y).sum() / res.flow.sum() == pytest.approx(res.gap, rel=1e-9)
    # demand is conserved at every zone
    out = np.bincount(g.tail, weights=res.flow, minlength=g.n_nodes)
    inn = np.bincount(g.head, weights=res.flow, minlength=g.n_nodes)
    net_out = (out - inn)[g.zone_nodes]
    assert net_out == pytest.approx(m.sum(axis=1) - m.sum(axis=0), rel=1e-9, abs=1e-6)


def test_dial_takes_msa_only():
    net, dem = random_network(0)
    with pytest.raises(InputError, match="msa"):
        stochastic_equilibrium(net, dem, theta=1.0, loading="dial", method="newton")
    with pytest.raises(InputError, match="sra"):
        stochastic_equilibrium(net, dem, theta=1.0, method="sra")


def test_an_arc_between_two_nodes_equally_far_is_not_efficient_in_any_link_order():
    """Zone O has free connectors to A and B (both at cost 0 from O); A <-> B cost 1, B -> D 1,
    A -> D 3. The efficient paths are O-B-D (1) and O-A-D (3): binary logit, whatever the
    order of the link table (the arc A -> B or B -> A counted one way or the other before,
    as the search broke the tie between A and B)."""
    import pandas as pd

    from karvan import Demand, Network

    rows = [("cA", "O", "A", 0.0), ("cB", "O", "B", 0.0), ("AB", "A", "B", 1.0),
            ("BA", "B", "A", 1.0), ("BD", "B", "D", 1.0), ("AD", "A", "D", 3.0)]
    nodes = pd.DataFrame({"zone_id": ["O", "D", None, None]},
                         index=pd.Index(["O", "D", "A", "B"], name="node_id"))
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 1.0], [0.0, 0.0]])})
    p_b = 1 / (1 + math.exp(-2.0))
    for order in (rows, [rows[1], rows[0], *rows[2:]], rows[::-1]):
        links = pd.DataFrame(order, columns=["link_id", "from_node_id", "to_node_id",
                                             "free_flow_time"]).set_index("link_id")
        links["vdf"] = "constant"
        flow = dial_loading(Network(nodes, links), dem, theta=1.0).link_summary()["flow_tot"]
        assert flow["BD"] == pytest.approx(p_b, rel=1e-12)
        assert flow["AD"] == pytest.approx(1 - p_b, rel=1e-12)
        assert flow["AB"] == 0.0 and flow["BA"] == 0.0


def test_an_arc_too_cheap_to_register_beside_the_distance_still_carries_its_demand():
    """O -> A costs 1e6 and A -> D 1e-11: A and D are equally far in floating point, and the
    arc on which the distance does not grow is efficient (the demand vanished otherwise)."""
    import pandas as pd

    from karvan import Demand, Network

    nodes = pd.DataFrame({"zone_id": ["O", "D", None]},
                         index=pd.Index(["O", "D", "A"], name="node_id"))
    links = pd.DataFrame([("OA", "O", "A", 1e6), ("AD", "A", "D", 1e-11)],
                         columns=["link_id", "from_node_id", "to_node_id",
                                  "free_flow_time"]).set_index("link_id")
    links["vdf"] = "constant"
    dem = Demand(("O", "D"), {"demand": np.array([[0.0, 1.0], [0.0, 0.0]])})
    flow = dial_loading(Network(nodes, links), dem, theta=1e-6).link_summary()["flow_tot"]
    assert flow["OA"] == pytest.approx(1.0) and flow["AD"] == pytest.approx(1.0)
