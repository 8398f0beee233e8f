"""Leave-one-source-out cross-validation of the choice-parameter fit.

For every source cited first by a fit row (:func:`karvan.calibrate.crossval.source_family`),
the parameters are refitted without the fit rows of that source, and the left-out rows are
predicted by a run of the model at the refitted values; their |log ratio| is set beside the
in-sample one (the full fit's). Validation rows take no part: the fit never sees them, and
neither does any fold.

The refit of a fold is, by default, *linearised*: the maximum a posteriori of the fold's rows
and the prior with the model replaced by its first-order expansion at the full fit (the
Jacobian of the fit), solved exactly within the bounds (``scipy.optimize.lsq_linear``); the
prediction is then a full run of the model at those values (one run per fold). With
``max_evaluations`` > 0 each fold is refitted with the model itself, from the linearised values,
for that many evaluations (about ``parameters + 1`` runs each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

from karvan.calibrate.choice import (
    ChoiceFit,
    FitRowMeasure,
    ParameterRunner,
    RunPool,
    apply_parameters,
    fit_choice_parameters,
    fit_observations,
)
from karvan.calibrate.crossval import cv_summary, leave_one_source_out, source_family
from karvan.calibrate.parameters import fit_rows
from karvan.calibrate.statistics import abs_log_ratio
from karvan.freight.observed import parse_observations as _parse


def linearised_refit(cf: ChoiceFit, keep: np.ndarray) -> np.ndarray:
    """The parameters refitted to the fit rows ``keep`` (a boolean mask over ``cf.counts``) with
    the model linearised at the full fit, the prior and the bounds as in the fit.

    Minimises ``|r_k + J_k d|^2 + |(x + d - mu) / s|^2`` over ``lower <= x + d <= upper``, with r
    and J the weighted residuals and their Jacobian at the full fit ``x`` (with a prior, the
    data's variances times the fit's chi-square factor, as in its last round).
    """
    f = cf.fit
    c = cf.counts
    y = c["observed"].to_numpy(dtype=float)
    sd = c["rse"].to_numpy(dtype=float) * y
    # the data weighted as in the fit's last round (variances times its chi-square factor)
    sd = sd * np.sqrt(f.chi2_scale if f.prior_values is not None and np.isfinite(
        f.chi2_scale) and f.chi2_scale > 0 else 1.0)
    r = (f.modelled - y) / sd
    jw = cf.jacobian / sd[:, None]  # d weighted residual / d parameter
    a, b = [jw[keep]], [-r[keep]]
    if f.prior_values is not None:
        has = np.isfinite(f.prior_std_errors)
        ps = f.prior_std_errors[has]
        rows = np.zeros((int(has.sum()), len(f.values)))
        rows[np.arange(int(has.sum())), np.flatnonzero(has)] = 1.0 / ps
        a.append(rows)
        b.append(-(f.values[has] - f.prior_values[has]) / ps)
    # parameters in units of their step, so that the solver's tolerances are comparable
    step = np.array([p.step for p in cf.params], dtype=float)
    lo = (f.lower - f.values) / step
    hi = (f.upper - f.values) / step
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    sol = lsq_linear(np.vstack(a) * step[None, :], np.concatenate(b), bounds=(lo, hi),
                     method="bvls")
    return f.values + step * sol.x


def crossvalidate_choice(
    cf: ChoiceFit,
    observed: pd.DataFrame,
    runner: ParameterRunner,
    *,
    link_table: pd.DataFrame,
    zone_country: Mapping[str, str],
    commodities: Sequence[str],
    max_evaluations: int = 0,
    diff_step: float = 0.05,
    pool: RunPool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Leave-one-source-out cross-validation of a choice-parameter fit.

    Parameters
    ----------
    cf
        The full fit (:func:`~karvan.calibrate.choice.fit_choice_parameters`).
    observed
        ``observed.csv``: the sources of the fit rows (its validation rows are dropped first).
    runner
        The model the fit was made with.
    link_table, zone_country, commodities
        As for the fit.
    max_evaluations
        0 (default): linearised refits (:func:`linearised_refit`), one run per fold; > 0: each
        fold refitted with the model for at most that many evaluations.
    diff_step
        The fit's finite-difference step (for ``max_evaluations`` > 0).
    pool
        Runs side by side (:class:`~karvan.calibrate.choice.RunPool`): the folds' runs of the
        linearised refits, or each fold's Jacobian when refitted with the model. The result is
        the same as without it.

    Returns
    -------
    rows, summary, folds
        ``rows``: one per left-out fit row (``source, observed_id, year, observed_tonnes,
        in_sample_tonnes, predicted_tonnes, in_sample_abs_log_ratio, abs_log_ratio``);
        ``summary``: per source and pooled (``all``), the median |log ratio| left out and in
        sample; ``folds``: the refitted parameters of every fold.
    """
    fit_obs = fit_observations(observed)
    src = dict(zip(fit_obs["observed_id"].astype(str), fit_obs["source"].astype(str),
                   strict=True))
    c = cf.counts
    ids = c["observed_id"].astype(str).to_numpy()
    table = pd.DataFrame({"observed_id": ids, "source": [src[i] for i in ids], "role": "fit",
                          "compared": True, "observed_tonnes": c["observed"].to_numpy()})
    parsed = {o.observed_id: o for o in _parse(fit_obs, link_table,
                                                countries=set(zone_country.values()),
                                                commodities=set(commodities))}
    use = [parsed[i] for i in ids]
    years = c["year"].to_numpy()
    measure = FitRowMeasure(tuple(use), dict(zone_country))
    folds = []
    # with a pool and linearised refits, every fold's run is made up front, side by side
    ready: dict = {}
    if pool is not None and max_evaluations <= 0:
        rows = fit_rows(table)
        fam = rows["source"].map(source_family)
        keeps = [np.isin(ids, rows.loc[fam != s, "observed_id"].astype(str).to_numpy())
                 for s in pd.unique(fam)]
        keeps = [k for k in keeps if k.any()]
        xs = [linearised_refit(cf, k) for k in keeps]
        got = pool.map(measure, [apply_parameters(cf.prior, cf.params, x) for x in xs])
        ready = {k.tobytes(): (x, np.asarray(m, dtype=float))
                 for k, x, m in zip(keeps, xs, got, strict=True)}

    def fit_predict(train: pd.DataFrame) -> pd.Series:
        keep = np.isin(ids, train["observed_id"].astype(str).to_numpy())
        if keep.tobytes() in ready:
            x, m = ready[keep.tobytes()]
        else:
            x = linearised_refit(cf, keep)
            if max_evaluations > 0:
                sub = fit_obs[fit_obs["observed_id"].astype(str).isin(ids[keep])]
                g = fit_choice_parameters(sub, cf.prior, runner, cf.params,
                                          link_table=link_table, zone_country=zone_country,
                                          commodities=commodities, diff_step=diff_step,
                                          max_evaluations=max_evaluations,
                                          use_prior=cf.fit.prior_values is not None,
                                          chi2_scale=(cf.fit.chi2_scale if
                                                      cf.fit.chi2_scale_fixed else None),
                                          start=np.clip(x, cf.fit.lower, cf.fit.upper),
                                          pool=pool)
                x = g.fit.values
            m = measure(runner(apply_parameters(cf.prior, cf.params, x)))
        left = sorted(set(ids) - set(ids[keep]))
        folds.append({"left_out": ";".join(left), **{p.name: float(v) for p, v in
                                                      zip(cf.params, x, strict=True)}})
        return pd.Series(m, index=ids)

    cv = leave_one_source_out(table, fit_predict)
    ins = pd.Series(cf.fit.modelled, index=ids)
    cv.insert(2, "year", pd.Series(years, index=ids).reindex(cv["observed_id"]).to_numpy())
    cv.insert(4, "in_sample_tonnes", ins.reindex(cv["observed_id"]).to_numpy())
    cv.insert(6, "in_sample_abs_log_ratio",
              abs_log_ratio(cv["in_sample_tonnes"], cv["observed_tonnes"]))
    summ = cv_summary(cv)
    inside = cv_summary(cv.assign(abs_log_ratio=cv["in_sample_abs_log_ratio"]))
    summ.insert(2, "in_sample_median_abs_log_ratio", inside["median_abs_log_ratio"].to_numpy())
    fold_sources = [s for s in pd.unique(cv["source"])]
    out_folds = pd.DataFrame(folds)
    if len(out_folds) == len(fold_sources):
        out_folds.insert(0, "source", fold_sources)
    return cv, summ, out_folds
