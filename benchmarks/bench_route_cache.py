"""Time the base year under the choice model at several parameter tables, as a fit runs it,
with the route sets kept between runs (karvan's default) against a search afresh in every run
(the baseline: the cache cleared before each run).

    python benchmarks/bench_route_cache.py [--repeat 3] [--tables 4] [--no-backcasts]

Each round runs the baseline scenario (with its two back-casts unless told otherwise) at
``--tables`` choice-parameter tables: the shipped one, then the fitted parameters
(``asc_usd_per_t``, ``theta``, ``value_of_reliability``) moved one at a time, as the columns of
a fit's Jacobian move them. Both ways alternate within a round, so a change of load hits them
alike, and every run's route, link and calibration tables must be the same both ways. Prints
the median seconds per run of each and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import pandas as pd

import karvan.scenario.choice_run as cr
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario

FITTED = ("asc_usd_per_t", "theta", "value_of_reliability")
COMPARED = ("routes", "links", "calibration")


def tables(n: int) -> list[pd.DataFrame]:
    """The shipped table, then ``n - 1`` tables each with one fitted parameter moved."""
    base = pd.read_csv(builtin_corridor_folder() / "choice_parameter.csv")
    out = [base]
    for i in range(n - 1):
        name = FITTED[i % len(FITTED)]
        t = base.copy()
        rows = t.index[t["parameter"] == name]
        t.loc[rows, "value"] = t.loc[rows, "value"] * (1.1 + 0.1 * (i // len(FITTED))) + 0.5
        out.append(t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--no-backcasts", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    data = load_corridor()
    scn = load_scenario("baseline")
    ts = tables(args.tables)

    def run(table, fresh: bool):
        if fresh:
            cr.clear_route_set_cache()
        t = time.perf_counter()
        r = run_scenario(data, scn, choice_parameters=table, lp=False,
                         backcasts=not args.no_backcasts)
        return time.perf_counter() - t, r

    run(ts[0], True)  # compile and load once, outside the timings
    per_run: dict[str, list[float]] = {"fresh": [], "kept": []}
    for k in range(args.repeat):
        order = ("fresh", "kept") if k % 2 == 0 else ("kept", "fresh")
        results: dict[str, list] = {}
        for way in order:
            cr.clear_route_set_cache()
            secs, res = zip(*(run(t, way == "fresh") for t in ts), strict=True)
            per_run[way].append(sum(secs) / len(secs))
            results[way] = [r.tables for r in res]
        for a, b in zip(results["fresh"], results["kept"], strict=True):
            for name in COMPARED:
                pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    fresh, kept = (statistics.median(per_run[w]) for w in ("fresh", "kept"))
    what = "base year" + ("" if args.no_backcasts else " and its two back-casts")
    print(f"{what} at {len(ts)} parameter tables, {args.repeat} rounds, median seconds per run")
    print("| route sets | s per run | ratio to baseline |")
    print("|---|---|---|")
    print(f"| searched in every run (baseline) | {fresh:.2f} | 1.00 |")
    print(f"| kept between runs (default) | {kept:.2f} | {fresh / kept:.2f}x faster |")
    print(f"results identical both ways: {', '.join(COMPARED)} of every run")


if __name__ == "__main__":
    main()
