"""Experiments (``karvan explore``) in the background of the dashboard: one at a time, in a
worker thread, with their progress; results in the run store's ``experiments/`` folder."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from karvan.errors import InputError
from karvan.web.jobs import BusyError, Registry

log = logging.getLogger(__name__)


def check_scenarios(names: list[str], *, base_year: int) -> None:
    """Refuse the names that ``explore`` could not run: neither built in nor the reference of a
    year (``reference_2028``, ``backcast_2023``).

    Raises
    ------
    InputError
        Every name refused, with the names that can be run.
    """
    from karvan.scenario.reference import load_scenario_or_reference

    problems = []
    for name in names:
        try:
            load_scenario_or_reference(name, base_year=base_year, warn=False)
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems, "experiment")


@dataclass(slots=True)
class ExperimentJob:
    """One background experiment; changed only under the registry's lock."""

    job_id: str
    scenarios: list[str]
    draws: int
    sampler: str
    seed: int
    choice: str | None = None  # None: karvan explore's default (karvan run's)
    status: str = "queued"  # queued | running | complete | failed
    done: int = 0
    total: int = 0
    note: str = ""
    experiment_id: str | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def snapshot(self) -> dict:
        """The job as a JSON-ready dict (what the experiments API returns)."""
        return {"job_id": self.job_id, "scenarios": list(self.scenarios), "draws": self.draws,
                "sampler": self.sampler, "seed": self.seed, "choice": self.choice,
                "status": self.status,
                "done": self.done, "total": self.total,
                "progress": round(self.done / self.total, 3) if self.total else 0.0,
                "note": self.note, "experiment_id": self.experiment_id, "error": self.error,
                "problems": list(self.problems), "created": self.created,
                "finished": self.finished,
                "report": (f"/experiments/{self.experiment_id}" if self.status == "complete"
                           else None)}


class ExperimentJobs(Registry):
    """Experiments of one dashboard, run one at a time.

    Parameters
    ----------
    store_root
        The run store; experiments go to ``store_root/experiments/``.
    data
        The corridor data (a callable, loaded on first use).
    workers
        Worker processes of each experiment's local Dask cluster (0: in the worker thread).
    """

    def __init__(self, store_root: Path, data: Callable, *, workers: int = 0) -> None:
        self.root = Path(store_root)
        self.workers = workers
        super().__init__(workers=1, thread_name_prefix="karvan-explore")
        self._data = data
        self._jobs: dict[str, ExperimentJob] = {}

    def submit(self, scenarios: list[str], *, draws: int, sampler: str = "lhs",
               seed: int = 0, choice: str | None = None) -> dict:
        """Queue an experiment; its job as a dict.

        Raises
        ------
        BusyError
            An experiment is already queued or running.
        InputError
            A scenario that is neither built in nor the reference of a year (it failed later,
            in the background, after a 202), with the names that can be run.
        """
        check_scenarios(scenarios, base_year=self._data().base_year)
        job = ExperimentJob(f"x{secrets.token_hex(5)}", list(scenarios), draws, sampler, seed,
                            choice)
        with self._lock:
            if any(j.finished is None for j in self._jobs.values()):
                raise BusyError("an experiment is already queued or running; start this one "
                                "when it has finished.")
            self._jobs[job.job_id] = job
            snap = job.snapshot()
        self._pool.submit(self._run, job.job_id)
        return snap


    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            j = self._jobs[job_id]
            for k, v in changes.items():
                setattr(j, k, v)

    def _run(self, job_id: str) -> None:
        from karvan.explore.study import explore
        from karvan.report.uncertainty import write_experiment_page

        j = self.get(job_id)
        self._update(job_id, status="running", note="starting")
        try:
            res = explore(j["scenarios"] or None, draws=j["draws"], sampler=j["sampler"],
                          seed=j["seed"], choice=j["choice"], data=self._data(),
                          workers=self.workers,
                          store=self.root,
                          progress=lambda d, t, n: self._update(job_id, done=d, total=t,
                                                                note=n))
            write_experiment_page(res.folder)
        except InputError as e:
            self._update(job_id, status="failed", error=str(e), problems=e.problems,
                         finished=time.time())
        except Exception as e:  # noqa: BLE001  (a worker's boundary: the job must end, failed)
            if self.stopped_with_the_dashboard(job_id, "experiment", e):
                return
            log.exception("experiment job %s failed", job_id)
            self._update(job_id, status="failed", error=f"{type(e).__name__}: {e}",
                         finished=time.time())
        else:
            self._update(job_id, status="complete", experiment_id=res.folder.name,
                         finished=time.time(), note="complete")
