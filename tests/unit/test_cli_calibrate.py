"""`karvan calibrate` on the built-in corridor: the estimate and its report are written, fitted to
fit rows only, and the dataset is left as it was."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from karvan.cli import app
from karvan.freight.corridor import builtin_corridor_folder
from karvan.io.hashing import hash_folder

runner = CliRunner()


def test_calibrate_writes_the_estimate_and_fit_and_validation(tmp_path):
    before = hash_folder(builtin_corridor_folder())
    out = tmp_path / "cal"
    r = runner.invoke(app, ["calibrate", "--out", str(out), "--max-iter", "3", "-q"],
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
