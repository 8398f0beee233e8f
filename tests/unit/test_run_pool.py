"""The run pool of ``karvan calibrate --parameters``: worker processes that run parameter tables
of the built-in corridor give what the runner gives in this process, and a run that fails in a
worker is reported with the table it ran, the pool then closed."""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
import pytest

import karvan.scenario.calibration as sc
from karvan.calibrate.choice import FitRowMeasure, apply_parameters, asc, fit_observations
from karvan.errors import InputError, KarvanError
from karvan.freight.corridor import load_corridor
from karvan.freight.observed import parse_observations
from karvan.scenario.run_pool import ProcessRunPool, default_workers


@pytest.fixture(scope="module")
def data():
    return load_corridor()


def test_workers_run_what_the_runner_runs(data):
    table = sc.choice_table(data)
    sel = (table["parameter"] == "asc_usd_per_t") & (table["family"] == "instc_west_rail")
    now = float(pd.to_numeric(table.loc[sel, "value"]).item())
    tables = [table, apply_parameters(table, [asc("instc_west_rail")], [now + 50.0])]
    zc = data.zone_country()
    obs = parse_observations(fit_observations(data.observed), data.links,
                             countries=set(zc.values()), commodities=set(data.commodity_ids))
    measure = FitRowMeasure(tuple(o for o in obs if o.year in (2022, 2023, 2024)), zc)
    ran = []
    with ProcessRunPool(data, workers=2, on_run=lambda: ran.append(1)) as pool:
        got = pool.map(measure, tables)
    run = sc.choice_runner(data)
    expected = [measure(run(t)) for t in tables]
    assert len(ran) == 2
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-6)
    # the dearer INSTC rail family moves some fit row: the tables were run, not one twice
    assert np.abs(got[1] - got[0]).max() > 1e3


def test_a_failed_run_names_its_table_and_closes_the_pool(data):
    table = sc.choice_table(data)
    with ProcessRunPool(data, workers=2) as pool:
        with pytest.raises(KarvanError, match="parameter table 1 of 1: KeyError"):
            pool.map(operator.itemgetter(1999), [table])  # no run of 1999
        with pytest.raises(KarvanError, match="closed"):
            pool.map(operator.itemgetter(2024), [table])


def test_one_worker_is_no_pool(data):
    assert default_workers() in (1, 2)
    with pytest.raises(InputError, match="at least 2 workers"):
        ProcessRunPool(data, workers=1)
