"""The numba kernels against slow obvious code (tests/naive.py) and scipy.

Graphs are random: up to ``MAX_NODES`` nodes, zero and repeated costs, parallel arcs and
self-loops, disconnected parts and blocked nodes. Where an assertion needs unique shortest paths
the costs are drawn from a continuous distribution instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import csgraph_from_dense
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from karvan import kernels as K
from tests import naive

MAX_NODES = 40
MAX_ARCS = 120
MAX_PARALLEL = 10
MAX_COST = 100.0
MAX_DEMAND = 50.0
MAX_ZONES = 8
# sums of at most MAX_NODES costs, accumulated in possibly different orders
REL_TOL = 1e-12
# conservation and loaded totals: sums over every OD pair of demand (times cost)
SUM_TOL = 1e-10

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Graph:
    """A random graph in the kernels' forward-star form (arcs sorted by tail)."""

    n: int
    indptr: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    cost: np.ndarray
    blocked: np.ndarray

    def with_cost(self, cost: np.ndarray) -> Graph:
        return Graph(self.n, self.indptr, self.tail, self.head, np.ascontiguousarray(cost),
                     self.blocked)


def make_graph(n, tails, heads, costs, blocked) -> Graph:
    tails = np.asarray(tails, dtype=np.int64)
    order = np.argsort(tails, kind="stable")
    tail = np.ascontiguousarray(tails[order])
    head = np.ascontiguousarray(np.asarray(heads, dtype=np.int64)[order])
    cost = np.ascontiguousarray(np.asarray(costs, dtype=float)[order])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))]).astype(np.int64)
    return Graph(n, indptr, tail, head, cost, np.asarray(blocked, dtype=np.bool_))


costs_st = st.one_of(
    st.just(0.0),  # zero-cost arcs
    st.sampled_from([1.0, 2.0, 5.0]),  # ties
    st.floats(0.0, MAX_COST, allow_nan=False, allow_infinity=False),
)


@st.composite
def graphs(draw) -> Graph:
    n = draw(st.integers(1, MAX_NODES))
    m = draw(st.integers(0, MAX_ARCS))
    node = st.integers(0, n - 1)
    tails = draw(st.lists(node, min_size=m, max_size=m))
    heads = draw(st.lists(node, min_size=m, max_size=m))
    costs = draw(st.lists(costs_st, min_size=m, max_size=m))
    if m:  # parallel arcs: copies of drawn arcs with their own costs
        for e in draw(st.lists(st.integers(0, m - 1), max_size=MAX_PARALLEL)):
            tails.append(tails[e])
            heads.append(heads[e])
            costs.append(draw(costs_st))
    blocked = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return make_graph(n, tails, heads, costs, blocked)


@st.composite
def problems(draw):
    """A graph, origin and destination nodes and a demand matrix between them."""
    g = draw(graphs())
    k = min(g.n, MAX_ZONES)
    node = st.integers(0, g.n - 1)
    origins = draw(st.lists(node, min_size=1, max_size=k, unique=True))
    dests = draw(st.lists(node, min_size=1, max_size=k, unique=True))
    cell = st.one_of(st.just(0.0), st.floats(0.0, MAX_DEMAND, allow_nan=False))
    demand = draw(st.lists(st.lists(cell, min_size=len(dests), max_size=len(dests)),
                           min_size=len(origins), max_size=len(origins)))
    return (g, np.asarray(origins, dtype=np.int64), np.asarray(dests, dtype=np.int64),
            np.asarray(demand, dtype=float).reshape(len(origins), len(dests)))


def trees(g: Graph, origins, n_chunks=1):
    return K.shortest_path_trees(g.indptr, g.head, g.cost, g.blocked, origins, n_chunks)


def aon(g: Graph, origins, dests, demand, n_chunks=1):
    return K.aon_assign(g.indptr, g.head, g.tail, g.cost, g.blocked, origins, dests, demand,
                        n_chunks)


def naive_dist(g: Graph, origin):
    return np.array(naive.dijkstra(g.n, g.tail, g.head, g.cost, g.blocked, int(origin))[0])


# ----------------------------------------------------------------------------- shortest paths


@SETTINGS
@given(problems())
def test_distances_equal_naive_dijkstra(p):
    g, origins, _, _ = p
    dist, _ = trees(g, origins)
    for i, o in enumerate(origins):
        np.testing.assert_allclose(dist[i], naive_dist(g, o), rtol=REL_TOL, atol=0)


@SETTINGS
@given(problems())
def test_distances_equal_scipy(p):
    """scipy.sparse.csgraph as an independent oracle.

    Three adjustments make scipy's graph the same graph: parallel arcs are reduced to their
    minimum (building a sparse matrix from COO entries would *sum* them); the matrix is built with
    ``csgraph_from_dense(null_value=inf)`` so that zero-cost arcs stay edges (scipy reads an
    ordinary zero entry as "no edge"); and scipy has no blocked-node rule, so for each origin the
    out-arcs of the other blocked nodes are dropped, which is exactly what the rule means.
    """
    g, origins, _, _ = p
    dist, _ = trees(g, origins)
    for i, o in enumerate(origins):
        dense = np.full((g.n, g.n), np.inf)
        for u, v, c in zip(g.tail, g.head, g.cost, strict=True):
            if g.blocked[u] and u != o:
                continue
            dense[u, v] = min(dense[u, v], c)
        ref = scipy_dijkstra(csgraph_from_dense(dense, null_value=np.inf), directed=True,
                             indices=int(o))
        np.testing.assert_allclose(dist[i], ref, rtol=REL_TOL, atol=0)


@SETTINGS
@given(problems())
def test_predecessor_arcs_form_a_shortest_path_tree(p):
    g, origins, _, _ = p
    dist, pred = trees(g, origins)
    for i, o in enumerate(origins):
        assert dist[i, o] == 0.0
        assert pred[i, o] == -1
        for v in range(g.n):
            e = pred[i, v]
            if v == o or not np.isfinite(dist[i, v]):
                assert e == -1
                continue
            u = g.tail[e]
            assert g.head[e] == v
            assert dist[i, v] == dist[i, u] + g.cost[e]  # exactly: how the tree was built
            assert u == o or not g.blocked[u], "a path passes through a blocked node"
            # the tree path is acyclic and its cost is the reported distance
            path = naive.path_to(pred[i], g.tail, o, v)
            assert len(path) < g.n
            assert math.isclose(naive.path_cost(path, g.cost), dist[i, v], rel_tol=REL_TOL)


@SETTINGS
@given(problems())
def test_chunking_changes_nothing(p):
    """Spreading origins over parallel workers must not change any result (trees and skims are
    per origin, so bit for bit; flows are summed per worker, so up to rounding)."""
    g, origins, dests, demand = p
    fields = np.vstack([g.cost, np.ones_like(g.cost)])
    one = trees(g, origins, 1)
    skims_one = K.path_skims(g.indptr, g.head, g.tail, g.cost, g.blocked, origins, dests, fields,
                             1)
    flows_one, sptt_one, lost_one = aon(g, origins, dests, demand, 1)
    for n_chunks in (2, len(origins) + 1):
        other = trees(g, origins, n_chunks)
        np.testing.assert_array_equal(one[0], other[0])
        np.testing.assert_array_equal(one[1], other[1])
        skims = K.path_skims(g.indptr, g.head, g.tail, g.cost, g.blocked, origins, dests, fields,
                             n_chunks)
        np.testing.assert_array_equal(skims_one, skims)
        flows, sptt, lost = aon(g, origins, dests, demand, n_chunks)
        scale = demand.sum() * max(1.0, g.cost.max(initial=0.0))
        np.testing.assert_allclose(flows, flows_one, rtol=REL_TOL, atol=SUM_TOL * scale)
        assert math.isclose(sptt, sptt_one, rel_tol=REL_TOL, abs_tol=SUM_TOL * scale)
        assert math.isclose(lost, lost_one, rel_tol=REL_TOL, abs_tol=SUM_TOL * demand.sum())


# ----------------------------------------------------------------------------- all-or-nothing


@SETTINGS
@given(problems())
def test_aon_conserves_demand_and_totals(p):
    """Flows leave origins, reach destinations and are conserved elsewhere; the shortest-path
    total and the lost demand equal the naive ones; flows only use allowed arcs. None of this
    depends on which of several tied shortest paths was chosen."""
    g, origins, dests, demand = p
    flows, sptt, lost = aon(g, origins, dests, demand)
    total = demand.sum()
    produced = np.zeros(g.n)
    attracted = np.zeros(g.n)
    ref_sptt = ref_lost = 0.0
    for i, o in enumerate(origins):
        dist = naive_dist(g, o)
        for j, d in enumerate(dests):
            q = demand[i, j]
            if d == o or q == 0.0:
                continue
            if np.isinf(dist[d]):
                ref_lost += q
            else:
                ref_sptt += q * dist[d]
                produced[o] += q
                attracted[d] += q
    net_out = np.bincount(g.tail, flows, g.n) - np.bincount(g.head, flows, g.n)
    np.testing.assert_allclose(net_out, produced - attracted, rtol=0, atol=SUM_TOL * total)
    assert (flows >= 0).all()
    scale = total * max(1.0, g.cost.max(initial=0.0))
    assert math.isclose(lost, ref_lost, rel_tol=REL_TOL, abs_tol=SUM_TOL * total)
    assert math.isclose(sptt, ref_sptt, rel_tol=REL_TOL, abs_tol=SUM_TOL * scale)
    # every unit travels a least-cost path, so the loaded cost is the shortest-path total
    assert math.isclose(float(flows @ g.cost), sptt, rel_tol=1e-9, abs_tol=SUM_TOL * scale)
    loaded_tails = g.tail[flows > 0]
    through_blocked = g.blocked[loaded_tails] & ~np.isin(loaded_tails, origins)
    assert not through_blocked.any(), "flow passes through a blocked node"


@SETTINGS
@given(problems(), st.integers(0, 2**32 - 1))
def test_aon_equals_naive_loading_when_paths_are_unique(p, seed):
    """With continuous random costs shortest paths are unique (almost surely), so the flows are
    determined and must equal the dense predecessor walk of naive.aon."""
    g, origins, dests, demand = p
    g = g.with_cost(np.random.default_rng(seed).uniform(0.5, 2.0, g.cost.shape[0]))
    flows, sptt, lost = aon(g, origins, dests, demand)
    ref_flows, ref_sptt, ref_lost = naive.aon(g.n, g.tail, g.head, g.cost, g.blocked, origins,
                                              dests, demand)
    total = demand.sum()
    np.testing.assert_allclose(flows, ref_flows, rtol=REL_TOL, atol=SUM_TOL * total)
    assert math.isclose(sptt, ref_sptt, rel_tol=REL_TOL, abs_tol=SUM_TOL * total)
    assert math.isclose(lost, ref_lost, rel_tol=REL_TOL, abs_tol=SUM_TOL * total)


@SETTINGS
@given(problems(), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_aon_range_in_chunks_with_reused_scratch_equals_naive(p, n_chunks, seed):
    """Origins loaded in ranges by aon_range, into one flow vector, with one set of scratch
    arrays reused (twice over) for every range, equal the naive loading (unique paths)."""
    g, origins, dests, demand = p
    g = g.with_cost(np.random.default_rng(seed).uniform(0.5, 2.0, g.cost.shape[0]))
    ni, nf, flows, ctr = K.aon_scratch(g.n, len(g.head))
    edges = np.linspace(0, len(origins), n_chunks + 1).round().astype(int)
    for _ in range(2):
        flows[:] = 0.0
        sptt = lost = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            s, lo_ = K.aon_range(int(lo), int(hi), g.indptr, g.head, g.tail, g.cost, g.blocked,
                                 origins, dests, demand, flows, ni, nf, ctr)
            sptt += s
            lost += lo_
    ref_flows, ref_sptt, ref_lost = naive.aon(g.n, g.tail, g.head, g.cost, g.blocked, origins,
                                              dests, demand)
    total = demand.sum()
    np.testing.assert_allclose(flows, ref_flows, rtol=REL_TOL, atol=SUM_TOL * total)
    assert math.isclose(sptt, ref_sptt, rel_tol=REL_TOL, abs_tol=SUM_TOL * total)
    assert math.isclose(lost, ref_lost, rel_tol=REL_TOL, abs_tol=SUM_TOL * total)


def test_aon_ignores_intrazonal_demand_and_reports_lost_demand():
    # 0 -> 1 -> 2, node 3 isolated
    g = make_graph(4, [0, 1], [1, 2], [1.0, 2.0], [False] * 4)
    origins = np.array([0], dtype=np.int64)
    dests = np.array([0, 2, 3], dtype=np.int64)
    demand = np.array([[7.0, 5.0, 3.0]])
    flows, sptt, lost = aon(g, origins, dests, demand)
    np.testing.assert_array_equal(flows, [5.0, 5.0])
    assert sptt == 5.0 * 3.0
    assert lost == 3.0


def test_blocked_node_is_an_end_but_never_a_middle():
    # 0 -> 1 -> 2 is short but 1 is blocked; 0 -> 2 directly is long
    g = make_graph(3, [0, 1, 0], [1, 2, 2], [1.0, 1.0, 10.0], [False, True, False])
    dist, pred = trees(g, np.array([0, 1], dtype=np.int64))
    np.testing.assert_array_equal(dist[0], [0.0, 1.0, 10.0])
    np.testing.assert_array_equal(dist[1], [np.inf, 0.0, 1.0])  # a blocked origin may start
    assert g.tail[pred[0, 2]] == 0


# ----------------------------------------------------------------------------- skims


@SETTINGS
@given(problems(), st.integers(0, 2**32 - 1))
def test_path_skims_sum_fields_along_the_tree(p, seed):
    g, origins, dests, _ = p
    other = np.random.default_rng(seed).uniform(0.0, 10.0, g.cost.shape[0])
    fields = np.vstack([g.cost, np.ones_like(g.cost), other])
    skims = K.path_skims(g.indptr, g.head, g.tail, g.cost, g.blocked, origins, dests, fields, 1)
    dist, pred = trees(g, origins)
    assert skims.shape == (len(origins), len(dests), fields.shape[0])
    for i, o in enumerate(origins):
        for j, d in enumerate(dests):
            if d == o:
                np.testing.assert_array_equal(skims[i, j], 0.0)
            elif np.isinf(dist[i, d]):
                assert np.isnan(skims[i, j]).all()
            else:
                path = naive.path_to(pred[i], g.tail, o, d)
                expected = [dist[i, d], len(path), naive.path_cost(path, other)]
                np.testing.assert_allclose(skims[i, j], expected, rtol=REL_TOL, atol=0)


# ----------------------------------------------------------------------------- delay functions

VOC_MAX = 3.0  # volumes up to three times capacity
TIME_TOL = 1e-12
INTEGRAL_TOL = 1e-9
DERIVATIVE_TOL = 1e-5  # central differences with a 1e-6 relative step

finite = {"allow_nan": False, "allow_infinity": False}
fft_st = st.floats(0.01, 100.0, **finite)
cap_st = st.floats(1.0, 1e4, **finite)
voc_st = st.floats(0.0, VOC_MAX, **finite)
# beta in (0, 1) makes t'(0) infinite; real networks use 0 (a step) or beta >= 1
bpr_beta_st = st.one_of(st.sampled_from([0.0, 1.0, 4.0]), st.floats(1.0, 8.0, **finite))
conical_alpha_st = st.floats(1.05, 20.0, **finite)


def kernel_arrays(v, fft, cap, alpha, beta, kind):
    arrays = [np.atleast_1d(np.asarray(x, dtype=float)) for x in (v, fft, cap, alpha, beta)]
    return (*arrays, np.atleast_1d(np.asarray(kind, dtype=np.int64)))


def kernel_scalars(v, fft, cap, alpha, beta, kind):
    """(time, derivative, integral) from the kernels at one volume on one arc."""
    a = kernel_arrays(v, fft, cap, alpha, beta, kind)
    t = K.link_time(*a, np.empty(1))[0]
    dt = K.link_time_derivative(*a, np.empty(1))[0]
    it = K.link_time_integral(*a)
    return t, dt, it


def check_against_naive(v, fft, cap, alpha, beta, kind, *, derivative=True):
    t, dt, it = kernel_scalars(v, fft, cap, alpha, beta, kind)
    assert math.isclose(t, naive.time(v, fft, cap, alpha, beta, kind), rel_tol=TIME_TOL)
    assert math.isclose(it, naive.time_integral(v, fft, cap, alpha, beta, kind),
                        rel_tol=INTEGRAL_TOL, abs_tol=INTEGRAL_TOL * fft * cap)
    if derivative:
        ref = naive.time_derivative(v, fft, cap, alpha, beta, kind)
        assert math.isclose(dt, ref, rel_tol=DERIVATIVE_TOL, abs_tol=DERIVATIVE_TOL * fft / cap)
    assert dt >= 0.0, "delay functions never decrease"


@SETTINGS
@given(voc_st, fft_st, cap_st, st.floats(0.0, 2.0, **finite), bpr_beta_st)
def test_bpr_matches_naive(voc, fft, cap, alpha, beta):
    # central differences need the volume clear of zero (where t' is unbounded for beta < 1)
    check_against_naive(voc * cap, fft, cap, alpha, beta, K.VDF_BPR, derivative=voc >= 0.01)


@SETTINGS
@given(voc_st, fft_st, cap_st, conical_alpha_st)
def test_conical_matches_naive(voc, fft, cap, alpha):
    check_against_naive(voc * cap, fft, cap, alpha, naive.conical_beta(alpha), K.VDF_CONICAL,
                        derivative=voc >= 0.01)


@SETTINGS
@given(fft_st, cap_st, conical_alpha_st)
def test_conical_passes_through_fft_and_twice_fft(fft, cap, alpha):
    beta = naive.conical_beta(alpha)
    t0, _, i0 = kernel_scalars(0.0, fft, cap, alpha, beta, K.VDF_CONICAL)
    t1, _, _ = kernel_scalars(cap, fft, cap, alpha, beta, K.VDF_CONICAL)
    assert math.isclose(t0, fft, rel_tol=TIME_TOL)
    assert math.isclose(t1, 2.0 * fft, rel_tol=TIME_TOL)
    assert i0 == 0.0


@SETTINGS
@given(voc_st, fft_st, cap_st)
def test_constant_time(voc, fft, cap):
    v = voc * cap
    t, dt, it = kernel_scalars(v, fft, cap, 0.15, 4.0, K.VDF_CONSTANT)
    assert t == fft
    assert dt == 0.0
    assert math.isclose(it, fft * v, rel_tol=TIME_TOL)


@st.composite
def arcs(draw, min_size=1, max_size=6):
    """Arrays for a few arcs of mixed delay functions, with volumes in capacity units."""
    k = draw(st.integers(min_size, max_size))
    kind = draw(st.lists(st.sampled_from([K.VDF_BPR, K.VDF_CONICAL, K.VDF_CONSTANT]),
                         min_size=k, max_size=k))
    fft = draw(st.lists(fft_st, min_size=k, max_size=k))
    cap = draw(st.lists(cap_st, min_size=k, max_size=k))
    alpha, beta = [], []
    for kd in kind:
        if kd == K.VDF_CONICAL:
            a = draw(conical_alpha_st)
            alpha.append(a)
            beta.append(naive.conical_beta(a))
        else:
            alpha.append(draw(st.floats(0.0, 2.0, **finite)))
            beta.append(draw(st.floats(1.0, 8.0, **finite)))
    voc = draw(st.lists(voc_st, min_size=k, max_size=k))
    v = [x * c for x, c in zip(voc, cap, strict=True)]
    return kernel_arrays(v, fft, cap, alpha, beta, kind)


@SETTINGS
@given(arcs())
def test_link_time_integral_sums_over_arcs(a):
    v, fft, cap, alpha, beta, kind = a
    ref = sum(naive.time_integral(*args)
              for args in zip(v, fft, cap, alpha, beta, kind, strict=True))
    assert math.isclose(K.link_time_integral(v, fft, cap, alpha, beta, kind), ref,
                        rel_tol=INTEGRAL_TOL, abs_tol=INTEGRAL_TOL * float(np.sum(fft * cap)))


def test_conical_integral_is_positive_and_accurate_at_tiny_volume():
    # t >= fft > 0, so int_0^v t is positive and, for v << cap, close to fft * v
    fft, cap, alpha = 1.0, 1.0, 2.0
    v = 1e-20 * cap
    _, _, integral = kernel_scalars(v, fft, cap, alpha, naive.conical_beta(alpha), K.VDF_CONICAL)
    assert integral > 0.0
    assert math.isclose(integral, fft * v, rel_tol=1e-6)


# ----------------------------------------------------------------------------- line search

OBJECTIVE_TOL = 1e-8  # relative to the size of the objective's change over the interval
SLOPE_TOL = 1e-7  # relative to the size of the slope's terms


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arcs(), st.data())
def test_line_search_minimises_beckmann_along_the_direction(a, data):
    """The kernel's step against a grid + golden-section minimiser of the same objective built
    from naive integrals, and against the optimality conditions on phi'."""
    v, fft, cap, alpha, beta, kind = a
    k = v.shape[0]
    target_voc = data.draw(st.lists(voc_st, min_size=k, max_size=k))
    dv = np.asarray(target_voc) * cap - v  # towards another feasible volume, as in Frank-Wolfe
    max_step = data.draw(st.floats(0.1, 1.0, **finite))
    slope_scale = float(np.sum(np.abs(dv) * (fft * (1.0 + alpha * VOC_MAX**beta) + 2 * fft)))
    fixed = data.draw(st.floats(-1.0, 1.0, **finite)) * slope_scale
    slope_scale += abs(fixed)
    args = (v, dv, fixed, fft, cap, alpha, beta, kind)

    lam = K.line_search(*args, max_step)

    assert 0.0 <= lam <= max_step
    best = naive.minimise_brute(lambda x: naive.beckmann_along(x, *args), 0.0, max_step)
    phi_scale = max_step * slope_scale
    assert naive.beckmann_along(lam, *args) <= (
        naive.beckmann_along(best, *args) + OBJECTIVE_TOL * phi_scale
    )
    slope = naive.beckmann_slope(lam, *args)
    if lam == 0.0:
        assert slope >= -SLOPE_TOL * slope_scale
    elif lam == max_step:
        assert slope <= SLOPE_TOL * slope_scale
    else:
        assert abs(slope) <= SLOPE_TOL * slope_scale


def test_line_search_ends_of_the_interval():
    # one constant arc: phi is linear, so the minimum is at an end chosen by the sign of phi'
    v, fft, cap, alpha, beta, kind = kernel_arrays(1.0, 2.0, 10.0, 0.15, 4.0, K.VDF_CONSTANT)
    down = np.array([-1.0])
    up = np.array([1.0])
    assert K.line_search(v, down, 0.0, fft, cap, alpha, beta, kind, 0.7) == 0.7
    assert K.line_search(v, up, 0.0, fft, cap, alpha, beta, kind, 0.7) == 0.0


@pytest.mark.parametrize("kind", [K.VDF_BPR, K.VDF_CONICAL])
def test_line_search_equal_times_on_two_arcs(kind):
    """Moving flow from a congested arc to an empty twin: the exact step balances the two times,
    which for identical arcs is half the flow."""
    alpha = 4.0 if kind == K.VDF_CONICAL else 0.15
    beta = naive.conical_beta(alpha) if kind == K.VDF_CONICAL else 4.0
    total = 30.0
    v, fft, cap, a, b, kd = kernel_arrays([total, 0.0], [5.0, 5.0], [10.0, 10.0], [alpha] * 2,
                                          [beta] * 2, [kind] * 2)
    dv = np.array([-total, total])
    lam = K.line_search(v, dv, 0.0, fft, cap, a, b, kd, 1.0)
    assert math.isclose(lam, 0.5, rel_tol=1e-12)
