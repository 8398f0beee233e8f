"""Build the report of one or several runs: read, shape, draw, write."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from karvan.errors import InputError
from karvan.freight.corridor import (
    CorridorData,
    CorridorWarning,
    builtin_corridor_folder,
    is_reference,
    load_corridor,
    separating_reference,
)
from karvan.io.atomic import atomic_write_text
from karvan.report import geo, svg
from karvan.report.calibration import calibration_section
from karvan.report.choice import choice_section
from karvan.report.i18n import (
    RTL,
    check_lang,
    counted,
    country_name,
    fmt_num,
    fmt_pct,
    fmt_sci,
    label,
    mode_name,
)
from karvan.report.page import Panel, num, pct, render_page, table, text
from karvan.report.results import (
    RunResults,
    dataset_folder,
    read_run,
    run_differences,
    shipper_table,
    transit_table,
)
from karvan.store import RunRecord, RunStore, largest_changes

log = logging.getLogger(__name__)

#: rows of the link difference table per column it ranks by (tonnes, utilization), and of the
#: users' benefit by countries
TOP_LINKS = 15
#: lon/lat box of the "Caucasus and Caspian" zoom button
CAUCASUS = (37.0, 35.0, 56.0, 47.5)


def write_report(runs: Sequence[str | os.PathLike | RunRecord], out: str | os.PathLike, *,
                 lang: str = "en", reference: int | None = 0, open_index: int | None = None,
                 dataset: str | os.PathLike | CorridorData | None = None,
                 store: RunStore | str | os.PathLike | None = None,
                 comparisons: Sequence[Any] | None = None) -> Path:
    """Write one self-contained HTML report of ``runs`` to ``out`` (atomically).

    One file for any number of runs: a selector at the top switches between them. With more
    than one run and ``reference`` set, every other run also shows a difference map and
    difference tables against ``runs[reference]`` (``B - A`` with A the reference).

    Parameters
    ----------
    runs
        Run folders written by ``karvan run`` (``manifest.json`` and Parquet tables), run
        records, or with ``store`` run ids, unique starts of them or scenario names (the latest
        run of each).
    out
        The HTML file to write.
    lang
        ``en``, ``ru`` or ``fa`` (Persian, laid out right to left).
    reference
        Index in ``runs`` of the run the others are compared with; ``None``: no differences.
    open_index
        The run shown first; default: the second of two compared runs, else the first.
    dataset
        Corridor dataset folder for the link geometry, or the dataset loaded (the one the runs
        were made from, as ``karvan run`` passes it); default: the one named in each run's
        manifest if it exists here, else the built-in one.
    store
        The run store to look run ids and scenario names up in.
    comparisons
        Per run, what it is compared with instead of ``reference``: ``None`` (no differences)
        or an object with ``reference`` (a scenario name among the runs), ``reference_year``,
        ``scenario_year``, ``like_year`` and ``want`` (the like-year reference's name), as
        :func:`karvan.scenario.reference.report_references` gives; the page says whether each
        comparison is with the reference of the same year.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        For an unknown language, no runs, or a run that cannot be found or read.
    """
    from karvan.io.atomic import check_own_file

    check_own_file(out, "html")  # before the work: notes.txt was replaced by the report
    html = render_report(runs, lang=lang, reference=reference, open_index=open_index,
                         dataset=dataset, store=store, comparisons=comparisons)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, html)
    out.chmod(0o644)  # a page to share, not a secret
    log.info("report of %d run(s) written to %s (%.0f kB)", len(runs), out, len(html) / 1e3)
    return out


def render_report(runs: Sequence[str | os.PathLike | RunRecord | RunResults], *,
                  lang: str = "en", reference: int | None = 0, open_index: int | None = None,
                  dataset: str | os.PathLike | CorridorData | None = None,
                  store: RunStore | str | os.PathLike | None = None,
                  comparisons: Sequence[Any] | None = None) -> str:
    """The report of ``runs`` as an HTML string; see :func:`write_report`.

    Raises
    ------
    InputError
        As :func:`write_report`.
    """
    check_lang(lang)
    if not runs:
        raise InputError("no run folders given; pass at least one folder written by "
                         "`karvan run`.")
    res = [r if isinstance(r, RunResults) else read_run(r, store=store) for r in runs]
    if reference is not None and not 0 <= reference < len(res):
        raise InputError(f"reference {reference} is not an index of the {len(res)} run(s).")
    data = _datasets(res, dataset)
    base_year = next(iter(data.values())).base_year if data else 2024
    refs = _comparisons(res, reference, comparisons, lang, base_year)
    compare = any(ix is not None for ix, _ in refs)
    if open_index is None:
        open_index = 1 if compare and len(res) == 2 and refs[1][0] == 0 else 0

    # one projection and one tonnage scale for every map, so that maps compare at a glance
    lines_by_run = []
    for r in res:
        d = data[id(r)]
        lines_by_run.append(geo.link_lines(d.links, d.nodes, r["links"]["link_id"]))
    all_xy = np.vstack([c for lines in lines_by_run for c in lines.values()])
    proj = geo.fit_projection(all_xy[:, 0], all_xy[:, 1])
    t_max = max(float(r["links"]["tonnes_tot"].max() or 0.0) for r in res)
    corridor = set().union(*(set(r["countries"]["country"].astype(str)) for r in res))
    countries_svg = svg.countries_defs(geo.outline_paths(proj), lang, highlight=corridor)

    panels = []
    for i, (r, lines) in enumerate(zip(res, lines_by_run, strict=True)):
        p = _panel(r, lines, proj, lang, t_max)
        ix, note = refs[i]
        if ix is not None:
            merged = {**lines_by_run[ix], **lines}
            p = _with_diff(p, res[ix], r, merged, proj, lang, note)
        panels.append(p)
    bins = [(col, txt) for _, col, txt in svg.UTIL_BINS]
    x, y = proj.xy([CAUCASUS[0], CAUCASUS[2]], [CAUCASUS[3], CAUCASUS[1]])
    caucasus = f"{x[0]:.0f} {y[0]:.0f} {x[1] - x[0]:.0f} {y[1] - y[0]:.0f}"
    return render_page(panels, lang=lang, countries_svg=countries_svg, open_index=open_index,
                       util_bins=bins, caucasus=caucasus,
                       run_ids=[str(r.record.run_id) for r in res if r.record.run_id])


def _comparisons(res: list[RunResults], reference: int | None, comparisons, lang: str,
                 base_year: int = 2024) -> list[tuple[int | None, str]]:
    """Per run: the index of the run it is compared with (or None) and what the comparison
    measures (like-year reference or not).

    Raises
    ------
    InputError
        Comparisons that do not match the runs in number or name runs not given.
    """
    if comparisons is None:
        out = [(reference if reference is not None and i != reference and len(res) > 1
                else None, "") for i in range(len(res))]
        if reference is None:
            return out
        y_ref = res[reference].manifest.get("scenario", {}).get("year")
        for i, r in enumerate(res):
            y = r.manifest.get("scenario", {}).get("year")
            if out[i][0] is not None and y_ref is not None and y is not None and y != y_ref:
                want = separating_reference(res[reference].name, int(y_ref), r.name, int(y),
                                            base_year=base_year)
                out[i] = (reference, label("other_year" if want else "other_year_only",
                                           lang).format(
                    ref=res[reference].name, ref_year=y_ref, years=abs(int(y) - int(y_ref)),
                    want=want))
        return out
    if len(comparisons) != len(res):
        raise InputError(f"comparisons: {len(comparisons)} for {len(res)} runs.")
    names = [r.name for r in res]
    out = []
    for c in comparisons:
        if c is None:
            out.append((None, ""))
            continue
        if c.reference not in names:
            raise InputError(f"comparisons name {c.reference!r}, which is not among the runs "
                             f"({', '.join(names)}).")
        key = "like_year" if c.like_year else "other_year" if c.want else "other_year_only"
        out.append((names.index(c.reference), label(key, lang).format(
            ref=c.reference, ref_year=c.reference_year,
            years=abs(int(c.scenario_year) - int(c.reference_year)), want=c.want)))
    return out


def _datasets(res: list[RunResults], dataset) -> dict[int, CorridorData]:
    cache: dict[Path | None, CorridorData] = {}
    if isinstance(dataset, CorridorData):
        cache[dataset.folder] = dataset
        dataset = dataset.folder
    out = {}
    for r in res:
        folder = Path(dataset) if dataset is not None else dataset_folder(r)
        recorded = r.record.dataset
        if dataset is None and folder is None and recorded is not None and not (
                recorded.resolve() == builtin_corridor_folder().resolve()):
            warnings.warn(f"{r.name}: the run was made from the dataset {recorded}, which is "
                          "not there (from this folder); its map is drawn with the built-in "
                          "dataset's geometry. Give the dataset with --data (or run from the "
                          "folder the run was made in).", CorridorWarning, stacklevel=3)
        if folder not in cache:
            cache[folder] = load_corridor(folder)
        out[id(r)] = cache[folder]
        missing = set(r["links"]["link_id"]) - set(cache[folder].links.index)
        if missing:
            log.warning("%s: %d link(s) have no geometry in the dataset and are not drawn",
                        r.name, len(missing))
    return out


def _panel(r: RunResults, lines, proj, lang: str, t_max: float) -> Panel:
    s = r.summary
    sc = r.manifest.get("scenario") or {}
    # a scenario that is not what happened, set against the counts of its year
    what_if = not is_reference(r.name)
    kpis: list[tuple[str, Markup]] = []
    sep = label("sep", lang)

    def n(x: str) -> Markup:  # numbers keep their left-to-right order in any page
        return Markup('<span dir="ltr">') + x + Markup("</span>")

    if "demand_t" in s:
        kpis.append((label("demand", lang), n(fmt_num(s["demand_t"] / 1e6, lang, 1))
                     + " " + label("mt_yr", lang)))
    if "tonne_km" in s:
        kpis.append((label("tonne_km_bn", lang), n(fmt_num(s["tonne_km"] / 1e9, lang, 1))))
    if "ue_converged" in s:
        state = label("converged" if s["ue_converged"] else "not_converged", lang)
        it = s.get("ue_iterations")
        iters = (n(str(it)) + " " + counted(it, "iterations", lang) if it is not None
                 else n("–") + " " + counted(0, "iterations", lang))
        if choice_model(r) == "logit":
            # no user equilibrium is solved: the figures are the capacity multipliers'
            kpis.append((label("choice_solver", lang), Markup(escape(state + sep)) + iters
                         + Markup(escape(sep + label("capacity_excess", lang) + " "))
                         + n(fmt_sci(s.get("max_capacity_excess"), lang))))
        else:
            kpis.append((label("ue", lang), Markup(escape(state + sep + label("gap", lang)
                                                          + " "))
                         + n(fmt_sci(s.get("ue_relative_gap"), lang)) + sep + iters))
    if s.get("lp_binding") is not None:  # None: no LP was solved
        kpis.append((label("lp_binding", lang), n(fmt_num(s["lp_binding"], lang))))
    return Panel(
        name=r.name, title=r.title, year=sc.get("year", s.get("year", "")),
        description=str(sc.get("description") or ""), kpis=kpis,
        flow_map=Markup(svg.flow_map(r["links"], lines, proj, lang, t_max=t_max)),
        width_legend=Markup(svg.width_legend(t_max, lang, rtl=lang in RTL)),
        tables=[t for t in (_warnings(r, lang), calibration_section(r.tables.get("calibration"),
                                                r.tables.get("calibration_summary"), lang,
                                                r.tables.get("calibration_cells"),
                                                what_if=what_if),
                            choice_section(r.tables.get("family_shares"),
                                           r.tables.get("capacities"), lang),
                            _countries(r, lang), _bottlenecks(r, lang), _borders(r, lang),
                            _shipper(r, lang)) if t is not None])


def _warnings(r: RunResults, lang: str):
    """What the run warned of (its manifest's ``warnings``), first on its panel; none: no
    section."""
    said = [str(w) for w in r.manifest.get("warnings") or []]
    if not said:
        return None
    # Markup + str escapes the str
    # karvan's messages are English: marked so, they keep their order in a right-to-left page
    body = Markup('<ul class="warnings">') + Markup("").join(
        Markup('<li lang="en" dir="ltr">') + w + Markup("</li>") for w in said) + Markup("</ul>")
    return ("warnings", label("warnings", lang), label("warnings_note", lang), body)


def choice_model(r: RunResults) -> str:
    """The choice model a run was made with: its manifest's ``settings.choice``, else its
    summary's; ``deterministic`` for runs made before there was a choice."""
    return str((r.manifest.get("settings") or {}).get("choice")
               or r.summary.get("choice") or "deterministic")


def _countries(r: RunResults, lang: str):
    c = transit_table(r)
    rows = [[text(country_name(x.country, lang)), num(x.tonnes, lang, 2, scale=1e6),
             num(x.transit_tonnes, lang, 2, scale=1e6), pct(x.transit_share, lang),
             num(x.transit_tonne_km, lang, 2, scale=1e9),
             num(x.transit_revenue_usd, lang, 1, scale=1e6)] for x in c.itertuples()]
    head = [label(k, lang) for k in ("country", "all_tonnes", "transit_tonnes", "transit_share",
                                     "transit_tkm", "transit_revenue")]
    ch = c[c["transit_tonnes"] > 0]
    chart = svg.bar_chart(
        [(country_name(x.country, lang), x.transit_tonnes / 1e6,
          f"{country_name(x.country, lang)}\n{label('transit_tonnes', lang)}: "
          f"{fmt_num(x.transit_tonnes / 1e6, lang, 2)}") for x in ch.itertuples()],
        lang=lang, rtl=lang in RTL, fmt=lambda v: fmt_num(v, lang, 1),
        aria=label("chart_transit", lang))
    body = Markup('<div class="two">') + table(head, rows, cls="countries") + Markup(
        f'<figure><figcaption>{_e(label("chart_transit", lang))}</figcaption>{chart}'
        "</figure></div>")
    return ("countries", label("countries", lang), label("countries_note", lang), body)


def _lp_shadow(x, lang: str):
    """The LP's shadow price of a row, marked * where the penalty on unserved demand sets it
    (``shadow_price_capped``): not a saving in transport cost."""
    cell = num(x.shadow_price_usd_per_t, lang, 2)
    if svg.is_set(getattr(x, "shadow_price_capped", None)) and cell[0]:
        return (cell[0] + " *", cell[1])
    return cell


def _capped_note(b, lang: str) -> Markup:
    if "shadow_price_capped" in b and b["shadow_price_capped"].fillna(False).astype(bool).any():
        return Markup(f'<p class="note">{_e(label("shadow_capped_note", lang))}</p>')
    return Markup("")


def _bottlenecks(r: RunResults, lang: str):
    b = r["bottlenecks"]
    if b.empty:
        return ("bottlenecks", label("bottlenecks", lang), label("bottlenecks_note", lang),
                Markup(f"<p>{_e(label('none', lang))}</p>"))
    choice = "choice_shadow_price_usd_per_t" in b
    # the choice model's deterministic limit, where the run solved it (with the LP)
    limit = choice and "limit_shadow_price_usd_per_t" in b
    rows = [[text(x.name), text(mode_name(x.mode, lang)), text(country_name(x.country, lang)),
             num(x.capacity_tpy, lang, 2, scale=1e6), num(x.tonnes_tot, lang, 2, scale=1e6),
             pct(x.utilization, lang), pct(x.lp_utilization, lang), _lp_shadow(x, lang)]
            + ([num(x.choice_shadow_price_usd_per_t, lang, 2)] if choice else [])
            + ([num(x.limit_shadow_price_usd_per_t, lang, 2)] if limit else [])
            for x in b.itertuples()]
    head = [label("link", lang), label("mode", lang), label("country", lang),
            label("capacity", lang), label("mt_yr", lang), label("utilization", lang),
            label("lp_utilization", lang), label("shadow_price", lang)] + (
        [label("shadow_price_choice", lang)] if choice else []) + (
        [label("shadow_price_limit", lang)] if limit else [])
    chart = svg.bar_chart(
        [(_short(x.name), float(x.utilization),
          f"{x.name}\n{label('utilization', lang)}: {fmt_pct(x.utilization, lang)}\n"
          f"{label('shadow_price', lang)}: {fmt_num(x.shadow_price_usd_per_t, lang, 2)}")
         for x in b.itertuples()],
        lang=lang, rtl=lang in RTL, fmt=lambda v: fmt_pct(v, lang), ref=1.0,
        colour=[svg.util_colour(u) for u in b["utilization"]], label_w=230,
        aria=label("chart_bottlenecks", lang))
    body = table(head, rows, cls="bottlenecks") + _capped_note(b, lang) + Markup(
        f'<figure><figcaption>{_e(label("chart_bottlenecks", lang))}</figcaption>{chart}'
        "</figure>")
    return ("bottlenecks", label("bottlenecks", lang), label("bottlenecks_note", lang), body)


def _borders(r: RunResults, lang: str):
    b = r["borders"]
    sep = label("sep", lang)  # the page's comma (Persian's own in a Persian page)
    rows = [[text(x.border_id), num(x.tonnes_tot, lang, 2, scale=1e6),
             num(x.tonnes_ab, lang, 2, scale=1e6), num(x.tonnes_ba, lang, 2, scale=1e6),
             num(x.capacity_tpy if x.capacity_tpy > 0 else np.nan, lang, 2, scale=1e6),
             pct(x.utilization, lang), _lp_shadow(x, lang)]
            for x in b.itertuples()]
    head = [label("border_id", lang), label("mt_yr", lang),
            label("ab", lang) + sep + label("mt", lang),
            label("ba", lang) + sep + label("mt", lang),
            label("capacity", lang), label("utilization", lang), label("shadow_price", lang)]
    return ("borders", label("borders", lang), label("borders_note", lang),
            table(head, rows, cls="borders") + _capped_note(b, lang))


def _shipper(r: RunResults, lang: str):
    s = shipper_table(r)
    rows = [[text(x.origin), text(x.destination), text(x.commodity), text(x.option),
             text(label("yes" if x.available else "no", lang)), num(x.time_days, lang, 1),
             num(x.distance_km, lang), num(x.charge_usd_per_t, lang),
             num(x.cost_usd_per_t, lang), num(x.vs_ref_days, lang, 1, signed=True),
             num(x.vs_ref_cost_usd_per_t, lang, signed=True)] for x in s.itertuples()]
    head = [label(k, lang) for k in ("origin", "destination", "commodity", "option", "available",
                                     "days", "distance_km", "charge", "cost", "vs_suez_days",
                                     "vs_suez_cost")]
    charts = []
    for (o, d, c), g in s.groupby(["origin", "destination", "commodity"], sort=False):
        g = g[g["available"].astype(bool)]
        if g.empty:
            continue
        cols = ["#8a6d3b" if oid == "suez" else "#3b6ea8" for oid in g["option_id"]]
        ch = svg.bar_chart(
            [(str(x.option_id), float(x.cost_usd_per_t),
              f"{x.option}\n{label('days', lang)}: {fmt_num(x.time_days, lang, 1)}\n"
              f"{label('cost', lang)}: {fmt_num(x.cost_usd_per_t, lang)}")
             for x in g.itertuples()],
            lang=lang, rtl=lang in RTL, fmt=lambda v: fmt_num(v, lang), colour=cols,
            width=420, label_w=120, aria=f"{o} → {d}")
        charts.append(f'<figure><figcaption><span dir="ltr">{_e(o)} → {_e(d)}, {_e(c)}</span>'
                      f"</figcaption>{ch}</figure>")
    body = table(head, rows, cls="shipper") + Markup(
        f'<p class="note">{_e(label("chart_shipper", lang))}</p><div class="two">'
        + "".join(charts) + "</div>")
    return ("shipper", label("shipper", lang), label("shipper_note", lang), body)


def _with_diff(p: Panel, a: RunResults, b: RunResults, lines, proj, lang: str,
               note: str = "") -> Panel:
    d = run_differences(a, b)
    tabs = []
    c = d["countries"]
    rows = [[text(country_name(x.country, lang)),
             num(x.transit_tonnes_a, lang, 2, scale=1e6),
             num(x.transit_tonnes_b, lang, 2, scale=1e6),
             num(x.transit_tonnes_diff, lang, 2, scale=1e6, signed=True),
             num(x.tonnes_diff, lang, 2, scale=1e6, signed=True),
             num(x.transit_revenue_usd_diff, lang, 1, scale=1e6, signed=True)]
            for x in c.itertuples()]
    ch, sep = label("change", lang), label("sep", lang)
    head = [label("country", lang), f"A: {label('transit_tonnes', lang)}",
            f"B: {label('transit_tonnes', lang)}", f"{ch}: {label('transit_tonnes', lang)}",
            f"{ch}: {label('all_tonnes', lang)}", f"{ch}: {label('transit_revenue', lang)}"]
    cc = c[c["transit_tonnes_diff"].abs() >= 5e3]
    chart = svg.bar_chart(
        [(country_name(x.country, lang), x.transit_tonnes_diff / 1e6,
          f"{country_name(x.country, lang)}\n{ch}: "
          f"{fmt_num(x.transit_tonnes_diff / 1e6, lang, 2, signed=True)}")
         for x in cc.itertuples()],
        lang=lang, rtl=lang in RTL, fmt=lambda v: fmt_num(v, lang, 2, signed=True),
        colour=[svg.MORE if v > 0 else svg.LESS for v in cc["transit_tonnes_diff"]],
        aria=label("chart_diff_transit", lang))
    tabs.append(("diff-countries", label("diff_countries", lang), note,
                 Markup('<div class="two">') + table(head, rows, cls="diff-countries")
                 + Markup(f'<figure><figcaption>{_e(label("chart_diff_transit", lang))}'
                          f"</figcaption>{chart}</figure></div>")))
    # the largest changes of tonnes and of utilization, as karvan compare shows them: ranked by
    # tonnes alone, a capacity raised without a tonne moved left the tab empty
    moves = ["tonnes_tot", "utilization"]
    lk = largest_changes(d["links"], moves, top=TOP_LINKS)
    lk = lk[(lk[[f"{c}_diff" for c in moves]].abs() > 0).any(axis=1)]  # none where none moved
    rows = [[text(x.name), text(mode_name(str(x.mode), lang)),
             num(x.tonnes_tot_a, lang, 2, scale=1e6), num(x.tonnes_tot_b, lang, 2, scale=1e6),
             num(x.tonnes_tot_diff, lang, 2, scale=1e6, signed=True),
             pct(x.utilization_a, lang), pct(x.utilization_b, lang)] for x in lk.itertuples()]
    head = [label("link", lang), label("mode", lang), "A" + sep + label("mt_yr", lang),
            "B" + sep + label("mt_yr", lang), ch + sep + label("mt_yr", lang),
            f"A: {label('utilization', lang)}", f"B: {label('utilization', lang)}"]
    tabs.append(("diff-links", label("diff_links", lang),
                 label("diff_links_note", lang).format(n=TOP_LINKS),
                 table(head, rows, cls="diff-links")))
    bd = d["borders"]
    rows = [[text(x.border_id), num(x.tonnes_tot_a, lang, 2, scale=1e6),
             num(x.tonnes_tot_b, lang, 2, scale=1e6),
             num(x.tonnes_tot_diff, lang, 2, scale=1e6, signed=True),
             pct(x.utilization_a, lang), pct(x.utilization_b, lang)] for x in bd.itertuples()]
    head = [label("border_id", lang), "A" + sep + label("mt_yr", lang),
            "B" + sep + label("mt_yr", lang), ch + sep + label("mt_yr", lang),
            f"A: {label('utilization', lang)}",
            f"B: {label('utilization', lang)}"]
    tabs.append(("diff-borders", label("diff_borders", lang), "",
                 table(head, rows, cls="diff-borders")))
    sh = d["shipper"].sort_values(["origin", "destination", "commodity", "option_id"],
                                  kind="stable")
    rows = [[text(x.origin), text(x.destination), text(x.commodity), text(x.option),
             num(x.cost_usd_per_t_a, lang), num(x.cost_usd_per_t_b, lang),
             num(x.cost_usd_per_t_diff, lang, signed=True), num(x.time_days_a, lang, 1),
             num(x.time_days_b, lang, 1), num(x.time_days_diff, lang, 1, signed=True)]
            for x in sh.itertuples()]
    head = [label("origin", lang), label("destination", lang), label("commodity", lang),
            label("option", lang), f"A: {label('cost', lang)}", f"B: {label('cost', lang)}",
            f"{ch}: {label('cost', lang)}", f"A: {label('days', lang)}",
            f"B: {label('days', lang)}", f"{ch}: {label('days', lang)}"]
    tabs.append(("diff-shipper", label("diff_shipper", lang), "",
                 table(head, rows, cls="diff-shipper")))
    from karvan.freight.benefit import benefit_totals, run_benefit

    ben = run_benefit(a, b)  # None: a run of an older karvan
    if ben is not None:
        tot = benefit_totals(ben)
        left = benefit_left_out(tot, lang)
        rows = [[text(label("all_commodities", lang) if x.commodity == "all" else x.commodity),
                 num(x.tonnes, lang, 2, scale=1e6),
                 num(x.benefit_usd, lang, 1, scale=1e6, signed=True),
                 num(x.saving_usd_per_t, lang, 2, signed=True)] for x in tot.itertuples()]
        head = [label("commodity", lang), label("mt_yr", lang), label("benefit_musd", lang),
                label("saving_usd_t", lang)]
        body = table(head, rows, cls="diff-benefit")
        if ben["origin_country"].notna().any():
            # by the countries of origin and destination, the largest gains or losses
            by = benefit_totals(ben, by=["origin_country", "destination_country"]).iloc[:-1]
            by = by.iloc[np.argsort(-by["benefit_usd"].abs().to_numpy(), kind="stable")]
            rows = [[text(country_name(x.origin_country, lang)),
                     text(country_name(x.destination_country, lang)),
                     num(x.tonnes, lang, 2, scale=1e6),
                     num(x.benefit_usd, lang, 1, scale=1e6, signed=True),
                     num(x.saving_usd_per_t, lang, 2, signed=True)]
                    for x in by.head(TOP_LINKS).itertuples()]
            head = [label("from_country", lang), label("to_country", lang), label("mt_yr", lang),
                    label("benefit_musd", lang), label("saving_usd_t", lang)]
            body = body + table(head, rows, cls="diff-benefit-countries")
        logit = ben.attrs.get("choice") == "logit" and ben.attrs.get("cost") == \
            "expected_cost_usd_per_t"
        note = label("benefit_note" if logit else "benefit_note_least", lang)
        tabs.append(("diff-benefit", label("diff_benefit", lang),
                     note + (" " + left if left else ""), body))
    dm = Markup(svg.diff_map(d["links"], lines, proj, lang))
    return Panel(**{f: getattr(p, f) for f in p.__slots__ if f not in (
        "diff_ref", "diff_map", "diff_tables")}, diff_ref=a.title, diff_map=dm,
        diff_tables=tabs)


def benefit_left_out(totals: pd.DataFrame, lang: str) -> str:
    """What the users' benefit's totals (:func:`karvan.freight.benefit.benefit_totals`) leave
    out, in ``lang``: pairs without a cost in one run or whose demand a capacity turns away,
    and the value of tonnes that a change of demand adds or takes away; empty where nothing is
    left out."""
    row = totals.iloc[-1]
    n = int(row["pairs_not_comparable"] + row["pairs_unserved"])
    out = ""
    if n:
        mt = (row["tonnes_not_comparable"] + row["tonnes_unserved"]) / 1e6
        out = label("benefit_left_out", lang).format(n=n, mt=fmt_num(mt, lang, 2))
    if row.get("pairs_demand_changed", 0):
        out += (" " if out else "") + label("benefit_demand_changed", lang).format(
            n=int(row["pairs_demand_changed"]), a=fmt_num(row["tonnes_a"] / 1e6, lang, 2),
            b=fmt_num(row["tonnes_b"] / 1e6, lang, 2))
    return out


def _short(name: str, n: int = 34) -> str:
    name = str(name)
    return name if len(name) <= n else name[: n - 1] + "…"


def _e(s: str) -> str:
    return escape(s)
