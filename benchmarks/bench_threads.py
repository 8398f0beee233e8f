"""Threads under load: karvan's Algorithm B on 1 and on N threads, with and without a competing
busy process.

The claim checked: N threads are never slower than 1 when another process holds a core. For
each repeat the four cases (1 or N threads, quiet or busy) run in a shuffled order; "busy" starts
``--busy`` processes that spin (``while True: pass``) before the solve and stops them after it.
Each case is an in-process solve to ``--gap`` (network and demand in memory, numba's cache
loaded by an untimed warm-up), timed by the wall clock; the script prints the medians, the
ratios N/1 threads in each condition, rounds and the gap reached, and the load average.

Usage::

    python benchmarks/bench_threads.py /tmp/tntp/ChicagoSketch --gap 1e-8 --repeat 7
    python benchmarks/bench_threads.py /work/shared/tntp/Anaheim --gap 1e-10 --threads 2

The folder holds ``<stem>_net.tntp`` and ``<stem>_trips.tntp``; Chicago Sketch gets its published
cost weights (toll 0.02, distance 0.04), other networks 0 unless given.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

PUBLISHED_FACTORS = {"ChicagoSketch": (0.02, 0.04)}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="folder with <stem>_net.tntp and _trips.tntp")
    ap.add_argument("--gap", type=float, default=1e-8)
    ap.add_argument("--threads", type=int, default=2, help="N, compared with 1")
    ap.add_argument("--busy", type=int, default=1, help="competing busy processes")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--toll-factor", type=float, default=None)
    ap.add_argument("--distance-factor", type=float, default=None)
    return ap.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["NUMBA_NUM_THREADS"] = str(max(ARGS.threads, 1))  # read by numba at import


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_busy(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(0.3)  # let them get onto the cores
    return procs


def stop_busy(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def main(args) -> None:
    import numba

    import karvan

    nets = sorted(args.folder.glob("*_net.tntp"))
    if len(nets) != 1:
        raise SystemExit(f"{args.folder}: expected one *_net.tntp")
    stem = nets[0].name[: -len("_net.tntp")]
    tf, df = PUBLISHED_FACTORS.get(stem, (0.0, 0.0))
    tf = args.toll_factor if args.toll_factor is not None else tf
    df = args.distance_factor if args.distance_factor is not None else df
    prob = karvan.read_tntp(nets[0], toll_factor=tf, distance_factor=df)

    def solve():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return karvan.assign(prob.network, prob.demand, method="algorithm-b", gap=args.gap,
                                 max_iter=100000, toll_factor=prob.toll_factor,
                                 distance_factor=prob.distance_factor)

    n = args.threads
    print(f"# {stem}: Algorithm B to {args.gap:g}, 1 vs {n} threads, quiet vs {args.busy} busy "
          f"process(es); cpus {os.cpu_count()}, load {load()}")
    for k in (1, n):
        numba.set_num_threads(k)
        solve()  # warm-up: numba cache, first calls
    cases = [(k, busy) for k in (1, n) for busy in (False, True)]
    times: dict[tuple[int, bool], list[float]] = {c: [] for c in cases}
    info: dict[tuple[int, bool], tuple[int, float, int]] = {}
    rng = random.Random(args.seed)
    for rep in range(args.repeat):
        order = cases[:]
        rng.shuffle(order)
        for k, busy in order:
            numba.set_num_threads(k)
            procs = start_busy(args.busy) if busy else []
            try:
                t0 = time.perf_counter()
                r = solve()
                times[(k, busy)].append(time.perf_counter() - t0)
            finally:
                stop_busy(procs)
            info[(k, busy)] = (r.iterations, r.gap, r.params["threads"])
        print(f"  repeat {rep + 1}: " + ", ".join(
            f"{k} thr {'busy' if b else 'quiet'} {times[(k, b)][-1]:.3f} s" for k, b in cases)
            + f" (load {load()})", flush=True)
    numba.set_num_threads(n)
    med = {c: statistics.median(v) for c, v in times.items()}
    print(f"\n| condition | 1 thread s | {n} threads s | {n} threads / 1 | rounds (1 / {n}) |")
    print("|---|---:|---:|---:|---|")
    for busy in (False, True):
        a, b = med[(1, busy)], med[(n, busy)]
        print(f"| {'busy' if busy else 'quiet'} | {a:.3f} | {b:.3f} | {b / a:.2f} | "
              f"{info[(1, busy)][0]} / {info[(n, busy)][0]} (solver threads "
              f"{info[(n, busy)][2]}) |")
    verdict = "holds" if med[(n, True)] <= med[(1, True)] else "FAILS"
    print(f"\n{n} threads no slower than 1 with {args.busy} busy process(es): {verdict} "
          f"({med[(n, True)]:.3f} s vs {med[(1, True)]:.3f} s); load at the end {load()}")


if __name__ == "__main__":
    main(ARGS)
