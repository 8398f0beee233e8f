"""Time `karvan run` on the built-in corridor, scenario by scenario, against its 30 s budget.

Runs every built-in scenario ``--repeat`` times in one process (after one warm-up run that
compiles or loads the numba kernels) and prints the median time of each step: the assignment
(user equilibrium, or with ``--choice logit``, the default, route sets and the nested-logit
equilibrium with capacities), capacity LP, tables, and the whole scenario; then the whole run
against the named baseline, the 30-second budget of the corridor model, as a ratio.

    python benchmarks/bench_corridor.py --repeat 5 [--choice logit|deterministic]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

BUDGET_S = 30.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--choice", default="logit", choices=("logit", "deterministic"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    from importlib import import_module

    # (karvan.assign is also the name of the assign function, so import the modules by name)
    cap = import_module("karvan.assign.capacity")
    eq = import_module("karvan.assign.equilibrium")
    run_mod = import_module("karvan.scenario.run")
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios, load_scenario

    t_import = time.perf_counter() - t0
    data = load_corridor()
    specs = [load_scenario(n) for n in builtin_scenarios()]
    timings: dict[str, dict[str, list[float]]] = {s.name: {"ue": [], "lp": [], "total": []}
                                                  for s in specs}
    spent = {"ue": 0.0, "lp": 0.0}
    real_assign, real_lp = eq.assign, cap.solve_capacity_lp

    def timed(kind, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[kind] += time.perf_counter() - t
        return wrapper

    run_mod.assign = timed("ue", real_assign)
    run_mod.solve_choice = timed("ue", run_mod.solve_choice)
    run_mod.solve_capacity_lp = timed("lp", real_lp)
    t = time.perf_counter()
    for s in specs:
        run_mod.run_scenario(data, s, choice=args.choice)
    warm = time.perf_counter() - t
    whole = []
    for _ in range(args.repeat):
        t_all = time.perf_counter()
        for s in specs:
            spent["ue"] = spent["lp"] = 0.0
            t = time.perf_counter()
            run_mod.run_scenario(data, s, choice=args.choice)
            tt = time.perf_counter() - t
            timings[s.name]["ue"].append(spent["ue"])
            timings[s.name]["lp"].append(spent["lp"])
            timings[s.name]["total"].append(tt)
        whole.append(time.perf_counter() - t_all)

    med = statistics.median
    threads = os.environ.get("NUMBA_NUM_THREADS", "default")
    print(f"machine: {os.cpu_count()} cores; numba threads {threads}")
    print(f"import {t_import:.2f} s; first pass over all scenarios (JIT load/compile) {warm:.2f} s")
    print(f"choice model: {args.choice}")
    print(f"{'scenario':26s} {'UE s':>7s} {'LP s':>7s} {'tables s':>9s} {'total s':>8s}")
    for name, tm in timings.items():
        ue, lp, tot = med(tm["ue"]), med(tm["lp"]), med(tm["total"])
        print(f"{name:26s} {ue:7.3f} {lp:7.3f} {tot - ue - lp:9.3f} {tot:8.3f}")
    w = med(whole)
    print(f"all scenarios, median of {args.repeat}: {w:.2f} s; "
          f"baseline 'budget {BUDGET_S:.0f} s': ratio {w / BUDGET_S:.2f}")


if __name__ == "__main__":
    main()
