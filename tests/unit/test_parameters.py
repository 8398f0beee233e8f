"""Parameter fitting: a toy where the true parameter is known, standard errors against scipy's
curve_fit, bounds, fit rows only, leave-one-source-out, and writing into a parameter table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit

from karvan.calibrate.crossval import cv_summary, leave_one_source_out, source_family
from karvan.calibrate.parameters import (
    RSE_BY_CONFIDENCE,
    fit_parameters,
    fit_to_table,
    update_parameter_table,
)
from karvan.errors import InputError

# a logit split of each market's tonnes between two routes whose costs differ by dc (USD/t):
# the tonnes on the cheaper route are t / (1 + exp(-theta dc)) + a constant k for the family
DC = np.array([5.0, 10.0, 20.0, -8.0, 2.0, 15.0, -3.0, 30.0])
T = np.array([1e6, 2e6, 5e5, 8e5, 3e6, 1.2e6, 6e5, 9e5])


def split(x, dc=DC, t=T):
    theta, k = x
    return t / (1.0 + np.exp(-theta * dc)) + k


def test_noise_free_toy_recovers_the_true_parameters():
    truth = np.array([0.12, 5e4])
    fit = fit_parameters(split, [0.05, 0.0], split(truth), rse=0.1,
                         bounds=([0.0, -1e6], [5.0, 1e6]), names=["theta", "k"])
    assert fit.success
    assert fit.values == pytest.approx(truth, rel=1e-6)
    assert fit.modelled == pytest.approx(split(truth), rel=1e-8)
    assert (fit.std_errors < 1e-6 * np.abs(truth)).all()  # no noise, no uncertainty
    assert list(fit.table()["parameter"]) == ["theta", "k"]


@pytest.mark.parametrize("absolute", [False, True])
def test_standard_errors_equal_those_of_curve_fit(absolute):
    rng = np.random.default_rng(11)
    truth = np.array([0.12, 5e4])
    y = split(truth) * np.exp(rng.normal(0.0, 0.08, len(DC)))
    rse = np.full(len(DC), 0.1)
    fit = fit_parameters(split, [0.1, 1e4], y, rse=rse, absolute_sigma=absolute)
    popt, pcov = curve_fit(lambda dc, th, k: split([th, k], dc), DC, y, p0=[0.1, 1e4],
                           sigma=rse * y, absolute_sigma=absolute)
    assert fit.values == pytest.approx(popt, rel=1e-5)
    assert fit.std_errors == pytest.approx(np.sqrt(np.diag(pcov)), rel=1e-3)


def test_a_parameter_held_by_its_bound_has_no_standard_error():
    truth = np.array([0.12, 5e4])
    fit = fit_parameters(split, [0.05, 0.0], split(truth), bounds=([0.0, -1e6], [0.08, 1e6]))
    assert fit.values[0] == pytest.approx(0.08)
    assert fit.at_bound[0] and not fit.at_bound[1]
    assert np.isnan(fit.std_errors[0]) and np.isfinite(fit.std_errors[1])


def test_bad_arguments_are_reported_together():
    with pytest.raises(InputError) as e:
        fit_parameters(split, [9.0, 0.0], [1.0, -2.0], rse=0.0, bounds=([0, 0], [1, 1]),
                       names=["a"], observation_ids=["x"])
    msg = str(e.value)
    for part in ("observed", "rse", "x0", "names", "observation_ids"):
        assert part in msg
    with pytest.raises(InputError, match="returned"):
        fit_parameters(lambda x: np.ones(3), [0.0], [1.0, 2.0])


def _table():
    rows = []
    for i, (dc, t) in enumerate(zip(DC, T)):
        rows.append({"observed_id": f"O{i}", "source": f"S{i % 3};KV_ASSUMPTION",
                     "role": "validate" if i in (2, 5) else "fit", "compared": True,
                     "confidence": "official" if i % 2 else "estimate", "dc": dc, "t": t,
                     "observed_tonnes": float(split([0.12, 5e4], np.array([dc]),
                                                    np.array([t]))[0])})
    rows.append({"observed_id": "O_2019", "source": "S9", "role": "fit", "compared": False,
                 "confidence": "press", "dc": 1.0, "t": 1.0, "observed_tonnes": 1.0})
    return pd.DataFrame(rows)


def test_fit_to_table_sees_fit_rows_only_and_weights_by_confidence():
    seen = []

    def model(x, rows):
        seen.append(set(rows["observed_id"]))
        return split(x, rows["dc"].to_numpy(), rows["t"].to_numpy())

    tab = _table()
    fit = fit_to_table(model, [0.05, 0.0], tab)
    assert all(s == {"O0", "O1", "O3", "O4", "O6", "O7"} for s in seen)
    assert fit.values == pytest.approx([0.12, 5e4], rel=1e-6)
    # a validation figure changed: the fit does not move
    tab2 = tab.copy()
    tab2.loc[tab2["role"] == "validate", "observed_tonnes"] *= 3.0
    fit2 = fit_to_table(model, [0.05, 0.0], tab2)
    assert np.array_equal(fit.values, fit2.values)
    # a fit figure changed: it does
    tab3 = tab.copy()
    tab3.loc[tab3["observed_id"] == "O1", "observed_tonnes"] *= 1.5
    assert not np.allclose(fit_to_table(model, [0.05, 0.0], tab3).values, fit.values)
    assert RSE_BY_CONFIDENCE["official"] < RSE_BY_CONFIDENCE["estimate"]


def test_leave_one_source_out():
    tab = _table()
    tab.loc[tab["observed_id"] == "O4", "observed_tonnes"] *= 4.0  # source S1 is off
    trained_on = []

    def fit_predict(train):
        trained_on.append(set(train["observed_id"]))
        f = fit_to_table(lambda x, r: split(x, r["dc"].to_numpy(), r["t"].to_numpy()),
                         [0.1, 0.0], train.assign(compared=True))
        return pd.Series(split(f.values, tab["dc"].to_numpy(), tab["t"].to_numpy()),
                         index=tab["observed_id"])

    cv = leave_one_source_out(tab, fit_predict)
    assert source_family("S1;KV_ASSUMPTION") == "S1"
    assert set(cv["source"]) == {"S0", "S1"}  # S2 has validation rows only
    assert set(cv["observed_id"]) == {"O0", "O1", "O3", "O4", "O6", "O7"}
    # no fold saw a validation row or its own left-out source
    for s in trained_on:
        assert not s & {"O2", "O5", "O_2019"}
    by = cv.set_index("observed_id")
    assert by.at["O4", "abs_log_ratio"] == pytest.approx(np.log(4.0), rel=0.05)
    summ = cv_summary(cv).set_index("source")
    assert summ.at["all", "rows"] == 6
    # the fold that keeps the wrong figure predicts the others worse than the clean fold
    assert summ.at["S0", "median_abs_log_ratio"] > 1e-3
    assert by.at["O1", "abs_log_ratio"] < 1e-6 and by.at["O7", "abs_log_ratio"] < 1e-6


def test_update_parameter_table():
    truth = np.array([0.12, 5e4])
    fit = fit_parameters(split, [0.05, 0.0], split(truth), names=["theta", "k"],
                         observation_ids=[f"O{i}" for i in range(len(DC))])
    table = pd.DataFrame({"parameter_id": ["theta", "k", "other"], "value": [1.0, 2.0, 3.0],
                          "source": ["A", "B", "C"]})
    out = update_parameter_table(table, fit, date="2026-12-02")
    row = out.set_index("parameter_id")
    assert row.at["theta", "value"] == pytest.approx(0.12)
    assert row.at["other", "value"] == 3.0 and row.at["other", "method"] == ""
    assert row.at["k", "method"] == "calibrated" and row.at["k", "date"] == "2026-12-02"
    assert row.at["k", "observations"].split(";")[0] == "O0"
    assert list(out["source"]) == ["A", "B", "C"]
    with pytest.raises(InputError, match="not in the table"):
        update_parameter_table(table[table["parameter_id"] != "k"], fit, date="x")
    # a table keyed by several columns (parameter and route family)
    keyed = pd.DataFrame({"parameter": ["asc", "asc", "asc"], "family": ["theta", "k", "x"],
                          "value": [0.0, 0.0, 9.0]})
    out = update_parameter_table(keyed, replace(fit, names=("asc|theta", "asc|k")), date="d",
                                 key=("parameter", "family"))
    assert list(out["value"]) == pytest.approx([0.12, 5e4, 9.0], rel=1e-6)
    with pytest.raises(InputError, match="no nest column"):
        update_parameter_table(keyed, fit, date="d", key=("parameter", "nest"))


def test_the_jacobian_steps_by_diff_step_from_zero():
    """An absolute finite-difference step, even where a parameter starts at 0 (scipy's
    relative step would fall back to ~1e-8 there), backward at an upper bound."""
    from scipy.optimize import lsq_linear

    seen = []
    A = np.array([[1.0, 0.5], [0.0, 1.0], [1.0, -1.0]])
    base = np.array([1.0, 2.0, 3.0])

    def model(x):
        seen.append(np.array(x, dtype=float))
        return base + A @ np.asarray(x, dtype=float)

    y = np.array([1.5, 2.4, 3.1])
    fit = fit_parameters(model, [0.0, 0.0], y, rse=1.0, bounds=([-1.0, -1.0], [1.0, 0.2]),
                         diff_step=0.3)
    np.testing.assert_allclose(seen[0], [0.0, 0.0])
    np.testing.assert_allclose(seen[1], [0.3, 0.0])
    np.testing.assert_allclose(seen[2], [0.0, -0.3])  # 0.3 would cross the bound 0.2
    assert all(x[1] <= 0.2 + 1e-12 for x in seen[3:])  # backward once at the bound
    # the same bounded least squares solved directly (residuals (m - y) / y)
    w = 1.0 / y
    ref = lsq_linear(A * w[:, None], (y - base) * w, bounds=([-1.0, -1.0], [1.0, 0.2])).x
    np.testing.assert_allclose(fit.values, ref, atol=1e-6)
    assert fit.at_bound[1]
