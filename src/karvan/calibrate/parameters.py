"""Fitting model parameters to reported volumes: bounded weighted least squares on the ``fit``
rows, with standard errors from the Jacobian.

For parameters x and fit observations y_i with relative standard errors r_i, the fit minimises

    sum_i ((m_i(x) - y_i) / (r_i y_i))^2,   lower <= x <= upper,

with ``scipy.optimize.least_squares`` (trust-region reflective), m(x) the model's value of each
observation. The covariance of the estimate is ``(J'J)^-1``, J the Jacobian of the weighted
residuals at the solution, scaled by the reduced chi-square ``2 cost / (n - p)`` unless the
relative errors are taken as known (``absolute_sigma``), as ``scipy.optimize.curve_fit`` does.
A parameter that ends on a bound has no standard error from this formula (reported, flagged).
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


@dataclass(frozen=True, slots=True, eq=False)
class ParameterFit:
    """Fitted parameters: values, standard errors, covariance, and what they were fitted to."""

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

    def table(self) -> pd.DataFrame:
        """One row per parameter: ``parameter, value, std_error, lower, upper, at_bound``."""
        return pd.DataFrame({"parameter": list(self.names), "value": self.values,
                             "std_error": self.std_errors, "lower": self.lower,
                             "upper": self.upper, "at_bound": self.at_bound})


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
    diff_step: float | None = None,
    max_evaluations: int | None = None,
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
        Take ``rse`` as known errors (covariance ``(J'J)^-1``); default: scale by the reduced
        chi-square, as when the errors are known only up to a factor.
    diff_step
        Absolute step of the forward-difference Jacobian, in the parameters' units (scalar or
        one per parameter; backward where the step would cross the upper bound); default
        ``least_squares``' own relative step. Absolute, because a relative step of a parameter
        that starts at 0 falls back to ~1e-8 (scipy), which a model solved to a tolerance
        answers with noise.
    max_evaluations
        Most model evaluations.

    Returns
    -------
    ParameterFit

    Raises
    ------
    InputError
        Observations that are not positive, a start outside the bounds, labels of the wrong
        length, a model that returns the wrong number of values or non-finite ones.
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
    if problems:
        raise InputError(problems, "fit_parameters")
    sd = r * y
    calls = {"n": 0}

    def residuals(x):
        calls["n"] += 1
        m = np.asarray(model(x), dtype=float)
        if m.shape != y.shape or not np.all(np.isfinite(m)):
            raise InputError(f"the model returned {m.shape} values (finite: "
                             f"{bool(np.all(np.isfinite(m)))}) for {y.shape[0]} observations.",
                             "fit_parameters")
        return (m - y) / sd

    kw = {}
    if diff_step is not None:
        h = np.broadcast_to(np.asarray(diff_step, dtype=float), x0.shape).copy()
        if not (h > 0).all():
            raise InputError("diff_step must be > 0.", "fit_parameters")
        last: dict = {}

        def res_at(x):
            key = tuple(np.asarray(x, dtype=float))
            if key not in last:
                last.clear()
                last[key] = residuals(x)
            return last[key]

        def jac(x):
            x = np.asarray(x, dtype=float)
            f0 = res_at(x)
            J = np.empty((len(f0), p))
            for i in range(p):
                hi_ = h[i] if x[i] + h[i] <= hi[i] else -h[i]
                xi = x.copy()
                xi[i] += hi_
                J[:, i] = (residuals(xi) - f0) / hi_
            return J

        kw = {"jac": jac}
        fun = res_at
    else:
        fun = residuals
    res = least_squares(fun, x0, bounds=(lo, hi), method="trf", x_scale="jac",
                        max_nfev=max_evaluations, **kw)
    j = res.jac
    n = len(y)
    cov = np.linalg.pinv(j.T @ j)
    if not absolute_sigma:
        cov = cov * (2.0 * res.cost / (n - p) if n > p else np.inf)
    span = np.where(np.isfinite(hi - lo), hi - lo, np.maximum(np.abs(res.x), 1.0))
    at_bound = (res.x - lo <= 1e-6 * span) | (hi - res.x <= 1e-6 * span)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, np.inf))
    se = np.where(at_bound, np.nan, se)
    modelled = np.asarray(model(res.x), dtype=float)
    return ParameterFit(names, res.x, se, cov, lo, hi, at_bound, ids, y, modelled,
                        float(res.cost), bool(res.success), str(res.message), calls["n"] + 1,
                        j)


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
