"""Arguments of the wrong kind given to the Python API are named, with what to give instead:
they failed deep inside with AttributeError ('names', 'path', 'base_year') or a comparison of
str and float."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import karvan
from karvan import Demand, Network
from karvan.choice import stochastic_equilibrium
from karvan.errors import InputError


def toy() -> tuple[Network, Demand]:
    nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
                          "free_flow_time": [1.0, 2.0], "capacity": [1.0, 1.0],
                          "alpha": [1.0, 1.0], "beta": [1.0, 1.0]},
                         index=pd.Index(["a", "b"], name="link_id"))
    return Network(nodes, links), Demand((1, 2), {"demand": np.array([[0.0, 3.0], [0.0, 0.0]])})


@pytest.mark.parametrize(("args", "kw", "message"), [
    ("array", {}, "demand must be a karvan Demand .* got ndarray"),
    ("path", {}, "network must be a karvan Network .* got str"),
    ("ok", {"gap": "1e-4"}, "gap must be a number, got str '1e-4'"),
    ("ok", {"max_iter": "10"}, "max_iter must be a number, got str"),
    ("ok", {"toll_factor": True}, "toll_factor must be a number, got bool"),
])
def test_assign_names_arguments_of_the_wrong_kind(args, kw, message):
    net, dem = toy()
    given = {"array": (net, dem.matrices["demand"]), "path": ("x_net.tntp", dem),
             "ok": (net, dem)}[args]
    with pytest.raises(TypeError, match=message):
        karvan.assign(*given, **kw)
    if args != "ok":
        with pytest.raises(TypeError, match=message):
            stochastic_equilibrium(*given, theta=1.0)


def test_demand_takes_lists_and_integers_as_numbers():
    net, _ = toy()
    d = Demand((1, 2), {"demand": [[0, 3], [0, 0]]})
    assert d.matrices["demand"].dtype == np.float64
    r = karvan.assign(net, d, gap=1e-10)
    assert r.flow.sum() == pytest.approx(3.0)
    with pytest.raises(InputError, match="'demand' is not a square array of numbers"):
        Demand((1, 2), {"demand": [["a", 3], [0, 0]]})
    with pytest.raises(TypeError, match="matrices must be a mapping"):
        Demand((1, 2), [[0, 3], [0, 0]])


def test_a_scenario_run_takes_names_and_refuses_other_kinds(tmp_path):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.run import compare_runs, run_scenario, save_run

    data = load_corridor()
    with pytest.raises(TypeError, match="data must be a CorridorData .* got str"):
        run_scenario("corridor", "rasht_astara")
    with pytest.raises(TypeError, match="scenario must be a Scenario .* got int"):
        run_scenario(data, 3)
    # a name, as karvan run takes it (a reference's too)
    run = run_scenario(data, "reference_2028", lp=False)
    assert (run.scenario.name, run.scenario.year) == ("reference_2028", 2028)
    with pytest.raises(TypeError, match="save a ScenarioRun first"):
        compare_runs(run, run)
    rid = save_run(run, tmp_path, data)
    # the id resolves, and a run is not compared with itself (tables of zeros)
    with pytest.raises(InputError, match="are one run"):
        compare_runs(rid, rid, store=tmp_path)


def test_blanks_among_a_networks_values_are_said_before_the_defaults_stand_in():
    """A NaN alpha or length in a Network built in memory became 0.15 or 0 in silence (link 4's
    cost fell from 12.3 to 7.3); a column left out takes the default without a word."""
    from karvan.network.model import NetworkWarning

    net, dem = toy()
    links = net.links.assign(alpha=[1.0, np.nan], length=[np.nan, 2.0])
    with pytest.warns(NetworkWarning) as w:
        karvan.assign(Network(net.nodes, links), dem, gap=1e-10)
    said = {str(x.message) for x in w}
    assert any("1 links have a blank alpha: 0.15 stands in (link_id b)" in m for m in said)
    assert any("1 links have a blank length: 0.0 stands in (link_id a)" in m for m in said)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkWarning)
        karvan.assign(Network(net.nodes, net.links.drop(columns=["alpha"])), dem, gap=1e-10)


def test_api_messages_name_what_to_call(tmp_path, tntp_dir):
    import shutil

    from karvan.freight.corridor import builtin_corridor_folder, load_corridor
    from karvan.io import read_tntp
    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario

    # a reference is built, not a file: it said "no built-in scenario (did you mean
    # reference_2030?)"
    with pytest.raises(InputError, match=r"'reference_2028' is a reference, which karvan builds: "
                                         r"karvan.scenario.reference.load_scenario_or_reference"):
        load_scenario("reference_2028")
    # a folder of TNTP files names its network
    with pytest.raises(InputError, match=r"its network is .*SiouxFalls_net.tntp"):
        read_tntp(tntp_dir / "SiouxFalls")
    # a parameter file is read; its missing columns are named once, with those it needs
    data = load_corridor()
    shutil.copy(builtin_corridor_folder() / "choice_parameter.csv", tmp_path / "p.csv")
    run = run_scenario(data, "baseline", lp=False, backcasts=False,
                       choice_parameters=tmp_path / "p.csv")
    assert run.summary["choice"] == "logit"
    table = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    with pytest.raises(InputError) as e:
        run_scenario(data, "baseline", lp=False, backcasts=False,
                     choice_parameters=table.drop(columns=["family"]))
    assert str(e.value).count("choice_parameter.csv") == 1 and "needs parameter" in str(e.value)
    with pytest.raises(TypeError, match="choice parameters must be a table"):
        run_scenario(data, "baseline", lp=False, backcasts=False, choice_parameters=3)


def test_links_changed_in_memory_are_checked_as_link_csv_is():
    """A blank speed on a rail line put into data.links ran it at a time of 0 (its load rose
    from 3.92 to 4.71 Mt); link.csv with the same blank is refused."""
    import dataclasses

    from karvan.freight.corridor import load_corridor
    from karvan.scenario import load_scenario
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    links = data.links.copy()
    links.loc["R_RU_SPB_MOSCOW", "speed_kph"] = np.nan
    with pytest.raises(InputError, match=r"changed since load_corridor .* speed_kph is blank .* "
                                         r"R_RU_SPB_MOSCOW"):
        apply_scenario(dataclasses.replace(data, links=links), load_scenario("baseline"))
    links.loc["R_RU_SPB_MOSCOW", "speed_kph"] = 60.0  # a valid change runs
    got = apply_scenario(dataclasses.replace(data, links=links), load_scenario("baseline"))
    assert got.links.at["R_RU_SPB_MOSCOW", "speed_kph"] == 60.0
    # a link added with pd.concat, whose index then has no name: still the link ids
    row = data.links.loc[["R_AZ_ALAT_OSMANLI"]].copy()
    row.index = ["R_NEW"]
    more = pd.concat([data.links, row])
    assert more.index.name is None
    got = apply_scenario(dataclasses.replace(data, links=more), load_scenario("baseline"))
    assert "R_NEW" in got.links.index



def test_the_documented_import_of_the_capacity_lp_works_and_assign_pickles():
    """docs/model.md named ``karvan.assign.capacity.solve_capacity_lp``, an AttributeError:
    ``karvan.assign`` is the function (it pickles, for process pools and Dask, and type checkers
    and help() see its parameters), and its solvers are imported by their module's name."""
    import pickle
    import re
    from pathlib import Path

    from karvan.assign.capacity import solve_capacity_lp

    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    assert "from karvan.assign.capacity import solve_capacity_lp" in text
    assert not re.search(r"`karvan\.assign\.capacity\.solve_capacity_lp`", text)
    assert callable(solve_capacity_lp)
    assert pickle.loads(pickle.dumps(karvan.assign)) is karvan.assign
    net, dem = toy()
    assert karvan.assign(net, dem, method="aon").flow.tolist() == [3.0, 0.0]


@pytest.mark.parametrize("max_time_s", [-1, 0, float("nan")])
def test_a_time_limit_that_is_not_positive_is_refused(max_time_s):
    net, dem = toy()
    with pytest.raises(InputError, match="max_time_s must be > 0 seconds"):
        karvan.assign(net, dem, max_time_s=max_time_s)
    with pytest.raises(InputError, match="max_time_s must be > 0 seconds"):
        stochastic_equilibrium(net, dem, theta=1.0, max_time_s=max_time_s)
