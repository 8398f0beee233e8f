"""What an experiment's result gives a user directly: its tables, the probability of a
statement of their own and the inputs that decide any output (a linear model, whose answers
are known)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from karvan.errors import InputError
from karvan.explore.analysis import analyse_experiment
from karvan.explore.inputs import ranges_inputs
from karvan.explore.runner import ModelSpec, run_experiment
from karvan.explore.testfunctions import LinearModel


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """The project gives y = 3a - 0.1b, its reference y = a - 0.1b: the effect is 2a, which
    only a decides; 40 Latin-hypercube draws."""
    inputs = ranges_inputs({"a": (0.0, 2.0), "b": (10.0, 11.0)})
    specs = [ModelSpec("project", functools.partial(LinearModel, (3.0, -0.1)), "ref"),
             ModelSpec("ref", functools.partial(LinearModel, (1.0, -0.1)))]
    return run_experiment(specs, inputs, draws=40, seed=5, workers=0,
                          folder=tmp_path_factory.mktemp("res") / "e",
                          analyse=analyse_experiment)


def test_the_tables_are_properties_of_the_result(res):
    exp = res.experiment
    pd.testing.assert_frame_equal(res.bands, exp.table("bands"))
    pd.testing.assert_frame_equal(res.statements, exp.table("statements"))
    pd.testing.assert_frame_equal(res.sensitivity, exp.table("sensitivity"))
    e = res.effects
    assert (e["kind"] == "effect").all() and list(e["output"]) == ["effect:y"]
    assert list(e["reference"]) == ["ref"]
    d = res.draws("project")
    assert set(d["scenario"]) == {"project"} and len(d) == 41  # 40 draws and the central case
    x = res.draws()
    y = x[x["draw"] >= 0].pivot(index="draw", columns="scenario", values="out:y")
    assert e.at[0, "p50"] == pytest.approx(np.median(y["project"] - y["ref"]))


def test_the_probability_of_a_statement_of_ones_own(res):
    d = res.draws()
    d = d[d["draw"] >= 0].pivot(index="draw", columns="scenario", values="out:y")
    effect = d["project"] - d["ref"]
    cut = float(np.median(effect))
    p = res.probability("project", "effect:y", ">", cut)
    assert p["probability"] == pytest.approx(float((effect > cut).mean()))
    assert p["n"] == 40 and p["scenario"] == "project"
    # the central case (a = b = 0) has an effect of 0
    assert not p["central_holds"]
    lev = res.probability("project", "y", "<", "y")
    assert lev["probability"] == 0.0
    # nothing is written: the stored statements are the summary's
    assert "asked" not in set(res.statements.get("statement_id", []))


def test_the_inputs_that_decide_any_output(res):
    s = res.deciding_inputs("project", "effect:y")
    assert list(s["factor"][:1]) == ["x.a"]
    assert s.at[0, "rho"] == pytest.approx(1.0) and bool(s.at[0, "significant"])
    assert not bool(s.loc[s["factor"] == "x.b", "significant"].iloc[0])
    assert list(s.columns[-2:]) == ["importance", "significant"]


@pytest.mark.parametrize("args, match", [
    (("nowhere", "y", ">", 0), "no scenario 'nowhere'"),
    (("project", "effect:z", ">", 0), "nearest: effect:y"),
    (("ref", "effect:y", ">", 0), "no like-year reference"),
    (("project", "effect:y", ">", "y"), "an effect with an effect"),
    (("project", "y", ">=", 0), "op must be"),
])
def test_a_question_the_experiment_cannot_answer_says_why(res, args, match):
    with pytest.raises(InputError, match=match):
        res.probability(*args)


def test_a_stored_experiment_opens_as_a_result(res, tmp_path):
    from karvan.explore import ExperimentResult

    again = ExperimentResult.open(res.folder)
    pd.testing.assert_frame_equal(again.bands, res.bands)
    assert (again.computed, again.resumed) == (0, 0)
    with pytest.raises(InputError, match="holds no experiment"):
        ExperimentResult.open(tmp_path)


def test_docs_explore_names_what_the_result_has():
    """docs/explore.md's table of ExperimentResult names only what it has, and its worked
    example is Python that compiles."""
    import re
    from pathlib import Path

    from karvan.explore import ExperimentResult

    text = (Path(__file__).resolve().parents[2] / "docs" / "explore.md").read_text(
        encoding="utf-8")
    named = set(re.findall(r"^\| `\.(\w+)", text, flags=re.M))
    assert {"bands", "effects", "statements", "sensitivity", "draws", "probability",
            "deciding_inputs", "experiment"} <= named
    assert all(hasattr(ExperimentResult, n) for n in named)
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks
    for b in blocks:
        compile(b, "docs/explore.md", "exec")
