"""Start-up of ``karvan assign``: the whole process on a small network, and where its time goes.

Prints, for one TNTP network (default: the four-link Braess network of ``../shared/tntp``):

1. the whole process ``karvan assign NET --gap G -q --out DIR``, after one untimed run that fills
   numba's cache: median wall and CPU seconds of ``--repeat`` runs and the peak RSS;
2. floors for comparison: ``python -c pass``, ``import numpy``, ``import numba`` (median wall);
3. the stages of the same work in one child process, timed in it (wall and CPU): importing
   numpy and ``karvan.cli``, reading the files, attaching the ahead-of-time compiled kernels
   (``karvan.assign._aot``; networks solved as Python skip it), the first assignment and a
   second one on the same problem (the solve alone), and writing the result tables; with
   whether pandas, scipy and numba were loaded;
4. ``python -X importtime`` of ``import karvan.cli``, summed per top-level package (self time).

Usage::

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py /tmp/tntp/ChicagoSketch/ChicagoSketch_net.tntp --gap 1e-4

Run with the virtual environment's Python (its ``karvan`` script is used); ``NUMBA_CACHE_DIR`` is
passed on. Timings depend on the machine's load, printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_NET = (Path(os.environ.get("KARVAN_TNTP", HERE.parents[1] / "shared" / "tntp"))
               / "Braess-Example" / "Braess_net.tntp")
GNU_TIME = "/usr/bin/time"

STAGES = r"""
import json, sys, time
out = {}
w0, c0 = time.perf_counter(), time.process_time()
def mark(name):
    global w0, c0
    w, c = time.perf_counter(), time.process_time()
    out[name] = (w - w0, c - c0)
    w0, c0 = w, c
import numpy
mark("import numpy")
import karvan.cli
mark("import karvan.cli (typer, rich, karvan)")
from karvan.cli.assign import _read_for_assign
prob = _read_for_assign(sys.argv[1], None, None, None)
mark("read the network and demand")
from karvan.assign.equilibrium import INTERPRET_WORK
g = prob.network
if len(prob.demand.zone_ids) * g.n_arcs > INTERPRET_WORK:
    from karvan.assign._aot import prepare
    prepare()
mark("attach the ahead-of-time kernels (not on networks solved as Python)")
import karvan
def solve():
    return karvan.assign(prob.network, prob.demand, gap=float(sys.argv[2]), max_iter=100000,
                         toll_factor=prob.toll_factor, distance_factor=prob.distance_factor)
r = solve()
mark("first assign (solve; kernels loaded on their first call)")
solve()
mark("second assign (solve alone)")
from karvan.cli.assign import _write_results
import tempfile, pathlib
with tempfile.TemporaryDirectory() as d:
    _write_results(r, pathlib.Path(d), {})
mark("write link_flows.csv, convergence.csv, manifest.json")
out["loaded"] = {m: m in sys.modules for m in ("pandas", "scipy", "numba", "pyarrow")}
print("STAGES " + json.dumps(out))
"""


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("net", nargs="?", type=Path, default=DEFAULT_NET, help="TNTP _net file")
    ap.add_argument("--gap", type=float, default=1e-12)
    ap.add_argument("--repeat", type=int, default=7)
    return ap.parse_args(argv)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(cmd, env=None) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, output) of one child."""
    if Path(GNU_TIME).exists():
        with tempfile.NamedTemporaryFile("r", suffix=".t") as f:
            t0 = time.perf_counter()
            p = subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", f.name, *cmd], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            wall = time.perf_counter() - t0
            kb, u, s = f.read().split()[-3:]
        if p.returncode not in (0, 1):
            raise RuntimeError(f"{cmd} failed:\n{p.stdout[-2000:]}")
        return wall, float(u) + float(s), int(kb) / 1024, p.stdout
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    text = p.stdout.read()
    _, _, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, text


def main(args) -> None:
    env = dict(os.environ)
    karvan_cli = str(Path(sys.executable).with_name("karvan"))
    out_dir = tempfile.mkdtemp(prefix="bench_startup_")
    cmd = [karvan_cli, "assign", str(args.net), "--gap", f"{args.gap:g}", "--max-iter", "100000",
           "-q", "--out", out_dir]
    print(f"# karvan assign {args.net.name}, gap {args.gap:g}; python {sys.version.split()[0]}, "
          f"cpus {os.cpu_count()}, load {load()}")
    # byte-compiled modules (as pip install leaves them; this matters where the environment sets
    # PYTHONDONTWRITEBYTECODE), and one run that builds the compiled kernels if they are not
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(__import__("karvan").__file__).parent)],
                   stdout=subprocess.DEVNULL, check=False)
    timed(cmd, env)
    runs = [timed(cmd, env) for _ in range(args.repeat)]
    w = statistics.median(r[0] for r in runs)
    c = statistics.median(r[1] for r in runs)
    mb = max(r[2] for r in runs)
    print(f"\nwhole process, median of {args.repeat}: {w:.3f} s wall, {c:.3f} s CPU, peak "
          f"{mb:.0f} MB (runs {', '.join(f'{r[0]:.2f} s {r[2]:.0f} MB' for r in runs)}; "
          f"load {load()})")

    floors = {"python -c pass": "pass", "import numpy": "import numpy",
              "import numba": "import numba"}
    print("\n| floor | wall s | CPU s |\n|---|---:|---:|")
    for label, code in floors.items():
        rs = [timed([sys.executable, "-c", code], env) for _ in range(args.repeat)]
        print(f"| {label} | {statistics.median(r[0] for r in rs):.3f} | "
              f"{statistics.median(r[1] for r in rs):.3f} |")

    stage_runs = []
    for _ in range(args.repeat):
        text = timed([sys.executable, "-c", STAGES, str(args.net), f"{args.gap:g}"], env)[3]
        m = re.search(r"STAGES (.*)", text)
        if not m:
            raise RuntimeError(text[-3000:])
        stage_runs.append(json.loads(m[1]))
    loaded = stage_runs[-1].pop("loaded")
    for s in stage_runs[:-1]:
        s.pop("loaded")
    print(f"\nstages in one process, median of {args.repeat} (loaded at the end: "
          f"{', '.join(f'{k} {v}' for k, v in loaded.items())}):\n")
    print("| stage | wall s | CPU s |\n|---|---:|---:|")
    for name in stage_runs[0]:
        print(f"| {name} | {statistics.median(s[name][0] for s in stage_runs):.3f} | "
              f"{statistics.median(s[name][1] for s in stage_runs):.3f} |")

    p = subprocess.run([sys.executable, "-X", "importtime", "-c", "import karvan.cli"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    per = Counter()
    for line in p.stderr.splitlines():
        mm = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if mm:
            per[mm[3].split(".")[0]] += int(mm[1])
    total = sum(per.values())
    print(f"\n`python -X importtime -c 'import karvan.cli'`: {total / 1e6:.3f} s in all; by "
          "top-level package (self time):\n")
    print("| package | s |\n|---|---:|")
    for name, us in per.most_common(12):
        print(f"| {name} | {us / 1e6:.3f} |")
    print(f"\nload at the end {load()}")


if __name__ == "__main__":
    main(parse_args())
