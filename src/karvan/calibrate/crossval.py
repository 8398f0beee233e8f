"""Leave-one-source-out cross-validation of a fit: how much the fit rests on any single source.

For every source cited first by a ``fit`` row, the fit is repeated without the fit rows of that
source and the left-out rows are predicted (docs/dataset.md, "Calibration and validation").
Validation rows take no part: they are dropped before any fold is fitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from karvan.calibrate.parameters import fit_rows
from karvan.calibrate.statistics import abs_log_ratio
from karvan.errors import InputError
from karvan.schema.text import id_list


def source_family(source: str) -> str:
    """The source a row is grouped by: the first id of its ``source`` column."""
    parts = id_list(source)
    return parts[0] if parts else ""


def leave_one_source_out(table: pd.DataFrame,
                         fit_predict: Callable[[pd.DataFrame], Mapping[str, float] | pd.Series]
                         ) -> pd.DataFrame:
    """Predictions of every fit row by a fit that did not see its source.

    Parameters
    ----------
    table
        A calibration table (``observed_id, source, role, compared, observed_tonnes``).
    fit_predict
        Fit rows to train on -> modelled tonnes by ``observed_id`` for (at least) every fit row.

    Returns
    -------
    DataFrame
        One row per left-out fit row: ``source, observed_id, observed_tonnes, predicted_tonnes,
        abs_log_ratio``. Sources whose removal leaves nothing to fit are skipped.

    Raises
    ------
    InputError
        ``fit_predict`` gives no prediction for a left-out row.
    """
    rows = fit_rows(table).reset_index(drop=True)
    fam = rows["source"].map(source_family)
    out = []
    for s in pd.unique(fam):
        train = rows[fam != s]
        test = rows[fam == s]
        if not len(train):
            continue
        pred = pd.Series(fit_predict(train.reset_index(drop=True)), dtype=float)
        missing = sorted(set(test["observed_id"]) - set(pred.index))
        if missing:
            raise InputError(f"fit_predict gave no prediction for {missing[:5]}.",
                             "leave_one_source_out")
        p = pred.reindex(test["observed_id"]).to_numpy()
        o = test["observed_tonnes"].to_numpy(dtype=float)
        out.append(pd.DataFrame({"source": s, "observed_id": test["observed_id"].to_numpy(),
                                 "observed_tonnes": o, "predicted_tonnes": p,
                                 "abs_log_ratio": abs_log_ratio(p, o)}))
    cols = ["source", "observed_id", "observed_tonnes", "predicted_tonnes", "abs_log_ratio"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def cv_summary(cv: pd.DataFrame) -> pd.DataFrame:
    """Median |log ratio| of the left-out predictions per source and pooled (``source`` =
    ``all``)."""
    rows = [{"source": s, "rows": len(g), "median_abs_log_ratio": float(np.median(
        g["abs_log_ratio"]))} for s, g in cv.groupby("source", sort=False)]
    rows.append({"source": "all", "rows": len(cv), "median_abs_log_ratio": float(np.median(
        cv["abs_log_ratio"])) if len(cv) else np.nan})
    return pd.DataFrame(rows)
