"""How much the routes nobody takes move the base year, through the path size.

Path-size logit counts every route of a pair that uses an arc, whatever its share (docs/model.md,
"Path-size logit and the stochastic equilibrium"). This script solves the base year (with its
back-casts) as ``karvan run baseline`` does, then, for each threshold, solves every equilibrium
once more with the routes below that share of their pair removed from the sets (each pair keeps
its largest route), and prints the ratio modelled / reported of every row of ``observed.csv`` at
each threshold, with the number of routes. Nothing is fitted and nothing is written; the numbers
of docs/dataset.md (Known gaps, "Path-size logit and the routes nobody takes") come from it.
With ``--gamma G`` it also solves the base year with every route kept and the generalized path
size of exponent G (the choice table's ``path_size_gamma``; docs/model.md).

    python benchmarks/path_size_sensitivity.py                       # thresholds 1e-4 and 1e-3
    python benchmarks/path_size_sensitivity.py --threshold 1e-5 --data DIR
    python benchmarks/path_size_sensitivity.py --gamma 1 --gamma 4
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


@contextlib.contextmanager
def pruned_route_sets(threshold: float | None, counts: list) -> Iterator[None]:
    """While active, each choice equilibrium of the corridor is solved, then solved again
    without the routes below ``threshold`` of their pair's demand (None: not again); appends
    (routes, routes kept) of each equilibrium to ``counts``."""
    import karvan.scenario.choice_run as cr
    from karvan.choice.routes import SOURCE_UNSERVED, subset_routes

    solve = cr.fixed_cost_equilibrium

    def pruned(*args, routes, groups=None, **kw):
        res = solve(*args, routes=routes, groups=groups, **kw)
        if threshold is None:
            return res
        # the result's route set adds an unserved-demand alternative to every pair (with
        # capacities): the others are the given routes, in their order
        rs = res.route_set
        real = rs.route_source != SOURCE_UNSERVED
        if not np.array_equal(rs.route_od[real], routes.route_od):
            raise RuntimeError("the equilibrium's routes are not the routes it was given")
        share = res.route_flow[real] / rs.od_demand[rs.route_od[real]]
        n = routes.n_routes
        keep = share >= threshold
        keep[pd.Series(share).groupby(routes.route_od).idxmax().to_numpy()] = True
        counts.append((n, int(keep.sum())))
        return solve(*args, routes=subset_routes(routes, keep),
                     groups=None if groups is None else np.asarray(groups)[keep], **kw)

    cr.fixed_cost_equilibrium = pruned
    try:
        yield
    finally:
        cr.fixed_cost_equilibrium = solve


def ratios(thresholds: Sequence[float | None], data: Path | None = None,
           gammas: Sequence[float] = ()) -> tuple[pd.DataFrame, dict]:
    """The calibration table's ratio of every compared row at each threshold (columns named by
    it, ``shipped`` for None) and each generalized path size's exponent (``gamma G``, every
    route kept), with ``role``; and the (routes, kept) of each threshold's equilibria."""
    from karvan.freight.corridor import builtin_corridor_folder, load_corridor
    from karvan.scenario import load_scenario
    from karvan.scenario.run import run_scenario

    corridor = load_corridor(data)
    folder = Path(data) if data is not None else builtin_corridor_folder()
    table = pd.read_csv(folder / "choice_parameter.csv", dtype=str, keep_default_na=False)
    gm = table["parameter"] == "path_size_gamma"
    runs = [("shipped" if thr is None else f"< {thr:g} removed", thr, None)
            for thr in thresholds]
    for g in gammas:
        t = table.copy()
        if gm.any():
            t.loc[gm, "value"] = repr(float(g))
        else:  # a dataset from before the row: add it
            t = pd.concat([t, pd.DataFrame([{"parameter": "path_size_gamma", "family": "*",
                                              "nest": "*", "link_ids": "*", "commodity": "*",
                                              "value": repr(float(g)), "unit": "1"}])])
        runs.append((f"gamma {g:g}", None, t))
    cols, counts, role = {}, {}, None
    for name, thr, tab in runs:
        counts[name] = []
        with pruned_route_sets(thr, counts[name]):
            run = run_scenario(corridor, load_scenario("baseline"), lp=False,
                               choice_parameters=tab)
        cal = run.tables["calibration"].set_index("observed_id")
        cols[name] = cal["ratio"]
        role = cal["role"]
    out = pd.DataFrame(cols)
    out.insert(0, "role", role)
    return out.dropna(subset=[next(iter(cols))]), counts  # the rows the first run compares


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, action="append",
                    help="share below which a route is removed (repeat; default 1e-4 and 1e-3)")
    ap.add_argument("--gamma", type=float, action="append", default=[],
                    help="exponent of the generalized path size, every route kept (repeat)")
    ap.add_argument("--data", type=Path, help="corridor dataset folder (default: built-in)")
    a = ap.parse_args(argv)
    table, counts = ratios([None, *(a.threshold or [1e-4, 1e-3])], a.data, a.gamma)
    for name, c in counts.items():
        if c:
            print(f"{name}: routes {c[0][0]:,} -> {c[0][1]:,} in the base year", flush=True)
    cols = list(table.columns)
    print("| observed_id | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for oid, row in table.iterrows():
        print(f"| {oid} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                          for v in row) + " |")


if __name__ == "__main__":
    main()
