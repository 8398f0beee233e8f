"""`karvan calibrate` on the built-in corridor: the estimate and its report are written, fitted to
fit rows only, and the dataset is left as it was."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from karvan.cli import app
from karvan.freight.corridor import builtin_corridor_folder
from karvan.io.hashing import hash_folder

runner = CliRunner()


def test_calibrate_writes_the_estimate_and_fit_and_validation(tmp_path):
    before = hash_folder(builtin_corridor_folder())
    out = tmp_path / "cal"
    r = runner.invoke(app, ["calibrate", "--out", str(out), "--max-iter", "3", "--choice",
                            "deterministic", "-q"],
                      env={"COLUMNS": "200"})
    man = json.loads((out / "manifest.json").read_text())
    assert r.exit_code == (0 if man["converged"] else 1), r.output
    assert "Fit and validation" in r.output and "validate" in r.output
    observed = pd.read_csv(builtin_corridor_folder() / "observed.csv")
    fit = set(observed.loc[observed["role"] == "fit", "observed_id"])
    assert set(man["observations_fitted"]) <= fit
    dem = pd.read_csv(out / "demand_estimated.csv")
    assert {"prior_tonnes_per_year", "tonnes_per_year", "std_error"} <= set(dem.columns)
    assert man["demand_t"]["estimate"] == dem["tonnes_per_year"].sum()
    cal = pd.read_csv(out / "calibration.csv")
    assert len(cal) == len(observed)
    assert {"prior_modelled_tonnes", "modelled_tonnes", "set"} <= set(cal.columns)
    summary = pd.read_csv(out / "calibration_summary.csv")
    assert set(summary["demand"]) == {"prior", "estimate"}
    for name in ("moved_cells.csv", "counts.csv", "iterations.csv", "cross_validation.csv"):
        assert (out / name).is_file()
    assert hash_folder(builtin_corridor_folder()) == before


def test_write_puts_the_logit_estimate_into_the_dataset_and_runs_use_it(tmp_path):
    import shutil

    from karvan.freight.corridor import load_corridor

    data = tmp_path / "corridor"
    shutil.copytree(builtin_corridor_folder(), data)
    demand_csv = (data / "demand.csv").read_bytes()
    out = tmp_path / "cal"
    r = runner.invoke(app, ["calibrate", "--data", str(data), "--out", str(out), "--write",
                            "-q"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["settings"]["choice"] == "logit" and man["written_to_dataset"]
    # the manifest says how it was called: dataset, output and --write included
    inv = man["invocation"]
    assert inv["command"].endswith("calibrate")
    assert inv["options"]["data"] == str(data) and inv["options"]["out_dir"] == str(out)
    assert inv["options"]["write"] is True and inv["options"]["parameters"] is False
    # fit rows without a run of their year are said to be left out (they were dropped
    # silently), in the manifest and on the screen
    assert man["notes"][0].startswith("4 fit rows not fitted, no run of their year (2019, "
                                      "2021: ")
    assert "fit rows not fitted" in r.output
    assert "logit" in man["method"]
    assert (data / "demand.csv").read_bytes() == demand_csv  # the prior is left as it was
    est = pd.read_csv(data / "od_estimate.csv")
    ds = load_corridor(data)
    assert ds.demand_estimated
    assert len(est) == len(ds.prior_demand) == len(ds.demand)
    key = ["origin_zone_id", "destination_zone_id", "commodity_id"]
    m = ds.demand.merge(est, on=key, suffixes=("", "_est"))
    assert len(m) == len(est)
    assert (m["tonnes_per_year"] == m["tonnes_per_year_est"]).all()
    p = ds.prior_demand.merge(est, on=key, suffixes=("", "_est"))
    assert (p["tonnes_per_year"] == p["prior_tonnes_per_year"]).all()
    assert (est["tonnes_per_year"] != est["prior_tonnes_per_year"]).any()
    assert set(est["source"]) == {"KV_ODME"} and set(est["confidence"]) == {"estimate"}
    # each row names the fit rows that see it: a row no count sees stays at its prior, and
    # no row names a validate row
    fit_ids = set(pd.read_csv(out / "counts.csv")["observed_id"])
    named = est["observations"].fillna("").str.split(";").map(lambda v: set(v) - {""})
    assert set().union(*named) <= fit_ids and named.map(len).gt(0).mean() > 0.5
    unseen = named.map(len).eq(0)
    assert unseen.any()
    np.testing.assert_allclose(est.loc[unseen, "tonnes_per_year"],
                               est.loc[unseen, "prior_tonnes_per_year"], rtol=1e-3)
    # a run of the dataset reproduces the estimate's fit (same demand, same model)
    res = tmp_path / "res"
    r = runner.invoke(app, ["run", "baseline", "--data", str(data), "--out", str(res),
                            "--no-report", "--no-gpkg", "--no-lp", "-q"])
    assert r.exit_code == 0, r.output
    run_cal = pd.read_csv(res / "baseline" / "calibration.csv").set_index("observed_id")
    cal = pd.read_csv(out / "calibration.csv").set_index("observed_id")
    both = cal["modelled_tonnes"].notna()
    assert both.sum() > 20
    # to 1e-6 or 1 t: with a capacity that binds (Lotfabad) the two equilibria meet their side
    # constraint to the solver's tolerance, not to the last bit (as the explore tests compare)
    pd.testing.assert_series_equal(run_cal.loc[both[both].index, "modelled_tonnes"],
                                   cal.loc[both, "modelled_tonnes"], rtol=1e-6, atol=1.0)


@pytest.mark.parametrize("args", [["--gap", "1e-6"], ["--gap", "1e-6", "--parameters"]])
def test_a_gap_is_refused_where_the_logit_model_solves_no_equilibrium(args, tmp_path):
    # it was ignored and recorded in the manifest's settings as if it had been used
    r = CliRunner().invoke(app, ["calibrate", *args, "--out", str(tmp_path / "c")],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "--gap sets the deterministic user equilibrium" in r.output
    assert not (tmp_path / "c").exists()

