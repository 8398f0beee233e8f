"""The report's calibration section: every reported volume against the run of its year, on log
axes with the ±30 % band, fit and validation rows marked, each row's scope, source and largest
parts on hover; the statistics per set below. Reads the run's ``calibration``,
``calibration_summary`` and ``calibration_cells`` tables (:mod:`karvan.calibrate`); computes
nothing but positions and the sums of the parts by country pair and commodity."""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pandas as pd
from markupsafe import Markup

from karvan.io.run_folder import NO_TARGET, target_met
from karvan.report.i18n import fmt_num, fmt_pct, label
from karvan.report.page import num, pct, table, text

#: marker colour of each set; validation rows are also drawn as squares
SET_COLOUR = {"fit": "#2166ac", "fit_by_construction": "#8a96a3", "validate": "#d9730d",
              "check": "#7b3294"}
SET_LABEL = {"fit": "cal_fit", "fit_by_construction": "cal_built", "validate": "cal_validate",
             "check": "cal_check"}
BAND = 0.3
#: parts of a row shown on hover (its largest country pairs and commodities)
N_PARTS = 3


def _attr(s: str) -> str:
    return escape(s, quote=True).replace("\n", "&#10;")


def largest_parts(cells: pd.DataFrame | None, lang: str, n: int = N_PARTS) -> dict[str, list]:
    """The ``n`` largest parts of every row of ``calibration_cells``, summed by origin and
    destination country and commodity: ``observed_id -> ["TM→GE fertilisers_chemicals 0.251
    Mt (10 %)", ...]`` (empty where the run has no such table)."""
    if cells is None or cells.empty:
        return {}
    g = (cells.groupby(["observed_id", "origin_country", "destination_country",
                        "commodity_id"], sort=False)[["modelled_tonnes", "share_of_modelled"]]
         .sum().reset_index()
         .sort_values(["observed_id", "modelled_tonnes"], ascending=[True, False]))
    out: dict[str, list] = {}
    for oid, part in g.groupby("observed_id", sort=False):
        out[str(oid)] = [
            f"{x.origin_country}→{x.destination_country} {x.commodity_id} "
            f"{fmt_num(x.modelled_tonnes / 1e6, lang, 3)} {label('mt', lang)} "
            f"({fmt_pct(x.share_of_modelled, lang)})"
            for x in part.head(n).itertuples(index=False)]
    return out


def scatter_svg(cal: pd.DataFrame, lang: str, *, size: float = 460.0,
                parts: dict[str, list] | None = None) -> str:
    """Modelled (vertical) against observed (horizontal) tonnes of the compared rows, both on
    log axes in Mt/yr, with the diagonal, the ±30 % band and the factor-2 lines. A row modelled
    at zero sits on the bottom edge, drawn hollow. ``parts`` (:func:`largest_parts`) adds each
    row's largest parts to its hover text."""
    c = cal[cal["compared"].astype(bool)]
    if c.empty:
        return ""
    obs = c["observed_tonnes"].to_numpy(float) / 1e6
    mod = c["modelled_tonnes"].to_numpy(float) / 1e6
    pos = np.concatenate([obs[obs > 0], mod[mod > 0]])
    lo = 10 ** math.floor(math.log10(max(pos.min() / 2.5, 1e-4)))
    hi = 10 ** math.ceil(math.log10(pos.max() * 2.5))
    m, w = 52.0, size
    span = math.log10(hi) - math.log10(lo)

    def sx(v: float) -> float:
        return m + (math.log10(max(v, lo)) - math.log10(lo)) / span * (w - m - 12)

    def sy(v: float) -> float:
        return w - m - (math.log10(max(v, lo)) - math.log10(lo)) / span * (w - m - 12)

    out = [f'<svg class="chart cal" viewBox="0 0 {w:.0f} {w:.0f}" width="{w:.0f}" '
           f'height="{w:.0f}" role="img" aria-label="{_attr(label("cal_chart", lang))}">']
    # the +-30 % band and the factor-2 lines, clipped to the plot
    band = [(lo, lo * (1 - BAND)), (hi, hi * (1 - BAND)), (hi, hi * (1 + BAND)),
            (lo, lo * (1 + BAND))]
    pts = " ".join(f"{sx(a):.1f},{sy(min(max(b, lo), hi)):.1f}" for a, b in band)
    out.append(f'<polygon class="band" points="{pts}" fill="#2e7d32" fill-opacity="0.12"/>')
    for f, cls in ((1.0, "diag"), (2.0, "f2"), (0.5, "f2")):
        x0, x1 = (lo, hi / f) if f > 1 else (lo / f, hi)
        dash = "" if f == 1 else ' stroke-dasharray="4 3"'
        out.append(f'<line class="{cls}" x1="{sx(x0):.1f}" y1="{sy(x0 * f):.1f}" '
                   f'x2="{sx(x1):.1f}" y2="{sy(x1 * f):.1f}" stroke="#52606d" '
                   f'stroke-width="{1.2 if f == 1 else 0.8}"{dash}/>')
    # axes with decade ticks
    out.append(f'<line class="axis" x1="{m}" y1="{w - m}" x2="{w - 12}" y2="{w - m}"/>'
               f'<line class="axis" x1="{m}" y1="{w - m}" x2="{m}" y2="12"/>')
    d = lo
    while d <= hi * 1.0001:
        t = fmt_num(d, lang, max(0, -int(math.floor(math.log10(d)))))
        out.append(f'<text class="tick" x="{sx(d):.1f}" y="{w - m + 14:.1f}" '
                   f'text-anchor="middle" direction="ltr">{escape(t)}</text>')
        if d > lo * 1.0001:  # the corner carries the horizontal axis' label only
            out.append(f'<text class="tick" x="{m - 4:.1f}" y="{sy(d) + 4:.1f}" '
                       f'text-anchor="end" direction="ltr">{escape(t)}</text>')
        d *= 10
    out.append(f'<text class="axlab" x="{(m + w) / 2:.1f}" y="{w - 12:.1f}" '
               f'text-anchor="middle">{escape(label("cal_observed", lang))}</text>'
               f'<text class="axlab" x="14" y="{(w - m) / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {(w - m) / 2:.1f})">'
               f'{escape(label("cal_modelled", lang))}</text>')
    for r, o, mo in zip(c.itertuples(index=False), obs, mod, strict=True):
        s = str(getattr(r, "set", "fit"))
        col = SET_COLOUR.get(s, "#52606d")
        ratio = mo / o if o > 0 else float("nan")
        tip = "\n".join([
            str(r.observed_id), f"{label(SET_LABEL.get(s, 'cal_fit'), lang)} ({r.year}, "
            f"{r.run})",
            f"{label('cal_scope', lang)}: {r.scope}",
            f"{label('cal_source', lang)}: {str(r.source).replace(';', '; ')}",
            f"{label('cal_observed', lang)}: {fmt_num(o, lang, 3)}",
            f"{label('cal_modelled', lang)}: {fmt_num(mo, lang, 3)}",
            f"M/C: {fmt_num(ratio, lang, 2)}"]
            + ([f"{label('cal_parts', lang)}:"] + [f"  {p}" for p in parts[r.observed_id]]
               if parts and parts.get(r.observed_id) else []))
        x, y = sx(o), sy(mo)
        fill = "none" if mo <= 0 else col
        if s == "validate":
            out.append(f'<rect class="pt" x="{x - 4.5:.1f}" y="{y - 4.5:.1f}" width="9" '
                       f'height="9" fill="{fill}" stroke="{col}" stroke-width="1.5" '
                       f'data-t="{_attr(tip)}"/>')
        else:
            out.append(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{fill}" '
                       f'stroke="{col}" stroke-width="1.5" data-t="{_attr(tip)}"/>')
    out.append("</svg>")
    return "".join(out)


def calibration_section(cal: pd.DataFrame, summary: pd.DataFrame | None, lang: str,
                        cells: pd.DataFrame | None = None, *, what_if: bool = False):
    """The section (id, heading, note, body) of a run's calibration, or ``None`` when no row
    was compared (a run of a year without reported volumes); ``cells`` (the run's
    ``calibration_cells``, absent from runs made before it existed) gives each row's largest
    parts, on hover and in the table of rows; ``what_if``: the run is a scenario of a counted
    year but not its reference (not what happened), and the note says its rows check nothing."""
    if cal is None or not cal["compared"].astype(bool).any():
        return None
    parts = largest_parts(cells, lang)
    rows = []
    if summary is not None:
        for x in summary.itertuples(index=False):
            if x.compared == 0:
                continue
            met = "-" if x.set in NO_TARGET else label(
                "yes" if target_met(x.target_met) else "no", lang)
            rows.append([text(label(SET_LABEL.get(x.set, "cal_fit"), lang)),
                         num(x.compared, lang), num(x.within_30pct, lang),
                         num(x.beyond_factor_2, lang), num(x.median_abs_log_ratio, lang, 2),
                         pct(x.geh_below_5_share, lang), text(met)])
    head = [label(k, lang) for k in ("cal_set", "cal_compared", "cal_within", "cal_beyond",
                                     "cal_median", "cal_geh", "cal_target")]
    keys = [("fit", "cal_fit"), ("fit_by_construction", "cal_built"),
            ("validate", "cal_validate")]
    if "set" in cal and (cal["set"].astype(str) == "check").any():
        keys.append(("check", "cal_check"))
    legend = "".join(
        '<li><svg width="14" height="14" aria-hidden="true">'
        + (f'<rect x="2" y="2" width="10" height="10" fill="{SET_COLOUR[k]}"/>' if k == "validate"
           else f'<circle cx="7" cy="7" r="5" fill="{SET_COLOUR[k]}"/>')
        + f"</svg>{escape(label(lab, lang))}</li>" for k, lab in keys)
    c = cal.sort_values(["set", "observed_id"], kind="stable")
    detail = [[text(x.observed_id), text(label(SET_LABEL.get(x.set, "cal_fit"), lang)),
               text(str(x.year)), text(x.scope), num(x.observed_tonnes, lang, 3, scale=1e6),
               num(x.modelled_tonnes, lang, 3, scale=1e6), num(x.ratio, lang, 2),
               text(x.source)] + ([text((parts.get(x.observed_id) or [""])[0])] if parts
                                   else [])
              for x in c.itertuples(index=False)]
    dhead = [label(k, lang) for k in ("cal_row", "cal_set", "year", "cal_scope",
                                      "cal_observed", "cal_modelled", "cal_ratio",
                                      "cal_source")] + ([label("cal_largest", lang)] if parts
                                                        else [])
    body = (Markup('<div class="two"><figure>') + Markup(scatter_svg(cal, lang, parts=parts))
            + Markup(f'<figcaption><ul class="keys">{legend}</ul>'
                     f'{escape(label("cal_chart_note", lang))}</figcaption></figure>')
            + table(head, rows, cls="calibration-summary") + Markup("</div>")
            + Markup(f"<details><summary>{escape(label('cal_rows', lang))}</summary>")
            + table(dhead, detail, cls="calibration") + Markup("</details>"))
    note = label("calibration_note", lang)
    if what_if:
        note = label("calibration_what_if", lang) + " " + note
    return ("calibration", label("calibration", lang), note, body)


