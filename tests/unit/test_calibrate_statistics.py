"""Fit statistics of the calibration table: definitions checked by hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from karvan.calibrate.statistics import (
    MEDIAN_TARGET,
    abs_log_ratio,
    geh_tonnes,
    row_statistics,
    summarize,
    summary_dict,
)


def test_geh_in_twenty_tonne_loads_per_day():
    # 1.0 Mt/yr against 1.3 Mt/yr: 136.99 and 178.08 loads per day
    c, m = 1e6 / 7300, 1.3e6 / 7300
    assert geh_tonnes(1.3e6, 1e6) == pytest.approx(math.sqrt(2 * (m - c) ** 2 / (m + c)))
    assert geh_tonnes(5e6, 5e6) == 0.0
    assert geh_tonnes(0.0, 0.0) == 0.0
    # symmetric in M and C
    assert geh_tonnes(2e6, 3e6) == pytest.approx(geh_tonnes(3e6, 2e6))
    # GEH 5 is about +-45 % at 1 Mt and about +-20 % at 5 Mt (docs/dataset.md)
    assert geh_tonnes(1.45e6, 1e6) == pytest.approx(5.0, abs=0.3)
    assert geh_tonnes(6.0e6, 5e6) == pytest.approx(5.0, abs=0.6)


def test_abs_log_ratio():
    assert abs_log_ratio([2.0, 0.5, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(
        [math.log(2), math.log(2), 0.0])
    assert np.isinf(abs_log_ratio(0.0, 1.0))


def _table(rows):
    return pd.DataFrame(rows, columns=["observed_id", "observed_tonnes", "modelled_tonnes",
                                       "compared", "independent", "role"])


def test_row_flags_and_sets():
    t = row_statistics(_table([
        ("a", 100.0, 130.0, True, True, "fit"),       # +30 %: within
        ("b", 100.0, 69.0, True, True, "fit"),        # -31 %: outside
        ("c", 100.0, 201.0, True, False, "fit"),      # beyond a factor 2, by construction
        ("d", 100.0, 0.0, True, True, "validate"),    # nothing modelled: infinitely off
        ("e", 100.0, np.nan, False, True, "validate"),  # no run of its year
    ])).set_index("observed_id")
    assert list(t["within_30pct"]) == [True, False, False, False, False]
    assert list(t["beyond_factor_2"]) == [False, False, True, True, False]
    assert list(t["set"]) == ["fit", "fit", "fit_by_construction", "validate", "validate"]
    assert np.isnan(t.at["e", "ratio"]) and np.isnan(t.at["e", "geh"])
    assert np.isinf(t.at["d", "abs_log_ratio"])


def test_summary_targets():
    ok = row_statistics(_table([
        ("f1", 100.0, 125.0, True, True, "fit"),
        ("f2", 100.0, 80.0, True, True, "fit"),
        ("v1", 100.0, 110.0, True, True, "validate"),
        ("v2", 100.0, 125.0, True, True, "validate"),
        ("v3", 100.0, 190.0, True, True, "validate"),
    ]))
    s = summarize(ok).set_index("set")
    assert s.at["fit", "target_met"] and s.at["validate", "target_met"]
    assert s.at["validate", "median_abs_log_ratio"] == pytest.approx(math.log(1.25))
    assert s.at["validate", "median_abs_log_ratio"] <= MEDIAN_TARGET
    assert s.at["fit_by_construction", "compared"] == 0
    # nothing compared (a run of a year without counts): no target to meet, not a failure
    assert s.at["fit_by_construction", "target_met"] is None
    # one validation row beyond a factor 2 fails the target even with a good median
    bad = ok.copy()
    bad.loc[bad["observed_id"] == "v3", "modelled_tonnes"] = 210.0
    s2 = summarize(row_statistics(bad)).set_index("set")
    assert s2.at["validate", "median_abs_log_ratio"] <= MEDIAN_TARGET
    assert not s2.at["validate", "target_met"]
    d = summary_dict(s2.reset_index())
    assert d["validate"]["beyond_factor_2"] == 1 and d["fit_by_construction"][
        "median_abs_log_ratio"] is None
    assert d["validate"]["target_met"] is False and d["fit_by_construction"]["target_met"] is None


def test_rows_that_built_the_inputs_have_no_target_in_the_file_as_on_screen():
    """calibration_summary.csv said target_met False for the rows that built the inputs while
    the printed summary and the report show "-" (no target: their fit is no evidence)."""
    t = row_statistics(_table([
        ("f1", 100.0, 125.0, True, True, "fit"),
        ("b1", 100.0, 150.0, True, False, "fit"),
        ("v1", 100.0, 110.0, True, True, "validate"),
    ]))
    s = summarize(t).set_index("set")
    assert s.at["fit_by_construction", "compared"] == 1
    assert s.at["fit_by_construction", "within_30pct"] == 0
    assert s.at["fit_by_construction", "target_met"] is None
    assert s.at["fit", "target_met"] is True


def test_a_compared_row_without_a_modelled_value_is_left_out_of_the_summary_as_of_the_rows():
    """The rows had no statistics but the summary counted them: median NaN, GEH share off."""
    t = row_statistics(_table([
        ("a", 100.0, 110.0, True, True, "validate"),
        ("b", 100.0, 150.0, True, True, "validate"),
        ("c", 100.0, np.nan, True, True, "validate"),
    ]))
    v = summarize(t).set_index("set").loc["validate"]
    assert v["compared"] == 2
    assert v["median_abs_log_ratio"] == pytest.approx(np.median(np.log([1.1, 1.5])))


def test_target_met_is_read_from_a_boolean_column_with_blanks_or_from_old_text():
    """A run's stored summary has target_met as a nullable boolean (blank for the rows that
    built the inputs); runs stored before hold the text "False", which was read as yes."""
    from karvan.calibrate.statistics import display_summary, target_met

    assert [target_met(v) for v in (True, False, None, pd.NA, float("nan"), "True", "False",
                                    " true ", "")] == [True, False, False, False, False, True,
                                                       False, True, False]
    base = pd.DataFrame({"set": ["fit", "fit_by_construction", "validate"], "compared": [3, 2, 4],
                         "within_30pct": [3, 2, 1], "beyond_factor_2": [0, 0, 1],
                         "median_abs_log_ratio": [0.1, 0.0, 0.5], "geh_below_5_share": 1.0})
    for met in (pd.array([True, None, False], dtype="boolean"), ["True", None, "False"]):
        shown = display_summary(base.assign(target_met=met), "baseline")
        assert shown["target met"].tolist() == ["yes", "-", "no"]


def test_a_total_of_fit_rows_is_a_set_of_its_own_without_a_target():
    """A check row (role check: the total of fit rows, compared and never fitted) is reported
    apart: it neither counts as a fit row nor makes the fit set's target fail, and it has no
    target of its own (its parts are the test), on screen as in the file."""
    from karvan.calibrate.statistics import display_summary

    t = row_statistics(_table([
        ("f1", 100.0, 125.0, True, True, "fit"),
        ("f2", 50.0, 45.0, True, True, "fit"),
        ("t", 150.0, 300.0, True, True, "check"),  # beyond ±30 %: would fail the fit target
        ("v1", 100.0, 110.0, True, True, "validate"),
    ]))
    assert list(t["set"]) == ["fit", "fit", "check", "validate"]
    s = summarize(t).set_index("set")
    assert s.at["fit", "compared"] == 2 and s.at["fit", "target_met"] is True
    assert s.at["check", "compared"] == 1 and s.at["check", "within_30pct"] == 0
    assert s.at["check", "median_abs_log_ratio"] == pytest.approx(math.log(2.0))
    assert s.at["check", "target_met"] is None
    shown = display_summary(s.reset_index(), "baseline").set_index("rows")
    assert shown.at["check (totals of fit rows)", "target met"] == "-"
    assert shown.at["fit (independent)", "target met"] == "yes"
