"""theta -> inf: the stochastic equilibrium approaches the user equilibrium of Algorithm B on
Sioux Falls, within a bound matched to theta.

The bound. Let v be the link flows of the path-size logit SUE at dispersion theta over route
sets R that contain a least-cost route of every OD pair at v's costs (column generation makes
sure of it), and v_ue the user equilibrium. Write Z for Beckmann's objective and
G(v) = TSTT(v) - SPTT(v) for the UE gap of v.

1. For the logit loading y at v's costs, each OD pair w carries
   sum_p y_p (c_p - c_min) = q_w E_pi[Delta], pi ~ PS_p exp(-theta Delta_p). With
   F(theta) = ln sum_p PS_p exp(-theta Delta_p), convex and decreasing, E_pi[Delta] = -F'(theta)
   <= (F(0) - F(theta)) / theta <= ln(sum_p PS_p / PS_p0) / theta, p0 a cheapest route (whose
   term is PS_p0). So G(y) <= B(theta) = sum_w (q_w / theta) ln(sum_p PS_p / PS_p0), at most
   2 ln(K) / theta per unit of demand with K routes (PS >= 1 / K). For the flows h returned,
   G(h) <= B(theta) + sum_p |h_p - y_p| (c_p - c_min): the inexactness the reported gap allows.
2. Z is convex: Z(v) - Z(v_ue) <= t(v).(v - v_ue) <= G(v). And with
   D_a = int_{v_ue,a}^{v_a} (t_a(s) - t_a(v_ue,a)) ds >= 0,
   Z(v) - Z(v_ue) = t(v_ue).(v - v_ue) + sum_a D_a >= sum_a D_a - G(v_ue) (the variational
   inequality of the UE, exact up to its own gap). Hence sum_a D_a <= G(v) + G(v_ue): every
   link's flow is within the distance delta_a at which D_a reaches that bound, which shrinks
   like 1 / sqrt(theta) where t' > 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from karvan import assign, read_tntp
from karvan.choice import stochastic_equilibrium
from tests import naive

THETAS = (0.2, 1.0, 3.0)


@pytest.fixture(scope="module")
def sioux(tntp_dir):
    return read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")


@pytest.fixture(scope="module")
def ue(sioux):
    return assign(sioux.network, sioux.demand, gap=1e-12)


def sptt(g, cost, m):
    mat = csr_matrix((cost, (g.tail, g.head)), shape=(g.n_nodes, g.n_nodes))
    dist = dijkstra(mat, indices=g.zone_nodes)[:, g.zone_nodes]
    return float(np.sum(m * dist)), dist


def d_integral(g, a, u, v):
    """int_u^v (t(s) - t(u)) ds for a BPR arc, in closed form: with x = (s - u) / cap,
    t(s) - t(u) = fft alpha ((u / cap + x)^beta - (u / cap)^beta), a polynomial for beta 4."""
    assert g.vdf[a] == naive.VDF_BPR and g.beta[a] == 4.0
    fft, cap, al = g.free_flow_time[a], g.capacity[a], g.alpha[a]
    p, dx = u / cap, (v - u) / cap
    # int_0^dx ((p + x)^4 - p^4) dx expanded, so that small dx does not cancel
    poly = 2 * p**3 * dx**2 + 2 * p**2 * dx**3 + p * dx**4 + dx**5 / 5
    return fft * al * cap * poly


@pytest.mark.slow
def test_sue_approaches_algorithm_b_within_the_theta_bound(sioux, ue):
    m = np.array(sioux.demand.matrices["demand"], dtype=float)
    np.fill_diagonal(m, 0.0)
    g = ue.graph
    sptt_ue, _ = sptt(g, ue.cost, m)
    g_ue = float(np.dot(ue.flow, ue.cost)) - sptt_ue
    deviation = []
    bounds = []
    for theta in THETAS:
        r = stochastic_equilibrium(sioux.network, sioux.demand, theta=theta, gap=1e-6)
        assert r.converged
        rs = r.route_set
        # the route sets hold a least-cost route of every OD pair at the SUE costs
        s_net, dist = sptt(g, r.cost, m)
        best = np.full(rs.n_od, np.inf)
        np.minimum.at(best, rs.route_od, r.route_cost)
        assert best == pytest.approx(dist[rs.od_origin, rs.od_destination], rel=1e-9)
        gap_sue = float(np.dot(r.flow, r.cost)) - s_net
        # the bound of step 1, from the route sets and costs returned
        bound = 0.0
        for w in range(rs.n_od):
            idx = np.arange(rs.od_ptr[w], rs.od_ptr[w + 1])
            routes = [rs.arcs(i).tolist() for i in idx]
            ps = np.array(naive.path_sizes(routes, g.free_flow_time))
            c = r.route_cost[idx]
            p0 = int(np.argmin(c))
            y = np.array(naive.logit_shares(c.tolist(), ps.tolist(), theta)) * rs.od_demand[w]
            bound += rs.od_demand[w] / theta * math.log(ps.sum() / ps[p0])
            bound += float(np.abs(r.route_flow[idx] - y) @ (c - c[p0]))
        assert 0.0 <= gap_sue <= bound * (1 + 1e-9)
        # K routes at most: the bound is below 2 ln(K) / theta per unit of demand
        k_max = int(rs.routes_per_od().max())
        assert bound <= 2 * math.log(k_max) / theta * m.sum() * (1 + 1e-6)
        # step 2: the flows are within it of the user equilibrium
        d = sum(d_integral(g, a, ue.flow[a], r.flow[a]) for a in range(g.n_arcs))
        assert d <= gap_sue + g_ue + 1e-9 * bound
        deviation.append(np.abs(r.flow - ue.flow).max())
        bounds.append(bound)
    # larger theta, smaller bound and closer flows
    assert bounds[0] > bounds[1] > bounds[2]
    assert deviation[0] > deviation[1] > deviation[2]
    # at theta 3 per minute the largest link-flow difference is a few percent of the largest
    # link flow
    assert deviation[-1] < 0.05 * ue.flow.max()
