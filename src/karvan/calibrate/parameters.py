"""Fitting model parameters to reported volumes: bounded weighted least squares on the ``fit``
rows, optionally with a Gaussian prior on each parameter (maximum a posteriori), with standard
errors and identification diagnostics from the Jacobian.

For parameters x and fit observations y_i with relative standard errors r_i, the fit minimises

    sum_i ((m_i(x) - y_i) / (r_i y_i))^2  +  sum_k ((x_k - mu_k) / s_k)^2,   lower <= x <= upper,

with ``scipy.optimize.least_squares`` (trust-region reflective), m(x) the model's value of each
observation, mu_k and s_k the prior value and prior standard error of parameter k (no term for
a parameter without a prior). The covariance of the estimate is the inverse of

    H = J'J / c + diag(1 / s_k^2),

J the Jacobian of the weighted data residuals at the solution, c the reduced chi-square
``sum of squared data residuals / (n - p_eff)`` (``p_eff`` the trace of the hat matrix
``J (J'J + P)^+ J'``: the number of parameters the data determine) unless the relative errors are
taken as known (``absolute_sigma``: c = 1). Without a prior this is ``c (J'J)^-1``, what
``scipy.optimize.curve_fit`` gives. H is inverted through its eigen-decomposition in the units of
the prior standard errors (:func:`posterior_covariance`): directions with eigenvalues below a
relative tolerance have no information at all (a parameter without a prior that loads on one has
an infinite standard error and is reported as not identified), so no correlation falls outside
[-1, 1]. A parameter whose standard error the data reduce by less than 10 % from its prior's is
*not identified by the data*: it stays at its prior, with its prior uncertainty. A parameter that
ends on a bound has no standard error from this formula (reported, flagged).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from karvan.errors import InputError

#: relative standard error of an observed figure by its confidence (docs/dataset.md)
RSE_BY_CONFIDENCE = {"official": 0.10, "press": 0.20, "estimate": 0.25, "assumption": 0.40}


#: eigenvalues of the scaled information matrix below this fraction of the largest count as zero
RANK_RTOL = 1e-8
#: a parameter whose posterior standard error is above this fraction of its prior's is not
#: identified by the data (they reduce its prior uncertainty by less than 10 %)
UNIDENTIFIED_SHRINKAGE = 0.9


@dataclass(frozen=True, slots=True, eq=False)
class ParameterFit:
    """Fitted parameters: values, standard errors, covariance, what they were fitted to, and how
    well the data identify them.

    ``cost`` is half the weighted sum of squares of the data residuals (the fit rows only);
    ``prior_penalty`` is the sum of the squared prior residuals ``((x - mu) / s)^2``;
    ``objective`` is what was minimised in the last round, half of ``2 cost / chi2_scale +
    prior_penalty`` (``chi2_scale`` = 1 without a prior). ``scale_rounds`` counts the fits
    repeated to settle ``chi2_scale``. ``prior_values`` and ``prior_std_errors`` are
    NaN for a parameter without a prior. ``shrinkage`` is the posterior standard error over the
    prior's (NaN without a prior); ``identified`` is False for a parameter the data do not pin
    down (infinite standard error, or shrinkage above :data:`UNIDENTIFIED_SHRINKAGE`).
    ``singular_values`` are those of the weighted data Jacobian with each column in units of the
    parameter's prior standard error (scaled to unit length without a prior), ``rank`` the number
    above the relative tolerance, ``null_space`` the right singular vectors of the others (one
    column each).
    """

    names: tuple[str, ...]
    values: np.ndarray
    std_errors: np.ndarray
    covariance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    at_bound: np.ndarray
    observation_ids: tuple[str, ...]
    observed: np.ndarray
    modelled: np.ndarray
    cost: float
    success: bool
    message: str
    evaluations: int
    #: Jacobian of the weighted residuals ``(m - y) / (rse y)`` at the solution
    jacobian: np.ndarray | None = None
    prior_values: np.ndarray | None = None
    prior_std_errors: np.ndarray | None = None
    objective: float = np.nan
    chi2_scale: float = 1.0
    scale_rounds: int = 0
    #: the weighted sum of squares over its degrees of freedom at the solution (equal to
    #: ``chi2_scale`` within ``scale_rtol`` when the rounds settled it; any value when the
    #: factor was fixed)
    reduced_chi2: float = np.nan
    #: True when the factor on the data's variances was given (``chi2_scale=``), not settled
    chi2_scale_fixed: bool = False
    prior_penalty: float = 0.0
    effective_parameters: float = np.nan
    singular_values: np.ndarray | None = None
    rank: int = 0
    null_space: np.ndarray | None = None
    shrinkage: np.ndarray | None = None
    identified: np.ndarray | None = None

    def table(self) -> pd.DataFrame:
        """One row per parameter: ``parameter, value, std_error, lower, upper, at_bound``, and
        with a prior ``prior_value, prior_std_error, shrinkage, identified``."""
        t = pd.DataFrame({"parameter": list(self.names), "value": self.values,
                          "std_error": self.std_errors, "lower": self.lower,
                          "upper": self.upper, "at_bound": self.at_bound})
        if self.prior_values is not None:
            t["prior_value"] = self.prior_values
            t["prior_std_error"] = self.prior_std_errors
            t["shrinkage"] = self.shrinkage
        if self.identified is not None:
            t["identified"] = self.identified
        return t

    def correlation(self) -> np.ndarray:
        """Correlation matrix of the estimates: NaN where a standard error is infinite, zero or
        undefined, otherwise within [-1, 1]."""
        return correlation(self.covariance)


def correlation(cov: np.ndarray) -> np.ndarray:
    """The correlation matrix of a covariance matrix; NaN for a parameter whose variance is not
    finite and positive; clipped to [-1, 1] against rounding."""
    cov = np.asarray(cov, dtype=float)
    d = np.diag(cov).copy()
    ok = np.isfinite(d) & (d > 0)
    sd = np.where(ok, np.sqrt(np.where(ok, d, 1.0)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[~ok, :] = np.nan
    corr[:, ~ok] = np.nan
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(ok, 1.0, np.nan))
    return corr


def posterior_covariance(jac: np.ndarray, prior_std: np.ndarray | None = None, *,
                         chi2_scale: float = 1.0, rtol: float = RANK_RTOL) -> dict:
    """Covariance of a (regularised) least-squares estimate, robust to a singular Jacobian.

    Parameters
    ----------
    jac
        Jacobian of the weighted data residuals (n x p).
    prior_std
        Prior standard error of each parameter (inf or NaN: no prior); None: no prior at all.
    chi2_scale
        The factor c on the data's variances (the reduced chi-square; 1 when they are known);
        inf when the data determine nothing.
    rtol
        Relative tolerance: eigenvalues of the scaled information below ``rtol`` times the
        largest are taken as zero.

    Returns
    -------
    dict
        ``covariance`` (p x p; rows and columns of a parameter without information are inf on
        the diagonal and NaN elsewhere), ``singular_values`` (of the data Jacobian with columns
        in prior standard errors, or scaled to unit length for a parameter without a prior, so
        that the rank does not depend on the parameters' units), ``rank`` (how
        many exceed ``rtol`` times the largest), ``null_space`` (p x (p - rank)),
        ``effective_parameters`` (the trace of the hat matrix, ``B'B/c G^-1``: how many
        parameters the data determine).

    Notes
    -----
    With D = diag(s_k) (1 / |J_k| where there is no prior) and B = J D = U S V', the singular
    values below ``rtol`` times the largest are dropped (finite-difference noise, not
    information); the scaled information is ``G = V_r S_r^2 V_r' / c + diag(has prior)``. The
    directions of the dropped singular vectors that have no component on a parameter with a prior
    are constrained by nothing: a parameter that loads on one (squared loading > 1e-12) has an
    infinite variance. On the complement Q of those directions G is positive definite and
    ``cov = D Q (Q'GQ)^-1 Q' D``: a symmetric positive semi-definite matrix, so every correlation
    lies in [-1, 1].
    """
    jac = np.asarray(jac, dtype=float)
    p = jac.shape[1]
    if prior_std is None:
        prior_std = np.full(p, np.inf)
    s = np.asarray(prior_std, dtype=float)
    has = np.isfinite(s) & (s > 0)
    norm = np.sqrt((jac ** 2).sum(axis=0))
    d = np.where(has, s, np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), 1.0))
    b = jac * d[None, :]
    if b.size:
        _, sv, vt = np.linalg.svd(b)
    else:
        sv, vt = np.zeros(0), np.eye(p)
    sv = np.concatenate([sv, np.zeros(p - len(sv))]) if len(sv) < p else sv
    rank = int(np.sum(sv > rtol * sv[0])) if len(sv) and sv[0] > 0 else 0
    vr, null = vt[:rank].T, vt[rank:].T
    # directions that neither the data nor a prior constrain: the data's null space with no
    # component on a parameter that has a prior
    if null.shape[1] and has.any():
        _, s2, zt = np.linalg.svd(null[has, :])
        z = zt[int(np.sum(s2 > 1e-10)):].T
        free = null @ z
    else:
        free = null
    lost = (free ** 2).sum(axis=1) > 1e-12 if free.shape[1] else np.zeros(p, bool)
    c = max(float(chi2_scale), 1e-30)
    info = np.zeros((p, p)) if not np.isfinite(c) else (vr * (sv[:rank] ** 2 / c)) @ vr.T
    g = info + np.diag(has.astype(float))
    # invert on the complement of the free directions, where g is positive definite
    if free.shape[1]:
        q_full, _, _ = np.linalg.svd(np.eye(p) - free @ np.linalg.pinv(free))
        q = q_full[:, :p - free.shape[1]]
    else:
        q = np.eye(p)
    w, v = np.linalg.eigh(q.T @ g @ q)
    w = np.maximum(w, np.finfo(float).tiny)
    cov = (q @ v / w) @ (q @ v).T * np.outer(d, d)
    cov[lost, :] = np.nan
    cov[:, lost] = np.nan
    cov[lost, lost] = np.inf
    # effective number of parameters: the trace of the hat matrix, info (info + prior)^-1
    peff = float(np.trace((q @ v / w) @ (q @ v).T @ info)) if np.isfinite(c) else 0.0
    return {"covariance": cov, "singular_values": sv, "rank": rank, "null_space": null,
            "effective_parameters": peff}


def fit_parameters(
    model: Callable[[np.ndarray], np.ndarray],
    x0: Sequence[float],
    observed: Sequence[float],
    *,
    rse: float | Sequence[float] = 0.1,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    names: Sequence[str] | None = None,
    observation_ids: Sequence[str] | None = None,
    absolute_sigma: bool = False,
    chi2_scale: float | None = None,
    diff_step: float | None = None,
    max_evaluations: int | None = None,
    model_many: Callable[[Sequence[np.ndarray]], Sequence[np.ndarray]] | None = None,
    prior: Sequence[float] | None = None,
    prior_std_errors: Sequence[float] | None = None,
    rank_rtol: float = RANK_RTOL,
    max_scale_rounds: int = 6,
    scale_rtol: float = 0.02,
    on_round: Callable[[int, float], None] | None = None,
) -> ParameterFit:
    """Fit parameters so that the model reproduces the observed values.

    Parameters
    ----------
    model
        Parameters -> the modelled value of every observation, in the order of ``observed``.
    x0
        Starting values (inside the bounds).
    observed
        The figures fitted to (> 0); only ``fit`` rows belong here (see :func:`fit_to_table`).
    rse
        Relative standard error of each observation (scalar or one per observation).
    bounds
        (lower, upper) per parameter; default unbounded.
    names, observation_ids
        Labels of the parameters and of the observations.
    absolute_sigma
        Take ``rse`` as known errors (c = 1); default: scale the data's part of the information
        by the reduced chi-square, as when the errors are known only up to a factor.
    chi2_scale
        Fix the factor on the data's variances at this value (> 0) instead of settling it in
        rounds: one objective, ``weighted sum of squares / chi2_scale + prior penalty``, is
        minimised once, so that fits from several starts minimise the same function and their
        end points can be compared; the covariance is scaled by it. Not with
        ``absolute_sigma`` (which is ``chi2_scale=1``).
    diff_step
        Absolute step of the forward-difference Jacobian, in the parameters' units (scalar or
        one per parameter; backward where the step would cross the upper bound); default
        ``least_squares``' own relative step. Absolute, because a relative step of a parameter
        that starts at 0 falls back to ~1e-8 (scipy), which a model solved to a tolerance
        answers with noise.
    max_evaluations
        Most model evaluations.
    model_many
        Several parameter vectors -> the model's values at each, in order: evaluates the
        columns of the finite-difference Jacobian together (with ``diff_step``), for example
        side by side in worker processes. It must give what ``model`` gives at each vector;
        default: ``model`` at one vector after the other.
    prior, prior_std_errors
        Gaussian prior of each parameter: its value and standard error (inf or NaN: none for
        that parameter). Both or neither.
    rank_rtol
        Relative tolerance of the rank (:func:`posterior_covariance`).
    max_scale_rounds, scale_rtol
        With a prior and relative errors (not ``absolute_sigma``): the fit is repeated with
        the data's variances times the reduced chi-square of the previous round, at most
        ``max_scale_rounds`` more times, until that factor changes by less than
        ``scale_rtol``: the prior then weighs against data as uncertain as they turn out to be.
    on_round
        Called before each round with (round, the factor on the data's variances): round 0
        with factor 1, then each repetition with its factor. The objective a round minimises
        is the weighted sum of squares divided by its factor plus the prior's penalty.

    Returns
    -------
    ParameterFit

    Raises
    ------
    InputError
        Observations that are not positive, a start outside the bounds, labels or priors of
        the wrong length, a prior standard error <= 0, a model that returns the wrong number of
        values or non-finite ones.
    """
    y = np.asarray(observed, dtype=float)
    x0 = np.asarray(x0, dtype=float)
    p = len(x0)
    lo, hi = ((np.full(p, -np.inf), np.full(p, np.inf)) if bounds is None else
              (np.asarray(bounds[0], dtype=float), np.asarray(bounds[1], dtype=float)))
    r = np.broadcast_to(np.asarray(rse, dtype=float), y.shape)
    problems = []
    if y.ndim != 1 or not len(y) or not np.all(np.isfinite(y)) or (y <= 0).any():
        problems.append("observed: give at least one finite value > 0.")
    if not (r > 0).all():
        problems.append("rse must be > 0 for every observation.")
    if lo.shape != (p,) or hi.shape != (p,) or (lo > hi).any():
        problems.append("bounds: one lower and one upper value per parameter, lower <= upper.")
    elif (x0 < lo).any() or (x0 > hi).any():
        problems.append("x0 lies outside the bounds.")
    names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(p))
    ids = tuple(observation_ids) if observation_ids is not None else tuple(
        str(i) for i in range(len(y)))
    if len(names) != p:
        problems.append(f"names: {len(names)} for {p} parameters.")
    if len(ids) != len(y):
        problems.append(f"observation_ids: {len(ids)} for {len(y)} observations.")
    if (prior is None) != (prior_std_errors is None):
        problems.append("give prior and prior_std_errors together.")
    if chi2_scale is not None and not (np.isfinite(chi2_scale) and chi2_scale > 0):
        problems.append(f"chi2_scale must be a finite number > 0, got {chi2_scale}.")
    elif chi2_scale is not None and absolute_sigma:
        problems.append("give chi2_scale or absolute_sigma (which is chi2_scale=1), not both.")
    mu = np.full(p, np.nan) if prior is None else np.asarray(prior, dtype=float)
    ps = np.full(p, np.inf) if prior_std_errors is None else np.asarray(prior_std_errors,
                                                                         dtype=float)
    if mu.shape != (p,) or ps.shape != (p,):
        problems.append(f"prior: one value and one standard error per parameter ({p}).")
    else:
        ps = np.where(np.isnan(ps), np.inf, ps)
        if (ps <= 0).any():
            problems.append("prior standard errors must be > 0 (inf or NaN: no prior).")
        if (np.isfinite(ps) & ~np.isfinite(mu)).any():
            problems.append("a parameter with a prior standard error needs a finite prior.")
    if problems:
        raise InputError(problems, "fit_parameters")
    has = np.isfinite(ps)
    sd = r * y
    n = len(y)
    calls = {"n": 0}

    def residual(m):
        calls["n"] += 1
        m = np.asarray(m, dtype=float)
        if m.shape != y.shape or not np.all(np.isfinite(m)):
            raise InputError(f"the model returned {m.shape} values (finite: "
                             f"{bool(np.all(np.isfinite(m)))}) for {y.shape[0]} observations.",
                             "fit_parameters")
        return (m - y) / sd

    def data_res(x):
        return residual(model(x))

    def prior_res(x):
        return (np.asarray(x, dtype=float)[has] - mu[has]) / ps[has]

    prior_jac = np.zeros((int(has.sum()), p))
    prior_jac[np.arange(int(has.sum())), np.flatnonzero(has)] = 1.0 / ps[has]
    last: dict = {}

    def res_at(x):
        key = tuple(np.asarray(x, dtype=float))
        if key not in last:
            last.clear()
            last[key] = data_res(x)
        return last[key]

    # the factor on the data's variances the fit uses
    state = {"c": 1.0 if chi2_scale is None else float(chi2_scale)}

    def fun(x):
        return np.concatenate([res_at(x) / np.sqrt(state["c"]), prior_res(x)])

    kw = {}
    if diff_step is not None:
        h = np.broadcast_to(np.asarray(diff_step, dtype=float), x0.shape).copy()
        if not ((h > 0) & np.isfinite(h)).all():  # inf stepped every parameter to nonsense
            raise InputError(f"diff_step must be a finite number > 0, got {diff_step}.",
                             "fit_parameters")

        def jac(x):
            x = np.asarray(x, dtype=float)
            f0 = res_at(x)
            steps = np.where(x + h <= hi, h, -h)
            points = list(x + np.diag(steps))
            values = (list(model_many(points)) if model_many is not None else
                      [model(xi) for xi in points])
            if len(values) != p:
                raise InputError(f"model_many returned {len(values)} results for {p} "
                                 "parameter vectors.", "fit_parameters")
            J = np.column_stack([(residual(m) - f0) / steps[i] for i, m in enumerate(values)])
            return np.vstack([J / np.sqrt(state["c"]), prior_jac])

        kw = {"jac": jac}
    x_start, rounds = x0, 0
    while True:
        if on_round is not None:
            on_round(rounds, state["c"])
        res = least_squares(fun, x_start, bounds=(lo, hi), method="trf", x_scale="jac",
                            max_nfev=max_evaluations, **kw)
        c = state["c"]
        j = res.jac[:n] * np.sqrt(c)
        rd = res.fun[:n] * np.sqrt(c)
        wss = float(rd @ rd)
        peff = posterior_covariance(j, ps, chi2_scale=c, rtol=rank_rtol)[
            "effective_parameters"]
        reduced = wss / (n - peff) if n - peff > 1e-9 else np.inf
        if absolute_sigma or chi2_scale is not None:
            scale = c
            break
        scale = reduced
        # without a prior the factor does not move the estimate: one round; with one, the fit
        # is repeated with the data's variances scaled until the factor settles (within 2 %)
        if (not has.any() or not np.isfinite(scale) or scale <= 0
                or abs(scale - c) <= scale_rtol * c or rounds >= max_scale_rounds):
            break
        state["c"], x_start, rounds = scale, res.x, rounds + 1
    post = posterior_covariance(j, ps, chi2_scale=scale, rtol=rank_rtol)
    peff = post["effective_parameters"]
    cov = post["covariance"]
    if not np.isfinite(scale):
        # no degree of freedom left to measure the data's variances (n <= effective
        # parameters): the rows say nothing of the uncertainty of a parameter without a prior
        lost = ~has
        cov = np.array(cov, dtype=float)
        cov[lost, :] = np.nan
        cov[:, lost] = np.nan
        cov[lost, lost] = np.inf
    span = np.where(np.isfinite(hi - lo), hi - lo, np.maximum(np.abs(res.x), 1.0))
    at_bound = (res.x - lo <= 1e-6 * span) | (hi - res.x <= 1e-6 * span)
    var = np.diag(cov)
    se = np.sqrt(np.clip(np.where(np.isnan(var), np.inf, var), 0.0, np.inf))
    shrink = np.where(has, se / np.where(has, ps, 1.0), np.nan)
    identified = np.isfinite(se) & ~(has & (shrink > UNIDENTIFIED_SHRINKAGE))
    se = np.where(at_bound, np.nan, se)
    modelled = np.asarray(model(res.x), dtype=float)
    return ParameterFit(names, res.x, se, cov, lo, hi, at_bound, ids, y, modelled,
                        0.5 * wss, bool(res.success), str(res.message), calls["n"] + 1, j,
                        prior_values=mu if prior is not None else None,
                        prior_std_errors=ps if prior is not None else None,
                        objective=float(res.cost), chi2_scale=float(scale),
                        scale_rounds=rounds, reduced_chi2=float(reduced),
                        chi2_scale_fixed=chi2_scale is not None,
                        prior_penalty=float(np.sum(prior_res(res.x) ** 2)),
                        effective_parameters=float(peff),
                        singular_values=post["singular_values"], rank=post["rank"],
                        null_space=post["null_space"],
                        shrinkage=shrink if prior is not None else None,
                        identified=identified)


def fit_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows a fit may use: role ``fit``, compared with a run of their year, observed > 0.
    Validation rows are dropped here, before any model sees them."""
    role = table["role"].astype(str) if "role" in table else pd.Series("fit", index=table.index)
    comp = table["compared"].astype(bool) if "compared" in table else pd.Series(
        True, index=table.index)
    return table[(role == "fit") & comp & (table["observed_tonnes"] > 0)]


def fit_to_table(model: Callable[[np.ndarray, pd.DataFrame], np.ndarray], x0: Sequence[float],
                 table: pd.DataFrame, **kwargs) -> ParameterFit:
    """Fit parameters to the ``fit`` rows of a calibration table.

    ``model(x, rows)`` returns the modelled tonnes of ``rows`` (the fit rows only: validation
    rows are removed before the model or the objective see them). Each row is weighted by the
    relative standard error of its confidence (:data:`RSE_BY_CONFIDENCE`). Other keyword
    arguments go to :func:`fit_parameters`.

    Raises
    ------
    InputError
        No fit rows, an unknown confidence, or anything :func:`fit_parameters` raises.
    """
    rows = fit_rows(table).reset_index(drop=True)
    if not len(rows):
        raise InputError("no fit rows to fit to (role fit, compared with a run of their year).",
                         "fit_to_table")
    conf = rows["confidence"].astype(str) if "confidence" in rows else pd.Series(
        "estimate", index=rows.index)
    bad = sorted(set(conf) - set(RSE_BY_CONFIDENCE))
    if bad:
        raise InputError(f"confidence {bad} has no relative standard error; known: "
                         f"{', '.join(RSE_BY_CONFIDENCE)}.", "fit_to_table")
    return fit_parameters(lambda x: model(x, rows), x0, rows["observed_tonnes"].to_numpy(),
                          rse=conf.map(RSE_BY_CONFIDENCE).to_numpy(),
                          observation_ids=rows["observed_id"].astype(str).tolist(), **kwargs)


def update_parameter_table(table: pd.DataFrame, fit: ParameterFit, *, date: str,
                           method: str = "calibrated",
                           key: str | tuple[str, ...] = "parameter_id") -> pd.DataFrame:
    """The parameter table with the fitted values written in: ``value``, ``std_error``,
    ``method``, ``date`` and ``observations`` (the ids fitted to, ';'-separated) of every
    fitted parameter; other rows and columns are kept as they are.

    ``key`` names the column, or the columns, that identify a row; with several, a fitted
    parameter's name is their values joined by ``|`` (``reliability_buffer_h|sea_suez_baltic``).

    Raises
    ------
    InputError
        A key column the table lacks, or a fitted parameter that the table does not have.
    """
    out = table.copy()
    cols = (key,) if isinstance(key, str) else tuple(key)
    lacking = [c for c in cols if c not in out]
    if lacking:
        raise InputError(f"the parameter table has no {', '.join(lacking)} column.",
                         "update_parameter_table")
    ident = out[list(cols)].astype(str).agg("|".join, axis=1)
    missing = [n for n in fit.names if n not in set(ident)]
    if missing:
        raise InputError(f"parameters {missing} are not in the table; add their rows (with "
                         "source and confidence) first.", "update_parameter_table")
    for col in ("value", "std_error", "method", "date", "observations"):
        if col not in out:
            out[col] = np.nan if col in ("value", "std_error") else ""
    out["value"] = out["value"].astype(float)
    out["std_error"] = out["std_error"].astype(float)
    for col in ("method", "date", "observations"):
        out[col] = out[col].astype(object)
    obs = ";".join(fit.observation_ids)
    for name, v, se in zip(fit.names, fit.values, fit.std_errors, strict=True):
        sel = ident == name
        out.loc[sel, "value"] = float(v)
        out.loc[sel, "std_error"] = float(se)
        out.loc[sel, "method"] = method
        out.loc[sel, "date"] = date
        out.loc[sel, "observations"] = obs
    return out
