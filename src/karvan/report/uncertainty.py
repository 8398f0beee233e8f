"""The page of an experiment (``karvan explore``): bands on the headline figures, fan charts of
each scenario's effect against its like-year reference, the probability of each statement and a
tornado chart of the inputs that decide it.

Reads the tables the experiment wrote (``bands.csv``, ``statements.csv``, ``fan_chart.csv``,
``tornado.csv``, ``inputs.csv``, ``manifest.json``); recomputes nothing. One self-contained
HTML file, no script.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import pandas as pd

from karvan.errors import InputError
from karvan.io.atomic import atomic_write_text

#: outputs shown with their bands, by prefix, in this order
HEADLINE = (("border:", "Border crossings, Mt/yr"),
            ("share:", "Route-option shares of country-pair freight, %"),
            ("family:", "Route-family shares of major country pairs (logit choice), %"),
            ("capacity:", "Hard capacities (logit choice): shadow price h and USD/t, "
                          "utilization %"),
            ("shipper:", "Shipper comparison: cost USD/t and time days per route option"),
            ("country:", "Transit by country: Mt/yr and revenue M USD/yr"),
            ("link:", "Capacity-limited links: Mt/yr and utilization, %"))

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f5f5f5}
.note{color:#555;font-size:.92em}.out{color:#b35806}svg text{font:11px system-ui,sans-serif}
"""


def _e(s) -> str:
    return html.escape(str(s))


def _holds(v) -> str:
    """Whether a statement holds in the central case: yes, no, or - where it has no value there
    (as the CLI prints it)."""
    if v is True or v == "True":
        return "yes"
    if v is False or v == "False":
        return "no"
    return "-"


def _fmt(output: str, v: float) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    o = output.removeprefix("effect:")
    if o.startswith(("share:", "family:")) or o.endswith(":utilization"):
        return f"{100 * v:.1f}"
    if o.endswith((":shadow_price_h", ":shadow_price_usd_per_t")):
        return f"{v:,.2f}"
    if o.endswith("revenue_usd"):
        return f"{v / 1e6:,.0f}"
    if o.endswith("_usd"):  # total:expected_cost_usd, users_benefit_usd
        return f"{v / 1e6:,.1f}"
    if o.endswith(":cost_usd_per_t") or o.endswith(":time_days"):
        return f"{v:,.1f}"
    return f"{v / 1e6:,.2f}"


def unit_of(output: str) -> str:
    """The unit in which :func:`_fmt` shows ``output`` (an effect of a share or utilization in
    percentage points)."""
    effect = output.startswith("effect:")
    o = output.removeprefix("effect:")
    if o.startswith(("share:", "family:")) or o.endswith(":utilization"):
        return "percentage points" if effect else "%"
    if o.endswith(":shadow_price_h"):
        return "h"
    if o.endswith((":shadow_price_usd_per_t", ":cost_usd_per_t")):
        return "USD/t"
    if o.endswith("_usd"):  # revenue, the demand's expected cost, the users' benefit
        return "M USD/yr"
    if o.endswith(":time_days"):
        return "days"
    if o.endswith("tonne_km"):
        return "M t-km/yr"
    return "Mt/yr"


def _band_svg(lo: float, p25: float, p50: float, p75: float, hi: float, central: float,
              vmin: float, vmax: float, width: int = 220, height: int = 14) -> str:
    """A fan: p5-p95 light, p25-p75 darker, the median a bar, the central case a dot."""
    span = (vmax - vmin) or 1.0

    def x(v: float) -> float:
        return 4 + (width - 8) * (v - vmin) / span

    parts = [f'<svg width="{width}" height="{height}" role="img">']
    if all(math.isfinite(v) for v in (lo, hi, p25, p75, p50)):
        parts.append(f'<rect x="{x(lo):.1f}" y="3" width="{max(x(hi) - x(lo), 1):.1f}" '
                     f'height="8" fill="#c6dbef"/>')
        parts.append(f'<rect x="{x(p25):.1f}" y="3" width="{max(x(p75) - x(p25), 1):.1f}" '
                     f'height="8" fill="#6baed6"/>')
        parts.append(f'<rect x="{x(p50) - 1:.1f}" y="1" width="2" height="12" '
                     'fill="#08306b"/>')
    if math.isfinite(central):
        parts.append(f'<circle cx="{x(central):.1f}" cy="7" r="3" fill="#d94801"/>')
    if vmin < 0 < vmax:
        parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="0" y2="{height}" '
                     'stroke="#999" stroke-dasharray="2,2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _bands_table(b: pd.DataFrame) -> str:
    # P5 <= central <= P95 (bands.csv's central_in_band; not shown for an experiment analysed
    # before the column was written)
    mark = "central_in_band" in b
    inside = b["central_in_band"].astype("boolean") if mark else None
    rows = []
    for i, r in enumerate(b.itertuples(index=False)):
        lo = min(r.p5, r.central) if math.isfinite(r.central) else r.p5
        hi = max(r.p95, r.central) if math.isfinite(r.central) else r.p95
        svg = _band_svg(r.p5, r.p25, r.p50, r.p75, r.p95, r.central, lo, hi)
        rows.append(f"<tr><td>{_e(r.scenario)}</td><td>{_e(r.output)}</td>"
                    f'<td class="n">{_fmt(r.output, r.central)}</td>'
                    f'<td class="n">{_fmt(r.output, r.p5)}</td>'
                    f'<td class="n">{_fmt(r.output, r.p50)}</td>'
                    f'<td class="n">{_fmt(r.output, r.p95)}</td><td>{svg}</td>'
                    + (f"<td>{_IN_BAND.get(inside.iloc[i], '-')}</td>" if mark else "")
                    + "</tr>")
    return ("<table><tr><th>scenario</th><th>output</th><th>central</th><th>P5</th><th>P50</th>"
            "<th>P95</th><th>band</th>" + ("<th>in band</th>" if mark else "")
            + "</tr>" + "".join(rows) + "</table>")


_IN_BAND = {True: "yes", False: "<b class='out'>no</b>"}


def outside_note(b: pd.DataFrame) -> str:
    """What to say of the bands of ``b`` (an experiment's ``bands`` table) that do not contain
    their central case: how many, and why (empty when none, or for an experiment analysed
    before ``central_in_band`` was written)."""
    if "central_in_band" not in b:
        return ""
    n = int((~b["central_in_band"].astype("boolean")).fillna(False).sum())
    if not n:
        return ""
    return (f"The central case lies outside P5-P95 in {n} of {len(b)} bands (in band: no; "
            "column central_in_band of bands.csv). It takes every input at the dataset's "
            "figure, the median of a factor's draws but not always of a range's (inputs.csv, "
            "central_quantile); a total over many inputs has its median above the sum of "
            "theirs (a lognormal factor of median 1 has mean 1.13 at sigma 0.5), so bands of "
            "total tonnes sit above it; and with few draws P5 and P95 are near the lowest and "
            "highest draw (docs/model.md, Uncertainty).")


#: an input's central case this close to an end of its distribution (as a quantile) is named
OFF_CENTRE = 0.05


def _inputs_with(folder: str | os.PathLike, column: str) -> pd.DataFrame | None:
    """The experiment's ``inputs.csv`` in ``folder`` where it has ``column``; None where there
    is no such table, or it predates the column."""
    path = Path(folder) / "inputs.csv"
    if not path.is_file():
        return None
    t = pd.read_csv(path)
    return t if column in t else None


def off_centre_note(folder: str | os.PathLike) -> str:
    """What is said of the inputs whose central case (the dataset's figure) lies at an end of
    the distribution they are drawn from (``inputs.csv``'s ``central_quantile`` within
    :data:`OFF_CENTRE` of 0 or 1): the central run is then no middle of the draws, and its
    figures can sit at an end of their bands (Samur's rail border at 11 Mt/yr, drawn from 7-11:
    a project's users' benefit of 16.5 M USD/yr at the band's 16th percentile). ``karvan
    explore`` prints it and the experiment's page shows it. Empty where none is, or the
    experiment in ``folder`` predates the column."""
    t = _inputs_with(folder, "central_quantile")
    if t is None:
        return ""
    q = pd.to_numeric(t["central_quantile"], errors="coerce")
    off = t[(q <= OFF_CENTRE) | (q >= 1 - OFF_CENTRE)]
    if not len(off):
        return ""
    parts = [f"{r.input} at the {'top' if r.central_quantile >= 0.5 else 'bottom'} of "
             f"{r.distribution}" for r in off.itertuples(index=False)]
    return (f"the central case takes {len(off)} input{'s' if len(off) > 1 else ''} at an end of "
            f"the range drawn ({'; '.join(parts)}), so it is not the middle of the draws: its "
            "figures can lie near an end of their bands (bands.csv, central_percentile: the "
            "column at of karvan explore; inputs.csv, central_quantile).")


#: the sensitivity group of the inputs that draw jointly (``karvan.explore.inputs.JOINT_GROUP``,
#: named like ``inputs.csv``'s column; the report layer does not import the explore layer)
JOINT_GROUP = "drawn_jointly"


def joint_note(folder: str | os.PathLike) -> str:
    """What is said of the inputs that draw jointly (``inputs.csv``'s ``drawn_jointly``: the
    fitted choice parameters, with the correlations of their fit): how many, and how a
    sensitivity index reads for them. ``karvan explore`` prints it and the experiment's page
    shows it. Empty where none does, or the experiment in ``folder`` predates the column."""
    t = _inputs_with(folder, "drawn_jointly")
    if t is None:
        return ""
    joint = t[t["drawn_jointly"].astype(str).str.lower() == "true"]
    if not len(joint):
        return ""
    n = joint["factor"].nunique()
    path = Path(folder) / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if m.get("sampler", "lhs") == "lhs":
        index = "a rank correlation of one of them includes what it shares with the others"
    elif JOINT_GROUP in (m.get("design_group_of") or ()) and m["sampler"] == "sobol":
        index = (f"their Sobol indices are one pair, of the group {JOINT_GROUP}: all of them "
                 "together, whatever their order")
    elif JOINT_GROUP in (m.get("design_group_of") or ()):
        index = (f"their {m['sampler'].title()} index is one, of the group {JOINT_GROUP}: a "
                 "screening of all of them together, whose value depends on the fit's order")
    else:  # an experiment stored before the group (each factor's design dimension)
        index = (f"a {m['sampler'].title()} index of one of them is of the part of its draw "
                 "beyond those before it in the fit's order")
    return (f"{n} factors draw jointly, with the correlations of the choice parameters' fit "
            "(choice_parameter_correlation.csv; inputs.csv, drawn_jointly): their bands hold "
            f"what the fit says of them together; {index} (docs/model.md, Uncertainty).")


def _fan(fan: pd.DataFrame) -> str:
    out = []
    for output, sub in fan.groupby("output", sort=False):
        vals = sub[["p5", "p95", "central"]].to_numpy(dtype=float)
        vals = vals[pd.notna(vals)]
        if not len(vals):
            continue
        vmin, vmax = min(vals.min(), 0.0), max(vals.max(), 0.0)
        rows = "".join(
            f"<tr><td>{_e(r.scenario)} - {_e(r.reference)}</td>"
            f"<td>{_band_svg(r.p5, r.p25, r.p50, r.p75, r.p95, r.central, vmin, vmax, 420)}"
            f'</td><td class="n">{_fmt(output, r.p5)} / {_fmt(output, r.p50)} / '
            f"{_fmt(output, r.p95)}</td></tr>" for r in sub.itertuples(index=False))
        out.append(f"<h3>{_e(output)} ({_e(unit_of(output))}; P5 / P50 / P95)</h3>"
                   f"<table>{rows}</table>")
    return "".join(out)


def _tornado(tor: pd.DataFrame, st: pd.DataFrame) -> str:
    text = dict(zip(st["statement_id"], st["text"], strict=True)) if len(st) else {}
    out = []
    for sid, sub in tor.groupby("statement_id", sort=False):
        vmax = max(float(sub["importance"].abs().max()), 1e-12)
        bars = []
        for i, r in enumerate(sub.itertuples(index=False)):
            w = 300 * abs(r.importance) / vmax
            colour = "#2171b5" if r.significant else "#bdbdbd"
            bars.append(f'<rect x="0" y="{i * 18 + 2}" width="{w:.1f}" height="14" '
                        f'fill="{colour}"/><text x="{w + 4:.1f}" y="{i * 18 + 13}">'
                        f"{r.importance:.2f} {_e(r.factor)}</text>")
        h = 18 * len(sub) + 4
        out.append(f"<h3>{_e(text.get(sid, sid))}</h3><svg width='1000' height='{h}' "
                   f"role='img'>{''.join(bars)}</svg>")
    return "".join(out)


def render_experiment_page(folder: str | os.PathLike) -> str:
    """The HTML of an experiment's page.

    Raises
    ------
    InputError
        The folder holds no complete experiment.
    """
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.is_file() or not (folder / "bands.csv").is_file():
        raise InputError(f"{folder} holds no complete experiment (manifest.json and bands.csv); "
                         "run `karvan explore` to completion first.")
    m = json.loads(mpath.read_text(encoding="utf-8"))
    b = pd.read_csv(folder / "bands.csv")
    st = pd.read_csv(folder / "statements.csv") if (folder / "statements.csv").stat().st_size \
        > 1 else pd.DataFrame()
    fan = pd.read_csv(folder / "fan_chart.csv")
    tor = pd.read_csv(folder / "tornado.csv")
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>karvan explore "
             f"{_e(m.get('experiment_id', folder.name))}</title><style>{_CSS}</style><body>",
             f"<h1>Uncertainty of the corridor answers</h1><p class='note'>Scenarios "
             f"{_e(', '.join(m.get('scenarios', [])))}; {_e(m.get('n_draws'))} draws "
             f"({_e(m.get('sampler'))}, seed {_e(m.get('seed'))}) of "
             f"{_e(len(m.get('inputs', [])))} uncertain inputs in "
             f"{_e(len(m.get('factors', [])))} factors. Bands: P5-P95 light, P25-P75 dark, "
             "median a bar, the central case (the dataset's figures) a dot.</p>"
             + (f"<p class='note'>{_e(outside_note(b))}</p>" if outside_note(b) else "")]
    off = off_centre_note(folder)
    if off:  # printed by karvan explore; the page (and the dashboard's) said nothing of it
        parts.append(f"<p class='note off-centre'>{_e(off[:1].upper() + off[1:])}</p>")
    joint = joint_note(folder)
    if joint:
        parts.append(f"<p class='note joint'>{_e(joint[:1].upper() + joint[1:])}</p>")
    if len(st):
        rows = "".join(
            f"<tr><td>{_e(r.scenario)}</td><td>{_e(r.text)}</td>"
            f"<td class='n'>{r.probability:.2f}</td>"
            f"<td>{_holds(r.central_holds)}</td>"
            f"<td>{_e(r.deciding_inputs) if isinstance(r.deciding_inputs, str) else ''}</td>"
            "</tr>" for r in st.itertuples(index=False))
        parts.append("<h2>Statements</h2><p class='note'>P: the share of draws in which the "
                     "statement holds; deciding inputs: the three most influential inputs "
                     "whose index is distinguishable from 0.</p><table><tr><th>scenario</th>"
                     "<th>statement</th><th>P</th><th>central</th><th>deciding inputs</th></tr>"
                     f"{rows}</table>")
    if len(fan):
        parts.append("<h2>Effects against the like-year reference</h2><p class='note'>Each bar: "
                     "P5–P95 light, P25–P75 dark, the median a line, the central case a dot, 0 "
                     "dashed; the effect is the scenario less its reference, draw by draw.</p>"
                     + _fan(fan))
    lev = b[b["kind"] == "level"]
    for prefix, title in HEADLINE:
        sub = lev[lev["output"].str.startswith(prefix)]
        if prefix in ("country:",):
            sub = sub[sub["output"].str.contains("transit")]
        sub = sub[(sub[["p5", "p95", "central"]].abs().max(axis=1) > 0)]
        if len(sub):
            parts.append(f"<h2>{_e(title)}</h2>" + _bands_table(sub))
    if len(tor):
        parts.append("<h2>Inputs that decide each statement</h2><p class='note'>Sobol total "
                     "index, Morris mu* or squared rank correlation; grey: not distinguishable "
                     "from 0.</p>" + _tornado(tor, st))
    parts.append("</body></html>")
    return "".join(parts)


def write_experiment_page(folder: str | os.PathLike, out: str | os.PathLike | None = None
                          ) -> Path:
    """Write the page of an experiment (default ``<folder>/report.html``) atomically.

    Raises
    ------
    InputError
        The folder holds no complete experiment.
    """
    page = render_experiment_page(folder)
    path = Path(out) if out is not None else Path(folder) / "report.html"
    atomic_write_text(path, page)
    return path
