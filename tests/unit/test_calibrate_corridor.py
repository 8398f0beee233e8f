"""OD estimation on the corridor: its matrix agrees with the calibration table (base year and
back-casts), validation rows never enter, and the cross-validation leaves each source out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from karvan.calibrate import calibration_tables
from karvan.calibrate.corridor import (
    corridor_matrix,
    estimate_corridor_demand,
    fixed_proportion_cv,
)
from karvan.calibrate.crossval import source_family
from karvan.freight.corridor import load_corridor
from karvan.freight.observed import parse_observations
from karvan.scenario.calibration import corridor_runner


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def runs0(data):
    return corridor_runner(data)(data.demand["tonnes_per_year"].to_numpy(dtype=float))


def _fixed_runner(runs0, q0):
    """The runs of ``q`` with the routes of the prior held: each year's cells scaled."""
    growth = {y: np.where(q0 > 0, f.cells["tonnes_per_year"].to_numpy() / np.where(
        q0 > 0, q0, 1.0), 0.0) for y, f in runs0.items()}
    calls = []

    def run(q):
        calls.append(q.copy())
        return {y: replace(f, cells=f.cells.assign(tonnes_per_year=q * growth[y]))
                for y, f in runs0.items()}

    return run, calls


def test_matrix_reproduces_the_calibration_table_in_every_year(data, runs0):
    assert set(runs0) == {2022, 2023, 2024}
    q0 = data.demand["tonnes_per_year"].to_numpy(dtype=float)
    obs = parse_observations(data.observed, data.links,
                             countries=set(data.zone_country().values()),
                             commodities=set(data.commodity_ids))
    a = corridor_matrix(obs, runs0, q0, data.zone_country())
    table, _ = calibration_tables(data.observed, runs0, link_table=data.links,
                                  zone_country=data.zone_country(),
                                  commodities=data.commodity_ids)
    comp = table["compared"].to_numpy()
    assert comp.sum() >= 25
    assert a[comp] @ q0 == pytest.approx(table.loc[comp, "modelled_tonnes"].to_numpy(),
                                         rel=1e-9, abs=1e-3)
    assert not a[~comp].any()  # rows of years without a run have no proportions


def test_validation_rows_never_enter_the_estimate(data, runs0):
    q0 = data.demand["tonnes_per_year"].to_numpy(dtype=float)
    kw = dict(link_table=data.links, zone_country=data.zone_country(),
              commodities=data.commodity_ids)
    run, calls = _fixed_runner(runs0, q0)
    est = estimate_corridor_demand(data.observed, data.demand, run, **kw)
    assert est.odme.converged and est.odme.iterations == 1  # routes held: one round
    fit_ids = set(data.observed.loc[data.observed["role"] == "fit", "observed_id"])
    assert set(est.counts["observed_id"]) <= fit_ids
    assert not set(est.counts["observed_id"]) & {"OBS_BAZARGAN_2019",
                                                   "OBS_FERRY_TM_TRUCKS_2021"}
    # nor a total of fit rows (role check): its parts are fitted
    assert "check" in set(data.observed["role"])
    assert "OBS_INSTC_2023" not in set(est.counts["observed_id"])
    other = data.observed.copy()
    val = other["role"] == "validate"
    other.loc[val, "tonnes_per_year"] = other.loc[val, "tonnes_per_year"] * 5.0
    # a check row's figure must stay the sum of its parts (an input error otherwise): what it
    # counts changes instead
    other.loc[other["role"] == "check", "element_ids"] = "B_RU_GE_UPPER_LARS"
    run2, _ = _fixed_runner(runs0, q0)
    est2 = estimate_corridor_demand(other, data.demand, run2, **kw)
    assert np.array_equal(est.demand["tonnes_per_year"].to_numpy(),
                          est2.demand["tonnes_per_year"].to_numpy())
    # the estimate moves towards the counts it was fitted to, within its bounds
    c = est.counts[est.counts["modelled_prior"] > 0]  # a count no cell reaches cannot move
    before = np.abs(np.log(c["modelled_prior"] / c["observed"]))
    after = np.abs(np.log(c["modelled"] / c["observed"]))
    ok = np.isfinite(after)
    assert after[ok].sum() < before[ok].sum()
    ratio = est.demand["tonnes_per_year"] / est.demand["prior_tonnes_per_year"]
    assert ratio[q0 > 0].between(1 / 3 - 1e-9, 3 + 1e-9).all()
    moved = est.moved_cells()
    assert (np.abs(moved["factor"] - 1) > 0.5).all()
    assert len(moved) == int((np.abs(ratio[q0 > 0] - 1) > 0.5).sum())


def test_left_out_rows_and_sources(data, runs0):
    q0 = data.demand["tonnes_per_year"].to_numpy(dtype=float)
    kw = dict(link_table=data.links, zone_country=data.zone_country(),
              commodities=data.commodity_ids)
    run, _ = _fixed_runner(runs0, q0)
    est = estimate_corridor_demand(data.observed, data.demand, run,
                                   exclude=["OBS_AZ_TRANSIT_2024"], **kw)
    assert "OBS_AZ_TRANSIT_2024" not in set(est.counts["observed_id"])
    sources = dict(zip(data.observed["observed_id"], data.observed["source"].map(
        source_family), strict=True))
    cv = fixed_proportion_cv(est, sources)
    assert set(cv["observed_id"]) == set(est.counts["observed_id"])
    assert set(cv["source"]) == {sources[i] for i in est.counts["observed_id"]}
    assert (cv["predicted_tonnes"] >= 0).all()
    assert isinstance(cv, pd.DataFrame)
