"""Runs of choice parameter tables in worker processes: the columns of each finite-difference
Jacobian of ``karvan calibrate --parameters`` side by side (:class:`ProcessRunPool`).

Each worker builds the dataset's parameter runner (:func:`karvan.scenario.calibration
.choice_runner`) once, when it starts, then runs one parameter table per task and sends back
only what the fit compares (the fit rows' modelled values, :class:`karvan.calibrate.choice
.FitRowMeasure`), not the runs. Kernels run on one numba thread in a worker, so that the workers
do not compete for the cores. The runs are the same as in the calling process: the equilibrium
is deterministic, and the fit is the same with or without the pool (a test holds it so).

Open the pool before anything has run in the calling process: its workers are then forked with
the dataset and the modules loaded (else they start fresh and load them). On any exception
(Ctrl-C, a run's error; SIGTERM where the caller turns it into one, as ``karvan calibrate``
does) the workers are stopped at once and reaped; on Linux a worker also ends when the process
that started it ends, however it ends.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pandas as pd

from karvan.errors import InputError, KarvanError
from karvan.freight.corridor import CorridorData
from karvan.freight.observed import RunFlows
from karvan.scenario import _signals

#: the parameter runner of a worker process, built once by its initializer
_WORKER: dict = {}


def _die_with_parent() -> None:
    """On Linux, ask for SIGTERM when the process that started this one ends, however it
    ends (even by SIGKILL), so that no worker outlives a killed calibration."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl: best effort only
        pass


def _init_worker(data: CorridorData, gap: float, choice: str) -> None:
    from karvan.scenario.batch import _init_worker as init_batch_worker
    from karvan.scenario.calibration import choice_runner

    init_batch_worker(data)  # signals and one numba thread, as the workers of `karvan run`
    _die_with_parent()
    _WORKER["runner"] = choice_runner(data, gap=gap, choice=choice)


def _measure_in_worker(table: pd.DataFrame,
                       measure: Callable[[Mapping[int, RunFlows]], np.ndarray]) -> np.ndarray:
    return np.asarray(measure(_WORKER["runner"](table)), dtype=float)


def default_workers() -> int:
    """Worker processes by default: 2, or 1 where this process may use one CPU only."""
    from karvan.scenario.batch import usable_cpus

    return 2 if usable_cpus() >= 2 else 1


class ProcessRunPool:
    """Parameter tables run side by side in ``workers`` processes, each holding the runner of
    ``data`` (:func:`karvan.scenario.calibration.choice_runner` with ``gap`` and ``choice``).

    A :class:`karvan.calibrate.choice.RunPool`; use it as a context manager, which closes it.
    ``on_run`` is called in this process as each run ends.

    Raises
    ------
    InputError
        ``workers`` < 2 (one worker would only add a process to one run after the other).
    """

    def __init__(self, data: CorridorData, *, workers: int = 2, gap: float = 1e-10,
                 choice: str = "logit", on_run: Callable[[], None] | None = None) -> None:
        if int(workers) < 2:
            raise InputError(f"a run pool needs at least 2 workers, got {workers}; with one, "
                             "run in this process.", "ProcessRunPool")
        from karvan.scenario.batch import _context

        self.workers = int(workers)
        self._on_run = on_run
        # the workers and the pool's threads start with the signals held, so that the kernel
        # hands a signal for this process to the main thread (see _signals)
        with _signals.held():
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(),
                                             initializer=_init_worker,
                                             initargs=(data, gap, choice))
            # the first task starts every worker now (with fork, all at once), before this
            # process runs anything: later the fork might copy numba's running threads
            self._pool.submit(int)
            self._processes: list = list((self._pool._processes or {}).values())

    def map(self, measure: Callable[[Mapping[int, RunFlows]], np.ndarray],
            tables: Sequence[pd.DataFrame]) -> list[np.ndarray]:
        """``measure`` of the runs of each table, in the order of ``tables``.

        Raises
        ------
        KarvanError
            A run failed in a worker (its error is named), or a worker died.
        """
        if self._pool is None:
            raise KarvanError("the run pool is closed.")
        ok = False
        try:
            futures = {self._pool.submit(_measure_in_worker, t, measure): i
                       for i, t in enumerate(tables)}
            self._processes = list((self._pool._processes or {}).values())
            out: list = [None] * len(futures)
            for f in as_completed(futures):
                i = futures[f]
                try:
                    out[i] = f.result()
                except BrokenProcessPool as e:
                    raise KarvanError(
                        f"a worker process of the run pool died ({e}); run again, or with "
                        "--workers 1 (one run after the other in this process) if memory "
                        "is short.") from e
                except Exception as e:  # noqa: BLE001  (re-raised with where it happened)
                    raise KarvanError(f"parameter table {i + 1} of {len(futures)}: "
                                      f"{type(e).__name__}: {e}") from e
                if self._on_run is not None:
                    self._on_run()
            ok = True
            return out
        finally:
            if not ok:
                self.close(wait=False)

    def close(self, *, wait: bool = True) -> None:
        """Shut the workers down: after their work (``wait``), or at once."""
        if self._pool is None:
            return
        from karvan.scenario.batch import _stop_pool

        with _signals.held():
            processes = self._processes or list((self._pool._processes or {}).values())
            _stop_pool(self._pool, processes, wait=wait)
        self._pool = None

    def __enter__(self) -> ProcessRunPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)
