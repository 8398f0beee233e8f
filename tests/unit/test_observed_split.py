"""The fit/validate split of ``observed.csv`` follows the rule written in docs/dataset.md
(section "Calibration and validation"), for every row, including rows added later."""

from __future__ import annotations

import pandas as pd
import pytest

from karvan.freight.corridor import builtin_corridor_folder


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return pd.read_csv(builtin_corridor_folder() / "observed.csv", dtype=str,
                       keep_default_na=False)


def test_independence_is_stated_and_explained(observed):
    assert set(observed["independent"]) <= {"true", "false"}
    dependent = observed["independent"] == "false"
    # a figure used to build an input names that input; an independent one names none
    assert (observed.loc[dependent, "used_for"].str.strip() != "").all()
    assert (observed.loc[~dependent, "used_for"].str.strip() == "").all()


def test_role_follows_the_written_rule(observed):
    assert set(observed["role"]) <= {"fit", "validate"}
    rule = (observed["independent"] == "true") & (observed["kind"] == "port")
    wrong = observed.loc[(observed["role"] == "validate") != rule, "observed_id"]
    assert wrong.empty, f"role differs from the split rule on {list(wrong)}"


def test_at_least_a_third_of_the_independent_rows_validate(observed):
    ind = observed[observed["independent"] == "true"]
    assert len(ind) > 0
    assert (ind["role"] == "validate").sum() * 3 >= len(ind)


def test_directions_are_of_the_documented_forms(observed):
    for r in observed.itertuples(index=False):
        ok = r.direction in ("both", "element") or (
            r.direction.count(">") == 1 and ";" not in r.element_ids and "+" not in r.element_ids)
        assert ok, (r.observed_id, r.direction)
        if r.direction == "element":
            assert "<>" in r.element_ids or ">" in r.element_ids, r.observed_id
