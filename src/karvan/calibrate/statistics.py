"""Goodness of fit of modelled against reported tonnes, for the fit and the validation rows apart.

Definitions (docs/dataset.md, "Calibration and validation"), for observed tonnes C > 0 and
modelled tonnes M >= 0 of one row:

- ratio ``M / C``; within ±30 % when ``0.7 <= M / C <= 1.3``; beyond a factor 2 when
  ``M / C > 2`` or ``M / C < 0.5``;
- |log ratio| ``|ln(M / C)|`` (infinite when M = 0);
- GEH for annual tonnes, ``GEH_t = sqrt(2 (M - C)^2 / (M + C))`` with M and C in 20-t loads per
  day (tonnes per year / 7,300), the analogue for annual tonnage of the GEH statistic of traffic
  counts (Geoffrey E. Havers, 1970s; UK DMRB).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from karvan.io.run_folder import NO_TARGET, target_met

#: tonnes per year in one 20-t load per day (20 t x 365 days)
TONNES_PER_YEAR_PER_LOAD_PER_DAY = 20.0 * 365.0
#: the band of a good fit row, and the validation targets
WITHIN = 0.3
MEDIAN_TARGET = float(np.log(1.3))
FACTOR_LIMIT = 2.0
GEH_GOOD = 5.0

#: the sets reported apart: independent fit rows, fit rows that built an input, validation rows,
#: and totals of fit rows that are compared but not fitted (role ``check``)
SETS = ("fit", "fit_by_construction", "validate", "check")


def abs_log_ratio(modelled, observed) -> np.ndarray:
    """``|ln(M / C)|`` element-wise; infinite where M = 0, NaN where either is missing."""
    m = np.asarray(modelled, dtype=float)
    c = np.asarray(observed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(np.log(m / c))


def geh_tonnes(modelled, observed) -> np.ndarray:
    """GEH for annual tonnes: ``sqrt(2 (M - C)^2 / (M + C))`` in 20-t loads per day.

    Examples
    --------
    >>> float(geh_tonnes(7300.0 * 100, 7300.0 * 100))
    0.0
    >>> round(float(geh_tonnes(1.3e6, 1.0e6)), 2)
    3.27
    """
    m = np.asarray(modelled, dtype=float) / TONNES_PER_YEAR_PER_LOAD_PER_DAY
    c = np.asarray(observed, dtype=float) / TONNES_PER_YEAR_PER_LOAD_PER_DAY
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m + c > 0, np.sqrt(2.0 * (m - c) ** 2 / (m + c)), 0.0)


def row_statistics(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``ratio, abs_log_ratio, geh, within_30pct, beyond_factor_2`` and ``set`` to a table
    with ``observed_tonnes``, ``modelled_tonnes``, ``compared``, ``independent`` and ``role``.

    Rows that are not compared keep NaN statistics and ``False`` flags.
    """
    out = table.copy()
    m = out["modelled_tonnes"].to_numpy(dtype=float)
    c = out["observed_tonnes"].to_numpy(dtype=float)
    comp = out["compared"].to_numpy(dtype=bool) & np.isfinite(m) & (c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(comp, m / c, np.nan)
    out["ratio"] = ratio
    out["abs_log_ratio"] = np.where(comp, abs_log_ratio(m, c), np.nan)
    out["geh"] = np.where(comp, geh_tonnes(np.where(comp, m, 0), np.where(comp, c, 1)), np.nan)
    out["within_30pct"] = comp & (ratio >= 1 - WITHIN - 1e-12) & (ratio <= 1 + WITHIN + 1e-12)
    out["beyond_factor_2"] = comp & ((ratio > FACTOR_LIMIT) | (ratio < 1 / FACTOR_LIMIT))
    out["set"] = row_sets(out)
    return out


def row_sets(table: pd.DataFrame) -> np.ndarray:
    """The set of each row: ``validate``, ``check`` (a total of fit rows, compared and not
    fitted), ``fit`` (independent) or ``fit_by_construction``.

    Examples
    --------
    >>> t = pd.DataFrame({"independent": [True, False, True, True],
    ...                   "role": ["fit", "fit", "validate", "check"]})
    >>> row_sets(t).tolist()
    ['fit', 'fit_by_construction', 'validate', 'check']
    """
    ind = table["independent"].to_numpy(dtype=bool)
    role = table["role"].astype(str).to_numpy()
    return np.where(role == "validate", "validate",
                    np.where(role == "check", "check",
                             np.where(ind, "fit", "fit_by_construction")))


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per set (``fit``, ``fit_by_construction``, ``validate``, ``check``) of a table from
    :func:`row_statistics`: rows, compared, within ±30 %, beyond a factor 2, median and largest
    |log ratio|, share with GEH_t < 5, and whether the set meets its target (fit: every compared
    row within ±30 %; validate: median |log ratio| <= ln 1.3 and none beyond a factor 2; None
    where no row of the set is compared, as in a run of a year without counts, and for the rows
    that built the inputs and the totals of fit rows, which have no target)."""
    rows = []
    for s in SETS:
        t = table[table["set"] == s]
        # compared and with a modelled value, as row_statistics counts a row
        comp = t[t["compared"].astype(bool) & np.isfinite(t["ratio"].to_numpy(dtype=float))]
        alr = comp["abs_log_ratio"].to_numpy(dtype=float)
        n = len(comp)
        med = float(np.median(alr)) if n else np.nan
        worst = float(np.max(alr)) if n else np.nan
        within = int(comp["within_30pct"].sum())
        beyond = int(comp["beyond_factor_2"].sum())
        if not n or s in NO_TARGET:
            # nothing to meet, not a failure; rows that built the inputs have no target: their
            # fit is no evidence; a total of fit rows is no test of its own (the printed
            # summary and the report show "-")
            met = None
        elif s == "validate":
            met = bool(med <= MEDIAN_TARGET and beyond == 0)
        else:
            met = within == n
        rows.append({"set": s, "rows": len(t), "compared": n, "within_30pct": within,
                     "beyond_factor_2": beyond, "median_abs_log_ratio": med,
                     "max_abs_log_ratio": worst,
                     "geh_below_5_share": float((comp["geh"] < GEH_GOOD).mean()) if n else np.nan,
                     "target_met": met})
    return pd.DataFrame(rows)


def summary_dict(summary: pd.DataFrame) -> dict:
    """The summary table as plain numbers for a run's manifest (``None`` for NaN; infinity, from
    a row modelled at zero, as the string ``"inf"``)."""
    out = {}
    for r in summary.to_dict("records"):
        s = r.pop("set")
        out[s] = {k: (None if isinstance(v, float) and np.isnan(v) else
                      "inf" if isinstance(v, float) and np.isinf(v) else
                      (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
    return out


#: what a printed summary calls each set
SET_LABELS = {"fit": "fit (independent)", "fit_by_construction": "fit (built the inputs)",
              "validate": "validate", "check": "check (totals of fit rows)"}
TARGETS = ("targets: every fit row within ±30 %; validation median |ln M/C| <= ln 1.3 = 0.26 "
           "and no row beyond a factor 2")


def display_summary(summary: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The per-set summary of one run for printing: the sets with compared rows, with short
    column names."""
    s = summary[summary["compared"] > 0]
    return pd.DataFrame({
        "scenario": scenario,
        "rows": s["set"].map(SET_LABELS).to_numpy(),
        "compared": s["compared"].to_numpy(),
        "within 30%": s["within_30pct"].to_numpy(),
        "beyond x2": s["beyond_factor_2"].to_numpy(),
        "median |ln M/C|": s["median_abs_log_ratio"].to_numpy(),
        "GEH<5": s["geh_below_5_share"].to_numpy(),
        "target met": np.where(s["set"].isin(NO_TARGET), "-",
                               np.where(s["target_met"].map(target_met), "yes", "no")),
    })
