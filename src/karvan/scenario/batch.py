"""Run many scenarios at once: each solved, written to the run store and drawn as a GeoPackage in
a worker process, listed in the store in the order given (``karvan run``).

The scenarios of a run do not depend on each other, so the costly part of each (the solve, the
result tables, writing the tables, the GeoPackage into the run) runs in a pool of processes; the
main process only lists each run in the catalog and copies it to ``<out>/<scenario>/``, in the
order of the scenarios, so that the store, the results folder and what is printed are the same
whatever the number of processes and whichever scenario finishes first. A scenario's results are
the same whether it runs in the main process or a worker: each run starts from the same dataset
and shares nothing with the others. Workers run numba kernels on one thread each (the processes
share the cores instead; the kernels' results do not depend on the number of threads).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from karvan.freight.corridor import CorridorData
from karvan.scenario import _signals
from karvan.scenario.run import run_manifest, run_scenario
from karvan.scenario.spec import Scenario
from karvan.store import RunStore, StagedRun, stage_run
from karvan.store.runstore import TMP_PREFIX, staging_lock

log = logging.getLogger(__name__)


#: the tables of a run that :func:`run_scenarios` returns (those the summary tables show)
SUMMARY_TABLES = ("calibration_summary", "calibration", "bottlenecks", "borders", "countries",
                  "shipper", "skims", "demand", "choice_unserved")


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
    ``out_dir/<scenario>/`` (with ``run.gpkg`` if ``gpkg``: drawn into the run before it is
    listed, so that a listed run never lacks it).

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
    had_runs_dir, had_out_dir = runs_dir.exists(), out_dir.exists()
    jobs = max(1, min(int(jobs), len(specs)))
    out: list[BatchRun] = []
    listed: list[RunStore] = []  # the store, once the first run is listed
    # what this call stages (its GeoPackages included) carries its tag: on any exception
    # (Ctrl-C, SIGTERM, a scenario's error) it is removed, and nothing of another process
    # saving into the same store is touched
    tag = secrets.token_hex(4)
    # SIGTERM: the clean-up below runs, then the process ends as SIGTERM ends it (_signals)
    with _signals.sigterm_raises():
        try:
            # while it is held, no store opened meanwhile removes what this call staged
            with staging_lock(runs_dir, tag):
                if jobs == 1:
                    for s, o in tasks:
                        _commit(_solve(data, s, o, runs_dir, gpkg, say, tag), listed,
                                store_dir, out_dir, out, done)
                else:
                    _run_parallel(data, tasks, jobs, runs_dir, gpkg, tag,
                                  lambda solved: _commit(solved, listed, store_dir, out_dir,
                                                         out, done), say)
            return out
        finally:
            with _signals.held():  # a second Ctrl-C does not cut the clean-up short
                for p in runs_dir.glob(f"{TMP_PREFIX}{tag}-*") if runs_dir.is_dir() else ():
                    shutil.rmtree(p, ignore_errors=True)
                for folder, had in ((runs_dir, had_runs_dir), (out_dir, had_out_dir)):
                    if not had and not listed and folder.is_dir() and not any(
                            folder.iterdir()):
                        folder.rmdir()


def _run_parallel(data: CorridorData, tasks: list, jobs: int, runs_dir: Path, gpkg: bool,
                  tag: str, commit: Callable[[_Solved], None],
                  say: Callable[[str], None]) -> None:
    """Run ``tasks`` on ``jobs`` worker processes and ``commit`` their results in order.

    On any exception (Ctrl-C, SIGTERM, a scenario's error) the workers are stopped at once,
    not left to finish their scenarios, and reaped; the caller removes what they left.
    """
    pool = None
    processes: list = []
    ok = False
    try:
        # the worker processes and the pool's threads start with the signals held, so that
        # the kernel hands a signal for this process to the main thread (see _signals)
        with _signals.held():
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_context(),
                                       initializer=_init_worker, initargs=(data,))
            pending = [pool.submit(_solve_in_worker, s, o, runs_dir, gpkg, tag)
                       for s, o in tasks]
            say(f"{len(tasks)} scenarios on {jobs} processes")
        for f in pending:
            commit(f.result())
        ok = True
    finally:
        with _signals.held():
            if pool is not None:
                processes = list((pool._processes or {}).values())
                _stop_pool(pool, processes, wait=ok)


def _stop_pool(pool: ProcessPoolExecutor, processes: list, *, wait: bool) -> None:
    """Shut ``pool`` down: after its work is done (``wait``), or at once, its workers
    terminated (SIGTERM, then SIGKILL to those still alive 10 s later: one grace period for
    all of them, not one each) and reaped."""
    if wait:
        pool.shutdown(wait=True)
        return
    # the pool's management thread: shutdown(wait=False) forgets it without joining it, and one
    # still closing its wake-up pipe when the interpreter exits races concurrent.futures' exit
    # hook (an OSError traceback after Ctrl-C); joined below (a private attribute, as _processes)
    manager = getattr(pool, "_executor_manager_thread", None)
    # and its call queue, which shutdown() forgets too (it sets the attribute to None)
    call_queue = getattr(pool, "_call_queue", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + 10.0
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
    for p in processes:
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.kill()
                p.join()
    # a task still queued for the dead workers can block the queue's feeder thread on a full
    # pipe nobody reads, and with it the management thread (which joins the feeder) and the
    # interpreter's exit: neither waits for the feeder any more (the pipe's ends are left to
    # the management thread, which closes them for a broken pool; closing one here as well
    # could close a file descriptor number that another file has taken meanwhile)
    if call_queue is not None:
        with contextlib.suppress(Exception):
            call_queue.cancel_join_thread()
    pool.shutdown(wait=True)  # the pool's thread sees its workers gone and ends
    if manager is not None:
        manager.join(30.0)


def _commit(solved: _Solved, listed: list[RunStore], store_dir: Path, out_dir: Path,
            out: list[BatchRun], done) -> None:
    """List a solved run, copy it to its results folder and call ``done``: one step that
    Ctrl-C does not cut in two (the signal takes effect after it)."""
    with _signals.held():
        _commit_held(solved, listed, store_dir, out_dir, out, done)


def _commit_held(solved: _Solved, listed: list[RunStore], store_dir: Path, out_dir: Path,
                 out: list[BatchRun], done) -> None:
    if not listed:  # the store is created with the first result, not before
        listed.append(RunStore(store_dir))
    store = listed[0]
    t = time.perf_counter()
    run_id = store.commit(solved.staged)  # the GeoPackage, if drawn, is in the run
    target = out_dir / solved.scenario.name
    store.copy_run(run_id, target)
    timings = dict(solved.timings)
    timings["run store: commit and copy"] = time.perf_counter() - t
    run = BatchRun(solved.scenario, solved.summary, solved.tables, run_id, target, timings)
    out.append(run)
    if done is not None:
        done(run)


def _solve(data: CorridorData, spec: Scenario, options: dict, runs_dir: Path, gpkg: bool,
           say: Callable[[str], None], tag: str = "") -> _Solved:
    """Run one scenario and stage its run in ``runs_dir`` (its folder's name tagged with
    ``tag``), with its GeoPackage ``run.gpkg`` if ``gpkg``: the run is listed whole, its
    GeoPackage included, or not at all."""
    timings = {}
    t = time.perf_counter()
    with named_warnings(f"scenario {spec.name}"):
        r = run_scenario(data, spec, progress=say, **options)
    timings["scenario run"] = time.perf_counter() - t
    t = time.perf_counter()
    say(f"{spec.name}: saving")
    staged = stage_run(runs_dir, r.tables, run_manifest(r, data), tag=tag)
    timings["run store: stage"] = time.perf_counter() - t
    if gpkg:
        from karvan.io.geopackage import write_geopackage

        t = time.perf_counter()
        say(f"{spec.name}: GeoPackage")
        try:
            write_geopackage(staged.path, staged.path / "run.gpkg", data=data)
        except BaseException:
            shutil.rmtree(staged.path, ignore_errors=True)
            raise
        timings["GeoPackage"] = time.perf_counter() - t
    # what the printed summary reads of a run (karvan.scenario.summary); the report reads the
    # run folders, so the other tables need not travel back from a worker
    tables = {k: v for k, v in r.tables.items() if k in SUMMARY_TABLES}
    return _Solved(spec, r.summary, tables, staged, timings)


#: the dataset of a worker process, set once by its initializer
_WORKER: dict = {}


def _init_worker(data: CorridorData) -> None:
    _signals.init_worker_signals()
    os.environ["NUMBA_NUM_THREADS"] = "1"
    import sys

    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(1)
    _WORKER["data"] = data


@contextlib.contextmanager
def named_warnings(name: str):
    """Show the warnings raised inside with ``name`` before their text: in a batch, a warning
    printed between other scenarios' progress said nothing of the scenario it was about.

    Filters apply as before (a warning turned into an error is raised unchanged); only what is
    shown is named. The log records of karvan's loggers at WARNING and above are named too.
    """
    import warnings

    shown = warnings.showwarning
    # a text that names the scenario itself ("rasht_astara: ...") is named once
    bare = f"{name.removeprefix('scenario ')}: "

    def named_text(text: str) -> str:
        if text.startswith(f"{name}: "):
            return text
        return f"{name}: {text.removeprefix(bare)}"

    class _Name(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.levelno >= logging.WARNING and record.name.startswith("karvan"):
                text = record.getMessage()
                if not text.startswith(f"{name}: "):
                    record.msg, record.args = named_text(text), None
            return True

    named = _Name()
    handlers = [h for lg in (logging.getLogger(), logging.getLogger("karvan"))
                for h in lg.handlers]
    if logging.lastResort is not None:  # what prints where no handler is configured (the CLI)
        handlers.append(logging.lastResort)
    for h in handlers:
        h.addFilter(named)

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if not text.startswith(f"{name}: "):
            try:
                message = category(named_text(text))
            except Exception:  # a category that takes other arguments: shown as it is
                pass
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        for h in handlers:
            h.removeFilter(named)


def _solve_in_worker(spec: Scenario, options: dict, runs_dir: Path, gpkg: bool,
                     tag: str) -> _Solved:
    return _solve(_WORKER["data"], spec, options, runs_dir, gpkg, lambda msg: None, tag)


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
