"""Apply a scenario to the corridor: the link table and the demand of the scenario year.

What the modifications make of the tables is checked against the same schemas as the dataset's
files (``karvan/schema/corridor``): a speed set to 0, a sailing frequency scaled to 0, a demand
scaled beyond any plausible tonnage is reported with the modification that did it, before
anything reaches a solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids, raise_by_source
from karvan.freight.corridor import (  # noqa: F401 (most_specific_rule: re-exported)
    OVERSEAS_SHARES,
    YEARS_AFTER_BASE,
    YEARS_BEFORE_BASE,
    CorridorData,
    most_specific_rule,
    most_specific_rules,
    with_overseas_shares,
)
from karvan.freight.costs import TARIFF_FACTOR, halved_capacity, link_costs
from karvan.scenario.spec import Modification, Place, Scenario, nearest_name


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioInputs:
    """What a scenario turns the dataset into: links (with status) and demand in tonnes."""

    scenario: Scenario
    links: pd.DataFrame
    demand: pd.DataFrame  # origin_zone_id, destination_zone_id, commodity_id, tonnes_per_year
    applied: pd.DataFrame  # one row per modification: what it did
    #: transit bans in force, one per modification and country of its links: (frozenset of
    #: link ids, frozenset of od countries, frozenset of the links' country, whose own trade is
    #: not in transit there and is not banned; empty where that country is an od country)
    bans: tuple = ()


def _targets(links: pd.DataFrame, mod) -> pd.Index:
    """The links a modification acts on (what it names that the dataset lacks is reported by
    :func:`_reference_problems`)."""
    sel = links.index[links.index.isin(mod.links)]
    if mod.borders and "border_id" in links:
        sel = sel.union(links.index[links["border_id"].isin(mod.borders)])
    if mod.countries:
        m = links["country"].isin(mod.countries)
        if mod.modes:
            m &= links["mode"].isin(mod.modes)
        sel = sel.union(links.index[m])
    return sel


@dataclass(frozen=True, slots=True)
class _Known:
    """What a scenario file may name in a dataset."""

    links: frozenset
    borders: frozenset
    link_countries: frozenset
    modes: frozenset
    zone_countries: frozenset
    commodities: tuple

    @classmethod
    def of(cls, data: CorridorData) -> _Known:
        links = data.links
        borders = links["border_id"].dropna() if "border_id" in links else []
        return cls(frozenset(links.index), frozenset(borders),
                   frozenset(links["country"].dropna()), frozenset(links["mode"].dropna()),
                   frozenset(data.zone_country().values()), tuple(data.commodity_ids))


def _unknown(bad: list, known, *, cutoff: float = 0.8) -> str:
    """``bad`` named, with the nearest known spelling of each that has one (at least
    ``cutoff`` alike, or a part of it: :func:`~karvan.scenario.spec.nearest_name`)."""
    near = [(b, m) for b in bad[:5] if (m := nearest_name(b, known, cutoff=cutoff)) is not None]
    if not near:
        return format_ids(bad)
    if len(bad) == 1:
        return f"{format_ids(bad)} (did you mean {near[0][1]}?)"
    return (f"{format_ids(bad)} (did you mean "
            f"{', '.join(f'{m} for {b}' for b, m in near)}?)")


def _reference_problems(known: _Known, mod) -> list[str]:
    """What ``mod`` names that the dataset does not have, each with where to find the right
    name."""
    out = []

    def missing(values, have) -> list:
        return list(dict.fromkeys(v for v in values if v not in have))

    if bad := missing(mod.links, known.links):
        # a border id among the links is a border: say where it goes
        borders = [b for b in bad if b in known.borders]
        out.append(f"unknown link ids {_unknown(bad, known.links)}; give link_id values of "
                   "link.csv" + (f" ({format_ids(borders)}: a border id, to be given in "
                                 "borders = [...])" if borders else "") + ".")
    if bad := missing(mod.borders, known.borders):
        out.append(f"unknown border ids {_unknown(bad, known.borders)}; give border_id values "
                   f"of link.csv ({format_ids(sorted(known.borders), 8)}).")
    if bad := missing(mod.countries, known.link_countries):
        out.append(f"no links in countries {format_ids(bad)}; the links' countries are "
                   f"{format_ids(sorted(known.link_countries), 30)}.")
    if bad := missing(mod.modes, known.modes):
        # the modes are few and short: a plural (ferries) is as far from ferry as a typo of a
        # link id is from another id, and every mode is named
        out.append(f"unknown modes {_unknown(bad, known.modes, cutoff=0.6)}; the links have "
                   f"{format_ids(sorted(known.modes), len(known.modes))}.")
    if bad := missing(mod.od_countries, known.zone_countries):
        out.append(f"od_countries {format_ids(bad)} are not countries of the zones "
                   f"({format_ids(sorted(known.zone_countries), 30)}).")
    if mod.commodity is not None and mod.commodity not in known.commodities:
        out.append(f"unknown commodity {_unknown([mod.commodity], known.commodities)}; the "
                   f"commodities of commodity.csv are {', '.join(known.commodities)}.")
    for label in ("origin_country", "destination_country"):
        value = getattr(mod, label)
        if value is not None and value not in known.zone_countries:
            out.append(f"{label} {value!r} is not a country of the zones "
                       f"({format_ids(sorted(known.zone_countries), 30)}).")
    return out


def _why_no_demand(demand: pd.DataFrame, zone_country: dict, mod) -> str:
    """Why a demand_scale's filters match no demand row, for its message: what each filter
    matches alone, and the pairs the demand has for its origin (or destination), or the
    commodities of its pair; the filters are of countries and commodities the dataset has.

    The message of ``origin_country = "KZ"``, ``destination_country = "RU"`` was "its filters
    match no demand", without why: Kazakhstan's trade with Russia is not in the demand.
    """
    oc = demand["origin_zone_id"].map(zone_country)
    dc = demand["destination_zone_id"].map(zone_country)
    com = demand["commodity_id"]
    given = [(label, value, col) for label, value, col in (
        ("origin_country", mod.origin_country, oc),
        ("destination_country", mod.destination_country, dc),
        ("commodity", mod.commodity, com)) if value]
    alone = [f"{label} {value!r}{' matches' if k == 0 else ''} {int((col == value).sum()):,}"
             for k, (label, value, col) in enumerate(given)]
    out = ""
    if len(given) > 1:
        out = (f": {', '.join(alone[:-1])} and {alone[-1]} demand rows, but no row "
               f"{'both' if len(given) == 2 else 'all three'}")
    o, d, c = mod.origin_country, mod.destination_country, mod.commodity
    pair = (oc == o) & (dc == d) if o and d else None
    if pair is not None and c and pair.any():
        has = format_ids(sorted(set(com[pair])), 10)
        out += f"; the demand {o}>{d} is of {has}, not {c}"
    elif o:
        to = format_ids(sorted(set(dc[oc == o].dropna())), 20)
        out += f"; the demand from {o} goes to {to}" if to else f"; no demand leaves {o}"
    elif d:
        fro = format_ids(sorted(set(oc[dc == d].dropna())), 20)
        out += f"; the demand to {d} comes from {fro}" if fro else f"; no demand goes to {d}"
    what = ", ".join(x for x in (f"{o or '*'}>{d or '*'}" if o or d else "", c) if x)
    return (f"{out}. The dataset has no such trade ({what}): docs/dataset.md, Known gaps, "
            "\"Trade\", names the trade outside the corridor as modelled (Russia–Kazakhstan, "
            "Kazakhstan–China, Russia–China) and the trade without figures; remove the "
            "modification or change its filters.")


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
        named with its file, line and modification.

    Warns
    -----
    CorridorWarning
        Once there are no problems: modifications that change nothing, and values they leave
        allowed but unusual (a capacity of 11 t/yr), except those warned about when the
        scenario was loaded against the dataset (``scenario.warned``).
    """
    import warnings

    from karvan.freight.corridor import CorridorWarning

    # the warnings come after the problems, only where there are none: with warnings as
    # errors, one of them was raised in place of the list of problems
    inputs, said = applied_and_said(data, scenario)
    for text in said:
        warnings.warn(text, CorridorWarning, stacklevel=2)
    return inputs


def applied_and_said(data: CorridorData, scenario: Scenario
                     ) -> tuple[ScenarioInputs, list[str]]:
    """:func:`apply_scenario` without warning: the scenario year's tables and the texts of the
    warnings it would give. The warnings module's state is process-wide, so code that runs in
    threads (the dashboard's) takes them so rather than catching them.

    Raises
    ------
    InputError
        As :func:`apply_scenario`.
    """
    inputs, problems, violations, _, said = _apply(data, scenario, warn=True)
    raise_by_source(problems, violations=violations)
    return inputs, said


def scenario_problems(data: CorridorData, scenario: Scenario, *,
                      unparsed: Sequence[tuple[Place, Modification]] = ()
                      ) -> list[tuple[str, str]]:
    """What :func:`apply_scenario` would report as errors, without raising or warning: the
    problems of :func:`check_scenario`.

    Examples
    --------
    >>> from karvan.freight.corridor import load_corridor
    >>> from karvan.scenario import load_scenario
    >>> scenario_problems(load_corridor(), load_scenario("rasht_astara"))
    []
    """
    return check_scenario(data, scenario, unparsed=unparsed)[0]


def check_scenario(data: CorridorData, scenario: Scenario, *,
                   unparsed: Sequence[tuple[Place, Modification]] = ()
                   ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What :func:`apply_scenario` would report, without raising or warning: its problems, and
    the values its modifications leave allowed but unusual by the link schema's ``warnings``
    bounds (a capacity of 11 t/yr, a unit slip for 11 Mt/yr), which it warns about.

    Parameters
    ----------
    data, scenario
        The dataset and the scenario (its modifications that passed the scenario schema).
    unparsed
        Modifications of the scenario's files that failed the schema, built from their
        well-typed ids (:func:`karvan.scenario.load_scenario` with ``data``): their ids are
        checked too.

    Returns
    -------
    problems, unusual : list of (str, str)
        ``(file, text)`` pairs, the text named by its line and modification; both empty if the
        scenario applies cleanly. ``f"{file}: {text}"`` of an unusual value is the text of
        :func:`apply_scenario`'s warning.

    Examples
    --------
    >>> from karvan.freight.corridor import load_corridor
    >>> from karvan.scenario import load_scenario
    >>> check_scenario(load_corridor(), load_scenario("rasht_astara"))
    ([], [])
    """
    _, problems, _, unusual, _ = _apply(data, scenario, warn=False)
    known = _Known.of(data)
    top = str(scenario.path) if scenario.path else scenario.name
    for place, mod in unparsed:
        what = f" ({mod.action})" if mod.action else ""
        problems.extend((str(place.file) if place.file else top, f"{place.label()}{what}: {m}")
                        for m in _reference_problems(known, mod))
    return problems, unusual


def _where(scenario: Scenario, i: int) -> tuple[str, str]:
    """The file of modification ``i`` of ``scenario`` and its place there."""
    top = str(scenario.path) if scenario.path else scenario.name
    if i < len(scenario.places):
        place = scenario.places[i]
        return (str(place.file) if place.file else top), place.label()
    if scenario.places:  # beyond the places of its files: added in Python, in no file
        return scenario.name, f"modification[{i}] (added in Python, not in {top})"
    return top, f"modification[{i}]"


def _check_links_in_memory(data: CorridorData) -> None:
    """Check ``data.links`` against the link schema where it is no longer the table
    :func:`~karvan.freight.corridor.load_corridor` checked (changed in memory, or another
    table put in with ``dataclasses.replace``): a blank speed on a rail line gave it a running
    time of 0 in silence, where link.csv with the same blank is refused.

    Raises
    ------
    InputError
        Every problem of the table, named by link id.
    """
    from karvan.schema import Checker, load_schema

    checked = data.tables.get("link")
    if checked is None or data.links.equals(checked.set_index("link_id", drop=True)):
        return
    c = Checker()
    # the index is the link ids, whatever it is called (pd.concat drops its name)
    c.table(load_schema("corridor/link"), data.links.rename_axis("link_id").reset_index(),
            name="data.links", id_field="link_id")
    if c.errors():
        raise InputError(c.errors(), "data.links (changed since load_corridor read link.csv)",
                         violations=c.violations)


def _apply(data: CorridorData, scenario: Scenario, *, warn: bool
           ) -> tuple[ScenarioInputs, list[tuple[str, str]], list, list[tuple[str, str]],
                      list[str]]:
    """The scenario's tables, its problems as ``(file, problem)`` pairs, their violations and
    the unusual values its modifications leave as ``(file, text)`` pairs; if ``warn``,
    modifications that change nothing are warned about, and unusual values that
    ``scenario.warned`` does not hold (warned about when it was loaded)."""
    from karvan.schema import load_schema

    _check_links_in_memory(data)
    said: list[str] = []  # what to warn of, where ``warn``
    problems: list[tuple[str, str]] = []
    violations: list = []
    notes: list[tuple[str, str]] = []
    top = str(scenario.path) if scenario.path else scenario.name
    lo, hi = data.base_year - YEARS_BEFORE_BASE, data.base_year + YEARS_AFTER_BASE
    year = scenario.year
    if not lo <= year <= hi:
        problems.append((top, f"year {year} is outside {lo}..{hi}, the years this dataset "
                              f"supports (base year {data.base_year}, growth rates not "
                              f"extrapolated beyond {YEARS_AFTER_BASE} years ahead or "
                              f"{YEARS_BEFORE_BASE} back)."))
        year = min(max(year, lo), hi)  # the other checks still run, on the nearest year
    links = data.links.copy()
    # the overseas shares stay with their cells: growth, levels and factors scale a cell whole
    demand = with_overseas_shares(data.demand)[
        ["origin_zone_id", "destination_zone_id", "commodity_id", "tonnes_per_year",
         *OVERSEAS_SHARES]].copy()
    demand["tonnes_per_year"] = demand["tonnes_per_year"] * growth_factors(data, demand, year)
    link_schema = load_schema("corridor/link")
    demand_schema = load_schema("corridor/demand")

    def recheck(file, schema, table, rows, field, label, id_field):
        msgs, found, unusual = _recheck(schema, table, rows, field, label, id_field=id_field)
        problems.extend((file, m) for m in msgs)
        violations.extend(found)
        return unusual

    if year == scenario.year:
        recheck(top, demand_schema, demand, demand.index, "tonnes_per_year",
                f"demand grown to {year}", None)
    known = _Known.of(data)
    zc = data.zone_country()
    log = []
    bans: list = []
    later: list[tuple[str, str, int]] = []  # inherited modifications that open after the year
    written: dict = {}  # (file, link, field) -> (place, year, action) of the last change
    # (link, field) -> (file, place, action, number) of each set or scale in force since the
    # last set, in every file of the chain
    compounding: dict = {}
    opening: list[tuple[str, str, list, bool]] = []  # (file, place, links it opens, own)
    later_opened: set = set()  # links that inherited modifications open after the year
    for i, mod in enumerate(scenario.modifications):
        active = mod.in_force(scenario.year)
        file, place = _where(scenario, i)
        if not active and mod.year is not None and mod.year > scenario.year:
            later.append((file, place, mod.year))
        wrong = _reference_problems(known, mod)
        problems.extend((file, f"{place} ({mod.action}): {m}") for m in wrong)
        own = (scenario.path is not None and i < len(scenario.places)
               and scenario.places[i].file is not None
               and Path(scenario.places[i].file) == Path(scenario.path))
        if warn and not active and own:
            # the scenario's own modification (not one of the files it extends, whose periods
            # are theirs) that its year leaves out: it changes nothing, which nothing said
            span = (f"from {mod.year}" if mod.until is None else
                    f"until {mod.until}" if mod.year is None else f"{mod.year}-{mod.until}")
            said.append(f"{file}: {place} ({mod.action}) is in force {span}, not in the "
                        f"scenario's year {scenario.year}: it changes nothing in this run; "
                        "change its year or until, or the scenario's year.")
        if mod.action == "demand_scale":
            sel = np.ones(len(demand), dtype=bool)
            if mod.origin_country:
                sel &= demand["origin_zone_id"].map(zc).eq(mod.origin_country).to_numpy()
            if mod.destination_country:
                sel &= demand["destination_zone_id"].map(zc).eq(mod.destination_country).to_numpy()
            if mod.commodity:
                sel &= (demand["commodity_id"] == mod.commodity).to_numpy()
            if not sel.any() and not wrong:
                problems.append((file, f"{place} (demand_scale): its filters match no demand"
                                       f"{_why_no_demand(demand, zc, mod)}"))
            if active:
                before = float(demand.loc[sel, "tonnes_per_year"].sum())
                demand.loc[sel, "tonnes_per_year"] *= mod.factor
                recheck(file, demand_schema, demand, demand.index[sel], "tonnes_per_year",
                        f"{place} (demand_scale x {mod.factor:g})", None)
                if warn and mod.factor >= DEMAND_SLIP and sel.any():
                    # x1000 made 105 Gt of demand in silence (a percent or a unit slip)
                    said.append(f"{file}: {place} (demand_scale x {mod.factor:g}) takes "
                                f"{int(sel.sum())} demand rows from {before / 1e6:,.1f} to "
                                f"{before * mod.factor / 1e6:,.1f} Mt/yr (allowed, but "
                                "unusual: a factor multiplies, 1.5 is +50 %).")
                if warn and mod.factor == 0 and not (mod.origin_country or mod.destination_country
                                                     or mod.commodity):
                    # the run carried nothing, and said nothing
                    said.append(f"{file}: {place} (demand_scale x 0) with no origin_country, "
                                "destination_country or commodity removes all demand: the run "
                                "carries nothing (allowed, but unusual: give a filter to remove "
                                "part of it).")
            log.append((i, mod.action, mod.year, active, f"{int(sel.sum())} demand rows",
                        "tonnes_per_year", mod.factor, mod.source, mod.note))
            continue
        sel = _targets(links, mod)
        if not active and not own and mod.action == "open" and mod.year is not None and (
                mod.year > scenario.year):
            later_opened.update(map(str, sel))
        if warn and active and mod.action in ("set", "scale", "open", "close"):
            said.extend(_repeated(written, sel, mod, file, place, top))
        if active and mod.action in ("set", "scale") and len(sel):
            compounds = _compounded(compounding, links, sel, mod, file, place, scenario.year)
            said.extend(compounds if warn else [])
        if not len(sel) and not wrong and mod.countries:
            # countries and modes that share no link changed nothing, in silence
            hint = (" (a border crossing's links carry one of its two countries in link.csv's "
                    "country column: select crossings by borders = [...])"
                    if "border" in (mod.modes or []) else "")
            problems.append((file, f"{place} ({mod.action}): no link has country "
                                   f"{format_ids(mod.countries)} and mode "
                                   f"{format_ids(mod.modes or [])}{hint}; fix countries or "
                                   "modes, or name the links."))
        if active and len(sel):
            if warn:
                said.extend(_no_effect(links, sel, mod, scenario, file, place,
                                       later=scenario.modifications[i + 1:]))
            was = (pd.to_numeric(links.loc[sel, mod.field], errors="coerce")
                   if mod.action in ("set", "scale") and mod.field == "capacity_tpy" else None)
            halved = (links.loc[sel][halved_capacity(links.loc[sel])].copy()
                      if was is not None and mod.action == "set" else None)
            if mod.action == "open":
                # inherited ones too: a closure of the scenario's own can leave them leading
                # nowhere (south_caucasus_unblocked's Horadiz-Aghband line, Aghband closed)
                opening.append((file, place, list(sel[links.loc[sel, "status"] != "open"]),
                                own or scenario.path is None))
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
                blank = []
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
                if warn and active and len(sel) and mod.factor >= DEMAND_SLIP:
                    # x50 meant as +50 % passed in silence (the capacity check warns from x100)
                    said.append(f"{file}: {place} (scale {mod.field} x {mod.factor:g}) "
                                f"multiplies {mod.field} of {len(sel)} links by "
                                f"{mod.factor:g} (allowed, but unusual: a factor multiplies, "
                                "1.5 is +50 %).")
            elif mod.action == "ban_transit":
                # one ban per country of the banned links, which leaves that country's own
                # trade alone on its own links only: written by links or borders, the links'
                # country bans; written for Azerbaijan and Georgia, Armenia's trade with
                # Azerbaijan still may not cross Georgia
                od = frozenset(mod.od_countries)
                where = (links.loc[sel, "country"].astype(str) if "country" in links
                         else pd.Series("", index=sel))
                groups = where.groupby(where, sort=True).groups if len(sel) else {"": sel}
                for c, ids in groups.items():
                    bans.append((frozenset(ids), od, frozenset({c} - {""}) - od))
            if mod.action in ("set", "scale"):
                how = f"= {mod.value:g}" if mod.action == "set" else f"x {mod.factor:g}"
                label = f"{place} ({mod.action} {mod.field} {how})"
                unusual = recheck(file, link_schema, links, sel, mod.field, label, "link_id")
                if mod.action == "scale" and mod.field in TARIFF_FACTOR and blank:
                    # the tables' tariff times the factor is checked as a link's own would be
                    # (x1000 on Iran's rail gave USD 12,580/t where a link's own USD 20/t-km
                    # is refused)
                    taken = links.loc[blank].copy()
                    taken[mod.field] = link_costs(data, taken)[mod.field]
                    unusual += recheck(file, link_schema, taken, taken.index, mod.field,
                                       f"{label}, on the tariff of tariff.csv", "link_id")
                texts = [_unusual_text(unusual, mod.field, label)] if unusual else []
                if mod.field == "capacity_tpy" and mod.borders and "border_id" in links:
                    # a crossing is a rail and a road link: one figure is set on each
                    bid = links.loc[sel, "border_id"]
                    several = [b for b in mod.borders if (bid == b).sum() > 1]
                    if several:
                        each = list(bid.index[bid.isin(several)])
                        texts.append(f"{label}: {mod.field} is set on each of the links of "
                                     f"{format_ids(several)} ({format_ids(each)}), not shared "
                                     "by the crossing's rail and road (allowed, but unusual: to "
                                     "set one of them, name it in links = [...]).")
                if was is not None and not unusual:  # one warning for a value
                    texts += _far_from_before(was, links.loc[sel, mod.field], label)
                    texts += _below_the_datasets(data.links, was, links.loc[sel], label)
                if halved is not None and len(halved):
                    texts += _set_on_halved(halved, links.loc[halved.index, mod.field], label)
                for text in texts:
                    notes.append((file, text))
                    if warn and f"{file}: {text}" not in scenario.warned:
                        said.append(f"{file}: {text}")
        value = mod.value if mod.action == "set" else mod.factor
        log.append((i, mod.action, mod.year, active, ";".join(map(str, sel)), mod.field or "",
                    value, mod.source, mod.note))
    if warn and any(ids for _, _, ids, _ in opening):
        # a border opened with the lines on either side still closed carried 0 t, in silence
        from karvan.scenario.dead_ends import dead_end_links, dead_end_stops, dead_end_text

        zones = set(data.zones["node_id"])
        dead = dead_end_links(links, zones)
        for file, place, ids, own in opening:
            if not dead.intersection(ids):
                continue
            stops = dead_end_stops(links, dead, ids, zones)
            if not own and stops and {x for idle in stops.values() for x in idle} <= (
                    later_opened):
                continue  # an inherited opening that waits for what opens after the year: said
            text = dead_end_text(links, dead, ids, zones, year)
            if not own:  # what cut it off is the scenario's own: its closures
                text += (f" It is inherited: {top}'s own modifications leave it so; close it "
                         "too in this scenario to leave it out, or open what it needs.")
            said.append(f"{file}: {place} (open): {text}")
    applied = pd.DataFrame(log, columns=["index", "action", "year", "active", "targets", "field",
                                         "value", "source", "note"])
    if warn:
        said.extend(_reference_left_out(scenario, data.base_year, top, known))
    if warn and scenario.year < data.base_year and not any(
            str(c).startswith("backcast_") for c in scenario.chain):
        # a year before the base year runs on the base year's network, in silence
        from karvan.scenario.reference import backcast_years

        said.append(f"{top}: year {scenario.year} is before the base year {data.base_year}: "
                    f"this run has the {data.base_year} network with the scenario's "
                    f"modifications and the demand grown back by growth.csv; only karvan's "
                    f"back-casts ({', '.join(f'backcast_{y}' for y in backcast_years())}) have "
                    "the network of their year. Give a year from the base year on, unless the "
                    "base year's network is what you mean.")
    inherited = [x for x in later if scenario.path is None or Path(x[0]) != Path(scenario.path)]
    if warn and inherited:
        # a scenario whose year comes before changes it inherits runs without them, in
        # silence: a scenario of 2026 extending combined_2030 ran 3 of its 14 modifications
        files = list(dict.fromkeys(Path(f).name for f, _, _ in inherited))
        first = ", ".join(f"{Path(f).name} {pl} ({y})" for f, pl, y in inherited[:3])
        more = f" and {len(inherited) - 3} more" if len(inherited) > 3 else ""
        said.append(f"{top}: {len(inherited)} modification(s) it inherits from "
                    f"{', '.join(files)} come into force after its year {scenario.year} and "
                    f"are not in force in this run: {first}{more}.")
    return (ScenarioInputs(scenario, links, demand, applied, tuple(bans)), problems, violations,
            notes, said)


def _reference_left_out(scenario: Scenario, base_year: int, top: str, known: _Known
                        ) -> list[str]:
    """What is said of a project scenario that extends nothing of its like-year reference's
    chain while that reference has modifications in force in its year: its effect against the
    reference (users' benefit, compare) then holds their removal too. A 2024 scenario written
    without ``extends = "baseline"`` dropped the baseline's transit bans in silence, and its
    benefit came out 16.2 M USD/yr where its own change gave 0.5."""
    from karvan.scenario.reference import like_year_reference

    if scenario.year < base_year:  # said apart: the back-casts alone have their year's network
        return []
    ref = like_year_reference(scenario, base_year=base_year)
    if ref is None or set(ref.chain) & set(scenario.chain):
        return []
    # (those the dataset has the links, borders and countries of: a dataset of its own may
    # have none of the baseline's)
    kept = [m for m in ref.modifications
            if m.in_force(scenario.year) and not _reference_problems(known, m)]
    if not kept:
        return []
    what = "; ".join(f"{m.action} {';'.join(m.links or m.borders or m.countries or ())}".strip()
                     for m in kept[:3])
    more = f" and {len(kept) - 3} more" if len(kept) > 3 else ""
    root = ref.chain[-1]
    return [f"{top}: extends nothing of {ref.name}, whose {len(kept)} modification(s) in force "
            f"in {scenario.year} ({what}{more}) are not in it: its difference from {ref.name} "
            f"(users' benefit, karvan compare) holds their removal as well as its own changes. "
            f"Add extends = \"{root}\" to keep them, unless leaving them out is meant."]


#: a demand factor from which a scale is warned of (a percent written for a factor: 150)
DEMAND_SLIP = 10.0

#: a capacity a modification sets this many times below (or above) the dataset's is more
#: likely a unit slip (5000 for 5 Mt/yr written in kt) than a scenario
CAPACITY_SLIP = 100.0


def _far_from_before(was: pd.Series, now: pd.Series, label: str) -> list[str]:
    """What is said where a modification leaves a capacity more than :data:`CAPACITY_SLIP`
    times below or above the link's before it (a value in kt or Mt/yr written for t/yr: 5000
    for 5 Mt/yr filled a terminal in silence, far above the schema's bound of 100 t/yr)."""
    now = pd.to_numeric(now, errors="coerce")
    far = (was > 0) & (now > 0) & ((now < was / CAPACITY_SLIP) | (now > was * CAPACITY_SLIP))
    if not far.any():
        return []
    ids = format_ids(far.index[far.to_numpy()])
    pairs = format_ids(f"{b:,.0f} -> {a:,.0f}" for b, a in zip(was[far], now[far], strict=True))
    return [f"{label}: capacity_tpy of {ids} goes from {pairs} t/yr, more than "
            f"{CAPACITY_SLIP:g} times (allowed, but unusual: check the unit of capacity_tpy, "
            "t/yr; to shut a link, close it)."]


def _set_on_halved(before: pd.DataFrame, now: pd.Series, label: str) -> list[str]:
    """What is said where a ``set`` of ``capacity_tpy`` lands on links whose capacity was twice
    their ``capacity_tpy`` (``before``: those links before it,
    :func:`~karvan.freight.costs.halved_capacity`): the value set bounds both directions
    together, so link.csv's figure set again halved a crossing in silence."""
    per = pd.to_numeric(before["capacity_tpy"], errors="coerce")
    new = pd.to_numeric(now, errors="coerce")
    # a set that lowers the capacity (the column's own figure set again halves it); a raise is
    # taken as meant
    moved = new < 2.0 * per * (1 - 1e-9)
    if not moved.any():
        return []
    parts = [f"{i} from {2 * w:,.0f} to {a:,.0f} (x{a / (2 * w):.2f}; its capacity_tpy "
             f"{w:,.0f} is each direction's half of {before.at[i, 'capacity_value']:,.0f} "
             f"{before.at[i, 'capacity_unit']})"
             for i, w, a in zip(per.index[moved], per[moved], new[moved], strict=True)]
    return [f"{label}: a capacity set on a link that both directions share bounds them "
            f"together: {'; '.join(parts)}, t/yr of both directions (allowed; to keep the "
            "published throughput, set twice its capacity_tpy)."]


#: a capacity set on a link that had none is more likely a unit slip (2000 for 2 Mt/yr written
#: in kt) when it is this many times below the smallest the dataset gives a link of its kind
CAPACITY_FLOOR = 10.0


def capacity_floors(links: pd.DataFrame) -> tuple[dict[tuple[str, str], float], float]:
    """The smallest capacity (t/yr) the dataset's ``links`` give a link of each mode and
    element (``("ferry", "ferry")``, ``("transfer", "port")``), and the smallest of any link;
    kinds none of whose links has a capacity are left out.

    Examples
    --------
    >>> links = pd.DataFrame({"mode": ["rail", "rail", "ferry"], "element": ["line"] * 2
    ...                       + ["ferry"], "capacity_tpy": [7e6, 15e6, None]})
    >>> capacity_floors(links)
    ({('rail', 'line'): 7000000.0}, 7000000.0)
    """
    cap = pd.to_numeric(links["capacity_tpy"], errors="coerce")
    has = cap > 0
    if not has.any():
        return {}, float("nan")
    kinds = links.loc[has, ["mode", "element"]].astype(str)
    least = cap[has].groupby([kinds["mode"], kinds["element"]]).min()
    return {k: float(v) for k, v in least.items()}, float(cap[has].min())


def _below_the_datasets(dataset: pd.DataFrame, was: pd.Series, now: pd.DataFrame,
                        label: str) -> list[str]:
    """What is said where a modification (``label``) gives a capacity to links that had none
    (``was`` blank: unlimited) below what the dataset makes plausible: 2000 for 2 Mt/yr written
    in kt on the Caspian ferries, which have no capacity, bound them at 100 % with a shadow
    price of 81 USD/t in silence (:func:`_far_from_before` needs a capacity before).

    The rule, on the dataset alone (``dataset``, its links before the scenario): a capacity
    below a tenth (:data:`CAPACITY_FLOOR`) of the smallest capacity the dataset gives a link of
    the same mode and element (a ferry against the ferries, a port against the ports) is
    warned of; where no link of that kind has a capacity, against the smallest capacity of any
    link (2 Mt/yr in the built-in dataset: a ferry's floor is 200,000 t/yr). The schema's own
    bound (100 t/yr) is warned of before this, and a capacity that replaces another is compared
    with it (:data:`CAPACITY_SLIP`).
    """
    if not {"mode", "element"} <= set(dataset.columns):
        return []
    floors, least = capacity_floors(dataset)
    cap = pd.to_numeric(now["capacity_tpy"], errors="coerce")
    kind = list(zip(now["mode"].astype(str), now["element"].astype(str), strict=True))
    floor = pd.Series([floors.get(k, least) for k in kind], index=now.index, dtype=float)
    low = (was.isna() | (was <= 0)) & (cap > 0) & (cap < floor / CAPACITY_FLOOR)
    if not low.any():
        return []
    ids = list(low.index[low.to_numpy()])
    vals = format_ids(sorted({f"{v:,.0f}" for v in cap[low]}))
    kinds = sorted({kind[now.index.get_loc(x)] for x in ids})
    against = "; ".join(
        f"{m if m == e else f'{m} {e}'}: "
        + (f"{floors[(m, e)]:,.0f} t/yr" if (m, e) in floors else
           f"none has one, the smallest of any link is {least:,.0f} t/yr")
        for m, e in kinds)
    return [f"{label}: capacity_tpy {vals} t/yr on {format_ids(ids)}, which had none "
            "(unlimited), is below a tenth of the smallest capacity the dataset gives a link of "
            f"its kind ({against}) (allowed, but unusual: check the unit: capacity_tpy is in "
            "t/yr, 2 Mt/yr is 2000000)."]


def _unusual_text(hits: list, field: str, label: str) -> str:
    """What is said where a modification (``label``) leaves a value allowed but unusual by the
    link schema's ``warnings`` bounds (``hits``, the violations :func:`_recheck` found), as a
    dataset's load says it (a capacity of 11 t/yr, a unit slip for 11 Mt/yr, queued freight for
    2,000 hours)."""
    ids = format_ids(v.row_id for v in hits)
    vals = format_ids(sorted({str(v.value) for v in hits}))
    return (f"{label}: {field} {vals} on {ids}: {hits[0].problem} (allowed, but unusual: "
            f"check the unit of {field}).")


def _repeated(written: dict, sel, mod, file: str, place: str, top: str) -> list[str]:
    """What is said where a modification in force changes what an earlier one of the same file
    changed on the same links it names (two capacities of one terminal, an open then a close of
    one link): only the later listed counts, which nothing said. A later year is a stage, not
    a repeat (a capacity raised in 2027 and again in 2029); a file that extends another may
    change what its parent set; a selection by country may be narrowed by a later one.

    A set after a scale of the same field discards the scale, and is said so; a scale is only
    recorded here (what it does after another scale or a set is :func:`_compounded`'s)."""
    named = set(mod.links or [])
    if mod.borders:
        named |= set(sel)  # a border names its links
    field_ = mod.field if mod.action in ("set", "scale") else "status"
    before: dict = {}
    for x in sorted(named & set(sel)):
        key = (file, x, field_)
        if key in written and mod.action != "scale":
            before.setdefault(written[key], []).append(x)
        written[key] = (place, mod.year, mod.action)
    out = []
    where = "" if file == top else f"{file}: "
    for (earlier, year, action), ids in before.items():
        if mod.year is not None and (year is None or mod.year > year):
            continue  # a later stage
        fix = ("list them by year (the later listed counts)" if year is not None
               and mod.year is not None and mod.year < year else
               "remove one of them, or give the later one a later year")
        if action == "scale":
            out.append(f"{top}: {where}{place} ({mod.action}) sets the {field_} of "
                       f"{format_ids(ids)} that {earlier} (scale) of the same file scaled in "
                       "force in the same years: the set discards the scale, only the later "
                       f"listed counts; {fix}.")
            continue
        out.append(f"{top}: {where}{place} ({mod.action}) changes the {field_} of "
                   f"{format_ids(ids)} that {earlier} of the same file changed in force in the "
                   f"same years: only the later listed counts; {fix}.")
    return out


def _compounded(history: dict, links: pd.DataFrame, sel, mod, file: str, place: str,
                year: int) -> list[str]:
    """What is said where a scale in force multiplies a field of links that an earlier set or
    scale in force (of any file of the chain: a parent's as well) changed: two ``factor = 2``
    on frequency_per_week give x 4, a scale after ``value = 10`` gives 20, in silence before.
    Compounding is what two scales mean (each multiplies what it finds), so it is allowed; the
    warning names each place, file and line, and the resulting factor or value. A later set
    starts again (it discards what came before); a blank field a scale leaves blank is not
    said (:func:`_no_effect` says it). ``history`` is updated with ``mod`` (in force); ``links``
    are the links before it applies, ``year`` the scenario's."""
    number = float(mod.value if mod.action == "set" else mod.factor)
    field_ = mod.field
    groups: dict[tuple, list] = {}
    for x in sel:
        seq = history.setdefault((x, field_), [])
        if mod.action == "set":
            seq.clear()
        elif seq and (field_ in TARIFF_FACTOR or pd.notna(links.at[x, field_])):
            groups.setdefault(tuple(seq), []).append(x)
        seq.append((file, place, mod.action, number))
    out = []
    for seq, ids in groups.items():
        earlier = ", then ".join(f"{Path(f).name} {p} ({a} {'= ' if a == 'set' else 'x '}{n:g})"
                                 for f, p, a, n in seq)
        factors = [n for _, _, a, n in seq if a == "scale"] + [number]
        product = float(np.prod(factors))
        steps = " x ".join(f"{n:g}" for n in factors)
        if seq[0][2] == "set":
            result = f"{field_} = {seq[0][3]:g} x {steps} = {seq[0][3] * product:g}"
            fix = "to give the value, set it alone"
        else:
            result = f"x {steps} = x {product:g} on the {field_} before them"
            fix = ("where each factor was meant on the value before them all, write one "
                   "scale with the factor meant")
        out.append(f"{file}: {place} (scale {field_} x {mod.factor:g}) multiplies the {field_} "
                   f"of {format_ids(ids)} that {earlier} changed before it (all in force in "
                   f"{year}): they compound, {result} (allowed; {fix}).")
    return out


def _no_effect(links: pd.DataFrame, sel, mod, scenario: Scenario, file: str,
               place: str, *, later: Sequence[Modification] = ()) -> list[str]:
    """What is said of the links of an active modification it cannot change: opening an open
    link, closing one not in use, a value set on a link not in use that nothing in force
    opens, a transit ban on links none of which is in use or opened, a sailing frequency on a
    link that is not a ferry or sea link (only those wait for a sailing), a speed on a link of
    length 0 (a transfer, port or border element, whose time is its dwell; unless a ``later``
    modification of the scenario sets its length), a scale of a blank field. Each is looked at
    apart; links it names are each said, a selection by country, mode or border only when none
    of its links can be changed that way."""
    # the file of the modification, as every other message of a scenario names it
    where = f"{file}: {place} ({mod.action}"
    status = links.loc[sel, "status"].astype(str)
    found: list[tuple[list, str, str]] = []  # (links, why, the field said after the action)
    if mod.action == "open":
        found.append((list(status.index[status == "open"]), "already open", ""))
    elif mod.action == "close":
        found.append((list(status.index[status != "open"]),
                      "not in use (planned, under construction or closed)", ""))

    def opened() -> set:  # the links a modification in force after it opens
        return {x for m in [*later, mod] if m.in_force(scenario.year) and m.action == "open"
                for x in _targets(links, m)}

    if (mod.action == "ban_transit" and not (status == "open").any()
            and not opened() & set(sel)):
        # a ban on links that carry nothing bans nothing, as a close of them closes nothing
        found.append((list(status.index), "not in use (planned, under construction or "
                      f"closed) and nothing opens them in {scenario.year}: no freight crosses "
                      "them; open them (action = \"open\") or ban on links in use", ""))
    if mod.action in ("set", "scale") and not (status == "open").all():
        # a value on a link not in use changes nothing in this run, unless a modification in
        # force opens it
        found.append(([x for x in status.index[status != "open"] if x not in opened()],
                      "not in use (planned, under construction or closed) and nothing opens "
                      f"them in {scenario.year}: open them (action = \"open\") or pick links "
                      "in use", f" {mod.field}"))
    if mod.action in ("set", "scale") and mod.field == "frequency_per_week":
        mode = links.loc[sel, "mode"].astype(str)
        found.append((list(mode.index[~mode.isin(["ferry", "sea"])]),
                      "not ferry or sea links, whose sailing frequency alone sets a wait",
                      f" {mod.field}"))
    if mod.action in ("set", "scale") and mod.field == "speed_kph":
        # time_h = length_km / speed_kph + dwell_h: no length, no running time at any speed
        length = pd.to_numeric(links.loc[sel, "length_km"], errors="coerce").fillna(0.0)
        lengthened = {x for m in later if m.in_force(scenario.year) and m.action == "set"
                      and m.field == "length_km" and m.value for x in _targets(links, m)}
        found.append(([x for x in length.index[length <= 0] if x not in lengthened],
                      "of length 0 (transfer, port or border elements, whose time is their "
                      "dwell_h alone: set dwell_h to change it)", f" {mod.field}"))
    if mod.action == "scale" and mod.field not in TARIFF_FACTOR:
        # a blank field times a factor stays blank (a blank capacity is unlimited); tariffs
        # take a factor on the tables' value instead
        values = pd.to_numeric(links.loc[sel, mod.field], errors="coerce")
        meaning = {"capacity_tpy": "unlimited", "frequency_per_week": "no scheduled sailing"}
        found.append((list(values.index[values.isna()]),
                      f"blank in {mod.field} ({meaning.get(mod.field, 'none')}), and a blank "
                      "times a factor stays blank; to give them a value, use action = \"set\"",
                      f" {mod.field}"))
    named = set(getattr(mod, "links", []) or [])
    out = []
    said: set = set()  # a link is said once, under the first reason found for it
    for idle, why, field_ in found:
        idle = [x for x in idle if x not in said]
        if not named and len(idle) < len(sel):
            # a selection by country, mode or border: links it cannot change among others are
            # not a mistake (closing a country's links takes its planned ones too)
            continue
        if named:
            idle = [x for x in idle if x in named] or (idle if len(idle) == len(sel) else [])
        if idle:
            said |= set(idle)
            out.append(f"{where}{field_}): {len(idle)} of its {len(sel)} links are {why}, so "
                       f"it changes nothing there ({format_ids(idle)}).")
    return out


def _recheck(schema, table: pd.DataFrame, rows, field: str, label: str, *,
             id_field: str | None) -> tuple[list[str], list, list]:
    """Check ``rows`` of a changed table against its schema: the messages and violations of the
    errors in ``field``, reported under ``label`` (the modification that made them), and the
    violations of its warning bounds (allowed but unusual values)."""
    from karvan.schema import Checker

    if not len(rows):
        return [], [], []
    part = table.loc[rows]
    part = part.reset_index() if id_field and part.index.name == id_field else part
    if id_field is None and "origin_zone_id" in part:  # a demand row is named by its key
        part = part.assign(od=part["origin_zone_id"].astype(str) + ">"
                           + part["destination_zone_id"].astype(str) + "/"
                           + part["commodity_id"].astype(str))
        id_field = "od"
    sub = Checker()
    sub.table(schema, part, name=label, id_field=id_field)
    out = Checker()
    for v in sub.violations:
        if v.severity == "error" and v.column == field:
            out.add(v)
    unusual = [v for v in sub.violations if v.severity == "warning" and v.column == field]
    return out.errors(), list(out.violations), unusual
