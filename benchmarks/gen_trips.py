"""Write a synthetic TNTP trips file (gravity model) for a TNTP network whose demand is missing.

The public Chicago Regional trips file is stored in Git LFS and was not available offline, so the
Algorithm B scale test used demand generated here: a singly constrained gravity model
``T_ij ~ P_i * A_j * exp(-beta * c_ij)`` on the free-flow generalized cost ``c`` (Dijkstra from
every zone, zones not passed through when first thru node > 1), productions and attractions
drawn log-normal with a fixed seed, the ``--keep`` cheapest destinations of each origin kept and
the total scaled to ``--total``.

    python benchmarks/gen_trips.py /tmp/tntp/ChicagoRegional/ChicagoRegional_net.tntp \\
        --total 1360427 --toll-factor 0.1 --distance-factor 0.25 \\
        --out /tmp/tntp/ChicagoRegional/ChicagoRegional_trips.tntp
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("net", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--total", type=float, default=1_360_427)
    ap.add_argument("--beta", type=float, default=0.08, help="per minute of generalized cost")
    ap.add_argument("--keep", type=int, default=400, help="destinations kept per origin")
    ap.add_argument("--toll-factor", type=float, default=0.0)
    ap.add_argument("--distance-factor", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    meta = {}
    for line in a.net.read_text().splitlines():
        if line.startswith("<END OF METADATA>"):
            break
        if line.startswith("<"):
            k, v = line[1:].split(">", 1)
            meta[k.strip()] = v.strip()
    nz, nn = int(meta["NUMBER OF ZONES"]), int(meta["NUMBER OF NODES"])
    ftn = int(meta["FIRST THRU NODE"])
    body = a.net.read_text().split("<END OF METADATA>", 1)[1]
    rows = [ln.replace(";", " ").split()[:10] for ln in body.splitlines()
            if ln.strip() and not ln.lstrip().startswith("~")]
    lk = pd.DataFrame(np.array(rows, dtype=float))
    tail, head = lk[0].to_numpy(int) - 1, lk[1].to_numpy(int) - 1
    cost = (lk[4].to_numpy() + a.toll_factor * lk[8].to_numpy()
            + a.distance_factor * lk[3].to_numpy())
    cost = np.maximum(cost, 1e-9)
    # zones below the first thru node: a source copy owns the out-links, the zone keeps none
    src = np.where(tail < ftn - 1, nn + tail, tail)
    g = csr_matrix((cost, (src, head)), shape=(nn + nz, nn + nz))
    dist = dijkstra(g, directed=True, indices=nn + np.arange(nz))[:, :nz]
    rng = np.random.default_rng(a.seed)
    prod = rng.lognormal(0.0, 0.6, nz)
    attr = rng.lognormal(0.0, 0.6, nz)
    w = attr[None, :] * np.exp(-a.beta * np.where(np.isfinite(dist), dist, np.inf))
    np.fill_diagonal(w, 0.0)
    keep = np.argsort(-w, axis=1)[:, : a.keep]
    mask = np.zeros_like(w, bool)
    np.put_along_axis(mask, keep, True, axis=1)
    w = np.where(mask, w, 0.0)
    w = prod[:, None] * w / w.sum(axis=1, keepdims=True)
    w *= a.total / w.sum()
    with a.out.open("w") as f:
        f.write(f"<NUMBER OF ZONES> {nz}\n<TOTAL OD FLOW> {w.sum():.4f}\n<END OF METADATA>\n\n")
        for i in range(nz):
            f.write(f"\nOrigin {i + 1}\n")
            js = np.flatnonzero(w[i] > 0)
            f.write("".join(f"{j + 1:5d} : {w[i, j]:.4f};" + ("\n" if k % 5 == 4 else " ")
                            for k, j in enumerate(js)) + "\n")
    print(f"{a.out}: {nz} zones, {int((w > 0).sum())} OD pairs, {w.sum():,.1f} trips, mean "
          f"cost {np.sum(w * np.where(w > 0, dist, 0)) / w.sum():.1f}")


if __name__ == "__main__":
    main()
