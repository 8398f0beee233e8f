"""OD matrix estimation: the GLS step against its closed form, bounds, zero cells, counts by
class, and recovery of a known matrix on Sioux Falls, bi-level with Algorithm B."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.assign import assign
from karvan.calibrate.odme import estimate_od, gls_estimate
from karvan.calibrate.proportions import arc_proportions
from karvan.errors import InputError
from karvan.io.tntp import read_tntp
from karvan.network.demand import Demand
from karvan.paths import route_flows


def test_gls_step_equals_the_closed_form_when_no_bound_binds():
    rng = np.random.default_rng(3)
    n, m = 40, 12
    a = (rng.random((m, n)) < 0.3) * rng.random((m, n))
    p = rng.random(n) * 100 + 10
    y = a @ (p * np.exp(rng.normal(0, 0.1, n))) + 1.0
    s = 0.5 * p
    sig = 0.1 * y
    q = gls_estimate(p, a, y, count_sd=sig, prior_sd=s, lower=np.zeros(n), upper=p * 100)
    # q = p + S^2 A' (A S^2 A' + Sigma)^-1 (y - A p)
    s2 = np.diag(s ** 2)
    want = p + s2 @ a.T @ np.linalg.solve(a @ s2 @ a.T + np.diag(sig ** 2), y - a @ p)
    assert q == pytest.approx(want, rel=1e-7, abs=1e-7)


def _far_counts(seed, *, n, m, fill, power, size, rse, factor):
    """A bounded estimate of n cells from m counts far from the prior (lognormal noise of 1.5 on
    the cells and 1 on the counts): proportions (a ``fill`` share of them non-zero, uniform to
    the ``power``), prior (lognormal ``size``), counts, the prior's and the counts' standard
    errors (relative ``rse``, the counts' + 1) and bounds (a ``factor`` either side)."""
    rng = np.random.default_rng(seed)
    a = (rng.random((m, n)) < fill) * rng.random((m, n)) ** power
    p = np.exp(rng.normal(*size, n))
    y = a @ (p * np.exp(rng.normal(0, 1.5, n))) * np.exp(rng.normal(0, 1, m))
    return a, p, y, rse[0] * p, rse[1] * y + 1, p / factor, p * factor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gls_step_reaches_the_bounded_optimum_of_a_dense_solver(seed):
    """Many cells, few counts far from the prior, bounds that bind (as the corridor's): the
    estimate's objective equals that of scipy's bounded-variable least squares on the dense
    system (the sparse solver with inexact steps stopped short of it, 5-15 % above)."""
    from scipy.optimize import lsq_linear

    a, p, y, s, sig, lo, hi = _far_counts(seed, n=800, m=40, fill=0.15, power=3, size=(8, 2),
                                          rse=(0.4, 0.1), factor=5)
    q = gls_estimate(p, a, y, count_sd=sig, prior_sd=s, lower=lo, upper=hi)
    lhs = np.vstack([a / sig[:, None], np.diag(1 / s)])
    rhs = np.concatenate([y / sig, p / s])
    ref = lsq_linear(lhs, rhs, bounds=(lo, hi), method="bvls", tol=1e-14).x

    def objective(x):
        return float(np.sum((lhs @ x - rhs) ** 2))

    assert np.all((q >= lo) & (q <= hi))
    assert objective(q) == pytest.approx(objective(ref), rel=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_active_set_and_the_fallback_each_reach_the_dense_solvers_optimum(seed, monkeypatch):
    """The primal active set (the estimate's solver) and lsq_linear (used where the active set
    does not end) each give the minimum of scipy's dense bounded-variable least squares, with
    bounds binding on both sides, from a sparse matrix."""
    from scipy import sparse
    from scipy.optimize import lsq_linear

    import karvan.calibrate.odme as odme

    a, p, y, s, sig, lo, hi = _far_counts(seed, n=300, m=25, fill=0.2, power=2, size=(6, 1.5),
                                          rse=(0.5, 0.05), factor=3)
    lhs = np.vstack([a / sig[:, None], np.diag(1 / s)])
    rhs = np.concatenate([y / sig, p / s])
    ref = lsq_linear(lhs, rhs, bounds=(lo, hi), method="bvls", tol=1e-14).x
    assert ((ref <= lo * (1 + 1e-9)).sum() > 3) and ((ref >= hi * (1 - 1e-9)).sum() > 3)
    x = odme._active_set(sparse.csr_matrix(a), y, sig, p, s, lo, hi)
    assert x is not None
    np.testing.assert_allclose(x, ref, rtol=1e-7, atol=1e-9 * p.max())
    # one round holds one bound, not enough here: it says so (None) rather than give a point
    assert odme._active_set(sparse.csr_matrix(a), y, sig, p, s, lo, hi, max_iter=1) is None
    fallback = odme._by_lsq_linear(sparse.csr_matrix(a), y, sig, p, s, lo, hi)
    np.testing.assert_allclose(fallback, ref, rtol=1e-6, atol=1e-9 * p.max())
    # and gls_estimate takes the fallback where the active set gives up
    monkeypatch.setattr(odme, "_active_set", lambda *args, **kw: None)
    np.testing.assert_allclose(gls_estimate(p, sparse.csr_matrix(a), y, count_sd=sig,
                                            prior_sd=s, lower=lo, upper=hi),
                               fallback, rtol=0, atol=0)


@pytest.mark.parametrize("seed", range(3))
def test_cells_without_an_upper_bound_reach_the_dense_solvers_optimum(seed):
    """max_factor=inf: the cells are bounded below by 0 only. A held cell's multiplier was
    tested against its bounds' span, infinite here, so a cell held at 0 was never released and
    the estimate's objective came out up to 21 % above the optimum (3 of 400 such draws)."""
    from scipy import sparse
    from scipy.optimize import lsq_linear

    import karvan.calibrate.odme as odme

    rng = np.random.default_rng(seed)
    worse = []
    for _ in range(150):
        n, m = int(rng.integers(2, 60)), int(rng.integers(1, 15))
        a = (rng.random((m, n)) < rng.uniform(0.1, 1.0)) * rng.random((m, n)) ** 2
        p = np.exp(rng.normal(rng.uniform(0, 8), rng.uniform(0.1, 2.5), n))
        y = a @ (p * np.exp(rng.normal(0, 2, n))) * np.exp(rng.normal(0, 1, m)) + 1
        sd, s = 0.1 * y, rng.choice([0.1, 0.5, 2.0]) * p
        lo, hi = np.zeros(n), np.full(n, np.inf)
        x = odme._active_set(sparse.csr_matrix(a), y, sd, p, s, lo, hi)
        lhs = np.vstack([a / sd[:, None], np.diag(1 / s)])
        rhs = np.r_[y / sd, p / s]
        ref = lsq_linear(lhs, rhs, bounds=(lo, hi), method="bvls", tol=1e-14).x
        if x is not None:
            excess = np.sum((lhs @ x - rhs) ** 2) / np.sum((lhs @ ref - rhs) ** 2) - 1
            if excess > 1e-8 or (x < 0).any():
                worse.append(excess)
    assert not worse, worse


def test_counts_that_identify_every_cell_recover_it_within_its_bounds():
    # three OD cells, each alone on its counted link; the assignment does not depend on demand
    truth = np.array([100.0, 250.0, 40.0])
    prior = np.array([80.0, 300.0, 10.0])  # the third truth is 4 x its prior
    a = np.eye(3)
    res = estimate_od(prior, truth, lambda q: a, count_rse=1e-4, prior_rse=1.0, max_factor=3.0,
                      labels=pd.DataFrame({"od": ["x", "y", "z"]}))
    assert res.converged and res.iterations == 1
    assert res.estimate[:2] == pytest.approx(truth[:2], rel=1e-4)
    assert res.estimate[2] == pytest.approx(30.0)  # held at 3 x its prior
    moved = res.moved_cells()
    assert list(moved["od"]) == ["z"] and moved["factor"].iloc[0] == pytest.approx(3.0)
    assert res.modelled == pytest.approx(res.estimate)
    assert res.modelled_prior == pytest.approx(prior)
    # one count per cell: the posterior variance is 1 / (1 / s^2 + 1 / sigma^2)
    s, sig = 1.0 * prior[:2], 1e-4 * truth[:2]
    assert res.std_errors[:2] == pytest.approx(1 / np.sqrt(1 / s ** 2 + 1 / sig ** 2), rel=1e-6)
    assert np.isnan(res.std_errors[2])  # held by its bound


def _counted_twice(seed, spread):
    """Six counts of 30 cells (cells lognormal ``spread`` off their prior), and the first two
    counts again: proportions of the six and of the eight, prior, the six counts."""
    rng = np.random.default_rng(seed)
    n, m = 30, 6
    a = (rng.random((m, n)) < 0.5) * rng.random((m, n))
    prior = rng.uniform(10, 100, n)
    y = a @ (prior * np.exp(rng.normal(0, spread, n)))
    return a, np.vstack([a, a[:2]]), prior, y


@pytest.mark.parametrize(("seed", "spread"), [(0, 1.0), (26, 1.0), (2, 1.5)])
def test_a_count_made_twice_is_one_count_of_half_the_variance(seed, spread):
    """Two equal rows with errors sigma are one row with error sigma / sqrt(2) (the same GLS
    objective): the estimate and its standard errors are those of the counts without the
    copies, with bounds binding or not (none, 3 and 24 cells of 30 held in the three draws)."""
    a, twice, prior, y = _counted_twice(seed, spread)
    got = estimate_od(prior, np.r_[y, y[:2]], lambda q: twice, count_rse=1e-3, prior_rse=0.5,
                      max_factor=3.0)
    once_rse = np.full(len(y), 1e-3)
    once_rse[:2] /= np.sqrt(2)
    want = estimate_od(prior, y, lambda q: a, count_rse=once_rse, prior_rse=0.5, max_factor=3.0)
    np.testing.assert_allclose(got.estimate, want.estimate, rtol=1e-9, atol=1e-9 * prior.max())
    # a variance is s^2 less a sum over the counts, rounded to about counts x eps x s^2: a
    # standard error near 0 is known to sqrt(counts x eps) x s only
    np.testing.assert_allclose(got.std_errors, want.std_errors, rtol=1e-6,
                               atol=np.sqrt(len(twice) * np.finfo(float).eps) * 0.5 * prior.max())


@pytest.mark.parametrize(("seed", "spread"), [(0, 1.0), (26, 1.0), (2, 1.5)])
def test_a_count_made_twice_and_known_to_1e_9_is_an_input_error_that_names_both(seed, spread):
    """Known to a relative 1e-9, the two copies make the counts' system singular to working
    precision: a clear error naming the counts and what to give instead (it was numpy's
    LinAlgError "Singular matrix")."""
    _, twice, prior, y = _counted_twice(seed, spread)
    with pytest.raises(InputError, match=r"counts 0 and 6; 1 and 7 count the same flows.*"
                                         r"1e-09.*count_rse of 1e-6 or more"):
        estimate_od(prior, np.r_[y, y[:2]], lambda q: twice, count_rse=1e-9, prior_rse=0.5,
                    max_factor=3.0)


def test_zero_cells_stay_zero_and_a_count_by_class_moves_its_class_only():
    prior = np.array([100.0, 50.0, 0.0, 50.0])  # cells 0, 1 of class A; 2, 3 of class B
    # a count of class A (zero proportions on class B's cells)
    a = np.array([[1.0, 1.0, 0.0, 0.0]])
    res = estimate_od(prior, [210.0], lambda q: a, count_rse=0.001, prior_rse=0.5)
    assert res.estimate[2:] == pytest.approx([0.0, 50.0], abs=1e-9)
    # the 60 missing tonnes are shared in proportion to the prior variances (4 : 1)
    d0, d1 = res.estimate[0] - 100.0, res.estimate[1] - 50.0
    assert d0 + d1 == pytest.approx(60.0, rel=1e-3)
    assert d0 / d1 == pytest.approx((0.5 * 100) ** 2 / (0.5 * 50) ** 2, rel=1e-4)
    # a count of class B: its zero cell stays zero, the other takes it all
    b = np.array([[0.0, 0.0, 1.0, 1.0]])
    res = estimate_od(prior, [80.0], lambda q: b, count_rse=0.001, prior_rse=0.5)
    assert res.estimate == pytest.approx([100.0, 50.0, 0.0, 80.0], rel=1e-3)


def test_bad_arguments_are_reported_together():
    with pytest.raises(InputError) as e:
        estimate_od([1.0, -1.0], [0.0], lambda q: np.ones((1, 2)), count_rse=0.0,
                    max_factor=0.5, labels=pd.DataFrame({"x": [1]}))
    msg = str(e.value)
    for part in ("prior", "counts", "count_rse", "max_factor", "labels"):
        assert part in msg
    with pytest.raises(InputError, match="shape"):
        estimate_od([1.0, 2.0], [1.0], lambda q: np.ones((2, 2)))


@pytest.mark.parametrize("bad", [
    {"prior_rse": np.inf}, {"count_rse": [0.1, np.inf]}, {"tol": np.nan}, {"tol": np.inf},
    {"tol": -1.0}, {"tol": "0.1"}, {"tol": None}, {"max_iter": 0}, {"max_iter": 2.5},
    {"max_iter": True}])
def test_settings_that_never_end_or_never_start_are_refused(bad):
    """prior_rse inf ran without end (NaN weights), tol nan ran every round and tol inf
    stopped after one without an equilibrium; max_iter 0 raised an IndexError."""
    name = next(iter(bad))
    with pytest.raises(InputError, match=rf"{name} must be a (finite|whole) number"):
        estimate_od([1.0, 2.0], [3.0, 1.0], lambda q: np.array([[1.0, 1.0], [0.0, 1.0]]),
                    **bad)


@pytest.fixture(scope="module")
def sioux_falls(tntp_dir):
    prob = read_tntp(tntp_dir / "SiouxFalls" / "SiouxFalls_net.tntp")
    name = prob.demand.names[0]
    m = prob.demand.matrices[name]
    oi, di = np.nonzero(m)
    zones = prob.demand.zone_ids

    def demand_of(q):
        mm = np.zeros_like(m)
        mm[oi, di] = q
        return Demand(zones, {name: mm})

    truth = m[oi, di]
    res = assign(prob.network, demand_of(truth), gap=1e-8)
    cells = pd.DataFrame({"class": res.classes[0].name, "origin": [zones[i] for i in oi],
                          "destination": [zones[j] for j in di]})
    return prob.network, demand_of, truth, res, cells


def test_arc_proportions_from_bushes_equal_those_from_route_lists(sioux_falls):
    _, _, truth, res, cells = sioux_falls
    arcs = [[a] for a in range(0, res.graph.n_arcs, 5)]
    fast = arc_proportions(res, arcs, cells)
    slow = arc_proportions(res, arcs, cells, routes=route_flows(res))
    assert fast == pytest.approx(slow, abs=1e-9)
    # proportions times demand give the link flows
    assert fast @ truth == pytest.approx(res.flow[[a[0] for a in arcs]], rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovers_a_perturbed_sioux_falls_matrix_from_half_of_the_links(sioux_falls, seed):
    net, demand_of, truth, res, cells = sioux_falls
    counted = np.arange(0, res.graph.n_arcs, 2)  # every second link
    counts = res.flow[counted]
    rng = np.random.default_rng(seed)
    prior = truth * np.exp(rng.normal(0.0, 0.3, len(truth)))
    last = {}

    def proportions(q):
        r = assign(net, demand_of(q), gap=1e-8, warm_start=last.get("r"))
        last["r"] = r
        return arc_proportions(r, [[a] for a in counted], cells)

    out = estimate_od(prior, counts, proportions, count_rse=0.05, prior_rse=0.3,
                      max_factor=3.0, tol=0.01, max_iter=30)
    assert out.converged
    rmse = lambda q: float(np.sqrt(np.mean((q - truth) ** 2)))  # noqa: E731
    assert rmse(out.estimate) < rmse(prior)
    # the equilibrium of the estimate reproduces the counts far better than that of the prior
    err = lambda m: float(np.sqrt(np.mean(((m - counts) / counts) ** 2)))  # noqa: E731
    assert err(out.modelled) < 0.5 * err(out.modelled_prior)
    assert out.modelled == pytest.approx(last["r"].flow[counted], rel=1e-6, abs=1e-6)
    assert (out.estimate >= prior / 3 - 1e-9).all() and (out.estimate <= prior * 3 + 1e-9).all()
