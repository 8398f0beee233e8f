"""Benchmark karvan's bi-conjugate Frank-Wolfe (BFW) against AequilibraE's on TNTP networks.

For one TNTP network the script

1. assigns it with karvan BFW and with AequilibraE BFW (if installed) to the same target relative
   gap, with the same number of threads, in this one process;
2. times both end to end (in-memory network and demand -> link flows; median of ``--repeat``
   runs), after one untimed warm-up of each (karvan's warm-up pays the numba JIT, or loads it
   from the on-disk cache; that time is reported apart);
3. recomputes the *true* relative gap ``(TSTT - SPTT) / SPTT`` of both final flow vectors with
   ``scipy.sparse.csgraph.dijkstra`` at the flows' own costs (AequilibraE reports a gap measured
   against the previous iteration's all-or-nothing flows, which is not the gap of the flows it
   returns);
4. compares the link flows of the two with each other and with the published best-known
   ``<name>_flow.tntp``;
5. times a baseline: one pass of ``scipy.sparse.csgraph.dijkstra`` from all zones (single
   threaded, median of 5), next to karvan's time per BFW iteration (median of the differences
   of ``AssignmentResult.convergence.elapsed_s``) and karvan's all-or-nothing kernel alone.

It prints a human-readable report and one markdown table row per gap target, to paste into
``benchmarks/README.md``.

Data
----
SiouxFalls and Anaheim are read from ``../shared/tntp/<name>/`` beside the checkout (or
``$KARVAN_TNTP/<name>/``) unless ``--data`` is given.
Other networks (ChicagoSketch) come from the public *Transportation Networks for Research*
collection (https://github.com/bstabler/TransportationNetworks); they are not shipped with karvan
(the data carry no open licence). ``benchmarks/get_networks.sh`` downloads them, e.g.::

    sh benchmarks/get_networks.sh /tmp/tntp          # -> /tmp/tntp/ChicagoSketch/...
    python benchmarks/bench_aequilibrae.py ChicagoSketch --data /tmp/tntp/ChicagoSketch

``--data`` is the folder holding ``<name>_net.tntp``, ``<name>_trips.tntp`` and (optional)
``<name>_flow.tntp``.

Cost
----
Generalized cost = BPR time + toll_factor * toll + distance_factor * length. The factors default
to those the network was published with (ChicagoSketch: 0.02 min/cent and 0.04 min/mile; others
0). AequilibraE gets them as a fixed-cost field (``TrafficClass.set_fixed_cost``).
AequilibraE refuses a zero free-flow time (ChicagoSketch connectors have 0), so links with 0 get
``--fft-epsilon`` (default 1e-8 min) *in the AequilibraE run only*; all gaps are measured on the
original costs.

Threads
-------
``--threads`` (default 2) sets ``NUMBA_NUM_THREADS`` for karvan (before numba is imported) and
``TrafficAssignment.set_cores`` for AequilibraE.

Requires the optional extra ``bench`` for AequilibraE (``pip install -e .[bench]``); without it,
karvan and the scipy baseline still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

#: the shared TNTP networks: ../shared/tntp beside the checkout, or $KARVAN_TNTP (as the tests)
DEFAULT_DATA = Path(os.environ.get("KARVAN_TNTP",
                                  Path(__file__).resolve().parents[2] / "shared" / "tntp"))
PUBLISHED_FACTORS = {"ChicagoSketch": (0.02, 0.04), "chicago-regional": (0.1, 0.25)}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("network", help="TNTP network name, e.g. SiouxFalls, Anaheim, ChicagoSketch")
    ap.add_argument("--data", type=Path, default=None,
                    help="folder with <name>_net.tntp etc. (default ../shared/tntp/<name>, "
                         "or $KARVAN_TNTP/<name>)")
    ap.add_argument("--gap", type=float, nargs="+", default=[1e-4, 1e-6],
                    help="target relative gap(s) (default 1e-4 1e-6)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per solver (median)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both solvers")
    ap.add_argument("--max-iter", type=int, default=10000)
    ap.add_argument("--toll-factor", type=float, default=None)
    ap.add_argument("--distance-factor", type=float, default=None)
    ap.add_argument("--fft-epsilon", type=float, default=1e-8,
                    help="free-flow time given to zero-time links in the AequilibraE run")
    ap.add_argument("--no-aequilibrae", action="store_true", help="skip AequilibraE")
    ap.add_argument("--aeq-max-gap", type=float, default=0.0,
                    help="run AequilibraE only for targets >= this (0: all)")
    return ap.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # numba reads this once, at import: set it before karvan (and numba) are imported
    os.environ["NUMBA_NUM_THREADS"] = str(ARGS.threads)
# AequilibraE draws tqdm progress bars (several refreshes per iteration) unless this is FALSE;
# read at import. Left on, they dominate its time on small networks.
os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402
from scipy.sparse.csgraph import dijkstra  # noqa: E402

try:
    import aequilibrae  # noqa: F401
    from aequilibrae.matrix import AequilibraeMatrix
    from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass

    HAVE_AEQ = True
except ImportError:  # optional benchmark dependency
    HAVE_AEQ = False


# --------------------------------------------------------------------------------------------
# problem data


@dataclass
class Problem:
    name: str
    kproblem: object  # karvan TntpProblem
    links: pd.DataFrame  # TNTP columns, index link_id 1.. in file order
    n_nodes: int
    n_zones: int
    first_thru_node: int
    od: np.ndarray  # (Z, Z) demand, diagonal zeroed
    toll_factor: float
    distance_factor: float
    best: np.ndarray | None  # best-known link flows, file order

    def fixed_cost(self) -> np.ndarray:
        lk = self.links
        return (self.toll_factor * lk["toll"].to_numpy()
                + self.distance_factor * lk["length"].to_numpy())

    def cost(self, flow: np.ndarray) -> np.ndarray:
        """Generalized BPR cost per link (original free-flow times, no epsilon)."""
        lk = self.links
        fft = lk["free_flow_time"].to_numpy()
        cap = lk["capacity"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cap > 0, flow / cap, 0.0)
        t = fft * (1.0 + lk["alpha"].to_numpy() * ratio ** lk["beta"].to_numpy())
        return t + self.fixed_cost()


def load_problem(name: str, data: Path | None, tf: float | None, dfac: float | None) -> Problem:
    from karvan.io import read_tntp, read_tntp_flow

    folder = data if data is not None else DEFAULT_DATA / name
    net = folder / f"{name}_net.tntp"
    if not net.exists():
        sys.exit(f"{net} not found; get the files with benchmarks/get_networks.sh and pass --data")
    pub_tf, pub_df = PUBLISHED_FACTORS.get(name, (None, None))
    tf = tf if tf is not None else pub_tf
    dfac = dfac if dfac is not None else pub_df
    p = read_tntp(net, toll_factor=tf, distance_factor=dfac)
    links = p.network.links
    nodes = p.network.nodes
    zones = np.asarray(p.demand.zone_ids)
    od = np.array(p.demand.matrices[p.demand.names[0]], dtype=float)
    np.fill_diagonal(od, 0.0)
    flow_file = folder / f"{name}_flow.tntp"
    best = None
    if flow_file.exists():
        bk = read_tntp_flow(flow_file)
        ok = (len(bk) == len(links)
              and (bk["from_node_id"].to_numpy() == links["from_node_id"].to_numpy()).all()
              and (bk["to_node_id"].to_numpy() == links["to_node_id"].to_numpy()).all())
        if ok:
            best = bk["volume"].to_numpy()
        else:
            print(f"warning: {flow_file.name} rows do not match the net file; not compared")
    return Problem(name, p, links, len(nodes), len(zones),
                   int(p.network.config.get("first_thru_node", 1)), od,
                   p.toll_factor, p.distance_factor, best)


# --------------------------------------------------------------------------------------------
# independent gap (scipy)


class ScipyGraph:
    """The network as a scipy CSR matrix for Dijkstra, with TNTP's first-thru-node rule.

    When ``first_thru_node`` = k > 1, nodes 1..k-1 may start or end a path but not lie inside
    one: each zone gets a "source" copy (extra node) that owns its out-links, and the zone node
    itself keeps none. Parallel links keep the cheapest (scipy would sum duplicates).
    """

    def __init__(self, prob: Problem):
        lk = prob.links
        self.prob = prob
        tail = lk["from_node_id"].to_numpy() - 1
        head = lk["to_node_id"].to_numpy() - 1
        n = prob.n_nodes
        if prob.first_thru_node > 1:
            split = tail < prob.first_thru_node - 1
            tail = np.where(split & (tail < prob.n_zones), n + tail, tail)
            # only zones get a source copy (TNTP puts no other node below the first thru node)
            n_total = n + prob.n_zones
            self.sources = n + np.arange(prob.n_zones)
        else:
            n_total = n
            self.sources = np.arange(prob.n_zones)
        self.tail, self.head, self.n = tail, head, n_total
        self.dests = np.arange(prob.n_zones)

    def matrix(self, cost: np.ndarray) -> csr_matrix:
        # explicit zeros are not edges in csgraph: lift them to a negligible positive cost
        c = np.maximum(cost, 1e-300)
        key = self.tail * self.n + self.head
        order = np.lexsort((c, key))
        first = np.ones(len(order), bool)
        first[1:] = key[order][1:] != key[order][:-1]
        keep = order[first]
        return csr_matrix((c[keep], (self.tail[keep], self.head[keep])), shape=(self.n, self.n))

    def distances(self, cost: np.ndarray) -> np.ndarray:
        return dijkstra(self.matrix(cost), directed=True, indices=self.sources)


def true_gap(sg: ScipyGraph, flow: np.ndarray) -> tuple[float, float, float]:
    """(relative gap, TSTT, SPTT) of ``flow`` priced at its own generalized costs."""
    cost = sg.prob.cost(flow)
    dist = sg.distances(cost)[:, sg.dests]
    od = sg.prob.od
    if np.isinf(dist[od > 0]).any():
        raise RuntimeError("some OD pairs with demand have no path")
    sptt = float(np.sum(od[od > 0] * dist[od > 0]))
    tstt = float(np.dot(flow, cost))
    return (tstt - sptt) / sptt, tstt, sptt


def scipy_baseline(sg: ScipyGraph, repeat: int = 5) -> float:
    """Median seconds of one scipy Dijkstra pass from all zones at free-flow cost."""
    cost = sg.prob.cost(np.zeros(len(sg.prob.links)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sg.distances(cost)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------------------------
# karvan


def karvan_assign(prob: Problem, gap: float, max_iter: int):
    import karvan

    p = prob.kproblem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the max_iter=1 warm-up
        return karvan.assign(p.network, p.demand, method="bfw", gap=gap, max_iter=max_iter,
                             toll_factor=p.toll_factor, distance_factor=p.distance_factor)


def karvan_flows(r) -> np.ndarray:
    return r.link_table()["flow"].to_numpy()  # sorted by link_id = TNTP file order


def karvan_aon_time(prob: Problem, repeat: int = 20) -> float:
    """Median seconds of karvan's all-or-nothing kernel alone (shortest paths from all zones and
    loading) at free-flow cost: the part of a BFW iteration that is not overhead."""
    import karvan
    from karvan import kernels as K
    from karvan.kernels._jit import num_threads

    p = prob.kproblem
    g = karvan.compile_graph(p.network)
    zi = g.zone_index(list(p.demand.zone_ids))
    origins = g.zone_nodes[zi]
    cost = g.free_flow_time + g.to_arcs(prob.fixed_cost())
    od = np.ascontiguousarray(prob.od)
    n_chunks = max(1, num_threads())
    K.aon_assign(g.indptr, g.head, g.tail, cost, g.blocked, origins, origins, od, n_chunks)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        K.aon_assign(g.indptr, g.head, g.tail, cost, g.blocked, origins, origins, od, n_chunks)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------------------------
# AequilibraE


def aeq_assign(prob: Problem, gap: float, max_iter: int, threads: int, eps: float):
    """Build AequilibraE's graph, matrix and assignment from the TNTP links and run BFW.

    Returns (link flows in file order, iterations, AequilibraE's own final rgap, seconds per
    iteration (median), seconds spent in execute()).
    """
    lk = prob.links
    fft = lk["free_flow_time"].to_numpy().astype(float)
    net = pd.DataFrame({
        "link_id": lk.index.to_numpy().astype(np.int64),
        "a_node": lk["from_node_id"].to_numpy().astype(np.int64),
        "b_node": lk["to_node_id"].to_numpy().astype(np.int64),
        "direction": np.ones(len(lk), np.int8),
        "free_flow_time": np.where(fft > 0, fft, eps),
        "capacity": lk["capacity"].to_numpy().astype(float),
        "b": lk["alpha"].to_numpy().astype(float),
        "power": lk["beta"].to_numpy().astype(float),
        "fixed_cost": prob.fixed_cost(),
    })
    centroids = np.arange(1, prob.n_zones + 1, dtype=np.int64)
    graph = Graph()
    graph.network = net
    graph.prepare_graph(centroids)
    graph.set_graph("free_flow_time")
    graph.set_skimming([])  # no skims: AequilibraE would copy Z x Z skim matrices every iteration
    # first thru node 1 (SiouxFalls, ChicagoSketch): paths may pass through zones
    graph.set_blocked_centroid_flows(prob.first_thru_node > 1)

    mat = AequilibraeMatrix()
    mat.create_empty(zones=prob.n_zones, matrix_names=["demand"], memory_only=True)
    mat.index[:] = centroids
    mat.matrix["demand"][:, :] = prob.od
    mat.computational_view(["demand"])

    tc = TrafficClass("car", graph, mat)
    if prob.toll_factor or prob.distance_factor:
        tc.set_fixed_cost("fixed_cost", 1.0)
    ta = TrafficAssignment()
    ta.set_classes([tc])
    ta.set_vdf("BPR")
    ta.set_vdf_parameters({"alpha": "b", "beta": "power"})
    ta.set_capacity_field("capacity")
    ta.set_time_field("free_flow_time")
    ta.set_algorithm("bfw")
    ta.max_iter = int(max_iter)
    ta.rgap_target = float(gap)
    ta.set_cores(threads)
    t0 = time.perf_counter()
    ta.execute()
    exec_s = time.perf_counter() - t0
    res = tc.results.get_load_results()
    flow = res["demand_ab"].reindex(lk.index).to_numpy()
    rep = ta.assignment.convergence_report
    per_it = float(np.median(np.diff(rep["time"]))) if len(rep["time"]) > 2 else float("nan")
    return flow, int(ta.assignment.iter), float(ta.assignment.rgap), per_it, exec_s


# --------------------------------------------------------------------------------------------
# driver


def timed(fn, repeat: int):
    """(median seconds, last result) of ``repeat`` calls."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def maxdiff(a, b) -> float:
    if a is None or b is None:
        return float("nan")
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def fmt(x, spec=".3g") -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def main(args: argparse.Namespace) -> None:
    import numba

    import karvan

    print(f"# {args.network}: karvan {karvan.__version__} BFW vs AequilibraE "
          f"{_aeq_version() if HAVE_AEQ else '(not installed)'}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
          f" numba {numba.__version__} (threads {numba.get_num_threads()}), "
          f"pandas {pd.__version__}, cpus {os.cpu_count()}, load average {_load()}")
    use_aeq = HAVE_AEQ and not args.no_aequilibrae
    if not HAVE_AEQ:
        print("AequilibraE is not installed (optional extra: pip install -e .[bench]); "
              "running karvan and the scipy baseline only.")

    t0 = time.perf_counter()
    prob = load_problem(args.network, args.data, args.toll_factor, args.distance_factor)
    print(f"read in {time.perf_counter() - t0:.2f} s: {prob.n_nodes} nodes, {len(prob.links)} "
          f"links, {prob.n_zones} zones, first thru node {prob.first_thru_node}, "
          f"demand {prob.od.sum():,.1f} (off-diagonal), toll factor {prob.toll_factor}, "
          f"distance factor {prob.distance_factor}")
    n_zero = int((prob.links["free_flow_time"] == 0).sum())
    if use_aeq and n_zero:
        print(f"AequilibraE: {n_zero} links with free-flow time 0 get {args.fft_epsilon:g} min "
              "(it rejects 0); gaps below use the original costs")
    if use_aeq and (prob.toll_factor or prob.distance_factor):
        print("AequilibraE: toll/distance cost via TrafficClass.set_fixed_cost('fixed_cost', 1.0)")

    sg = ScipyGraph(prob)
    if prob.best is not None:
        g_best, _, _ = true_gap(sg, prob.best)
        print(f"best-known flow file: true relative gap {g_best:.2e}")

    # warm-ups (untimed in the table)
    t0 = time.perf_counter()
    karvan_assign(prob, 1e-12, 1)
    k_warm = time.perf_counter() - t0
    print(f"karvan warm-up (max_iter=1; numba JIT compile or on-disk cache load): {k_warm:.2f} s")
    if use_aeq:
        t0 = time.perf_counter()
        aeq_assign(prob, 1e-12, 2, args.threads, args.fft_epsilon)
        print(f"AequilibraE warm-up (max_iter=2): {time.perf_counter() - t0:.2f} s")

    sp = scipy_baseline(sg)
    aon = karvan_aon_time(prob)
    print(f"scipy dijkstra, all {prob.n_zones} zones, 1 thread: {sp * 1e3:.2f} ms (median of 5)")
    print(f"karvan AON kernel alone ({args.threads} threads): {aon * 1e3:.3f} ms (median of 20)")

    rows = []
    for gap in args.gap:
        k_s, r = timed(lambda gap=gap: karvan_assign(prob, gap, args.max_iter), args.repeat)
        kf = karvan_flows(r)
        k_true, _, _ = true_gap(sg, kf)
        el = r.convergence["elapsed_s"].to_numpy()
        k_it = float(np.median(np.diff(el))) if len(el) > 2 else float("nan")
        print(f"\ntarget {gap:g}: karvan {k_s:.3f} s (median of {args.repeat}), "
              f"{r.iterations} iterations, reported gap {r.gap:.3e}, true gap {k_true:.3e}, "
              f"{k_it * 1e3:.3f} ms/iteration, max |flow - best| {fmt(maxdiff(kf, prob.best))}")
        a_s = a_it_n = a_gap = a_true = a_it = a_best = kd = float("nan")
        if use_aeq and gap >= args.aeq_max_gap:
            a_s, (af, a_it_n, a_gap, a_it, a_exec) = timed(
                lambda gap=gap: aeq_assign(prob, gap, args.max_iter, args.threads,
                                           args.fft_epsilon),
                args.repeat)
            a_true, _, _ = true_gap(sg, af)
            kd = maxdiff(kf, af)
            a_best = maxdiff(af, prob.best)
            print(f"target {gap:g}: AequilibraE {a_s:.3f} s (median of {args.repeat}; execute() "
                  f"{a_exec:.3f} s), {a_it_n} iterations, own rgap {a_gap:.3e}, true gap "
                  f"{a_true:.3e}, {a_it * 1e3:.3f} ms/iteration, max |flow - best| {fmt(a_best)}")
            print(f"target {gap:g}: time ratio AequilibraE/karvan {a_s / k_s:.2f}, "
                  f"max |karvan - AequilibraE| {kd:.3g}")
        elif use_aeq:
            print(f"target {gap:g}: AequilibraE skipped (--aeq-max-gap {args.aeq_max_gap:g})")
        rows.append(
            f"| {prob.name} | {gap:g} | {k_s:.3f} | {r.iterations} | {k_true:.1e} | "
            f"{k_it * 1e3:.2f} | {fmt(a_s, '.3f')} | "
            f"{fmt(a_it_n, 'd') if a_it_n == a_it_n else 'n/a'}"
            f" | {fmt(a_gap, '.1e')} | {fmt(a_true, '.1e')} | {fmt(a_it * 1e3, '.2f')} | "
            f"{fmt(a_s / k_s, '.2f')} | {fmt(kd, '.2g')} | {fmt(maxdiff(kf, prob.best), '.2g')} | "
            f"{fmt(a_best, '.2g')} |"
        )

    print("\n| network | target gap | karvan s | karvan it | karvan true gap | karvan ms/it "
          "| AequilibraE s | AequilibraE it | AequilibraE own rgap | AequilibraE true gap "
          "| AequilibraE ms/it | time ratio aeq/karvan | max abs flow diff karvan-aeq "
          "| max abs karvan-best | max abs aeq-best |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)
    print("\n| network | threads | scipy Dijkstra all zones ms | karvan AON kernel ms "
          "| karvan ms/BFW iteration | karvan warm-up s |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| {prob.name} | {args.threads} | {sp * 1e3:.2f} | {aon * 1e3:.3f} | "
          f"{k_it * 1e3:.3f} | {k_warm:.2f} |")
    print(f"\nload average at the end {_load()} (other processes on the machine skew timings)")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _aeq_version() -> str:
    from importlib.metadata import version

    return version("aequilibrae")


if __name__ == "__main__":
    main(ARGS)
