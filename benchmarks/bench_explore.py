"""Benchmarks of `karvan explore` against the goals of issue 11, in one run.

    python benchmarks/bench_explore.py                 # all parts, the full-size run at 100 draws
    python benchmarks/bench_explore.py --full-draws 1000   # the 1,000-draw run of the goal
    python benchmarks/bench_explore.py --parts draw,overhead
    python benchmarks/bench_explore.py --parts choice,speedup --choice logit

Parts (each prints its figures and the ratio to its goal; "goal/measured" >= 1 meets it):

- ``draw``: one draw of one scenario, warm-started from the central bushes, one numba thread,
  process CPU time per draw (median over ``--draws`` draws of every built-in scenario), against
  0.3 s; and the same draws started cold, and the central `karvan run` of each scenario (user
  equilibrium, capacity LP and every table) as the baselines named in the issue.
- ``overhead``: scheduler overhead per task on a local cluster of one worker process: a round
  trip of ``--tasks`` empty tasks, and the experiment runner with one tiny draw per task
  (submission, result transfer, the batch written to Parquet), against 20 ms.
- ``speedup``: the same experiment (2 scenarios, ``--speedup-draws`` draws) on 1 and on 2 worker
  processes: wall time of the draws (from the first to the last batch of draws, the central
  solutions excluded) and of the whole call; goal >= 1.8x.
- ``choice``: per-draw CPU of the same draws under the logit choice model (nested logit with
  capacities over the central route sets, the choice parameters drawn too) and the deterministic
  one (Algorithm B warm-started), one numba thread, median over ``--draws`` draws of each of
  ``--choice-scenarios``.
- ``full``: every built-in scenario (and their like-year references) x ``--full-draws`` draws on a
  local cluster of 2 processes, against 20 minutes (scaled linearly when fewer draws are run).

The machine's load average is printed before and after each part: on a shared machine the
figures are upper bounds of the quiet-machine times, and ratios of runs made back to back are
more telling than absolute times.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from pathlib import Path


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} cores"


def part_draw(n: int) -> None:
    import numba
    import numpy as np

    from karvan.explore.corridor import build_corridor_model
    from karvan.explore.inputs import corridor_inputs
    from karvan.explore.sampling import make_design
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios, load_scenario
    from karvan.scenario.run import run_scenario

    numba.set_num_threads(1)
    data = load_corridor()
    inputs = corridor_inputs(data)
    values = inputs.values(make_design(inputs, "lhs", n, seed=1).u)
    warm, cold, central = [], [], []
    print(f"draw: {_load()}")
    print(f"{'scenario':26s} {'central run s':>13s} {'warm CPU s':>10s} {'cold CPU s':>10s} "
          f"{'iter warm':>9s} {'iter cold':>9s}")
    for name in builtin_scenarios():
        spec = load_scenario(name)
        t = time.process_time()
        run_scenario(data, spec)
        c_run = time.process_time() - t
        model = build_corridor_model(data, spec, inputs)
        model.evaluate(values[0])  # first call of this process's kernels
        cold_model = copy.copy(model)
        cold_model.central = None
        w, c, wi, ci = [], [], [], []
        for v in values:
            t = time.process_time()
            o = model.evaluate(v)
            w.append(time.process_time() - t)
            wi.append(o["_iterations"])
            t = time.process_time()
            o = cold_model.evaluate(v)
            c.append(time.process_time() - t)
            ci.append(o["_iterations"])
        warm += w
        cold += c
        central.append(c_run)
        print(f"{name:26s} {c_run:13.2f} {statistics.median(w):10.3f} "
              f"{statistics.median(c):10.3f} {statistics.median(wi):9.0f} "
              f"{statistics.median(ci):9.0f}")
    mw, mc = statistics.median(warm), statistics.median(cold)
    print(f"median CPU per draw: warm {mw:.3f} s, cold {mc:.3f} s (cold/warm {mc / mw:.2f}); "
          f"central run (UE+LP+tables) median {statistics.median(central):.2f} s = "
          f"{statistics.median(central) / mw:.0f}x a draw; goal 0.3 s: goal/measured "
          f"{0.3 / mw:.1f}; p90 warm {np.percentile(warm, 90):.3f} s; {_load()}")


def part_choice(n: int, scenarios: list[str]) -> None:
    import numba

    from karvan.explore.choice_corridor import build_choice_model
    from karvan.explore.corridor import build_corridor_model
    from karvan.explore.sampling import make_design
    from karvan.explore.study import choice_correlation, choice_table, experiment_inputs
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import load_scenario

    numba.set_num_threads(1)
    data = load_corridor()
    table = choice_table(data)
    ins = {"deterministic": experiment_inputs(data, choice="deterministic"),
           "logit": experiment_inputs(data, choice="logit", table=table,
                                      correlation=choice_correlation(data))}
    print(f"choice: {_load()}")
    print(f"{'scenario':26s} {'model':13s} {'build s':>8s} {'CPU/draw s':>10s} {'p90 s':>7s} "
          f"{'iterations':>10s}")
    per: dict[str, list[float]] = {"deterministic": [], "logit": []}
    for name in scenarios:
        spec = load_scenario(name)
        for choice, inputs in ins.items():
            values = inputs.values(make_design(inputs, "lhs", n, seed=1).u)
            t = time.process_time()
            model = (build_choice_model(data, spec, inputs, table) if choice == "logit"
                     else build_corridor_model(data, spec, inputs))
            b = time.process_time() - t
            model.evaluate(values[0])
            cpu, it = [], []
            for v in values:
                t = time.process_time()
                o = model.evaluate(v)
                cpu.append(time.process_time() - t)
                it.append(o["_iterations"])
            per[choice] += cpu
            print(f"{name:26s} {choice:13s} {b:8.1f} {statistics.median(cpu):10.3f} "
                  f"{sorted(cpu)[int(0.9 * (len(cpu) - 1))]:7.3f} "
                  f"{statistics.median(it):10.0f}")
    ml, md = statistics.median(per["logit"]), statistics.median(per["deterministic"])
    print(f"median CPU per draw: logit {ml:.3f} s, deterministic {md:.3f} s (logit/"
          f"deterministic {ml / md:.2f}); goal 0.3 s: goal/measured logit {0.3 / ml:.1f}; "
          f"{_load()}")


def _noop(x):
    return x


def part_overhead(tasks: int) -> None:
    from karvan.explore.runner import ModelSpec, connect, run_experiment
    from karvan.explore.testfunctions import IshigamiModel, ishigami_inputs

    print(f"overhead: {_load()}")
    with connect(workers=1) as client:
        client.gather(client.map(_noop, range(10)))  # warm up
        t = time.perf_counter()
        client.gather(client.map(_noop, range(tasks), pure=False))
        rt = (time.perf_counter() - t) / tasks
        print(f"round trip of {tasks} empty tasks, 1 worker process: {1e3 * rt:.2f} ms per task "
              f"(goal 20 ms: goal/measured {0.02 / rt:.1f})")
        with tempfile.TemporaryDirectory() as tmp:
            r = run_experiment([ModelSpec("ishigami", IshigamiModel)], ishigami_inputs(),
                               draws=tasks, sampler="lhs", seed=0, client=client,
                               folder=Path(tmp) / "e", batch_size=1)
        per = r.elapsed_s / (tasks + 1)
        print(f"experiment runner, {tasks + 1} batches of one draw (task + Parquet file): "
              f"{1e3 * per:.2f} ms per batch (goal 20 ms: goal/measured {0.02 / per:.1f}); "
              f"{_load()}")


def _timed_explore(scenarios, draws, workers, out, choice=None):
    from karvan.explore.study import explore

    stamps = []
    t0 = time.perf_counter()
    explore(scenarios, draws=draws, seed=3, workers=workers, out=out, choice=choice,
            progress=lambda d, t, n: stamps.append((time.perf_counter(), d)))
    total = time.perf_counter() - t0
    return total, [t for t, _ in stamps]


def part_speedup(draws: int, choice: str | None = None) -> None:
    from karvan.explore.experiment import Experiment

    print(f"speedup ({choice or 'default'} choice model): {_load()}")
    scen = ["rasht_astara", "iran_disrupted"]
    res = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "e"
            total, stamps = _timed_explore(scen, draws, workers, out, choice)
            d = Experiment(out).draws()
            n_sc = d["scenario"].nunique()
            # skip the progress calls of the central cases (the first n_sc batches)
            span = stamps[-1] - stamps[min(n_sc, len(stamps) - 1)]
            n_draws = int((d["draw"] >= 0).sum())
            res[workers] = (total, span, n_draws)
            print(f"{workers} worker(s): {n_draws} draws of {n_sc} scenarios, whole call "
                  f"{total:.1f} s, draws {span:.1f} s ({n_draws / span:.1f} draws/s); {_load()}")
    s_total = res[1][0] / res[2][0]
    s_draws = res[1][1] / res[2][1]
    print(f"speed-up 1 -> 2 workers: draws {s_draws:.2f}x, whole call {s_total:.2f}x "
          f"(goal 1.8x)")


def part_full(draws: int, choice: str | None = None) -> None:
    from karvan.explore.experiment import Experiment
    from karvan.scenario import builtin_scenarios

    print(f"full: {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "e"
        total, _ = _timed_explore(builtin_scenarios(), draws, 2, out, choice)
        d = Experiment(out).draws()
        n_sc = d["scenario"].nunique()
    scaled = total * 1000 / draws
    print(f"{n_sc} scenarios (built-in and like-year references) x {draws} draws on 2 worker "
          f"processes: {total:.1f} s" + (f", scaled to 1,000 draws {scaled:.0f} s" if draws !=
                                         1000 else "") +
          f"; goal 1,200 s: goal/measured {1200 / scaled:.2f}; {_load()}")
    # what the draws cost in CPU, whatever the load: the time on two dedicated cores
    draws_cpu = float(d.loc[d["draw"] >= 0, "_cpu_s"].sum())
    per = draws_cpu / max(int((d["draw"] >= 0).sum()), 1)
    proj = n_sc * 1000 * per / 2
    print(f"CPU of the draws: {draws_cpu:.1f} s, {per:.3f} s per draw (median "
          f"{d.loc[d['draw'] >= 0, '_cpu_s'].median():.3f} s); {n_sc} scenarios x 1,000 draws "
          f"on two dedicated cores: {proj:.0f} s of draws (plus the central solutions, about "
          f"{float(d.loc[d['draw'] < 0, '_cpu_s'].sum()):.0f} s of CPU for the central outputs, "
          f"and the builds); goal 1,200 s: goal/projected {1200 / proj:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="draw,overhead,speedup,full")
    ap.add_argument("--draws", type=int, default=20, help="draws per scenario for 'draw'")
    ap.add_argument("--tasks", type=int, default=200, help="tasks for 'overhead'")
    ap.add_argument("--speedup-draws", type=int, default=128)
    ap.add_argument("--full-draws", type=int, default=100)
    ap.add_argument("--choice", default=None,
                    help="choice model of 'speedup' and 'full' (default: karvan explore's)")
    ap.add_argument("--choice-scenarios", default="baseline,rasht_astara,iran_disrupted")
    args = ap.parse_args()
    parts = args.parts.split(",")
    if "draw" in parts:
        part_draw(args.draws)
    if "choice" in parts:
        part_choice(args.draws, args.choice_scenarios.split(","))
    if "overhead" in parts:
        part_overhead(args.tasks)
    if "speedup" in parts:
        part_speedup(args.speedup_draws, args.choice)
    if "full" in parts:
        part_full(args.full_draws, args.choice)


if __name__ == "__main__":
    main()
