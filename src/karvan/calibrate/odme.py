"""OD matrix estimation from counts with a prior: generalized least squares, bi-level with the
assignment.

The estimate of the OD cells q (one per OD pair and class) solves (Cascetta 1984)

    min   sum_c ((q_c - p_c) / s_c)^2  +  sum_i ((sum_c a_ic q_c - y_i) / sigma_i)^2
    s.t.  p_c / r <= q_c <= p_c * r

with p the prior, s_c = prior_rse * p_c its standard error, y the counts with standard errors
sigma_i = count_rse_i * y_i, a the link-use proportions (the share of cell c's flow that count i
sees) and r the largest factor a cell may move by. Cells with a zero prior stay zero. For fixed
proportions this is a bounded linear least-squares problem, a strictly convex quadratic programme
with box constraints, solved exactly by a primal active-set method (:func:`_active_set`; Nocedal &
Wright 2006, 16.5), with ``scipy.optimize.lsq_linear`` where that does not end at a point that
meets the optimality conditions. The
proportions depend on the assignment of q; the bi-level estimation alternates estimation and
assignment until they settle (Cascetta & Postorino 2001; Yang et al. 1992): the assignment is a
parameter, a function from cells to proportions, so that the deterministic equilibrium and the
choice model can both be used. A count by commodity is a row of proportions that is zero on the
cells of the other commodities.

References
----------
Cascetta, E. (1984). Estimation of trip matrices from traffic counts and survey data: a
generalized least squares estimator. Transportation Research B 18(4-5), 289-299.
Cascetta, E., Postorino, M. N. (2001). Fixed point approaches to the estimation of O/D matrices
using traffic counts on congested networks. Transportation Science 35(2), 134-147.
Nocedal, J., Wright, S. J. (2006). Numerical Optimization, 2nd ed. Springer (16.5, active-set
methods for convex quadratic programmes).
Spiess, H. (1990). A gradient approach for the O-D matrix adjustment problem. CRT Publication
693, Université de Montréal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import lsq_linear

from karvan.errors import InputError, KarvanError
from karvan.network.arguments import finite_number

#: largest dense system (rows x cells) the exact fallback of the GLS step builds: 2e7 doubles,
#: 160 MB
DENSE_LIMIT = 20_000_000

log = logging.getLogger(__name__)

#: a cell counts as moved when its estimate differs from its prior by more than this share
MOVED_SHARE = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class OdmeResult:
    """An OD estimation: the estimate, the prior, the fit to the counts and the iterations.

    ``proportions`` are those of the last assignment (of ``estimate``); ``modelled`` is
    ``proportions @ estimate`` and ``modelled_prior`` the counts' values at the prior (with the
    proportions of the prior's assignment). ``history`` has one row per outer iteration:
    ``iteration, proportion_change, objective, count_rmse_rel``, where ``proportion_change`` is
    the largest relative difference, over the counts, between a count's value with the
    proportions the round estimated with and with those of the assignment of its estimate
    (see ``tol`` of :func:`estimate_od`). ``std_errors`` are the standard errors of the
    estimate, from the GLS covariance ``(A' Sigma^-1 A + S^-2)^-1`` over the free cells at the
    proportions of the last estimation; NaN where a cell is fixed or held by a bound.
    """

    estimate: np.ndarray
    prior: np.ndarray
    counts: np.ndarray
    modelled: np.ndarray
    modelled_prior: np.ndarray
    proportions: np.ndarray
    iterations: int
    converged: bool
    history: pd.DataFrame
    std_errors: np.ndarray
    labels: pd.DataFrame | None = None

    def moved_cells(self, threshold: float = MOVED_SHARE) -> pd.DataFrame:
        """Every cell whose estimate differs from its prior by more than ``threshold`` (a
        share of the prior, up or down: at 0.5, a factor above 1.5 or below 0.5; a cut to 0.52
        of the prior is a move of 48 %): its labels, ``prior``, ``estimate``, ``factor``; the
        largest moves first (by the factor's logarithm)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(self.prior > 0, self.estimate / self.prior, np.nan)
        sel = np.flatnonzero(np.abs(factor - 1.0) > threshold)
        out = (self.labels.iloc[sel].reset_index(drop=True) if self.labels is not None
               else pd.DataFrame({"cell": sel}))
        out["prior"] = self.prior[sel]
        out["estimate"] = self.estimate[sel]
        out["factor"] = factor[sel]
        order = np.argsort(-np.abs(np.log(factor[sel]))) if len(sel) else []
        return out.iloc[order].reset_index(drop=True)


def gls_estimate(prior: np.ndarray, proportions, counts: np.ndarray, *,
                 count_sd: np.ndarray, prior_sd: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray) -> np.ndarray:
    """The bounded generalized least-squares estimate for fixed proportions (no validation:
    :func:`estimate_od` checks its arguments).

    Parameters
    ----------
    prior, prior_sd, lower, upper
        Per cell: the prior, its standard error (> 0 where the cell is free) and the bounds;
        cells with ``lower == upper`` are fixed there.
    proportions
        Counts x cells, dense or sparse.
    counts, count_sd
        Per count: the value and its standard error (> 0).

    Raises
    ------
    KarvanError
        Neither the sparse nor the dense bounded least-squares solver converged.
    """
    free = upper > lower
    q = np.where(free, prior, lower).astype(float)
    if not free.any():
        return q
    a = sparse.csr_matrix(proportions)
    fixed_part = a[:, ~free] @ q[~free] if (~free).any() else np.zeros(a.shape[0])
    af = a[:, free]
    x = _active_set(af, counts - fixed_part, count_sd, prior[free], prior_sd[free], lower[free],
                    upper[free])
    if x is None:
        x = _by_lsq_linear(af, counts - fixed_part, count_sd, prior[free], prior_sd[free],
                           lower[free], upper[free])
    q[free] = x
    return q


def _active_set(a: sparse.csr_matrix, y: np.ndarray, sd: np.ndarray, p: np.ndarray,
                s: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                max_iter: int | None = None) -> np.ndarray | None:
    """The minimum of ``||(a x - y) / sd||^2 + ||(x - p) / s||^2`` over ``lower <= x <= upper`` by
    a primal active-set method, or None where it does not end in ``max_iter`` rounds (default
    ten per cell) or its end point fails the optimality conditions (ill-conditioned counts).

    A working set of cells is held at their bounds; each round minimises over the others
    exactly (:func:`_held_minimum`), and either moves there (then releases the held cell whose
    multiplier has the wrong sign, or stops when none has) or, where that point leaves the box,
    moves as far towards it as the first bound in the way allows and holds that cell. The
    objective is strictly convex, so the method ends at the unique minimum (Nocedal & Wright
    2006, 16.5); the end point is checked against the optimality conditions before it is
    returned.
    """
    n = len(p)
    w = 1.0 / sd ** 2
    d = 1.0 / s ** 2
    at = a.T.tocsr()
    b = at @ (w * y) + d * p
    # a cell's scale, for the test of its multiplier: its bounds' span, or where that is wide
    # or infinite (max_factor=inf) its prior and the prior's error
    span = np.maximum(np.minimum(upper - lower, np.abs(p) + s), 1e-300)
    x = np.clip(p, lower, upper)
    at_lo = x <= lower
    at_up = (x >= upper) & ~at_lo
    for _ in range(10 * n + 10 if max_iter is None else max_iter):
        f = ~(at_lo | at_up)
        target = x.copy()
        if f.any():
            target[f] = _held_minimum(a, y, sd, p, s, x, f)
        step = target - x
        out = f & ((target < lower) | (target > upper))
        if out.any():
            # the first bound on the way: move to it and hold that cell there
            idx = np.flatnonzero(out)
            to = np.where(step[idx] < 0, lower[idx], upper[idx])
            frac = (to - x[idx]) / step[idx]
            j = int(np.argmin(frac))
            x[f] += max(float(frac[j]), 0.0) * step[f]
            x = np.clip(x, lower, upper)
            c = idx[j]
            x[c] = to[j]
            at_lo[c], at_up[c] = step[c] < 0, step[c] > 0
            continue
        x[f] = target[f]
        mu = at @ (w * (a @ x)) + d * x - b  # the gradient of half the objective
        # a held cell whose multiplier pushes it into the box (in units of the cell)
        wrong = (np.where(at_lo, -mu, 0.0) + np.where(at_up, mu, 0.0)) / d
        c = int(np.argmax(wrong))
        if wrong[c] <= 1e-9 * span[c]:
            free = ~(at_lo | at_up)
            tol = 1e-8 * max(float(np.abs(b).max(initial=0.0)), 1e-300)
            if np.all(np.abs(mu[free]) <= tol):
                return x
            return None
        at_lo[c] = at_up[c] = False
    return None


def _held_minimum(a, y: np.ndarray, sd: np.ndarray, p: np.ndarray, s: np.ndarray,
                  x: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The minimum of :func:`_active_set`'s objective over the cells ``free``, the others held
    at ``x`` (no bounds): solved through the counts' space. With ``W = diag(1 / sd^2)`` and
    ``D = diag(1 / s^2)`` the free block of the Hessian is ``D_F + a_F' W a_F``, a diagonal plus
    a matrix of the rank of the counts (Sherman-Morrison-Woodbury: one system of one row per
    count), so that ``x_F = p_F + S_F^2 a_F' (a_F S_F^2 a_F' + W^-1)^-1 (y - a_H x_H - a_F p_F)``.
    ``a`` dense or sparse."""
    af = a[:, free]
    s2 = s[free] ** 2
    resid = y - a[:, ~free] @ x[~free] - af @ p[free]
    k = af @ sparse.diags(s2) @ af.T
    k = (k.toarray() if sparse.issparse(k) else np.asarray(k)) + np.diag(sd ** 2)
    return p[free] + s2 * (af.T @ np.linalg.solve(k, resid))


def _by_lsq_linear(af: sparse.csr_matrix, y: np.ndarray, count_sd: np.ndarray, p: np.ndarray,
                   s: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The minimum of :func:`_active_set` by ``scipy.optimize.lsq_linear`` (trust-region
    reflective on the sparse system, then dense bounded-variable least squares), polished.

    Raises
    ------
    KarvanError
        Neither solver converged.
    """
    w = 1.0 / count_sd
    top = sparse.diags(w) @ af
    bottom = sparse.diags(1.0 / s)
    lhs = sparse.vstack([top, bottom]).tocsr()
    rhs = np.concatenate([w * y, p / s])
    # trust-region reflective on the sparse system (the prior block is diagonal), with exact
    # LSMR steps: lsmr_tol="auto" made it stop at its iteration limit short of the optimum;
    # where it still does not converge, the dense bounded-variable least squares (exact)
    res = lsq_linear(lhs, rhs, bounds=(lower, upper), method="trf", tol=1e-12)
    if res.status <= 0 and lhs.shape[0] * lhs.shape[1] <= DENSE_LIMIT:
        res = lsq_linear(lhs.toarray(), rhs, bounds=(lower, upper), method="bvls", tol=1e-12)
    if res.status <= 0:
        raise KarvanError(f"the bounded least-squares estimate did not converge "
                          f"({res.message}); report it with the dataset.")
    x = np.clip(res.x, lower, upper)
    # polish: with the bounds that bind held, the rest solves exactly in closed form
    span = np.maximum(upper - lower, 1e-300)
    held = (x - lower <= 1e-8 * span) | (upper - x <= 1e-8 * span)
    inner = ~held
    if inner.any():
        x_in = _held_minimum(af, y, count_sd, p, s, x, inner)
        lo, hi = lower[inner], upper[inner]
        if np.all(x_in >= lo - 1e-9 * span[inner]) and np.all(x_in <= hi + 1e-9 * span[inner]):
            x[inner] = np.clip(x_in, lo, hi)
    return x


def _objective(q, prior, prior_sd, a, counts, count_sd) -> float:
    free = prior_sd > 0
    r1 = (q[free] - prior[free]) / prior_sd[free]
    r2 = (a @ q - counts) / count_sd
    return float(r1 @ r1 + r2 @ r2)


def estimate_od(
    prior: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    proportions: Callable[[np.ndarray], np.ndarray],
    *,
    count_rse: float | Sequence[float] | np.ndarray = 0.1,
    prior_rse: float | Sequence[float] | np.ndarray = 0.5,
    max_factor: float = 3.0,
    tol: float = 1e-3,
    max_iter: int = 20,
    labels: pd.DataFrame | None = None,
    averaging: bool = False,
    callback: Callable[[int, np.ndarray, float], None] | None = None,
) -> OdmeResult:
    """Estimate OD cells from counts and a prior, alternating with the assignment.

    Parameters
    ----------
    prior
        The prior cells (>= 0), in the order ``proportions`` uses.
    counts
        The counts (> 0) the estimate is fitted to: only the ``fit`` rows; validation figures
        never enter here.
    proportions
        The assignment: cells -> matrix (counts x cells) of link-use proportions at the
        assignment of those cells (a dense array or a scipy sparse matrix).
    count_rse, prior_rse
        Relative standard errors of the counts and of the prior cells (scalar or one per count
        / cell).
    max_factor
        A cell stays within ``[prior / max_factor, prior * max_factor]``.
    tol
        Stop when the assignment of the estimate gives every count the value the estimation
        assumed, to ``tol`` of the count: ``max_i |(a(q) q)_i - (a_bar q)_i| / y_i <= tol``
        with ``a_bar`` the proportions the round estimated with. Link flows at equilibrium are
        unique even where the split of an OD pair over routes is not, so this measures whether
        estimation and assignment agree.
    max_iter
        Most estimation-assignment rounds.
    labels
        One row per cell (for example origin, destination, class) for
        :meth:`OdmeResult.moved_cells`.
    averaging
        Estimate each round with the average of the proportions of all assignments so far
        (method of successive averages), for an assignment whose alternation with the
        estimation cycles; by default each round uses those of the last assignment.
    callback
        Called after each round with (round, estimate, proportion change).

    Returns
    -------
    OdmeResult

    Raises
    ------
    InputError
        Negative or non-finite prior, non-positive counts or standard errors, a matrix of the
        wrong shape, ``max_factor < 1``, labels of the wrong length; counts that depend on each
        other known so closely that their system is singular to working precision.

    Notes
    -----
    Each round solves the GLS problem against the original prior (the prior carries the same
    information at every round); the rounds stop when the proportions of the assignment of the
    estimate equal (to ``tol``) those the estimate was computed with, a fixed point of
    estimation and assignment. A warning is logged when ``max_iter`` rounds do not get there.
    """
    p = np.asarray(prior, dtype=float)
    y = np.asarray(counts, dtype=float)
    problems = []
    if p.ndim != 1 or not np.all(np.isfinite(p)) or (p < 0).any():
        problems.append("prior: cells must be a 1-d array of finite numbers >= 0.")
    if y.ndim != 1 or not np.all(np.isfinite(y)) or (y <= 0).any():
        problems.append("counts: must be a 1-d array of finite numbers > 0 (a zero count has no "
                        "relative error; leave it out or give it a small value with its own "
                        "standard error).")
    crse = np.broadcast_to(np.asarray(count_rse, dtype=float), y.shape) if y.ndim == 1 else None
    prse = np.broadcast_to(np.asarray(prior_rse, dtype=float), p.shape) if p.ndim == 1 else None
    # an infinite relative error gives an infinite variance, NaN weights and no end of rounds
    if crse is None or not ((crse > 0) & np.isfinite(crse)).all():
        problems.append("count_rse must be a finite number > 0 for every count.")
    if prse is None or not ((prse > 0) & np.isfinite(prse)).all():
        problems.append("prior_rse must be a finite number > 0 for every cell.")
    if not max_factor >= 1:
        problems.append(f"max_factor must be >= 1 (got {max_factor}).")
    if not (isinstance(max_iter, (int, np.integer)) and not isinstance(max_iter, bool)
            and max_iter >= 1):
        problems.append(f"max_iter must be a whole number >= 1 (got {max_iter!r}).")
    if not (finite_number(tol) and tol >= 0):
        problems.append(f"tol must be a finite number >= 0 (got {tol}): the largest change of "
                        "a count, as a share of it, between two rounds that ends them.")
    if labels is not None and len(labels) != len(p):
        problems.append(f"labels has {len(labels)} rows for {len(p)} cells.")
    if problems:
        raise InputError(problems, "estimate_od")
    count_sd = crse * y
    prior_sd = np.where(p > 0, prse * p, 0.0)
    lower = p / max_factor
    upper = p * max_factor

    def assign(q):
        a = proportions(q)
        if a.shape != (len(y), len(p)):
            raise InputError(f"proportions returned a matrix of shape {a.shape}, expected "
                             f"({len(y)}, {len(p)}): counts x cells.", "estimate_od")
        return sparse.csr_matrix(a)

    a_bar = assign(p)
    modelled_prior = np.asarray(a_bar @ p).ravel()
    q = p.copy()
    a = a_bar
    rows = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        try:
            q = gls_estimate(p, a_bar, y, count_sd=count_sd, prior_sd=prior_sd, lower=lower,
                             upper=upper)
        except np.linalg.LinAlgError as e:
            raise InputError(_singular_counts(a_bar, crse), "estimate_od") from e
        a = assign(q)
        m = np.asarray(a @ q).ravel()
        # the counts as the estimation saw them against the counts of the estimate's assignment
        change = float(np.max(np.abs(m - np.asarray(a_bar @ q).ravel()) / y))
        rows.append((it, change, _objective(q, p, prior_sd, a, y, count_sd),
                     float(np.sqrt(np.mean(((m - y) / y) ** 2)))))
        if callback is not None:
            callback(it, q, change)
        if change <= tol:
            converged = True
            break
        # method of successive averages on the proportions (optional): where alternation
        # cycles, the average settles
        a_bar = a_bar + (a - a_bar) * (1.0 / (it + 1)) if averaging else a
    if not converged:
        log.warning("OD estimation: the link-use proportions still changed by %.3g after %d "
                    "rounds (tol %.3g)", rows[-1][1], it, tol)
    history = pd.DataFrame(rows, columns=["iteration", "proportion_change", "objective",
                                          "count_rmse_rel"])
    try:
        se = gls_std_errors(a_bar, count_sd, prior_sd, q, lower, upper)
    except np.linalg.LinAlgError as e:
        raise InputError(_singular_counts(a_bar, crse), "estimate_od") from e
    return OdmeResult(q, p, y, np.asarray(a @ q).ravel(), modelled_prior, a.toarray(), it,
                      converged, history, se, labels)


def _singular_counts(a: sparse.csr_matrix, count_rse: np.ndarray) -> str:
    """What is wrong with counts whose system (``a S^2 a' + Sigma``) is singular to working
    precision (counts that depend on each other, known too closely), and how to fix it."""
    dense = a.toarray()
    same = [f"{i} and {j}" for i in range(len(dense)) for j in range(i + 1, len(dense))
            if np.array_equal(dense[i], dense[j])]
    which = (f"counts {'; '.join(same[:5])}{' and more' if len(same) > 5 else ''} count the "
             "same flows" if same else "some counts depend on each other")
    return (f"the counts' system is singular to working precision: {which}, and the counts are "
            f"known to a relative error as small as {float(count_rse.min()):.3g}. Give counts "
            "that depend on each other (one link counted twice, a total and its parts) a "
            "count_rse of 1e-6 or more, or keep one count of each.")


def gls_std_errors(proportions, count_sd: np.ndarray, prior_sd: np.ndarray, q: np.ndarray,
                   lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Standard errors of a GLS estimate: the square roots of the diagonal of
    ``(A' Sigma^-1 A + S^-2)^-1`` over the cells strictly inside their bounds (the others: NaN),
    computed as ``S^2 - S^2 A' (A S^2 A' + Sigma)^-1 A S^2`` (counts x counts to invert)."""
    a = sparse.csr_matrix(proportions)
    span = np.maximum(upper - lower, 1e-300)
    inner = (upper > lower) & (q - lower > 1e-8 * span) & (upper - q > 1e-8 * span)
    out = np.full(len(q), np.nan)
    if not inner.any():
        return out
    ai = a[:, inner].toarray()
    s2 = prior_sd[inner] ** 2
    k = (ai * s2) @ ai.T + np.diag(count_sd ** 2)
    w = np.linalg.solve(k, ai * s2)  # (counts x inner)
    var = s2 - np.einsum("ij,ij->j", ai * s2, w)
    out[inner] = np.sqrt(np.clip(var, 0.0, None))
    return out
