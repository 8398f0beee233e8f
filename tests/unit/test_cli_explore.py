"""``karvan explore``: listing inputs, refusing bad input with exit code 2, a small run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan import Demand, assign
from karvan.cli import app
from karvan.errors import InputError
from karvan.explore.corridor import build_corridor_model
from karvan.explore.inputs import corridor_inputs
from karvan.freight.corridor import load_corridor
from karvan.paths import route_flows
from karvan.paths.bush_sets import bush_route_sets, route_set_joint_stats
from karvan.scenario import load_scenario


def run(*args) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    return res.exit_code, re.sub(r"\s+", " ", res.output)


def test_list_inputs():
    code, text = run("explore", "--list-inputs", "--input", "growth.*")
    assert code == 0, text
    assert "growth.growth:U_GROWTH_RU_IR" in text and "uniform(0.0946, 0.132)" in text
    assert "demand.tonnes" not in text


@pytest.mark.parametrize("args, match", [
    (["baseline"], "give --draws N"),
    (["baseline", "--draws", "1"], "integer >= 2"),
    (["baseline", "--draws", "100", "--sampler", "sobol"], "power of 2"),
    (["baseline", "--draws", "4", "--input", "link.colour*"], "unknown input names"),
    (["baseline", "--draws", "4", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"],
     "not both"),
    # accepted and ignored: the logit draws solve no user equilibrium
    (["baseline", "--draws", "4", "--gap", "1e-3"], "only --choice deterministic solves"),
    (["baseline", "--draws", "4", "--gap", "-1", "--choice", "deterministic"], "finite number"),
])
def test_bad_input_exits_2_before_any_work(args, match, tmp_path):
    code, text = run("explore", *args, "--out", tmp_path / "e")
    assert code == 2 and match in text, text
    assert not (tmp_path / "e").exists()
    # the error alone: no empty progress bar ("explore ━━━ 0/? 0:00:00") printed before it
    assert "0/?" not in text and "━" not in text and text.startswith("error:"), text


def test_every_bad_scenario_file_is_reported_before_any_work(tmp_path):
    """The problems of every scenario file, each named with its file (they were listed without
    it), and the ids the dataset lacks with them (they came only when the models were built)."""
    a = tmp_path / "a.toml"
    a.write_text('name = "a"\nyear = 2030\n[[modification]]\naction = "paint"\n'
                 'links = ["R_AZ_ALAT_OSMANLI"]\n')
    b = tmp_path / "b.toml"
    b.write_text('name = "b"\nyear = 2030\n[[modification]]\naction = "close"\n'
                 'links = ["NO_SUCH_LINK"]\n')
    code, text = run("explore", a, b, "--draws", "4", "--choice", "deterministic", "--out",
                     tmp_path / "e")
    assert code == 2, text
    assert f"{a}: line 4, modification[0].action: Input should be 'open'" in text
    assert f"{b}: line 3, modification[0] (close): unknown link ids NO_SUCH_LINK" in text
    assert not (tmp_path / "e").exists()


def test_a_small_experiment_in_process(tmp_path):
    code, text = run("explore", "baseline", "--draws", "2", "--choice", "deterministic",
                     "--workers", "0", "--out", tmp_path / "e", "--quiet")
    assert code == 0, text
    assert "Statements" in text and "experiment in" in text
    # two draws for hundreds of inputs: the deciding inputs are chance, and said to be
    n_inputs = len(pd.read_csv(tmp_path / "e" / "inputs.csv"))
    assert n_inputs > 400
    assert (f"note: 2 draws for {n_inputs} uncertain inputs: the deciding inputs are rank "
            "correlations") in text
    page = (tmp_path / "e" / "report.html").read_text()
    assert "Statements" in page and "<svg" in page and "border:AZ-IR_ASTARA:tonnes" in page
    b = pd.read_csv(tmp_path / "e" / "bands.csv")
    assert {"p5", "p50", "p95"} <= set(b.columns) and (b["n"] == 2).any()
    # the same command again resumes: nothing left to compute
    code, text = run("explore", "baseline", "--draws", "2", "--choice", "deterministic",
                     "--workers", "0", "--out", tmp_path / "e", "--quiet")
    assert code == 0 and "0 draws computed, 3 resumed (each scenario's 2 draws" in text, text


def test_route_set_statistics_of_every_bush_and_their_checks():
    # the route-set statistics of each bush against sums over its listed routes, on a demand
    # whose zones run in the reverse of the graph's order (rows in the demand's order), at four
    # times the tonnes so that some OD pairs split over several routes
    data = load_corridor()
    m = build_corridor_model(data, load_scenario("baseline"), corridor_inputs(data))
    d = m.draw_arrays(None)
    rev = np.arange(len(d.demand.zone_ids))[::-1]
    demand = Demand(tuple(np.asarray(d.demand.zone_ids, dtype=object)[rev]),
                    {n: 4.0 * mat[np.ix_(rev, rev)] for n, mat in d.demand.matrices.items()})
    res = assign(d.graph, demand, classes=d.classes, gap=1e-8, max_iter=m.max_iter)
    g = res.graph
    bs = res.bushes
    assert bs.zone_ids == demand.zone_ids != tuple(g.zone_ids)
    member = m.outputs["member"]
    w = np.vstack([g.length, np.arange(g.n_arcs, dtype=float)])
    routes = route_flows(res)
    assert (routes["share"] < 0.99).sum() >= 50
    by = {key: grp for key, grp in routes.groupby(["class", "origin"])}
    zone_row = {z: j for j, z in enumerate(bs.zone_ids)}
    # pairs of sets for the joint statistics: each set with the next one's arcs as condition
    cond = np.ascontiguousarray(np.roll(member, -1, axis=0))
    rindptr, rarcs = g.reverse_star()
    some_on = some_off = False
    for b in range(len(bs.bush_zone)):
        touch, wsum = bush_route_sets(res, b, member, w)
        assert touch.shape == (len(bs.zone_ids), member.shape[0])
        c_touch, c_wsum = route_set_joint_stats(bs, g, b, np.ascontiguousarray(member), cond,
                                                np.ascontiguousarray(w), rindptr, rarcs)
        want_touch = np.zeros_like(touch)
        want_wsum = np.zeros_like(wsum)
        want_c_touch = np.zeros_like(touch)
        want_c_wsum = np.zeros_like(wsum)
        grp = by[(res.classes[bs.bush_class[b]].name, bs.zone_ids[bs.bush_zone[b]])]
        for r in grp.itertuples():
            a = np.asarray(r.arcs)
            j = zone_row[r.destination]
            want_touch[j] += r.share * member[:, a].any(axis=1)
            want_wsum[j] += r.share * (member[:, a] @ w[:, a].T)
            on = cond[:, a].any(axis=1)
            want_c_touch[j] += r.share * on
            want_c_wsum[j] += r.share * on[:, None] * (member[:, a] @ w[:, a].T)
            used = member[:, a].any(axis=1)
            some_on |= bool((used & on).any())
            some_off |= bool((used & ~on).any())
        has = bs.demand[b] > 0
        np.testing.assert_allclose(touch[has], want_touch[has], rtol=0, atol=1e-9)
        np.testing.assert_allclose(wsum[has], want_wsum[has], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(c_touch[has], want_c_touch[has], rtol=0, atol=1e-9)
        np.testing.assert_allclose(c_wsum[has], want_c_wsum[has], rtol=1e-9, atol=1e-6)
    # the condition both held and failed on routes through a set
    assert some_on and some_off
    with pytest.raises(InputError, match="columns"):
        bush_route_sets(res, 0, member[:, :-1], w)


def test_unknown_choice_model_exits_2_before_any_work(tmp_path):
    code, text = run("explore", "baseline", "--draws", "4", "--choice", "probit", "--out",
                     tmp_path / "e")
    assert code == 2 and "unknown choice model 'probit'; use logit or deterministic" in text
    assert not (tmp_path / "e").exists()


def test_list_inputs_under_each_choice_model():
    from karvan.explore.study import default_choice

    code, text = run("explore", "--list-inputs", "--choice", "deterministic")
    assert code == 0 and "under the deterministic choice model" in text
    assert "choice." not in text
    code, text = run("explore", "--list-inputs", "--choice", "logit")
    if default_choice() != "logit":  # the corridor run has no logit model yet
        assert code == 2 and "no logit choice model yet" in text
        return
    assert code == 0 and "under the logit choice model" in text, text
    # the dispersion is drawn: by its confidence class, or normal with its standard error once
    # calibrated (the shipped table's)
    assert "choice.theta:" in text
    assert ("normal(mean=1" in text) == _calibrated_theta()
    code, text = run("explore", "--list-inputs")
    assert "under the logit choice model" in text  # the default is karvan run's


def _calibrated_theta() -> bool:
    from karvan.freight.corridor import builtin_corridor_folder

    t = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                    keep_default_na=False)
    th = t[t["parameter"] == "theta"]
    return "std_error" in t and (th["std_error"] != "").all()


def _choice_table(tmp_path, change) -> str:
    from karvan.freight.corridor import builtin_corridor_folder

    t = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv", dtype=str,
                    keep_default_na=False)
    t["std_error"] = ""
    change(t)
    p = tmp_path / "choice_parameter.csv"
    t.to_csv(p, index=False)
    return str(p)


def test_bad_choice_parameter_tables_exit_2_before_any_work(tmp_path):
    from karvan.explore.study import default_choice

    if default_choice() != "logit":
        pytest.skip("the corridor run has no logit model")

    def negative(t):
        t.loc[t["parameter"] == "theta", "std_error"] = "-0.01"

    def unknown_family(t):
        t.loc[t["parameter"] == "asc_usd_per_t", "family"] = "sea_via_mars"

    for change, match in ((negative, "std_error must be >= 0 (lines"),
                          (unknown_family, "unknown families sea_via_mars")):
        table = _choice_table(tmp_path, change)
        for args in (["--list-inputs"], ["baseline", "--draws", "4", "--out", tmp_path / "e"]):
            code, text = run("explore", *args, "--choice-parameters", table)
            assert code == 2 and match in text, text
    assert not (tmp_path / "e").exists()
    code, text = run("explore", "baseline", "--draws", "4", "--choice", "deterministic",
                     "--choice-parameters", table, "--out", tmp_path / "e")
    assert code == 2 and "use it with --choice logit" in text
    # a calibrated table's standard errors set its parameters' distributions (standard errors
    # written by hand: each theta row its own, no fitted parameter named)
    def fitted(t):
        t.loc[t["parameter"] == "theta", "std_error"] = "0.004"
        t["fitted_parameter"] = ""

    table = _choice_table(tmp_path, fitted)
    code, text = run("explore", "--list-inputs", "--choice-parameters", table,
                     "--input", "choice.theta*")
    assert code == 0 and "choice.theta:se[" in text and "normal(mean=" in text, text
    assert "draw jointly" not in text  # no correlation table beside this one
    code, text = run("explore", "--list-inputs", "--choice", "logit")
    assert code == 0 and "11 of these factors draw jointly" in text, text
    # the same standard errors on rows that one fitted parameter set: they contradict it
    def contradicting(t):
        t.loc[t["parameter"] == "theta", "std_error"] = "0.004"

    table = _choice_table(tmp_path, contradicting)
    code, text = run("explore", "--list-inputs", "--choice-parameters", table)
    assert code == 2 and "rows of fitted parameter theta|factor" in text, text


@pytest.mark.slow
def test_a_small_experiment_under_logit_in_process(tmp_path):
    from karvan.explore.study import default_choice

    if default_choice() != "logit":
        pytest.skip("the corridor run has no logit model")
    code, text = run("explore", "baseline", "--draws", "3", "--workers", "0", "--out",
                     tmp_path / "e", "--quiet")
    assert code == 0, text
    assert "family:RU-IN:" in text and "Shadow prices of hard capacities" in text, text
    page = (tmp_path / "e" / "report.html").read_text()
    assert "Route-family shares of major country pairs" in page
    assert "shadow price h and USD/t" in page and "capacity:T_IR_ASTARA_TERMINAL:both" in page
    b = pd.read_csv(tmp_path / "e" / "bands.csv")
    fam = b[b["output"].str.startswith("family:RU-IN:")]
    assert len(fam) > 3 and (fam["n"] == 3).all()
    assert fam["central"].sum() == pytest.approx(1.0, abs=1e-9)


class _SumOfFactors:
    """A toy corridor: the tonnes across Astara are the sum of many demand rows, each drawn by a
    lognormal factor of median 1 (as the dataset's demand); ``extra`` tonnes in a project."""

    def __init__(self, extra: float = 0.0) -> None:
        self.extra = extra

    def evaluate(self, values):
        v = np.ones(N_TOY_ROWS) if values is None else np.asarray(values, dtype=float)
        return {"border:AZ-IR_ASTARA:tonnes": 1e5 * float(v.sum()) + self.extra,
                "share:RU-IN:instc_west": 0.3 + self.extra / 1e8,
                "family:RU-IN:instc_west_rail": 0.2 + self.extra / 1e8,
                "shipper:RU_MOW-IN_BOM:containers:suez:cost_usd_per_t": 100.0,
                "shipper:RU_MOW-IN_BOM:containers:instc_west:cost_usd_per_t": 90.0 * v[0],
                "_converged": 1.0}


N_TOY_ROWS = 200


def _toy_explore(tmp_path):
    """A stand-in for karvan.explore.study.explore: a project and its like-year reference on the
    toy corridor, the draws asked in this process, analysed as a corridor experiment."""
    from karvan.explore.analysis import analyse_experiment
    from karvan.explore.distributions import Distribution
    from karvan.explore.inputs import InputSet, UncertainInput
    from karvan.explore.runner import ModelSpec, run_experiment

    ins = tuple(UncertainInput(f"demand.tonnes:assumption[src_{i:03d}]", "demand", "tonnes",
                               Distribution("lognormal", sigma=0.5), (f"r{i}",),
                               f"demand.tonnes:assumption[src_{i:03d}]")
                for i in range(N_TOY_ROWS))
    inputs = InputSet(ins, tuple(x.factor for x in ins), "toy")

    def explore(scenarios=None, **kw):
        specs = [ModelSpec("project_2028", lambda: _SumOfFactors(2e6), "reference_2028"),
                 ModelSpec("reference_2028", _SumOfFactors, None)]
        return run_experiment(specs, inputs, draws=kw["draws"], seed=kw["seed"], workers=0,
                              folder=tmp_path / "e", progress=kw["progress"],
                              analyse=analyse_experiment)

    return explore


def _console(*args) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and res.exception is None, (res.output, res.exc_info)
    return res.output


def test_statements_are_printed_with_their_scenario(tmp_path, monkeypatch):
    """Each statement is evaluated in the project and in its like-year reference; the console
    printed both rows without the scenario, the same text twice."""
    monkeypatch.setattr("karvan.explore.study.explore", _toy_explore(tmp_path))
    text = _console("explore", "project_2028", "--draws", "8", "--choice", "deterministic",
                    "--quiet")
    rows = [ln for ln in text.splitlines() if "cheaper than Suez" in ln]
    assert len(rows) == 2, text
    assert {"project_2028", "reference_2028"} == {s for ln in rows for s in ln.split()
                                                   if s in ("project_2028", "reference_2028")}
    assert all(("project_2028" in ln) != ("reference_2028" in ln) for ln in rows), rows
    page = (tmp_path / "e" / "report.html").read_text()
    assert "<th>scenario</th><th>statement</th>" in page
    assert "<tr><td>reference_2028</td><td>instc_west is cheaper than Suez" in page


def test_the_progress_bar_starts_with_the_experiment(tmp_path, monkeypatch):
    monkeypatch.setattr("karvan.explore.study.explore", _toy_explore(tmp_path))
    text = _console("explore", "project_2028", "--draws", "8", "--choice", "deterministic")
    # the central case and 8 draws of the project and of its reference
    assert "explore" in text and "18/18" in text and "0/?" not in text, text


def test_bands_whose_central_case_lies_outside_are_marked(tmp_path, monkeypatch):
    """The tonnes across Astara sum 200 demand rows, each a lognormal factor of median 1 at
    sigma 0.5: their band sits about 13 % above the central case (every factor at 1), which
    lies below P5. The console, bands.csv and the page said nothing of it."""
    monkeypatch.setattr("karvan.explore.study.explore", _toy_explore(tmp_path))
    text = _console("explore", "project_2028", "--draws", "8", "--choice", "deterministic",
                    "--quiet")
    b = pd.read_csv(tmp_path / "e" / "bands.csv").set_index(["scenario", "output"])
    astara = b.loc[("reference_2028", "border:AZ-IR_ASTARA:tonnes")]
    assert astara["central"] < astara["p5"] and not astara["central_in_band"]
    # an effect the same in every draw, a share that does not vary: in their bands
    assert b.loc[("project_2028", "effect:border:AZ-IR_ASTARA:tonnes"), "central_in_band"]
    assert b.loc[("project_2028", "share:RU-IN:instc_west"), "central_in_band"]
    n_out = int((b["central_in_band"] == False).sum())  # noqa: E712
    assert n_out == 2  # the Astara tonnes of the project and of the reference
    row = next(ln for ln in text.splitlines()
               if "reference_2028" in ln and "border:AZ-IR_ASTARA:tonnes" in ln)
    assert row.split("│")[-3].strip() == "no", text
    # and where the central case lies among the draws: below all of them, at P0
    below = astara["central_percentile"]
    assert row.split("│")[-2].strip() == f"P{below:.0f}" and below < 5, text
    row = next(ln for ln in text.splitlines()
               if "project_2028" in ln and "effect:border:AZ-IR_ASTARA" in ln)
    assert row.split("│")[-3].strip() == "yes", text
    flat = re.sub(r"\s+", " ", text)
    assert (f"note: The central case lies outside P5-P95 in {n_out} of {len(b)} bands" in flat
            and "docs/model.md" in flat), text
    page = (tmp_path / "e" / "report.html").read_text()
    assert f"lies outside P5-P95 in {n_out} of {len(b)} bands" in page
    assert page.count("<b class='out'>no</b>") == n_out  # each band, marked


def test_names_are_printed_as_written(tmp_path, monkeypatch):
    """Names went through rich markup: "effect:family:RU-IN:..." printed an emoji for
    ":family:", and an input's "[src_000]" was taken for a style tag and dropped."""
    monkeypatch.setattr("karvan.explore.study.explore", _toy_explore(tmp_path))
    text = _console("explore", "project_2028", "--draws", "16", "--choice", "deterministic",
                    "--quiet")
    assert "effect:family:RU-IN:instc_west_rail" in text and "\U0001f46a" not in text, text
    st = pd.read_csv(tmp_path / "e" / "statements.csv")
    deciding = st["deciding_inputs"].dropna()
    assert len(deciding) and all(x in text for x in deciding), (list(deciding), text)


def test_an_out_that_is_a_file_is_refused_as_such(tmp_path):
    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    code, text = run("explore", "baseline", "--draws", "2", "--choice", "deterministic",
                     "--workers", "0", "--out", afile)
    assert code == 2 and f"--out {afile} is a file" in text, text
    assert afile.read_text() == "mine"
    # a negative seed was an internal error (ValueError from the design), exit 3
    code, text = run("explore", "baseline", "--draws", "2", "--seed", "-1", "--out",
                     tmp_path / "e")
    assert code == 2 and "--seed" in text and "internal error" not in text, text


def test_a_capacity_that_binds_in_few_draws_is_listed_with_its_shadow_price():
    # the Astara terminal bound in 5 of 200 draws: P95 0, and the table of capacities "that
    # bind in some draws" left it out
    import pandas as pd

    from karvan.cli.explore import binding_shadow_prices

    b = pd.DataFrame({"output": ["capacity:T:both:shadow_price_usd_per_t",
                                 "capacity:U:both:shadow_price_usd_per_t",
                                 "capacity:T:both:utilization", "border:X:tonnes"],
                      "mean": [0.2, 0.0, 0.5, 3e6], "p95": [0.0, 0.0, 0.9, 4e6]})
    assert binding_shadow_prices(b)["output"].tolist() == [
        "capacity:T:both:shadow_price_usd_per_t"]


def test_groups_with_a_latin_hypercube_are_refused(tmp_path):
    # --groups field with lhs changed nothing but the settings' hash
    from karvan.errors import InputError
    from karvan.explore.study import explore

    with pytest.raises(InputError, match=r"groups='field' \(--groups\) groups the inputs of a "
                                         "sobol or morris design"):
        explore(["baseline"], draws=4, groups="field", workers=0, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
