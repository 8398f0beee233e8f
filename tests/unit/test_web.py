"""The dashboard through FastAPI's test client: stored runs listed and shown, the scenario form
validated (422 with every problem), scenarios run in the background to completion and saved,
two at once, and compared."""

from __future__ import annotations

import ast
import json
import shutil
import time
import tomllib
import warnings
from pathlib import Path

import pytest

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario, save_run
from karvan.scenario.spec import ScenarioFile
from karvan.store import RunStore
from karvan.web import create_app

with warnings.catch_warnings():  # starlette warns that it prefers httpx2 to httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SRC = Path(__file__).resolve().parents[2] / "src" / "karvan"
#: most seconds a background run may take here (a corridor run without the LP takes ~1 s)
RUN_TIMEOUT_S = 60.0
#: the dashboard as a browser on this machine addresses it
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def data():
    return load_corridor()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, data) -> tuple[Path, str]:
    """A store holding one baseline run (no LP)."""
    root = tmp_path_factory.mktemp("store")
    run = run_scenario(data, load_scenario("baseline"), lp=False)
    return root, save_run(run, RunStore(root), data)


@pytest.fixture
def client(seeded, data):
    with TestClient(create_app(seeded[0], data=data), base_url=BASE) as c:
        yield c


def form(**kw) -> dict:
    base = {"name": "no_astara", "title": "Astara closed", "year": "2024",
            "extends": "baseline", "borders": {"AZ-IR_ASTARA": "close"}, "lp": False}
    return {**base, **kw}


def wait(client, job_id: str) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < RUN_TIMEOUT_S:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("complete", "failed"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish in {RUN_TIMEOUT_S} s: {job}")


def test_lists_stored_runs(client, seeded):
    _, rid = seeded
    page = client.get("/")
    assert page.status_code == 200
    assert f'href="/runs/{rid}"' in page.text and "Build a scenario" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # nothing from elsewhere
    runs = client.get("/api/runs").json()
    assert [r["run_id"] for r in runs] == [rid]
    assert runs[0]["scenario"] == "baseline" and runs[0]["year"] == 2024
    assert rid in client.get("/fragments/runs").text


def test_shows_a_run_map_and_tables(client, seeded):
    _, rid = seeded
    page = client.get(f"/runs/{rid}")
    assert page.status_code == 200 and f'src="/runs/{rid}/report?lang=en"' in page.text
    rep = client.get(f"/runs/{rid}/report", params={"lang": "fa"})
    assert rep.status_code == 200 and 'dir="rtl"' in rep.text
    rep = client.get(f"/runs/{rid}/report")
    assert "map flows" in rep.text and "<table" in rep.text
    borders = client.get(f"/api/runs/{rid}/tables/borders", params={"limit": 3}).json()
    assert len(borders) == 3 and {"border_id", "tonnes_tot"} <= set(borders[0])
    csv = client.get(f"/runs/{rid}/tables/links.csv")
    assert csv.status_code == 200 and csv.text.startswith("link_id")
    got = client.get(f"/api/runs/{rid}").json()
    assert got["manifest"]["scenario"]["name"] == "baseline"
    # the folder within the store: the server's own folders are not shown (they were)
    assert got["path"] == f"runs/{rid}" and (seeded[0] / got["path"]).is_dir()
    assert str(seeded[0]) not in json.dumps(got)


def test_unknown_runs_tables_and_languages_answer_404(client, seeded):
    _, rid = seeded
    assert client.get("/runs/20990101-000000-nope-0000").status_code == 404
    r = client.get("/api/runs/nope")
    assert r.status_code == 404 and "GET /api/runs" in r.json()["problems"][0]
    assert client.get(f"/api/runs/{rid}/tables/..%2Fcatalog").status_code == 404
    assert client.get(f"/runs/{rid}/tables/manifest.csv").status_code == 404
    assert client.get("/api/jobs/j000").status_code == 404
    # an unknown language is a bad parameter, not a missing page
    r = client.get(f"/runs/{rid}/report", params={"lang": "xx"})
    assert r.status_code == 422 and "lang" in r.text


def test_not_found_answers_name_files_relative_to_the_store(tmp_path, seeded, data):
    """A 404 or a 422 named files by their absolute paths (/srv/.../runs/<id>/links.parquet)
    and gave a command line with the store's folder: where the server keeps its files."""
    root, rid = seeded
    store = tmp_path / "store"
    shutil.copytree(root, store)
    (store / "runs" / rid / "links.parquet").unlink()
    gone = save_run(run_scenario(data, load_scenario("baseline"), lp=False), RunStore(store),
                    data)
    with TestClient(create_app(store, data=data), base_url=BASE) as c:
        shutil.rmtree(store / "runs" / gone)  # while the dashboard runs
        answers = {url: c.get(url) for url in (
            "/runs/20990101-000000-nope-0000", "/api/runs/nope", f"/api/runs/{gone}",
            f"/api/runs/{rid}/tables/links", f"/api/compare?a={rid}&b={rid}",
            f"/runs/{rid}/report")}
    for url, r in answers.items():
        assert r.status_code in (404, 422), (url, r.status_code)
        assert str(tmp_path) not in r.text and str(store.resolve()) not in r.text, (url, r.text)
    assert "GET /api/runs" in answers["/api/runs/nope"].json()["detail"]
    assert f"runs/{gone} is gone" in answers[f"/api/runs/{gone}"].json()["detail"]
    assert f"runs/{rid}/links.parquet" in answers[f"/api/runs/{rid}/tables/links"].json()["detail"]


def test_a_table_whose_file_is_gone_is_said_so(tmp_path, seeded, data):
    """A table the run lists whose Parquet file is gone was said to be no table of the run,
    followed by a list of its tables that named it."""
    root, rid = seeded
    store = tmp_path / "store"
    shutil.copytree(root, store)
    (store / "runs" / rid / "links.parquet").unlink()
    with TestClient(create_app(store, data=data), base_url=BASE) as c:
        r = c.get(f"/api/runs/{rid}/tables/links")
    assert r.status_code == 404
    assert r.json()["detail"] == (
        f"run {rid} (baseline) lacks its table(s) links (runs/{rid}/links.parquet is missing), "
        "so it cannot be shown or compared; run baseline again, or pick another run.")


def test_form_problems_answer_422_with_every_message(client):
    bad = form(name="baseline", year="20x0", extends="nowhere",
               borders={"AZ-IR_ASTARA": "shut", "XX-YY_NOWHERE": "close"},
               links={"R_NO_SUCH_LINK": "open"},
               capacity=[{"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": "lots"},
                         {"target": "NOPE", "capacity_mt": "5"}],
               demand=[{"factor": "-2", "origin_country": "ZZ", "commodity": "gold"}])
    r = client.post("/api/jobs", json=bad)
    assert r.status_code == 422
    problems = r.json()["problems"]
    text = "\n".join(problems)
    for needle in ["'baseline' is the name of a reference", "'20x0' is not a whole year",
                   "'nowhere' is not a built-in scenario", "XX-YY_NOWHERE", "\"open\" or",
                   "R_NO_SUCH_LINK", "'lots' is not a number", "'NOPE' is not a link id",
                   "-2 is below 0", "'ZZ' has no zones", "unknown commodity 'gold'"]:
        assert needle in text, (needle, problems)
    assert client.get("/api/jobs").json() == []  # nothing was started
    # a reference's name (a comparison of a like-year project took it for the reference) and a
    # built-in scenario's name are refused
    for name, why in (("reference_2031", "is the name of a reference"),
                      ("backcast_2023", "is the name of a reference"),
                      ("rasht_astara", "is the name of a built-in scenario")):
        r = client.post("/api/jobs", json=form(name=name))
        assert r.status_code == 422 and why in "\n".join(r.json()["problems"]), name
    r = client.post("/api/jobs", json=form(year=1990))
    assert r.status_code == 422 and "1990 is out of range" in r.json()["problems"][0]
    # the form's last year is the dataset's (it said 2100 where the dataset ends at 2074)
    from karvan.freight.corridor import YEARS_AFTER_BASE

    last = 2024 + YEARS_AFTER_BASE
    assert client.get("/api/options").json()["max_year"] == last
    r = client.post("/api/jobs", json=form(year=last + 1))
    assert r.status_code == 422 and f"from the data's base year 2024 to {last}." in r.json()[
        "problems"][0]
    assert client.post("/api/scenario/preview", json=form(year=last)).status_code == 200
    r = client.post("/api/scenario/preview", json=form(year=2031, name="bad name!"))
    assert r.status_code == 422 and "name: 'bad name!'" in r.json()["problems"][0]
    # a border's capacity would be set on each of its links: links only
    r = client.post("/api/jobs", json=form(capacity=[{"target": "AZ-IR_ASTARA",
                                                      "capacity_mt": 5}]))
    assert r.status_code == 422 and "border of several links" in r.json()["problems"][0]


def test_posts_must_be_json_from_the_dashboard_itself(client):
    import json as _json

    body = _json.dumps(form())
    r = client.post("/api/scenario/preview", content=body,
                    headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["problems"][0]
    r = client.post("/api/scenario/preview", content=body,
                    headers={"content-type": "application/json",
                             "origin": "http://evil.example"})
    assert r.status_code == 403 and "its Origin is http://evil.example" in r.json()["detail"]
    r = client.get("/api/options", params={"extends": "/etc/passwd"})
    assert r.status_code == 422
    r = client.post("/api/jobs", content=b"{not json", headers={"content-type":
                                                                "application/json"})
    assert r.status_code == 422 and "not JSON" in r.json()["detail"]
    # the page's own origin is fine
    r = client.post("/api/scenario/preview", content=body,
                    headers={"content-type": "application/json", "origin": BASE})
    assert r.status_code == 200, r.json()


def test_a_decimal_comma_is_refused_not_read_as_thousands(client):
    """'1,5' was read as 15 (the Russian report writes decimals with a comma)."""
    r = client.post("/api/scenario/preview", json=form(demand=[{"factor": "1,5"}]))
    assert r.status_code == 422 and "use a point for decimals" in r.text
    r = client.post("/api/scenario/preview", json=form(
        capacity=[{"target": "B_RU_AZ_SAMUR_RAIL", "capacity_mt": "1,500"}]))
    assert r.status_code == 200, r.json()
    spec = ScenarioFile.model_validate(tomllib.loads(r.json()["toml"]))
    assert spec.modification[-1].value == 1500e6


def test_a_title_with_a_control_character_is_written_as_valid_toml(client):
    r = client.post("/api/scenario/preview", json=form(title="a\u007fb"))
    assert r.status_code == 200, r.json()
    assert tomllib.loads(r.json()["toml"])["title"] == "a\u007fb"


@pytest.mark.parametrize(("lp", "status"), [(0, 202), ("no", 202), ("maybe", 422)])
def test_lp_is_a_yes_or_no(client, lp, status):
    """The form's lp 0 or 'no' ran the capacity LP; anything else was taken for yes."""
    r = client.post("/api/jobs", json=form(name=f"lp_{status}_{lp}", lp=lp))
    assert r.status_code == status, r.text
    if status == 202:
        job = wait(client, r.json()["job_id"])
        assert job["status"] == "complete" and job.get("lp") is False, job


def test_preview_writes_the_documented_toml(client):
    r = client.post("/api/scenario/preview", json=form(
        year=2030, extends="rasht_astara", links={"R_AZ_ALAT_OSMANLI": "close"},
        capacity=[{"target": "B_RU_AZ_SAMUR_RAIL", "capacity_mt": "15"}],
        demand=[{"factor": "1.5", "origin_country": "RU", "destination_country": "IN",
                 "commodity": "containers"}]))
    assert r.status_code == 200, r.json()
    spec = ScenarioFile.model_validate(tomllib.loads(r.json()["toml"]))
    assert (spec.name, spec.year, spec.extends) == ("no_astara", 2030, "rasht_astara")
    acts = [(m.action, m.borders, m.links, m.value, m.factor) for m in spec.modification]
    assert acts == [("close", ("AZ-IR_ASTARA",), (), None, None),
                    ("close", (), ("R_AZ_ALAT_OSMANLI",), None, None),
                    ("set", (), ("B_RU_AZ_SAMUR_RAIL",), 15e6, None),
                    ("demand_scale", (), (), None, 1.5)]
    # the scenario resolved its parent: the built-in chain comes first
    assert r.json()["scenario"]["chain"] == ["no_astara", "rasht_astara", "baseline"]


def test_a_background_run_completes_and_is_stored(client, seeded):
    root, base_id = seeded
    r = client.post("/api/jobs", json=form())
    assert r.status_code == 202
    job = wait(client, r.json()["job_id"])
    assert job["status"] == "complete", job
    assert job["progress"] == 1.0
    # the dashboard runs the default choice model (karvan run's)
    assert "no_astara: nested logit equilibrium with capacities" in job["messages"]
    assert "no_astara: capacity LP" not in job["messages"]  # lp=False
    rid = job["run_id"]
    assert rid in RunStore(root).list()["run_id"].tolist()
    rec = RunStore(root).get(rid)
    # no LP solved: no count of its binding capacities (it said 0)
    assert rec.manifest["summary"]["lp_binding"] is None
    mods = rec.table("modifications")
    assert "B_AZ_IR_ASTARA_RAIL" in ";".join(mods["targets"])
    # a closed border carries nothing: it leaves the result tables
    assert "AZ-IR_ASTARA" not in set(rec.table("borders")["border_id"])
    assert "AZ-IR_ASTARA" in set(RunStore(root).get(base_id).table("borders")["border_id"])
    assert client.get(f"/runs/{rid}").status_code == 200
    # compared with the baseline: the Astara border loses its flow
    diff = client.get("/api/compare", params={"a": base_id, "b": rid}).json()
    astara = next(x for x in diff["borders"] if x["border_id"] == "AZ-IR_ASTARA")
    assert astara["tonnes_tot_b"] == 0 and astara["tonnes_tot_diff"] < 0
    assert client.get("/compare", params={"a": base_id, "b": rid}).status_code == 200
    rep = client.get("/compare/report", params={"a": base_id, "b": rid})
    assert rep.status_code == 200 and "map diff" in rep.text


def test_an_unusual_value_is_shown_to_the_user_and_recorded_with_the_run(client, seeded):
    # a capacity typed in t/yr into the Mt/yr box: allowed, but warned of in the form's answer,
    # the job and the stored run's manifest (it reached only the server's standard error)
    f = form(name="tiny_cap", borders={},
             capacity=[{"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": 0.000015}])
    pre = client.post("/api/scenario/preview", json=f).json()
    assert len(pre["warnings"]) == 1 and "check the unit" in pre["warnings"][0], pre
    r = client.post("/api/jobs", json=f)
    assert r.status_code == 202 and r.json()["warnings"] == pre["warnings"]
    job = wait(client, r.json()["job_id"])
    assert job["status"] == "complete", job
    assert job["warnings"][0] == pre["warnings"][0]
    assert f"warning: {pre['warnings'][0]}" in job["messages"]
    rec = RunStore(seeded[0]).get(job["run_id"])
    assert pre["warnings"][0] in rec.manifest["warnings"]
    # a form without one warns of nothing
    assert client.post("/api/scenario/preview", json=form()).json()["warnings"] == []


def test_two_runs_started_at_once_both_complete(client, seeded):
    root, _ = seeded
    before = set(RunStore(root).list()["run_id"])
    a = client.post("/api/jobs", json=form(name="same_time"))
    b = client.post("/api/jobs", json=form(name="same_time", borders={},
                                           demand=[{"factor": 2}]))
    assert a.status_code == b.status_code == 202
    jobs = [wait(client, r.json()["job_id"]) for r in (a, b)]
    assert [j["status"] for j in jobs] == ["complete", "complete"], jobs
    # a name already in the store is said to take the name over
    c = client.post("/api/jobs", json=form(name="same_time", borders={}))
    assert c.status_code == 202
    assert any("the store holds 2 run(s) named same_time" in w and "becomes the latest" in w
               for w in c.json()["warnings"]), c.json()
    jobs.append(wait(client, c.json()["job_id"]))
    ids = {j["run_id"] for j in jobs}
    assert len(ids) == 3
    store = RunStore(root)
    assert set(store.list()["run_id"]) == before | ids
    assert store.repair() == {"temporary_folders": 0, "relisted_folders": 0,
                              "damaged_folders": 0, "missing_folders": 0}
    listed = {j["job_id"] for j in client.get("/api/jobs").json()}
    assert {r.json()["job_id"] for r in (a, b)} <= listed


def test_runs_of_one_name_posted_at_once_are_saved_in_the_order_posted(client, seeded,
                                                                       monkeypatch):
    """Two runs of one name posted at once were saved in the order they finished, so the name
    (which compare and the report take) went to the faster one, and the second post was not
    told of the first: the one posted last is said to, and does, become the name's latest."""
    import karvan.web.jobs as jobs

    solve = jobs.run_scenario

    def slow_first(data, scenario, **kw):
        if scenario.title == "posted first":
            time.sleep(1.5)  # finishes after the one posted second
        return solve(data, scenario, **kw)

    monkeypatch.setattr(jobs, "run_scenario", slow_first)
    a = client.post("/api/jobs", json=form(name="posted_at_once", title="posted first"))
    b = client.post("/api/jobs", json=form(name="posted_at_once", title="posted second",
                                           borders={}))
    assert a.status_code == b.status_code == 202
    ja = a.json()["job_id"]
    assert any(ja in w and "becomes the latest" in w for w in b.json()["warnings"]), b.json()
    done = [wait(client, r.json()["job_id"]) for r in (a, b)]
    assert [j["status"] for j in done] == ["complete", "complete"], done
    runs = RunStore(seeded[0]).list(scenario="posted_at_once")
    assert list(runs["run_id"]) == [done[0]["run_id"], done[1]["run_id"]]


def test_a_run_waiting_for_an_earlier_one_of_its_name_is_not_saved_when_the_dashboard_stops(
        tmp_path, data, monkeypatch):
    """Stopped while waiting, the later run was saved at once, and the earlier one, which the
    interpreter lets finish, after it: the name's latest run was the one posted first."""
    import dataclasses
    import threading

    import karvan.web.jobs as J

    first_running, release = threading.Event(), threading.Event()
    saved: list[str] = []

    def run(data, scenario, **kw):
        if scenario.title == "first":
            first_running.set()
            release.wait(10)
        return scenario.title

    monkeypatch.setattr(J, "run_scenario", run)
    monkeypatch.setattr(J, "save_run", lambda r, store, data: saved.append(r) or r)
    monkeypatch.setattr(J, "_parallel_runs_safe", lambda: True)
    reg = J.JobRegistry(RunStore(tmp_path / "store"), lambda: data, workers=2)
    base = load_scenario("rasht_astara")
    ja = reg.submit(dataclasses.replace(base, title="first"), "", lp=False)["job_id"]
    jb = reg.submit(dataclasses.replace(base, title="second"), "", lp=False)["job_id"]
    assert first_running.wait(10)
    t0 = time.monotonic()
    while not any("waiting for job" in m for m in reg.get(jb)["messages"]):
        assert time.monotonic() - t0 < 10
        time.sleep(0.05)
    reg.shutdown(wait=False)
    t0 = time.monotonic()
    while reg.get(jb)["status"] != "stopped":
        assert time.monotonic() - t0 < 10, reg.get(jb)
        time.sleep(0.05)
    release.set()
    t0 = time.monotonic()
    while reg.get(ja)["status"] in ("queued", "running") and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert saved == ["first"], saved
    assert "earlier run of its name was running; not saved" in reg.get(jb)["error"]


def test_a_job_stopped_with_the_dashboard_is_said_so_in_one_line(seeded, data, monkeypatch,
                                                                   caplog):
    """Ctrl-C during a run printed a traceback ("cannot schedule new futures after interpreter
    shutdown") and the job was recorded as failed; it is recorded as stopped, nothing saved."""
    import threading

    import karvan.web.jobs as J

    started, release = threading.Event(), threading.Event()

    def interrupted(*a, **k):
        started.set()
        release.wait(10)
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(J, "run_scenario", interrupted)
    reg = J.JobRegistry(RunStore(seeded[0]), lambda: data, workers=1)
    job = reg.submit(load_scenario("rasht_astara"), "", lp=False)
    assert started.wait(10)
    running = reg.shutdown(wait=False)
    assert [j["job_id"] for j in running] == [job["job_id"]]
    release.set()
    t0 = time.monotonic()
    while reg.get(job["job_id"])["finished"] is None and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    done = reg.get(job["job_id"])
    assert done["status"] == "stopped" and "what it had not saved is lost" in done["error"]
    assert not [r for r in caplog.records if r.levelno >= 40]  # no traceback logged
    assert any("stopped with the dashboard" in r.getMessage() for r in caplog.records)


def test_form_messages_name_the_forms_rows_not_the_generated_file(data):
    """Errors and warnings of the scenario built from a form cited the generated TOML's line
    and a modification index (counted over the scenarios it extends), and a value in t/yr
    where the user typed Mt/yr."""
    from karvan.errors import InputError
    from karvan.web.forms import build_scenario

    f = form(name="rows", year=2030, extends="rasht_astara", borders={},
             demand=[{"factor": 2.0, "origin_country": "RU"}],
             capacity=[{"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": 0.000015}])
    scenario, _ = build_scenario(f, data)
    assert len(scenario.warned) == 1
    said = scenario.warned[0]
    assert said.startswith("rows: capacity row 1 (R_AZ_ALAT_OSMANLI: 1.5e-05 Mt/yr = 15 t/yr)")
    assert "modification[" not in said and "check the unit" in said
    with pytest.raises(InputError) as e:
        build_scenario(form(name="rows", borders={}, demand=[{"factor": 1e9}]), data)
    assert e.value.problems[0].startswith("demand row 1 factor: Input should be less than or "
                                          "equal to 1000"), e.value.problems
    assert not any("line " in p or "modification[" in p for p in e.value.problems)


def test_a_form_takes_no_other_threads_warnings(data):
    """The form's check caught warnings process-wide: another thread's warning (a run of the
    dashboard) landed in this user's form answer and run, and the other thread lost it."""
    import threading

    from karvan.errors import recording_warnings
    from karvan.freight.corridor import CorridorWarning
    from karvan.web.forms import build_scenario

    stop, b_said = threading.Event(), []

    def other_run():
        with recording_warnings(b_said):
            while not stop.is_set():
                warnings.warn("another job's own warning", CorridorWarning, stacklevel=1)
                time.sleep(0.0005)

    f = form(name="mine", borders={},
             capacity=[{"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": 0.000015}])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", CorridorWarning)
        t = threading.Thread(target=other_run)
        t.start()
        try:
            for _ in range(5):
                scenario, _ = build_scenario(f, data)
                assert len(scenario.warned) == 1 and "check the unit" in scenario.warned[0]
        finally:
            stop.set()
            t.join(10)
    assert b_said and set(b_said) == {"another job's own warning"}


def test_web_stays_above_the_layers_below():
    for pkg in ("scenario", "store", "report", "freight", "io"):
        for f in (SRC / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith("karvan.web"), f


def test_serve_defaults_to_loopback():
    import inspect

    from karvan.cli.serve import is_loopback as _loopback
    from karvan.cli.serve import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert _loopback("127.0.0.1") and _loopback("localhost") and _loopback("::1")
    assert not _loopback("0.0.0.0") and not _loopback("example.org")


# -- hardening ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "", "192.168.1.7:8000"])
def test_a_foreign_host_is_refused_before_any_route(client, host):
    """A DNS-rebinding page reaches 127.0.0.1 with its own name in Host: refused, and nothing
    is started."""
    for method, url in (("GET", "/"), ("GET", "/api/runs"), ("POST", "/api/jobs")):
        r = client.request(method, url, headers={"host": host}, json=form(name="rebound"))
        assert r.status_code == 400, (host, url, r.status_code)
        assert "is not served here" in r.json()["detail"]
    assert all(j["scenario"] != "rebound" for j in client.get("/api/jobs").json())


@pytest.mark.parametrize("url", ["/api/jobs", "/api/scenario/preview", "/api/experiments"])
@pytest.mark.parametrize(("headers", "status"), [
    ({"origin": "http://evil.example"}, 403), ({"origin": "null"}, 403),
    ({"origin": "http://127.0.0.1:9999"}, 403), ({"sec-fetch-site": "cross-site"}, 403),
    ({"sec-fetch-site": "same-site"}, 403), ({"content-type": "text/plain"}, 415),
    ({"content-type": ""}, 415), ({"content-type": "application/x-www-form-urlencoded"}, 415),
])
def test_every_change_is_refused_from_other_sites_pages(client, url, headers, status):
    """A page on another site can post text/plain, a form or a blob without the browser asking
    first (no preflight): /api/experiments checked neither the Origin nor the content type, and
    started 100,000 draws from any page (with FastAPI before 0.132, which the project allows).
    One check in the guard now covers every route that changes something."""
    import json as _json

    body = (_json.dumps({"draws": 64, "sampler": "sobol"}) if url == "/api/experiments"
            else _json.dumps(form(name="foreign")))
    before = client.get("/api/experiments").json() if url == "/api/experiments" else None
    sent = {"content-type": "application/json", **headers}
    r = client.post(url, content=body, headers={k: v for k, v in sent.items() if v})
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["problems"], r.json()
    assert all(j.get("scenario") != "foreign" for j in client.get("/api/jobs").json())
    if before is not None:
        assert client.get("/api/experiments").json() == before


def test_a_store_deleted_while_the_dashboard_runs_is_said_so(tmp_path, seeded, data):
    """Every page and the API answered a bare "500 Internal Server Error" (sqlite3's "unable to
    open database file" in the log)."""
    root = tmp_path / "store"
    shutil.copytree(seeded[0], root)
    with TestClient(create_app(root, data=data), base_url=BASE) as c:
        assert c.get("/api/runs").status_code == 200
        shutil.rmtree(root)
        r = c.get("/api/runs")
        assert r.status_code == 503, r.text
        assert "the run store is gone" in r.json()["detail"]
        # where the server keeps its files is in its log, not in the answer
        assert str(root.resolve()) not in r.text and str(root) not in r.text
        assert "start it again with --store" in r.json()["problems"][0]
        page = c.get("/")
        assert page.status_code == 503 and "is gone" in page.text
    # the catalog alone deleted: SQLite made an empty file there (said "no such table: runs")
    shutil.copytree(seeded[0], root)
    with TestClient(create_app(root, data=data), base_url=BASE) as c:
        (root / "catalog.sqlite").unlink()
        for f in root.glob("catalog.sqlite-*"):
            f.unlink()
        r = c.get("/api/runs")
        assert r.status_code == 503 and "is gone (its catalog.sqlite is missing)" in r.text
        assert not (root / "catalog.sqlite").exists()


def test_a_name_that_is_not_a_text_is_refused(client):
    # "name": true made a scenario named "True"
    r = client.post("/api/scenario/preview", json=form(name=True))
    assert r.status_code == 422 and "name: True is not a text" in r.json()["problems"][0]


def test_the_dashboards_own_page_behind_a_reverse_proxy_may_post(client):
    """A reverse proxy (nginx) passes Host 127.0.0.1:8000 while the page is https://karvan.example:
    its posts were refused although the browser said same-origin."""
    r = client.post("/api/scenario/preview", json=form(),
                    headers={"origin": "https://karvan.example", "sec-fetch-site": "same-origin"})
    assert r.status_code == 200, r.text
    r = client.post("/api/scenario/preview", json=form(),
                    headers={"origin": "https://karvan.example", "sec-fetch-site": "cross-site"})
    assert r.status_code == 403


def test_the_dashboard_may_not_be_framed_by_other_sites(client):
    for url in ("/", "/api/runs", "/nowhere"):
        r = client.get(url)
        assert r.headers["content-security-policy"] == "frame-ancestors 'self'", url
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert r.headers["x-content-type-options"] == "nosniff"
    r = client.get("/", headers={"host": "evil.example"})  # answered by the guard itself
    assert r.status_code == 400 and r.headers["x-frame-options"] == "SAMEORIGIN"
    # FastAPI's API pages load Swagger UI from a CDN, with this origin's rights
    assert client.get("/api/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000",
                                  "127.0.0.1"])
def test_loopback_names_are_served(client, host):
    assert client.get("/api/runs", headers={"host": host}).status_code == 200


def test_the_bound_address_and_named_hosts_are_served(seeded, data):
    app = create_app(seeded[0], data=data, host="10.1.2.3", allow_hosts=["corridor-box"])
    with TestClient(app, base_url="http://10.1.2.3:8000") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"host": "corridor-box:8000"}).status_code == 200
        assert c.get("/api/runs", headers={"host": "other-box"}).status_code == 400
    # a wildcard bind does not open the door to every name
    with TestClient(create_app(seeded[0], data=data, host="0.0.0.0"),
                    base_url="http://0.0.0.0:8000") as c:
        assert c.get("/api/runs").status_code == 400
        assert c.get("/api/runs", headers={"host": "localhost"}).status_code == 200


def test_oversized_bodies_are_refused_without_being_read(client):
    from karvan.web.guard import MAX_BODY_BYTES

    big = form(demand=[{"factor": 1.5, "origin_country": "RU"}] * 300_000)
    t0 = time.perf_counter()
    r = client.post("/api/jobs", json=big)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert time.perf_counter() - t0 < 5.0
    # chunked, without a Content-Length: counted while read
    def chunks():
        yield b'{"name": "x", "title": "'
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b"a" * 1000
        yield b'"}'
    r = client.post("/api/scenario/preview", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = client.post("/api/jobs", content=b"{}", headers={"content-type": "application/json",
                                                         "content-length": "lots"})
    assert r.status_code == 400
    assert client.get("/api/jobs").json() == [] or all(
        j["scenario"] != "x" for j in client.get("/api/jobs").json())


def test_forms_too_big_for_their_fields_answer_422_with_locations(client):
    r = client.post("/api/jobs", json=form(demand=[{"factor": 1.1}] * 501))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "demand"]
    r = client.post("/api/jobs", json=form(title="t" * 501))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "title"]
    r = client.post("/api/jobs", json=form(borders={f"B{i}": "close" for i in range(501)}))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "borders"]


@pytest.mark.parametrize("bad, loc", [
    ({"capacity": {"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": 5}}, ["body", "capacity"]),
    ({"demand": {"factor": 2}}, ["body", "demand"]),
    ({"borders": ["AZ-IR_ASTARA"]}, ["body", "borders"]),
    ({"borders": {"AZ-IR_ASTARA": {"state": "close"}}}, ["body", "borders", "AZ-IR_ASTARA"]),
    ({"demand": [{"factor": [2]}]}, ["body", "demand", "0", "factor"]),
    ({"capacity": [["R_AZ_ALAT_OSMANLI", 5]]}, ["body", "capacity", "0"]),
    ({"year": {"value": 2030}}, ["body", "year"]),
    ({"name": ["a", "b"]}, ["body", "name"]),
    ({"surprise": 1}, ["body", "surprise"]),
])
def test_malformed_forms_answer_422_with_the_field_never_500(client, bad, loc):
    for url in ("/api/jobs", "/api/scenario/preview"):
        r = client.post(url, json=form(**bad))
        assert r.status_code == 422, (url, r.status_code, r.text)
        body = r.json()
        assert body["errors"][0]["loc"] == loc, body
        assert body["problems"] and body["detail"]


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    b'{"demand": [' + b"[" * 50 + b"]" * 50 + b"]}",
    b"[]", b"null", b'"text"', b"3", b"",
    b'{"name": "x", "year": NaN, "demand": [{"factor": Infinity}]}',
    b'{"name": "\\udcff", "title": "\\ud800"}',
    b'{"name": "ok_name", "year": 2030, "extends": "baseline", "title": "\\ud800"}',
    b'{"name": "ok", "demand": [{"factor": 2, "commodity": "\\udcff"}]}',
    b"\xff\xfe{}",
])
def test_odd_json_bodies_answer_422_never_500(client, body):
    r = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, (body[:40], r.status_code, r.text[:300])
    assert r.json()["problems"]


def test_bad_query_and_path_values_answer_422_or_404(client, seeded):
    _, rid = seeded
    r = client.get(f"/api/runs/{rid}/tables/links", params={"limit": "many"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]
    assert client.get(f"/api/runs/{rid}/tables/links", params={"limit": 10**9}).status_code \
        == 422
    assert client.get("/api/compare", params={"a": rid}).status_code == 422  # b missing
    assert client.get("/api/compare", params={"a": rid, "b": "x" * 500}).status_code == 422
    assert client.get("/api/compare", params={"a": rid, "b": "nope"}).status_code == 404
    assert client.get("/compare", params={"a": rid, "b": "nope"}).status_code == 404
    assert "<!doctype html>" in client.get("/runs/nope").text.lower()  # pages answer pages
    assert client.get(f"/api/runs/{rid}/tables/nope").status_code == 404


def test_concurrent_jobs_beyond_the_queue_answer_429(seeded, data):
    app = create_app(seeded[0], data=data, workers=1, max_queued=2)
    with TestClient(app, base_url=BASE) as c:
        started = [c.post("/api/jobs", json=form(name=f"q{i}", lp=False)) for i in range(3)]
        codes = [r.status_code for r in started]
        # the third waits for neither: refused at once while two are queued or running
        assert codes[:2] == [202, 202] and codes[2] in (202, 429), codes
        if codes[2] == 429:
            assert "most this dashboard takes" in started[2].json()["detail"]
        for r in started:
            if r.status_code == 202:
                assert wait(c, r.json()["job_id"])["status"] == "complete"
        # once they are done, there is room again
        r = c.post("/api/jobs", json=form(name="after", lp=False))
        assert r.status_code == 202
        assert wait(c, r.json()["job_id"])["status"] == "complete"


def test_concurrent_requests_while_jobs_run(client):
    """Pages and the API answer while two runs are under way, from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [client.post("/api/jobs", json=form(name=f"busy{i}")).json()["job_id"]
            for i in range(2)]
    urls = ["/", "/api/runs", "/api/jobs", "/fragments/runs", "/api/options"] * 4
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda u: client.get(u).status_code, urls))
    assert codes == [200] * len(urls)
    assert [wait(client, j)["status"] for j in jobs] == ["complete", "complete"]


def test_templates_and_style_are_package_files(client):
    from karvan.web.pages import STATIC

    page = client.get("/").text
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in page
    assert '<script src="/static/dashboard.js"></script>' in page
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.text == (STATIC / "dashboard.css").read_text()
    assert client.get("/static/dashboard.js").text.startswith("// the dashboard's script")
    assert client.get("/static/../app.py").status_code == 404
    web = SRC / "web"
    assert {p.name for p in (web / "templates").glob("*.html")} >= {
        "base.html", "index.html", "viewer.html", "error.html"}
    # no page or style held in Python strings any more
    for f in web.rglob("*.py"):
        text = f.read_text()
        assert "<html" not in text.lower() and "{% block" not in text, f


def test_one_router_per_concern():
    from karvan.web.routes import ROUTERS

    paths = {r.tags[0]: {route.path for route in r.routes} for r in ROUTERS}
    assert set(paths) == {"pages", "runs", "compare", "scenarios", "jobs", "experiments"}
    assert "/api/jobs/{job_id}" in paths["jobs"] and "/api/scenario/preview" in \
        paths["scenarios"]
    app_py = (SRC / "web" / "app.py").read_text()
    assert "@app.get" not in app_py and "@app.post" not in app_py


def test_serve_applies_scenarios_to_the_dataset_it_is_given(tmp_path, monkeypatch):
    """The dashboard had no --data: scenarios built there ran on the built-in dataset and were
    saved beside runs of another one."""
    import shutil

    import uvicorn
    from typer.testing import CliRunner

    from karvan.cli import app
    from karvan.freight.corridor import builtin_corridor_folder

    folder = tmp_path / "mine"
    shutil.copytree(builtin_corridor_folder(), folder)
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda web, **kw: seen.setdefault("web", web))
    res = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "s"), "--data",
                                   str(folder)])
    assert res.exit_code == 0, res.output
    assert "dataset: " + str(folder) in res.output.replace("\n", "")
    d = seen["web"].app.state.dashboard
    assert d.data().folder == folder
    res = CliRunner().invoke(app, ["serve", "--data", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "nowhere" in res.output


@pytest.mark.parametrize(("args", "said"), [
    (["--workers", "0"], "Invalid value for '--workers'"),
    (["--workers", "-2"], "Invalid value for '--workers'"),
    (["--host", "192.0.2.1"], "--host 192.0.2.1: this machine cannot listen on it"),
    (["--host", "not a host"], "--host not a host is not an address or a name that resolves"),
    (["--store", "FILE"], "is a file, not a folder: give a folder for the run store"),
])
def test_serve_refuses_what_it_cannot_listen_with_before_starting(args, said, tmp_path,
                                                                   monkeypatch):
    """--workers 0 and -2 ran one worker; --host 999.1.1.1 announced the dashboard there, then
    uvicorn failed; a file as --store gave NotADirectoryError."""
    import uvicorn
    from typer.testing import CliRunner

    from karvan.cli import app

    (tmp_path / "file").write_text("x")
    args = [str(tmp_path / "file") if a == "FILE" else a for a in args]
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda web, **kw: started.append(kw))
    res = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "s"), *args],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert said in " ".join(res.output.replace("│", " ").split()) and not started
    assert "karvan dashboard on" not in res.output


def test_an_experiment_id_of_dots_is_not_a_folder_above(client, seeded):
    """'..' matched the id pattern: the store's root stood in for an experiment's folder."""
    root = seeded[0]
    (root / "experiments").mkdir(exist_ok=True)
    (root / "manifest.json").write_text("{}")
    try:
        assert client.get("/experiments/%2e%2e").status_code == 404
    finally:
        (root / "manifest.json").unlink()


def test_the_stored_runs_table_lists_the_newest_first(tmp_path, data):
    # oldest first, a run that had just finished was at the bottom of a scrolled box
    from tests.unit.test_store import toy_manifest, toy_tables

    store = RunStore(tmp_path / "store")
    old = store.save(toy_tables(), toy_manifest("older"))
    new = store.save(toy_tables(), toy_manifest("newer"))
    with TestClient(create_app(store.root, data=data), base_url=BASE) as c:
        rows = c.get("/fragments/runs").text
        assert rows.index(f'data-run="{new}"') < rows.index(f'data-run="{old}"')
        # the API keeps the order the runs were committed in
        assert [r["run_id"] for r in c.get("/api/runs").json()] == [old, new]


def test_the_store_is_left_out_of_answers_only_as_a_whole_path_component():
    from karvan.web.app import in_store_terms

    # /srv/k2 is no path within the store /srv/k
    assert in_store_terms("no file /srv/k2/data.csv", "/srv/k") == "no file /srv/k2/data.csv"
    # a store called runs: its runs/<run id> keeps its name within the store
    assert in_store_terms("runs/runs/r1/links.parquet is missing", "runs") == \
        "runs/r1/links.parquet is missing"
    assert in_store_terms("see the runs list", "runs") == "see the runs list"


def test_a_run_whose_manifest_is_damaged_is_said_so(tmp_path, seeded, data):
    # it was listed as "lacks manifest", with a tooltip about its .parquet files, and a note of
    # "runs/<id>/manifest.parquet is missing", a file that never exists
    from karvan.web.pairs import missing_message

    root = tmp_path / "store"
    shutil.copytree(seeded[0], root)
    rid = seeded[1]
    (root / "runs" / rid / "manifest.json").write_text("{ damaged")
    with TestClient(create_app(root, data=data), base_url=BASE) as c:
        rows = c.get("/fragments/runs").text
        assert "manifest damaged" in rows and "lacks manifest" not in rows
        assert f"runs/{rid}/manifest.json is gone or cannot be read" in rows
    said = missing_message({"run_id": rid, "scenario": "baseline", "missing": ["manifest"]})
    assert f"runs/{rid}/manifest.json is gone or damaged" in said
    assert "manifest.parquet" not in said
