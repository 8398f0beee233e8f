"""Inline SVG for the report: flow maps, difference maps and bar charts.

Every function returns SVG markup as a string; hover details ride on ``data-t`` attributes
(lines separated by newlines) that the page's script shows in a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from karvan.io.colours import NO_CAPACITY, UTILIZATION_SCALE, utilization_colour
from karvan.io.outlines import ISO3_TO_2
from karvan.report import geo
from karvan.report.i18n import country_name, fmt_num, fmt_pct, label, mode_name

#: utilization classes: (upper bound, colour, legend text), shared with the QGIS styles
UTIL_BINS = UTILIZATION_SCALE
NO_CAP = NO_CAPACITY
NO_FLOW = "#a3adb8"
MORE, LESS = "#2166ac", "#c2302b"
TRANSFER_MODES = ("transfer",)
#: modes drawn dashed: sea and ferry legs (shown so in the legend)
SEA_MODES = ("sea", "ferry")
W_MIN, W_MAX = 1.2, 22.0


def util_colour(u: float | None) -> str:
    """Colour of a utilization (tonnes / capacity); grey when there is no capacity."""
    return utilization_colour(None if u is None else float(u))


def band_width(t: float, t_max: float) -> float:
    """Stroke width of ``t`` tonnes when ``t_max`` is drawn W_MAX wide (linear)."""
    if t_max <= 0 or not np.isfinite(t) or t <= 0:
        return 0.0
    return W_MIN + (W_MAX - W_MIN) * min(t, t_max) / t_max


def _attr(s: str) -> str:
    return escape(s, quote=True).replace("\n", "&#10;")


def _mt(t: float, lang: str) -> str:
    return fmt_num(t / 1e6, lang, 2)


def countries_defs(outlines: list[dict], lang: str, *, highlight: set[str]) -> str:
    """A hidden SVG holding the country outlines as ``<g id="k-countries">`` for ``<use>``."""
    paths = []
    for c in outlines:
        iso2 = geo_iso2(c["iso3"])
        cls = "cty hl" if iso2 in highlight else "cty"
        paths.append(f'<path class="{cls}" data-iso3="{escape(c["iso3"])}" d="{c["d"]}"/>')
    labels_: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    for c in sorted(outlines, key=lambda c: -c["area"]):
        iso2 = geo_iso2(c["iso3"])
        if iso2 is None or c["area"] < 2.0:
            continue
        x, y = c["label_xy"]
        hw = 4.2 * len(country_name(iso2, lang))  # about half the width at 14px
        b = (x - hw, y - 12, x + hw, y + 4)
        if any(b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3] for o in boxes):
            continue  # would overlap a larger country's label
        boxes.append(b)
        labels_.append(f'<text class="clabel" x="{x:.0f}" y="{y:.0f}">'
                       f'{escape(country_name(iso2, lang))}</text>')
    return ('<svg class="defs" width="0" height="0" aria-hidden="true"><defs>'
            '<g id="k-countries">' + "".join(paths) + "".join(labels_) + "</g></defs></svg>")


def geo_iso2(iso3: str) -> str | None:
    """The two-letter code of a three-letter country code, if known."""
    return ISO3_TO_2.get(iso3)


def _map_open(proj: geo.Projection, cls: str, aria: str) -> str:
    w, h = proj.width, proj.height
    return (f'<svg class="map {cls}" viewBox="0 0 {w:.0f} {h:.0f}" data-vb="0 0 {w:.0f} {h:.0f}"'
            f' role="img" aria-label="{_attr(aria)}" preserveAspectRatio="xMidYMid meet">'
            f'<rect class="sea" x="-2000" y="-2000" width="{w + 4000:.0f}" '
            f'height="{h + 4000:.0f}"/><use href="#k-countries"/>')


def flow_map(links: pd.DataFrame, lines: dict[str, np.ndarray], proj: geo.Projection,
             lang: str, *, t_max: float | None = None) -> str:
    """The flow map of one run: bands by tonnes, colour by utilization, borders and
    transfers as symbols."""
    L = links.set_index("link_id", drop=False)
    t_max = float(t_max if t_max is not None else L["tonnes_tot"].max() or 0.0)
    tons = L["tonnes_tot"].fillna(0.0)
    bands, zero, syms = [], [], []
    order = tons.sort_values(ascending=False, kind="stable").index
    rows = _rows(L)
    tons_of = dict(zip(tons.index, tons.to_numpy(), strict=True))
    for lid in order:
        if lid not in lines:
            continue
        r = rows[lid]
        t = float(tons_of[lid])
        tip = _attr(_link_tip(r, lang))
        coords = lines[lid]
        if r["mode"] in TRANSFER_MODES or r["mode"] == "border":
            x, y = geo.midpoint(coords, proj)
            col = util_colour(r.get("utilization", np.nan))
            if r["mode"] == "border":
                s = 4.0 + 5.0 * math.sqrt(max(t, 0) / t_max) if t_max > 0 else 4.0
                d = (f"M{x:.1f} {y - s:.1f}L{x + s:.1f} {y:.1f}L{x:.1f} {y + s:.1f}"
                     f"L{x - s:.1f} {y:.1f}Z")
                syms.append(f'<path class="sym border" d="{d}" fill="{col}" data-t="{tip}"/>')
            else:
                rad = 2.5 + 4.0 * math.sqrt(max(t, 0) / t_max) if t_max > 0 else 2.5
                syms.append(f'<circle class="sym transfer" cx="{x:.1f}" cy="{y:.1f}" '
                            f'r="{rad:.1f}" fill="{col}" data-t="{tip}"/>')
            if r["mode"] == "transfer":
                continue
        d = geo.line_path(coords, proj)
        w = band_width(t, t_max)
        if w <= 0:
            zero.append(f'<path class="lk zero" d="{d}" data-id="{_attr(lid)}" data-t="{tip}"/>')
        else:
            col = util_colour(r.get("utilization", np.nan))
            dash = ' stroke-dasharray="6 4"' if r["mode"] in SEA_MODES else ""
            bands.append(f'<path class="lk" d="{d}" stroke="{col}" stroke-width="{w:.1f}"{dash} '
                         f'data-id="{_attr(lid)}" data-tonnes="{t:.0f}" data-t="{tip}"/>')
    return (_map_open(proj, "flows", label("map", lang)) + '<g class="links">'
            + "".join(zero) + "".join(bands) + '</g><g class="syms">' + "".join(syms)
            + "</g></svg>")


def diff_map(diff: pd.DataFrame, lines: dict[str, np.ndarray], proj: geo.Projection,
             lang: str) -> str:
    """Links coloured by the change in tonnes (blue more, red less), width by its size."""
    d_ = diff.set_index("link_id", drop=False)
    ch = d_["tonnes_tot_diff"].fillna(0.0)
    c_max = float(ch.abs().max() or 0.0)
    ctx, bands = [], []
    rows = _rows(d_)
    ch_of = dict(zip(ch.index, ch.to_numpy(), strict=True))
    for lid in ch.abs().sort_values(ascending=False, kind="stable").index:
        if lid not in lines:
            continue
        r = rows[lid]
        if r.get("mode") == "transfer":
            continue
        path = geo.line_path(lines[lid], proj)
        c = float(ch_of[lid])
        tip = _attr("\n".join([
            str(r.get("name", lid)),
            f"A: {fmt_num(r['tonnes_tot_a'], lang)} {label('tonnes_yr', lang)}",
            f"B: {fmt_num(r['tonnes_tot_b'], lang)} {label('tonnes_yr', lang)}",
            f"{label('change', lang)}: {fmt_num(c, lang, signed=True)} "
            f"{label('tonnes_yr', lang)}"]))
        w = band_width(abs(c), c_max)
        if w < W_MIN + 0.05 or abs(c) < 0.5:
            ctx.append(f'<path class="lk zero" d="{path}" data-id="{_attr(lid)}" data-t="{tip}"/>')
            continue
        col = MORE if c > 0 else LESS
        bands.append(f'<path class="lk {"up" if c > 0 else "down"}" d="{path}" stroke="{col}" '
                     f'stroke-width="{w:.1f}" data-id="{_attr(lid)}" data-change="{c:.0f}" '
                     f'data-t="{tip}"/>')
    return (_map_open(proj, "diff", label("diff_map", lang)) + '<g class="links">'
            + "".join(ctx) + "".join(bands) + "</g></svg>")


def _rows(frame: pd.DataFrame) -> dict:
    """Each row of ``frame`` (unique index) as a dict column -> value, read once (a row looked
    up with ``.loc`` one at a time costs a hundred times more)."""
    cols = list(frame.columns)
    values = [frame[c].to_numpy(dtype=object) for c in cols]
    return {k: dict(zip(cols, vals, strict=True))
            for k, *vals in zip(frame.index, *values, strict=True)}


def is_set(v) -> bool:
    """A table's true/false cell: blank (NaN, None) is false."""
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and bool(v)


def _link_tip(r: Mapping[str, Any], lang: str) -> str:
    yr = label("tonnes_yr", lang)
    lines = [str(r.get("name") or r["link_id"]),
             f"{mode_name(str(r['mode']), lang)} · {country_name(str(r.get('country')), lang)}"
             f" · {r['link_id']}",
             f"{label('tonnes', lang)}: {fmt_num(r.get('tonnes_tot'), lang)} {yr} "
             f"({label('ab', lang)} {fmt_num(r.get('tonnes_ab'), lang)}, "
             f"{label('ba', lang)} {fmt_num(r.get('tonnes_ba'), lang)})"]
    cap = r.get("capacity_tpy")
    if cap is not None and np.isfinite(cap) and cap > 0:
        lines.append(f"{label('capacity', lang)}: {fmt_num(cap / 1e6, lang, 2)}")
    lines.append(f"{label('utilization', lang)}: {fmt_pct(r.get('utilization'), lang)}"
                 + (f" · {label('lp_utilization', lang)}: "
                    f"{fmt_pct(r.get('lp_utilization'), lang)}"
                    if np.isfinite(r.get("lp_utilization", np.nan)) else ""))
    lines.append(f"{label('shadow_price', lang)}: "
                 f"{fmt_num(r.get('shadow_price_usd_per_t'), lang, 2)}"
                 + (" *" if is_set(r.get("shadow_price_capped")) else ""))
    choice = r.get("choice_shadow_price_usd_per_t")
    if choice is not None and np.isfinite(choice):
        lines.append(f"{label('shadow_price_choice', lang)}: {fmt_num(choice, lang, 2)}")
    return "\n".join(lines)


def width_legend(t_max: float, lang: str, *, rtl: bool = False) -> str:
    """Sample bands for the legend: a few round tonnages up to ``t_max``."""
    if t_max <= 0:
        return ""
    steps = [s for s in (1e6, 5e6, 10e6, 20e6, 50e6, 100e6) if s <= t_max][-3:] or [t_max]
    W = 200
    rows = []
    for i, s in enumerate(steps):
        w = band_width(s, t_max)
        y = 14 + i * 26
        x1, x2, tx = (W - 60, W - 4, W - 70) if rtl else (4, 60, 70)
        rows.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{NO_CAP}" '
                    f'stroke-width="{w:.1f}"/><text x="{tx}" y="{y + 4}" class="lg" '
                    f'direction="{"rtl" if rtl else "ltr"}">'
                    f'{fmt_num(s / 1e6, lang, 0 if s >= 1e6 else 2)} '
                    f'{escape(label("mt_yr", lang))}</text>')
    return (f'<svg class="wleg" width="{W}" height="{len(steps) * 26 + 8}" '
            f'aria-hidden="true">' + "".join(rows) + "</svg>")


def bar_chart(rows: Sequence[tuple[str, float, str]], *, lang: str, rtl: bool,
              fmt: Callable[[float], str], colour: str | Sequence[str] = "#3b6ea8",
              ref: float | None = None, width: float = 560.0, label_w: float = 190.0,
              aria: str = "") -> str:
    """A horizontal bar chart; ``rows`` are (label, value, tooltip). Negative values grow the
    other way from a zero line. Mirrored for right-to-left pages."""
    if not rows:
        return ""
    vals = np.array([v for _, v, _ in rows], float)
    vals = np.where(np.isfinite(vals), vals, 0.0)
    lo = min(0.0, float(vals.min()), ref or 0.0)
    hi = max(0.0, float(vals.max()), ref or 0.0)
    if hi == lo:
        hi = lo + 1.0
    x0, x1 = label_w, width - 70.0
    if lo < 0:
        x1 = width - 60.0
        x0 = label_w + 50.0
    bar_h, gap, top = 16.0, 7.0, 6.0
    height = top + len(rows) * (bar_h + gap) + 6

    def sx(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    def mx(x: float) -> float:  # mirror for RTL
        return width - x if rtl else x

    def anchor(a: str) -> str:  # anchors of left-to-right text after mirroring
        return {"start": "end", "end": "start"}.get(a, a) if rtl else a

    cols = [colour] * len(rows) if isinstance(colour, str) else list(colour)
    out = [f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
           f'height="{height:.0f}" role="img" aria-label="{_attr(aria)}">']
    zx = sx(0.0)
    for i, ((lab, _v, tip), v) in enumerate(zip(rows, vals, strict=True)):
        y = top + i * (bar_h + gap)
        a, b = sorted((zx, sx(v)))
        xa, xb = sorted((mx(a), mx(b)))
        out.append(f'<rect class="bar" x="{xa:.1f}" y="{y:.1f}" width="{max(xb - xa, 0.5):.1f}" '
                   f'height="{bar_h:.0f}" fill="{cols[i]}" data-v="{v!r}" '
                   f'data-t="{_attr(tip)}"/>')
        # label: in the page's direction, its end against the plot
        lx = mx(label_w - 8)
        out.append(f'<text class="blab" x="{lx:.1f}" y="{y + bar_h - 4:.1f}" '
                   f'text-anchor="end" direction="{"rtl" if rtl else "ltr"}">'
                   f'{escape(lab)}</text>')
        vx, an = (sx(v) + 4, "start") if v >= 0 else (sx(v) - 4, "end")
        out.append(f'<text class="bval" x="{mx(vx):.1f}" y="{y + bar_h - 4:.1f}" '
                   f'text-anchor="{anchor(an)}" direction="ltr">{escape(fmt(v))}</text>')
    zxm = mx(zx)
    out.append(f'<line class="axis" x1="{zxm:.1f}" y1="{top - 3}" x2="{zxm:.1f}" '
               f'y2="{height - 3:.1f}"/>')
    if ref is not None:
        rx = mx(sx(ref))
        out.append(f'<line class="ref" x1="{rx:.1f}" y1="{top - 3}" x2="{rx:.1f}" '
                   f'y2="{height - 3:.1f}"/>')
    out.append("</svg>")
    return "".join(out)
