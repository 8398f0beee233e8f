"""Compact terminal summaries of scenario runs and comparisons (rich tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table


def _mt(x) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x / 1e6:,.2f}"


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}%"


def print_summary(runs, console: Console, *, countries: int = 8,
                  bottlenecks: int = 3) -> None:
    """One table of headline figures per scenario, then border throughput and transit by country
    across scenarios."""
    t = Table(title="Scenarios", title_justify="left")
    for c in ("scenario", "year", "demand Mt", "no route Mt", "UE gap", "iter.",
              "Caspian share RU->IR", "LP unserved Mt", "LP binding", "s"):
        t.add_column(c, justify="left" if c == "scenario" else "right")
    for r in runs:
        s = r.summary
        t.add_row(s["scenario"], str(s["year"]), _mt(s["demand_t"]), _mt(s["no_path_t"]),
                  f"{s['ue_relative_gap']:.1e}", str(s["ue_iterations"]),
                  _pct(s["caspian_share_ru_ir"]), _mt(s["lp_unserved_t"]), str(s["lp_binding"]),
                  f"{s['elapsed_s']:.1f}")
    console.print(t)
    t = Table(title=f"Bottlenecks (top {bottlenecks} per scenario): utilization at equilibrium, "
                    "LP shadow price in USD per t of extra yearly capacity", title_justify="left")
    for c in ("scenario", "link", "capacity Mt", "utilization", "shadow $/t"):
        t.add_column(c, justify="left" if c in ("scenario", "link") else "right")
    for r in runs:
        b = r.tables["bottlenecks"].head(bottlenecks)
        for i, x in enumerate(b.itertuples(index=False)):
            name = x.name if isinstance(x.name, str) and x.name else str(x.link_id)
            sp = getattr(x, "shadow_price_usd_per_t", np.nan)
            t.add_row(r.scenario.name if i == 0 else "", name[:48], _mt(x.capacity_tpy),
                      _pct(x.utilization), f"{sp:,.1f}" if pd.notna(sp) else "-")
    console.print(t)
    bt = pd.concat({r.scenario.name: r.tables["borders"].set_index("border_id")["tonnes_tot"]
                    for r in runs}, axis=1).fillna(0.0)
    if len(bt):
        bt = bt.loc[bt.max(axis=1).sort_values(ascending=False).index]
        bt = bt[bt.max(axis=1) > 0]
        t = Table(title="Border crossings, Mt/yr (both directions)", title_justify="left")
        t.add_column("border")
        for c in bt.columns:
            t.add_column(c, justify="right")
        for bid, row in bt.iterrows():
            t.add_row(str(bid), *[_mt(v) for v in row])
        console.print(t)
    ct = pd.concat({r.scenario.name: r.tables["countries"].set_index("country")
                    for r in runs}, axis=0)
    if len(ct):
        tt = ct["transit_tonnes"].unstack(0).fillna(0.0)
        rev = ct["transit_revenue_usd"].unstack(0).fillna(0.0)
        tt = tt.loc[tt.max(axis=1).sort_values(ascending=False).index[:countries]]
        t = Table(title="Transit by country: Mt/yr | revenue M USD/yr", title_justify="left")
        t.add_column("country")
        for c in tt.columns:
            t.add_column(c, justify="right")
        for cid, row in tt.iterrows():
            t.add_row(str(cid), *[f"{_mt(v)} | {rev.at[cid, c] / 1e6:,.0f}"
                                  for c, v in row.items()])
        console.print(t)
    for r in runs[:1]:
        sh = r.tables.get("shipper")
        if sh is not None and len(sh):
            t = Table(title=f"Shipper comparison ({r.scenario.name}): best route per option",
                      title_justify="left")
            for c in ("origin", "destination", "commodity", "route", "days", "km", "$/t"):
                t.add_column(c, justify="right" if c in ("days", "km", "$/t") else "left")
            for x in sh.itertuples(index=False):
                t.add_row(x.origin, x.destination, x.commodity, x.option_id,
                          f"{x.time_days:.1f}" if x.available else "n/a",
                          f"{x.distance_km:,.0f}" if x.available else "-",
                          f"{x.cost_usd_per_t:,.0f}" if x.available else "-")
            console.print(t)


def print_comparison(diff: dict[str, pd.DataFrame], a: Path, b: Path, console: Console, *,
                     top: int = 10) -> None:
    """The largest differences B - A per table, after what the difference measures."""
    ref = diff.get("reference")
    if ref is not None and len(ref):
        console.print(str(ref["note"].iloc[0]), style=None if ref["like_year"].iloc[0]
                      else "yellow", highlight=False)
    cfg = {"links": ("link_id", ["tonnes_tot", "utilization"]),
           "borders": ("border_id", ["tonnes_tot"]),
           "countries": ("country", ["tonnes", "transit_tonnes", "transit_revenue_usd"])}
    for name, (key, cols) in cfg.items():
        df = diff.get(name)
        if df is None or not len(df):
            continue
        cols = [c for c in cols if f"{c}_diff" in df]
        t = Table(title=f"{name}: {b.name} - {a.name} (largest changes)", title_justify="left")
        t.add_column(key)
        for c in cols:
            t.add_column(f"{c} A", justify="right")
            t.add_column(f"{c} B", justify="right")
            t.add_column("diff", justify="right")
        for row in df.head(top).itertuples(index=False):
            r = row._asdict()
            cells = [str(r[key])]
            for c in cols:
                fmt = _pct if c == "utilization" else (
                    (lambda v: f"{v / 1e6:,.1f}") if "usd" in c else _mt)
                cells += [fmt(r[f"{c}_a"]), fmt(r[f"{c}_b"]), fmt(r[f"{c}_diff"])]
            t.add_row(*cells)
        console.print(t)
