"""Run many scenarios at once: each solved, written to the run store and drawn as a GeoPackage in
a worker process, listed in the store in the order given (``karvan run``).

The scenarios of a run do not depend on each other, so the costly part of each (the solve, the
result tables, writing the tables, the GeoPackage) runs in a pool of processes; the main process
only lists each run in the catalog and copies it to ``<out>/<scenario>/``, in the order of the
scenarios, so that the store, the results folder and what is printed are the same whatever the
number of processes and whichever scenario finishes first. A scenario's results are the same
whether it runs in the main process or a worker: each run starts from the same dataset and
shares nothing with the others. Workers run numba kernels on one thread each (the processes
share the cores instead; the kernels' results do not depend on the number of threads).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from karvan.freight.corridor import CorridorData
from karvan.scenario.run import run_manifest, run_scenario
from karvan.scenario.spec import Scenario
from karvan.store import RunStore, StagedRun, stage_run

log = logging.getLogger(__name__)


#: the tables of a run that :func:`run_scenarios` returns (those the summary tables show)
SUMMARY_TABLES = ("calibration_summary", "bottlenecks", "borders", "countries", "shipper")


@dataclass(frozen=True, slots=True, eq=False)
class BatchRun:
    """A scenario run by :func:`run_scenarios`: its summary, the tables of ``SUMMARY_TABLES``
    (the others are in ``folder``), its run id and the seconds its phases took."""

    scenario: Scenario
    summary: dict
    tables: dict[str, pd.DataFrame]
    run_id: str
    folder: Path
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class _Solved:
    scenario: Scenario
    summary: dict
    tables: dict[str, pd.DataFrame]
    staged: StagedRun
    gpkg: Path | None
    timings: dict[str, float]


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_scenarios(data: CorridorData, specs: Sequence[Scenario], *, out_dir: str | os.PathLike,
                  store_dir: str | os.PathLike, jobs: int = 1, gpkg: bool = True,
                  no_lp: set[str] | frozenset[str] = frozenset(),
                  done: Callable[[BatchRun], None] | None = None,
                  progress: Callable[[str], None] | None = None,
                  **options) -> list[BatchRun]:
    """Run ``specs``, save each in the run store at ``store_dir`` and copy it to
    ``out_dir/<scenario>/`` (with ``run.gpkg`` if ``gpkg``).

    Parameters
    ----------
    data, specs
        The dataset and the scenarios, in the order their runs are listed.
    jobs
        Processes that run scenarios at once; 1 runs them one after another in this process.
    no_lp
        Names of scenarios run without the capacity LP.
    done
        Called with each run once it is listed and copied, in the order of ``specs``.
    progress
        Called with a line of progress (in this process only).
    **options
        Passed to :func:`karvan.scenario.run.run_scenario` (``gap``, ``method``, ``lp``,
        ``choice``, ``choice_parameters``).

    Returns
    -------
    list of BatchRun
        In the order of ``specs``.

    Raises
    ------
    InputError
        From a scenario's run (the first in the order of ``specs``); the runs before it stay
        listed, nothing of the others is left behind.
    """
    out_dir, store_dir = Path(out_dir), Path(store_dir)
    say = progress or (lambda msg: None)
    lp = options.pop("lp", True)
    tasks = [(s, dict(options, lp=lp and s.name not in no_lp)) for s in specs]
    runs_dir = store_dir / "runs"
    had_runs_dir = runs_dir.exists()
    jobs = max(1, min(int(jobs), len(specs)))
    out: list[BatchRun] = []
    store: RunStore | None = None
    pending: list[Future] = []
    try:
        if jobs == 1:
            results = (_solve(data, s, o, runs_dir, out_dir if gpkg else None, say)
                       for s, o in tasks)
        else:
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(),
                                       initializer=_init_worker, initargs=(data,))
            with pool:
                pending = [pool.submit(_solve_in_worker, s, o, runs_dir,
                                       out_dir if gpkg else None) for s, o in tasks]
                say(f"{len(specs)} scenarios on {jobs} processes")
                try:
                    for f in pending:
                        store = _commit(f.result(), store, store_dir, out_dir, out, done)
                except BaseException:
                    for f in pending:
                        f.cancel()  # those not started; the pool waits for the others
                    raise
            return out
        for solved in results:
            store = _commit(solved, store, store_dir, out_dir, out, done)
        return out
    except BaseException:
        for f in pending:  # what the workers staged for runs that are not listed
            if f.done() and not f.cancelled() and f.exception() is None:
                _discard(f.result())
        if not had_runs_dir and store is None and runs_dir.is_dir() and not any(
                runs_dir.iterdir()):
            runs_dir.rmdir()
        raise


def _commit(solved: _Solved, store: RunStore | None, store_dir: Path, out_dir: Path,
            out: list[BatchRun], done) -> RunStore:
    if store is None:  # created with the first result, not before
        store = RunStore(store_dir)
    t = time.perf_counter()
    run_id = store.commit(solved.staged)
    target = out_dir / solved.scenario.name
    store.copy_run(run_id, target)
    if solved.gpkg is not None:
        os.replace(solved.gpkg, target / "run.gpkg")
    timings = dict(solved.timings)
    timings["run store: commit and copy"] = time.perf_counter() - t
    run = BatchRun(solved.scenario, solved.summary, solved.tables, run_id, target, timings)
    out.append(run)
    if done is not None:
        done(run)
    return store


def _discard(solved: _Solved) -> None:
    shutil.rmtree(solved.staged.path, ignore_errors=True)
    if solved.gpkg is not None:
        solved.gpkg.unlink(missing_ok=True)


def _solve(data: CorridorData, spec: Scenario, options: dict, runs_dir: Path,
           gpkg_dir: Path | None, say: Callable[[str], None]) -> _Solved:
    """Run one scenario, stage its run in ``runs_dir`` and write its GeoPackage to a hidden
    file in ``gpkg_dir`` (moved into the scenario's results folder when the run is listed)."""
    timings = {}
    t = time.perf_counter()
    r = run_scenario(data, spec, progress=say, **options)
    timings["scenario run"] = time.perf_counter() - t
    t = time.perf_counter()
    say(f"{spec.name}: saving")
    staged = stage_run(runs_dir, r.tables, run_manifest(r, data))
    timings["run store: stage"] = time.perf_counter() - t
    path = None
    if gpkg_dir is not None:
        from karvan.io.geopackage import write_geopackage

        t = time.perf_counter()
        say(f"{spec.name}: GeoPackage")
        gpkg_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".gpkg", dir=gpkg_dir)
        os.close(fd)
        path = Path(name)
        try:
            write_geopackage(staged.path, path, data=data)
        except BaseException:
            path.unlink(missing_ok=True)
            shutil.rmtree(staged.path, ignore_errors=True)
            raise
        timings["GeoPackage"] = time.perf_counter() - t
    # what the printed summary reads of a run (karvan.scenario.summary); the report reads the
    # run folders, so the other tables need not travel back from a worker
    tables = {k: v for k, v in r.tables.items() if k in SUMMARY_TABLES}
    return _Solved(spec, r.summary, tables, staged, path, timings)


#: the dataset of a worker process, set once by its initializer
_WORKER: dict = {}


def _init_worker(data: CorridorData) -> None:
    os.environ["NUMBA_NUM_THREADS"] = "1"
    import sys

    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(1)
    _WORKER["data"] = data


def _solve_in_worker(spec: Scenario, options: dict, runs_dir: Path,
                     gpkg_dir: Path | None) -> _Solved:
    return _solve(_WORKER["data"], spec, options, runs_dir, gpkg_dir, lambda msg: None)


def _context():
    """Fork where it is safe (nothing has started numba's threads in this process: the usual
    ``karvan run``), so that workers start at once with the dataset and the modules loaded;
    else forkserver, whose workers start fresh."""
    import sys

    par = sys.modules.get("numba.np.ufunc.parallel")
    started = bool(getattr(par, "_is_initialized", False))
    methods = multiprocessing.get_all_start_methods()
    if not started and "fork" in methods:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
