"""Route lists and select-link: route flows sum to the OD demand and to the link flows; select-
link totals equal the link flow; both for Algorithm B bushes and recorded Frank-Wolfe trees."""

from __future__ import annotations

import numpy as np
import pytest

import karvan
from karvan.io import read_tntp
from karvan.paths import route_flows, select_link


@pytest.fixture(scope="module", params=["algorithm-b", "bfw"])
def solved(request, tntp_dir):
    prob = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    kw = {"record_routes": True} if request.param == "bfw" else {}
    r = karvan.assign(prob.network, prob.demand, method=request.param,
                      gap=1e-8 if request.param == "algorithm-b" else 1e-4, max_iter=5000, **kw)
    return prob, r, route_flows(r)


def test_route_flows_sum_to_od_demand(solved):
    prob, r, routes = solved
    od = routes.groupby(["origin", "destination"])["flow"].sum()
    m = prob.demand.matrices["demand"]
    for (o, d), f in od.items():
        assert f == pytest.approx(m[o - 1, d - 1], rel=1e-6)
    assert len(od) == int((m > 0).sum() - (np.diag(m) > 0).sum())


def test_route_flows_sum_to_link_flows(solved):
    _, r, routes = solved
    lf = np.zeros(r.graph.n_arcs)
    for arcs, f in zip(routes["arcs"], routes["flow"], strict=True):
        lf[list(arcs)] += f
    assert np.allclose(lf, r.flow, rtol=1e-6, atol=1e-6 * r.flow.max())


def test_used_routes_cost_about_the_least(solved):
    _, r, routes = solved
    best = routes.groupby(["origin", "destination"])["cost"].transform("min")
    rel = (routes["cost"] - best) / best
    # at the gap reached, flow-weighted excess cost is tiny
    assert float((rel * routes["flow"]).sum() / routes["flow"].sum()) < 10 * r.gap + 1e-9


def test_select_link_totals_equal_link_flow(solved):
    _, r, routes = solved
    summary = r.link_summary()
    for link in (1, 10, 40):
        sl = select_link(r, [link], routes)
        assert sl["flow"].sum() == pytest.approx(summary.loc[link, "flow_tot"], rel=1e-6)


def test_flows_by_origin_and_destination_sum_to_link_flows(tntp_dir):
    from karvan.paths import flows_by_destination, flows_by_origin

    prob = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    r = karvan.assign(prob.network, prob.demand, method="algorithm-b", gap=1e-8)
    fo = flows_by_origin(r)
    fd = flows_by_destination(r)
    for df in (fo, fd):
        total = df.drop(columns=["link_id", "direction"]).sum(axis=1).to_numpy()
        assert np.allclose(total, r.flow, rtol=1e-9, atol=1e-6)
    # what leaves origin 1 on its links equals its demand; what reaches destination 2 too
    m = prob.demand.matrices["demand"]
    g = r.graph
    out1 = fo.loc[g.tail == 0, 1].sum()
    assert out1 == pytest.approx(m[0].sum() - m[0, 0], rel=1e-9)
    in2 = fd.loc[g.head == 1, 2].sum()
    assert in2 == pytest.approx(m[:, 1].sum() - m[1, 1], rel=1e-9)
    # and agree with the route lists, which use the same proportional split
    routes = route_flows(r)
    via = routes[routes["destination"] == 2]
    lf = np.zeros(g.n_arcs)
    for arcs, f in zip(via["arcs"], via["flow"], strict=True):
        lf[list(arcs)] += f
    assert np.allclose(lf, fd[2].to_numpy(), atol=1e-6)
