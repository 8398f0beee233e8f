"""Summaries of scenario runs and comparisons as titled tables; the command line prints them
(:mod:`karvan.cli.tables`), a notebook shows the DataFrames.

Numbers stay numbers, in the unit their column name gives (``demand Mt``, ``utilization``: a
fraction); each table carries the display format of its columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from karvan.calibrate.statistics import SET_LABELS, TARGETS, display_summary
from karvan.errors import format_ids
from karvan.freight.accounting import SEA_COUNTRIES
from karvan.freight.corridor import is_reference
from karvan.store import largest_changes

MT = "{:,.2f}"
PCT = "{:.1%}"


@dataclass(frozen=True, slots=True)
class SummaryTable:
    """A titled table of numbers and labels.

    ``formats`` maps a column to a :meth:`str.format` pattern for its non-missing values
    (``"{:,.2f}"``, ``"{:.1%}"``); other columns are shown as they are.
    """

    title: str
    data: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)


def _get(s: Mapping[str, Any], key: str) -> float:
    v = s.get(key)
    return np.nan if v is None else v


def summary_tables(runs: Sequence[Any], *, countries: int = 10,
                   bottlenecks: int = 3, base_year: int = 2024,
                   stored_references: Mapping[str, Any] | None = None) -> list[SummaryTable]:
    """Headline figures per scenario, bottlenecks, border throughput and transit by country
    across scenarios, and the first run's shipper comparison.

    Parameters
    ----------
    runs
        Solved scenarios (:class:`~karvan.scenario.run.ScenarioRun`: ``summary``, ``tables``
        and ``scenario.name``).
    countries
        Countries shown in the transit tables: those among the ``countries`` largest of some
        scenario by the table's own measure (tonnes, revenue), largest mean first; the title
        says how many others are left out (:func:`largest_in_any`).
    bottlenecks
        Bottlenecks shown per scenario.
    base_year
        The dataset's base year: which run is the like-year reference of a project run, for
        the users' benefit (:func:`benefit_summary`).
    stored_references
        Reference name -> a stored run of it (:class:`~karvan.store.RunRecord`), for the
        users' benefit of project runs whose like-year reference is not among ``runs``.

    Returns
    -------
    list of SummaryTable
        Empty tables are left out.
    """
    out = []
    # the solver's figures are those of the model that ran: under logit no user equilibrium
    # is solved (its flows are the logit loading at their own costs), and what converges is
    # the capacities' multipliers, to the largest relative excess of a capacity
    head = pd.DataFrame([{
        "scenario": s["scenario"], "year": str(s["year"]), "demand Mt": s["demand_t"] / 1e6,
        "no route Mt": s["no_path_t"] / 1e6, "choice": choice,
        "converged": "-" if s.get("ue_converged") is None else (
            "yes" if s["ue_converged"] else "no"),
        "iter.": s["ue_iterations"],
        "UE gap": s["ue_relative_gap"] if choice == "deterministic" else np.nan,
        "capacity excess": _get(s, "max_capacity_excess") if choice == "logit" else np.nan,
        "Caspian share RU->IR": _get(s, "caspian_share_ru_ir"),
        "LP unserved Mt": _get(s, "lp_unserved_t") / 1e6, "LP binding": _get(s, "lp_binding"),
        "s": s["elapsed_s"]} for s, choice in (
            (r.summary, r.summary.get("choice", "deterministic")) for r in runs)])
    head = head.drop(columns=[c for c in ("UE gap", "capacity excess") if head[c].isna().all()]
                     + (["converged"] if (head["converged"] == "yes").all() else []))
    models = set(head["choice"])
    out.append(SummaryTable(
        "Scenarios; convergence of the model that ran" + (
            ", every run converged" if "converged" not in head else "") + ": " + "; ".join(
            what for m, what in (
                ("logit", "logit, its capacity multipliers (iter.) and the largest relative "
                          "excess of a capacity"),
                ("deterministic", "deterministic, the user equilibrium (iter., UE gap)"))
            if m in models), head, {
            "demand Mt": MT, "no route Mt": MT, "UE gap": "{:.1e}",
            "capacity excess": "{:.1e}", "Caspian share RU->IR": PCT, "LP unserved Mt": MT,
            "LP binding": "{:.0f}",
            "s": "{:.1f}"}))
    # second: how far the base year is from what was counted (karvan.calibrate)
    cal, what_if = calibration_rows(runs)
    if cal or what_if:
        src = sorted({r.summary.get("demand_source", "demand.csv") for r in runs})
        demand = ("base-year demand of od_estimate.csv (demand.csv estimated on the fit rows, "
                  "`karvan calibrate --write`)" if src == ["od_estimate.csv"] else
                  "base-year demand of " + " and ".join(src))
        out.append(SummaryTable(
            "Calibration: reported volumes against the run of their year, "
            + ("fit, validation and checks (totals of fit rows, not fitted)" if any(
                (c["rows"] == SET_LABELS["check"]).any() for c in cal) else "fit and validation")
            + f" apart ({TARGETS}); {demand}"
            + calibration_notes([r for r in runs if is_reference(r.scenario.name)])
            + (f"; {', '.join(what_if)}: not what happened in the year, a what-if whose rows "
               "of that year check nothing of the model against what was counted and are left "
               "out (calibration.csv has them); the rows of other years are the back-casts'"
               if what_if else ""),
            pd.concat(cal, ignore_index=True) if cal else pd.DataFrame(
                columns=["scenario", "rows"]), {"median |ln M/C|": "{:.2f}", "GEH<5": PCT}))
    out.extend(choice_tables(runs))
    ben = benefit_summary(runs, base_year=base_year, stored=stored_references)
    if ben is not None:
        out.append(ben)
    rows = []
    capped = False
    for r in runs:
        for x in r.tables["bottlenecks"].head(bottlenecks).itertuples(index=False):
            name = x.name if isinstance(x.name, str) and x.name else str(x.link_id)
            row = {"scenario": r.scenario.name, "link": name[:48],
                   "capacity Mt": x.capacity_tpy / 1e6, "utilization": x.utilization,
                   "choice $/t": getattr(x, "choice_shadow_price_usd_per_t", np.nan),
                   "limit $/t": getattr(x, "limit_shadow_price_usd_per_t", np.nan),
                   "LP utilization": getattr(x, "lp_utilization", np.nan),
                   "LP $/t": getattr(x, "shadow_price_usd_per_t", np.nan)}
            flag = getattr(x, "shadow_price_capped", None)
            if flag is not None and pd.notna(flag) and bool(flag):
                # set by the penalty on unserved demand, not by a saving in transport cost
                row["link"] = name[:46] + " *"
                capped = True
            rows.append(row)
    if rows:
        bt = pd.DataFrame(rows)
        choice = bt["choice $/t"].notna().any()
        if not choice:
            bt = bt.drop(columns="choice $/t")
        if bt["limit $/t"].isna().all():  # no limit solved (deterministic choice, --no-lp)
            bt = bt.drop(columns="limit $/t")
        if not choice or bt["LP utilization"].isna().all():
            # the LP's own use beside the run's, where the two models differ (the logit
            # model's Astara gauge change at 17.6 % was listed for the LP's price, with 5.0 Mt
            # through it in the LP against 0.88 Mt in the run)
            bt = bt.drop(columns="LP utilization")
        out.append(SummaryTable(
            f"Bottlenecks (top {bottlenecks} per scenario): utilization in the run"
            + (" (under logit, of the tightest hard capacity); shadow prices in USD per t of "
               "extra yearly capacity, the choice model's (what shippers pay there), its "
               "limit's (each shipper on its cheapest route by the same costs, no dispersion) "
               "and the capacity LP's (a second opinion that routes every tonne by tariff and "
               "time; a link is listed where any of them fills or prices it, and LP "
               "utilization is the LP's own use of it)"
               if choice else "; the capacity LP's shadow price in USD per t of extra yearly "
               "capacity")
            + ("; * a price set by demand the capacities turn away (the LP's penalty on "
               "unserved demand), not a saving in transport cost" if capped else ""),
            bt, {"capacity Mt": MT, "utilization": PCT, "choice $/t": "{:,.1f}",
                 "limit $/t": "{:,.1f}", "LP utilization": PCT, "LP $/t": "{:,.1f}"}))
    # scenarios of several years side by side: a difference between two of them holds the
    # growth of demand too, which the tables' columns do not say
    years = sorted({int(r.scenario.year) for r in runs})
    mixed = ("" if len(years) < 2 else
             f"; runs of {', '.join(map(str, years))}: a difference between years holds demand "
             "growth too (`karvan compare <scenario>` sets a scenario against the reference of "
             "its year)")
    bt = pd.concat({r.scenario.name: r.tables["borders"].set_index("border_id")["tonnes_tot"]
                    for r in runs}, axis=1).fillna(0.0)
    if len(bt):
        bt = bt.loc[bt.max(axis=1).sort_values(ascending=False).index]
        bt = bt[bt.max(axis=1) > 0] / 1e6
        bt = bt.rename_axis("border").reset_index()
        out.append(SummaryTable("Border crossings, Mt/yr (both directions)" + mixed, bt,
                                {c: MT for c in bt.columns[1:]}))
    ct = pd.concat({r.scenario.name: r.tables["countries"].set_index("country")
                    for r in runs}, axis=0)
    if len(ct):
        names = list(dict.fromkeys(r.scenario.name for r in runs))
        sea = set(SEA_COUNTRIES)
        if "sea_legs_only" in ct:
            sea |= set(ct.index.get_level_values("country")[ct["sea_legs_only"].eq(True)])
        for col, title, fmt in (("transit_tonnes", "Transit by country, Mt/yr", MT),
                                ("transit_revenue_usd", "Transit revenue by country, M USD/yr",
                                 "{:,.0f}")):
            wide = ct[col].unstack(0).reindex(columns=names).fillna(0.0)
            # the high seas and the Caspian (pseudo-countries of the sea legs) carry every sea
            # tonne as transit and collect no country's revenue, and a country whose links are
            # all sea legs (Egypt's Suez Canal) collects only the ocean freight charged on
            # them, not canal dues: not among the countries
            wide = wide[~wide.index.isin(sea)]
            shown, left = largest_in_any(wide, countries)
            t = (shown / 1e6).rename_axis("country").reset_index()
            if left:
                title += (f", sea legs left out; the {countries} largest of each scenario "
                          f"shown, {left} smaller countr{'y' if left == 1 else 'ies'} left out "
                          "(each run's countries.csv has them all)")
            else:
                title += ", sea legs left out"
            out.append(SummaryTable(title + mixed, t, {c: fmt for c in t.columns[1:]}))
    for r in runs[:1]:
        sh = r.tables.get("shipper")
        if sh is not None and len(sh):
            ok = sh["available"].astype(bool)
            # the choice is made on the generalized cost; the charge is what is paid, and
            # the two rank the options differently (INSTC West: 745 against Suez's 782 USD/t
            # generalized, 324 against 235 USD/t charged)
            t = pd.DataFrame({"origin": sh["origin"], "destination": sh["destination"],
                              "commodity": sh["commodity"], "route": sh["option_id"],
                              "days": sh["time_days"].where(ok),
                              "km": sh["distance_km"].where(ok),
                              "charge $/t": sh["charge_usd_per_t"].where(ok),
                              "generalized cost $/t": sh["cost_usd_per_t"].where(ok)})
            out.append(SummaryTable(
                f"Shipper comparison ({r.scenario.name}): best route per option by generalized "
                "cost (charge + value of time x time, USD/t); charge: freight charges and fees "
                "paid, USD/t (- where the option has no route)", t,
                {"days": "{:.1f}", "km": "{:,.0f}", "charge $/t": "{:,.0f}",
                 "generalized cost $/t": "{:,.0f}"}))
    wide = shipper_by_scenario(runs)
    if wide is not None:
        out.append(SummaryTable(
            "Shipper comparison by scenario: generalized cost of the best route per option, "
            "USD/t (- where the option has no route; each run's shipper.csv has the days and "
            "charges)", wide, {c: "{:,.0f}" for c in wide.columns[4:]}))
    return out


def shipper_by_scenario(runs: Sequence[Any]) -> pd.DataFrame | None:
    """The generalized cost (USD/t) of the best route of each shipper pair and option, one
    column per scenario, where two runs or more have a shipper comparison: the summary showed
    the first run's alone, so what a project saves a shipper against Suez was not shown."""
    cols = {}
    for r in runs:
        sh = r.tables.get("shipper")
        if sh is None or not len(sh) or r.scenario.name in cols:
            continue
        ok = sh["available"].astype(bool)
        cols[r.scenario.name] = sh.assign(cost=sh["cost_usd_per_t"].where(ok)).set_index(
            ["origin", "destination", "commodity", "option_id"])["cost"]
    if len(cols) < 2:
        return None
    wide = pd.concat(cols, axis=1)
    return wide.rename_axis(["origin", "destination", "commodity", "route"]).reset_index()


def largest_in_any(wide: pd.DataFrame, n: int) -> tuple[pd.DataFrame, int]:
    """The rows among the ``n`` largest of some column, largest mean first, and how many rows
    with a positive value are left out.

    A row is left out only where it is smaller than ``n`` shown rows in every column: a country
    large in every scenario is not cut for one that peaks in a single scenario, as ranking by
    the maximum across scenarios did (Armenia's 5.2 Mt of transit in one scenario above Iran's
    3.2 to 4.7 Mt in all of them).

    >>> wide = pd.DataFrame({"a": [10.0, 4.0, 0.3, 1.0], "b": [10.0, 4.5, 5.0, 1.0]},
    ...                     index=["X", "IR", "AM", "UZ"])
    >>> shown, left = largest_in_any(wide, 2)
    >>> list(shown.index), left
    (['X', 'IR', 'AM'], 1)
    """
    if not len(wide.columns):
        return wide, 0
    keep = set()
    for c in wide.columns:
        col = wide[c][wide[c] > 0].sort_values(ascending=False, kind="stable")
        keep.update(col.index[:n])
    positive = wide.index[(wide > 0).any(axis=1)]
    shown = wide.loc[[i for i in wide.index if i in keep]]
    shown = shown.loc[shown.mean(axis=1).sort_values(ascending=False, kind="stable").index]
    return shown, len(positive) - len(shown)


def choice_tables(runs: Sequence[Any], *, min_share: float = 0.01) -> list[SummaryTable]:
    """Route-family shares of the major country pairs (families with at least ``min_share`` in
    some run) and the binding capacities with their shadow prices, across runs."""
    out = []
    rows = {}
    for r in runs:
        for x in r.summary.get("family_shares", []):
            rows.setdefault((x["od"], x["family_id"]), {})[r.scenario.name] = x["share"]
    if rows:
        t = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0)
        t = t[t.max(axis=1) >= min_share]
        t.index = pd.MultiIndex.from_tuples(t.index, names=["OD", "family"])
        t = t.reset_index()
        out.append(SummaryTable(
            "Route families: share of each major country pair's tonnes (all commodities)", t,
            {c: PCT for c in t.columns[2:]}))
    b = []
    for r in runs:
        for x in r.summary.get("binding_capacities", []):
            b.append({"scenario": r.scenario.name, "element": x["link_id"],
                      "direction": x["direction"], "capacity Mt": x["capacity_tpy"] / 1e6,
                      "shadow h": x["shadow_price_h"],
                      "shadow $/t": x["shadow_price_usd_per_t"]})
    if b:
        out.append(SummaryTable(
            "Binding capacities of the choice model: multiplier in hours of queue and in USD "
            "per t (hours x value of time, averaged over the tonnes through)", pd.DataFrame(b),
            {"capacity Mt": MT, "shadow h": "{:,.1f}", "shadow $/t": "{:,.2f}"}))
    return out


#: what a comparison shows: table -> (key column, values), the rows among the largest changes
#: of each value (:func:`karvan.store.largest_changes`)
COMPARISON = {"links": ("link_id", ["tonnes_tot", "utilization"]),
              "borders": ("border_id", ["tonnes_tot"]),
              "capacities": ("constraint_id", ["shadow_price_usd_per_t", "utilization"]),
              "countries": ("country", ["tonnes", "transit_tonnes", "transit_revenue_usd",
                                        "revenue_usd"])}


def comparison_tables(diff: Mapping[str, pd.DataFrame], a: str, b: str, *,
                      top: int = 10, headings: tuple[str, str] | None = None
                      ) -> list[SummaryTable]:
    """The largest differences B - A per table of :func:`~karvan.scenario.run.compare_runs`,
    tonnes in Mt and money in M USD.

    Parameters
    ----------
    diff
        Table name -> difference table (``<v>_a``, ``<v>_b``, ``<v>_diff`` columns).
    a, b
        How runs A and B are named in the titles.
    top
        Rows per table.
    headings
        How runs A and B are named in the column headings (``tonnes_tot Mt baseline``);
        default: as in the titles.

    Returns
    -------
    list of SummaryTable
        One per table with rows.
    """
    ha, hb = headings or (a, b)
    if ha == hb:  # a run compared with itself: its columns apart
        ha, hb = "A", "B"
    out = []
    ref = diff.get("reference")
    if ref is not None and len(ref):
        # whether A is B's like-year reference, else how many years of demand growth the
        # difference includes (karvan.scenario.reference)
        # B is compared with A, which need not be a reference (rasht_astara as the
        # "reference" of baseline): the columns say A and B, as the other tables' titles
        shown = ref.drop(columns=["note"]).rename(columns={
            "scenario": "B", "scenario_year": "B year", "reference": "A (compared with)",
            "reference_year": "A year", "like_year": "same year"})
        out.append(SummaryTable(str(ref["note"].iloc[0]), shown))
    for name, (key, cols) in COMPARISON.items():
        df = diff.get(name)
        if df is None or not len(df):
            continue
        cols = [c for c in cols if f"{c}_diff" in df]
        rows = largest_changes(df, cols, top=top)
        t = pd.DataFrame({key: rows[key].astype(str)})
        formats = {}
        for c in cols:
            scale, unit, fmt = ((1.0, "", PCT) if c == "utilization" else
                                (1.0, " $/t", "{:,.2f}") if c.endswith("_usd_per_t") else
                                (1e-6, " M USD", "{:,.1f}") if "usd" in c else
                                (1e-6, " Mt", MT))
            # the unit once
            name_c = (c.removesuffix("_usd") if unit == " M USD" else
                      c.removesuffix("_usd_per_t") if unit == " $/t" else c)
            for side, label in (("a", ha), ("b", hb), ("diff", "diff")):
                col = f"{name_c}{unit} {label}"
                t[col] = rows[f"{c}_{side}"].to_numpy() * scale
                formats[col] = fmt
        moved = any((pd.to_numeric(df[f"{c}_diff"], errors="coerce").abs() > 0).any()
                    for c in cols)
        # rows of zeros read as the largest changes of two runs that differ in nothing here
        what = ("(largest changes)" if len(cols) == 1 else
                f"(the {top} largest changes of each of {', '.join(cols)})")
        out.append(SummaryTable(f"{name}: {b} - {a} " + (what if moved else
                                                         "(no change in any row)"), t, formats))
    ben = diff.get("benefit")
    if ben is not None and len(ben):
        out.extend(benefit_tables(ben, a, b, top=top, headings=(ha, hb)))
    return out


def benefit_summary(runs: Sequence[Any], *, base_year: int = 2024,
                    stored: Mapping[str, Any] | None = None) -> SummaryTable | None:
    """Each project run's users' benefit against its like-year reference where that reference
    is among ``runs``, else in ``stored`` (reference name -> a stored run of it: a project run
    alone had no benefit though its reference was in the store;
    :func:`karvan.freight.benefit.run_benefit`); None where no run has one."""
    from karvan.freight.benefit import benefit_totals, run_benefit
    from karvan.freight.corridor import reference_name

    by_name = {r.scenario.name: r for r in runs}
    stored = dict(stored or {})
    rows = []
    for r in runs:
        if is_reference(r.scenario.name):
            continue
        name = reference_name(int(r.scenario.year), base_year=base_year)
        ref = by_name.get(name)
        against = name
        if ref is None and name in stored:
            ref = stored[name]
            against = f"{name} (stored run {getattr(ref, 'run_id', '?')})"
        tab = None if ref is None else run_benefit(ref, r)
        if tab is None:
            continue
        tot = benefit_totals(tab).iloc[-1]
        rows.append({"scenario": r.scenario.name, "against": against,
                     "year": str(r.scenario.year), "Mt": tot["tonnes"] / 1e6,
                     "benefit M USD/yr": tot["benefit_usd"] / 1e6,
                     "saving $/t": tot["saving_usd_per_t"],
                     "left out Mt": (tot["tonnes_not_comparable"]
                                     + tot["tonnes_unserved"]) / 1e6,
                     "demand change Mt": ((tot["tonnes_b"] - tot["tonnes_a"]) / 1e6
                                          if tot["pairs_demand_changed"] else 0.0)})
    if not rows:
        return None
    t = pd.DataFrame(rows)
    left = t["left out Mt"].gt(0).any()
    if not left:
        t = t.drop(columns="left out Mt")
    grown = t["demand change Mt"].ne(0).any()
    if not grown:
        t = t.drop(columns="demand change Mt")
    return SummaryTable(
        "Users' benefit against the like-year reference, where it is among these runs or "
        "stored (its latest run of the same choice model and dataset): the "
        "saving in shippers' expected generalized cost by the rule of a half, M USD/yr "
        "(`karvan compare <scenario>` gives it by commodity and OD pair)"
        + ("; left out: pairs without a cost in one run, or whose demand a capacity turns "
           "away" if left else "")
        + ("; where a scenario changes the demand (demand change Mt), the rule of a half counts "
           "the change of cost, not the value of the tonnes added or lost" if grown else ""), t,
        {"Mt": MT, "benefit M USD/yr": "{:,.1f}", "saving $/t": "{:,.2f}", "left out Mt": MT,
         "demand change Mt": "{:+,.2f}"})


def benefit_note(totals: pd.DataFrame) -> str:
    """What the totals of :func:`karvan.freight.benefit.benefit_totals` leave out, as a clause
    ("; 2 pair(s), 0.40 Mt, ..."), empty where they leave out nothing."""
    row = totals.iloc[-1]
    out = ""
    if row["pairs_not_comparable"]:
        out += (f"; {int(row['pairs_not_comparable'])} pair(s), "
                f"{row['tonnes_not_comparable'] / 1e6:.2f} Mt, have no cost in one run (no "
                "route there, or no demand there) and no benefit")
    if row.get("pairs_unserved", 0):
        out += (f"; {int(row['pairs_unserved'])} pair(s), {row['tonnes_unserved'] / 1e6:.2f} "
                "Mt, whose demand a capacity turns away in a run are left out (their cost "
                "there is the model's device for unserved demand, not a price)")
    if row.get("pairs_demand_changed", 0):
        out += (f"; the demand differs in {int(row['pairs_demand_changed'])} pair(s) "
                f"({row['tonnes_a'] / 1e6:,.2f} Mt against {row['tonnes_b'] / 1e6:,.2f} in all "
                "pairs): the rule of a half counts the change of cost, not the value of the "
                "tonnes added or lost")
    return out


def benefit_tables(table: pd.DataFrame, a: str, b: str, *, top: int = 10,
                   headings: tuple[str, str] | None = None) -> list[SummaryTable]:
    """The users' benefit of B against A (:func:`karvan.freight.benefit.users_benefit`'s
    table): by commodity and in all, by the countries of origin and destination, then the
    ``top`` pairs of largest benefit, gain or loss; ``headings`` name A and B in the columns
    (default ``a`` and ``b``)."""
    from karvan.freight.benefit import benefit_totals

    ha, hb = headings or (a, b)
    tot = benefit_totals(table)
    logit = (table.attrs.get("cost") == "expected_cost_usd_per_t"
             and table.attrs.get("choice") == "logit")
    what = ("expected generalized cost (the choice model's logsum; charges, time, reliability, "
            "family constants and capacity surcharges)" if logit else
            "least generalized cost (charges and time)")
    t = pd.DataFrame({"commodity": tot["commodity"], "Mt": tot["tonnes"] / 1e6,
                      "benefit M USD/yr": tot["benefit_usd"] / 1e6,
                      "saving $/t": tot["saving_usd_per_t"]})
    out = [SummaryTable(
        f"Users' benefit of {b} against {a}: the saving in shippers' {what}, by the rule of a "
        "half over the two runs' demand; not operators' revenue or building costs"
        + benefit_note(tot), t,
        {"Mt": MT, "benefit M USD/yr": "{:,.1f}", "saving $/t": "{:,.2f}"})]
    if table["origin_country"].notna().any():
        by = benefit_totals(table, by=["origin_country", "destination_country"]).iloc[:-1]
        by = by.iloc[np.argsort(-by["benefit_usd"].abs().to_numpy(), kind="stable")].head(top)
        out.append(SummaryTable(
            f"Users' benefit of {b} against {a} by the countries of origin and destination "
            "(the largest gains or losses)",
            pd.DataFrame({"from": by["origin_country"], "to": by["destination_country"],
                          "Mt": by["tonnes"] / 1e6, "benefit M USD/yr": by["benefit_usd"] / 1e6,
                          "saving $/t": by["saving_usd_per_t"]}),
            {"Mt": MT, "benefit M USD/yr": "{:,.1f}", "saving $/t": "{:,.2f}"}))
    counted = table["comparable"].astype(bool) & ~table["unserved"].astype(bool)
    rows = table[counted].head(top)
    if len(rows):
        if ha == hb:
            ha, hb = "A", "B"
        od = rows["origin"].astype(str) + " > " + rows["destination"].astype(str)
        p = pd.DataFrame({"commodity": rows["commodity"].astype(str), "OD pair": od,
                          "Mt": 0.5 * (rows["tonnes_a"] + rows["tonnes_b"]) / 1e6,
                          f"$/t {ha}": rows["cost_a_usd_per_t"],
                          f"$/t {hb}": rows["cost_b_usd_per_t"],
                          "benefit M USD/yr": rows["benefit_usd"] / 1e6})
        out.append(SummaryTable(f"Users' benefit of {b} against {a}: the pairs of largest "
                                "benefit, gain or loss", p,
                                {"Mt": MT, f"$/t {ha}": "{:,.1f}", f"$/t {hb}": "{:,.1f}",
                                 "benefit M USD/yr": "{:,.2f}"}))
    return out


#: a modelled volume this many times the reported one (or its inverse) is more likely a unit
#: slip in observed.csv (kt or Mt written as t) than a result
UNIT_SLIP = 10.0


def fit_row_notes(table: pd.DataFrame) -> list[str]:
    """What a calibration (``karvan calibrate``) leaves out of its fit rows or should not
    trust, from its calibration table (``role``, ``compared``, ``year``, ``prior_ratio``):
    fit rows not fitted because no run is of their year, and fit rows beyond a factor
    :data:`UNIT_SLIP` of the model at the prior (a count in kt read as t pulls the estimate
    with it).

    Examples
    --------
    >>> t = pd.DataFrame({"observed_id": ["A", "B", "C"], "year": [2024, 2025, 2024],
    ...                   "role": ["fit", "fit", "fit"], "compared": [True, False, True],
    ...                   "prior_ratio": [1.1, float("nan"), 800.0]})
    >>> for n in fit_row_notes(t): print(n)
    1 fit row not fitted, no run of its year (2025: B); the fit runs 2024
    1 fit row beyond a factor 10 of the model at the prior (C 800): check that its ...
    """
    fit = table[table["role"].astype(str) == "fit"]
    compared = fit["compared"].astype(bool)
    notes = []
    left = fit[~compared]
    if len(left):
        years = sorted({int(y) for y in left["year"]})
        ran = sorted({int(y) for y in fit.loc[compared, "year"]})
        one = len(left) == 1
        notes.append(f"{len(left)} fit row{'' if one else 's'} not fitted, no run of "
                     f"{'its' if one else 'their'} year ({', '.join(map(str, years))}: "
                     f"{format_ids(left['observed_id'], 3)}); the fit runs "
                     f"{', '.join(map(str, ran)) or 'no year'}")
    ratio = pd.to_numeric(fit["prior_ratio"], errors="coerce")
    far = fit[(ratio > UNIT_SLIP) | (ratio < 1.0 / UNIT_SLIP)]
    if len(far):
        one = len(far) == 1
        shown = ", ".join(f"{o} {x:.3g}" for o, x in zip(
            far["observed_id"].head(3), ratio[far.index].head(3), strict=True))
        notes.append(f"{len(far)} fit row{'' if one else 's'} beyond a factor {UNIT_SLIP:g} of "
                     f"the model at the prior ({shown}): check that "
                     f"{'its' if one else 'their'} tonnes_per_year is in tonnes")
    return notes


def calibration_rows(runs) -> tuple[list[pd.DataFrame], list[str]]:
    """The calibration statistics of each run that compares a row, for printing
    (:func:`~karvan.calibrate.statistics.display_summary`), and the names of the runs that are
    not references (a what-if of a counted year): theirs are taken over the rows they compare
    with a reference's run (the back-casts of a base-year scenario), labelled
    ``<name> (back-casts)``, or left out where there are none."""
    from karvan.calibrate.statistics import summarize

    shown, what_if = [], []
    for r in runs:
        if "calibration_summary" not in r.tables:
            continue
        if is_reference(r.scenario.name):
            shown.append(display_summary(r.tables["calibration_summary"], r.scenario.name))
            continue
        cal = r.tables.get("calibration")
        if cal is None or not cal["compared"].astype(bool).any():
            continue
        what_if.append(r.scenario.name)
        if "run" in cal:
            cal = cal[cal["run"].astype(str).map(is_reference)]
            shown.append(display_summary(summarize(cal), f"{r.scenario.name} (back-casts)"))
    return [t for t in shown if len(t)], what_if


def calibration_notes(runs) -> str:
    """What the calibration statistics leave out, said with them: rows of ``observed.csv`` not
    compared because no run is of their year, and rows whose ratio is beyond a factor
    :data:`UNIT_SLIP` (check the unit of ``tonnes_per_year``); of the runs that compare a row
    (the others, of years without counts, are not in the statistics' table)."""
    notes = []
    for r in runs:
        t = r.tables.get("calibration")
        if t is None or not t["compared"].astype(bool).any():
            continue  # a run of a year without counts is not in the table these notes follow
        left = t[~t["compared"].astype(bool)]
        if len(left):
            years = sorted({int(y) for y in left["year"]})
            notes.append(f"{r.scenario.name}: {len(left)} rows not compared, no run of their "
                         f"year ({', '.join(map(str, years))}: "
                         f"{format_ids(left['observed_id'], 3)})")
        ratio = pd.to_numeric(t["ratio"], errors="coerce")
        far = t[(ratio > UNIT_SLIP) | (ratio < 1.0 / UNIT_SLIP)]
        if len(far):
            shown = ", ".join(f"{o} {x:.3g}" for o, x in zip(
                far["observed_id"].head(3), ratio[far.index].head(3), strict=True))
            notes.append(f"{r.scenario.name}: {len(far)} rows beyond a factor "
                         f"{UNIT_SLIP:g} ({shown}): check their tonnes_per_year is in tonnes")
    return "".join(f"; {n}" for n in notes)
