"""``karvan calibrate --parameters`` on a copy of the built-in corridor, with a stand-in for the
choice model's runs: what is written, where, and that Ctrl-C leaves nothing half-written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import karvan.scenario.calibration as sc
from karvan.cli import app
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.freight.observed import RunFlows
from karvan.io.hashing import hash_folder

runner = CliRunner()


@pytest.fixture(scope="module")
def deterministic_runs():
    data = load_corridor()
    return sc.corridor_runner(data)(data.demand["tonnes_per_year"].to_numpy(dtype=float))


def stand_in(runs, *, interrupt_at: int | None = None):
    """A runner whose every tonne scales with exp(-asc(instc_west_rail) / 100): the
    deterministic routes, with one parameter that moves every count."""
    calls = {"n": 0}

    def make(data, **kw):
        def run(table):
            calls["n"] += 1
            if interrupt_at is not None and calls["n"] >= interrupt_at:
                raise KeyboardInterrupt
            sel = (table["parameter"] == "asc_usd_per_t") & (table["family"] ==
                                                             "instc_west_rail")
            k = float(np.exp(-pd.to_numeric(table.loc[sel, "value"]).item() / 100.0))
            return {y: RunFlows(f.name, f.year, f.routes, f.graph, f.links,
                                f.cells.assign(tonnes_per_year=f.cells["tonnes_per_year"] * k))
                    for y, f in runs.items()}
        return run

    return make


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), folder)
    return folder


def test_parameters_are_fitted_and_written(dataset, tmp_path, deterministic_runs, monkeypatch):
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    out = tmp_path / "cal"
    before = hash_folder(dataset)
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--fit", "asc:instc_west_rail", "-q", "--workers", "1"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert hash_folder(dataset) == before  # no --write: the dataset is unchanged
    man = json.loads((out / "manifest.json").read_text())
    observed = pd.read_csv(dataset / "observed.csv")
    fit_ids = set(observed.loc[observed["role"] == "fit", "observed_id"])
    assert man["observations_fitted"] and set(man["observations_fitted"]) <= fit_ids
    assert man["parameters"] == ["asc_usd_per_t|instc_west_rail"]
    opts = man["invocation"]["options"]  # the whole call, dataset and output included
    assert opts["data"] == str(dataset) and opts["out_dir"] == str(out) and not opts["write"]
    assert opts["fit"] == ["asc:instc_west_rail"] and opts["workers"] == 1
    table = pd.read_csv(out / "choice_parameter.csv", keep_default_na=False)
    row = table[(table["parameter"] == "asc_usd_per_t")
                & (table["family"] == "instc_west_rail")].iloc[0]
    par = pd.read_csv(out / "parameters.csv").iloc[0]
    assert float(row["value"]) == pytest.approx(par["value"])
    assert row["method"] == "calibrated" and row["observations"] == ";".join(
        man["observations_fitted"])
    # only the fitted row changes (the dataset's table may hold calibrated rows already)
    prior = pd.read_csv(dataset / "choice_parameter.csv", keep_default_na=False)
    changed = table.index[table["note"] != prior["note"]]
    assert list(changed) == [row.name]
    cal = pd.read_csv(out / "calibration.csv")
    assert len(cal) == len(observed) and {"prior_modelled_tonnes", "modelled_tonnes"} <= set(cal)
    assert set(pd.read_csv(out / "calibration_summary.csv")["parameters"]) == {"prior",
                                                                              "calibrated"}
    assert "Fit and validation" in r.output and "Choice parameters" in r.output
    # --write puts the same table into the dataset, which then reads back as a valid table
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--fit", "asc:instc_west_rail", "--write", "-q",
                            "--workers", "1"])
    assert r.exit_code == 0, r.output
    written = pd.read_csv(dataset / "choice_parameter.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(written, table)
    from karvan.freight.route_family import read_choice_parameters

    back = read_choice_parameters(dataset)
    assert len(back) == len(table)
    # the correlations travel with the table: a fit of one parameter has no pair of its own;
    # the pairs of the earlier fit among the parameters it left alone stay, those with the
    # refitted one go (no longer known), and explore reads the two tables as one fit
    from karvan.explore.choice_inputs import CORRELATION_FILE, choice_inputs
    from karvan.explore.inputs import builtin_uncertainty_path

    shipped = pd.read_csv(builtin_corridor_folder() / CORRELATION_FILE, keep_default_na=False)
    corr = pd.read_csv(dataset / CORRELATION_FILE, keep_default_na=False)
    pd.testing.assert_frame_equal(corr, pd.read_csv(out / CORRELATION_FILE,
                                                    keep_default_na=False))
    name = "asc_usd_per_t|instc_west_rail"
    assert row["fitted_parameter"] == name
    mine = (shipped["parameter_a"] == name) | (shipped["parameter_b"] == name)
    assert mine.any() and len(corr) == (~mine).sum()
    assert not ((corr["parameter_a"] == name) | (corr["parameter_b"] == name)).any()
    pd.testing.assert_frame_equal(corr, shipped[~mine].reset_index(drop=True),
                                  check_dtype=False)
    text = pd.read_csv(dataset / "choice_parameter.csv", dtype=str, keep_default_na=False)
    ins = choice_inputs(text, builtin_uncertainty_path(),
                        correlation=corr.astype(str))
    assert ins.correlation is not None and len(ins.correlation.factors) == 10


def test_progress_is_a_line_per_evaluation(dataset, tmp_path, deterministic_runs, monkeypatch):
    """Without -q each evaluation prints one line; the parameters only where the fit improves,
    and then the objective it minimises (weighted sum of squares / the round's factor on the
    data's variances + the prior's penalty) is the lowest so far in its round."""
    import re

    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    out = tmp_path / "cal"
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--fit", "asc:instc_west_rail", "--workers", "1"],
                      env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if re.match(r"evaluation \d+: ", ln)]
    ev = pd.read_csv(out / "evaluations.csv")
    assert [int(ln.split()[1].rstrip(":")) for ln in lines] == ev["evaluation"].tolist()
    best = [ln for ln in lines if "the best so far" in ln]
    assert best and len(best) < len(lines)
    assert all("asc_usd_per_t|instc_west_rail=" in ln for ln in best)
    assert not any("=" in ln for ln in lines if ln not in best)
    # the objective, from the columns written and from the prior recomputed here
    from karvan.calibrate.choice import parameter_priors

    mu, sd = parameter_priors(sc.choice_table(load_corridor(dataset)),
                              sc.choice_parameters_to_fit(sc.choice_table(
                                  load_corridor(dataset)), ["asc:instc_west_rail"]))
    x = ev["asc_usd_per_t|instc_west_rail"].to_numpy()
    np.testing.assert_allclose(ev["prior_penalty"], ((x - mu[0]) / sd[0]) ** 2)
    np.testing.assert_allclose(ev["objective"], ev["weighted_ssq"] / ev["variance_factor"]
                               + ev["prior_penalty"])
    # the fit was repeated with the data's variances scaled: each round says so and starts
    # its own best
    factors = ev["variance_factor"].to_numpy()
    rounds = 1 + int(np.sum(factors[1:] != factors[:-1]))
    assert rounds > 1 and factors[0] == 1.0
    assert len(re.findall(r"^round \d+ of the fit", r.output, flags=re.M)) == rounds - 1
    obj = ev["objective"].to_numpy()
    firsts = [i for i in range(len(obj))
              if obj[i] < obj[:i][factors[:i] == factors[i]].min(initial=np.inf)]
    assert [int(ln.split()[1].rstrip(":")) for ln in best] == ev["evaluation"].iloc[firsts].tolist()


def test_a_fit_that_did_not_converge_is_not_written_into_the_dataset(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    out = tmp_path / "cal"
    before = hash_folder(dataset)
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--fit", "asc:instc_west_rail", "--max-evaluations", "1",
                            "--write", "-q", "--workers", "1"])
    assert r.exit_code == 1, r.output
    assert "did not converge" in r.output and "dataset is unchanged" in r.output
    assert hash_folder(dataset) == before
    man = json.loads((out / "manifest.json").read_text())
    assert man["success"] is False and man["written_to_dataset"] is False


def test_a_table_fitted_without_the_prior_keeps_the_prior_for_the_next_fit(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """--no-prior --write: the written rows become confidence "estimate", so they must carry
    the prior they had (prior_value, prior_std_error), or the next fit with the prior would
    take another one from the new confidence."""
    from karvan.calibrate.choice import parameter_priors
    from karvan.freight.route_family import read_choice_parameters
    from karvan.scenario.calibration import choice_parameters_to_fit

    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    # a table without the prior columns: its priors come from the rows' confidence
    path = dataset / "choice_parameter.csv"
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    t.loc[t["confidence"] == "estimate", "confidence"] = "assumption"  # as before any fit
    t.drop(columns=["prior_value", "prior_std_error"]).to_csv(path, index=False,
                                                             lineterminator="\n")
    original = read_choice_parameters(dataset)
    params = choice_parameters_to_fit(original, ["asc:instc_west_rail", "theta"])
    before = parameter_priors(original, params)
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(tmp_path / "cal"), "--fit", "asc:instc_west_rail", "--fit",
                            "theta", "--no-prior", "--write", "-q", "--workers", "1"])
    assert r.exit_code in (0, 1), r.output
    if r.exit_code == 1:
        pytest.skip("the fit without the prior did not converge here: nothing written")
    written = read_choice_parameters(dataset)
    assert (written.loc[params[0].rows(written), "confidence"] == "estimate").all()
    after = parameter_priors(written, params)
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6)
    np.testing.assert_allclose(after[1], before[1], rtol=1e-5)


def test_ctrl_c_leaves_nothing_half_written(dataset, tmp_path, deterministic_runs, monkeypatch):
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs, interrupt_at=3))
    out = tmp_path / "cal"
    before = hash_folder(dataset)
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--write", "-q", "--workers", "1"])
    assert r.exit_code == 130, r.output
    assert not out.exists() and not list(tmp_path.glob(".cal*"))
    assert hash_folder(dataset) == before


def test_limits_below_one_are_refused_before_anything_runs():
    for args in (["--max-iter", "0"], ["--parameters", "--max-evaluations", "0"]):
        r = runner.invoke(app, ["calibrate", *args, "-q"])
        assert r.exit_code == 2 and f"Invalid value for '{args[-2]}'" in r.output, r.output


def test_options_of_the_parameter_fit_need_it():
    r = runner.invoke(app, ["calibrate", "--fit", "theta"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["calibrate", "--workers", "2"])
    assert r.exit_code == 2 and "--workers" in r.output
    r = runner.invoke(app, ["calibrate", "--parameters", "--workers", "0", "-q"])
    assert r.exit_code == 2 and "--workers must be >= 1" in r.output
    r = runner.invoke(app, ["calibrate", "--parameters", "--fit", "asc:no_family", "-q",
                            "--workers", "1"])
    assert r.exit_code == 2 and "no_family" in r.output
    r = runner.invoke(app, ["calibrate", "--start-from", "x.csv"])
    assert r.exit_code == 2 and "--start-from" in r.output
    r = runner.invoke(app, ["calibrate", "--parameters", "--start-from", "no/such.csv", "-q",
                            "--workers", "1"])
    assert r.exit_code == 2 and "no such file" in r.output
    r = runner.invoke(app, ["calibrate", "--parameters", "--start-from",
                            str(builtin_corridor_folder()), "-q", "--workers", "1"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "a folder, not a file" in r.output
    r = runner.invoke(app, ["calibrate", "--parameters", "--start-from",
                            str(builtin_corridor_folder()), "--start-from", "no/such.csv",
                            "--variance-factor", "3", "-q", "--workers", "1"],
                      env={"COLUMNS": "1000"})
    said = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 2 and f"{builtin_corridor_folder()}: a folder, not a file" in said
    assert "no/such.csv: no such file" in said
    r = runner.invoke(app, ["calibrate", "--variance-factor", "3"])
    assert r.exit_code == 2 and "--variance-factor" in r.output
    for bad in ("0", "-2", "nan", "inf"):
        r = runner.invoke(app, ["calibrate", "--parameters", "--variance-factor", bad, "-q",
                                "--workers", "1"], env={"COLUMNS": "200"})
        assert r.exit_code == 2 and "finite number > 0" in r.output, (bad, r.output)
    r = runner.invoke(app, ["calibrate", "--parameters", "--variance-factor", "3",
                            "--no-prior", "-q", "--workers", "1"], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "goes with the prior" in r.output


@pytest.mark.parametrize(("args", "said"), [
    (["--diff-step", "0.3", "--max-evaluations", "2", "--no-prior"],
     "--prior/--no-prior, --max-evaluations, --diff-step go with --parameters"),
    (["--crossval-evaluations", "3"],
     "--crossval-evaluations goes with --parameters --crossval"),
    (["--parameters", "--crossval-evaluations", "3"],
     "--crossval-evaluations goes with --parameters --crossval"),
    (["--parameters", "--choice", "deterministic"],
     "--choice sets the OD estimation (karvan calibrate without --parameters)"),
    (["--parameters", "--prior-rse", "0.1", "--tol", "0.5", "--max-iter", "3",
      "--max-factor", "9"],
     "--prior-rse, --max-factor, --tol, --max-iter set the OD estimation"),
    (["--parameters", "--crossval", "--crossval-evaluations", "-1"], "--crossval-evaluations"),
    (["--parameters", "--diff-step", "inf"], "--diff-step must be a finite number > 0"),
    (["--parameters", "--diff-step", "0"], "--diff-step must be a finite number > 0"),
    (["--tol", "nan"], "--tol must be a finite number >= 0"),
    (["--tol", "inf"], "--tol must be a finite number >= 0"),
    (["--prior-rse", "inf"], "--prior-rse must be a finite number > 0"),
    (["--max-factor", "0.5"], "--max-factor must be a finite number >= 1"),
    (["--choice", "deterministic", "--gap", "inf"], "--gap must be a finite number >= 0"),
])
def test_options_another_mode_reads_or_that_never_end_are_refused(args, said, tmp_path):
    """Each was ignored (and recorded in the manifest as used), ran without end (--prior-rse
    inf, --tol nan), stopped at once as converged (--tol inf, --gap inf) or failed after the
    first runs with an error about the dataset (--diff-step inf)."""
    out = tmp_path / "c"
    r = runner.invoke(app, ["calibrate", *args, "--out", str(out), "-q", "--workers", "1"]
                      if "--parameters" in args else ["calibrate", *args, "--out", str(out),
                                                      "-q"], env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    assert said in " ".join(r.output.replace("│", " ").split()), r.output
    assert not out.exists()


def test_the_fit_starts_where_start_from_says(dataset, tmp_path, deterministic_runs,
                                              monkeypatch):
    """--start-from: the first evaluation is at the start table's value, the manifest and the
    command say so, and the fit ends where the fit from the priors ends (one parameter, a
    smooth objective)."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    start = pd.read_csv(dataset / "choice_parameter.csv", dtype=str, keep_default_na=False)
    sel = (start["parameter"] == "asc_usd_per_t") & (start["family"] == "instc_west_rail")
    start.loc[sel, "value"] = "-37.5"
    start.to_csv(tmp_path / "start.csv", index=False)
    args = ["calibrate", "--parameters", "--data", str(dataset), "--fit",
            "asc:instc_west_rail", "-q", "--workers", "1"]
    r = runner.invoke(app, args + ["--out", str(tmp_path / "a"), "--start-from",
                                   str(tmp_path / "start.csv")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    ev = pd.read_csv(tmp_path / "a" / "evaluations.csv")
    assert ev["asc_usd_per_t|instc_west_rail"].iloc[0] == pytest.approx(-37.5)
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["settings"]["start"]["asc_usd_per_t|instc_west_rail"] == pytest.approx(-37.5)
    assert "--start-from" in man["command"]
    r = runner.invoke(app, args + ["--out", str(tmp_path / "b")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["settings"]["start"] == \
        "priors"
    a = pd.read_csv(tmp_path / "a" / "parameters.csv")["value"].item()
    b = pd.read_csv(tmp_path / "b" / "parameters.csv")["value"].item()
    assert a == pytest.approx(b, abs=0.5)


def test_a_fixed_variance_factor_is_used_and_recorded(dataset, tmp_path, deterministic_runs,
                                                      monkeypatch):
    """--variance-factor: every evaluation's objective divides by it, the fit runs one round,
    and the manifest, the command and the printed table say so."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--fit",
                            "asc:instc_west_rail", "--workers", "1", "--out",
                            str(tmp_path / "a"), "--variance-factor", "2.5"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "x 2.5, fixed" in r.output and "round 2" not in r.output
    ev = pd.read_csv(tmp_path / "a" / "evaluations.csv")
    assert (ev["variance_factor"] == 2.5).all()
    np.testing.assert_allclose(ev["objective"],
                               ev["weighted_ssq"] / 2.5 + ev["prior_penalty"], rtol=1e-12)
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["chi2_scale"] == 2.5 and man["chi2_scale_fixed"] is True
    assert man["scale_rounds"] == 0 and man["settings"]["variance_factor"] == 2.5
    assert man["command"].endswith("--variance-factor 2.5")
    assert man["objective"] == pytest.approx(man["weighted_ssq"] / 2.5 + man["prior_penalty"],
                                             rel=1e-9)
    assert np.isfinite(man["reduced_chi2"])


def test_several_starts_run_in_turn_and_the_lowest_end_point_is_the_fit(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """Two starts at one objective: both are fitted, starts.csv and the manifest list both,
    the lower end point is written (its evaluations, its table), and the command names every
    start. With one evaluation each the fit from the priors stops far from the optimum and the
    fit from a table at the optimum stays there, so the choice is not a tie."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    args = ["calibrate", "--parameters", "--data", str(dataset), "--fit",
            "asc:instc_west_rail", "--workers", "1", "--variance-factor", "2"]
    r = runner.invoke(app, args + ["-q", "--out", str(tmp_path / "one")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    best = pd.read_csv(tmp_path / "one" / "parameters.csv")["value"].item()
    start = pd.read_csv(dataset / "choice_parameter.csv", dtype=str, keep_default_na=False)
    sel = (start["parameter"] == "asc_usd_per_t") & (start["family"] == "instc_west_rail")
    prior_value = float(start.loc[sel, "prior_value"].item() or start.loc[sel, "value"].item())
    assert abs(best - prior_value) > 5  # the optimum is away from the prior
    start.loc[sel, "value"] = repr(best)
    start.to_csv(tmp_path / "at_best.csv", index=False)
    out = tmp_path / "two"
    r = runner.invoke(app, args + ["--out", str(out), "--max-evaluations", "1",
                                   "--start-from", "priors", "--start-from",
                                   str(tmp_path / "at_best.csv")], env={"COLUMNS": "200"})
    # one evaluation is not a converged fit: reported, written, and exit code 1
    assert r.exit_code == 1 and "NOT converged" in r.output, r.output
    assert "start 1 of 2: the priors" in r.output and "start 2 of 2" in r.output
    st = pd.read_csv(out / "starts.csv")
    assert list(st["start"]) == ["priors", str(tmp_path / "at_best.csv")]
    assert list(st["chosen"]) == [False, True]
    assert st["objective"].iloc[1] < st["objective"].iloc[0]
    np.testing.assert_allclose(st["objective"], st["weighted_ssq"] / 2 + st["prior_penalty"],
                               rtol=1e-9)
    man = json.loads((out / "manifest.json").read_text())
    assert man["chosen_start"] == str(tmp_path / "at_best.csv") and len(man["starts"]) == 2
    assert man["objective"] == pytest.approx(st["objective"].iloc[1])
    assert man["command"].count("--start-from") == 2 and "--start-from priors" in man["command"]
    assert man["settings"]["start"]["table"] == str(tmp_path / "at_best.csv")
    par = pd.read_csv(out / "parameters.csv")["value"].item()
    assert par == pytest.approx(st["asc_usd_per_t|instc_west_rail"].iloc[1])
    ev = pd.read_csv(out / "evaluations.csv")
    evs = pd.read_csv(out / "start_evaluations.csv")
    assert set(evs["start"]) == set(st["start"])
    pd.testing.assert_frame_equal(
        evs[evs["start"] == str(tmp_path / "at_best.csv")].drop(columns=["start", "round"])
        .reset_index(drop=True), ev)
    assert "Starts: one objective" in r.output


def test_settle_factor_rounds_end_at_the_lowest_end_points_own_reduced_chi_square(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """--settle-factor from a factor far from the misfit: each round's factor is the round
    before's lowest reduced chi-square, each round after the first has that end point as a
    start, the last round's factor is within 2 % of its lowest end point's own reduced
    chi-square, and the fit written is that end point at that factor; a fit at that factor
    alone (one round, --variance-factor) from the same start ends at the same point."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    out = tmp_path / "s"
    args = ["calibrate", "--parameters", "--data", str(dataset), "--fit",
            "asc:instc_west_rail", "--workers", "1", "--start-from", "priors"]
    r = runner.invoke(app, args + ["--variance-factor", "0.05", "--settle-factor", "--out",
                                   str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    rounds = man["factor_rounds"]
    assert len(rounds) >= 2 and rounds[0]["variance_factor"] == 0.05
    for a, b in zip(rounds[:-1], rounds[1:], strict=True):
        assert b["variance_factor"] == a["reduced_chi2"] and a["settled"] is False
    last = rounds[-1]
    assert man["factor_settled"] is True and last["settled"] is True
    assert abs(last["reduced_chi2"] - last["variance_factor"]) <= 0.02 * last["variance_factor"]
    assert man["chi2_scale"] == last["variance_factor"] and man["chi2_scale_fixed"] is True
    assert man["objective"] == pytest.approx(last["objective"])
    assert man["command"].endswith("--variance-factor 0.05 --settle-factor")
    st = pd.read_csv(out / "starts.csv")
    assert list(st["round"].unique()) == list(range(1, len(rounds) + 1))
    assert st["chosen"].sum() == 1 and st.loc[st["chosen"], "round"].item() == len(rounds)
    for k in range(2, len(rounds) + 1):  # the round before's lowest end point is a start
        assert f"round {k - 1}'s end point" in set(st.loc[st["round"] == k, "start"])
    np.testing.assert_allclose(st["objective"], st["weighted_ssq"] / st["variance_factor"]
                               + st["prior_penalty"], rtol=1e-9)
    evs = pd.read_csv(out / "start_evaluations.csv")
    assert set(evs["round"]) == set(st["round"])
    value = pd.read_csv(out / "parameters.csv")["value"].item()
    assert value == pytest.approx(st.loc[st["chosen"], "asc_usd_per_t|instc_west_rail"].item())
    assert "round 2 of the variance factor" in r.output
    assert re.search(r"variance factor [0-9.]+: settled", r.output), r.output
    for k in range(1, len(rounds) + 1):  # each round's pick is its lowest end point
        rk = st[st["round"] == k]
        best = rk.loc[rk["objective"].idxmin()]
        assert best["objective"] == pytest.approx(rounds[k - 1]["objective"])
        assert best["reduced_chi2"] == pytest.approx(rounds[k - 1]["reduced_chi2"])
        if k < len(rounds):  # ... and the next round's carried start begins there
            ev_next = evs[(evs["round"] == k + 1) & (evs["start"] == f"round {k}'s end point")]
            assert ev_next["asc_usd_per_t|instc_west_rail"].iloc[0] == pytest.approx(
                best["asc_usd_per_t|instc_west_rail"], rel=1e-12)
    assert man["chosen_start"] == st.loc[st["chosen"], "start"].item()
    # the settled factor as a fixed one: the same end point, its reduced chi-square the factor
    one = tmp_path / "one"
    r = runner.invoke(app, args + ["--variance-factor", repr(last["variance_factor"]), "-q",
                                   "--out", str(one)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    m1 = json.loads((one / "manifest.json").read_text())
    assert pd.read_csv(one / "parameters.csv")["value"].item() == pytest.approx(value, abs=0.05)
    assert m1["reduced_chi2"] == pytest.approx(last["variance_factor"], rel=0.02)


def test_a_factor_that_does_not_settle_is_said_and_recorded(dataset, tmp_path,
                                                             deterministic_runs, monkeypatch):
    """With one round allowed and a first factor far from the misfit the rounds stop unsettled:
    the run says so even with -q (a note), the manifest records it, and the fit is the round's
    lowest end point at that round's factor."""
    import karvan.cli.calibrate_parameters as cp

    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    monkeypatch.setattr(cp, "FACTOR_ROUNDS", 1)
    out = tmp_path / "u"
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--fit",
                            "asc:instc_west_rail", "--workers", "1", "--variance-factor",
                            "0.05", "--settle-factor", "-q", "--out", str(out)],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["factor_settled"] is False and len(man["factor_rounds"]) == 1
    assert man["factor_rounds"][0]["settled"] is False
    assert man["chi2_scale"] == 0.05
    assert any("did not settle" in n and "after 1 round;" in n for n in man["notes"])
    assert "did not settle" in " ".join(r.output.split()), r.output


def test_an_end_point_that_is_a_starts_own_values_is_not_fitted_twice(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """One evaluation per fit: the start from a table ends where it began, so the round's
    lowest end point (that start's) is not carried into the next round as a start of its own."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    args = ["calibrate", "--parameters", "--data", str(dataset), "--fit",
            "asc:instc_west_rail", "--workers", "1"]
    r = runner.invoke(app, args + ["--variance-factor", "2", "-q", "--out",
                                   str(tmp_path / "one")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    best = pd.read_csv(tmp_path / "one" / "parameters.csv")["value"].item()
    table = pd.read_csv(dataset / "choice_parameter.csv", dtype=str, keep_default_na=False)
    sel = (table["parameter"] == "asc_usd_per_t") & (table["family"] == "instc_west_rail")
    table.loc[sel, "value"] = repr(best)
    table.to_csv(tmp_path / "at_best.csv", index=False)
    out = tmp_path / "s"
    r = runner.invoke(app, args + ["--variance-factor", "0.05", "--settle-factor",
                                   "--max-evaluations", "1", "--start-from", "priors",
                                   "--start-from", str(tmp_path / "at_best.csv"), "--out",
                                   str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 1, r.output  # one evaluation is not a converged fit
    st = pd.read_csv(out / "starts.csv")
    assert (st.groupby("round").size() == 2).all() and st["round"].max() >= 2
    assert not st["start"].str.contains("end point").any()
    assert "a start already: not fitted twice" in " ".join(r.output.split())


def test_settle_factor_needs_the_first_rounds_factor(dataset, tmp_path):
    out = tmp_path / "o"
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--fit",
                            "asc:instc_west_rail", "-q", "--workers", "1", "--settle-factor",
                            "--out", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "--settle-factor starts its rounds at --variance-factor" in \
        " ".join(r.output.replace("│", " ").split()), r.output
    r = runner.invoke(app, ["calibrate", "--settle-factor", "--out", str(out), "-q"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "--settle-factor goes with --parameters" in \
        " ".join(r.output.replace("│", " ").split()), r.output
    assert not out.exists()


def test_several_starts_are_checked_before_anything_runs(dataset, tmp_path):
    base = ["calibrate", "--parameters", "--data", str(dataset), "--fit",
            "asc:instc_west_rail", "-q", "--workers", "1", "--out", str(tmp_path / "o")]
    good = tmp_path / "good.csv"
    shutil.copy(dataset / "choice_parameter.csv", good)
    r = runner.invoke(app, base + ["--start-from", "priors", "--start-from", str(good)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "need --variance-factor" in r.output
    r = runner.invoke(app, base + ["--variance-factor", "2", "--start-from", str(good),
                                   "--start-from", str(good), "--start-from", "no/such.csv"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "more than once" in r.output and "no such file" in r.output
    # every problem of every table at once
    bad = pd.read_csv(good, dtype=str, keep_default_na=False)
    bad = bad[~((bad["parameter"] == "asc_usd_per_t") & (bad["family"] == "instc_west_rail"))]
    bad.to_csv(tmp_path / "a.csv", index=False)
    bad.to_csv(tmp_path / "b.csv", index=False)
    r = runner.invoke(app, base + ["--variance-factor", "2", "--start-from",
                                   str(tmp_path / "a.csv"), "--start-from",
                                   str(tmp_path / "b.csv")], env={"COLUMNS": "200"})
    assert r.exit_code != 0
    text = r.output + str(r.exception)
    assert "a.csv" in text and "b.csv" in text
    assert not (tmp_path / "o").exists()


def test_the_runner_is_the_logit_corridor_run():
    """The parameter runner runs the corridor under the logit choice model with the table it is
    given: the base year as run_scenario runs it, the back-casts of the observed years, and a
    family constant that moves the family's tonnes."""
    from karvan.calibrate.choice import apply_parameters, asc
    from karvan.freight.observed import modelled_tonnes, observation_matrix, parse_observations
    from karvan.scenario.reference import reference_scenario

    data = load_corridor()
    table = sc.choice_table(data)
    run = sc.choice_runner(data)
    runs = run(table)
    years = set(pd.to_numeric(data.observed["year"], errors="coerce").dropna().astype(int))
    assert set(runs) == {2024} | (years & {2022, 2023})
    direct = sc.run_scenario(data, reference_scenario(2024, base_year=data.base_year),
                             lp=False, backcasts=False)
    assert direct.summary["choice"] == "logit"
    a = runs[2024].routes.sort_values(["class", "origin", "destination", "route"])
    b = direct.flows.routes.sort_values(["class", "origin", "destination", "route"])
    np.testing.assert_allclose(a["share"].to_numpy(), b["share"].to_numpy(), rtol=1e-9)
    # a dearer INSTC rail family (its constant 50 USD/t above the table's) carries less of the
    # ADY north-south transit (a fit row)
    sel = (table["parameter"] == "asc_usd_per_t") & (table["family"] == "instc_west_rail")
    now = float(pd.to_numeric(table.loc[sel, "value"]).item())
    dearer = run(apply_parameters(table, [asc("instc_west_rail")], [now + 50.0]))
    zc = data.zone_country()
    obs = [o for o in parse_observations(data.observed, data.links, countries=set(zc.values()),
                                         commodities=set(data.commodity_ids))
           if o.observed_id == "OBS_ADY_NS_TRANSIT_2024"]

    def tonnes(r):
        return float(modelled_tonnes(observation_matrix(obs, r[2024], zc), r[2024])[0])

    assert tonnes(runs) > 0
    assert tonnes(dearer) < 0.9 * tonnes(runs)


def test_crossval_and_the_prior_in_the_output(dataset, tmp_path, deterministic_runs,
                                              monkeypatch):
    """--crossval writes the leave-one-source-out tables (no fold sees a validation row); the
    output names the prior, the rank and what the fit rows do not identify; the table written
    carries the prior it was fitted from."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    out = tmp_path / "cal"
    r = runner.invoke(app, ["calibrate", "--parameters", "--data", str(dataset), "--out",
                            str(out), "--fit", "asc:instc_west_rail", "--fit",
                            "asc:middle_corridor", "--crossval", "-q", "--workers", "1"],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "Leave-one-source-out" in r.output and "rank of the weighted Jacobian" in r.output
    # the stand-in moves every row with the INSTC rail constant and none with the Middle
    # Corridor's: that one stays at its prior with its prior standard error
    assert "not identified by the fit rows: asc_usd_per_t|middle_corridor" in r.output
    par = pd.read_csv(out / "parameters.csv").set_index("parameter")
    mc = par.loc["asc_usd_per_t|middle_corridor"]
    assert mc["value"] == pytest.approx(mc["prior"], abs=1e-9)
    assert mc["std_error"] == pytest.approx(mc["prior_std_error"], rel=1e-9)
    assert par.loc["asc_usd_per_t|instc_west_rail", "identified"]
    observed = pd.read_csv(dataset / "observed.csv")
    validate = set(observed.loc[observed["role"] == "validate", "observed_id"])
    cv = pd.read_csv(out / "crossval.csv")
    folds = pd.read_csv(out / "crossval_folds.csv")
    assert len(cv) and not validate & set(cv["observed_id"])
    assert not validate & {i for f in folds["left_out"] for i in f.split(";")}
    summ = pd.read_csv(out / "crossval_summary.csv").set_index("source")
    assert summ.at["all", "rows"] == len(cv)
    table = pd.read_csv(out / "choice_parameter.csv", keep_default_na=False)
    row = table[(table["parameter"] == "asc_usd_per_t")
                & (table["family"] == "middle_corridor")].iloc[0]
    assert float(row["prior_value"]) == 0.0 and "not identified" in row["note"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["identification"]["not_identified"] == ["asc_usd_per_t|middle_corridor"]
    assert man["settings"]["crossval"] and man["command"].startswith("karvan calibrate")


def test_the_fit_says_which_demand_its_runs_carry(tmp_path):
    """The runs carry od_estimate.csv's demand where the dataset has one (estimated on the same
    fit rows); the manifest did not say so and the docs said demand.csv."""
    from karvan.cli.calibrate_parameters import demand_source

    src, note = demand_source(load_corridor(builtin_corridor_folder()))
    assert src == "od_estimate.csv" and "same fit rows" in note and "DIR/od_estimate.csv" in note
    copy = tmp_path / "d"
    shutil.copytree(builtin_corridor_folder(), copy)
    (copy / "od_estimate.csv").unlink()
    assert demand_source(load_corridor(copy)) == ("demand.csv",)


def test_the_procedure_runs_the_three_steps_and_writes_what_they_fitted(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """--procedure: step 1's last factor (two decimals) is step 2's first, step 2 starts from
    the priors, step 1's table and the dataset's table and settles the factor, step 3 estimates
    the demand with step 2's table; --write puts exactly the copy's three tables into the
    dataset, and the table says the procedure made it."""
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    before_table = (dataset / "choice_parameter.csv").read_bytes()
    out = tmp_path / "p"
    r = runner.invoke(app, ["calibrate", "--procedure", "--data", str(dataset), "--fit",
                            "asc:instc_west_rail", "--workers", "1", "--write", "--out",
                            str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "step 1 of 3" in r.output and "step 3 of 3" in r.output
    for name in ("dataset", "1-rounds", "2-parameters", "3-demand", "manifest.json"):
        assert (out / name).exists(), name
    man = json.loads((out / "manifest.json").read_text())
    first = json.loads((out / "1-rounds" / "manifest.json").read_text())
    second = json.loads((out / "2-parameters" / "manifest.json").read_text())
    assert first["chi2_scale_fixed"] is False  # step 1 settles its factor in rounds
    assert man["first_factor"] == round(first["chi2_scale"], 2)
    assert second["factor_rounds"][0]["variance_factor"] == man["first_factor"]
    assert man["factor"] == second["chi2_scale"] and second["settings"]["settle_factor"]
    st = pd.read_csv(out / "2-parameters" / "starts.csv")
    starts = list(st.loc[st["round"] == 1, "start"])
    assert starts[0] == "priors" and starts[1].endswith("1-rounds/choice_parameter.csv")
    assert starts[2].endswith("choice_parameter_before.csv") and len(starts) == 3
    assert (out / "choice_parameter_before.csv").read_bytes() == before_table
    assert man["settings"] == {"diff_step": 0.5, "max_evaluations": 40,
                               "fit": ["asc:instc_west_rail"]}
    for name in ("choice_parameter.csv", "choice_parameter_correlation.csv", "od_estimate.csv"):
        assert (dataset / name).read_bytes() == (out / "dataset" / name).read_bytes(), name
    assert (dataset / "choice_parameter.csv").read_bytes() == \
        (out / "2-parameters" / "choice_parameter.csv").read_bytes()
    table = pd.read_csv(dataset / "choice_parameter.csv", keep_default_na=False)
    fitted = table[(table["parameter"] == "asc_usd_per_t")
                   & (table["family"] == "instc_west_rail")]
    assert len(fitted) == 1 and fitted["note"].str.contains(
        "karvan calibrate --procedure (step 2 of 3:", regex=False).all()
    assert man["demand"] == "demand.csv" and second["demand"] == "demand.csv"  # not the estimate
    assert (out / "2-parameters" / "crossval.csv").is_file()
    assert not (out / "1-rounds" / "crossval.csv").exists()
    assert man["chosen_start"] in {"the priors", "step 1's table", "the dataset's table"} or \
        man["chosen_start"].endswith("end point")
    for f in (p for p in out.rglob("*") if p.suffix in (".json", ".csv")):  # no staging paths
        assert ".p.tmp-" not in f.read_text(encoding="utf-8"), f
    third = json.loads((out / "3-demand" / "manifest.json").read_text())
    est = pd.read_csv(dataset / "od_estimate.csv")
    assert third["demand_t"]["estimate"] == pytest.approx(est["tonnes_per_year"].sum())
    load_corridor(dataset)  # the dataset as written loads


def test_the_procedure_without_write_or_stopped_leaves_the_dataset_as_it_was(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """Ctrl-C in step 1, or in step 3 after the two fits were written into the copy: no --out,
    no left-overs, the dataset as it was; without --write the dataset is never touched."""
    import karvan.cli.calibrate as cc

    before = hash_folder(dataset)
    out = tmp_path / "p"
    args = ["calibrate", "--procedure", "--data", str(dataset), "--fit", "asc:instc_west_rail",
            "--workers", "1", "-q", "--out", str(out)]
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs, interrupt_at=4))
    r = runner.invoke(app, args + ["--write"], env={"COLUMNS": "200"})
    assert r.exit_code == 130, r.output  # Ctrl-C
    assert not out.exists() and hash_folder(dataset) == before

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    monkeypatch.setattr(cc, "_estimate_od", stopped)
    r = runner.invoke(app, args + ["--write"], env={"COLUMNS": "200"})
    assert r.exit_code == 130, r.output
    assert not out.exists() and hash_folder(dataset) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p.")]  # no left-overs
    monkeypatch.undo()
    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    # a step that does not converge (too few evaluations) stops the procedure, and says where
    r = runner.invoke(app, args + ["--write", "--max-evaluations", "1"], env={"COLUMNS": "200"})
    assert r.exit_code == 1 and "stopped at step 1 of 3" in " ".join(r.output.split())
    assert not out.exists() and hash_folder(dataset) == before
    r = runner.invoke(app, args + ["--diff-step", "0.4"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert hash_folder(dataset) == before
    assert "written to" in r.output and "nothing else (the dataset is unchanged" in \
        " ".join(r.output.split())
    assert json.loads((out / "manifest.json").read_text())["settings"]["diff_step"] == 0.4


@pytest.mark.parametrize("extra", [["--parameters"], ["--prior-rse", "0.2"],
                                   ["--variance-factor", "2"], ["--crossval"],
                                   ["--start-from", "priors"], ["--no-prior"]])
def test_the_procedure_refuses_the_options_it_does_not_read(extra, tmp_path):
    out = tmp_path / "p"
    r = runner.invoke(app, ["calibrate", "--procedure", *extra, "--out", str(out), "-q"],
                      env={"COLUMNS": "300"})
    said = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 2 and "not read by it" in said and extra[0] in said, r.output
    assert not out.exists()


def test_a_stop_while_the_procedure_writes_leaves_the_dataset_and_out_as_they_were(
        dataset, tmp_path, deterministic_runs, monkeypatch):
    """Ctrl-C while the three files are staged for the dataset: none of them is replaced, and
    --out is not put in place either."""
    import karvan.cli.calibrate_procedure as cp

    monkeypatch.setattr(sc, "choice_runner", stand_in(deterministic_runs))
    copy = shutil.copyfile

    def stopping(src, dst, *a, **k):
        if ".staging-" in str(dst) and Path(dst).name == "od_estimate.csv":
            raise KeyboardInterrupt
        return copy(src, dst, *a, **k)

    monkeypatch.setattr(cp.shutil, "copyfile", stopping)
    before = hash_folder(dataset)
    out = tmp_path / "p"
    r = runner.invoke(app, ["calibrate", "--procedure", "--data", str(dataset), "--fit",
                            "asc:instc_west_rail", "--workers", "1", "--write", "-q", "--out",
                            str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 130, r.output
    assert hash_folder(dataset) == before and not out.exists()
    assert not [p.name for p in dataset.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("where", ["same", "out_inside", "data_inside"])
def test_the_procedure_refuses_out_and_dataset_that_overlap(where, dataset, tmp_path):
    """--out is replaced whole: the dataset itself, a folder inside it, or a folder that holds
    it would be replaced (or copied into itself)."""
    data, out = {"same": (dataset, dataset),
                 "out_inside": (dataset, dataset / "calibration"),
                 "data_inside": (dataset, dataset.parent)}[where]
    before = hash_folder(dataset)
    r = runner.invoke(app, ["calibrate", "--procedure", "--data", str(data), "--out", str(out),
                            "-q"], env={"COLUMNS": "300"})
    said = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 2 and "must be a folder of its own, outside the dataset" in said, \
        r.output
    assert hash_folder(dataset) == before and not (dataset / "calibration").exists()
