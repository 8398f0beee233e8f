"""Scenario runs in the background: a registry of jobs and the worker threads that run them.

Each job runs :func:`karvan.scenario.run.run_scenario` in a worker thread and saves through
:meth:`karvan.store.RunStore.save`, which is safe across threads and processes. The registry
is the only state shared between request handlers and workers; every read and write of it
holds its lock, and readers get copies (:meth:`Job.snapshot`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from karvan.errors import InputError, recording_warnings
from karvan.freight.corridor import CorridorData
from karvan.scenario import Scenario
from karvan.scenario.run import run_scenario, save_run
from karvan.store import RunStore

log = logging.getLogger(__name__)

#: the stages a run goes through, in order (progress is the share of these passed)
STAGES = ("queued", "starting", "user equilibrium", "capacity LP", "tables", "saving",
          "complete")
#: most finished jobs kept in memory (the runs themselves are in the store)
KEEP_FINISHED = 200
#: most jobs queued or running at once
MAX_QUEUED = 16


class BusyError(InputError):
    """The dashboard takes no more runs until one has finished (a web 429)."""


def _parallel_runs_safe() -> bool:
    """Whether numba's threading layer lets two threads run parallel kernels at once (OpenMP
    and TBB do; the ``workqueue`` fallback aborts the process). Until the first parallel
    kernel has run the layer is unknown, and runs take turns."""
    import numba

    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet
        return False


@dataclass(slots=True)
class Job:
    """One background run; mutable, and changed only under the registry's lock."""

    job_id: str
    scenario: str
    title: str
    year: int
    toml: str
    lp: bool
    status: str = "queued"  # queued | running | complete | failed | stopped
    stage: str = "queued"
    messages: list[str] = field(default_factory=list)
    run_id: str | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    #: what the scenario and its run warned of (also in the run's manifest)
    warnings: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def snapshot(self) -> dict:
        """A JSON-able copy for the API."""
        skip = 0 if self.lp else 1  # no capacity LP: one stage fewer
        idx = STAGES.index(self.stage)
        done = idx - (skip if idx > STAGES.index("capacity LP") else 0)
        return {"job_id": self.job_id, "scenario": self.scenario, "title": self.title,
                "year": self.year, "lp": self.lp, "status": self.status, "stage": self.stage,
                "progress": round(done / (len(STAGES) - 1 - skip), 3),
                "messages": list(self.messages), "run_id": self.run_id, "error": self.error,
                "problems": list(self.problems), "warnings": list(self.warnings),
                "created": self.created,
                "finished": self.finished, "toml": self.toml,
                "elapsed_s": round((self.finished or time.time()) - self.created, 2)}


class Registry:
    """Jobs by id (anything with ``created`` and ``snapshot()``), run by a thread pool; every
    read and write of the jobs holds the lock, and readers get snapshots."""

    def __init__(self, *, workers: int, thread_name_prefix: str) -> None:
        self._lock = threading.Lock()
        self._jobs: dict = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix=thread_name_prefix)
        #: set when the dashboard stops: a job that fails from then on was stopped with it
        self.stopping = False

    def get(self, job_id: str) -> dict | None:
        """The job ``job_id`` as a dict, or ``None`` if this registry has none."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job.snapshot() if job else None

    def list(self) -> list[dict]:
        """Every job, newest first."""
        with self._lock:
            return [j.snapshot() for j in sorted(self._jobs.values(), key=lambda j: -j.created)]

    def shutdown(self, *, wait: bool = True) -> list[dict]:
        """Stop taking jobs; cancel the queued ones; wait for running ones if ``wait``. The jobs
        that were running, as dicts: without ``wait`` they end when the process does, and what
        they had not saved is lost (a run is saved whole or not at all)."""
        with self._lock:
            self.stopping = True
            running = [j.snapshot() for j in self._jobs.values() if j.status == "running"]
        self._pool.shutdown(wait=wait, cancel_futures=True)
        return running

    def stopped_with_the_dashboard(self, job_id: str, name: str, e: Exception) -> bool:
        """Whether a job's failure is the dashboard stopping under it (the interpreter refuses
        new threads then: "cannot schedule new futures after interpreter shutdown"); if so it is
        recorded as stopped, in one line, not as a failure with a traceback."""
        if not self.stopping:
            return False
        log.warning("job %s (%s) stopped with the dashboard; what it had not saved is lost "
                    "(%s: %s)", job_id, name, type(e).__name__, e)
        self._update(job_id, status="stopped", error="stopped with the dashboard; what it had "
                     "not saved is lost", finished=time.time())
        return True


class JobRegistry(Registry):
    """Jobs by id, run by a pool of worker threads.

    Parameters
    ----------
    store
        Where finished runs are saved.
    data
        The corridor data the scenarios apply to (read only: each run copies what it changes).
    workers
        Runs at the same time; more are queued.
    max_queued
        Most runs queued or running at once; :meth:`submit` refuses more.
    """

    def __init__(self, store: RunStore, data: Callable[[], CorridorData], *,
                 workers: int = 2, max_queued: int = MAX_QUEUED) -> None:
        self.store = store
        self.max_queued = max_queued
        super().__init__(workers=workers, thread_name_prefix="karvan-run")
        self._data = data
        self._solve_lock = threading.Lock()
        #: signalled when a job finishes (a run of the same name posted later may be saved)
        self._finished = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}

    def submit(self, scenario: Scenario, toml: str, *, lp: bool = True) -> dict:
        """Queue a run of ``scenario``; its job as a dict.

        Raises
        ------
        BusyError
            :attr:`max_queued` runs are already queued or running.
        """
        said = list(scenario.warned)
        before = self.store.list(scenario=scenario.name)
        if len(before):
            # the name then means this run: compare and the report take a name's latest run
            said.append(f"the store holds {len(before)} run(s) named {scenario.name} (the "
                        f"latest: {before['run_id'].iloc[-1]}): this one becomes the latest of "
                        "that name, which compare and the report take; give another name to "
                        "keep both apart.")
        with self._lock:
            active = sum(j.finished is None for j in self._jobs.values())
            if active >= self.max_queued:
                raise BusyError(f"{active} runs are queued or running, the most this dashboard "
                                "takes at once; start this one when one of them has finished.")
            ahead = self._ahead(scenario.name)
            if ahead:
                # posted at once, the runs were saved in the order they finished, and the name
                # went to whichever that was: this one is saved after them (_run waits)
                said.append(f"{len(ahead)} run(s) named {scenario.name} are queued or running "
                            f"in this dashboard (job {', '.join(j.job_id for j in ahead)}): "
                            "this one is saved after them and becomes the latest of that name, "
                            "which compare and the report take; give another name to keep "
                            "them apart.")
            job = Job(f"j{secrets.token_hex(5)}", scenario.name, scenario.title, scenario.year,
                      toml, lp, messages=[*(f"warning: {w}" for w in said), "queued"],
                      warnings=said)
            self._jobs[job.job_id] = job
            self._forget_old()
            snap = job.snapshot()
        self._pool.submit(self._run, job.job_id, scenario)
        return snap

    def _ahead(self, name: str, job_id: str | None = None) -> list[Job]:
        """The unfinished jobs of the scenario ``name`` posted before ``job_id`` (None: before
        a job not posted yet); the caller holds the lock."""
        out = []
        for j in self._jobs.values():  # in the order they were posted
            if j.job_id == job_id:
                break
            if j.scenario == name and j.finished is None:
                out.append(j)
        return out

    def _wait_for_ahead(self, job_id: str, name: str) -> bool:
        """Wait until the runs of the same name posted earlier have finished, so that the runs
        of a name are saved in the order they were posted and the last posted becomes the
        name's latest run. The pool starts jobs in the order they were posted, so those are
        running already (never queued behind this one).

        Returns False where the dashboard stops first: the job is recorded as stopped and is
        not to be saved (saved now, it would be saved before the earlier run, which the
        interpreter lets finish and save after it: the name's latest run would be the
        earlier)."""
        with self._finished:
            ahead = self._ahead(name, job_id)
            if ahead:
                self._jobs[job_id].messages.append(
                    f"waiting for job {', '.join(j.job_id for j in ahead)} of the same name to "
                    "be saved first")
            while ahead and not self.stopping:
                self._finished.wait(timeout=0.5)
                ahead = self._ahead(name, job_id)
        if not ahead:
            return True
        log.warning("job %s (%s) stopped with the dashboard while an earlier run of its name "
                    "was running; not saved", job_id, name)
        self._update(job_id, status="stopped", error="stopped with the dashboard while an "
                     "earlier run of its name was running; not saved", finished=time.time())
        return False

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            job = self._jobs[job_id]
            msg = changes.pop("message", None)
            for k, v in changes.items():
                setattr(job, k, v)
            if msg:
                job.messages.append(msg)
            if changes.get("finished") is not None:
                self._finished.notify_all()

    def _progress(self, job_id: str) -> Callable[[str], None]:
        def say(msg: str) -> None:
            stage = next((s for s in STAGES if msg.endswith(s)), None)
            if stage:
                self._update(job_id, stage=stage, message=msg)
            else:
                self._update(job_id, message=msg)
        return say

    def _warned(self, job_id: str, texts: list[str]) -> None:
        """Add what a run warned of to its job's warnings and messages, each once."""
        with self._lock:
            job = self._jobs[job_id]
            for t in texts:
                if t not in job.warnings:
                    job.warnings.append(t)
                    job.messages.append(f"warning: {t}")

    def _run(self, job_id: str, scenario: Scenario) -> None:
        self._update(job_id, status="running", stage="starting", message="starting")
        say = self._progress(job_id)
        said: list[str] = []
        try:
            data = self._data()
            lp = self.get(job_id)["lp"]
            # the run records its warnings too (run.warnings), but not those of a run that fails
            with recording_warnings(said):
                if _parallel_runs_safe():
                    run = run_scenario(data, scenario, lp=lp, progress=say)
                else:
                    with self._solve_lock:
                        run = run_scenario(data, scenario, lp=lp, progress=say)
            self._warned(job_id, said)
            if not self._wait_for_ahead(job_id, scenario.name):
                return
            self._update(job_id, stage="saving", message="saving to the run store")
            run_id = save_run(run, self.store, data)
        except InputError as e:
            self._warned(job_id, said)
            log.warning("job %s (%s): %s", job_id, scenario.name, e)
            self._update(job_id, status="failed", error=str(e), problems=e.problems,
                         finished=time.time(), message="failed")
        except Exception as e:  # noqa: BLE001  (a worker's boundary: the job must end, failed)
            self._warned(job_id, said)
            if self.stopped_with_the_dashboard(job_id, scenario.name, e):
                return
            log.exception("job %s (%s) failed", job_id, scenario.name)
            self._update(job_id, status="failed", error=f"{type(e).__name__}: {e}",
                         finished=time.time(), message="failed")
        else:
            log.info("job %s (%s): run %s saved", job_id, scenario.name, run_id)
            self._update(job_id, status="complete", stage="complete", run_id=run_id,
                         finished=time.time(), message=f"complete: run {run_id}")

    def _forget_old(self) -> None:
        done = sorted((j for j in self._jobs.values() if j.finished is not None),
                      key=lambda j: j.finished)
        for j in done[:max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[j.job_id]
