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

``--baseline REF`` times the search itself instead (what a run without a kept route set
spends: ``karvan.scenario.choice_run._search_route_set``) in this code and in a git ref's
(e.g. ``main``; its ``src/`` copied by ``git archive``), each round in a new process per
code, alternating: the inputs of the base year's search and its two back-casts' are taken
from a run, then each is searched ``--calls`` times. Prints the median seconds per search of
each, their ratio, and whether every route set (routes, sources, labels, the waypoint count,
the pairs left without a route) is the same in both codes:

    python benchmarks/bench_route_cache.py --baseline main --repeat 5 --calls 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import karvan.scenario.choice_run as cr
from karvan.freight.corridor import builtin_corridor_folder, load_corridor
from karvan.scenario import load_scenario
from karvan.scenario.run import run_scenario

FITTED = ("asc_usd_per_t", "theta", "value_of_reliability")
COMPARED = ("routes", "links", "calibration")
ROOT = Path(__file__).resolve().parents[1]
#: what a route set digest reads (the graph aside: compiled from the same network)
ROUTE_SET_FIELDS = ("od_class", "od_origin", "od_destination", "od_demand", "od_ptr",
                    "route_ptr", "route_arcs", "route_source", "route_label", "route_fixed")


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


def _digest(found) -> str:
    """A digest of what ``_search_route_set`` returns: the route set's arrays, labels, classes
    and zones, the number of waypoint searches, the pairs left without a route."""
    rs, n_forced, missing = found
    h = hashlib.blake2b(digest_size=16)
    for f in ROUTE_SET_FIELDS:
        a = np.ascontiguousarray(getattr(rs, f))
        h.update(f"{f}:{a.dtype}:{a.shape}".encode())
        h.update(a.tobytes())
    h.update(repr((rs.labels, rs.class_names, tuple(rs.zone_ids), n_forced)).encode())
    h.update(missing.to_csv(index=False).encode())
    return h.hexdigest()


def search_child(calls: int) -> None:
    """One round of ``--baseline`` in this process (karvan from PYTHONPATH): the base year's
    search inputs and its back-casts', each searched ``calls`` times; prints a JSON line with
    the median seconds per search and the digests of the route sets."""
    warnings.simplefilter("ignore")
    inputs = []
    search = cr._search_route_set

    def spy(*a, **k):
        inputs.append((a, k))
        return search(*a, **k)

    cr._search_route_set = spy
    try:
        cr.clear_route_set_cache()
        run_scenario(load_corridor(), load_scenario("baseline"), lp=False, backcasts=True)
    finally:
        cr._search_route_set = search
    secs, digests = [], []
    for _ in range(calls):
        t = time.perf_counter()
        found = [search(*a, **k) for a, k in inputs]
        secs.append((time.perf_counter() - t) / len(inputs))
        digests = [_digest(f) for f in found]
    print("SEARCH " + json.dumps({"s": statistics.median(secs), "digests": digests}))


def _search_round(src: Path, calls: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--search-child",
                        "--calls", str(calls)], env=env, capture_output=True, text=True,
                       check=False)
    if r.returncode:
        raise SystemExit(f"search failed ({src}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("SEARCH ")][-1]
    return json.loads(line.removeprefix("SEARCH "))


def _load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def compare_search(ref: str, repeat: int, calls: int) -> None:
    """``--baseline REF``: the search of this code against ``ref``'s (see the module notes)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_route_cache_"))
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True,
                          check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=arch, check=True)
    trees = {"this": ROOT / "src", ref: tmp / "src"}
    print(f"machine: {os.cpu_count()} cores; load average before {_load()}")
    for src in trees.values():  # warm-up: numba caches (a new copy compiles), file caches
        _search_round(src, 1)
    secs: dict[str, list[float]] = {n: [] for n in trees}
    digests: dict[str, set[tuple[str, ...]]] = {n: set() for n in trees}
    loads = []
    for k in range(repeat):
        for name in (list(trees) if k % 2 == 0 else list(trees)[::-1]):
            loads.append(_load())
            got = _search_round(trees[name], calls)
            secs[name].append(got["s"])
            digests[name].add(tuple(got["digests"]))
    print(f"load averages at the start of each round: {'; '.join(loads)}")
    this, base = (statistics.median(secs[n]) for n in trees)
    print(f"route-set search (_search_route_set), base year and its two back-casts, "
          f"{repeat} rounds of {calls} calls, median seconds per search")
    print("| code | s per search | ratio to baseline |")
    print("|---|---|---|")
    print(f"| {ref} (baseline) | {base:.3f} | 1.00 |")
    print(f"| this | {this:.3f} | {base / this:.2f}x faster |")
    print(f"rounds: this {', '.join(f'{x:.3f}' for x in secs['this'])}; "
          f"{ref} {', '.join(f'{x:.3f}' for x in secs[ref])}")
    same = len(digests["this"]) == 1 and digests["this"] == digests[ref]
    print("route sets identical to the baseline's in every round: "
          + ("yes" if same else f"NO ({digests})"))
    if not same:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--no-backcasts", action="store_true")
    ap.add_argument("--baseline", help="a git ref whose route-set search to time against "
                    "this code's, e.g. main")
    ap.add_argument("--calls", type=int, default=3,
                    help="with --baseline: searches of each network per round")
    ap.add_argument("--search-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.search_child:
        search_child(args.calls)
        return
    if args.baseline:
        compare_search(args.baseline, args.repeat, args.calls)
        return
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
