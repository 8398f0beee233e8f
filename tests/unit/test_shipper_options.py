"""The shipper comparison reads route_option.csv's optional name: without it, an option is
shown by its id."""

from __future__ import annotations

from dataclasses import replace

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario


def test_an_option_without_a_name_is_shown_by_its_id():
    data = load_corridor()
    opts = data.tables["route_option"]
    assert "name" in opts
    tables = dict(data.tables, route_option=opts.drop(columns=["name"]))
    r = run_scenario(replace(data, tables=tables), load_scenario("baseline"), lp=False,
                     backcasts=False, choice="deterministic")
    sh = r.tables["shipper"]
    assert len(sh)
    assert (sh["option"] == sh["option_id"]).all()
