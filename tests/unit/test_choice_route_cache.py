"""The route sets a process keeps (:func:`karvan.scenario.choice_run.choice_route_set`): what
their key reads, and that a run given kept route sets equals one that searched afresh."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest

import karvan.scenario.choice_run as cr
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.network.demand import Demand
from karvan.network.model import Network
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario

#: the parameters a fit varies (calibrate --parameters), none of which the route sets read
FITTED = ("asc_usd_per_t", "theta", "value_of_reliability")


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    base = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv")
    alt = base.copy()
    fitted = alt["parameter"].isin(FITTED)
    alt.loc[fitted, "value"] = alt.loc[fitted, "value"] * 1.3 + 2.0
    return base, alt


class _Spy:
    """Records choice_route_set's arguments and counts the searches behind it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.searches = 0

    def __enter__(self) -> _Spy:
        self._keep = cr.choice_route_set, cr._search_route_set
        keep_call, keep_search = self._keep

        def call(cnet, demand, classes, model, *, zone_country):
            self.calls.append((cnet, demand, classes, model, zone_country))
            return keep_call(cnet, demand, classes, model, zone_country=zone_country)

        def search(*a, **k):
            self.searches += 1
            return keep_search(*a, **k)

        cr.choice_route_set, cr._search_route_set = call, search
        return self

    def __exit__(self, *exc) -> None:
        cr.choice_route_set, cr._search_route_set = self._keep


@pytest.fixture(scope="module")
def runs():
    """Baseline (no back-casts) at the shipped parameters and at others: the other run afresh,
    then the shipped one (a search) and the other again (given the kept route sets)."""
    data = load_corridor()
    base, alt = _tables()

    def run(table):
        return run_scenario(data, load_scenario("baseline"), choice_parameters=table, lp=False,
                            backcasts=False)

    cr.clear_route_set_cache()
    with _Spy() as fresh:
        alt_fresh = run(alt)
    cr.clear_route_set_cache()
    with _Spy() as spy:
        base_run = run(base)
        alt_kept = run(alt)
    cr.clear_route_set_cache()
    return {"alt_fresh": alt_fresh, "base": base_run, "alt_kept": alt_kept, "fresh": fresh,
            "spy": spy}


def test_a_run_given_kept_route_sets_equals_one_that_searched(runs):
    assert runs["fresh"].searches == 1
    assert runs["spy"].searches == 1  # the shipped run's; the other run was given its sets
    for name in ("routes", "links", "family_shares", "borders", "countries", "calibration",
                 "skims", "capacities"):
        pd.testing.assert_frame_equal(runs["alt_kept"].tables[name],
                                      runs["alt_fresh"].tables[name], check_exact=True,
                                      obj=name)
    # and the parameters did change the answer
    assert not runs["alt_kept"].tables["links"].equals(runs["base"].tables["links"])


def test_the_key_leaves_out_what_a_fit_varies(runs):
    (cnet, demand, classes, model, zc), (_, _, _, model_alt, _) = runs["spy"].calls
    assert not model.constants(classes).equals(model_alt.constants(classes))
    assert cr.route_set_key(cnet, demand, classes, model, zc) == cr.route_set_key(
        cnet, demand, classes, model_alt, zc)


def test_the_key_reads_every_input_of_the_route_sets(runs):
    cnet, demand, classes, model, zc = runs["spy"].calls[0]
    key = cr.route_set_key(cnet, demand, classes, model, zc)
    links = cnet.links.copy()
    col = next(c for c in ("charge_usd_per_t", "free_flow_time", "length")
               if c in links and pd.api.types.is_float_dtype(links[c]))
    links.iloc[0, links.columns.get_loc(col)] += 1.0
    name = demand.names[0]
    m = np.array(demand.matrices[name], dtype=float)
    i, j = np.argwhere(m > 0)[0]
    m[i, j] *= 2
    families = model.families.copy()
    families.loc[families.index[0], "priority"] += 100
    changed = {
        "a link": (Network(cnet.nodes, links, cnet.config, cnet.name), demand, classes, model,
                   zc),
        "the demand": (cnet, Demand(demand.zone_ids, {**demand.matrices, name: m}), classes,
                       model, zc),
        "a value of time": (cnet, demand, [dataclasses.replace(
            classes[0], value_of_time=classes[0].value_of_time * 2), *classes[1:]], model, zc),
        "the families": (cnet, demand, classes, dataclasses.replace(model, families=families),
                         zc),
        "a zone's country": (cnet, demand, classes, model,
                             {**zc, next(iter(zc)): "XX"}),
    }
    for what, args in changed.items():
        assert cr.route_set_key(*args) != key, what


def test_a_callers_change_to_its_route_set_does_not_reach_the_next_run(runs):
    cnet, demand, classes, model, zc = runs["spy"].calls[0]
    cr.clear_route_set_cache()
    first, _, _ = cr.choice_route_set(cnet, demand, classes, model, zone_country=zc)
    before = first.route_fixed.copy()
    first.route_fixed[:] = 1e9  # a caller's own edit of the routes it was given
    second, _, _ = cr.choice_route_set(cnet, demand, classes, model, zone_country=zc)
    np.testing.assert_array_equal(second.route_fixed, before)
    second.route_fixed[:] = -1.0
    third, _, _ = cr.choice_route_set(cnet, demand, classes, model, zone_country=zc)
    cr.clear_route_set_cache()
    np.testing.assert_array_equal(third.route_fixed, before)


def test_the_key_tells_object_cells_by_type_and_takes_any_cell(runs):
    cnet, demand, classes, model, zc = runs["spy"].calls[0]

    def key(links):
        return cr.route_set_key(Network(cnet.nodes, links, cnet.config, cnet.name), demand,
                                classes, model, zc)

    links = cnet.links
    as_str = links.set_axis(pd.Index([str(i) for i in range(len(links))], dtype=object))
    as_int = links.set_axis(pd.Index(list(range(len(links))), dtype=object))
    assert key(as_str) != key(as_int)  # pandas alone hashed 1 and "1" alike
    noted = links.assign(note=[[1, 2]] * len(links))  # pandas cannot hash a list at all
    assert key(noted) != key(links.assign(note=[[1, 3]] * len(links)))


def test_a_kept_route_set_logs_the_warnings_of_its_search(monkeypatch, caplog):
    def search(*a, **k):
        logging.getLogger("karvan.choice.routes").warning("OD pair 7 has 9 routes")
        return "routes", 0, []

    monkeypatch.setattr(cr, "_search_route_set", search)
    monkeypatch.setattr(cr, "route_set_key", lambda *a: b"one key")
    cr.clear_route_set_cache()
    with caplog.at_level(logging.WARNING, logger="karvan"):
        for _ in range(2):
            assert cr.choice_route_set(None, None, [], None, zone_country={})[0] == "routes"
    cr.clear_route_set_cache()
    assert [r.getMessage() for r in caplog.records] == ["OD pair 7 has 9 routes"] * 2
