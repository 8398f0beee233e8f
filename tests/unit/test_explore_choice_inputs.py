"""The choice model's parameters as uncertain inputs: by confidence class, or normal with the
row's standard error; rows of one fitted parameter draw together; bad standard errors refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.explore.choice_inputs import choice_inputs, choice_row_keys, choice_values
from karvan.explore.inputs import builtin_uncertainty_path
from karvan.explore.sampling import make_design
from karvan.freight.corridor import builtin_corridor_folder


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                       keep_default_na=False)


def _calibrated(table: pd.DataFrame) -> pd.DataFrame:
    """The built-in table as a calibration would write it: a factor on theta fitted (every
    theta row, relative standard error 0.2), two family constants fitted as values."""
    t = table.copy()
    t["std_error"] = ""
    t["observations"] = ""
    th = t["parameter"] == "theta"
    v = pd.to_numeric(t.loc[th, "value"])
    t.loc[th, "std_error"] = (0.2 * v).map(repr)
    t.loc[th, "observations"] = "OBS_1;OBS_2"
    for fam, val, se in (("instc_west_rail", "-12.5", "4.0"), ("middle_corridor", "30", "9")):
        m = (t["parameter"] == "asc_usd_per_t") & (t["family"] == fam) & (t["commodity"] == "*")
        t.loc[m, ["value", "std_error", "observations"]] = [val, se, "OBS_1;OBS_2"]
    return t


def test_rows_without_std_error_draw_by_class_and_source(table):
    table = table.copy()
    if "std_error" in table:  # the shipped table is calibrated: as it was before, by class
        table["std_error"] = ""
    s = choice_inputs(table, builtin_uncertainty_path())
    keys = choice_row_keys(table)
    assert len(set(keys)) == len(keys) == len(table)
    rows = {r for x in s.inputs for r in x.rows}
    # every row of a non-zero value drawn, nest scales (bounded by 1) and zeros not
    v = pd.to_numeric(table["value"])
    want = {k for k, p, x in zip(keys, table["parameter"], v, strict=True)
            if x != 0 and p != "nest_scale"}
    assert rows == want
    theta = next(x for x in s.inputs if x.field == "theta")
    # one source behind the six commodities' dispersion: one factor for all six
    th = table[table["parameter"] == "theta"]
    conf, src = th["confidence"].iloc[0], th["source"].iloc[0]
    assert (th["confidence"] == conf).all() and (th["source"] == src).all()
    # the class rule of uncertainty.csv for the rows' confidence, on every table and field
    u = pd.read_csv(builtin_uncertainty_path(), dtype=str, keep_default_na=False)
    cls = u[(u["kind"] == "class") & (u["confidence_class"] == conf) & (u["table"] == "*")
            & (u["field"] == "*")]
    assert len(cls) == 1
    assert len(theta.rows) == 6 and theta.name == f"choice.theta:{conf}[{src}]"
    assert theta.distribution.describe() == f"lognormal(sigma={float(cls['sigma'].iloc[0]):g})"


def test_std_errors_give_normal_draws_with_the_right_mean_and_sd(table):
    t = _calibrated(table)
    s = choice_inputs(t, builtin_uncertainty_path())
    names = s.names
    assert "choice.asc_usd_per_t:se[instc_west_rail]" in names
    assert "choice.theta:se[containers+5]" in names
    n = 4096
    d = make_design(s, "lhs", n, seed=5)
    at = choice_values(s, t)
    vals = np.array([at(x) for x in s.values(d.u)])  # (draws, rows)
    value = pd.to_numeric(t["value"]).to_numpy()
    se = pd.to_numeric(t["std_error"], errors="coerce").to_numpy()
    fitted = np.flatnonzero(np.isfinite(se))
    assert len(fitted) == 8
    for i in fitted:
        x = vals[:, i]
        # mean within 4 standard errors of the sample mean, sd within 5 %
        assert abs(x.mean() - value[i]) < 4 * se[i] / np.sqrt(n), (t.iloc[i].tolist(), x.mean())
        assert x.std(ddof=1) == pytest.approx(se[i], rel=0.05)
    th = np.flatnonzero((t["parameter"] == "theta").to_numpy())
    # the rows of the one fitted factor move together; independent fits do not
    assert np.corrcoef(vals[:, th[0]], vals[:, th[-1]])[0, 1] > 0.999
    a = np.flatnonzero(((t["parameter"] == "asc_usd_per_t") & (
        t["family"] == "instc_west_rail")).to_numpy())[0]
    b = np.flatnonzero(((t["parameter"] == "asc_usd_per_t") & (
        t["family"] == "middle_corridor") & (t["commodity"] == "*")).to_numpy())[0]
    assert abs(np.corrcoef(vals[:, a], vals[:, b])[0, 1]) < 0.1
    assert abs(np.corrcoef(vals[:, a], vals[:, th[0]])[0, 1]) < 0.1
    # the central values are the table's
    np.testing.assert_array_equal(at(None), value)


def test_normal_draws_against_scipy_quantiles(table):
    from scipy import stats

    t = _calibrated(table)
    s = choice_inputs(t, builtin_uncertainty_path())
    i = s.names.index("choice.asc_usd_per_t:se[instc_west_rail]")
    u = np.full((5, len(s.factors)), 0.5)
    q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    u[:, s.factor_index()[i]] = q
    np.testing.assert_allclose(s.values(u)[:, i], stats.norm(-12.5, 4.0).ppf(q), rtol=1e-12)


def test_theta_and_nest_scale_stay_in_the_models_domain(table):
    t = table.copy()
    t["std_error"] = ""
    m = (t["parameter"] == "nest_scale") & (t["nest"] == "instc")
    t.loc[m, ["value", "std_error"]] = ["0.9", "0.5"]
    s = choice_inputs(t, builtin_uncertainty_path())
    at = choice_values(s, t)
    d = make_design(s, "lhs", 200, seed=1)
    vals = np.array([at(x) for x in s.values(d.u)])
    j = np.flatnonzero(m.to_numpy())[0]
    assert vals[:, j].max() <= 1.0 and vals[:, j].min() >= 0.05
    assert (vals[:, j] == 1.0).any() and (vals[:, j] < 0.9).any()


def test_bad_standard_errors_are_refused_with_their_lines(table):
    t = table.copy()
    t["std_error"] = ""
    t.loc[3, "std_error"] = "-0.4"
    t.loc[5, "std_error"] = "lots"
    with pytest.raises(InputError) as e:
        choice_inputs(t, builtin_uncertainty_path())
    msg = str(e.value)
    assert "std_error must be >= 0 (lines 5" in msg and "-0.4" in msg
    assert "std_error must be a number or blank (lines 7" in msg


def test_range_rules_on_the_choice_table_are_refused(table, tmp_path):
    src = pd.read_csv(builtin_uncertainty_path(), dtype=str)
    extra = pd.DataFrame([{"rule_id": "R_THETA", "kind": "range", "table": "choice",
                           "field": "theta", "row_id": "*", "distribution": "uniform",
                           "low": "0.01", "high": "0.1", "source": "KV_ASSUMPTION",
                           "source_date": "2026", "confidence": "assumption",
                           "method": "test"}])
    p = tmp_path / "u.csv"
    pd.concat([src, extra], ignore_index=True).to_csv(p, index=False)
    with pytest.raises(InputError, match="range rules on table choice .*R_THETA.*std_error"):
        choice_inputs(table, p)


def test_rows_citing_the_same_sources_in_another_order_share_one_factor(table):
    table = table.copy()
    table["std_error"] = ""
    th = np.flatnonzero(table["parameter"] == "theta")
    table.loc[th[::2], "source"] = "SRC_B;SRC_A"
    table.loc[th[1::2], "source"] = "SRC_A;SRC_B;SRC_A"
    s = choice_inputs(table, builtin_uncertainty_path())
    theta = [x for x in s.inputs if x.field == "theta"]
    assert len(theta) == 1 and len(theta[0].rows) == len(th) > 1
    assert theta[0].name.endswith("[SRC_A;SRC_B]")
