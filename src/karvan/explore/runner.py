"""Run an experiment (scenario x draw) on Dask, persisting every batch as it completes.

The client draws the design, sends each scenario's model builder to the cluster once (a task
whose result stays in worker memory), then one task per batch of draws of one scenario: the
batch's input values in, a table of inputs and headline outputs back. Where the links a scenario
diverts freight onto or off are followed (``diverted``), every model is built first and its
central link tonnes gathered to choose them, before any draw. The client writes each
returned batch atomically into the experiment folder as it arrives, so a worker or a client that
dies loses only batches in flight; the same call again skips every draw already written.

Results do not depend on how draws are spread: a draw's input values come from the design
(seeded), each draw starts from its scenario's central solution (never from another draw), and
kernels run with one numba thread inside tasks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from karvan import _version
from karvan._version import __version__, code_fingerprint
from karvan.errors import InputError, KarvanError
from karvan.explore.experiment import (
    EXPERIMENTS,
    Experiment,
    design_frame,
    find_resumable,
    new_experiment_id,
    partition_name,
    write_csv_atomic,
    write_parquet_atomic,
)
from karvan.explore.inputs import InputSet
from karvan.explore.sampling import (
    DESIGN_VERSION,
    Design,
    check_design_args,
    make_design,
    n_groups,
    n_joint,
)

log = logging.getLogger(__name__)

#: seconds to wait for a scheduler given by address before giving up
CONNECT_TIMEOUT_S = 10.0
#: the manifest's record of the links every model follows (``run_experiment(diverted=)``)
DIVERTED = "diverted_links"

Progress = Callable[[int, int, str], None]
Diverted = Callable[[dict[str, pd.DataFrame], dict[str, str | None]], dict]


class Model(Protocol):
    """What an experiment evaluates: outputs (name -> number) at input values (None: central).
    Under ``run_experiment(diverted=)`` a model also gives its ``central_link_tonnes()`` and
    ``with_link_outputs(links)`` (:class:`~karvan.explore.corridor.CorridorModel`)."""

    def evaluate(self, values: np.ndarray | None) -> dict[str, float]:
        """The outputs at input ``values`` (one per input; None: the central case)."""
        ...


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One scenario of an experiment: a picklable builder run on a worker, and the scenario
    its effects are measured against (its like-year reference), if any."""

    scenario: str
    build: Callable[[], Model]
    reference: str | None = None
    config: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class ExperimentResult:
    """A finished experiment: its folder, the draws computed by this call and those resumed,
    and its tables (read from the folder; ``docs/explore.md`` says what each column holds).

    Examples
    --------
    >>> res = explore(["rasht_astara"], draws=20, workers=2)  # doctest: +SKIP
    >>> res = ExperimentResult.open("results/experiments/<id>")  # doctest: +SKIP
    >>> res.bands.query("output == 'link:T_IR_ASTARA_TERMINAL:tonnes'")  # doctest: +SKIP
    >>> res.effects  # each scenario against its like-year reference  # doctest: +SKIP
    >>> res.probability("rasht_astara", "effect:border:AZ-IR_ASTARA:tonnes", ">", 0)
    ... # doctest: +SKIP
    """

    experiment: Experiment
    computed: int
    resumed: int
    elapsed_s: float

    @classmethod
    def open(cls, folder: str | Path) -> ExperimentResult:
        """The result of the experiment stored in ``folder`` (``karvan explore``'s, for one),
        with no draw computed or resumed by this call.

        Raises
        ------
        InputError
            No experiment in the folder.
        """
        exp = Experiment(folder)
        exp.manifest()  # says so where there is none
        return cls(exp, 0, 0, 0.0)

    @property
    def folder(self) -> Path:
        """The experiment's folder."""
        return self.experiment.folder

    @property
    def bands(self) -> pd.DataFrame:
        """One row per scenario and output, levels and effects (``kind``): central, mean, sd,
        p5, p25, p50, p75, p95, n, n_unconverged, central_in_band."""
        return self.experiment.table("bands")

    @property
    def effects(self) -> pd.DataFrame:
        """The rows of :attr:`bands` of kind ``effect``: scenario - its like-year reference
        (column ``reference``), draw by draw, as outputs ``effect:<output>``."""
        b = self.bands
        return b[b["kind"] == "effect"].reset_index(drop=True)

    @property
    def statements(self) -> pd.DataFrame:
        """The summary's statements with the probability that each holds and the inputs that
        decide it."""
        return self.experiment.table("statements")

    @property
    def sensitivity(self) -> pd.DataFrame:
        """The sensitivity indices of each statement's quantity, one row per statement and
        factor (or group)."""
        return self.experiment.table("sensitivity")

    def draws(self, scenario: str | None = None) -> pd.DataFrame:
        """Every draw as written: ``scenario``, ``draw`` (-1 the central case), ``in:<input>``
        and ``out:<output>`` (:meth:`~karvan.explore.experiment.Experiment.draws`)."""
        return self.experiment.draws(scenario)

    def probability(self, scenario: str, left: str, op: str, right: str | float, *,
                    text: str = "") -> pd.Series:
        """How likely ``left op right`` is in ``scenario``
        (:func:`karvan.explore.analysis.probability`)."""
        from karvan.explore.analysis import probability

        return probability(self.experiment, scenario, left, op, right, text=text)

    def deciding_inputs(self, scenario: str, output: str) -> pd.DataFrame:
        """The inputs that decide ``output`` of ``scenario``, most important first
        (:func:`karvan.explore.analysis.output_sensitivity`)."""
        from karvan.explore.analysis import output_sensitivity

        return output_sensitivity(self.experiment, scenario, output)


def _one_thread():
    import numba

    @contextlib.contextmanager
    def cm():
        old = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            yield
        finally:
            numba.set_num_threads(old)
    return cm()


def _build(build: Callable[[], Model]) -> Model:
    with _one_thread():
        return build()


@dataclass(frozen=True, slots=True)
class DrawError:
    """What a batch returns instead of its draws when the model raised on one of them: the
    draw (-1: the central case), the exception's type and message, and its traceback. Returned,
    not raised, so that Dask neither retries the batch (it would fail again) nor logs it."""

    draw: int
    kind: str
    message: str
    trace: str


class DrawFailedError(RuntimeError):
    """A draw that the model could not compute: not the machine's or the scheduler's doing, so
    the same command fails on it again."""


def _draw_failed(exp: Experiment, scenario: str, err: DrawError) -> None:
    """Stop the experiment on a draw the model could not compute.

    Raises
    ------
    DrawFailedError
        Always, naming the scenario, the draw and the row of its inputs, with the worker's
        traceback as its cause (``karvan --debug`` shows it).
    """
    where = ("its central case" if err.draw < 0 else
             f"draw {err.draw} (its inputs: row {err.draw} of {exp.folder / 'design.parquet'})")
    raise DrawFailedError(
        f"scenario {scenario}, {where}: {err.kind}: {err.message.rstrip('.')}. The model "
        "cannot compute this draw, so the same command would stop on it again; the draws "
        "written are kept."
    ) from RuntimeError(f"where the draw was computed:\n{err.trace}")


def _evaluate_batch(model: Model, values: np.ndarray | None, draws: np.ndarray,
                    input_names: Sequence[str], links: Sequence[str] = ()
                    ) -> bytes | DrawError:
    """Evaluate draws ``draws`` (rows of ``values``; None: the central case, draw -1) and
    return the batch as the bytes of a Parquet file (``draw``, ``in:<input>``,
    ``out:<output>``, ``_gap``, ...): built where the work is done, so that the client only
    writes it; a :class:`DrawError` where the model raised on a draw. ``links``: the diverted
    links every model follows (``model.with_link_outputs``)."""
    import traceback

    import pyarrow as pa
    import pyarrow.parquet as pq

    if links:
        model = model.with_link_outputs(links)
    rows = []
    with _one_thread():
        for r in range(len(draws)):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                out = model.evaluate(None if values is None else values[r])
            except Exception as e:  # noqa: BLE001  (reported by the client with the draw)
                return DrawError(int(draws[r]), type(e).__name__, str(e),
                                 traceback.format_exc())
            out = {f"out:{k}" if not k.startswith("_") else k: v for k, v in out.items()}
            out["_elapsed_s"] = time.perf_counter() - t0
            out["_cpu_s"] = time.process_time() - c0
            rows.append(out)
    names = list(rows[0]) if rows else []
    cols = [pa.array(np.asarray(draws, dtype=np.int64))]
    col_names = ["draw"]
    if values is not None:
        v = np.asarray(values, dtype=float)
        cols += [pa.array(v[:, j]) for j in range(v.shape[1])]
        col_names += [f"in:{n}" for n in input_names]
    x = np.array([[row.get(n, np.nan) for n in names] for row in rows], dtype=float)
    cols += [pa.array(x[:, j]) for j in range(len(names))]
    col_names += names
    sink = pa.BufferOutputStream()
    # the code that computed the batch, for the client to check: a worker started from other
    # code (a changed checkout) gave draws that were mixed in with the others in silence
    table = pa.Table.from_arrays(cols, names=col_names).replace_schema_metadata(
        {CODE_KEY: code_fingerprint()})
    pq.write_table(table, sink, write_statistics=False)
    return sink.getvalue().to_pybytes()


#: the Parquet metadata key of a batch's code fingerprint
CODE_KEY = b"karvan_code"
#: seconds without any Dask worker after which an experiment on a scheduler stops (the draws
#: written are kept)
NO_WORKER_S = 60.0
#: seconds the workers have to say which karvan code they run (:func:`_check_worker_code`)
WORKER_CHECK_S = 60.0
#: seconds beyond :data:`CONNECT_TIMEOUT_S` given to a connection that is answered by something
#: that is no Dask scheduler before it is given up
CONNECT_GRACE_S = 5.0


def _batch_code(blob: bytes) -> str | None:
    """The code fingerprint a batch was computed with (None: not recorded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = pq.read_schema(pa.BufferReader(blob)).metadata or {}
    code = meta.get(CODE_KEY)
    return code.decode() if code is not None else None


def _other_code(where: str, code: str | None) -> KarvanError:
    return KarvanError(
        f"{where} runs other karvan code (code fingerprint {code}, this process "
        f"{code_fingerprint()}): its draws would be mixed with this code's, so none of them "
        "is kept. Start the Dask workers from the same karvan (the same checkout, or a worker "
        "restarted after the code changed); the draws written are kept, and the same command "
        "resumes.")


def _client_within(client_class, scheduler: str):
    """A client of the Dask scheduler at ``scheduler``, connected within
    :data:`CONNECT_TIMEOUT_S` (and a few seconds' grace): an address that answers but is no
    Dask scheduler (its dashboard's port, a web server) waited for ever, or failed with
    MemoryError reading a web page's reply as a message length.

    Raises
    ------
    InputError
        No scheduler there in time, or none at all.
    """
    box: dict = {}

    def attempt() -> None:
        try:
            box["client"] = client_class(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except BaseException as e:  # noqa: BLE001  (reported below, in the caller's thread)
            box["error"] = e

    t = threading.Thread(target=attempt, name="karvan-dask-connect", daemon=True)
    t.start()
    t.join(CONNECT_TIMEOUT_S + CONNECT_GRACE_S)
    e = box.get("error")
    if "client" in box:
        return box["client"]
    waited = CONNECT_TIMEOUT_S + (CONNECT_GRACE_S if t.is_alive() else 0.0)
    why = ("no answer as a Dask scheduler" if t.is_alive() else
           f"{type(e).__name__}: {e}" if e is not None else "no client")
    what = (f"the address {scheduler!r} is not valid" if isinstance(e, ValueError) else
            f"cannot reach the Dask scheduler at {scheduler!r} within {waited:g} s")
    raise InputError(f"{what} ({why}); start one (`dask scheduler`, then give the address "
                     "it prints: tcp://host:8786, not its dashboard's port) or leave out "
                     "--scheduler for a local cluster.") from None


def _check_worker_code(client) -> None:
    """Refuse workers that run other karvan code than this process (or none).

    Raises
    ------
    KarvanError
        A worker that cannot run karvan, runs other code, or does not answer within
        :data:`WORKER_CHECK_S`.
    """
    # the workers' own fingerprint, whatever this process's module holds; a worker that left
    # meanwhile (a closed connection) is not asked again. Asked in a thread: a worker that
    # never answers (stuck in a task, frozen) held the experiment before its first draw, silent
    box: dict = {}

    def ask() -> None:
        try:
            box["answers"] = client.run(_version.code_fingerprint, on_error="return")
        except BaseException as e:  # noqa: BLE001  (raised below, in the caller's thread)
            box["error"] = e

    t = threading.Thread(target=ask, name="karvan-dask-code-check", daemon=True)
    t.start()
    t.join(WORKER_CHECK_S)
    if t.is_alive():
        raise KarvanError(f"the Dask workers did not say within {WORKER_CHECK_S:g} s which "
                          "karvan code they run (a worker busy with another task or frozen); "
                          "check the cluster (its dashboard lists the workers), then run the "
                          "same command again.")
    if "error" in box:
        raise box["error"]
    answers = box["answers"]
    failed = {w: e for w, e in answers.items() if isinstance(e, BaseException)
              and "Comm" not in type(e).__name__}
    if failed:
        w, e = next(iter(failed.items()))
        raise KarvanError(f"the Dask worker {w} could not run karvan ({type(e).__name__}: "
                          f"{e}); start the workers in an environment where karvan, the same "
                          "as this one, is installed.")
    codes = {w: c for w, c in answers.items() if isinstance(c, str)}
    other = {w: c for w, c in codes.items() if c != code_fingerprint()}
    if other:
        w, c = next(iter(other.items()))
        raise KarvanError(_other_code(f"the Dask worker {w}" + (
            f" (and {len(other) - 1} more)" if len(other) > 1 else ""), c).args[0])


def config_hash(config: dict) -> str:
    """A stable hash of an experiment's settings (what must match to resume)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


@contextlib.contextmanager
def connect(*, workers: int | None = None, scheduler: str | None = None,
            client: Any = None) -> Iterator[Any]:
    """A Dask client: the one given, one connected to ``scheduler``, or a local cluster of
    ``workers`` processes (one thread each); closed on exit unless it was given.

    Raises
    ------
    InputError
        Both ``workers`` and ``scheduler``, ``workers`` < 1, or a scheduler that cannot be
        reached within :data:`CONNECT_TIMEOUT_S`.
    KarvanError
        The workers of a local cluster failed to start (a script without a main guard),
        with the remedy; or the workers run other karvan code.
    RuntimeError
        A local cluster that fails for another reason, as Dask raises it.
    """
    if client is not None:
        _check_worker_code(client)
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise InputError("give --workers (a local cluster) or --scheduler (a running one), not "
                         "both.")
    if scheduler is not None:
        c = _client_within(Client, scheduler)
        try:
            _check_worker_code(c)
            yield c
        finally:
            c.close()
        return
    n = 2 if workers is None else int(workers)
    if n < 1:
        raise InputError(f"--workers must be >= 1, got {workers}.")
    # the worker processes start with Ctrl-C ignored: it is this process's to handle (it stops
    # the experiment and closes the cluster); caught in each worker as well, it printed a
    # traceback from every one of them over the message that nothing was half-written
    quiet = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.SIG_IGN) if quiet else None
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
    except RuntimeError as e:
        if "failed to start" not in str(e):  # a port clash, a missing dependency: as it is
            raise
        # a script that calls explore at its top level: each worker process imports the
        # main module again, calls explore there and fails; it ended on "Nanny failed to start"
        raise KarvanError(
            f"the local Dask cluster could not start its {n} worker processes "
            f"({type(e).__name__}: {e}). Each worker is a new Python process that imports the "
            "main module again: in a script, call explore (or run_experiment) under "
            "`if __name__ == \"__main__\":`; or run the draws in this process with workers=0 "
            "(--workers 0).") from e
    finally:
        if quiet:
            signal.signal(signal.SIGINT, before)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def run_experiment(specs: Sequence[ModelSpec], inputs: InputSet, *, draws: int,
                   sampler: str = "lhs", seed: int = 0, groups: str = "factor",
                   workers: int | None = None, scheduler: str | None = None,
                   client: Any = None, folder: str | Path | None = None,
                   store: str | Path | None = None, batch_size: int | None = None,
                   config: dict | None = None, progress: Progress | None = None,
                   analyse: Callable[[Experiment], None] | None = None,
                   diverted: Diverted | None = None) -> ExperimentResult:
    """Evaluate every scenario of ``specs`` at every point of a design of ``inputs``.

    Parameters
    ----------
    specs
        The scenarios: their builders and like-year references.
    inputs
        The uncertain inputs (their factors are the design's dimensions).
    draws, sampler, seed, groups
        The design (:func:`karvan.explore.sampling.make_design`).
    workers, scheduler, client
        Where to run: a local cluster of ``workers`` processes (default 2), the scheduler at
        ``scheduler``, an existing Dask ``client``; ``workers=0`` runs in this process.
    folder, store
        The experiment's folder; default a new folder under ``store/experiments`` (``store``
        default ``results``), or the incomplete one there with the same settings (resumed).
    batch_size
        Draws per task (default: about 1 s of work, 8 to 32 draws).
    config
        More settings that define the experiment (the dataset's hashes, solver settings).
    progress
        Called with (draws done, draws in all, a note) once the arguments are checked and the
        cluster reached (nothing is reported before an error of the caller's), then after each
        batch.
    analyse
        Called with the experiment once every draw is written (bands, statements, sensitivity).
    diverted
        Given each model's central link tonnes (``model.central_link_tonnes()``) and each
        scenario's reference, the links every model follows besides its own outputs
        (:func:`karvan.explore.corridor.diverted_links`): called once every model is built and
        before any draw, its answer written to the manifest (``diverted_links``, whose
        ``links`` a resumed experiment follows again); None: no such links.

    Raises
    ------
    InputError
        Bad design arguments, both workers and scheduler, an unreachable scheduler, a folder
        holding an experiment with other settings; all before any model is built.
    KarvanError
        A task that failed (with its scenario and draws).
    """
    t0 = time.perf_counter()
    problems = check_design_args(sampler, draws, len(inputs.factors), groups,
                                 n_groups(inputs, groups), n_joint(inputs))
    names = [s.scenario for s in specs]
    if not specs:
        problems.append("no scenario to explore.")
    if len(set(names)) != len(names):
        problems.append(f"scenarios repeat: {', '.join(names)}.")
    else:
        same = {}
        for n in names:
            # casefold: on macOS's and Windows' file systems Rasht and rasht are one folder
            same.setdefault(partition_name(n).casefold(), []).append(n)
        for group in (g for g in same.values() if len(g) > 1):
            problems.append(f"scenarios {' and '.join(map(repr, group))} would share one folder "
                            f"of draws ({partition_name(group[0])}: names are written with "
                            "A-Za-z0-9_-. only, and a file system may not tell upper from lower "
                            "case); rename one.")
    if batch_size is not None and batch_size < 1:
        problems.append(f"batch size must be >= 1, got {batch_size}.")
    if workers is not None and scheduler is not None:
        problems.append("give workers (--workers: a local cluster) or scheduler (--scheduler: a "
                        "running one), not both.")
    if workers is not None and workers < 0:
        problems.append(f"workers (--workers) must be >= 0, got {workers}.")
    if problems:
        raise InputError(problems)
    design = make_design(inputs, sampler, draws, seed, groups=groups)
    cfg = {"karvan_version": __version__, "karvan_code": code_fingerprint(),
           "scenarios": names,
           "references": {s.scenario: s.reference for s in specs},
           "scenario_config": {s.scenario: s.config for s in specs},
           "sampler": sampler, "draws": draws, "seed": seed, "groups": groups,
           "factors": list(inputs.factors), "inputs": inputs.names,
           "uncertainty_table": inputs.table_hash, **(config or {})}
    if inputs.correlation is not None:
        # the factors that draw together (a Latin hypercube's ranks are read on them)
        cfg["correlation"] = inputs.correlation.manifest()
    chash = config_hash(cfg)
    exp = _open_experiment(folder, store, chash, names, cfg)
    in_process = workers == 0 and client is None and scheduler is None
    with contextlib.ExitStack() as stack:
        resumed = exp.exists()
        if resumed:
            _check_stored_design(exp.folder, design)
        done = exp.completed()
        todo = _batches(specs, design, done, batch_size)
        # every draw written (an experiment run again, to analyse it anew): no cluster to
        # start, whose workers, closed at once, logged tracebacks of their lost heartbeats
        cl = None if in_process or not todo else stack.enter_context(
            connect(workers=workers, scheduler=scheduler, client=client))
        if not resumed:
            exp.folder.mkdir(parents=True, exist_ok=True)
            write_parquet_atomic(design_frame(design.u, design.factors),
                                 exp.folder / "design.parquet")
            write_csv_atomic(inputs.table(), exp.folder / "inputs.csv")
            exp.write_manifest({**cfg, "config_hash": chash, "status": "running",
                                "created": datetime.now(UTC).isoformat(),
                                "n_draws": design.n, "design_groups": list(design.groups),
                                "design_group_of": list(design.group_of),
                                "design_version": DESIGN_VERSION,
                                "experiment_id": exp.folder.name})
        else:
            log.info("resuming experiment %s", exp.folder)
        total = len(specs) * (design.n + 1)
        n_done = sum(len(v) for v in done.values())
        n_resumed = n_done
        if progress is not None:
            progress(n_done, total, f"resumed {n_done} draws" if n_done else "started")
        values = inputs.values(design.u)
        computed = 0
        links = tuple((exp.manifest().get(DIVERTED) or {}).get("links", ()))
        choose = None
        if diverted is not None and todo and not any(done.values()) and \
                DIVERTED not in exp.manifest():
            refs = {s.scenario: s.reference for s in specs}

            def choose(central: dict[str, pd.DataFrame]) -> tuple[str, ...]:
                # recorded before any draw: a resumed experiment follows the same links
                record = diverted(central, refs)
                exp.write_manifest({**exp.manifest(), DIVERTED: record})
                return tuple(record["links"])
        if in_process or not todo:
            models = {}
            if choose is not None:  # every central case first: the links depend on them all
                models = {s.scenario: _build(s.build) for s in specs}
                links = choose({n: m.central_link_tonnes() for n, m in models.items()})
            for spec, ids in todo:
                if spec.scenario not in models:
                    models[spec.scenario] = _build(spec.build)
                blob = _evaluate_batch(models[spec.scenario],
                                       None if ids[0] < 0 else values[ids], ids, inputs.names,
                                       links)
                if isinstance(blob, DrawError):
                    _draw_failed(exp, spec.scenario, blob)
                exp.write_batch(spec.scenario, ids, blob)
                computed += len(ids)
                n_done += len(ids)
                if progress is not None:
                    progress(n_done, total, spec.scenario)
        else:
            # a client handed in may be an adaptive cluster whose workers come and go: its
            # owner watches it
            computed, n_done = _run_on_dask(cl, exp, specs, todo, values, inputs.names,
                                            n_done, total, progress, watch=client is None,
                                            links=links, choose=choose)
        if analyse is not None:
            analyse(exp)
        m = exp.manifest()
        m.update(status="complete", completed=datetime.now(UTC).isoformat())
        # resumed, its stored design is the one drawn now (_check_stored_design)
        m.setdefault("design_version", DESIGN_VERSION)
        exp.write_manifest(m)
    return ExperimentResult(exp, computed, n_resumed, time.perf_counter() - t0)


def _open_experiment(folder, store, chash: str, names: list[str],
                     cfg: dict | None = None) -> Experiment:
    if folder is not None:
        if Path(folder).exists() and not Path(folder).is_dir():
            raise InputError(f"--out {folder} is a file; give a folder for the experiment (a new "
                             "one, or the experiment's own to resume it).")
        exp = Experiment(folder)
        if exp.exists():
            m = exp.manifest()
            if m.get("config_hash") != chash:
                raise InputError(f"{exp.folder} holds an experiment with other settings "
                                 f"(scenarios {', '.join(m.get('scenarios', []))}, draws "
                                 f"{m.get('draws')}, sampler {m.get('sampler')}, seed "
                                 f"{m.get('seed')}){_what_differs(m, cfg or {})}; give "
                                 "another --out folder.")
        elif exp.folder.exists() and any(exp.folder.iterdir()):
            raise InputError(f"{exp.folder} is not empty and holds no experiment; give a new or "
                             "empty folder.")
        return exp
    root = Path(store) if store is not None else Path("results")
    found = find_resumable(root, chash)
    if found is not None:
        return found
    other = _left_by_other_code(root, cfg or {})
    if other is not None:
        log.warning("%s holds an unfinished experiment of these settings, started by other code "
                    "(karvan_code %s, now %s): it is not resumed, since its draws and new ones "
                    "would not be of one model; starting a new experiment.", other.folder,
                    other.manifest().get("karvan_code", "?"), (cfg or {}).get("karvan_code"))
    label = names[0] if len(names) == 1 else f"{len(names)}scenarios"
    return Experiment(root / EXPERIMENTS / new_experiment_id(label, chash))


def _differing(stored: dict, cfg: dict) -> list[str]:
    """The settings of ``cfg`` that ``stored`` (a manifest) records otherwise."""
    def same(a, b) -> bool:
        return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                        default=str)

    return [k for k in cfg if not same(stored.get(k), cfg[k])]


def _left_by_other_code(root: Path, cfg: dict) -> Experiment | None:
    """An unfinished experiment under ``root`` whose settings differ from ``cfg`` only in the
    code that made it (``karvan_code``)."""
    base = root / EXPERIMENTS
    if not cfg or not base.is_dir():
        return None
    for p in sorted(base.iterdir(), reverse=True):
        e = Experiment(p)
        try:
            m = e.manifest() if e.exists() else None
        except (json.JSONDecodeError, OSError):
            m = None
        if m and m.get("status") != "complete" and _differing(m, cfg) == ["karvan_code"]:
            return e
    return None


def _what_differs(stored: dict, cfg: dict) -> str:
    """``": it differs in ..."``: the settings of ``cfg`` an experiment's manifest records
    otherwise (the user's own may be the same: another karvan version, dataset or uncertain
    inputs, whose names say which sources they draw), with how many input names are new."""
    keys = _differing(stored, cfg)
    if not keys:
        return ""
    text = f": it differs in {', '.join(keys)}"
    if "karvan_code" in keys:
        text += (" (karvan's code changed since the experiment started, so its draws and new "
                 "ones would not be of one model)")
    if "inputs" in keys and isinstance(stored.get("inputs"), list):
        new = len(set(cfg["inputs"]) - set(stored["inputs"]))
        text += f" ({new} of today's {len(cfg['inputs'])} input names are not among its own)"
    return text


def _check_stored_design(folder, design: Design) -> None:
    """Refuse to resume an experiment whose stored design is not the one drawn now (another
    version of SciPy or SALib can draw other points from the same seed): its draws would mix
    points of two designs while the analysis pairs every one with the stored design.

    Raises
    ------
    InputError
        When the stored design differs from ``design``.
    """
    path = folder / "design.parquet"
    if not path.is_file():
        return
    stored = pd.read_parquet(path)
    u = stored[[c for c in stored.columns if c.startswith("u:")]].to_numpy(dtype=float)
    if u.shape != design.u.shape or not np.allclose(u, design.u, rtol=0.0, atol=1e-12):
        raise InputError(f"{folder}: the design stored with this experiment is not the one "
                         "drawn now from the same settings (a different version of SciPy or "
                         "SALib?); its draws cannot be resumed. Give another --out folder to "
                         "start again, or use the versions it was started with.")


def _batches(specs, design: Design, done: dict[str, set[int]], batch_size: int | None
             ) -> list[tuple[ModelSpec, np.ndarray]]:
    """(scenario, draw ids) of the work left: the central case (-1) first, then batches."""
    size = batch_size or int(min(32, max(8, design.n // 16)))
    out = []
    per = []
    for s in specs:
        have = done.get(partition_name(s.scenario), set())
        if -1 not in have:
            out.append((s, np.array([-1])))
        left = np.array([d for d in range(design.n) if d not in have], dtype=np.int64)
        per.append([(s, left[i:i + size]) for i in range(0, len(left), size)])
    # interleave scenarios so that every one advances together
    for i in range(max((len(p) for p in per), default=0)):
        out.extend(p[i] for p in per if i < len(p))
    return out


def _as_done(client, futures: list, *, watch: bool = True) -> Iterator[Any]:
    """The futures as they finish (cancelled ones too: their result raises); with ``watch``,
    until the scheduler has had no worker for :data:`NO_WORKER_S` (every worker lost, or none
    ever started: it waited for ever, saying nothing).

    Raises
    ------
    KarvanError
        No worker for :data:`NO_WORKER_S`, or the scheduler lost.
    """
    from distributed import as_completed

    done = as_completed(futures)
    alone_since = None
    checked = time.monotonic()
    while not done.is_empty():
        batch = done.next_batch(block=False)
        if batch:
            alone_since = None
            yield from batch
            continue
        time.sleep(0.1)
        if not watch or time.monotonic() - checked < min(5.0, NO_WORKER_S):
            continue
        checked = time.monotonic()
        try:
            workers = client.nthreads()
        except OSError as e:
            raise KarvanError(f"lost the Dask scheduler ({type(e).__name__}: {e}). The draws "
                              "written are kept; the same command resumes.") from None
        if workers:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since >= NO_WORKER_S:
            raise KarvanError(f"the Dask scheduler has had no worker for {NO_WORKER_S:g} s "
                              "(lost, or never started; a worker that cannot import karvan "
                              "stops at once): start workers (`dask worker <scheduler "
                              "address>`) in karvan's environment. The draws written are "
                              "kept, and the same command resumes.")


def _central_link_tonnes(model) -> pd.DataFrame:
    """The model's central link tonnes (a task on the worker that holds the model)."""
    return model.central_link_tonnes()


def _run_on_dask(client, exp: Experiment, specs, todo, values: np.ndarray, input_names,
                 n_done: int, total: int, progress: Progress | None,
                 watch: bool = True, links: tuple[str, ...] = (),
                 choose: Callable[[dict], tuple[str, ...]] | None = None) -> tuple[int, int]:

    models = {}
    futures = {}
    asks = {}

    def build(spec) -> None:
        if spec.scenario not in models:
            models[spec.scenario] = client.submit(_build, spec.build, pure=False,
                                                  key=f"build-{spec.scenario}-{time.time_ns()}")
    computed = 0
    try:
        if choose is not None:  # every central case first: the links depend on them all
            for spec in specs:
                build(spec)
            asks = {client.submit(_central_link_tonnes, f, pure=False): s
                    for s, f in models.items()}
            central = {}
            for f in _as_done(client, list(asks), watch=watch):
                try:
                    central[asks[f]] = f.result()
                except Exception as e:  # noqa: BLE001  (re-raised with where it happened)
                    raise KarvanError(f"scenario {asks[f]}, its central case: "
                                      f"{type(e).__name__}: {e}. No draw was computed; the "
                                      "same command starts again.") from e
            links = choose(central)
        for spec, ids in todo:
            build(spec)
            vals = None if ids[0] < 0 else values[ids]
            f = client.submit(_evaluate_batch, models[spec.scenario], vals, ids, input_names,
                              links, pure=False, retries=2)
            futures[f] = (spec.scenario, ids)
        for f in _as_done(client, list(futures), watch=watch):
            scen, ids = futures[f]
            try:
                blob = f.result()
            except Exception as e:  # noqa: BLE001  (re-raised with where it happened)
                raise KarvanError(f"scenario {scen}, draws {int(ids[0])}..{int(ids[-1])}: "
                                  f"{type(e).__name__}: {e}. The draws written are kept; the "
                                  "same command resumes.") from e
            if isinstance(blob, DrawError):
                _draw_failed(exp, scen, blob)
            code = _batch_code(blob)
            if code != code_fingerprint():
                raise _other_code(f"a Dask worker (scenario {scen}, draws {int(ids[0])}.."
                                  f"{int(ids[-1])})", code)
            exp.write_batch(scen, ids, blob)
            computed += len(ids)
            n_done += len(ids)
            if progress is not None:
                progress(n_done, total, scen)
    finally:
        pending = [f for f in [*asks, *futures] if not f.done()]
        if pending:
            client.cancel(pending)
        client.cancel(list(models.values()))
    return computed, n_done
