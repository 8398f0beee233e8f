"""OD estimation on the corridor: the base-year demand fitted to the ``fit`` rows of
``observed.csv``, bi-level with the corridor's assignment.

The cells are the rows of the base-year demand (OD pair and commodity). An observation of year Y
is a linear function of them through the run of year Y: ``a_Y[i, c] * g_Y[c]``, with ``a_Y`` the
observation matrix of that run (:func:`karvan.freight.observed.observation_matrix`) and ``g_Y[c]``
the factor that takes cell c from the base year to Y (growth, or back-cast). The assignment is a
parameter: a function from base-year cell tonnes to the runs of the observed years, so that the
deterministic equilibrium now and the choice model later run the same estimation.

Validation rows are removed before anything is fitted; they are compared only afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.calibrate.odme import OdmeResult, estimate_od, gls_estimate
from karvan.calibrate.parameters import RSE_BY_CONFIDENCE
from karvan.calibrate.statistics import abs_log_ratio
from karvan.errors import InputError
from karvan.freight.observed import Observation, RunFlows, observation_matrix, parse_observations

#: base-year cell tonnes -> the runs (by year) of the demand those tonnes make
Runner = Callable[[np.ndarray], Mapping[int, RunFlows]]


@dataclass(frozen=True, slots=True, eq=False)
class CorridorEstimate:
    """The estimated demand and how it was reached.

    ``demand`` is the prior demand table with ``prior_tonnes_per_year`` and the estimate in
    ``tonnes_per_year`` (and ``std_error``, see :attr:`OdmeResult.std_errors`); ``counts`` lists
    the fit rows used (``observed_id, year, observed, rse, modelled_prior, modelled``); ``runs``
    and ``prior_runs`` are the runs of the estimate and of the prior (for calibration tables,
    validation rows included).
    """

    odme: OdmeResult
    demand: pd.DataFrame
    counts: pd.DataFrame
    runs: Mapping[int, RunFlows]
    prior_runs: Mapping[int, RunFlows]

    def moved_cells(self, threshold: float = 0.5) -> pd.DataFrame:
        """Every demand row moved by more than ``threshold`` (a share) from its prior."""
        return self.odme.moved_cells(threshold)


def _growth(flows: RunFlows, q: np.ndarray) -> np.ndarray:
    t = flows.cells["tonnes_per_year"].to_numpy(dtype=float)
    if len(t) != len(q):
        raise InputError(f"the run of {flows.year} has {len(t)} demand rows for {len(q)} cells; "
                         "a runner must keep the rows of the base-year demand in order.")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 0, t / q, 0.0)


def corridor_matrix(observations: list[Observation], runs: Mapping[int, RunFlows],
                    q: np.ndarray, zone_country: Mapping[str, str]) -> np.ndarray:
    """Proportions (observations x base-year cells) of the runs of the observations' years."""
    out = np.zeros((len(observations), len(q)))
    years = np.array([o.year for o in observations])
    for y, flows in runs.items():
        sel = np.flatnonzero(years == y)
        if len(sel):
            out[sel] = observation_matrix([observations[i] for i in sel], flows,
                                          zone_country) * _growth(flows, q)
    return out


def estimate_corridor_demand(
    observed: pd.DataFrame,
    prior: pd.DataFrame,
    runner: Runner,
    *,
    link_table: pd.DataFrame,
    zone_country: Mapping[str, str],
    commodities: Iterable[str],
    prior_rse: float = 0.5,
    max_factor: float = 3.0,
    tol: float = 1e-3,
    max_iter: int = 20,
    exclude: Iterable[str] = (),
) -> CorridorEstimate:
    """Estimate the base-year demand from the ``fit`` rows of ``observed``.

    Parameters
    ----------
    observed
        ``observed.csv``; its ``validate`` rows are dropped before anything else.
    prior
        The base-year demand (``origin_zone_id, destination_zone_id, commodity_id,
        tonnes_per_year``).
    runner
        Base-year cell tonnes -> runs by year (:data:`Runner`); the runs' demand rows follow
        the prior's rows.
    link_table, zone_country, commodities
        As for :func:`karvan.freight.observed.parse_observations`.
    prior_rse, max_factor, tol, max_iter
        As for :func:`karvan.calibrate.odme.estimate_od`; each count's relative standard error
        comes from its confidence (:data:`karvan.calibrate.parameters.RSE_BY_CONFIDENCE`).
    exclude
        Observation ids left out of the fit (for cross-validation).

    Returns
    -------
    CorridorEstimate

    Raises
    ------
    InputError
        Unparseable observations, an unknown confidence, no fit row with a run of its year.
    """
    q0 = prior["tonnes_per_year"].to_numpy(dtype=float)
    obs = parse_observations(observed, link_table, countries=set(zone_country.values()),
                             commodities=set(commodities))
    conf = dict(zip(observed["observed_id"].astype(str), observed["confidence"].astype(str),
                    strict=True))
    runs0 = runner(q0)
    skip = set(exclude)
    fit = [o for o in obs if o.role == "fit" and o.year in runs0 and o.tonnes > 0
           and o.observed_id not in skip]
    if not fit:
        raise InputError("no fit row has a run of its year to be compared with.",
                         "estimate_corridor_demand")
    bad = sorted({conf.get(o.observed_id) for o in fit} - set(RSE_BY_CONFIDENCE))
    if bad:
        raise InputError(f"confidence {bad} has no relative standard error.",
                         "estimate_corridor_demand")
    y = np.array([o.tonnes for o in fit])
    rse = np.array([RSE_BY_CONFIDENCE[conf[o.observed_id]] for o in fit])
    cache: dict = {"q": q0, "runs": runs0}

    def proportions(q: np.ndarray) -> np.ndarray:
        runs = cache["runs"] if np.array_equal(q, cache["q"]) else runner(q)
        cache["q"], cache["runs"] = q.copy(), runs
        return corridor_matrix(fit, runs, q, zone_country)

    labels = prior[["origin_zone_id", "destination_zone_id", "commodity_id"]].reset_index(
        drop=True)
    res = estimate_od(q0, y, proportions, count_rse=rse, prior_rse=prior_rse,
                      max_factor=max_factor, tol=tol, max_iter=max_iter, labels=labels)
    demand = prior.copy()
    demand["prior_tonnes_per_year"] = q0
    demand["tonnes_per_year"] = res.estimate
    demand["std_error"] = res.std_errors
    counts = pd.DataFrame({"observed_id": [o.observed_id for o in fit],
                           "year": [o.year for o in fit], "observed": y, "rse": rse,
                           "modelled_prior": res.modelled_prior, "modelled": res.modelled})
    return CorridorEstimate(res, demand, counts, cache["runs"], runs0)


def fixed_proportion_cv(estimate: CorridorEstimate, sources: Mapping[str, str], *,
                        prior_rse: float = 0.5, max_factor: float = 3.0) -> pd.DataFrame:
    """Leave-one-source-out cross-validation at the proportions of the estimate's assignment.

    For every source (``sources``: observed_id -> its first source), the GLS step is solved
    again without that source's counts, with the link-use proportions of the final assignment
    held fixed, and the left-out counts are predicted. Holding the proportions saves one
    bi-level estimation per source; with a congested assignment it understates how much the
    routes would move.

    Returns
    -------
    DataFrame
        ``source, observed_id, observed_tonnes, predicted_tonnes, abs_log_ratio``.
    """
    res = estimate.odme
    c = estimate.counts
    fam = c["observed_id"].map(sources).fillna("").to_numpy()
    a = res.proportions
    p = res.prior
    prior_sd = np.where(p > 0, prior_rse * p, 0.0)
    lower, upper = p / max_factor, p * max_factor
    sd = (c["rse"] * c["observed"]).to_numpy()
    y = c["observed"].to_numpy()
    rows = []
    for s in pd.unique(fam):
        keep = fam != s
        if not keep.any():
            continue
        q = gls_estimate(p, a[keep], y[keep], count_sd=sd[keep], prior_sd=prior_sd,
                         lower=lower, upper=upper)
        pred = a[~keep] @ q
        for oid, o, m in zip(c.loc[~keep, "observed_id"], y[~keep], pred, strict=True):
            rows.append((s, oid, o, m, float(abs_log_ratio(m, o))))
    return pd.DataFrame(rows, columns=["source", "observed_id", "observed_tonnes",
                                       "predicted_tonnes", "abs_log_ratio"])
