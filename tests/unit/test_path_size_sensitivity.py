"""benchmarks/path_size_sensitivity.py: removing no route gives the run as it is (so what the
script reports for a threshold is the routes' doing), and a threshold removes routes."""

import numpy as np
import pytest

from tests.benchmark_scripts import load


@pytest.fixture(scope="module")
def script():
    return load("path_size_sensitivity")


def test_removing_nothing_changes_nothing_and_a_threshold_removes_routes(script):
    import karvan.scenario.choice_run as cr

    solve = cr.fixed_cost_equilibrium
    table, counts = script.ratios([None, 0.0, 1e-3])
    assert cr.fixed_cost_equilibrium is solve  # the solver is put back
    assert {"OBS_INSTC_2023", "OBS_BAKU_PORT_2024"} <= set(table.index)
    np.testing.assert_allclose(table["< 0 removed"], table["shipped"], rtol=1e-9)
    assert counts["shipped"] == []
    assert all(n == kept for n, kept in counts["< 0 removed"])
    assert all(kept < n for n, kept in counts["< 0.001 removed"])
    assert not np.allclose(table["< 0.001 removed"], table["shipped"], rtol=1e-3)
    # the routes kept in the base year are those at or above 1e-3 of their pair in the run's own
    # route table (and each pair's largest): the pruning reads each route's own flow
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario

    run = run_scenario(load_corridor(), load_scenario("baseline"), lp=False, backcasts=False)
    r = run.tables["routes"]
    pair = [r["commodity"], r["origin"], r["destination"]]
    top = r["share"] == r.groupby(pair)["share"].transform("max")
    assert counts["< 0.001 removed"][0][1] == int(((r["share"] >= 1e-3) | top).sum())
