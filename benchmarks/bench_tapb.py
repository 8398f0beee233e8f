"""karvan's Algorithm B against TAP-B, whole process (start to flows written), side by side.

For each network and target relative gap, ``karvan assign`` and TAP-B (Algorithm B in C, built
by the user from https://github.com/spartalab/tap-b) run as child processes, interleaved (the
order alternates between repeats, so that a change in the machine's load hits both), with the
same threads, gap and generalized cost. The script prints, per network and gap:

* the median wall time of each over ``--repeat`` runs, and the ratio karvan / TAP-B;
* the peak memory (maximum resident set) of each child, from GNU time (``/usr/bin/time -f %M``)
  where it exists, else from ``os.wait4``; and karvan's peak minus TAP-B's;
* the relative gap ``(TSTT - SPTT) / SPTT`` of the flows each wrote, recomputed here from those
  flows with scipy's Dijkstra (TNTP's first-thru-node rule kept by giving each zone a source
  copy that owns its out-links); this parser and check share no code with karvan;
* the largest |flow - best-known| where a ``_flow.tntp`` file exists, over links whose cost
  rises with flow (elsewhere the equilibrium flow is not unique);
* the load average before and after each network, since the timings depend on it.

Before timing, karvan's modules are byte-compiled (``python -m compileall``: what ``pip install``
does, and what a first run does where ``PYTHONDONTWRITEBYTECODE`` is not set; where it is set,
every process would compile changed modules again) and karvan runs once untimed on the first
network, which builds the ahead-of-time kernels (``karvan.assign._aot``) or fills numba's cache
if they are not there: the figures are those of every run after the first.

Usage::

    make -C /path/to/tap-b            # gives /path/to/tap-b/bin/tap
    sh benchmarks/get_networks.sh /tmp/tntp ChicagoSketch Winnipeg Barcelona Berlin-Center
    python benchmarks/bench_tapb.py /path/to/tap-b/bin/tap /tmp/tntp
    python benchmarks/bench_tapb.py TAP DATA --networks ChicagoSketch:1e-6,1e-8,1e-10 --repeat 5

``DATA/<folder>/`` holds ``<stem>_net.tntp`` and ``<stem>_trips.tntp`` (and optionally
``<stem>_flow.tntp``), as written by ``get_networks.sh``; ``--networks`` names folders, each
with its gaps after a colon (default: the table of issue 12). The generalized cost is
``time + toll_factor * toll + distance_factor * length`` with the factors each network was
published with (Chicago Sketch: 0.02 and 0.04; the others 0), given to karvan as options and to
TAP-B in a copy of the net file's metadata. Nothing is written inside the repository.
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
from dataclasses import dataclass, field
from pathlib import Path

#: the table of issue 12
DEFAULT_NETWORKS = ["ChicagoSketch:1e-6,1e-8,1e-10", "Winnipeg:1e-8", "Barcelona:1e-8",
                    "Berlin-Center:1e-8"]
#: generalized cost weights the networks were published with (toll, distance)
PUBLISHED_FACTORS = {"ChicagoSketch": (0.02, 0.04), "chicago-regional": (0.1, 0.25),
                     "ChicagoRegional": (0.1, 0.25)}
GNU_TIME = "/usr/bin/time"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tapb", type=Path, help="TAP-B binary (bin/tap of a tap-b build)")
    ap.add_argument("data", type=Path, help="folder with one subfolder per network")
    ap.add_argument("--networks", nargs="+", default=DEFAULT_NETWORKS,
                    help="FOLDER:GAP[,GAP...] (default: issue 12's table)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each solver (median)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both solvers")
    ap.add_argument("--karvan", default=None,
                    help="karvan command (default: the karvan script beside this Python)")
    ap.add_argument("--max-time", type=float, default=900, help="seconds per run, both solvers")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep each run's output folder under this folder")
    return ap.parse_args(argv)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------------- TNTP files


@dataclass
class Net:
    """One TNTP problem as plain arrays (nodes 0-based)."""

    name: str
    folder: Path
    stem: str
    n_nodes: int
    n_zones: int
    first_thru: int
    tail: object
    head: object
    cap: object
    length: object
    fft: object
    b: object
    power: object
    toll: object
    od: object
    best: object = None
    factors: tuple = (0.0, 0.0)
    extra: dict = field(default_factory=dict)

    def cost(self, flow):
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.cap > 0, flow / self.cap, 0.0)
            t = self.fft * (1.0 + self.b * np.power(ratio, self.power))
        t = np.where(self.b == 0, self.fft, t)
        tf, df = self.factors
        return t + tf * self.toll + df * self.length


def _meta(text: str) -> dict[str, str]:
    return {m[1].strip().upper(): m[2].strip()
            for m in re.finditer(r"<([^>]+)>([^\n<]*)", text.split("<END OF METADATA>")[0])}


def read_net(folder: Path) -> Net:
    import numpy as np

    nets = sorted(folder.glob("*_net.tntp"))
    if len(nets) != 1:
        raise SystemExit(f"{folder}: expected one *_net.tntp, found {len(nets)}")
    stem = nets[0].name[: -len("_net.tntp")]
    text = nets[0].read_text(errors="replace")
    meta = _meta(text)
    rows = []
    for line in text.split("<END OF METADATA>", 1)[1].splitlines():
        line = line.strip()
        if not line or line.startswith("~"):
            continue
        rows.append(line.rstrip(";").split()[:10])
    a = np.array(rows, dtype=float)
    trips = (folder / f"{stem}_trips.tntp").read_text(errors="replace")
    n_zones = int(float(_meta(trips)["NUMBER OF ZONES"]))
    od = np.zeros((n_zones, n_zones))
    body = trips.split("<END OF METADATA>", 1)[1]
    for block in re.split(r"Origin", body)[1:]:
        parts = block.split(None, 1)  # an origin may list no destinations (Barcelona)
        o_str, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        o = int(float(o_str)) - 1
        for d, q in re.findall(r"(\d+)\s*:\s*([0-9.eE+-]+)", rest):
            od[o, int(d) - 1] += float(q)
    np.fill_diagonal(od, 0.0)
    net = Net(name=folder.name, folder=folder, stem=stem,
              n_nodes=int(float(meta["NUMBER OF NODES"])), n_zones=n_zones,
              first_thru=int(float(meta.get("FIRST THRU NODE", "1"))),
              tail=a[:, 0].astype(np.int64) - 1, head=a[:, 1].astype(np.int64) - 1, cap=a[:, 2],
              length=a[:, 3], fft=a[:, 4], b=a[:, 5], power=a[:, 6], toll=a[:, 8], od=od,
              factors=PUBLISHED_FACTORS.get(folder.name, PUBLISHED_FACTORS.get(stem, (0.0, 0.0))))
    best_path = folder / f"{stem}_flow.tntp"
    if best_path.exists():
        vals = []
        for line in best_path.read_text(errors="replace").splitlines()[1:]:
            parts = line.replace(";", " ").split()
            if len(parts) >= 3:
                vals.append(float(parts[2]))
        if len(vals) == len(net.tail):
            net.best = np.array(vals)
    return net


def true_gap(net: Net, flow) -> tuple[float, float]:
    """(relative gap, Beckmann-free TSTT) of ``flow`` at its own costs, by scipy's Dijkstra."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    cost = net.cost(flow)
    n = net.n_nodes
    tail = net.tail.copy()
    # zones below the first thru node may start or end a path, not lie inside one: their
    # out-links leave from a source copy
    split = (tail < net.first_thru - 1) & (tail < net.n_zones)
    tail = np.where(split, n + tail, tail)
    n_total = n + net.n_zones
    sources = n + np.arange(net.n_zones) if net.first_thru > 1 else np.arange(net.n_zones)
    if net.first_thru <= 1:
        n_total = n
    c = np.maximum(cost, 1e-300)  # csgraph drops explicit zeros
    key = tail * n_total + net.head
    order = np.lexsort((c, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]  # parallel links: the cheapest
    mat = csr_matrix((c[keep], (tail[keep], net.head[keep])), shape=(n_total, n_total))
    dist = dijkstra(mat, directed=True, indices=sources)[:, : net.n_zones]
    od = net.od
    sptt = float(np.sum(od[od > 0] * dist[od > 0]))
    tstt = float(np.dot(flow, cost))
    return (tstt - sptt) / sptt, tstt


# ------------------------------------------------------------------------------------ running


@dataclass
class Run:
    """One child process: wall and CPU (user + system) seconds, peak RSS in MB."""

    wall: float
    cpu: float
    mb: float
    rc: int
    out: str


def run_child(cmd, env=None) -> Run:
    """Run ``cmd`` and measure it (GNU time where it exists, else ``os.wait4``)."""
    if Path(GNU_TIME).exists():
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
            t0 = time.perf_counter()
            p = subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *cmd], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            wall = time.perf_counter() - t0
            kib, user, sys_ = rss.read().split()[-3:]
        return Run(wall, float(user) + float(sys_), int(kib) / 1024, p.returncode, p.stdout)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
               os.waitstatus_to_exitcode(status), out)


def karvan_cmd(args) -> list[str]:
    if args.karvan:
        return args.karvan.split()
    exe = Path(sys.executable).with_name("karvan")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "karvan.cli"]


def warm_up(args, net: Net, gap: float, out: Path) -> None:
    """Byte-compile karvan's modules and run it once untimed (see the module's notes)."""
    cmd = karvan_cmd(args)
    py = Path(cmd[0]).with_name("python") if not cmd[0].endswith("python") else Path(cmd[0])
    if not py.exists():
        py = Path(sys.executable)
    pkg = subprocess.run([str(py), "-c", "import karvan, os; print(os.path.dirname("
                          "karvan.__file__))"], capture_output=True, text=True, check=False)
    if pkg.returncode == 0:
        subprocess.run([str(py), "-m", "compileall", "-q", pkg.stdout.strip()],
                       stdout=subprocess.DEVNULL, check=False)
    r = run_karvan(args, net, gap, out)
    print(f"warm-up run (untimed): {r.wall:.2f} s, cpu {r.cpu:.2f} s", flush=True)
    shutil.rmtree(out, ignore_errors=True)


def run_karvan(args, net: Net, gap: float, out: Path):
    tf, df = net.factors
    cmd = [*karvan_cmd(args), "assign", str(net.folder / f"{net.stem}_net.tntp"), "--trips",
           str(net.folder / f"{net.stem}_trips.tntp"), "--method", "algorithm-b", "--gap",
           f"{gap:g}", "--max-iter", "100000", "--max-time", f"{args.max_time:g}",
           "--toll-factor", repr(tf), "--distance-factor", repr(df), "--out", str(out), "-q"]
    env = {**os.environ, "NUMBA_NUM_THREADS": str(args.threads)}
    r = run_child(cmd, env)
    if r.rc not in (0, 1):
        raise RuntimeError(f"karvan failed ({r.rc}): {' '.join(cmd)}\n{r.out[-3000:]}")
    return r


def karvan_flows(net: Net, out: Path):
    import numpy as np

    rows = (out / "link_flows.csv").read_text().splitlines()
    cols = rows[0].split(",")
    li, fi = cols.index("link_id"), cols.index("flow")
    flow = np.zeros(len(net.tail))
    for r in rows[1:]:
        parts = r.split(",")
        flow[int(parts[li]) - 1] += float(parts[fi])
    return flow


def tapb_setup(net: Net, work: Path, gap: float, threads: int, max_time: float) -> Path:
    """A copy of the net file with the cost factors in its metadata, and a parameters file."""
    tf, df = net.factors
    d = work / f"{net.name}_{gap:g}"
    d.mkdir(parents=True, exist_ok=True)
    text = (net.folder / f"{net.stem}_net.tntp").read_text(errors="replace")
    text = re.sub(r"<TOLL FACTOR>.*\n|<DISTANCE FACTOR>.*\n", "", text)
    meta = f"<TOLL FACTOR> {tf!r}\n<DISTANCE FACTOR> {df!r}\n"
    (d / "net.tntp").write_text(text.replace("<END OF METADATA>", meta + "<END OF METADATA>", 1))
    shutil.copy(net.folder / f"{net.stem}_trips.tntp", d / "trips.tntp")
    (d / "params.txt").write_text(
        f"<FILE PATH> {d}/\n<DATA PATH> {d}/\n<NETWORK FILE> net.tntp\n<TRIPS FILE> trips.tntp\n"
        f"<FLOWS FILE> {d}/flows.txt\n<CONVERGENCE GAP> {gap:g}\n<MAX RUN TIME> {max_time:g}\n"
        f"<NUMBER OF THREADS> {threads}\n")
    return d


def run_tapb(args, d: Path):
    (d / "flows.txt").unlink(missing_ok=True)
    r = run_child([str(args.tapb), str(d / "params.txt")])
    if r.rc != 0:
        raise RuntimeError(f"TAP-B failed ({r.rc}):\n{r.out[-3000:]}")
    return r


def tapb_flows(net: Net, d: Path):
    """TAP-B's flows file: one '(tail,head) flow cost' line per link, in the net file's order."""
    import numpy as np

    vals = []
    for line in (d / "flows.txt").read_text().splitlines():
        m = re.match(r"\s*\((\d+),(\d+)\)\s+([0-9.eE+-]+)", line)
        if m:
            vals.append((int(m[1]) - 1, int(m[2]) - 1, float(m[3])))
    a = np.array(vals)
    if len(a) != len(net.tail) or (a[:, 0] != net.tail).any() or (a[:, 1] != net.head).any():
        raise RuntimeError("TAP-B's flows file does not list the links in file order")
    return a[:, 2]


def max_best(net: Net, flow) -> float:
    import numpy as np

    if net.best is None:
        return float("nan")
    rising = (net.b > 0) & (net.fft > 0)
    return float(np.max(np.abs(flow - net.best)[rising]))


# --------------------------------------------------------------------------------------- main


def main(args) -> None:
    if not args.tapb.exists():
        raise SystemExit(f"no TAP-B binary at {args.tapb}")
    work = Path(tempfile.mkdtemp(prefix="bench_tapb_"))
    print(f"# karvan vs TAP-B, whole process; {args.threads} threads each, median of "
          f"{args.repeat}; cpus {os.cpu_count()}; karvan: {' '.join(karvan_cmd(args))}; "
          f"TAP-B: {args.tapb}")
    rows = []
    try:
        for spec in args.networks:
            folder, _, gaps = spec.partition(":")
            net = read_net(args.data / folder)
            gaps = [float(g) for g in gaps.split(",")] if gaps else [1e-8]
            if not rows and spec == args.networks[0]:
                warm_up(args, net, gaps[0], work / "warm_up")
            print(f"\n## {net.name}: {net.n_nodes} nodes, {len(net.tail)} links, {net.n_zones} "
                  f"zones, demand {net.od.sum():,.1f}, factors {net.factors}; load {load()}")
            for gap in gaps:
                d = tapb_setup(net, work, gap, args.threads, args.max_time)
                kout = work / f"karvan_{net.name}_{gap:g}"
                k_runs, t_runs = [], []
                for rep in range(args.repeat):
                    order = ("karvan", "tapb") if rep % 2 == 0 else ("tapb", "karvan")
                    for who in order:
                        if who == "karvan":
                            shutil.rmtree(kout, ignore_errors=True)
                            k_runs.append(run_karvan(args, net, gap, kout))
                        else:
                            t_runs.append(run_tapb(args, d))
                    k, t = k_runs[-1], t_runs[-1]
                    print(f"  gap {gap:g} run {rep + 1}: karvan {k.wall:.2f} s (cpu {k.cpu:.2f}) "
                          f"{k.mb:.0f} MB, TAP-B {t.wall:.2f} s (cpu {t.cpu:.2f}) {t.mb:.0f} MB "
                          f"(load {load()})", flush=True)
                kf = karvan_flows(net, kout)
                tf = tapb_flows(net, d)
                kg, _ = true_gap(net, kf)
                tg, _ = true_gap(net, tf)
                if args.keep is not None:
                    dest = args.keep / f"{net.name}_{gap:g}"
                    shutil.rmtree(dest, ignore_errors=True)
                    shutil.copytree(kout, dest / "karvan")
                    shutil.copy(d / "flows.txt", dest / "tapb_flows.txt")
                ks = statistics.median(r.wall for r in k_runs)
                ts = statistics.median(r.wall for r in t_runs)
                kc = statistics.median(r.cpu for r in k_runs)
                tc = statistics.median(r.cpu for r in t_runs)
                kmb = max(r.mb for r in k_runs)
                tmb = max(r.mb for r in t_runs)
                row = dict(net=net.name, gap=gap, ks=ks, ts=ts, ratio=ks / ts, kc=kc, tc=tc,
                           kmb=kmb, tmb=tmb, kg=kg, tg=tg, kb=max_best(net, kf),
                           tb=max_best(net, tf), load=load())
                rows.append(row)
                print(f"  gap {gap:g}: karvan {ks:.2f} s (runs "
                      f"{', '.join(f'{r.wall:.2f}' for r in k_runs)}), TAP-B {ts:.2f} s (runs "
                      f"{', '.join(f'{r.wall:.2f}' for r in t_runs)}): ratio {ks / ts:.2f}; "
                      f"cpu {kc:.2f} s / {tc:.2f} s; peak karvan {kmb:.0f} MB, TAP-B {tmb:.0f} "
                      f"MB ({kmb - tmb:+.0f}); true gap karvan {kg:.2e}, TAP-B {tg:.2e}",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| network | gap | karvan s | TAP-B s | ratio | karvan cpu s | TAP-B cpu s | "
          "karvan MB | TAP-B MB | difference MB | true gap karvan | true gap TAP-B | "
          "max abs flow-best karvan | TAP-B | load after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['net']} | {r['gap']:g} | {r['ks']:.2f} | {r['ts']:.2f} | {r['ratio']:.2f} | "
              f"{r['kc']:.2f} | {r['tc']:.2f} | {r['kmb']:.0f} | {r['tmb']:.0f} | "
              f"{r['kmb'] - r['tmb']:+.0f} | {r['kg']:.1e} | {r['tg']:.1e} | {r['kb']:.2g} | "
              f"{r['tb']:.2g} | {r['load']} |")


if __name__ == "__main__":
    main(parse_args())
