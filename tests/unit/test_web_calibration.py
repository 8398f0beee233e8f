"""The dashboard shows each run's calibration: the stored runs list the median |ln M/C| of the
fit and validation rows, and a run's page carries the report's calibration section."""

from __future__ import annotations

import warnings

import pytest

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario, save_run
from karvan.store import RunStore
from karvan.web import create_app

with warnings.catch_warnings():  # starlette warns that it prefers httpx2 to httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    data = load_corridor()
    root = tmp_path_factory.mktemp("store")
    run = run_scenario(data, load_scenario("baseline"), lp=False)
    return root, save_run(run, RunStore(root), data), run, data


def test_runs_list_and_run_page_show_the_calibration(seeded):
    root, rid, run, data = seeded
    s = run.tables["calibration_summary"].set_index("set")
    want = (f"fit {s.at['fit', 'median_abs_log_ratio']:.2f} · validate "
            f"{s.at['validate', 'median_abs_log_ratio']:.2f}")
    with TestClient(create_app(root, data=data), base_url="http://127.0.0.1:8000") as c:
        rows = c.get("/fragments/runs").text
        assert want in rows
        rep = c.get(f"/runs/{rid}/report")
        assert rep.status_code == 200 and 'class="chart cal"' in rep.text
        assert "Calibration against reported volumes" in rep.text
        csv = c.get(f"/runs/{rid}/tables/calibration.csv")
        assert csv.status_code == 200 and csv.text.startswith("observed_id")
