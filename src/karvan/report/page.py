"""Assemble the self-contained HTML page: one file, inline CSS, JS and SVG, no requests.

The page template, its style and its script are package files (``report/templates/``); the
style and script are inlined into the page, so that the report works offline as one file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from karvan._version import __version__
from karvan.report import svg
from karvan.report.i18n import RTL, country_name, fmt_num, fmt_pct, labels, mode_name

Cell = tuple[str, float | None]  # (text, raw value for numbers or None for text)


@dataclass(frozen=True, slots=True)
class Panel:
    """What the page shows for one run."""

    name: str
    title: str
    year: object
    description: str
    kpis: list[tuple[str, Markup]]
    flow_map: Markup
    width_legend: Markup
    tables: list[tuple[str, str, Markup, Markup]]  # (id, heading, note, body)
    diff_ref: str | None = None
    diff_map: Markup | None = None
    diff_tables: list[tuple[str, str, Markup, Markup]] | None = None


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, cls: str = "") -> Markup:
    """An HTML table; numeric cells carry their raw value in ``data-v`` and keep left-to-right
    digits inside right-to-left pages."""
    h = "".join(f"<th>{escape(x)}</th>" for x in headers)
    body = []
    for r in rows:
        tds = []
        for text, raw in r:
            if raw is None:
                tds.append(f"<td>{escape(text)}</td>")
            else:
                v = "" if not np.isfinite(raw) else repr(float(raw))
                tds.append(f'<td class="num" data-v="{v}"><span dir="ltr">{escape(text)}'
                           "</span></td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return Markup(f'<div class="tw"><table class="{cls}"><thead><tr>{h}</tr></thead><tbody>'
                  + "".join(body) + "</tbody></table></div>")


def num(x, lang: str, digits: int = 0, *, scale: float = 1.0, signed: bool = False) -> Cell:
    """A number cell: ``x / scale`` formatted for ``lang``, with the raw value."""
    v = float(x) if x is not None and pd.notna(x) else np.nan
    return fmt_num(v / scale if np.isfinite(v) else v, lang, digits, signed=signed), v


def pct(x, lang: str) -> Cell:
    """A percentage cell (``x`` a fraction), with the raw value."""
    v = float(x) if x is not None and pd.notna(x) else np.nan
    return fmt_pct(v, lang), v


def text(x) -> Cell:
    """A text cell; missing values are empty."""
    return ("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)), None


def notice_text() -> str:
    """The notice shipped beside the country outlines."""
    return (resources.files("karvan") / "data" / "region" / "NOTICE.md").read_text(
        encoding="utf-8")


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("karvan.report", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
#: the page template, style and script (package files; the style and script are inlined)
TEMPLATES = resources.files("karvan.report") / "templates"


def render_page(panels: list[Panel], *, lang: str, countries_svg: str, open_index: int = 0,
                util_bins: Sequence[tuple[str, str]], caucasus: str,
                run_ids: Sequence[str] = ()) -> str:
    """The whole page as a string; ``run_ids`` (the runs it shows) go into its
    ``<meta name="karvan-runs">``, where ``karvan runs rm`` looks for a run it removes."""
    L = labels(lang)
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    return _ENV.get_template("report.html").render(
        L=L, lang=lang, dir="rtl" if lang in RTL else "ltr", panels=panels,
        countries_svg=Markup(countries_svg), open_index=open_index, util_bins=util_bins,
        caucasus=caucasus,
        no_cap=svg.NO_CAP, no_flow=svg.NO_FLOW, more=svg.MORE, less=svg.LESS,
        notice=notice_text(), version=__version__, css=Markup(css), js=Markup(js),
        run_ids=" ".join(run_ids))


def mode_label(lang: str) -> Callable[[str], str]:
    """A function naming a mode in ``lang``."""
    return lambda m: mode_name(m, lang)


def country_label(lang: str) -> Callable[[str], str]:
    """A function naming a country code in ``lang``."""
    return lambda c: country_name(c, lang)
