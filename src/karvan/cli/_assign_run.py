"""What ``karvan assign`` does between parsing and printing, without typer or rich.

:func:`solve_files` is called by the typer command (:mod:`karvan.cli.assign`) and by the quick
path of ``karvan assign -q`` (:mod:`karvan.cli._quick`), which skips importing typer and rich
(about 0.1 s of CPU per process); both print what it returns.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from karvan.errors import catch_warnings


@dataclass(frozen=True, slots=True)
class _Assignable:
    """What ``karvan assign`` needs from its input files."""

    network: Any  # a Network, or a CompiledGraph read without pandas
    demand: Any
    toll_factor: float
    distance_factor: float
    classes: tuple = ()
    name: str = ""
    #: the network file or folder read (the _net file of a folder of TNTP files)
    source: Path | None = None
    #: the demand file read: the one given, else the one found beside the network
    trips: Path | None = None
    #: the use whose links were kept (GMNS allowed_uses), None for every link (EVERY_USE:
    #: every link, said so)
    use: str | None = None


def use_of(use: str | None, every_use: bool) -> str | None:
    """The ``use=`` of the readers for ``--use USE`` and ``--every-use`` (every link for every
    use, said so: :data:`karvan.io.gmns.EVERY_USE`).

    Raises
    ------
    InputError
        When both are given.
    """
    if not every_use:
        return use
    if use is not None:
        from karvan.errors import InputError

        raise InputError(f"--use {use} and --every-use: --use keeps the links whose "
                         f"allowed_uses admit {use}, --every-use reads every link for every "
                         "use; give one of them.")
    from karvan.io.gmns import EVERY_USE

    return EVERY_USE


def read_for_assign(network: Path | str, trips: Path | str | None, toll_factor: float | None,
                    distance_factor: float | None, capacity_per_lane: bool | None = None,
                    use: str | None = None) -> _Assignable:
    """A TNTP network with TNTP trips is read straight to a compiled graph (no pandas, the
    same graph and checks); anything else through :func:`karvan.io.problem.read_problem`. A
    folder without GMNS's node.csv and link.csv that holds one ``*_net.tntp`` file is read as
    that file (:func:`karvan.io.tntp.find_tntp_net`)."""
    from karvan.io.tntp import _sibling

    network = Path(network)
    if network.is_dir():
        from karvan.io.tntp import find_tntp_net

        network = find_tntp_net(network) or network
    # the demand file the readers take: the one given, else the GMNS folder's demand.csv or
    # the TNTP _trips file beside the _net file
    demand_file = Path(trips) if trips is not None else (
        network / "demand.csv" if network.is_dir() else _sibling(network, "trips"))
    if network.suffix.lower() == ".tntp" and network.is_file() and use is None and (
            trips is None or Path(trips).suffix.lower() == ".tntp"):
        from karvan.io.tntp import read_tntp_graph

        p = read_tntp_graph(network, trips, toll_factor=toll_factor,
                            distance_factor=distance_factor)
        return _Assignable(p.graph, p.demand, p.toll_factor, p.distance_factor, (), p.name,
                           network, demand_file)
    from karvan.io.problem import read_problem

    q = read_problem(network, trips, toll_factor=toll_factor, distance_factor=distance_factor,
                     capacity_per_lane=capacity_per_lane, use=use)
    return _Assignable(q.network, q.demand, q.toll_factor, q.distance_factor, q.classes,
                       q.network.name, network, demand_file, use)


def write_results(res, folder: Path, manifest: dict) -> None:
    """link_flows.csv, convergence.csv (written without pandas) and manifest.json."""
    import json

    from karvan.io.table_csv import write_csv

    write_csv(folder / "link_flows.csv", res.link_columns())
    write_csv(folder / "convergence.csv", res.convergence_columns())
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


def read_with_notes(network: Path, trips: Path | None, toll_factor: float | None,
                    distance_factor: float | None, capacity_per_lane: bool | None = None,
                    use: str | None = None) -> tuple[_Assignable, list[str]]:
    """:func:`read_for_assign`, with the warnings of the readers as notes to print (first, the
    _net file read where ``network`` is a folder of TNTP files)."""
    with catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prob = read_for_assign(network, trips, toll_factor, distance_factor,
                               capacity_per_lane, use)
    notes = [str(w.message) for w in caught]
    if prob.source != Path(network):
        notes.insert(0, f"{network} is a folder of TNTP files: assigning its network "
                        f"{prob.source.name}.")
    return prob, notes


#: what ``karvan assign`` says when the first solve on a machine compiles the kernels
COMPILING = "compiling the assignment kernels once (about 15 s; later runs reuse them)"


@contextmanager
def compiling_said(say: Callable[[str], None] | None) -> Iterator[None]:
    """Call ``say`` with :data:`COMPILING` where the solve inside compiles the kernels ahead of
    time (:func:`karvan.assign._aot.prepare` logs it, at INFO, on the first solve with these
    kernels on this machine). That record is taken instead of being logged; nothing is said
    in a run that finds them compiled."""
    if say is None:
        yield
        return
    from karvan.assign._aot import COMPILING as MARK
    from karvan.assign._aot import logger

    class _Say(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if getattr(record, MARK, False):
                say(COMPILING)
                return False
            return True

    said, level = _Say(), logger.level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addFilter(said)
    try:
        yield
    finally:
        logger.removeFilter(said)
        logger.setLevel(level)


def solve_and_write(prob: _Assignable, classes, *, network: Path, trips: Path | None,
                    method: str, gap: float, max_iter: int, max_time: float | None,
                    out_dir: Path, callback: Callable | None = None,
                    say: Callable[[str], None] | None = None):
    """Assign ``prob`` and write link_flows.csv, convergence.csv and manifest.json into
    ``out_dir`` (whole or not at all); returns (result, seconds of the solve). ``say`` is
    called with a line to show when the solve compiles the kernels (:func:`compiling_said`)."""
    import karvan
    from karvan.errors import ConvergenceWarning
    from karvan.io.atomic import atomic_folder

    t0 = time.perf_counter()
    with catch_warnings(), compiling_said(say):
        # not converging is reported by the caller and in the exit code
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = karvan.assign(prob.network, prob.demand, method=method, gap=gap,
                            max_iter=max_iter, max_time_s=max_time,
                            toll_factor=prob.toll_factor, classes=classes,
                            distance_factor=prob.distance_factor, callback=callback)
    elapsed = time.perf_counter() - t0
    with atomic_folder(out_dir) as tmp:
        write_results(res, tmp, {
            "karvan_version": karvan.__version__,
            "network": str(network), "trips": trips_read(prob, trips),
            "toll_factor": prob.toll_factor, "distance_factor": prob.distance_factor,
            **({"use": prob.use} if prob.use is not None else {}),
            "iterations": res.iterations, "relative_gap": res.gap, "converged": res.converged,
            "objective": res.objective, "elapsed_s": elapsed, **res.params,
        })
    return res, elapsed


def trips_read(prob: _Assignable, trips: Path | str | None) -> str | None:
    """The demand file a manifest records: the one read (given or found beside the network),
    else the one given."""
    path = prob.trips if prob.trips is not None else trips
    return str(path) if path else None


def summary(res, elapsed: float, out_dir: Path) -> str:
    """The last line ``karvan assign`` prints (after ``converged`` or ``not converged``)."""
    return (f"{res.iterations} iterations, relative gap {res.gap:.3e}, "
            f"objective {res.objective:.10g}, {elapsed:.2f} s -> {out_dir}")
