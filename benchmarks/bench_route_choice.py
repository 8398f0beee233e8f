"""Benchmark karvan's route choice against AequilibraE's (path-size logit with link penalisation).

For one TNTP network the script, in one process,

1. generates route sets by link penalisation and loads the demand by path-size logit at free-flow
   generalized cost (no congestion), with karvan (``karvan.choice.logit_loading``) and with
   AequilibraE's ``RouteChoice`` (``link-penalisation``, ``execute(perform_assignment=True)``),
   with the same number of routes per OD pair, penalty, search limits, threads and dispersion;
   each timed end to end (in-memory network and demand -> route sets and link flows), median
   of ``--repeat`` runs after one untimed warm-up, the two interleaved run by run, in wall time
   and in CPU seconds of the process (all threads; steadier on a shared machine), with the
   load average before and after;
2. compares the route sets OD pair by OD pair: routes per pair, the share of karvan's routes
   that AequilibraE also found (and the reverse), and the Jaccard index of the two sets; and
   the link flows of the two loadings;
3. with ``--sue``, runs karvan's stochastic user equilibrium with congestion (BPR) from the same
   route options (column generation on) to ``--sue-gap``, after an untimed two-iteration
   warm-up, and prints its time next to AequilibraE's single loading.

It prints a report and markdown rows for ``benchmarks/README.md``.

Cost and dispersion
-------------------
Generalized cost = free-flow time + toll_factor * toll + distance_factor * length (the factors
the network was published with: ChicagoSketch 0.02 and 0.04). karvan draws routes with
probability proportional to ``PS * exp(-theta * cost)``; AequilibraE uses theta = 1 on its cost
field, so it gets ``theta * cost`` as that field (route generation does not depend on the scale,
path sizes neither).

Data
----
SiouxFalls and Anaheim are read from ``../shared/tntp/<name>/`` (or ``$KARVAN_TNTP/<name>/``);
ChicagoSketch from
``--data`` (``sh benchmarks/get_networks.sh /tmp/tntp ChicagoSketch``): the data carry no open
licence and are not in the repository.

Requires the ``bench`` extra for AequilibraE (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

#: the shared TNTP networks: ../shared/tntp beside the checkout, or $KARVAN_TNTP (as the tests)
DEFAULT_DATA = Path(os.environ.get("KARVAN_TNTP",
                                  Path(__file__).resolve().parents[2] / "shared" / "tntp"))
PUBLISHED_FACTORS = {"ChicagoSketch": (0.02, 0.04)}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("network", help="TNTP network name: SiouxFalls, Anaheim, ChicagoSketch")
    ap.add_argument("--data", type=Path, default=None, help="folder with <name>_net.tntp")
    ap.add_argument("--routes", type=int, nargs="+", default=[5, 10],
                    help="routes per OD pair (default 5 10)")
    ap.add_argument("--penalty", type=float, default=1.1, help="link penalty factor")
    ap.add_argument("--max-depth", type=int, default=None,
                    help="searches per OD pair (default 4 x routes)")
    ap.add_argument("--max-misses", type=int, default=None,
                    help="repeated routes per OD pair before stopping (default 2 x routes)")
    ap.add_argument("--theta", type=float, default=1.0, help="dispersion per unit of cost")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sue", action="store_true", help="also time karvan's SUE with congestion")
    ap.add_argument("--sue-gap", type=float, nargs="+", default=[1e-3, 1e-4],
                    help="SUE gap targets (default 1e-3 1e-4)")
    ap.add_argument("--no-aequilibrae", action="store_true")
    return ap.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["NUMBA_NUM_THREADS"] = str(ARGS.threads)
os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

try:
    from aequilibrae.paths import Graph, RouteChoice

    HAVE_AEQ = True
except ImportError:  # optional benchmark dependency
    HAVE_AEQ = False


def load(name: str, data: Path | None):
    from karvan.io import read_tntp

    folder = data if data is not None else DEFAULT_DATA / name
    net = folder / f"{name}_net.tntp"
    if not net.exists():
        sys.exit(f"{net} not found; get it with benchmarks/get_networks.sh and pass --data")
    tf, df = PUBLISHED_FACTORS.get(name, (None, None))
    return read_tntp(net, toll_factor=tf, distance_factor=df)


def options(k: int, args):
    from karvan.choice import RouteOptions

    depth = 4 * k if args.max_depth is None else args.max_depth
    misses = 2 * k if args.max_misses is None else args.max_misses
    return RouteOptions(max_routes=k, penalty=args.penalty, max_depth=depth,
                        max_misses=misses), depth, misses


def karvan_loading(p, k: int, args):
    from karvan.choice import logit_loading

    opts, _, _ = options(k, args)
    return logit_loading(p.network, p.demand, theta=args.theta, routes=opts,
                         toll_factor=p.toll_factor, distance_factor=p.distance_factor)


def generalized_cost(p) -> np.ndarray:
    lk = p.network.links
    return (lk["free_flow_time"].to_numpy(dtype=float)
            + (p.toll_factor or 0.0) * lk["toll"].to_numpy(dtype=float)
            + (p.distance_factor or 0.0) * lk["length"].to_numpy(dtype=float))


def aeq_loading(p, k: int, args):
    """AequilibraE's route sets and path-size logit loading; returns (routes table, link
    flows in TNTP file order)."""
    lk = p.network.links
    zones = np.asarray(p.demand.zone_ids, dtype=np.int64)
    net = pd.DataFrame({
        "link_id": lk.index.to_numpy().astype(np.int64),
        "a_node": lk["from_node_id"].to_numpy().astype(np.int64),
        "b_node": lk["to_node_id"].to_numpy().astype(np.int64),
        "direction": np.ones(len(lk), np.int8),
        "cost": args.theta * generalized_cost(p),
    })
    graph = Graph()
    graph.network = net
    graph.prepare_graph(zones)
    graph.set_graph("cost")
    graph.set_skimming([])
    ftn = int(p.network.config.get("first_thru_node", 1))
    graph.set_blocked_centroid_flows(ftn > 1)
    m = np.array(p.demand.matrices[p.demand.names[0]], dtype=float)
    np.fill_diagonal(m, 0.0)
    i, j = np.nonzero(m)
    dem = pd.DataFrame({"demand": m[i, j]},
                       index=pd.MultiIndex.from_arrays([zones[i], zones[j]],
                                                       names=["origin id", "destination id"]))
    _, depth, misses = options(k, args)
    rc = RouteChoice(graph)
    rc.set_choice_set_generation("link-penalisation", max_routes=k, penalty=args.penalty,
                                 max_depth=depth, max_misses=misses, beta=1.0)
    rc.set_cores(args.threads)
    rc.add_demand(dem)
    rc.prepare()
    rc.execute(perform_assignment=True)
    routes = rc.get_results()
    loads = rc.get_load_results()
    flow = loads.reindex(lk.index.to_numpy().astype(np.int64))
    col = [c for c in flow.columns if str(c[-1] if isinstance(c, tuple) else c).endswith(
        "tot")][0]
    return routes, flow[col].to_numpy(dtype=float)


def timed(fn, repeat: int, cpu: list | None = None):
    """Run ``fn`` ``repeat`` times; wall times (and CPU seconds of the process, all threads,
    appended to ``cpu``)."""
    out = None
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return out, times


def overlap(res, aeq_routes) -> dict:
    """Route-set agreement per OD pair (TNTP links are all directed: link ids name routes)."""
    rs = res.route_set
    g = rs.graph
    zid = np.asarray(rs.zone_ids, dtype=np.int64)
    ours: dict[tuple, set] = {}
    link_of_arc = g.link_ids[g.arc_link].astype(np.int64)
    for w in range(rs.n_od):
        key = (int(zid[rs.od_origin[w]]), int(zid[rs.od_destination[w]]))
        ours[key] = {tuple(link_of_arc[rs.arcs(r)].tolist())
                     for r in range(rs.od_ptr[w], rs.od_ptr[w + 1])}
    df = aeq_routes if isinstance(aeq_routes, pd.DataFrame) else aeq_routes.to_pandas()
    theirs: dict[tuple, set] = {}
    for o, d, route in zip(df["origin id"], df["destination id"], df["route set"], strict=True):
        theirs.setdefault((int(o), int(d)), set()).add(tuple(int(x) for x in route))
    jac, in_theirs, in_ours, same = [], 0, 0, 0
    n_ours = sum(len(v) for v in ours.values())
    n_theirs = sum(len(v) for v in theirs.values())
    for key, a in ours.items():
        b = theirs.get(key, set())
        inter = len(a & b)
        jac.append(inter / len(a | b) if a | b else 1.0)
        in_theirs += inter
        same += a == b
    for key, b in theirs.items():
        in_ours += len(b & ours.get(key, set()))
    return {"routes_karvan": n_ours, "routes_aeq": n_theirs,
            "karvan_in_aeq": in_theirs / n_ours, "aeq_in_karvan": in_ours / max(n_theirs, 1),
            "jaccard_mean": float(np.mean(jac)), "identical_sets": same / len(ours),
            "differing_sets": len(ours) - same}


def main(args: argparse.Namespace) -> None:
    import numba

    import karvan
    from karvan.choice import stochastic_equilibrium

    p = load(args.network, args.data)
    n_od = int(sum((m > 0).sum() - (np.diag(m) > 0).sum() for m in p.demand.matrices.values()))
    print(f"# {args.network}: {len(p.network.nodes)} nodes, {len(p.network.links)} links, "
          f"{n_od} OD pairs with demand; penalty {args.penalty}, theta {args.theta}, "
          f"{args.threads} threads")
    from importlib.metadata import PackageNotFoundError, version

    try:
        aeq_version = version("aequilibrae")
    except PackageNotFoundError:
        aeq_version = "-"
    print(f"# karvan {karvan.__version__}, numba {numba.__version__}, "
          f"AequilibraE {aeq_version}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    use_aeq = HAVE_AEQ and not args.no_aequilibrae
    if not use_aeq:
        print("# AequilibraE not run (missing or --no-aequilibrae)")
    rows = []
    for k in args.routes:
        # warm-up: JIT load of karvan's kernels, AequilibraE's graph structures
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            karvan_loading(p, k, args)
            if use_aeq:
                aeq_loading(p, k, args)
        t_k, t_a, c_k, c_a = [], [], [], []
        res = aeq = None
        load0 = os.getloadavg()[0]
        for _ in range(args.repeat):
            res, tk = timed(lambda k=k: karvan_loading(p, k, args), 1, c_k)
            t_k += tk
            if use_aeq:
                aeq, ta = timed(lambda k=k: aeq_loading(p, k, args), 1, c_a)
                t_a += ta
        mk = statistics.median(t_k)
        ck = statistics.median(c_k)
        line = (f"routes {k}: load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; karvan "
                f"{mk:.3f} s, {ck:.2f} CPU s ({res.route_set.n_routes} routes, "
                f"{len(res.route_set.route_arcs)} route arcs)")
        ov = None
        ma = ca = None
        if use_aeq:
            ma = statistics.median(t_a)
            ca = statistics.median(c_a)
            ov = overlap(res, aeq[0])
            kflow = res.link_table()["flow"].to_numpy()
            diff = np.abs(kflow - aeq[1])
            line += (f"; AequilibraE {ma:.3f} s, {ca:.2f} CPU s ({ov['routes_aeq']} routes); "
                     f"ratio {ma / mk:.1f}x wall, {ca / ck:.1f}x CPU; karvan routes found by "
                     f"AequilibraE "
                     f"{100 * ov['karvan_in_aeq']:.1f} %, AequilibraE routes found by karvan "
                     f"{100 * ov['aeq_in_karvan']:.1f} %, mean Jaccard {ov['jaccard_mean']:.3f},"
                     f" identical sets {100 * ov['identical_sets']:.2f} % (all but "
                     f"{ov['differing_sets']} OD pairs); link flows differ by "
                     f"{diff.max():.3g} at most ({diff.sum() / kflow.sum():.2%} of the total)")
        print(line, flush=True)
        rows.append((k, mk, ma, ov, res, ck, ca))
        if args.sue:
            # warm-up: JIT load of the equilibrium's own kernels (two iterations, untimed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stochastic_equilibrium(p.network, p.demand, theta=args.theta,
                                       routes=options(k, args)[0], gap=0.0, max_iter=2,
                                       toll_factor=p.toll_factor,
                                       distance_factor=p.distance_factor)
        for target in args.sue_gap if args.sue else ():
            opts, _, _ = options(k, args)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                c0 = time.process_time()
                sue = stochastic_equilibrium(p.network, p.demand, theta=args.theta,
                                             routes=opts, gap=target,
                                             toll_factor=p.toll_factor,
                                             distance_factor=p.distance_factor)
                ts = time.perf_counter() - t0
                cs = time.process_time() - c0
            print(f"routes {k}: load average {os.getloadavg()[0]:.1f}; karvan SUE with "
                  f"congestion {ts:.2f} s, {cs:.2f} CPU s, {sue.iterations} "
                  f"iterations, gap {sue.gap:.2e} (target {target:g}), link gap "
                  f"{sue.link_gap:.2e}, {sue.route_set.n_routes} routes after column "
                  f"generation, converged {sue.converged}"
                  + (f"; AequilibraE's single loading {ma:.2f} s, {ca:.2f} CPU s: SUE / "
                     f"loading {ts / ma:.2f} wall, {cs / ca:.2f} CPU" if ma else ""), flush=True)
    print("\n| network | routes/OD | karvan loading (s) | CPU s | AequilibraE loading (s) | "
          "CPU s | ratio (wall) | ratio (CPU) | karvan routes in AequilibraE's sets | "
          "mean Jaccard |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, mk, ma, ov, _res, ck, ca in rows:
        if ov is None:
            print(f"| {args.network} | {k} | {mk:.3f} | {ck:.2f} | - | - | - | - | - | - |")
        else:
            print(f"| {args.network} | {k} | {mk:.3f} | {ck:.2f} | {ma:.3f} | {ca:.2f} | "
                  f"{ma / mk:.1f}x | {ca / ck:.1f}x | {100 * ov['karvan_in_aeq']:.1f} % | "
                  f"{ov['jaccard_mean']:.4f} |")


if __name__ == "__main__":
    main(ARGS)
