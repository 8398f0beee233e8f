"""Fuzz karvan's readers with mutated input files: the corridor dataset's tables, GMNS folders
and TNTP files.

Each case copies one input, mutates one of its files once (a cell, a row, a header, the
encoding, the length: ``tests/fuzz/harness.py``), loads it and, when it loads, assigns it and
compares the link flows with those of the unmutated input. It prints the count of each outcome
and the three counts that must be zero:

* uncaught exceptions (anything but ``InputError``);
* hangs (a case over 5 s of CPU time, loading and assigning included, on one solver thread);
* silent acceptances: an input that loads without a warning and changes the answer although
  the mutation is corruption (judged from the original file's own values, not from karvan's
  schemas), and valid files refused (a byte-order mark or Windows line ends rejected).

Usage::

    python benchmarks/fuzz_inputs.py                  # 2,000 cases, a fresh seed
    python benchmarks/fuzz_inputs.py --cases 300 --seed 7 --list silent,uncaught

The seed is printed; a case is repeated with ``--seed S --only N``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# one solver thread: a case's CPU time is then its time on one core, the measure of a hang
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(ROOT))

from tests.fuzz.harness import (  # noqa: E402 - after the path of the tests is known
    HANG_FACTOR,
    TIME_BOUND_S,
    corridor_subject,
    gmns_subject,
    tntp_subject,
)

#: share of the cases per format
WEIGHTS = {"corridor": 0.25, "gmns": 0.375, "tntp": 0.375}


def subjects(tmp: Path, tntp: Path | None) -> dict[str, list]:
    """The inputs to mutate, by format: the corridor dataset; the small GMNS test network and
    the baseline scenario exported to GMNS; SiouxFalls and Braess."""
    import warnings

    from karvan.freight.corridor import load_corridor
    from karvan.io.gmns import write_gmns
    from karvan.scenario import load_scenario
    from karvan.scenario.gmns_export import scenario_gmns

    out = {"corridor": [corridor_subject()]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export = write_gmns(scenario_gmns(load_corridor(), load_scenario("baseline")),
                            tmp / "baseline_gmns")
    out["gmns"] = [gmns_subject(ROOT / "tests" / "data" / "gmns_small", "gmns_small"),
                   gmns_subject(export, "gmns_baseline_export")]
    if tntp is not None and (tntp / "SiouxFalls").exists():
        out["tntp"] = [tntp_subject(tntp / "SiouxFalls" / "SiouxFalls_net.tntp", "SiouxFalls"),
                       tntp_subject(tntp / "Braess-Example" / "Braess_net.tntp", "Braess")]
    else:
        print("TNTP files not found (../shared/tntp or $KARVAN_TNTP): TNTP cases skipped")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None, help="default: a fresh one, printed")
    ap.add_argument("--only", type=int, default=None, help="run case N of the seed only")
    ap.add_argument("--formats", default="corridor,gmns,tntp")
    ap.add_argument("--list", default="silent,uncaught,refused,hang",
                    help="outcomes whose cases are printed")
    ap.add_argument("--tntp", type=Path, default=Path(os.environ.get(
        "KARVAN_TNTP", ROOT.parent / "shared" / "tntp")))
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    print(f"seed {seed}, {args.cases} cases")
    from tests.fuzz.harness import run_case

    tmp = Path(tempfile.mkdtemp(prefix="karvan-fuzz-"))
    subs = subjects(tmp, args.tntp if args.tntp.exists() else None)
    formats = [f for f in args.formats.split(",") if f in subs]
    weights = [WEIGHTS[f] for f in formats]
    for f in formats:
        for s in subs[f]:
            s.baseline()
    counts: Counter = Counter()
    per_format: dict[str, Counter] = {f: Counter() for f in formats}
    kinds: Counter = Counter()
    hangs = 0
    listed = set(args.list.split(","))
    slowest = (0.0, None)
    t0 = time.perf_counter()
    for n in range(args.cases):
        if args.only is not None and n != args.only:
            continue
        rng = random.Random(f"{seed}-{n}")
        fmt = rng.choices(formats, weights)[0]
        subject = rng.choice(subs[fmt])
        o = run_case(subject, tmp / "case", rng)
        counts[o.result] += 1
        per_format[fmt][o.result] += 1
        kinds[o.change.kind] += 1
        hangs += o.hang
        if o.cpu_s > slowest[0]:
            slowest = (o.cpu_s, o)
        if o.result in listed or (o.hang and "hang" in listed) or (
                "extreme" in listed and o.result == "changed, extreme value"):
            print(f"  case {n} [{o.subject}] {o.change.file}: {o.change.label} ({o.change.kind})"
                  f" -> {o.result}{' HANG' if o.hang else ''} {o.cpu_s:.2f} s CPU"
                  f"{': ' + o.detail[:300] if o.detail and o.result != 'rejected' else ''}")
        if (n + 1) % 100 == 0:
            print(f"  {n + 1} cases, {time.perf_counter() - t0:.0f} s: {dict(counts)}",
                  flush=True)
    total = sum(counts.values())
    print(f"\n{total} cases in {time.perf_counter() - t0:.0f} s (seed {seed})")
    for f in formats:
        print(f"  {f:9s} {sum(per_format[f].values()):5d}: " + ", ".join(
            f"{k} {v}" for k, v in sorted(per_format[f].items())))
    print("  mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    silent = counts["silent"] + counts["refused"]
    print(f"uncaught exceptions: {counts['uncaught']}")
    print(f"hangs (CPU over {TIME_BOUND_S:.0f} s and {HANG_FACTOR:.0f}x the unmutated input): "
          f"{hangs} (slowest case {slowest[0]:.2f} s CPU)")
    print(f"silent acceptances:  {counts['silent']} (and valid files refused: "
          f"{counts['refused']})")
    print(f"extreme values read as written, answer changed, no warning: "
          f"{counts['changed, extreme value']} (listed with --list extreme)")
    return 1 if counts["uncaught"] or hangs or silent else 0


if __name__ == "__main__":
    sys.exit(main())
