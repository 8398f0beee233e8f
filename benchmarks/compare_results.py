"""Compare every CSV table of two `karvan run` results folders (``results/<scenario>/*.csv``).

Text columns must be equal; numeric columns equal to ``--rtol`` relative (default 1e-9, with
``--atol`` for values near zero). Columns that time the run (``elapsed_s``) are skipped. Prints
one line per difference and a count; exits 1 if any.

    python benchmarks/compare_results.py results_before results_after
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SKIP_COLUMNS = {"elapsed_s"}


def compare(a: Path, b: Path, rtol: float, atol: float) -> tuple[int, int, int]:
    """(tables compared, byte-identical ones, differences) of folders ``a`` and ``b``."""
    n = same = bad = 0
    scen_a = sorted(p.name for p in a.iterdir() if (p / "manifest.json").exists())
    scen_b = sorted(p.name for p in b.iterdir() if (p / "manifest.json").exists())
    if scen_a != scen_b:
        print(f"scenarios differ: {scen_a} vs {scen_b}")
        bad += 1
    for s in scen_a:
        files_a = sorted(p.name for p in (a / s).glob("*.csv"))
        files_b = sorted(p.name for p in (b / s).glob("*.csv")) if (b / s).exists() else []
        if files_a != files_b:
            print(f"{s}: tables differ: {sorted(set(files_a) ^ set(files_b))}")
            bad += 1
        for f in sorted(set(files_a) & set(files_b)):
            n += 1
            pa, pb = a / s / f, b / s / f
            if pa.read_bytes() == pb.read_bytes():
                same += 1
                continue
            ta = pd.read_csv(pa, keep_default_na=False, dtype=str)
            tb = pd.read_csv(pb, keep_default_na=False, dtype=str)
            if list(ta.columns) != list(tb.columns) or len(ta) != len(tb):
                print(f"{s}/{f}: shape or columns differ")
                bad += 1
                continue
            for c in ta.columns:
                if c in SKIP_COLUMNS or (ta[c] == tb[c]).all():
                    continue
                xa = pd.to_numeric(ta[c], errors="coerce").to_numpy(dtype=float)
                xb = pd.to_numeric(tb[c], errors="coerce").to_numpy(dtype=float)
                text = np.isnan(xa) & (ta[c] != "").to_numpy()
                if text.any() or not np.allclose(xa, xb, rtol=rtol, atol=atol, equal_nan=True):
                    k = int(np.flatnonzero(ta[c].to_numpy() != tb[c].to_numpy())[0])
                    print(f"{s}/{f}: column {c} differs, first at row {k}: "
                          f"{ta[c].iloc[k]!r} vs {tb[c].iloc[k]!r}")
                    bad += 1
    return n, same, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--atol", type=float, default=1e-12)
    args = ap.parse_args()
    n, same, bad = compare(args.a, args.b, args.rtol, args.atol)
    print(f"{n} tables compared: {same} byte-identical, {bad} differences "
          f"(rtol {args.rtol:g}, {', '.join(sorted(SKIP_COLUMNS))} skipped)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
