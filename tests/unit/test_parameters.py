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
    for i, (dc, t) in enumerate(zip(DC, T, strict=True)):
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


@pytest.mark.parametrize("step", [0.0, -0.1, np.inf, np.nan, [0.1, np.inf]])
def test_a_diff_step_that_is_not_a_finite_number_above_0_is_refused(step):
    with pytest.raises(InputError, match="diff_step must be a finite number > 0"):
        fit_parameters(lambda x: np.asarray(x, float) + 1.0, [0.0, 0.0], np.array([1.0, 2.0]),
                       rse=0.1, diff_step=step)


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


# ----------------------------------------------------------- covariance, rank and the prior

A_LIN = np.array([[1.0, 0.3, 0.0], [0.5, 1.0, 0.0], [1.0, -0.4, 0.0], [0.2, 0.8, 0.0],
                  [1.5, 0.1, 0.0], [0.7, 0.7, 0.0]])
B_LIN = np.array([10.0, 12.0, 9.0, 11.0, 14.0, 10.0])


def _linear(x):
    return B_LIN + A_LIN @ np.asarray(x, dtype=float)


@pytest.mark.parametrize("absolute", [False, True])
def test_linear_least_squares_has_the_covariance_of_curve_fit(absolute):
    """A linear model: the covariance is known in closed form and equals curve_fit's."""
    rng = np.random.default_rng(5)
    a2 = A_LIN[:, :2]
    truth = np.array([2.0, -1.5])
    y = (B_LIN + a2 @ truth) * np.exp(rng.normal(0.0, 0.05, len(B_LIN)))
    rse = np.full(len(y), 0.04)
    fit = fit_parameters(lambda x: B_LIN + a2 @ np.asarray(x), [0.0, 0.0], y, rse=rse,
                         absolute_sigma=absolute)
    popt, pcov = curve_fit(lambda i, u, v: (B_LIN + a2 @ np.array([u, v]))[i.astype(int)],
                           np.arange(len(y), dtype=float), y, p0=[0.0, 0.0], sigma=rse * y,
                           absolute_sigma=absolute)
    np.testing.assert_allclose(fit.values, popt, rtol=1e-6)
    np.testing.assert_allclose(fit.covariance, pcov, rtol=1e-6)
    # the closed form: (A'WA)^-1, times the reduced chi-square when the errors are relative
    w = 1.0 / (rse * y) ** 2
    closed = np.linalg.inv(a2.T @ (a2 * w[:, None]))
    if not absolute:
        r = (B_LIN + a2 @ popt - y) / (rse * y)
        closed = closed * (r @ r) / (len(y) - 2)
    np.testing.assert_allclose(fit.covariance, closed, rtol=1e-6)
    assert fit.rank == 2 and fit.identified.all()
    assert np.all(np.abs(fit.correlation()) <= 1.0)


def test_a_rank_deficient_problem_reports_what_is_not_identified():
    """Two parameters that only act through their sum: without a prior neither is identified
    (infinite standard error, no correlation beyond [-1, 1]); the rank and the null space say
    which direction is free."""
    a = np.column_stack([A_LIN[:, 0], A_LIN[:, 0], A_LIN[:, 1]])
    y = B_LIN + a @ np.array([1.0, 1.0, 0.5]) + np.array([0.3, -0.2, 0.1, 0.0, -0.1, 0.2])
    fit = fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0, 0.0], y, rse=0.05,
                         names=["u", "v", "w"], diff_step=0.1)  # exact differences
    assert fit.rank == 2
    assert fit.null_space.shape == (3, 1)
    np.testing.assert_allclose(np.abs(fit.null_space[:, 0]), [2 ** -0.5, 2 ** -0.5, 0.0],
                               atol=1e-8)
    assert list(fit.identified) == [False, False, True]
    assert np.isinf(fit.std_errors[:2]).all() and np.isfinite(fit.std_errors[2])
    corr = fit.correlation()
    assert np.all(np.isnan(corr[:2, :]) | (np.abs(corr[:2, :]) <= 1.0))
    finite = corr[np.isfinite(corr)]
    assert np.all(np.abs(finite) <= 1.0)
    # the parameter that is identified has the standard error of the fit without the pair's
    # difference (u + v as one parameter)
    a2 = np.column_stack([A_LIN[:, 0], A_LIN[:, 1]])
    ref = fit_parameters(lambda x: B_LIN + a2 @ np.asarray(x), [0.0, 0.0], y, rse=0.05,
                         diff_step=0.1)
    assert fit.std_errors[2] == pytest.approx(ref.std_errors[1], rel=1e-5)


def test_the_prior_gives_the_bayesian_linear_estimate():
    """Linear model with a Gaussian prior: the MAP estimate and the posterior covariance are
    (A'WA + P)^-1 (A'W(y - b) + P mu) and (A'WA + P)^-1 (errors known)."""
    a = np.column_stack([A_LIN[:, 0], A_LIN[:, 0], A_LIN[:, 1]])  # rank deficient without prior
    y = B_LIN + a @ np.array([1.0, 1.0, 0.5]) + np.array([0.3, -0.2, 0.1, 0.0, -0.1, 0.2])
    mu = np.array([0.5, 0.0, 0.0])
    s = np.array([0.4, 2.0, 3.0])
    rse = 0.05
    fit = fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0, 0.0], y, rse=rse,
                         prior=mu, prior_std_errors=s, absolute_sigma=True)
    w = 1.0 / (rse * y) ** 2
    h = a.T @ (a * w[:, None]) + np.diag(1.0 / s ** 2)
    post = np.linalg.solve(h, a.T @ (w * (y - B_LIN)) + mu / s ** 2)
    np.testing.assert_allclose(fit.values, post, rtol=1e-6, atol=1e-9)
    # relative to the matrix's scale as well: the off-diagonal (0, 2) is 1 % of the diagonal and
    # the rounding of the fit's Jacobian reaches it at 2.7e-6 of its own size (4e-9, SciPy 1.17.1)
    cov = np.linalg.inv(h)
    np.testing.assert_allclose(fit.covariance, cov, rtol=1e-6, atol=1e-6 * np.abs(cov).max())
    assert np.all(np.abs(fit.correlation()) <= 1.0)
    # the same as curve_fit with the prior as pseudo-observations
    xs = np.arange(len(y) + 3, dtype=float)

    def stacked(i, u, v, t):
        m = np.concatenate([B_LIN + a @ np.array([u, v, t]), [u, v, t]])
        return m[i.astype(int)]

    popt, pcov = curve_fit(stacked, xs, np.concatenate([y, mu]), p0=[0.0, 0.0, 0.0],
                           sigma=np.concatenate([rse * y, s]), absolute_sigma=True)
    np.testing.assert_allclose(fit.values, popt, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fit.covariance, pcov, rtol=1e-4, atol=1e-7)  # FD Jacobian
    # u and v act only through their sum: the data fix the sum, so each is only weakly
    # identified and their posterior correlation is strongly negative
    assert fit.correlation()[0, 1] < -0.5
    assert fit.table()["prior_std_error"].tolist() == pytest.approx(s.tolist())


@pytest.mark.parametrize("absolute", [False, True])
def test_a_parameter_without_observations_stays_at_its_prior(absolute):
    """A parameter that moves no observation returns its prior value and prior standard error,
    and is reported as not identified; the others are fitted as without it."""
    y = _linear([2.0, -1.5, 0.0]) * np.array([1.01, 0.99, 1.02, 1.0, 0.98, 1.01])
    fit = fit_parameters(_linear, [0.0, 0.0, 3.0], y, rse=0.05, names=["u", "v", "idle"],
                         prior=[0.0, 0.0, 7.0], prior_std_errors=[np.inf, np.nan, 2.5],
                         absolute_sigma=absolute, diff_step=0.1)
    assert fit.values[2] == pytest.approx(7.0, abs=1e-9)
    assert fit.std_errors[2] == pytest.approx(2.5, rel=1e-9)
    assert fit.shrinkage[2] == pytest.approx(1.0)
    assert list(fit.identified) == [True, True, False]
    ref = fit_parameters(lambda x: _linear([x[0], x[1], 0.0]), [0.0, 0.0], y, rse=0.05,
                         absolute_sigma=absolute)
    np.testing.assert_allclose(fit.values[:2], ref.values, rtol=1e-6)
    np.testing.assert_allclose(fit.std_errors[:2], ref.std_errors, rtol=1e-6)
    assert fit.cost == pytest.approx(ref.cost, rel=1e-6)
    # without a prior it would have no standard error at all
    bare = fit_parameters(_linear, [0.0, 0.0, 3.0], y, rse=0.05, diff_step=0.1)
    assert np.isinf(bare.std_errors[2]) and not bare.identified[2]
    assert bare.values[2] == pytest.approx(3.0)


def test_bad_priors_are_reported():
    with pytest.raises(InputError) as e:
        fit_parameters(_linear, [0.0, 0.0, 0.0], _linear([1.0, 1.0, 0.0]), prior=[0.0, 0.0],
                       prior_std_errors=[1.0, 1.0])
    assert "prior" in str(e.value)
    with pytest.raises(InputError, match="> 0"):
        fit_parameters(_linear, [0.0, 0.0, 0.0], _linear([1.0, 1.0, 0.0]),
                       prior=[0.0, 0.0, 0.0], prior_std_errors=[1.0, 0.0, 1.0])
    with pytest.raises(InputError, match="together"):
        fit_parameters(_linear, [0.0, 0.0, 0.0], _linear([1.0, 1.0, 0.0]), prior=[0, 0, 0])


def test_with_a_prior_the_data_variances_are_scaled_until_they_settle():
    """Relative errors and a prior: the estimate is the MAP with the data's variances times the
    reduced chi-square c, and c = WSS / (n - p_eff) at that estimate (p_eff the trace of the
    hat matrix): a fixed point, checked against the closed form of the linear model."""
    a = np.column_stack([A_LIN[:, 0], A_LIN[:, 1]])
    y = (B_LIN + a @ np.array([2.0, -1.0])) * np.array([1.2, 0.85, 1.1, 0.9, 1.15, 0.8])
    rse = 0.05
    mu, s = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    fit = fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0], y, rse=rse,
                         prior=mu, prior_std_errors=s)
    c = fit.chi2_scale
    assert c > 5 and fit.scale_rounds >= 1  # the rows miss by far more than 5 %
    w = 1.0 / (rse * y) ** 2 / c
    h = a.T @ (a * w[:, None]) + np.diag(1.0 / s ** 2)
    post = np.linalg.solve(h, a.T @ (w * (y - B_LIN)) + mu / s ** 2)
    np.testing.assert_allclose(fit.values, post, rtol=0.02)
    np.testing.assert_allclose(fit.covariance, np.linalg.inv(h), rtol=1e-6)
    r = (B_LIN + a @ fit.values - y) / (rse * y)
    peff = np.trace(np.linalg.solve(h, a.T @ (a * w[:, None])))
    assert fit.effective_parameters == pytest.approx(peff, rel=1e-6)
    assert c == pytest.approx(float(r @ r) / (len(y) - peff), rel=0.02)  # settled to 2 %
    # the prior weighs more than it would against the stated errors
    plain = fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0], y, rse=rse,
                           prior=mu, prior_std_errors=s, absolute_sigma=True)
    assert np.linalg.norm(fit.values - mu) < np.linalg.norm(plain.values - mu)
    # each round is announced with its factor: 1 first, then the reduced chi-square of the
    # round before; with known errors there is one round
    seen = []
    again = fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0], y, rse=rse,
                           prior=mu, prior_std_errors=s,
                           on_round=lambda k, f: seen.append((k, f)))
    np.testing.assert_array_equal(again.values, fit.values)
    assert [k for k, _ in seen] == list(range(fit.scale_rounds + 1))
    assert seen[0][1] == 1.0 and all(f > 5 for _, f in seen[1:])
    assert abs(seen[-1][1] - c) <= 0.02 * seen[-1][1]  # the last factor is the settled one
    seen.clear()
    fit_parameters(lambda x: B_LIN + a @ np.asarray(x), [0.0, 0.0], y, rse=rse, prior=mu,
                   prior_std_errors=s, absolute_sigma=True, on_round=lambda k, f: seen.append(k))
    assert seen == [0]


def test_a_fixed_variance_factor_minimises_one_objective_in_one_round():
    """chi2_scale=c: the MAP estimate with the data's variances times c (closed form of the
    linear model), no rounds, the covariance at c, and the end point's own reduced chi-square
    reported beside it; at the factor the rounds settle on, the same estimate as the rounds."""
    a = np.column_stack([A_LIN[:, 0], A_LIN[:, 1]])
    y = (B_LIN + a @ np.array([2.0, -1.0])) * np.array([1.2, 0.85, 1.1, 0.9, 1.15, 0.8])
    rse = 0.05
    mu, s = np.array([0.0, 0.0]), np.array([1.0, 1.0])

    def lin(x):
        return B_LIN + a @ np.asarray(x)

    seen = []
    fixed = fit_parameters(lin, [0.0, 0.0], y, rse=rse, prior=mu, prior_std_errors=s,
                           chi2_scale=3.0, on_round=lambda k, f: seen.append((k, f)))
    assert seen == [(0, 3.0)] and fixed.scale_rounds == 0
    assert fixed.chi2_scale == 3.0 and fixed.chi2_scale_fixed
    w = 1.0 / (rse * y) ** 2 / 3.0
    h = a.T @ (a * w[:, None]) + np.diag(1.0 / s ** 2)
    post = np.linalg.solve(h, a.T @ (w * (y - B_LIN)) + mu / s ** 2)
    np.testing.assert_allclose(fixed.values, post, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fixed.covariance, np.linalg.inv(h), rtol=1e-6)
    r = (lin(fixed.values) - y) / (rse * y)
    peff = np.trace(np.linalg.solve(h, a.T @ (a * w[:, None])))
    assert fixed.reduced_chi2 == pytest.approx(float(r @ r) / (len(y) - peff), rel=1e-6)
    assert fixed.reduced_chi2 != pytest.approx(3.0, rel=0.1)  # not settled: any value
    assert 2 * fixed.objective == pytest.approx(float(r @ r) / 3.0 + fixed.prior_penalty,
                                                rel=1e-9)
    settled = fit_parameters(lin, [0.0, 0.0], y, rse=rse, prior=mu, prior_std_errors=s)
    assert not settled.chi2_scale_fixed
    assert settled.reduced_chi2 == pytest.approx(settled.chi2_scale, rel=0.02)
    again = fit_parameters(lin, [0.0, 0.0], y, rse=rse, prior=mu, prior_std_errors=s,
                           chi2_scale=settled.chi2_scale)
    np.testing.assert_allclose(again.values, settled.values, rtol=0.02)
    # from another start, the same objective has the same minimum
    other = fit_parameters(lin, [5.0, 5.0], y, rse=rse, prior=mu, prior_std_errors=s,
                           chi2_scale=3.0)
    np.testing.assert_allclose(other.values, fixed.values, rtol=1e-6, atol=1e-9)
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(InputError, match="chi2_scale"):
            fit_parameters(lin, [0.0, 0.0], y, rse=rse, prior=mu, prior_std_errors=s,
                           chi2_scale=bad)
    with pytest.raises(InputError, match="not both"):
        fit_parameters(lin, [0.0, 0.0], y, rse=rse, prior=mu, prior_std_errors=s,
                       chi2_scale=2.0, absolute_sigma=True)


def test_model_many_evaluates_the_jacobian_together_and_changes_nothing():
    """With ``model_many`` the Jacobian's columns are asked for in one call (one vector per
    parameter, forward, backward at an upper bound), and the fit is the one without it."""
    y = split([0.2, 1e5]) * np.array([1.02, 0.97, 1.01, 0.99, 1.03, 0.98, 1.0, 1.01])
    kw = dict(rse=0.05, bounds=([0.01, -1e6], [0.5, 1e6]), diff_step=[0.01, 1e3])
    plain = fit_parameters(split, [0.1, 0.0], y, **kw)
    batches = []

    def many(xs):
        batches.append([np.array(x, dtype=float) for x in xs])
        return [split(x) for x in xs]

    together = fit_parameters(split, [0.1, 0.0], y, model_many=many, **kw)
    assert batches and all(len(b) == 2 for b in batches)
    for b in batches:  # each batch: the point stepped in one parameter, then in the other
        np.testing.assert_allclose(np.abs(b[1] - b[0]), [0.01, 1e3], rtol=1e-6)
    np.testing.assert_array_equal(together.values, plain.values)
    np.testing.assert_array_equal(together.std_errors, plain.std_errors)
    assert together.evaluations == plain.evaluations
    with pytest.raises(InputError, match="model_many returned 1 results for 2"):
        fit_parameters(split, [0.1, 0.0], y, model_many=lambda xs: [split(xs[0])], **kw)


def test_as_many_rows_as_parameters_without_a_prior_have_no_standard_error():
    """Two rows, two parameters, no prior: the fit passes through the rows and nothing is
    left to measure their variance, so the standard errors are unknown (inf, not identified),
    not the ~1e153 of a clipped inverse."""
    import numpy as np

    from karvan.calibrate.parameters import fit_parameters

    f = fit_parameters(lambda x: np.array([1 + x[0], 2 + x[0] + x[1]]), [0.0, 0.0], [2.0, 3.0],
                       rse=0.1)
    np.testing.assert_allclose(f.values, [1.0, 0.0], atol=1e-6)
    assert np.isinf(f.std_errors).all() and not f.identified.any()
