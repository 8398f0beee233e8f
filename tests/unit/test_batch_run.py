"""Scenarios run side by side (karvan.scenario.batch, `karvan run --jobs`), the run store's
stage-then-commit, and the back-casts' flows-only solve: the same results as one by one."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import time

import numpy as np
import pandas as pd
import pytest

from karvan.freight.corridor import load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.batch import run_scenarios
from karvan.scenario.reference import backcast_scenario, reference_scenario
from karvan.scenario.run import corridor_choice, run_scenario
from karvan.store import RunStore, stage_run


@pytest.fixture(scope="module")
def data():
    return load_corridor()


def _tables(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def test_a_staged_run_is_listed_only_when_committed(tmp_path):
    store = RunStore(tmp_path / "s")
    tables = {"links": pd.DataFrame({"link_id": ["L1", "L2"], "tonnes_tot": [1.5, np.nan]})}
    man = {"scenario": {"name": "a", "title": "A", "year": 2030},
           "summary": {"demand_t": np.float64(5.0)}}
    staged = stage_run(store.runs_dir, tables, man)
    assert staged.path.parent == store.runs_dir and staged.path.name.startswith(".")
    assert len(store.list()) == 0
    run_id = store.commit(staged)
    assert not staged.path.exists()
    assert list(store.list()["run_id"]) == [run_id]
    rec = store.get(run_id)
    assert rec.manifest["run_id"] == run_id and rec.manifest["status"] == "complete"
    assert rec.summary["demand_t"] == 5.0
    pd.testing.assert_frame_equal(rec.table("links"), tables["links"])
    # the same files as a save in one step
    other = store.get(store.save(tables, man))
    assert _tables(other.path) == _tables(rec.path)
    # a folder staged elsewhere is refused
    elsewhere = stage_run(tmp_path / "x" / "runs", tables, man)
    with pytest.raises(ValueError, match="not staged in"):
        store.commit(elsewhere)


def test_backcast_flows_only_equals_the_full_run(data):
    spec = backcast_scenario(2023)
    model = corridor_choice(data)
    full = run_scenario(data, spec, lp=False, backcasts=False, choice_parameters=model)
    only = run_scenario(data, spec, lp=False, backcasts=False, choice_parameters=model,
                        flows_only=True)
    assert only.tables == {} and full.tables
    a, b = full.flows, only.flows
    pd.testing.assert_frame_equal(a.routes.drop(columns="arcs"), b.routes.drop(columns="arcs"))
    assert list(a.routes["arcs"]) == list(b.routes["arcs"])
    pd.testing.assert_frame_equal(a.cells, b.cells)
    pd.testing.assert_frame_equal(a.links, b.links)
    assert np.array_equal(a.graph.arc_link, b.graph.arc_link)


def test_two_processes_give_the_results_of_one(data, tmp_path):
    specs = [load_scenario(n) for n in ("rasht_astara", "reference_2030", "iran_disrupted")]
    model = corridor_choice(data)
    seen = []
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        runs[jobs] = run_scenarios(data, specs, out_dir=out, store_dir=out, jobs=jobs,
                                   gpkg=jobs == 2, no_lp={"reference_2030"},
                                   done=lambda r: seen.append(r.scenario.name),
                                   choice_parameters=model)
    names = [s.name for s in specs]
    assert seen == names + names  # listed in the order given, whichever finished first
    # the summary's calibration notes read each run's calibration table (it was not returned,
    # and the notes of `karvan run` were never printed)
    for jobs in (1, 2):
        assert all(len(r.tables["calibration"]) for r in runs[jobs])
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        assert [r.scenario.name for r in runs[jobs]] == names
        listed = RunStore(out).list()
        assert list(listed["scenario"]) == names
        assert list(listed["run_id"]) == [r.run_id for r in runs[jobs]]
        assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    for name in names:
        a, b = _tables(tmp_path / "j1" / name), _tables(tmp_path / "j2" / name)
        assert a.keys() == b.keys()
        for f in a:
            if f == "convergence.csv":  # holds the solve's elapsed seconds
                ta, tb = (pd.read_csv(tmp_path / j / name / f).drop(columns="elapsed_s")
                          for j in ("j1", "j2"))
                pd.testing.assert_frame_equal(ta, tb)
            else:
                assert a[f] == b[f], (name, f)
        ma, mb = (json.loads((tmp_path / j / name / "manifest.json").read_text())
                  for j in ("j1", "j2"))
        assert ma["summary"]["tonne_km"] == mb["summary"]["tonne_km"]
        assert ("lp_routes" in ma["tables"]) == (name != "reference_2030")
        assert (tmp_path / "j2" / name / "run.gpkg").is_file()
        assert not (tmp_path / "j1" / name / "run.gpkg").exists()
        # the layers name the run by its id (they named the staging folder, .tmp-...)
        with contextlib.closing(sqlite3.connect(tmp_path / "j2" / name / "run.gpkg")) as con:
            said = [d for (d,) in con.execute("SELECT description FROM gpkg_contents "
                                              "WHERE data_type = 'features'")]
        run_id = json.loads((tmp_path / "j2" / name / "manifest.json").read_text())["run_id"]
        assert said and all(d.startswith(f"karvan run {run_id} of scenario {name} ")
                            for d in said), said
    assert not [p for p in (tmp_path / "j2").iterdir() if p.name.startswith(".")]


def test_a_failing_scenario_leaves_the_runs_before_it_listed(data, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nyear = 2030\n[[modification]]\naction = "close"\n'
                   'links = ["NO_SUCH_LINK"]\n')
    specs = [reference_scenario(2028), load_scenario(bad), reference_scenario(2026)]
    out = tmp_path / "res"
    with pytest.raises(ValueError, match="NO_SUCH_LINK"):
        run_scenarios(data, specs, out_dir=out, store_dir=out, jobs=2, gpkg=False,
                      lp=False, choice_parameters=corridor_choice(data))
    assert list(RunStore(out).list()["scenario"]) == ["reference_2028"]
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert not (out / "bad").exists() and not (out / "reference_2026").exists()


def test_a_geopackage_that_cannot_be_put_in_place_lists_no_run(data, tmp_path, monkeypatch):
    """The GeoPackage was moved into the results folder after its run was listed: a rename
    that failed there (another file system, no permission) left a listed run without it. Now
    it is part of the run before the listing, so such a failure lists nothing and the store
    and results folder keep what they held."""
    import errno
    import os

    spec = reference_scenario(2028)
    out = tmp_path / "res"
    store = RunStore(out)
    before = store.save({"links": pd.DataFrame({"link_id": ["L1"], "tonnes_tot": [1.0]})},
                        {"scenario": {"name": spec.name, "title": "", "year": 2028}})
    store.copy_run(before, out / spec.name)
    kept = _tables(out / spec.name)
    replace = os.replace

    def no_gpkg_here(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "run.gpkg":
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", no_gpkg_here)
    options = {"lp": False, "choice_parameters": corridor_choice(data)}
    with pytest.raises(OSError, match="cross-device"):
        run_scenarios(data, [spec], out_dir=out, store_dir=out, gpkg=True, **options)
    monkeypatch.setattr(os, "replace", replace)
    assert list(RunStore(out).list()["run_id"]) == [before]
    assert _tables(out / spec.name) == kept and not (out / spec.name / "run.gpkg").exists()
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    # without the failure the run is listed with its GeoPackage, and copied with it
    (run,) = run_scenarios(data, [spec], out_dir=out, store_dir=out, gpkg=True, **options)
    assert (RunStore(out).get(run.run_id).path / "run.gpkg").is_file()
    assert (out / spec.name / "run.gpkg").is_file()


def _init_fake_worker(data) -> None:
    """A worker's start without the dataset: only its signal set-up."""
    from karvan.scenario._signals import init_worker_signals

    init_worker_signals()


def _fake_solve_in_worker(spec, options, runs_dir, gpkg, tag=""):
    """A worker's run without a solve: scenario ``first`` at once (a run of one table, a
    GeoPackage of one line); any other half-written (a staged folder with its GeoPackage)
    and then busy for 30 s, after which it notes that it finished."""
    import os
    import time
    from pathlib import Path

    from karvan.scenario.batch import _Solved

    marks = Path(options["marks"])
    (marks / f"started-{spec.name}-{os.getpid()}").touch()
    tables = {"links": pd.DataFrame({"link_id": ["L1"], "tonnes_tot": [1.0]})}
    man = {"scenario": {"name": spec.name, "title": "", "year": spec.year}, "summary": {}}
    staged = stage_run(runs_dir, tables, man, tag=tag)
    if gpkg:
        (staged.path / "run.gpkg").write_text("drawn")
    if spec.name != "first":
        time.sleep(30)
        (marks / f"finished-{spec.name}").touch()
    return _Solved(spec, {}, tables, staged, {})


@pytest.mark.skipif(sys.platform != "linux", reason="forks; reads /proc")
def test_ctrl_c_after_the_first_run_stops_the_workers_and_leaves_nothing(monkeypatch, tmp_path):
    """KeyboardInterrupt from ``done`` after the first run of four, the other three busy for
    30 s each in two workers: the workers are stopped and reaped, not waited for (the old path
    let every scenario in the pool run to its end), the first run stays listed and copied, and
    nothing the others staged or drew is left."""
    import multiprocessing
    from pathlib import Path

    from karvan.scenario import batch
    from karvan.scenario.spec import Scenario

    # fork, so that the workers run this module's stand-ins (no numba is used in them)
    monkeypatch.setattr(batch, "_context", lambda: multiprocessing.get_context("fork"))
    monkeypatch.setattr(batch, "_init_worker", _init_fake_worker)
    monkeypatch.setattr(batch, "_solve_in_worker", _fake_solve_in_worker)
    specs = [Scenario(n, "", "", 2030, (), ()) for n in ("first", "b", "c", "d")]
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "res"
    seen = []

    def done(run):
        seen.append(run.scenario.name)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run_scenarios(None, specs, out_dir=out, store_dir=out, jobs=2, gpkg=True,
                            done=done, marks=str(marks))
    assert seen == ["first"]
    started = sorted(p.name for p in marks.iterdir() if p.name.startswith("started-"))
    assert {s.split("-")[1] for s in started} >= {"first", "b"}
    assert not [p.name for p in marks.iterdir() if p.name.startswith("finished-")]
    pids = {int(p.rsplit("-", 1)[1]) for p in started}
    assert len(pids) == 2
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # gone and reaped
    assert list(RunStore(out).list()["scenario"]) == ["first"]
    assert (out / "first" / "run.gpkg").read_text() == "drawn"
    assert sorted(p.name for p in out.iterdir()) == ["catalog.sqlite", "first", "runs"]
    assert [p.name for p in (out / "runs").iterdir()] == [RunStore(out).list()["run_id"][0]]


def test_an_interrupted_pool_gives_its_frozen_workers_one_grace_period_in_all(monkeypatch):
    """Workers that do not end on SIGTERM (a frozen process) are killed once one grace period of
    10 s has passed for all of them: with two, the wait is 10 s, not 10 s each (a fake clock
    advanced by each join)."""
    import karvan.scenario.batch as batch

    clock = {"t": 0.0}
    monkeypatch.setattr(batch.time, "monotonic", lambda: clock["t"])

    class Frozen:
        def __init__(self):
            self.joins, self.signals = [], []

        def terminate(self):
            self.signals.append("TERM")

        def kill(self):
            self.signals.append("KILL")

        def join(self, timeout=None):
            self.joins.append(timeout)
            clock["t"] += timeout or 0.0

        def is_alive(self):
            return "KILL" not in self.signals

    class Pool:
        def shutdown(self, wait=True, cancel_futures=False):
            pass

    workers = [Frozen(), Frozen()]
    batch._stop_pool(Pool(), workers, wait=False)
    assert [w.signals for w in workers] == [["TERM", "KILL"], ["TERM", "KILL"]]
    assert workers[0].joins[0] == pytest.approx(10.0) and workers[1].joins[0] == 0.0
    assert clock["t"] == pytest.approx(10.0)


def _sleep(seconds):
    time.sleep(seconds)
    return seconds


def test_stopping_a_pool_at_once_leaves_no_wait_on_its_call_queue():
    """Ctrl-C: tasks still queued for the killed workers must not hold the exit. _stop_pool
    takes the pool's call queue before shutdown() forgets it and cancels the join of its feeder
    thread (which can block on a pipe nobody reads)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    from karvan.scenario import batch

    for _ in range(40):
        pool.submit(_sleep, 30)
    deadline = time.monotonic() + 60
    while len(pool._processes) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    queue = pool._call_queue
    workers = list(pool._processes.values())
    t0 = time.monotonic()
    batch._stop_pool(pool, workers, wait=False)
    assert time.monotonic() - t0 < 25
    assert queue._joincancelled
    assert not any(w.is_alive() for w in workers)


def test_warnings_of_a_batch_name_their_scenario():
    """A warning printed between other scenarios' progress did not say which it was about."""
    import warnings

    from karvan.scenario.batch import named_warnings

    with pytest.warns(UserWarning, match=r"^scenario iran_disrupted: 10 links are closed$"):
        with named_warnings("scenario iran_disrupted"):
            warnings.warn("10 links are closed", UserWarning, stacklevel=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="^as raised$"), named_warnings("scenario x"):
            warnings.warn("as raised", UserWarning, stacklevel=1)
    # and what karvan's loggers warn about (route families without a route where links close)
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with named_warnings("scenario iran_disrupted"):
            logging.getLogger("karvan.scenario.choice_run").warning("no route for %d pairs", 106)
            # a text that names the scenario itself is named once ("scenario x: x: ..." was)
            logging.getLogger("karvan.scenario.run").warning("%s: 5 t/yr has no route",
                                                             "iran_disrupted")
        logging.getLogger("karvan.scenario.choice_run").warning("after")
    finally:
        root.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["scenario iran_disrupted: no route for 106 pairs",
                                              "scenario iran_disrupted: 5 t/yr has no route",
                                              "after"]
    with pytest.warns(UserWarning, match=r"^scenario x: the capacity is low$"):
        with named_warnings("scenario x"):
            warnings.warn("x: the capacity is low", UserWarning, stacklevel=1)
