"""Experiments under the logit choice model: the same seed gives the same draws and outputs in
this process, on one worker and on two; the choice parameters are among the drawn inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.explore import runner as R
from karvan.explore.experiment import Experiment
from karvan.explore.sampling import make_design
from karvan.explore.study import experiment_inputs, explore
from karvan.freight.corridor import load_corridor

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return load_corridor()


def _outputs(folder) -> pd.DataFrame:
    d = Experiment(folder).draws()
    return d.drop(columns=[c for c in d if c in ("_elapsed_s", "_cpu_s")]).reset_index(drop=True)


def test_same_seed_same_results_with_one_and_two_workers_under_logit(data, tmp_path):
    kw = {"draws": 4, "seed": 7, "data": data, "choice": "logit", "batch_size": 2}
    explore(["baseline"], workers=0, out=tmp_path / "serial", **kw)
    with R.connect(workers=1) as c1:
        explore(["baseline"], client=c1, out=tmp_path / "one", **kw)
    with R.connect(workers=2) as c2:
        explore(["baseline"], client=c2, out=tmp_path / "two", **kw)
    serial, one, two = (_outputs(tmp_path / x) for x in ("serial", "one", "two"))
    assert len(one) == 5  # the central case and 4 draws
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    # in this process the dual's dense algebra runs on every BLAS thread, in a Dask worker on
    # one: the same solution to rounding, reached in as many Newton steps give or take one
    pd.testing.assert_frame_equal(one.drop(columns="_iterations"),
                                  serial.drop(columns="_iterations"), rtol=1e-7, atol=1e-6)
    # the drawn inputs are the seeded design's, the choice parameters among them
    inputs = experiment_inputs(data, choice="logit")
    want = inputs.values(make_design(inputs, "lhs", 4, seed=7).u)
    np.testing.assert_array_equal(one.filter(like="in:").to_numpy(dtype=float)[1:], want)
    assert any(c.startswith("in:choice.theta:") for c in one)
    # route-family shares and shadow prices are outputs with bands, and they move
    fam = [c for c in one if c.startswith("out:family:RU-IN:")]
    cap = [c for c in one if c.startswith("out:capacity:") and c.endswith(":shadow_price_h")]
    assert fam and cap
    np.testing.assert_allclose(one[fam].sum(axis=1), 1.0, atol=1e-9)
    assert one[fam].iloc[1:].std().max() > 1e-3
    b = Experiment(tmp_path / "one").table("bands")
    assert {f"family:RU-IN:{c.split(':')[-1]}" for c in fam} <= set(b["output"])
    assert (b["output"].str.endswith(":shadow_price_usd_per_t")).any()
    assert Experiment(tmp_path / "one").manifest()["choice"] == "logit"


def _own_scenario(name: str):
    import dataclasses

    from karvan.scenario import load_scenario
    from karvan.scenario.spec import Modification

    base = load_scenario("baseline")
    tighter = Modification(action="set", links=["T_IR_ASTARA_TERMINAL"], field="capacity_tpy",
                           value=1e6)
    return dataclasses.replace(base, name=name, modifications=(*base.modifications, tighter),
                               path=None, places=())


def test_a_scenario_built_in_python_is_explored_as_given(data, tmp_path):
    # explore took only names and files: a Scenario object became a file name (OSError)
    res = explore([_own_scenario("astara_1mt")], draws=2, data=data, workers=0,
                  out=tmp_path / "own")
    d = Experiment(tmp_path / "own").draws()
    assert set(d["scenario"]) == {"astara_1mt", "baseline"}  # and its like-year reference
    assert res.experiment.folder == tmp_path / "own"


@pytest.mark.parametrize("name", ["baseline", "reference_2028", "rasht_astara"])
def test_a_scenario_built_in_python_may_not_take_a_reserved_name(data, tmp_path, name):
    from karvan.scenario.run import run_scenario

    own = _own_scenario(name)
    for call in (lambda: run_scenario(data, own, lp=False, backcasts=False),
                 lambda: explore([own], draws=2, data=data, workers=0, out=tmp_path / name)):
        with pytest.raises(InputError, match=rf"scenario '{name}': '{name}' is the name of .* "
                                             "this scenario is not it"):
            call()
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(("choice", "gap", "said"), [
    ("logit", -1.0, "gap=-1.0 sets each draw's user equilibrium, which only "
                    "choice='deterministic' solves"),
    ("logit", 1e-4, "gap=0.0001 sets each draw's user equilibrium"),
    ("deterministic", -1.0, "gap must be a finite number >= 0, got -1.0"),
])
def test_explore_refuses_a_gap_it_would_ignore_or_cannot_use(data, tmp_path, choice, gap, said):
    # under logit a gap of -1 ran and was recorded in the manifest
    with pytest.raises(InputError, match=said.replace("(", r"\(").replace(")", r"\)")):
        explore(["baseline"], draws=2, data=data, workers=0, choice=choice, gap=gap,
                out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_each_scenario_is_explored_against_the_reference_karvan_run_gives_it(data, tmp_path,
                                                                            caplog):
    # explore had a reference of its own: a base-year project against "reference_2024" (the
    # baseline under another name), a 2023 one against the 2024 network at 2023 demand rather
    # than the back-cast, a 2021 one against a "reference_2021" that karvan run cannot run
    import dataclasses

    from karvan.freight.corridor import CorridorWarning
    from karvan.scenario.reference import backcast_scenario

    own = _own_scenario("astara_1mt_2023")
    own = dataclasses.replace(own, year=2023)
    old = dataclasses.replace(own, name="astara_1mt_2021", year=2021)
    with (caplog.at_level("WARNING", logger="karvan.explore.study"),
          pytest.warns(CorridorWarning, match="is before the base year 2024")):
        explore([own, old], draws=2, data=data, workers=0, out=tmp_path / "years")
    e = Experiment(tmp_path / "years")
    assert set(e.draws()["scenario"]) == {"astara_1mt_2023", "astara_1mt_2021",
                                          "backcast_2023"}
    m = e.manifest()
    assert m["scenario_config"]["backcast_2023"]["scenario"] == \
        backcast_scenario(2023).to_dict()
    assert m["references"] == {"astara_1mt_2023": "backcast_2023", "astara_1mt_2021": None,
                               "backcast_2023": None}
    assert "scenario astara_1mt_2021 (2021): no reference of 2021 can be run" in caplog.text


@pytest.mark.parametrize("choice", ["logit", "deterministic"])
def test_a_link_a_scenario_changes_has_bands_and_an_effect(data, tmp_path, choice):
    """A scenario that doubles the sailings of the Alat–Aktau ferries (links without a
    capacity, of no route option) had no band of their tonnes and no effect on them: only
    capacity-limited and route-option links were outputs."""
    import dataclasses

    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario
    from karvan.scenario.spec import Modification

    ferries = ["F_AZ_KZ_ALAT_AKTAU", "F_AZ_KZ_ALAT_AKTAU_RAIL"]
    base = load_scenario("baseline")
    more = Modification(action="scale", links=ferries, field="frequency_per_week", factor=2.0)
    own = dataclasses.replace(base, name="aktau_sailings", modifications=(
        *base.modifications, more), path=None, places=())
    res = explore([own], draws=2, data=data, workers=0, choice=choice, out=tmp_path / "x")
    b = res.bands.set_index(["scenario", "output"])
    central = {}
    for s in (own, base):
        links = run_scenario(data, s, lp=False, choice=choice,
                             backcasts=False).tables["links"].set_index("link_id")
        central[s.name] = links["tonnes_tot"]
        for f in ferries:
            assert b.loc[(s.name, f"link:{f}:tonnes"), "central"] == pytest.approx(
                links.at[f, "tonnes_tot"], rel=1e-6)
    for f in ferries:
        e = b.loc[("aktau_sailings", f"effect:link:{f}:tonnes")]
        assert e["n"] == 2
        # against the reference's tonnes on the link, not against none
        assert e["central"] == pytest.approx(
            central["aktau_sailings"][f] - central["baseline"][f], rel=1e-6, abs=1.0)
        if central["baseline"][f] > 0:
            assert abs(e["central"]) < central["aktau_sailings"][f]
    if choice == "logit":  # the deterministic baseline sends nothing through the Aktau ferries
        assert all(central["baseline"][f] > 0 for f in ferries)


@pytest.mark.parametrize(("choice", "workers"), [("deterministic", 2), ("logit", 0)])
def test_the_links_a_scenario_diverts_freight_onto_have_bands_and_an_effect(data, tmp_path,
                                                                            choice, workers):
    """Closing the Astara crossing sends freight by other roads, railways and sea lanes, links
    without a capacity, of no route option and not named by the scenario: they had no band of
    their tonnes and no effect, so where the freight goes, and how sure that is, was not
    said."""
    import dataclasses

    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario
    from karvan.scenario.spec import Modification
    from karvan.schema.text import id_list, read_frame

    base = load_scenario("baseline")
    close = Modification(action="close", borders=["AZ-IR_ASTARA"])
    own = dataclasses.replace(base, name="astara_closed", modifications=(
        *base.modifications, close), path=None, places=())
    res = explore([own], draws=4, data=data, workers=workers, choice=choice, batch_size=2,
                  out=tmp_path / "x")
    central = {s.name: run_scenario(data, s, lp=False, choice=choice, backcasts=False)
               .tables["links"].set_index("link_id")["tonnes_tot"] for s in (own, base)}
    change = central["astara_closed"].sub(central["baseline"], fill_value=0.0)
    # the links that had no output: no capacity, of no route option, not named by the scenario
    opts = read_frame(data.folder / "route_option.csv", blank_as_nan=True)
    option_links = {x for c in ("via_link_ids", "also_via_link_ids") for v in opts[c]
                    for x in id_list(v)}
    links = data.links
    named = set(links.index[links["border_id"] == "AZ-IR_ASTARA"])
    plain = [x for x in change.index if pd.isna(links.at[x, "capacity_tpy"])
             and x not in option_links | named]
    onto = change[plain].idxmax()  # the one the freight is diverted onto most
    assert change[onto] > 100_000
    b = res.bands.set_index(["scenario", "output"])

    def has_bands(lid: str) -> None:
        for s in ("astara_closed", "baseline"):
            if lid not in central[s].index:  # closed there: no level, 0 t in the effect
                continue
            level = b.loc[(s, f"link:{lid}:tonnes")]
            assert level["n"] == 4
            assert level["central"] == pytest.approx(central[s][lid], rel=1e-6, abs=1.0)
        e = b.loc[("astara_closed", f"effect:link:{lid}:tonnes")]
        assert e["n"] == 4 and e["reference"] == "baseline"
        # the effect's central value is the difference of the two central runs
        assert e["central"] == pytest.approx(change[lid], rel=1e-6, abs=1.0)
        lv = b["central"].reindex([(s, f"link:{lid}:tonnes") for s in ("astara_closed",
                                                                        "baseline")]).fillna(0)
        assert e["central"] == pytest.approx(lv.iloc[0] - lv.iloc[1], rel=1e-9, abs=1e-6)

    has_bands(onto)
    # chosen by the rule from the two central runs, the largest changes first
    from karvan.explore.corridor import DIVERTED_LEAST_SHARE, DIVERTED_LEAST_T, DIVERTED_TOP

    record = res.experiment.manifest()["diverted_links"]
    chosen = record["scenarios"]["astara_closed"]["links"]
    assert record["scenarios"]["astara_closed"]["reference"] == "baseline"
    assert record["links"] == [x["link_id"] for x in chosen]
    assert onto in record["links"]
    assert len(chosen) <= DIVERTED_TOP
    size = [abs(x["change_t"]) for x in chosen]
    assert size == sorted(size, reverse=True)
    for x in chosen:
        assert x["change_t"] == pytest.approx(change[x["link_id"]], rel=1e-6, abs=1.0)
        assert abs(x["change_t"]) >= max(DIVERTED_LEAST_T, DIVERTED_LEAST_SHARE * max(
            x["tonnes"], x["reference_tonnes"]))
        has_bands(x["link_id"])
