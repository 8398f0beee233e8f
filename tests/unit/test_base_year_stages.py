"""benchmarks/base_year_stages.py: the rule that says whether the logit model at the priors moves a
row of the calibration table toward the reported volume, and the copies it runs on."""

import pandas as pd
import pytest

from tests.benchmark_scripts import load


@pytest.fixture(scope="module")
def stages():
    return load("base_year_stages")


@pytest.mark.parametrize(("det", "logit", "kind", "expected"), [
    (4.72, 1.93, "transit", "toward"),   # above the figure, comes down
    (0.90, 0.59, "port", "away"),        # below, goes further down
    (0.00, 2.56, "corridor_total", "toward"),  # nothing, then something (overshoots)
    (1.01, 1.23, "border", "away"),
    (0.39, 0.32, "port", "away"),
    (1.342, 1.3421, "corridor_total", "same"),
    (1.14, 1.14, "trade", "(demand)"),
    (float("nan"), 1.0, "port", ""),
])
def test_direction(stages, det, logit, kind, expected):
    row = pd.Series({"prior det": det, "prior logit": logit, "kind": kind})
    assert stages.direction(row) == expected


def test_prepare_sets_the_priors_and_drops_the_estimate(stages, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"parameter": ["asc", "theta", "vor"], "value": ["9", "2", "0.5"],
                  "prior_value": ["1", "", "0.3"]}).to_csv(data / "choice_parameter.csv",
                                                          index=False)
    (data / "od_estimate.csv").write_text("x\n")
    work = tmp_path / "work"
    work.mkdir()
    plan = stages.prepare(data, work)
    assert [plan[s][1] for s in stages.STAGES] == ["deterministic", "logit", "logit", "logit"]
    prior = pd.read_csv(plan["prior det"][0] / "choice_parameter.csv", dtype=str,
                        keep_default_na=False)
    assert prior["value"].tolist() == ["1", "2", "0.3"]  # no prior: the value stays
    assert not (plan["prior logit"][0] / "od_estimate.csv").exists()
    assert not (plan["calibrated"][0] / "od_estimate.csv").exists()
    calibrated = pd.read_csv(plan["calibrated"][0] / "choice_parameter.csv", dtype=str)
    assert calibrated["value"].tolist() == ["9", "2", "0.5"]
    assert (plan["shipped"][0] / "od_estimate.csv").exists()  # the dataset as it is


def test_markdown_marks_missing_values(stages):
    text = stages.markdown(pd.DataFrame({"a": [1.0, None], "b": ["x", "y"]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.0 | x |", "| – | y |"]


def test_keep_refuses_a_folder_that_is_not_empty(stages, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not empty"):
        stages.main(["--keep", str(tmp_path)])
    assert (tmp_path / "mine.txt").read_text() == "keep me"
