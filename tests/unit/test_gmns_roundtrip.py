"""The project's own data round-trips: the shipped dataset validates, and a scenario exported
to GMNS, validated and assigned with ``karvan assign`` gives the run's link flows."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.io.validate import validate_input
from karvan.scenario import builtin_scenarios, load_scenario
from karvan.scenario.export import export_gmns
from karvan.scenario.run import run_scenario, write_run


def cli(*args) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, re.sub(r"\s+", " ", res.output)


def test_validate_passes_on_the_shipped_dataset():
    code, out = cli("validate", builtin_corridor_folder())
    assert code == 0, out
    with open(builtin_corridor_folder() / "demand.csv", newline="", encoding="utf-8") as f:
        rows = sum(1 for _ in csv.DictReader(f))
    assert f"valid corridor dataset: 23 tables, {rows:,} demand rows" in out
    # checked as a corridor dataset only: plain GMNS advice (length, capacity) is wrong for it
    assert "GMNS" not in out and "not ready to assign" not in out and "no length" not in out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The baseline (transit bans in force: more classes than commodities) run to a tight gap,
    written, and exported to GMNS."""
    data = load_corridor()
    tmp = tmp_path_factory.mktemp("roundtrip")
    # karvan assign reproduces the deterministic equilibrium
    run = run_scenario(data, load_scenario("baseline"), gap=1e-10, lp=False,
                       choice="deterministic")
    write_run(run, tmp / "run", data)
    return run, export_gmns(tmp / "run", tmp / "gmns"), tmp


def test_an_exported_scenario_is_valid_and_ready_to_assign(exported):
    run, folder, _ = exported
    rep = validate_input(folder)
    assert rep.strictly_valid and rep.ready, (rep.errors, rep.warnings, rep.needs)
    uses = pd.read_csv(folder / "use_definition.csv")
    assert len(uses) == len(run.ue.classes) > 6  # bans make classes of their own
    assert set(uses["use"]) == {c.name for c in run.ue.classes}
    links = pd.read_csv(folder / "link.csv")
    # the times the export used to lose: every open link has one, the same as the run's
    fft = links.set_index("link_id")["free_flow_time"]
    assert fft.notna().all() and (fft[run.network.links.index] ==
                                  run.network.links["free_flow_time"]).all()


def test_karvan_assign_on_the_export_reproduces_the_run(exported):
    run, folder, tmp = exported
    code, out = cli("assign", folder, "--gap", "1e-10", "--out", tmp / "asg", "-q")
    assert code == 0, out
    assert "converged" in out and "objective 0" not in out
    flows = pd.read_csv(tmp / "asg" / "link_flows.csv")
    got = flows.pivot_table(index="link_id", columns="direction", values="flow",
                            aggfunc="sum").fillna(0.0)
    want = run.tables["links"].set_index("link_id")[["tonnes_ab", "tonnes_ba"]]
    got = got.reindex(want.index)
    scale = float(want.to_numpy().max())
    assert np.abs(got[1].to_numpy() - want["tonnes_ab"].to_numpy()).max() <= 1e-6 * scale
    assert np.abs(got[-1].to_numpy() - want["tonnes_ba"].to_numpy()).max() <= 1e-6 * scale
    assert got.to_numpy().sum() == pytest.approx(want.to_numpy().sum(), rel=1e-9)


def test_uses_without_cost_field_are_warned_of(exported, tmp_path):
    """Dropping cost_field would assign every class at its time alone (no tariffs): a changed
    answer that the user must be told about."""
    import shutil
    import warnings

    from karvan.io.gmns import GmnsWarning
    from karvan.io.problem import read_problem

    _, folder, _ = exported
    copy = shutil.copytree(folder, tmp_path / "gmns")
    uses = pd.read_csv(copy / "use_definition.csv")
    uses.drop(columns="cost_field").to_csv(copy / "use_definition.csv", index=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        prob = read_problem(copy)
    assert prob.classes and all(not c["cost_fields"] for c in prob.classes)
    (w,) = [w for w in seen if "cost_field" in str(w.message)]
    assert w.category is GmnsWarning
    assert re.search(r"uses .+ have a value_of_time but no cost_field.*name the link column of "
                     r"their money cost", str(w.message))
    # the export as written names a cost column for every use: no such warning
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        prob = read_problem(folder)
    assert all(c["cost_fields"] for c in prob.classes)
    assert not [w for w in seen if "cost_field" in str(w.message)]


@pytest.mark.parametrize("name", builtin_scenarios())
def test_karvan_validate_passes_on_every_scenarios_export(tmp_path, corridor_data, name):
    """Each shipped scenario's network, exported to GMNS, is valid and ready to assign."""
    import warnings

    from karvan.io.gmns import write_gmns
    from karvan.scenario.gmns_export import scenario_gmns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scenario's own notes (links closed, years)
        folder = write_gmns(scenario_gmns(corridor_data, load_scenario(name)), tmp_path / name)
    code, out = cli("validate", folder)
    assert code == 0, out
    assert "valid GMNS" in out and "ready to assign" in out and "not ready" not in out, out
    rep = validate_input(folder)
    assert rep.strictly_valid and rep.ready, (rep.errors, rep.warnings, rep.needs)



@pytest.fixture(scope="module")
def corridor_data():
    return load_corridor()


def test_a_failed_gmns_write_leaves_the_old_folder_whole(tmp_path, corridor_data, monkeypatch):
    """write_gmns goes through the one atomic writer: a failure half-way (here the config
    table) leaves the folder it was to replace as it was, and no temporary folder beside it."""
    import warnings

    from karvan.io.gmns import write_gmns
    from karvan.scenario.gmns_export import scenario_gmns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = scenario_gmns(corridor_data, load_scenario("baseline"))
    target = tmp_path / "gmns"
    target.mkdir()  # an earlier write (karvan's mark in it)
    (target / "old.txt").write_text("old")
    (target / ".karvan-output").write_text("written by karvan\nold.txt\n")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError, match="disk full"):
        write_gmns(net, target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["gmns"]
    assert sorted(p.name for p in target.iterdir()) == [".karvan-output", "old.txt"]
