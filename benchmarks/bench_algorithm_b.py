"""Benchmark karvan's Algorithm B (``method="algorithm-b"``) on a TNTP network, against
AequilibraE's BFW and TAP-B (Algorithm B in C, Boyles et al.) where asked.

For one TNTP network (``<name>_net.tntp`` and ``<name>_trips.tntp`` in ``--data``, default
``../shared/tntp/<name>``, or ``$KARVAN_TNTP/<name>``) the script reports:

1. **in-process** karvan time to each target in ``--gap`` (network and demand already in memory,
   after one untimed warm-up that loads the numba cache; median of ``--repeat``), sweeps, the
   true relative gap of the returned flows (recomputed with scipy's Dijkstra, as in
   ``bench_aequilibrae.py``) and the largest |flow - best-known| over links with b > 0 and
   free-flow time > 0 (where the equilibrium link flow is unique);
2. **whole-process** karvan time (``karvan assign NET --method algorithm-b --gap G -q`` in a
   child process: Python start, imports, reading the files, JIT cache load, assignment, writing
   the CSVs), median of ``--repeat``, with the child's peak RSS (GNU ``/usr/bin/time -f %M``);
3. AequilibraE BFW (functions of ``bench_aequilibrae.py``) to the targets in ``--aequilibrae``,
   in process, and the time ratio AequilibraE / karvan;
4. TAP-B (``--tapb PATH_TO/bin/tap``), whole process, to each target: wall time, peak RSS,
   sweeps, true gap and |flow - best| of its flows file, and the ratio TAP-B / karvan (whole
   process);
5. threads: karvan in process with 1 thread and with ``--threads`` threads
   (``numba.set_num_threads``; both the sweep and the all-or-nothing pass of the gap), to
   ``--thread-gap``;
6. JIT compile time: a child process with an empty ``NUMBA_CACHE_DIR`` runs a one-sweep
   assignment (compiles everything and fills the cache) and then a second child with the same
   cache dir (loads it); the difference is the compile time;
7. warm start: solve to ``--warm-gap``, halve the capacity of the link with the highest
   volume/capacity ratio, and solve the changed network to the same gap from scratch and from
   the base result (``warm_start=``).

Parts can be skipped (``--skip whole aeq threads compile warm``). Output ends with markdown
rows for ``benchmarks/README.md``.

Examples::

    python benchmarks/bench_algorithm_b.py SiouxFalls --gap 1e-6 1e-8 1e-10
    python benchmarks/bench_algorithm_b.py ChicagoSketch --data /tmp/tntp/ChicagoSketch \\
        --gap 1e-6 1e-8 1e-10 --aequilibrae 1e-6 --tapb /tmp/tapb/bin/tap
    python benchmarks/bench_algorithm_b.py berlin-center --data /tmp/tntp/Berlin-Center \\
        --gap 1e-8 --repeat 1 --tapb /tmp/tapb/bin/tap

TAP-B reads toll and distance factors from the net file's metadata (``<TOLL FACTOR>``,
``<DISTANCE FACTOR>``), which the public TNTP files lack: the script writes a copy of the net
file with them under ``/tmp`` for TAP-B. Its own gap is the relative gap of the flows it prints
(its convergence test); the script recomputes the true gap of its flows file.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("network", help="file stem: <network>_net.tntp (SiouxFalls, berlin-center...)")
    ap.add_argument("--data", type=Path, default=None,
                    help="folder with the TNTP files (default ../shared/tntp/<network>, "
                         "or $KARVAN_TNTP/<network>)")
    ap.add_argument("--gap", type=float, nargs="+", default=[1e-6, 1e-8, 1e-10])
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=100000)
    ap.add_argument("--toll-factor", type=float, default=None)
    ap.add_argument("--distance-factor", type=float, default=None)
    ap.add_argument("--aequilibrae", type=float, nargs="*", default=[],
                    help="targets to run AequilibraE BFW to (default none)")
    ap.add_argument("--aeq-repeat", type=int, default=1)
    ap.add_argument("--fft-epsilon", type=float, default=1e-8)
    ap.add_argument("--tapb", type=Path, default=None, help="TAP-B binary (bin/tap)")
    ap.add_argument("--tapb-max-time", type=float, default=600)
    ap.add_argument("--thread-gap", type=float, default=None,
                    help="target of the 1-vs-N-threads comparison (default: smallest --gap)")
    ap.add_argument("--warm-gap", type=float, default=None,
                    help="target of the warm-start comparison (default: smallest --gap)")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["inproc", "whole", "aeq", "threads", "compile", "warm", "tapb"])
    return ap.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["NUMBA_NUM_THREADS"] = str(ARGS.threads)  # read by numba at import
os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")

sys.path.insert(0, str(HERE))
import bench_aequilibrae as BA  # noqa: E402
import numpy as np  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_child(cmd, env=None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout+stderr) of one child process.

    The peak RSS comes from ``/usr/bin/time -f %M`` (GNU time), not from ``os.wait4`` of a
    child forked from this (large) Python process: its ru_maxrss would count the parent's pages
    it shared before ``exec``.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({p.returncode}):\n{p.stdout[-2000:]}")
        kib = int(rss.read().split()[-1])
    return wall, kib / 1024, p.stdout


def unique_mask(prob) -> np.ndarray:
    lk = prob.links
    return (lk["alpha"].to_numpy() > 0) & (lk["free_flow_time"].to_numpy() > 0)


def maxdiff_best(prob, flow) -> float:
    if prob.best is None:
        return float("nan")
    m = unique_mask(prob)
    return float(np.max(np.abs(flow[m] - prob.best[m])))


def kassign(prob, gap, max_iter, network=None, warm=None):
    import karvan

    p = prob.kproblem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return karvan.assign(network if network is not None else p.network, p.demand,
                             method="algorithm-b", gap=gap, max_iter=max_iter,
                             toll_factor=p.toll_factor, distance_factor=p.distance_factor,
                             warm_start=warm)


def median_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


# ---------------------------------------------------------------------------------------------
# TAP-B


def tapb_run(args, prob, folder: Path, gap: float, threads: int):
    """Whole-process TAP-B run to ``gap``: (wall s, peak MB, sweeps, own gap, flows)."""
    work = Path(tempfile.mkdtemp(prefix="tapb_"))
    net = (folder / f"{prob.name}_net.tntp").read_text()
    meta = f"<TOLL FACTOR> {prob.toll_factor}\n<DISTANCE FACTOR> {prob.distance_factor}\n"
    net = re.sub(r"<TOLL FACTOR>.*\n|<DISTANCE FACTOR>.*\n", "", net)
    (work / "net.tntp").write_text(net.replace("<END OF METADATA>", meta + "<END OF METADATA>", 1))
    shutil.copy(folder / f"{prob.name}_trips.tntp", work / "trips.tntp")
    (work / "params.txt").write_text(
        f"<FILE PATH> {work}/\n<DATA PATH> {work}/\n<NETWORK FILE> net.tntp\n"
        f"<TRIPS FILE> trips.tntp\n<FLOWS FILE> {work}/flows.txt\n<CONVERGENCE GAP> {gap:g}\n"
        f"<MAX RUN TIME> {args.tapb_max_time:g}\n<NUMBER OF THREADS> {threads}\n")
    wall, mb, out = run_child([str(args.tapb), str(work / "params.txt")])
    its = re.findall(r"Iteration (\d+): gap ([0-9.eE+-]+)", out)
    sweeps, own = (int(its[-1][0]), float(its[-1][1])) if its else (-1, float("nan"))
    # one "(tail,head) flow" line per link, in the net file's order (parallel links repeat
    # the same node pair, so match by position, not by the pair)
    rows = [re.match(r"\((\d+),(\d+)\)\s+([0-9.eE+-]+)", ln.strip())
            for ln in (work / "flows.txt").read_text().splitlines()]
    rows = [m for m in rows if m]
    lk = prob.links
    pairs = np.array([(int(m[1]), int(m[2])) for m in rows]).reshape(-1, 2)
    if len(rows) == len(lk) and (pairs[:, 0] == lk["from_node_id"].to_numpy()).all() \
            and (pairs[:, 1] == lk["to_node_id"].to_numpy()).all():
        f = np.array([float(m[3]) for m in rows])
    else:
        print("warning: TAP-B flows file does not list the links in file order; not compared")
        f = np.full(len(lk), np.nan)
    shutil.rmtree(work, ignore_errors=True)
    return wall, mb, sweeps, own, f


# ---------------------------------------------------------------------------------------------


COMPILE_SCRIPT = """
import time, sys, warnings
t0 = time.perf_counter()
import karvan
from karvan.io import read_tntp
p = read_tntp(sys.argv[1], toll_factor=float(sys.argv[2]), distance_factor=float(sys.argv[3]))
t1 = time.perf_counter()
warnings.simplefilter("ignore")
karvan.assign(p.network, p.demand, method="algorithm-b", gap=1e-12, max_iter=1,
              toll_factor=p.toll_factor, distance_factor=p.distance_factor)
t2 = time.perf_counter()
karvan.assign(p.network, p.demand, method="algorithm-b", gap=1e-12, max_iter=1,
              toll_factor=p.toll_factor, distance_factor=p.distance_factor)
t3 = time.perf_counter()
print(f"RESULT {t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f}")
"""


def main(args):
    import numba

    import karvan

    folder = args.data if args.data is not None else BA.DEFAULT_DATA / args.network
    print(f"# {args.network}: karvan {karvan.__version__} algorithm-b; numba {numba.__version__}"
          f" threads {numba.get_num_threads()}, cpus {os.cpu_count()}, load average {load()}")
    t0 = time.perf_counter()
    prob = BA.load_problem(args.network, folder, args.toll_factor, args.distance_factor)
    print(f"read in {time.perf_counter() - t0:.2f} s: {prob.n_nodes} nodes, {len(prob.links)} "
          f"links, {prob.n_zones} zones, demand {prob.od.sum():,.1f}, toll factor "
          f"{prob.toll_factor}, distance factor {prob.distance_factor}; best-known flows: "
          f"{'yes' if prob.best is not None else 'no'}")
    sg = BA.ScipyGraph(prob)
    gaps = sorted(args.gap, reverse=True)
    thread_gap = args.thread_gap or gaps[-1]
    warm_gap = args.warm_gap or gaps[-1]
    res = {g: {} for g in gaps}

    t0 = time.perf_counter()
    kassign(prob, 1e-12, 1)
    print(f"karvan warm-up (max_iter=1, cache load or compile): {time.perf_counter() - t0:.2f} s")

    # 1. in process -----------------------------------------------------------------------
    if "inproc" not in args.skip:
        for g in gaps:
            s, times, r = median_time(lambda g=g: kassign(prob, g, args.max_iter), args.repeat)
            f = BA.karvan_flows(r)
            tg, _, _ = BA.true_gap(sg, f)
            res[g].update(k_s=s, k_it=r.iterations, k_gap=tg, k_best=maxdiff_best(prob, f),
                          k_bushmb=r.params["bush_bytes"] / 2**20, k_thr=r.params["threads"])
            runs = ", ".join(f"{x:.2f}" for x in times)
            print(f"karvan in-process to {g:g}: {s:.3f} s (runs {runs};"
                  f" load {load()}), {r.iterations} sweeps, threads {r.params['threads']}, "
                  f"true gap {tg:.2e}, max |flow-best| (b>0, fft>0) {res[g]['k_best']:.3g}, "
                  f"bushes {res[g]['k_bushmb']:.1f} MiB")

    # 2. whole process --------------------------------------------------------------------
    if "whole" not in args.skip:
        karvan_cli = Path(sys.executable).with_name("karvan")
        net = folder / f"{prob.name}_net.tntp"
        env = {**os.environ, "NUMBA_NUM_THREADS": str(args.threads)}
        out_dir = tempfile.mkdtemp(prefix="karvan_bench_")
        for g in gaps:
            runs = []
            for _ in range(args.repeat):
                runs.append(run_child(
                    [str(karvan_cli), "assign", str(net), "--method", "algorithm-b", "--gap",
                     f"{g:g}", "--max-iter", str(args.max_iter), "--toll-factor",
                     str(prob.toll_factor), "--distance-factor", str(prob.distance_factor),
                     "--out", out_dir, "-q"], env))
            s = statistics.median(w for w, _, _ in runs)
            mb = max(m for _, m, _ in runs)
            res[g].update(w_s=s, w_mb=mb)
            print(f"karvan whole process to {g:g}: {s:.3f} s (runs "
                  f"{', '.join(f'{w:.2f}' for w, _, _ in runs)}; load {load()}), peak RSS "
                  f"{mb:.0f} MB")
        shutil.rmtree(out_dir, ignore_errors=True)

    # 3. AequilibraE ------------------------------------------------------------------------
    if args.aequilibrae and "aeq" not in args.skip and BA.HAVE_AEQ:
        BA.aeq_assign(prob, 1e-12, 2, args.threads, args.fft_epsilon)  # warm-up
        for g in sorted(args.aequilibrae, reverse=True):
            s, _, (af, a_it, a_own, _, _) = median_time(
                lambda g=g: BA.aeq_assign(prob, g, args.max_iter, args.threads,
                                          args.fft_epsilon),
                args.aeq_repeat)
            tg, _, _ = BA.true_gap(sg, af)
            res.setdefault(g, {}).update(a_s=s, a_it=a_it, a_gap=tg, a_best=maxdiff_best(prob, af))
            ratio = s / res[g]["k_s"] if "k_s" in res[g] else float("nan")
            print(f"AequilibraE BFW to {g:g}: {s:.2f} s (load {load()}), {a_it} iterations, own "
                  f"rgap {a_own:.2e}, true gap {tg:.2e}, max |flow-best| {res[g]['a_best']:.3g};"
                  f" AequilibraE/karvan (in process) {ratio:.1f}x")

    # 4. TAP-B ------------------------------------------------------------------------------
    if args.tapb is not None and "tapb" not in args.skip:
        for g in gaps:
            runs = [tapb_run(args, prob, folder, g, args.threads) for _ in range(args.repeat)]
            s = statistics.median(r[0] for r in runs)
            wall, mb, sweeps, own, f = runs[-1]
            mb = max(r[1] for r in runs)
            tg = BA.true_gap(sg, f)[0] if not np.isnan(f).any() else float("nan")
            res[g].update(t_s=s, t_mb=mb, t_it=sweeps, t_gap=tg, t_best=maxdiff_best(prob, f))
            ratio = res[g]["w_s"] / s if "w_s" in res[g] else float("nan")
            print(f"TAP-B whole process to {g:g}: {s:.3f} s (runs "
                  f"{', '.join(f'{r[0]:.2f}' for r in runs)}; load {load()}), peak RSS {mb:.0f} "
                  f"MB, {sweeps} iterations, own gap {own:.2e}, true gap {tg:.2e}, max "
                  f"|flow-best| {res[g]['t_best']:.3g}; karvan/TAP-B (whole process) {ratio:.2f}x")

    # 5. threads ----------------------------------------------------------------------------
    if "threads" not in args.skip and args.threads > 1:
        out = {}
        for n in (1, args.threads):
            numba.set_num_threads(n)
            kassign(prob, 1e-12, 1)
            s, times, r = median_time(lambda: kassign(prob, thread_gap, args.max_iter),
                                      args.repeat)
            el = r.convergence["elapsed_s"].to_numpy()
            out[n] = (s, r.iterations, float(np.median(np.diff(el))) if len(el) > 2 else np.nan,
                      r.params["threads"])
            print(f"threads {n}: to {thread_gap:g} in {s:.3f} s (load {load()}), {r.iterations} "
                  f"sweeps, {out[n][2] * 1e3:.1f} ms per sweep+gap, sweep threads {out[n][3]}")
        numba.set_num_threads(args.threads)
        sp = out[1][0] / out[args.threads][0]
        print(f"speed-up 1 -> {args.threads} threads: {sp:.2f}x in time to {thread_gap:g}, "
              f"{out[1][2] / out[args.threads][2]:.2f}x per sweep")
        res["threads"] = (thread_gap, out, sp)

    # 6. compile time -----------------------------------------------------------------------
    if "compile" not in args.skip:
        cache = tempfile.mkdtemp(prefix="numba_cache_")
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NUMBA_NUM_THREADS": str(args.threads)}
        cmd = [sys.executable, "-c", COMPILE_SCRIPT, str(folder / f"{prob.name}_net.tntp"),
               str(prob.toll_factor), str(prob.distance_factor)]
        rows = []
        for label in ("empty cache", "filled cache"):
            wall, mb, out = run_child(cmd, env)
            imp, first, second = map(float, re.search(r"RESULT (.*)", out)[1].split())
            rows.append((wall, imp, first, second))
            print(f"compile check, {label}: process {wall:.2f} s, import+read {imp:.2f} s, first "
                  f"one-sweep assign {first:.2f} s, second {second:.2f} s (load {load()})")
        compile_s = rows[0][2] - rows[1][2]
        print(f"JIT compile time (first call, empty minus filled cache): {compile_s:.2f} s; cache "
              f"load {rows[1][2] - rows[1][3]:.2f} s")
        res["compile"] = (compile_s, rows)
        shutil.rmtree(cache, ignore_errors=True)

    # 7. warm start -------------------------------------------------------------------------
    if "warm" not in args.skip:
        base = kassign(prob, warm_gap, args.max_iter)
        lt = base.link_table()
        lk = prob.links.reindex(lt.index)
        vc = lt["flow"] / lk["capacity"]
        # a congested link where the flow can move: BPR, fft > 0, 0.8 <= v/c <= 2, most flow
        ok = (lk["alpha"] > 0) & (lk["free_flow_time"] > 0) & vc.between(0.8, 2.0)
        lid = lt["flow"].where(ok).idxmax() if ok.any() else vc.idxmax()
        links = prob.kproblem.network.links.copy()
        links.loc[lid, "capacity"] *= 0.5
        net2 = prob.kproblem.network.with_links(links)
        s_cold, _, r_cold = median_time(lambda: kassign(prob, warm_gap, args.max_iter, net2),
                                        args.repeat)
        s_warm, _, r_warm = median_time(
            lambda: kassign(prob, warm_gap, args.max_iter, net2, warm=base), args.repeat)
        d = float(np.max(np.abs(BA.karvan_flows(r_cold) - BA.karvan_flows(r_warm))))
        g0 = float(r_warm.convergence["relative_gap"].iloc[0])
        print(f"warm start: gap of the base flows on the changed network {g0:.2e}")
        print(f"warm start: link {lid} (v/c {vc[lid]:.2f}, flow {lt['flow'][lid]:.0f}) "
              f"capacity halved; to {warm_gap:g} "
              f"from scratch {s_cold:.3f} s ({r_cold.iterations} sweeps), from the base "
              f"{s_warm:.3f} s ({r_warm.iterations} sweeps): {s_cold / s_warm:.1f}x; max |flow "
              f"diff| {d:.2g} (load {load()})")
        res["warm"] = (warm_gap, lid, s_cold, r_cold.iterations, s_warm, r_warm.iterations)

    # markdown ------------------------------------------------------------------------------
    def f_(d, k, spec):
        v = d.get(k)
        return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

    print("\n| network | gap | karvan in-proc s | sweeps | true gap | max abs flow-best | karvan "
          "whole-process s | peak MB | AequilibraE BFW s | aeq/karvan | TAP-B whole-process s "
          "| TAP-B peak MB | TAP-B it | TAP-B max abs flow-best | karvan/TAP-B |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for g in gaps:
        d = res[g]
        ra = d["a_s"] / d["k_s"] if "a_s" in d and "k_s" in d else float("nan")
        rt = d["w_s"] / d["t_s"] if "t_s" in d and "w_s" in d else float("nan")
        print(f"| {prob.name} | {g:g} | {f_(d, 'k_s', '.2f')} | {f_(d, 'k_it', 'd')} | "
              f"{f_(d, 'k_gap', '.1e')} | {f_(d, 'k_best', '.2g')} | {f_(d, 'w_s', '.2f')} | "
              f"{f_(d, 'w_mb', '.0f')} | {f_(d, 'a_s', '.1f')} | {f_({'r': ra}, 'r', '.1f')} | "
              f"{f_(d, 't_s', '.2f')} | {f_(d, 't_mb', '.0f')} | {f_(d, 't_it', 'd')} | "
              f"{f_(d, 't_best', '.2g')} | {f_({'r': rt}, 'r', '.2f')} |")
    extra = []
    if "threads" in res:
        tg_, out, sp = res["threads"]
        extra.append(f"1 vs {args.threads} threads to {tg_:g}: {out[1][0]:.2f} s / "
                     f"{out[args.threads][0]:.2f} s = {sp:.2f}x")
    if "compile" in res:
        extra.append(f"JIT compile {res['compile'][0]:.1f} s (empty NUMBA_CACHE_DIR)")
    if "warm" in res:
        wg, lid, sc, ic, sw, iw = res["warm"]
        extra.append(f"warm start (link {lid} capacity x0.5) to {wg:g}: scratch {sc:.2f} s "
                     f"({ic} sweeps), warm {sw:.2f} s ({iw} sweeps) = {sc / sw:.1f}x")
    for e in extra:
        print(f"- {prob.name}: {e}")
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    main(ARGS)
