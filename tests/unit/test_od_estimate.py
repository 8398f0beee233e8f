"""od_estimate.csv: the demand every run uses after `karvan calibrate --write`, checked against
the demand.csv it was estimated from (a stale estimate does not load), with demand.csv kept as
the prior of the next estimation."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.freight.corridor import OD_KEY, builtin_corridor_folder, load_corridor

PROV = {"source": "KV_ODME", "source_date": "2026-12-02", "confidence": "estimate",
        "method": "test"}


@pytest.fixture()
def data(tmp_path):
    d = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), d)
    return d


def _estimate(folder, factors: dict[int, float]) -> pd.DataFrame:
    dem = pd.read_csv(folder / "demand.csv")
    est = dem[OD_KEY].copy()
    est["prior_tonnes_per_year"] = dem["tonnes_per_year"].astype(float)
    est["tonnes_per_year"] = est["prior_tonnes_per_year"]
    for i, f in factors.items():
        est.loc[i, "tonnes_per_year"] *= f
    est["std_error"] = np.nan
    return est.assign(**PROV)


def test_runs_use_the_estimate_and_keep_demand_csv_as_the_prior(data):
    est = _estimate(data, {0: 2.0, 5: 0.5})
    est.to_csv(data / "od_estimate.csv", index=False)
    ds = load_corridor(data)
    prior = pd.read_csv(data / "demand.csv")
    assert ds.demand_estimated
    np.testing.assert_array_equal(ds.prior_demand["tonnes_per_year"], prior["tonnes_per_year"])
    want = prior["tonnes_per_year"].to_numpy(float).copy()
    want[0] *= 2.0
    want[5] *= 0.5
    np.testing.assert_array_equal(ds.demand["tonnes_per_year"].to_numpy(float), want)
    assert list(ds.demand.columns) == list(ds.prior_demand.columns)
    (data / "od_estimate.csv").unlink()
    plain = load_corridor(data)
    assert not plain.demand_estimated
    np.testing.assert_array_equal(plain.demand["tonnes_per_year"], prior["tonnes_per_year"])


def test_the_rows_are_matched_by_key_not_by_position(data):
    est = _estimate(data, {3: 3.0}).iloc[::-1]
    est.to_csv(data / "od_estimate.csv", index=False)
    ds = load_corridor(data)
    prior = pd.read_csv(data / "demand.csv")
    assert ds.demand["tonnes_per_year"].iloc[3] == 3.0 * prior["tonnes_per_year"].iloc[3]


def test_a_stale_estimate_names_every_row_that_moved_and_the_fix(data):
    _estimate(data, {}).to_csv(data / "od_estimate.csv", index=False)
    dem = pd.read_csv(data / "demand.csv")
    dem.loc[[2, 7], "tonnes_per_year"] += 1000
    dem.to_csv(data / "demand.csv", index=False)
    with pytest.raises(InputError) as e:
        load_corridor(data)
    msg = str(e.value)
    assert "od_estimate.csv" in msg and "changed after the estimate" in msg
    assert "on 2 rows (lines 4, 9" in msg
    assert "4,780 against 5,780 t in demand.csv" in msg
    # each row named by its key, origin>destination>commodity (ids cut at 40 characters)
    first, second = (">".join(dem.loc[i, OD_KEY]) for i in (2, 7))
    assert f"OD {first[:40]}" in msg and f", {second[:40]}" in msg
    assert "karvan calibrate --write" in msg


def test_missing_and_unknown_rows_are_both_reported(data):
    est = _estimate(data, {}).iloc[1:].copy()
    est.iloc[0, 0] = "Z_NOWHERE"
    est.to_csv(data / "od_estimate.csv", index=False)
    with pytest.raises(InputError) as e:
        load_corridor(data)
    msg = str(e.value)
    assert "has no row for" in msg
    assert "Z_NOWHERE" in msg


def test_a_blank_key_in_demand_csv_is_the_schemas_error_not_a_crash(data):
    # found by the fuzz sample: a blank commodity on a demand row crashed the estimate's check
    # (it joined the key's parts for the message) instead of being reported with its line
    _estimate(data, {}).to_csv(data / "od_estimate.csv", index=False)
    dem = pd.read_csv(data / "demand.csv", dtype=str, keep_default_na=False)
    dem.loc[249, "commodity_id"] = " "
    dem.to_csv(data / "demand.csv", index=False)
    with pytest.raises(InputError) as e:
        load_corridor(data)
    msg = str(e.value)
    assert "demand.csv" in msg and "line 251" in msg and "commodity_id" in msg
    assert "od_estimate.csv has no row" not in msg  # the blank key is reported once, by the schema


def test_the_next_estimation_starts_from_demand_csv_not_from_the_estimate(data):
    from karvan.scenario.calibration import estimate_demand

    _estimate(data, {0: 2.0}).to_csv(data / "od_estimate.csv", index=False)
    ds = load_corridor(data)
    seen = []

    class Stop(Exception):
        pass

    def runner(q):
        seen.append(np.asarray(q, float).copy())
        raise Stop

    with pytest.raises(Stop):
        estimate_demand(ds, runner=runner)
    np.testing.assert_array_equal(seen[0], ds.prior_demand["tonnes_per_year"].to_numpy(float))
    assert seen[0][0] != ds.demand["tonnes_per_year"].iloc[0]


def test_a_run_says_which_demand_it_ran(data):
    from dataclasses import replace

    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario
    from karvan.scenario.summary import summary_tables

    _estimate(data, {0: 2.0}).to_csv(data / "od_estimate.csv", index=False)
    ds = load_corridor(data)
    r = run_scenario(ds, load_scenario("baseline"), lp=False, backcasts=False,
                     choice="deterministic")
    assert r.summary["demand_source"] == "od_estimate.csv"
    assert r.summary["demand_t"] == pytest.approx(ds.demand["tonnes_per_year"].sum())
    titles = [t.title for t in summary_tables([r])]
    assert any("od_estimate.csv" in t for t in titles if t.startswith("Calibration"))
    plain = replace(ds, demand=ds.prior_demand, tables={k: v for k, v in ds.tables.items()
                                                         if k != "od_estimate"})
    r2 = run_scenario(plain, load_scenario("baseline"), lp=False, backcasts=False,
                      choice="deterministic")
    assert r2.summary["demand_source"] == "demand.csv"


@pytest.mark.parametrize(("file", "column"), [
    ("demand.csv", "commodity_id"), ("demand.csv", "tonnes_per_year"),
    ("od_estimate.csv", "origin_zone_id"), ("od_estimate.csv", "prior_tonnes_per_year")])
def test_a_missing_key_column_is_the_schemas_error_not_a_crash(data, file, column):
    # found by the fuzz sample: a renamed demand.csv column raised KeyError in the staleness check
    path = data / file
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace(column, column.upper(), 1)
    path.write_text("".join(lines))
    with pytest.raises(InputError) as e:
        load_corridor(data)
    assert f"{file}: has no column {column} (required)" in str(e.value)
