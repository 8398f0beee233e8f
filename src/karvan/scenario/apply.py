"""Apply a scenario to the corridor: the link table and the demand of the scenario year.

What the modifications make of the tables is checked against the same schemas as the dataset's
files (``karvan/schema/corridor``): a speed set to 0, a sailing frequency scaled to 0, a demand
scaled beyond any plausible tonnage is reported with the modification that did it, before
anything reaches a solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.freight.corridor import (  # noqa: F401 (most_specific_rule: re-exported)
    YEARS_AFTER_BASE,
    YEARS_BEFORE_BASE,
    CorridorData,
    most_specific_rule,
    most_specific_rules,
)
from karvan.freight.costs import TARIFF_FACTOR
from karvan.scenario.spec import Scenario


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioInputs:
    """What a scenario turns the dataset into: links (with status) and demand in tonnes."""

    scenario: Scenario
    links: pd.DataFrame
    demand: pd.DataFrame  # origin_zone_id, destination_zone_id, commodity_id, tonnes_per_year
    applied: pd.DataFrame  # one row per modification: what it did
    bans: tuple = ()  # (frozenset of link ids, frozenset of od countries) in force


def _targets(links: pd.DataFrame, mod, i: int, problems: list[str]) -> pd.Index:
    ids = pd.Index(mod.links)
    unknown = ids.difference(links.index)
    if len(unknown):
        problems.append(f"modification[{i}] ({mod.action}): unknown link ids "
                        f"{format_ids(unknown)}.")
    sel = links.index[links.index.isin(ids)]
    if mod.borders:
        bid = links["border_id"] if "border_id" in links else pd.Series(index=links.index,
                                                                           dtype=object)
        known = set(bid.dropna())
        bad = [b for b in mod.borders if b not in known]
        if bad:
            problems.append(f"modification[{i}] ({mod.action}): unknown border ids "
                            f"{format_ids(bad)}.")
        sel = sel.union(links.index[bid.isin(mod.borders)])
    if mod.countries:
        known = set(links["country"].dropna())
        bad = [c for c in mod.countries if c not in known]
        if bad:
            problems.append(f"modification[{i}] ({mod.action}): no links in countries "
                            f"{format_ids(bad)}.")
        m = links["country"].isin(mod.countries)
        if mod.modes:
            bad_modes = sorted(set(mod.modes) - set(links["mode"]))
            if bad_modes:
                problems.append(f"modification[{i}] ({mod.action}): unknown modes "
                                f"{format_ids(bad_modes)}; the links have "
                                f"{format_ids(sorted(set(links['mode'])))}.")
            m &= links["mode"].isin(mod.modes)
        sel = sel.union(links.index[m])
    return sel


def level_rows(data: CorridorData, demand: pd.DataFrame, year: int) -> np.ndarray:
    """Position in ``demand_level.csv`` of the level that sets each demand row in ``year`` (the
    most specific row of that year), -1 where none does and the growth rate applies."""
    out = np.full(len(demand), -1, dtype=np.int64)
    levels = data.demand_levels
    if levels is None or not len(levels):
        return out
    at = np.flatnonzero(levels["year"].to_numpy(dtype=np.int64) == year)
    if not len(at):
        return out
    rules = levels.iloc[at].reset_index(drop=True)
    zc = data.zone_country()
    q = most_specific_rules(rules, demand["origin_zone_id"].map(zc).to_numpy(),
                            demand["destination_zone_id"].map(zc).to_numpy(),
                            demand["commodity_id"].to_numpy())
    out[q >= 0] = at[q[q >= 0]]
    return out


def growth_factors(data: CorridorData, demand: pd.DataFrame, year: int) -> np.ndarray:
    """Factor of each demand row from the base year to ``year``: the level of that year in
    ``demand_level.csv`` where one matches (back-casts), else the most specific growth rule."""
    zc = data.zone_country()
    rules = data.growth
    rate = rules["growth_per_year"].to_numpy(dtype=float)
    q = most_specific_rules(rules, demand["origin_zone_id"].map(zc).to_numpy(),
                            demand["destination_zone_id"].map(zc).to_numpy(),
                            demand["commodity_id"].to_numpy())
    out = (1.0 + np.where(q >= 0, rate[np.maximum(q, 0)], 0.0)) ** (year - data.base_year)
    lv = level_rows(data, demand, year)
    if (lv >= 0).any():
        index = data.demand_levels["index"].to_numpy(dtype=float)
        out[lv >= 0] = index[lv[lv >= 0]]
    return out


def apply_scenario(data: CorridorData, scenario: Scenario) -> ScenarioInputs:
    """The scenario year's link table and demand.

    Raises
    ------
    InputError
        Listing every problem together: a year outside the base year -10/+50, references to
        links, borders, countries, modes or commodities that do not exist, and values the
        modifications or the growth to the scenario year leave outside the tables' schemas, each
        named with its modification.
    """
    from karvan.schema import Checker, load_schema

    problems: list[str] = []
    lo, hi = data.base_year - YEARS_BEFORE_BASE, data.base_year + YEARS_AFTER_BASE
    if not lo <= scenario.year <= hi:
        raise InputError(f"year {scenario.year} is outside {lo}..{hi}, the years this dataset "
                         f"supports (base year {data.base_year}, growth rates not extrapolated "
                         f"beyond {YEARS_AFTER_BASE} years ahead or {YEARS_BEFORE_BASE} back).",
                         str(scenario.path) if scenario.path else scenario.name)
    links = data.links.copy()
    demand = data.demand[["origin_zone_id", "destination_zone_id", "commodity_id",
                          "tonnes_per_year"]].copy()
    demand["tonnes_per_year"] = demand["tonnes_per_year"] * growth_factors(data, demand,
                                                                           scenario.year)
    checker = Checker()
    link_schema = load_schema("corridor/link")
    demand_schema = load_schema("corridor/demand")
    _recheck(checker, demand_schema, demand, demand.index, "tonnes_per_year",
             f"demand grown to {scenario.year}", id_field=None)
    zc = data.zone_country()
    log = []
    bans: list = []
    for i, mod in enumerate(scenario.modifications):
        active = mod.in_force(scenario.year)
        if mod.action == "demand_scale":
            sel = np.ones(len(demand), dtype=bool)
            if mod.origin_country:
                sel &= demand["origin_zone_id"].map(zc).eq(mod.origin_country).to_numpy()
            if mod.destination_country:
                sel &= demand["destination_zone_id"].map(zc).eq(mod.destination_country).to_numpy()
            if mod.commodity:
                if mod.commodity not in set(data.commodity_ids):
                    problems.append(f"modification[{i}] (demand_scale): unknown commodity "
                                    f"{mod.commodity!r}.")
                sel &= (demand["commodity_id"] == mod.commodity).to_numpy()
            for label, value in (("origin_country", mod.origin_country),
                                 ("destination_country", mod.destination_country)):
                if value and value not in set(zc.values()):
                    problems.append(f"modification[{i}] (demand_scale): {label} {value!r} is not "
                                    f"a country of the zones ({format_ids(sorted(set(zc.values())), 20)}).")
            if not sel.any() and not problems:
                problems.append(f"modification[{i}] (demand_scale): its filters match no demand.")
            if active:
                demand.loc[sel, "tonnes_per_year"] *= mod.factor
                _recheck(checker, demand_schema, demand, demand.index[sel], "tonnes_per_year",
                         f"modification[{i}] (demand_scale x {mod.factor:g})", id_field=None)
            log.append((i, mod.action, mod.year, active, f"{int(sel.sum())} demand rows",
                        mod.factor, mod.source, mod.note))
            continue
        sel = _targets(links, mod, i, problems)
        if mod.action == "ban_transit":
            unknown = sorted(set(mod.od_countries) - set(zc.values()))
            if unknown:
                problems.append(f"modification[{i}] (ban_transit): od_countries "
                                f"{format_ids(unknown)} are not countries of the zones.")
        if active and len(sel):
            _warn_no_effect(links, sel, mod, i, scenario)
            if mod.action == "open":
                links.loc[sel, "status"] = "open"
            elif mod.action == "close":
                links.loc[sel, "status"] = "closed"
            elif mod.action == "set":
                links.loc[sel, mod.field] = float(mod.value)
                if mod.field == "capacity_tpy" and "capacity_value" in links:
                    # the published figure no longer describes the link
                    links.loc[sel, "capacity_value"] = np.nan
                    links.loc[sel, "capacity_unit"] = None
            elif mod.action == "scale":
                if mod.field in TARIFF_FACTOR:
                    # a link without a tariff of its own takes the tables': its factor on them
                    blank = [x for x in sel if pd.isna(links.at[x, mod.field])]
                    if blank:
                        fcol = TARIFF_FACTOR[mod.field]
                        if fcol not in links:
                            links[fcol] = np.nan
                        links.loc[blank, fcol] = (pd.to_numeric(links.loc[blank, fcol])
                                                  .fillna(1.0) * mod.factor)
                links.loc[sel, mod.field] = links.loc[sel, mod.field] * mod.factor
                if mod.field == "capacity_tpy" and "capacity_value" in links:
                    links.loc[sel, "capacity_value"] = links.loc[sel, "capacity_value"] * mod.factor
            elif mod.action == "ban_transit":
                bans.append((frozenset(sel), frozenset(mod.od_countries)))
            if mod.action in ("set", "scale"):
                how = f"= {mod.value:g}" if mod.action == "set" else f"x {mod.factor:g}"
                _recheck(checker, link_schema, links, sel, mod.field,
                         f"modification[{i}] ({mod.action} {mod.field} {how})",
                         id_field="link_id")
        value = mod.value if mod.action == "set" else mod.factor
        log.append((i, mod.action, mod.year, active, ";".join(map(str, sel)), value, mod.source,
                    mod.note))
    problems.extend(checker.errors())
    if problems:
        where = str(scenario.path) if scenario.path else scenario.name
        raise InputError(problems, where, violations=[v for v in checker.violations
                                                      if v.severity == "error"])
    applied = pd.DataFrame(log, columns=["index", "action", "year", "active", "targets", "value",
                                         "source", "note"])
    return ScenarioInputs(scenario, links, demand, applied, tuple(bans))


def _warn_no_effect(links: pd.DataFrame, sel, mod, i: int, scenario: Scenario) -> None:
    """Warn (:class:`~karvan.freight.corridor.CorridorWarning`) about the links of an active
    modification it cannot change: opening an open link, closing one not in use, a sailing
    frequency on a link that is not a ferry or sea link (only those wait for a sailing). Links
    it names are each warned about; a selection by country, mode or border only when it can
    change none of its links."""
    import warnings

    from karvan.freight.corridor import CorridorWarning

    where = f"{scenario.name}: modification[{i}] ({mod.action}"
    status = links.loc[sel, "status"].astype(str)
    idle = []
    if mod.action == "open":
        idle = list(status.index[status == "open"])
        why = "already open"
    elif mod.action == "close":
        idle = list(status.index[status != "open"])
        why = "not in use (planned, under construction or closed)"
    elif mod.action in ("set", "scale") and mod.field == "frequency_per_week":
        mode = links.loc[sel, "mode"].astype(str)
        idle = list(mode.index[~mode.isin(["ferry", "sea"])])
        why = "not ferry or sea links, whose sailing frequency alone sets a wait"
        where += f" {mod.field}"
    elif mod.action == "scale" and mod.field not in TARIFF_FACTOR:
        # a blank field times a factor stays blank (a blank capacity is unlimited); tariffs
        # take a factor on the tables' value instead
        values = pd.to_numeric(links.loc[sel, mod.field], errors="coerce")
        idle = list(values.index[values.isna()])
        meaning = {"capacity_tpy": "unlimited", "frequency_per_week": "no scheduled sailing"}
        why = (f"blank in {mod.field} ({meaning.get(mod.field, 'none')}), and a blank times a "
               f"factor stays blank; to give them a value, use action = \"set\"")
        where += f" {mod.field}"
    named = set(getattr(mod, "links", []) or [])
    if not named and len(idle) < len(sel):
        # a selection by country, mode or border: links it cannot change among others are
        # not a mistake (closing a country's links takes its planned ones too)
        idle = []
    elif named:
        idle = [x for x in idle if x in named] or (idle if len(idle) == len(sel) else [])
    if idle:
        warnings.warn(f"{where}): {len(idle)} of its {len(sel)} links are {why}, so it "
                      f"changes nothing there ({format_ids(idle)}).", CorridorWarning,
                      stacklevel=3)


def _recheck(checker, schema, table: pd.DataFrame, rows, field: str, label: str, *,
             id_field: str | None) -> None:
    """Check ``rows`` of a changed table against its schema and keep the errors in ``field``,
    reported under ``label`` (the modification that made them)."""
    from karvan.schema import Checker

    if not len(rows):
        return
    part = table.loc[rows]
    part = part.reset_index() if id_field and part.index.name == id_field else part
    if id_field is None and "origin_zone_id" in part:  # a demand row is named by its key
        part = part.assign(od=part["origin_zone_id"].astype(str) + ">"
                           + part["destination_zone_id"].astype(str) + "/"
                           + part["commodity_id"].astype(str))
        id_field = "od"
    sub = Checker()
    sub.table(schema, part, name=label, id_field=id_field)
    for v in sub.violations:
        if v.severity == "error" and v.column == field:
            checker.add(v)
