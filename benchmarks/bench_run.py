"""Time the whole `karvan run` (every built-in scenario, no arguments), phase by phase.

Runs the command in-process ``--repeat`` times (after one warm-up run that loads the numba
kernels), each into a fresh results folder, and prints the median wall time of the whole run and
of each phase: imports, dataset load, the scenario solves (apply the scenario, build the engine
network, unreachable demand, route sets, forced alternatives, the nested-logit equilibrium with
capacities, the capacity LP, back-casts, calibration tables, the other result tables), the run
store, the GeoPackages, the summary and the report. Phase times are exclusive (a phase nested in
another is counted once, in the inner one); phases that run in worker processes are timed there
and their sums reported, so with workers the phase times add up to more than the wall time.

``--baseline REF`` also times the code of a git ref (e.g. ``main``) the same way, in a
subprocess on a copy of that ref's ``src/`` (``git archive``), and prints the ratio of the
whole-run medians. Both runs alternate, so that a change of load hits both alike.

    python benchmarks/bench_run.py --repeat 3 [--baseline main] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (module, attribute, phase) timed in the run; a class method as ``Class.method``
PHASES = [
    ("karvan.freight.corridor", "load_corridor", "dataset load"),
    ("karvan.scenario.run", "apply_scenario", "apply scenario"),
    ("karvan.scenario.run", "build_network", "engine network"),
    ("karvan.scenario.run", "_split_unreachable", "unreachable demand"),
    ("karvan.scenario.choice_run", "generate_route_sets", "route sets"),
    ("karvan.scenario.choice_run", "forced_routes", "forced alternatives"),
    ("karvan.scenario.choice_run", "fixed_cost_equilibrium", "choice equilibrium"),
    ("karvan.scenario.run", "solve_capacity_lp", "capacity LP"),
    ("karvan.scenario.run", "calibration_tables", "calibration tables"),
    ("karvan.scenario.run", "run_scenario", "tables and the rest of a run"),
    ("karvan.scenario.run", "save_run", "run store: save"),
    ("karvan.store.runstore", "RunStore.copy_run", "run store: copy to results/"),
    ("karvan.io.geopackage", "write_geopackage", "GeoPackage"),
    ("karvan.cli.tables", "print_tables", "summary tables"),
    ("karvan.report", "write_report", "report.html"),
]
#: optional hooks of newer code: (module, attribute, phase), timed when present
OPTIONAL = [
    ("karvan.scenario.choice_run", "route_sets", "route sets (cached)"),
    # the choice model's searches on one set of class arrays (since generate_route_sets left it)
    ("karvan.scenario.choice_run", "build_route_set", "route sets"),
    ("karvan.scenario.choice_run", "least_cost_route_set", "route sets"),
    ("karvan.scenario.run", "_backcast_flows", "back-casts"),
]


def _install(record: dict[str, float]) -> None:
    """Wrap each phase's function with an exclusive timer that adds to ``record``."""
    import functools
    import importlib

    stack: list[list[float]] = []

    def timed(phase, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            stack.append([0.0])
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t
                inner = stack.pop()[0]
                record[phase] = record.get(phase, 0.0) + dt - inner
                if stack:
                    stack[-1][0] += dt
        return wrapper

    for mod_name, attr, phase in PHASES + OPTIONAL:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        owner, name = mod, attr
        if "." in attr:
            cls, name = attr.split(".")
            owner = getattr(mod, cls)
        if not hasattr(owner, name):
            continue
        setattr(owner, name, timed(phase, getattr(owner, name)))


def child(out: str, jobs: int | None) -> None:
    """One timed run of ``karvan run`` in this process; prints a JSON line of phase times."""
    t0 = time.perf_counter()
    import karvan.cli as cli

    # imports every command: _load_app since the loader was renamed (it was _app, the name of
    # the module karvan.cli._app); a ref older than that has _app
    register = getattr(cli, "_load_app", None) or cli._app
    register()
    import karvan.freight.corridor  # noqa: F401
    import karvan.io.geopackage  # noqa: F401
    import karvan.report  # noqa: F401
    import karvan.scenario.run  # noqa: F401
    from karvan.cli._app import main as cli_main

    record: dict[str, float] = {"imports": time.perf_counter() - t0}
    _install(record)
    os.environ["KARVAN_RUN_TIMINGS"] = "1"  # newer code: worker phases in <out>/timings.json
    argv = ["run", "--out", out, "-q"] + ([] if jobs is None else ["--jobs", str(jobs)])
    import contextlib
    import io

    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        sys.argv = ["karvan", *argv]
        try:
            cli_main()
        except SystemExit as e:
            if e.code:
                raise
    record["whole run"] = time.perf_counter() - t
    printed = [ln for ln in buf.getvalue().splitlines() if "scenarios in" in ln]
    record["printed"] = (float(printed[-1].split(" in ")[1].split(" s")[0]) if printed
                         else float("nan"))
    # phases timed in worker processes (newer code): the run leaves them in timings.json
    p = Path(out) / "timings.json"
    if p.exists():
        for k, v in json.loads(p.read_text()).items():
            record[k] = record.get(k, 0.0) + v
    print("TIMINGS " + json.dumps(record))


def _run_child(src: Path, out: Path, jobs: int | None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out)]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if r.returncode:
        raise SystemExit(f"run failed ({src}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("TIMINGS ")][-1]
    return json.loads(line.removeprefix("TIMINGS "))


def _load() -> str:
    try:
        return open("/proc/loadavg").read().split()[:3].__str__()
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="a git ref whose code path to time too, e.g. main")
    ap.add_argument("--jobs", type=int, help="karvan run --jobs N (this code only)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.jobs)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_run_"))
    trees = {"this": (ROOT / "src", args.jobs)}
    if args.baseline:
        base = tmp / "baseline"
        base.mkdir()
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "src"],
                              capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=arch, check=True)
        trees[args.baseline] = (base / "src", None)
    print(f"machine: {os.cpu_count()} cores; load average before {_load()}")
    for name, (src, jobs) in trees.items():  # warm-up: numba caches, file caches
        _run_child(src, tmp / f"warm-{name}", jobs)
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    loads = []
    for i in range(args.repeat):
        for name, (src, jobs) in trees.items():
            loads.append(_load())
            results[name].append(_run_child(src, tmp / f"{name}-{i}", jobs))
    print(f"load averages at the start of each run: {', '.join(loads)}")
    med = statistics.median
    names = list(trees)
    phases = list(dict.fromkeys(k for n in names for r in results[n] for k in r))
    head = "".join(f"{n:>14s}" for n in names)
    print(f"median of {args.repeat} runs, seconds (phase times exclusive)")
    print(f"{'phase':34s}{head}")
    for p in phases:
        vals = "".join(f"{med([r.get(p, 0.0) for r in results[n]]):14.2f}" for n in names)
        print(f"{p:34s}{vals}")
    if args.baseline:
        w = med([r["whole run"] for r in results["this"]])
        b = med([r["whole run"] for r in results[args.baseline]])
        print(f"whole run: this {w:.2f} s, {args.baseline} {b:.2f} s: "
              f"speed-up {b / w:.2f}x")


if __name__ == "__main__":
    main()
