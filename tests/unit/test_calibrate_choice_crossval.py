"""Leave-one-source-out cross-validation of the choice-parameter fit, on the toy network of
test_calibrate_choice whose true parameters are known: folds never see validation rows or their
own source, a wrong figure shows up as the error of its own fold's prediction, and the
linearised refit agrees with a refit of the model itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.calibrate.choice_crossval import crossvalidate_choice, linearised_refit
from tests.unit.test_calibrate_choice import (
    COMMODITIES,
    LINK_TABLE,
    TRUTH,
    ZONE_COUNTRY,
    fit,
    observed_table,
    run_toy,
    true_counts,
)


@pytest.fixture(scope="module")
def truth_counts():
    return true_counts()


def crossval(cf, obs, **kw):
    return crossvalidate_choice(cf, obs, run_toy, link_table=LINK_TABLE,
                                zone_country=ZONE_COUNTRY, commodities=COMMODITIES, **kw)


def test_a_wrong_figure_is_found_by_its_own_fold(truth_counts):
    obs = observed_table(truth_counts)
    obs.loc[obs["observed_id"] == "OBS_w3", "tonnes_per_year"] *= 1.3
    cf = fit(obs)
    rows, summary, folds = crossval(cf, obs)
    validate = set(obs.loc[obs["role"] == "validate", "observed_id"])
    assert not validate & set(rows["observed_id"])
    for left in folds["left_out"]:
        assert not validate & set(left.split(";"))
    # one fold per source of the fit rows, each leaving out its own rows only
    assert set(rows["source"]) == set(obs.loc[obs["role"] == "fit", "source"])
    source = dict(zip(obs["observed_id"], obs["source"], strict=True))
    for s, left in zip(folds["source"], folds["left_out"], strict=True):
        assert {source[i] for i in left.split(";")} == {s}
        assert set(rows.loc[rows["source"] == s, "observed_id"]) == set(left.split(";"))
    by = rows.set_index("observed_id")
    # without the wrong figure the refit is at the truth, so its prediction misses by 30 %
    assert by.at["OBS_w3", "abs_log_ratio"] == pytest.approx(np.log(1.3), abs=0.01)
    assert by.at["OBS_w3", "abs_log_ratio"] > by.at["OBS_w3", "in_sample_abs_log_ratio"]
    w3 = folds.set_index("source").loc["SRC_w3"]
    for name, v in TRUTH.items():
        assert w3[name] == pytest.approx(v, rel=0.02, abs=0.05)
    # the pooled row
    assert summary.set_index("source").at["all", "rows"] == len(rows)


def test_the_linearised_refit_agrees_with_a_refit_of_the_model(truth_counts):
    obs = observed_table(truth_counts)
    rng = np.random.default_rng(3)
    obs["tonnes_per_year"] *= np.exp(rng.normal(0.0, 0.05, len(obs)))
    cf = fit(obs, use_prior=True)
    ids = cf.counts["observed_id"].to_numpy()
    keep = ~np.isin(ids, ["OBS_e1", "OBS_e1|grain", "OBS_e1|metals"])
    lin = linearised_refit(cf, keep)
    sub = obs[obs["observed_id"].isin(ids[keep]) | (obs["role"] == "validate")]
    full = fit(sub, use_prior=True)
    np.testing.assert_allclose(lin, full.fit.values, rtol=0.05, atol=0.2)
    # keeping every row, the linearised refit is the fit itself (up to one Gauss-Newton step
    # with a finite-difference Jacobian)
    np.testing.assert_allclose(linearised_refit(cf, np.ones(len(ids), bool)), cf.fit.values,
                               rtol=1e-3, atol=0.02)
    # and the refit with the model (max_evaluations) lands at the same place
    rows, _, folds = crossval(cf, obs, max_evaluations=20)
    assert len(folds) == len(set(rows["source"]))


def test_a_run_pool_runs_the_folds_and_changes_nothing(truth_counts):
    """With a pool the linearised folds' runs go to it in one batch (one per fold), the
    refitted folds' Jacobians in batches; the tables are those without it."""
    from tests.unit.test_calibrate_choice import InProcessPool

    obs = observed_table(truth_counts)
    obs["tonnes_per_year"] *= np.exp(np.random.default_rng(4).normal(0.0, 0.05, len(obs)))
    cf = fit(obs, use_prior=True)
    for kw in ({}, {"max_evaluations": 3}):
        plain = crossval(cf, obs, **kw)
        pool = InProcessPool(run_toy)
        pooled = crossval(cf, obs, pool=pool, **kw)
        for a, b in zip(pooled, plain, strict=True):
            pd.testing.assert_frame_equal(a, b)
        if kw:
            assert set(pool.batches) == {len(cf.params)}
        else:
            assert pool.batches == [len(plain[2])]


def test_a_fit_at_a_fixed_variance_factor_is_refitted_at_that_factor(truth_counts):
    """A fit whose variance factor was fixed (``chi2_scale=``): each fold refitted with the
    model minimises the same objective on its rows, so it lands where a fit of those rows at
    that factor lands, not where the rounds' factor would put it."""
    obs = observed_table(truth_counts)
    rng = np.random.default_rng(3)
    obs["tonnes_per_year"] *= np.exp(rng.normal(0.0, 0.05, len(obs)))
    cf = fit(obs, use_prior=True, chi2_scale=50.0)
    assert cf.fit.chi2_scale_fixed and cf.fit.chi2_scale == 50.0
    _, _, folds = crossval(cf, obs, max_evaluations=20)
    got = folds.set_index("source").loc["SRC_e1", list(TRUTH)].to_numpy(dtype=float)
    sub = obs[obs["source"] != "SRC_e1"]
    at_c = fit(sub, use_prior=True, chi2_scale=50.0).fit.values
    settled = fit(sub, use_prior=True).fit.values
    np.testing.assert_allclose(got, at_c, rtol=0.01, atol=0.05)
    assert np.max(np.abs(at_c - settled)) > 1.0  # the factor matters on these rows
