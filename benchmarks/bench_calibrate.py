"""Time the choice-parameter fit (`karvan calibrate --parameters`) with its Jacobian's runs in
worker processes against one process (the baseline, ``--workers 1``).

Each round runs the command once per worker count, alternating, so that a change of load hits
them alike; every run writes to a fresh folder, and the written ``parameters.csv``,
``counts.csv`` and ``evaluations.csv`` must be byte for byte those of the baseline (the fit does
not depend on the workers). Prints the median wall time of each and the ratio to the baseline.

    python benchmarks/bench_calibrate.py [--repeat 3] [--workers 2] [--max-evaluations 2]
                                         [--crossval]

The built-in dataset, the settings of the shipped fit (``--diff-step 0.5``), a few evaluations:
each evaluation costs a Jacobian (one run per parameter) and the first runs dominate less than
in a full fit, so the ratio here is a floor of the full fit's.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAME = ("parameters.csv", "counts.csv", "evaluations.csv")
#: the command of the environment this script runs in
KARVAN = shutil.which("karvan", path=str(Path(sys.executable).parent)) or "karvan"


def run(workers: int, out: Path, args: argparse.Namespace) -> float:
    cmd = [KARVAN, "calibrate", "--parameters", "--diff-step", "0.5",
           "--max-evaluations", str(args.max_evaluations), "--workers", str(workers),
           "--out", str(out), "-q"]
    if args.crossval:
        cmd.append("--crossval")
    t = time.perf_counter()
    # exit code 1 says the fit stopped before converging, as it does at a few evaluations: the
    # outputs are written all the same; anything else, or no outputs, is a failure
    rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    elapsed = time.perf_counter() - t
    if rc not in (0, 1) or not (out / "manifest.json").is_file():
        raise SystemExit(f"{' '.join(cmd)} failed (exit code {rc})")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-evaluations", type=int, default=2)
    ap.add_argument("--crossval", action="store_true")
    args = ap.parse_args()
    times: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory(prefix="bench_calibrate_") as tmp:
        for r in range(args.repeat):
            for w in times:
                out = Path(tmp) / f"w{w}_r{r}"
                times[w].append(run(w, out, args))
                print(f"round {r + 1}, {w} worker(s): {times[w][-1]:.1f} s", flush=True)
            for name in SAME:
                a, b = Path(tmp) / f"w1_r{r}" / name, Path(tmp) / f"w{args.workers}_r{r}" / name
                if not filecmp.cmp(a, b, shallow=False):
                    raise SystemExit(f"{name} differs between 1 and {args.workers} workers")
    base = statistics.median(times[1])
    new = statistics.median(times[args.workers])
    print(f"\nkarvan calibrate --parameters --diff-step 0.5 --max-evaluations "
          f"{args.max_evaluations}{' --crossval' if args.crossval else ''}, "
          f"{args.repeat} rounds, {os.cpu_count()} CPUs")
    print(f"  baseline, --workers 1: median {base:.1f} s")
    print(f"  --workers {args.workers}:          median {new:.1f} s")
    print(f"  ratio (baseline / workers): {base / new:.2f}x; outputs identical "
          f"({', '.join(SAME)})")


if __name__ == "__main__":
    main()
