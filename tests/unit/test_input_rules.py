"""Rules on awkward input: what must be rejected rather than silently read some way, and warm
starts that do not fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import karvan
from karvan import Demand, InputError, Network
from karvan.io import read_gmns, read_tntp


def two_links(**link_cols):
    nodes = pd.DataFrame({"zone_id": ["A", "B"]}, index=pd.Index(["A", "B"], name="node_id"))
    cols = {"from_node_id": ["A", "A"], "to_node_id": ["B", "B"], "free_flow_time": [1.0, 2.0],
            "capacity": [1.0, 1.0], "alpha": [1.0, 1.0], "beta": [1.0, 1.0]}
    cols.update(link_cols)
    links = pd.DataFrame(cols, index=pd.Index(["a", "b"], name="link_id"))
    return Network(nodes, links), Demand(("A", "B"), {"demand": np.array([[0, 3.0], [0, 0]])})


@pytest.mark.parametrize(("cols", "message"), [
    ({"capacity": [0.0, 1.0]}, "capacity 0"),
    ({"free_flow_time": [np.nan, 2.0]}, "no free_flow_time"),
    ({"beta": [0.5, 1.0]}, "0 < beta < 1"),
    # TNTP's b and power the other way round: named as a likely swap
    ({"alpha": [4.0, 4.0], "beta": [0.15, 0.15]}, "are alpha and beta swapped"),
])
def test_rejected_link_values(cols, message):
    net, d = two_links(**cols)
    with pytest.raises(InputError, match=message) as e:
        karvan.assign(net, d)
    if "alpha" not in cols:
        assert "swapped" not in str(e.value)


@pytest.mark.parametrize("method", ["fw", "algorithm-b"])
@pytest.mark.parametrize(("link_cost", "fee"), [
    ([np.nan, 0.0], [0.0, 0.0]),   # closed the link silently (NaN < d is false), gap nan
    ([np.inf, 0.0], [0.0, 0.0]),   # TSTT 0 * inf = nan: max_iter rounds, gap nan
    (None, [np.inf, 0.0]),
])
def test_a_cost_that_is_not_finite_is_rejected(method, link_cost, fee):
    net, d = two_links(fee=fee)
    what = "link_cost" if link_cost is not None else "cost field 'fee'"
    lc = None if link_cost is None else np.array(link_cost)
    classes = [karvan.TrafficClass(cost_fields={"fee": 1.0}, link_cost=lc)]
    with pytest.raises(InputError, match=rf"class 'all': {what} is NaN or infinite on 1 links "
                                         r"\(link_id a\).*to close a link, remove it"):
        karvan.assign(net, d, classes=classes, method=method, max_iter=50)


def test_warm_start_rebuilds_bushes_whose_destination_mix_changed(tntp_dir):
    prob = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    base = karvan.assign(prob.network, prob.demand, gap=1e-10)
    m = prob.demand.matrices["demand"].copy()
    m[0, :] = m[0, ::-1]  # origin 1 sends its trips elsewhere, same total
    d2 = Demand(prob.demand.zone_ids, {"demand": m})
    cold = karvan.assign(prob.network, d2, gap=1e-10)
    warm = karvan.assign(prob.network, d2, gap=1e-10, warm_start=base)
    assert warm.converged and warm.gap >= 0
    assert np.abs(warm.flow - cold.flow).max() < 0.05


def test_warm_start_refuses_zones_in_another_order(tntp_dir):
    prob = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    base = karvan.assign(prob.network, prob.demand, gap=1e-4)
    z = prob.demand.zone_ids[::-1]
    m = prob.demand.matrices["demand"][::-1, ::-1]
    with pytest.raises(InputError, match="zones or origins differ"):
        karvan.assign(prob.network, Demand(z, {"demand": m}), warm_start=base)


def test_gmns_ids_that_refer_to_each_other_share_a_type(tmp_path):
    (tmp_path / "node.csv").write_text("node_id,x_coord,y_coord,zone_id\nA,0,0,\n1,0,1,Z1\n"
                                       "2,1,1,2\n")
    (tmp_path / "link.csv").write_text("link_id,from_node_id,to_node_id,directed,"
                                       "free_flow_time,capacity\n1,1,A,true,1,10\n2,A,2,true,1,10\n")
    (tmp_path / "demand.csv").write_text("o_zone_id,d_zone_id,volume\nZ1,2,5\n")
    net = read_gmns(tmp_path)
    assert set(net.nodes.index) == {"A", "1", "2"}
    from karvan.io.problem import read_problem

    p = read_problem(tmp_path)
    r = karvan.assign(p.network, p.demand, method="aon")
    assert r.flow.tolist() == [5.0, 5.0]


def test_tntp_factors_from_the_trips_file_and_a_byte_order_mark(tmp_path, tntp_dir):
    net = (tntp_dir / "Braess-Example" / "Braess_net.tntp").read_text()
    trips = (tntp_dir / "Braess-Example" / "Braess_trips.tntp").read_text()
    (tmp_path / "B_net.tntp").write_text("\ufeff" + net, encoding="utf-8")
    (tmp_path / "B_trips.tntp").write_text(
        trips.replace("<END OF METADATA>", "<TOLL FACTOR> 0.5\n<END OF METADATA>"))
    p = read_tntp(tmp_path / "B_net.tntp")
    assert p.toll_factor == 0.5 and p.demand.total() == 6.0


def test_csv_demand_for_a_tntp_network(tmp_path, tntp_dir):
    from karvan.io.problem import read_problem

    (tmp_path / "d.csv").write_text("origin,destination,volume\n1,2,6\n")
    p = read_problem(tntp_dir / "Braess-Example" / "Braess_net.tntp", tmp_path / "d.csv")
    assert p.demand.total() == 6.0


def a_bypass(via_x_h: float, via_y_h: float, *, x_passable: bool = True) -> Network:
    """A -> X -> B and A -> Y -> B, each route of two links of ``via_*_h`` hours each."""
    nodes = pd.DataFrame({"zone_id": ["A", "B", None, None],
                          "passable": [True, True, x_passable, True]},
                         index=pd.Index(["A", "B", "X", "Y"], name="node_id"))
    ends = {"ax": ("A", "X"), "xb": ("X", "B"), "ay": ("A", "Y"), "yb": ("Y", "B")}
    links = pd.DataFrame({"from_node_id": [a for a, _ in ends.values()],
                          "to_node_id": [b for _, b in ends.values()],
                          "free_flow_time": [via_x_h, via_x_h, via_y_h, via_y_h],
                          "capacity": 10.0, "alpha": 0.15, "beta": 4.0},
                         index=pd.Index(list(ends), name="link_id"))
    return Network(nodes, links)


A_TO_B = Demand(("A", "B"), {"demand": np.array([[0.0, 5.0], [0.0, 0.0]])})


def test_relative_gap_without_a_positive_shortest_path_total():
    from karvan.assign.problem import relative_gap

    assert relative_gap(12.0, 10.0) == pytest.approx(0.2)
    assert relative_gap(0.0, 0.0) == 0.0             # no demand, or every route used is free
    assert relative_gap(10.09, 0.0) == np.inf        # flows on a dear route beside a free one
    assert relative_gap(1.0, -2.0) == np.inf


def test_warm_start_onto_a_free_route_is_not_converged_until_it_moves():
    # the bushes of a run where Y's route costs 5 h a link carry all 5 t via X (TSTT 10.09);
    # on a network where Y's route costs nothing SPTT is 0, and the gap read 0 (converged at
    # round 0 with every tonne on the dear route)
    base = karvan.assign(a_bypass(1.0, 5.0), A_TO_B, gap=1e-10)
    free = a_bypass(1.0, 0.0)
    warm = karvan.assign(free, A_TO_B, gap=1e-10, warm_start=base)
    cold = karvan.assign(free, A_TO_B, gap=1e-10)
    flows = dict(zip(warm.graph.link_ids[warm.graph.arc_link], warm.flow, strict=True))
    assert warm.converged and warm.iterations >= 1 and warm.gap == 0.0
    assert flows == {"ax": 0.0, "xb": 0.0, "ay": 5.0, "yb": 5.0}
    np.testing.assert_array_equal(warm.flow, cold.flow)
    assert warm.convergence["relative_gap"].iloc[0] == np.inf


def test_warm_start_refuses_bushes_grown_where_other_nodes_were_passable():
    # grown with X passable, the bushes carry all 5 t via X; with X impassable a warm start
    # kept them there and read gap 0 (converged); a cold start sends them via Y
    base = karvan.assign(a_bypass(1.0, 3.0), A_TO_B, gap=1e-10)
    closed = a_bypass(1.0, 3.0, x_passable=False)
    with pytest.raises(InputError, match=r"1 nodes had another passable flag \(node_id X\)"):
        karvan.assign(closed, A_TO_B, gap=1e-10, warm_start=base)
    cold = karvan.assign(closed, A_TO_B, gap=1e-10)
    assert dict(zip(cold.graph.link_ids[cold.graph.arc_link], cold.flow, strict=True)) == {
        "ax": 0.0, "xb": 0.0, "ay": 5.0, "yb": 5.0}
    # the bushes of a run on the same nodes still start it
    warm = karvan.assign(closed, A_TO_B, gap=1e-10, warm_start=cold)
    assert warm.converged and warm.iterations == 0


def test_the_gap_kernel_does_not_pass_a_blocked_node_on_the_bushes_arcs():
    # the bush of A holds A -> X -> B (2 h); with X blocked the shortest path is A -> Y -> B
    # (6 h): the kernel's distances seeded from the bush's arcs gave 2 h a tonne
    from karvan.kernels import bush as KB

    base = karvan.assign(a_bypass(1.0, 3.0), A_TO_B, gap=1e-10)
    g = karvan.compile_graph(a_bypass(1.0, 3.0, x_passable=False))
    bs = base.bushes
    assert np.array_equal(g.link_ids[g.arc_link], bs.link_ids)
    t = np.ascontiguousarray(g.free_flow_time)
    fixed = np.zeros((1, g.n_arcs))
    sptt = np.zeros(1)
    sc = KB.bush_scratch(g.n_nodes, g.n_arcs)
    KB.gap_chunk(0, 1, g.indptr, g.head, g.tail, g.blocked, t, fixed, bs.bush_class,
                 bs.zone_nodes[bs.bush_zone], bs.demand, bs.zone_nodes, bs.ptr, bs.size, bs.arc,
                 sptt, sc[0], sc[1])
    assert sptt[0] == pytest.approx(5.0 * 6.0)
