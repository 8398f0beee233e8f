"""The corridor dataset: GMNS network tables with freight columns, and the freight tables beside
them (commodities, tariffs, demand, growth, observed volumes, sources).

Every row carries ``source``, ``source_date`` and ``confidence`` (official, operator, press,
estimate or assumption); an assumption names its ``method``. :func:`load_corridor` checks all of
that against the tables' schemas (``karvan/schema/corridor``), with the ids and references
between tables, and reports every problem at once.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from karvan.errors import InputError, catch_warnings, format_ids

if TYPE_CHECKING:
    from karvan.io.validate import ValidationReport

#: scenario years a dataset supports: growth rates are not extrapolated further than this from
#: the base year (back-casts before it, scenarios after it)
YEARS_BEFORE_BASE = 10
YEARS_AFTER_BASE = 50

CONFIDENCE = ("official", "operator", "press", "estimate", "assumption")
MODES = ("rail", "road", "sea", "ferry", "transfer", "border")
STATUSES = ("open", "closed", "planned", "under_construction")


class CorridorWarning(UserWarning):
    """A value of a corridor table that is allowed but unusual (beyond a schema's ``warnings``
    bounds), or read leniently: the data load, and the warning says what to check."""


@dataclass(frozen=True, slots=True, eq=False)
class CorridorData:
    """The tables of a corridor dataset, checked.

    ``nodes`` and ``links`` are indexed by their ids (GMNS), the other tables are plain frames.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    zones: pd.DataFrame
    commodities: pd.DataFrame
    tariffs: pd.DataFrame
    demand: pd.DataFrame
    growth: pd.DataFrame
    observed: pd.DataFrame
    sources: pd.DataFrame
    tariffs_by_commodity: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    folder: Path | None = None
    base_year: int = 2024
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Every table read, checked and typed, by table name (including those without a field of
    their own here, such as ``route_option`` and ``shipper_od``)."""

    @property
    def prior_demand(self) -> pd.DataFrame:
        """``demand.csv`` as written (the generator's table, the prior of OD estimation);
        :attr:`demand` is the same rows with ``od_estimate.csv``'s tonnes where that file is
        present (:attr:`demand_estimated`)."""
        return self.tables.get("demand", self.demand)

    @property
    def demand_levels(self) -> pd.DataFrame | None:
        """``demand_level.csv`` (levels of past years that replace the growth rate in the
        back-casts), or None where the dataset has none."""
        return self.tables.get("demand_level")

    @property
    def speeds_by_commodity(self) -> pd.DataFrame | None:
        """``speed_commodity.csv`` (running speeds of a commodity on the line links of a mode and
        country), or None where the dataset has none."""
        return self.tables.get("speed_commodity")

    @property
    def demand_estimated(self) -> bool:
        """Whether the runs use the demand of ``od_estimate.csv`` rather than ``demand.csv``."""
        return "od_estimate" in self.tables

    @property
    def commodity_ids(self) -> list[str]:
        """The commodities' ids, in the order of ``commodity.csv``."""
        return list(self.commodities["commodity_id"])

    def zone_country(self) -> dict[str, str]:
        """zone_id -> ISO country code."""
        return dict(zip(self.zones["zone_id"], self.zones["country"], strict=True))


OD_KEY = ["origin_zone_id", "destination_zone_id", "commodity_id"]
#: demand.csv's shares of a cell's tonnes that come from or go on overseas through its origin or
#: destination zone, a port (:mod:`karvan.freight.demand_build`, :mod:`karvan.freight.accounting`)
OVERSEAS_SHARES = ("overseas_origin_share", "overseas_destination_share")


def prior_differs(prior, tonnes) -> np.ndarray:
    """Which priors of ``od_estimate.csv`` no longer equal ``demand.csv``'s tonnes of their row
    (relative 1e-6, or 1e-6 t near zero): the estimate is stale there.

    >>> prior_differs([100.0, 5e6], [100.0, 5.1e6]).tolist()
    [False, True]
    """
    p, t = np.asarray(prior, dtype=float), np.asarray(tonnes, dtype=float)
    return np.abs(p - t) > 1e-6 * np.maximum(np.abs(t), 1.0)


def _check_od_estimate(checker, est, demand) -> None:
    """``od_estimate.csv`` against ``demand.csv``: one row for every demand row, and each row's
    prior equal to the demand row's tonnes (else demand.csv changed after the estimate)."""
    import numpy as np

    from karvan.errors import Violation

    need_demand = [*OD_KEY, "tonnes_per_year"]
    need_est = [*OD_KEY, "prior_tonnes_per_year"]
    if any(c not in demand for c in need_demand) or any(c not in est for c in need_est):
        return  # a missing column is the schema's error, already collected
    fix = ("re-run `karvan calibrate --write` on the current demand.csv (OD estimation), or "
           "delete od_estimate.csv to run on demand.csv")
    dkey = dict(zip(zip(*(demand[k] for k in OD_KEY), strict=True), demand["tonnes_per_year"],
                    strict=True))
    seen = set()
    line = (lambda i: int(est.lines[i])) if est.lines is not None else (lambda i: None)
    def whole(k) -> bool:  # a key with a blank part is the schema's error, already collected
        return all(isinstance(v, str) and v.strip() for v in k)

    for i, (k, p) in enumerate(zip(zip(*(est[c] for c in OD_KEY), strict=True),
                                   est["prior_tonnes_per_year"], strict=True)):
        seen.add(k)
        t = dkey.get(k)
        if t is None or not np.isfinite(p) or not whole(k):
            continue  # unknown rows: the foreign key; blank: the schema
        if prior_differs(p, t):
            checker.add(Violation("od_estimate.csv", line(i), "prior_tonnes_per_year",
                                  f"{p:,.0f} against {t:,.0f} t in demand.csv",
                                  "differs from the row's tonnes in demand.csv (demand.csv "
                                  "changed after the estimate was written)", fix,
                                  "OD " + ">".join(k)))
    missing = [" > ".join(k) for k in dkey if k not in seen and whole(k)]
    if missing:
        from karvan.errors import format_ids

        checker.message(f"od_estimate.csv has no row for {len(missing)} row(s) of demand.csv "
                        f"({format_ids(missing)}): demand.csv changed after the estimate was "
                        f"written; {fix}.", file="od_estimate.csv")


def _check_demand_level(checker, levels, base_year: int, years_back: int) -> None:
    """``demand_level.csv``: every year before the base year and at most ``years_back`` before
    it (a level at or after the base year would disagree with the growth that scenarios use)."""
    import numpy as np

    from karvan.errors import Violation

    if "year" not in levels:
        return  # the schema's error, already collected
    line = (lambda i: int(levels.lines[i])) if levels.lines is not None else (lambda i: None)
    lo = base_year - years_back
    for i, y in enumerate(levels["year"]):
        if y is None or (isinstance(y, float) and not np.isfinite(y)):
            continue  # blank or not a number: the schema's error
        y = int(y)
        if not lo <= y < base_year:
            checker.add(Violation(
                "demand_level.csv", line(i), "year", str(y),
                f"is not a year before the base year {base_year} (and not before {lo})",
                f"give levels of past years {lo}..{base_year - 1}; demand after the base year "
                "grows by growth.csv",
                "level " + ">".join(str(levels[c][i]) for c in (
                    "origin_country", "destination_country", "commodity_id"))))


def _check_commodity_speeds(checker, tables: dict) -> None:
    """A row of ``speed_commodity.csv`` that changes nothing is warned about: no link of its
    mode and country with a speed, or every such link at least as fast (a speed in the
    wrong unit, 3.5 for 35 km/h, would otherwise pass as the links' own)."""
    from karvan.errors import Violation

    if not {"speed_commodity", "link"} <= set(tables):
        return
    sc, links = tables["speed_commodity"].to_frame(), tables["link"].to_frame()
    if not ({"mode", "country", "commodity_id", "speed_kph"} <= set(sc)
            and {"mode", "country"} <= set(links)):
        return  # the schema's errors, already collected
    lines = tables["speed_commodity"].lines
    own = (pd.to_numeric(links["speed_kph"], errors="coerce") if "speed_kph" in links
           else pd.Series(float("nan"), index=links.index))
    for i, r in enumerate(sc.itertuples(index=False)):
        v = pd.to_numeric(pd.Series([r.speed_kph]), errors="coerce").iloc[0]
        if not v > 0:
            continue
        on = (links["mode"] == r.mode) & (links["country"] == r.country) & (own > 0)
        if not on.any():
            problem = f"changes nothing: no {r.mode} link of {r.country} has a speed"
            fix = "correct the mode or country, or delete the row"
        elif (own[on] >= v).all():
            problem = (f"changes nothing: it is not above the speed of any {r.mode} link of "
                       f"{r.country} ({own[on].min():g}–{own[on].max():g} km/h)")
            fix = ("a commodity's own speed is used only where faster than the link's; "
                   "check the unit")
        else:
            continue
        checker.add(Violation("speed_commodity.csv", int(lines[i]) if lines is not None else None,
                              "speed_kph", f"{v:g}", problem, fix,
                              f"{r.mode} {r.country} {r.commodity_id}", severity="warning"))


def _check_geography(checker, tables: dict) -> None:
    """A zone lies in its country (its node's country), a node's ``zone_id`` names the zone
    whose node it is, and a land link (not sea or ferry, whose country may be an open-water
    pseudo-country or a canal's) belongs to the country of one of its ends."""
    from karvan.errors import Violation

    if not {"node", "zone", "link"} <= set(tables):
        return
    nodes, zones, links = (tables[n].to_frame() for n in ("node", "zone", "link"))
    if not ({"node_id", "country"} <= set(nodes) and {"zone_id", "country", "node_id"} <= set(zones)
            and {"link_id", "from_node_id", "to_node_id", "country", "mode"} <= set(links)):
        return  # the schema's errors, already collected
    node_country = dict(zip(nodes["node_id"], nodes["country"], strict=False))

    def line(name, i):
        lines = tables[name].lines
        return int(lines[i]) if lines is not None else None

    for i, z in enumerate(zones.itertuples(index=False)):
        c = node_country.get(z.node_id)
        if c is not None and c != z.country:
            checker.add(Violation("zone.csv", line("zone", i), "node_id", str(z.node_id),
                                  f"is a node of {c}, not of the zone's country {z.country}",
                                  "give the zone a node of its own country, or correct the "
                                  "country", f"zone_id {z.zone_id}"))
    zone_node = dict(zip(zones["zone_id"], zones["node_id"], strict=False))
    if "zone_id" in nodes:
        for i, (nid, zid) in enumerate(zip(nodes["node_id"], nodes["zone_id"], strict=False)):
            if isinstance(zid, str) and zid.strip() and zid in zone_node \
                    and zone_node[zid] != nid:
                checker.add(Violation("node.csv", line("node", i), "zone_id", zid,
                                      f"names a zone whose node is {zone_node[zid]} "
                                      "(zone.csv)", "make node.csv's zone_id and zone.csv's "
                                      "node_id agree", f"node_id {nid}"))
    land = ~links["mode"].astype(str).isin(["sea", "ferry"])
    fc = links["from_node_id"].map(node_country)
    tc = links["to_node_id"].map(node_country)
    bad = land & fc.notna() & tc.notna() & (links["country"] != fc) & (links["country"] != tc)
    for i in np.flatnonzero(bad.to_numpy()):
        ends = " and ".join(sorted({fc.iloc[i], tc.iloc[i]}))
        checker.add(Violation("link.csv", line("link", i), "country",
                              str(links["country"].iloc[i]),
                              f"is the country of neither end ({ends})",
                              "a land link belongs to the country of one of its nodes",
                              f"link_id {links['link_id'].iloc[i]}"))


#: the value column of each table of rules (origin_country, destination_country, commodity_id)
RULE_VALUE = {"growth": "growth_per_year", "demand_level": "index"}


def _check_rules(checker, tables: dict, name: str) -> None:
    """``growth.csv`` or ``demand_level.csv``: every country a zone's (or ``*``); two rules
    of the same specificity (and year) that both match a demand cell with different values
    are an error (which one applies would depend on the rows' order); a rule that matches no
    demand cell is a warning (a typo, or a pair without demand)."""
    from karvan.errors import Violation

    if name not in tables or not {"zone", "demand", "commodity"} <= set(tables):
        return
    t = tables[name].to_frame()
    need = {"origin_country", "destination_country", "commodity_id", RULE_VALUE[name]}
    if not len(t) or not need <= set(t):
        return  # the schema's errors, already collected
    file = f"{name}.csv"
    lines = tables[name].lines
    line = (lambda i: int(lines[i])) if lines is not None else (lambda i: None)
    zones = tables["zone"].to_frame()
    com = tables["commodity"].to_frame()
    if not ({"zone_id", "country"} <= set(zones) and "commodity_id" in com):
        return  # the schema's errors, already collected
    countries = set(zones["country"].dropna().astype(str))
    commodities = set(com["commodity_id"].dropna().astype(str))
    key = [">".join(str(t[c].iloc[i]) for c in ("origin_country", "destination_country",
                                                  "commodity_id")) for i in range(len(t))]
    bad = np.zeros(len(t), dtype=bool)
    # (an unknown commodity is the schema's error, already collected)
    bad |= ~t["commodity_id"].astype(str).isin(commodities | {"*"}).to_numpy()
    for col, known, what in (("origin_country", countries, "country of a zone"),
                             ("destination_country", countries, "country of a zone")):
        for i, v in enumerate(t[col].astype(str)):
            if v != "*" and v not in known:
                bad[i] = True
                checker.add(Violation(
                    file, line(i), col, v, f"is not a {what}, so the rule matches nothing",
                    f"use one of {', '.join(sorted(known))}, or * for any", f"rule {key[i]}"))
    dem = tables["demand"].to_frame()
    if not {"origin_zone_id", "destination_zone_id", "commodity_id"} <= set(dem):
        return  # the schema's errors, already collected
    zc = dict(zip(zones["zone_id"], zones["country"], strict=False))
    cells = pd.DataFrame({"o": dem["origin_zone_id"].map(zc),
                          "d": dem["destination_zone_id"].map(zc),
                          "c": dem["commodity_id"].astype(str)}).drop_duplicates()
    o, d, c = (cells[x].to_numpy(dtype=object) for x in ("o", "d", "c"))
    years = (t["year"].to_numpy() if "year" in t else np.zeros(len(t)))
    value = pd.to_numeric(t[RULE_VALUE[name]], errors="coerce").to_numpy(dtype=float)
    hits, scores = [], []
    for i in range(len(t)):
        hit = np.ones(len(cells), dtype=bool)
        score = 0
        for col, arr in (("origin_country", o), ("destination_country", d),
                         ("commodity_id", c)):
            v = str(t[col].iloc[i])
            if v != "*":
                hit &= arr == v
                score += 1
        hits.append(hit)
        scores.append(score)
        if not hit.any() and not bad[i]:
            checker.add(Violation(
                file, line(i), None, key[i], "matches no demand cell (no zone pair of these "
                "countries has demand of this commodity)", "check the countries and the "
                "commodity, or remove the row", f"rule {key[i]}", severity="warning"))
    for i in range(len(t)):
        for j in range(i + 1, len(t)):
            if (scores[i] != scores[j] or years[i] != years[j] or bad[i] or bad[j]
                    or key[i] == key[j]):  # a repeated key is the schema's error
                continue
            both = hits[i] & hits[j]
            if both.any() and not value[i] == value[j]:
                k = int(np.flatnonzero(both)[0])
                checker.add(Violation(
                    file, line(j), None, key[j],
                    f"is as specific as line {line(i)} ({key[i]}) and both match "
                    f"{o[k]}>{d[k]}>{c[k]} with different values: which one applies would "
                    "depend on the rows' order",
                    "make one of them more specific (name the country or commodity the other "
                    "leaves as *), or give them the same value", f"rule {key[j]}"))


def most_specific_rule(rules: pd.DataFrame, o: str, d: str, c: str) -> int:
    """Position of the most specific row of ``rules`` (origin_country, destination_country,
    commodity_id, * matching any) that matches (o, d, c); -1 where none does."""
    return int(most_specific_rules(rules, [o], [d], [c])[0])


def most_specific_rules(rules: pd.DataFrame, o, d, c) -> np.ndarray:
    """:func:`most_specific_rule` of every (o[r], d[r], c[r]) at once: for each, the position of
    the matching row of ``rules`` with the most named (not ``*``) fields, the first such row
    on a tie; -1 where none matches."""
    keys = [np.asarray(x, dtype=object) for x in (o, d, c)]
    n = len(keys[0])
    best = np.full(n, -1, dtype=np.int64)
    best_score = np.full(n, -1, dtype=np.int64)
    cols = zip(rules["origin_country"], rules["destination_country"], rules["commodity_id"],
               strict=True)
    for q, fields in enumerate(cols):
        hit = np.ones(n, dtype=bool)
        score = 0
        for value, key in zip(fields, keys, strict=True):
            if value != "*":
                hit &= key == value
                score += 1
        better = hit & (score > best_score)
        best[better] = q
        best_score[better] = score
    return best


def _with_trade_scope(observed: pd.DataFrame, folder: Path, zones: pd.DataFrame | None = None,
                      levels: pd.DataFrame | None = None, growth: pd.DataFrame | None = None,
                      base_year: int = 2024, inputs=None) -> pd.DataFrame:
    """``observed`` with a column ``cell_shares``: for each row that flows of
    ``demand_inputs/`` cite (the flows its figure built), the share of each demand cell's
    tonnes that those flows carry. A trade row (a country pair) then counts those flows and
    not the rest of the pair's demand (transit through a country is not its trade); the other
    rows count routes and leave it aside (:func:`karvan.freight.observed.parse_observations`).
    Without the generator's inputs, or for a row that no flow cites, a trade row counts the
    pair's demand.

    In a back-cast year where ``demand_level.csv`` gives a cell a commodity's own level (more
    specific than its country pair's ``*`` row), the cited flows keep the pair's ``*`` level
    and the rest of the cell takes the remainder: the share is multiplied by the ``*`` row's
    index over the cell's (rule "Grain to Iran at the exporters' counts", docs/dataset.md: the
    pair rows are Iran's customs counts, the commodity rows add what the exporters count).
    Where the pair has no ``*`` row that year, the cited flows move by the cell's growth rule
    (``growth``, from ``base_year``: what the back-cast would give the cell without the
    commodity's own level, as it gives the pair's other cells theirs); a share
    that would exceed the whole cell is cut to 1, with a warning. ``inputs``: the folder's
    generator inputs when already read.
    """
    from karvan.freight.demand_build import observed_shares

    if "observed_id" not in observed:
        return observed
    inputs = inputs if inputs is not None else _demand_inputs(folder)
    if inputs is None:
        return observed
    shares = observed_shares(inputs)
    by_id = {oid: dict(zip(zip(g["origin_zone_id"], g["destination_zone_id"],
                                g["commodity_id"], strict=True), g["share"], strict=True))
             for oid, g in shares.groupby("observed_id", sort=False)}
    cell = [by_id.get(str(oid)) for oid in observed["observed_id"]]
    if levels is not None and zones is not None and len(levels):
        country = dict(zip(zones["zone_id"], zones["country"], strict=True))
        years = pd.to_numeric(observed["year"], errors="coerce")
        cell = [_at_pair_level(c, y, levels, country, growth, base_year, oid)
                if c is not None and pd.notna(y) else c
                for c, y, oid in zip(cell, years, observed["observed_id"], strict=True)]
    return observed.assign(cell_shares=pd.Series(cell, index=observed.index, dtype=object))


def _demand_inputs(folder: Path):
    """The checked generator inputs of ``folder``, or None where it has no ``demand_inputs/``.

    Raises InputError naming file and line (see
    :func:`~karvan.freight.demand_build.read_demand_inputs`).
    """
    from karvan.freight.demand_build import INPUT_FOLDER, read_demand_inputs

    if not (folder / INPUT_FOLDER / "trade_flow.csv").exists():
        return None
    return read_demand_inputs(folder)


def _warn_stale_demand(folder: Path, inputs, demand: pd.DataFrame,
                       estimated: bool = False) -> None:
    """Warn where ``demand.csv`` is not what the folder's ``demand_inputs/`` build: the inputs
    were edited and the table not rebuilt, or the table was edited by hand."""
    from karvan.freight.demand_build import demand_differences, overseas_share_differences

    diff = demand_differences(inputs, demand)
    _warn_stale_overseas(folder, overseas_share_differences(inputs, demand))
    if not len(diff):
        return
    warnings.warn(
        f"{folder.name}: demand.csv is not what demand_inputs/ build: {len(diff)} cells differ "
        f"({_first_cells(diff, '{:,.0f} t')}; {diff['in_demand'].sum() / 1e6:,.3f} Mt against "
        f"{diff['from_inputs'].sum() / 1e6:,.3f} Mt in those cells). The run uses demand.csv"
        + (" as od_estimate.csv estimated it" if estimated else "") + ". "
        "If the inputs were edited, rebuild it with `karvan data build-demand"
        f"{'' if folder == builtin_corridor_folder() else f' --data {folder}'}`"
        + (" and estimate it again (`karvan calibrate --write`), or delete od_estimate.csv"
           if estimated else "")
        + "; if demand.csv was edited on purpose, the inputs (and the trade rows of the "
        "calibration that they scope) no longer describe it.", CorridorWarning, stacklevel=3)


def _first_cells(diff: pd.DataFrame, fmt: str) -> str:
    """The first three rows of a difference table (``origin_zone_id, destination_zone_id,
    commodity_id``, an optional ``column``, ``in_demand``, ``from_inputs``) as text, values in
    ``fmt``, and how many more there are."""
    shown = [f"{r.origin_zone_id} -> {r.destination_zone_id} {r.commodity_id}: "
             + (f"{r.column} " if "column" in diff else "")
             + f"{fmt.format(r.in_demand)} in demand.csv, {fmt.format(r.from_inputs)} from the "
             "inputs" for r in diff.head(3).itertuples(index=False)]
    more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
    return "; ".join(shown) + more


def _warn_stale_overseas(folder: Path, diff: pd.DataFrame) -> None:
    """Warn where ``demand.csv``'s overseas shares are not what ``demand_inputs/`` give (an
    ``overseas_end`` edited and the table not rebuilt, or a table written before the column):
    the transit of the ports' countries would count the old shares, or none."""
    if not len(diff):
        return
    data = "" if folder == builtin_corridor_folder() else f" --data {folder}"
    warnings.warn(
        f"{folder.name}: demand.csv's overseas shares are not what demand_inputs/ give "
        f"({_first_cells(diff, '{:.6g}')}): the transit of the ports' countries counts "
        "demand.csv's. If trade_flow.csv's overseas_end was edited, rebuild the table with "
        f"`karvan data build-demand{data}`.", CorridorWarning, stacklevel=4)


def _at_pair_level(shares: dict, year: float, levels: pd.DataFrame, country: dict,
                   growth: pd.DataFrame | None = None, base_year: int = 2024,
                   observed_id: str = "") -> dict:
    """``shares`` (cell -> share of its tonnes) with each cell whose level in ``year`` is a
    commodity's own row scaled by the pair's level over it: the pair's ``*`` row's index, else
    the growth rule's factor from ``base_year`` (see :func:`_with_trade_scope`); cells without
    a commodity's own row as they are."""
    at = levels[pd.to_numeric(levels["year"], errors="coerce") == int(year)].reset_index(
        drop=True)
    if not len(at) or not shares:
        return shares
    cells = list(shares)
    o = [country.get(zo) for zo, _, _ in cells]
    d = [country.get(zd) for _, zd, _ in cells]
    c = [com for _, _, com in cells]
    index = at["index"].to_numpy(dtype=float)
    own = most_specific_rules(at, o, d, c)
    star = np.flatnonzero(at["commodity_id"].to_numpy() == "*")
    q = most_specific_rules(at.iloc[star].reset_index(drop=True), o, d, c)
    pair = np.where(q >= 0, star[np.maximum(q, 0)], -1) if len(star) else q
    if growth is not None and len(growth):
        rate = growth["growth_per_year"].to_numpy(dtype=float)
        g = most_specific_rules(growth, o, d, c)
        grown = (1.0 + np.where(g >= 0, rate[np.maximum(g, 0)], 0.0)) ** (int(year) - base_year)
    else:
        grown = np.ones(len(cells))
    out = {}
    for i, (k, q, p) in enumerate(zip(cells, own, pair, strict=True)):
        if q >= 0 and at.at[q, "commodity_id"] != "*" and index[q] > 0:
            level = index[p] if p >= 0 else grown[i]
            share = shares[k] * level / index[q]
            if share > 1.0 + 1e-9:
                warnings.warn(
                    f"observed.csv {observed_id}: in {int(year)} the flows its figure built "
                    f"would carry {share:.3f} of the cell {' > '.join(k)} at their pair's level "
                    f"({level:.4g}) against the cell's own ({index[q]:.4g}); counted as the whole "
                    "cell. Check demand_level.csv's rows of that pair.", CorridorWarning,
                    stacklevel=3)
                share = 1.0
            out[k] = share
        else:
            out[k] = shares[k]
    return out


def apply_od_estimate(demand: pd.DataFrame, estimate: pd.DataFrame) -> pd.DataFrame:
    """``demand`` with ``tonnes_per_year`` of ``estimate`` (``od_estimate.csv``), row by row;
    the row order and the other columns of ``demand`` are kept.

    Raises
    ------
    InputError
        A demand row without a row of the estimate.
    """
    est = estimate.set_index(OD_KEY)["tonnes_per_year"]
    idx = pd.MultiIndex.from_frame(demand[OD_KEY])
    t = est.reindex(idx)
    if t.isna().any():
        from karvan.errors import format_ids

        miss = [" > ".join(k) for k in idx[t.isna().to_numpy()]]
        raise InputError(f"od_estimate.csv has no row for {len(miss)} row(s) of demand.csv "
                         f"({format_ids(miss)}): re-run `karvan calibrate --write`, or delete "
                         "od_estimate.csv.", "od_estimate.csv")
    return demand.assign(tonnes_per_year=t.to_numpy(dtype=float))


def builtin_corridor_folder() -> Path:
    """Folder of the dataset shipped with karvan."""
    return Path(str(resources.files("karvan") / "data" / "corridor"))


def load_corridor(folder: str | os.PathLike | None = None, *, estimate: bool = True,
                  refit: tuple[str, ...] = ()) -> CorridorData:
    """Read and check a corridor dataset folder (default: the built-in one).

    With ``estimate`` false, ``od_estimate.csv`` is left out: the runs use ``demand.csv``'s
    tonnes (OD estimation starts from them, and may replace an estimate that ``demand.csv``
    has outgrown). ``refit`` names fitted tables (``choice_parameter``) that the caller fits
    anew from their priors: a row of theirs fitted to what is now a ``validate`` row does not
    stop the dataset from loading (the fit that would replace it could not run otherwise).

    Every table is checked against its schema (``karvan/schema/corridor/*.schema.json``, see
    ``docs/schemas.md``): types, units and ranges of every column, unique ids, references between
    tables, the provenance of every row, and coverage (a default tariff for every mode and
    country that has links, a growth rule for every demand row). Every problem is reported at
    once; values that are allowed but unusual (beyond a schema's ``warnings`` bounds) are each a
    :class:`CorridorWarning`.

    Raises
    ------
    InputError
        Listing every problem with its file, line, id and the fix.
    """
    folder = Path(folder) if folder is not None else builtin_corridor_folder()
    checker, tables, config = _check_corridor(folder, estimate=estimate)
    checker.raise_if_errors(str(folder))
    for w in checker.warnings():
        warnings.warn(f"{folder.name}: {w}", CorridorWarning, stacklevel=2)
    return _corridor_data(folder, tables, config, refit=refit)


def validate_corridor(folder: str | os.PathLike) -> ValidationReport:
    """``karvan validate`` of a corridor dataset folder: every problem of every table at once,
    as :func:`load_corridor` checks them, in a report rather than an error.

    A check that needs a table free of errors (the generator's inputs against demand.csv,
    od_estimate.csv against demand.csv) is left out while it has some, with a note that says
    so. No plain GMNS advice: a corridor dataset is run with ``karvan run --data``, not
    assigned as a network.

    Raises
    ------
    InputError
        When ``folder`` is not a folder.
    """
    from karvan.io.validate import ValidationReport

    folder = Path(folder)
    checker, tables, config = _check_corridor(folder)
    rep = ValidationReport(folder, "corridor", checker.errors(), checker.warnings(),
                           checker.notes())
    for name, label in (("node", "nodes"), ("link", "links"), ("zone", "zones"),
                        ("commodity", "commodities"), ("demand", "demand rows")):
        if name in tables:
            rep.counts[label] = f"{len(tables[name]):,}"
    if "demand" in tables and "tonnes_per_year" in tables["demand"]:
        t = np.nansum(tables["demand"]["tonnes_per_year"])
        rep.counts["demand"] = f"{t / 1e6:,.2f} Mt/yr"
        est = tables.get("od_estimate")
        if est is not None and "tonnes_per_year" in est:
            # the demand the runs use: demand.csv's total alone read as the base year's
            rep.counts["demand"] += " (demand.csv)"
            rep.counts["demand as estimated"] = (
                f"{np.nansum(est['tonnes_per_year']) / 1e6:,.2f} Mt/yr (od_estimate.csv, what "
                "the runs use)")
    rep.counts["tables"] = f"{len(tables)}"
    if rep.errors:
        if (folder / "demand_inputs").is_dir():
            rep.notes.append("demand_inputs/ was checked against its schemas only; its rows are "
                             "checked against the other tables (zones, commodities, sources, "
                             "observations) and demand.csv once the errors are fixed.")
        rep.notes.append("observed.csv was checked against its schema only; what its rows count "
                         "(links, borders, countries, commodities) and the independence and "
                         "split rules are checked once the errors are fixed.")
        return rep
    try:
        with catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = _corridor_data(folder, tables, config)
        rep.warnings.extend(str(w.message) for w in caught)
    except InputError as e:
        rep.errors.extend(e.problems)
        return rep
    rep.errors.extend(_choice_problems(folder, data))
    return rep


def _choice_problems(folder: Path, data: CorridorData) -> list[str]:
    """What the logit choice model (``karvan run``'s default) refuses in ``route_family.csv``
    and ``choice_parameter.csv``, as it reads them: validate said "valid" of a dataset that
    every run then refused (a nest scale above 1, a negative theta, two families of one
    priority)."""
    from karvan.freight.choice_model import choice_parameters
    from karvan.freight.route_family import read_route_families

    if not (folder / "route_family.csv").is_file():
        return []
    try:
        families = read_route_families(folder)
        if (folder / "choice_parameter.csv").is_file():
            table = pd.read_csv(folder / "choice_parameter.csv", dtype=str,
                                keep_default_na=False)
            choice_parameters(table, families, data.commodities,
                              link_ids=list(data.links.index))
    except InputError as e:
        return list(e.problems)
    return []


def _check_corridor(folder: Path, *, estimate: bool = True):
    """Every table of ``folder`` against its schema and the others: the checker with every
    problem found, the tables read and the config; without ``estimate``, ``od_estimate.csv``
    is neither read nor checked.

    Raises
    ------
    InputError
        When ``folder`` is not a folder.
    """
    from karvan.io.gmns import normalise_config
    from karvan.schema import Checker, family_schemas

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; a corridor dataset is a folder of CSV "
                         "tables (node.csv, link.csv, zone.csv, ...).")
    checker = Checker()
    schemas = family_schemas("corridor")
    if not estimate:
        schemas = {k: v for k, v in schemas.items() if k != "od_estimate"}
    tables = checker.folder(folder, schemas)
    checker.references({k: t for k, t in tables.items() if k != "od_estimate"})
    if "od_estimate" in tables and "demand" in tables:
        if checker.has_errors("demand.csv"):
            checker.message("od_estimate.csv was not compared with demand.csv, which has "
                            "errors; it is once they are fixed.", severity="note",
                            file="od_estimate.csv")
        else:
            est = tables["od_estimate"]
            for fk in est.schema.foreign_keys:  # to demand.csv
                checker.foreign_key(est, fk.fields, tables.get(fk.resource, est),
                                    fk.ref_fields, wildcard=fk.wildcard, severity=fk.severity,
                                    fix=fk.fix)
            _check_od_estimate(checker, tables["od_estimate"], tables["demand"])
    config: dict = {}
    if "config" in tables and len(tables["config"]):
        row = {k: v[0] for k, v in tables["config"].columns.items()}
        try:
            config = normalise_config(row)
        except InputError as e:
            for m in e.problems:
                checker.message(m, file="config.csv")
    if "demand_level" in tables:
        _check_demand_level(checker, tables["demand_level"], int(config.get("base_year", 2024)),
                            YEARS_BEFORE_BASE)
    for name in RULE_VALUE:
        _check_rules(checker, tables, name)
    _check_geography(checker, tables)
    _check_commodity_speeds(checker, tables)
    return checker, tables, config


def _corridor_data(folder: Path, tables: dict, config: dict, *,
                   refit: tuple[str, ...] = ()) -> CorridorData:
    """The dataset of tables checked without error; the generator's inputs are checked here,
    and a demand.csv that they would not build is warned about.

    Raises
    ------
    InputError
        The generator's inputs, capacities against their published figures, values of time,
        and observed.csv's rows and rules: every problem at once.
    """
    frames = {name: t.to_frame() for name, t in tables.items()}
    nodes = frames["node"].set_index("node_id", drop=True)
    links = frames["link"].set_index("link_id", drop=True)
    zones = frames["zone"]
    config["source"] = str(folder)
    config["tables"] = {"zone": zones}
    base_year = int(config.get("base_year", 2024))
    demand = with_overseas_shares(frames["demand"])
    if "od_estimate" in frames:
        demand = apply_od_estimate(demand, frames["od_estimate"])
    inputs = _demand_inputs(folder)
    if inputs is not None:
        _warn_stale_demand(folder, inputs, frames["demand"], "od_estimate" in frames)
    observed = _with_trade_scope(frames["observed"], folder, zones, frames.get("demand_level"),
                                 frames.get("growth"), base_year, inputs=inputs)
    problems = [*_overseas_share_problems(demand, tables["demand"].lines),
                *_overseas_port_problems(demand, tables["demand"].lines, zones, nodes, links),
                *_topology_problems(nodes, links),
                *_capacity_problems(links, frames["commodity"], demand),
                *_value_of_time_problems(frames["commodity"]),
                *_future_count_problems(frames["observed"])]
    try:
        _check_observed(folder, frames, observed, links, refit=refit)
    except InputError as e:
        problems.extend(e.problems)
    if problems:
        raise InputError(problems, str(folder))
    return CorridorData(nodes=nodes, links=links, zones=zones, commodities=frames["commodity"],
                        tariffs=frames["tariff"], demand=demand,
                        growth=frames["growth"], observed=observed,
                        sources=frames["sources"],
                        tariffs_by_commodity=frames.get("tariff_commodity"), config=config,
                        folder=folder, base_year=base_year, tables=frames)


def with_overseas_shares(demand: pd.DataFrame) -> pd.DataFrame:
    """``demand`` with the columns ``overseas_origin_share`` and ``overseas_destination_share``
    (the share of a cell's tonnes that comes from or goes on overseas through its origin or
    destination zone, a port; see :mod:`karvan.freight.demand_build`), 0 where a table has no
    such column or leaves a row blank."""
    out = demand.copy()
    for col in OVERSEAS_SHARES:
        out[col] = (pd.to_numeric(out[col], errors="coerce").fillna(0.0).astype(float)
                    if col in out else 0.0)
    return out


def _overseas_port_problems(demand: pd.DataFrame, lines, zones: pd.DataFrame,
                            nodes: pd.DataFrame, links: pd.DataFrame) -> list[str]:
    """Overseas cargo comes and goes by sea through a port: a cell with an overseas share at an
    end needs a zone there whose node is a port or is linked to one (``node_type`` port)."""
    if "node_type" not in nodes:
        return []
    port = set(nodes.index[nodes["node_type"].astype(str) == "port"])
    near = set(port)
    for a, b in zip(links["from_node_id"], links["to_node_id"], strict=True):
        if a in port:
            near.add(b)
        if b in port:
            near.add(a)
    zone_node = dict(zip(zones["zone_id"], zones["node_id"], strict=True))
    out = []
    for end, col in zip(("origin", "destination"), OVERSEAS_SHARES, strict=True):
        z = demand[f"{end}_zone_id"]
        bad = np.flatnonzero(((demand[col] > 0) & ~z.map(zone_node).isin(near)).to_numpy())
        if not len(bad):
            continue
        at = [f"line {int(lines[i]) if lines is not None else i + 2} ({z.iloc[i]}, node "
              f"{zone_node.get(z.iloc[i])})" for i in bad]
        more = f" and {len(at) - 5} more" if len(at) > 5 else ""
        out.append(f"demand.csv: {col} is above 0 in {len(bad)} row(s) whose {end} zone has no "
                   f"port ({', '.join(at[:5])}{more}; no link joins its node to a node of "
                   "node_type port): overseas cargo comes and goes by sea through a port. Pin "
                   f"the flow's {end}_zone_id to a port zone in demand_inputs/trade_flow.csv, or "
                   "blank its overseas_end, then rebuild demand.csv (`karvan data "
                   "build-demand`).")
    return out


def _overseas_share_problems(demand: pd.DataFrame, lines=None) -> list[str]:
    """A cell's two overseas shares are parts of its tonnes (each flow has at most one overseas
    end): their sum may not exceed 1."""
    total = demand[list(OVERSEAS_SHARES)].sum(axis=1).to_numpy(dtype=float)
    bad = np.flatnonzero(total > 1 + 1e-6)
    if not len(bad):
        return []
    at = [f"line {int(lines[i]) if lines is not None else i + 2} "
          f"({demand['origin_zone_id'].iloc[i]} -> {demand['destination_zone_id'].iloc[i]} "
          f"{demand['commodity_id'].iloc[i]}: {total[i]:.8g})" for i in bad]
    more = f" and {len(at) - 5} more" if len(at) > 5 else ""
    return [f"demand.csv: overseas_origin_share + overseas_destination_share exceeds 1 in "
            f"{len(bad)} row(s), {', '.join(at[:5])}{more}; each is a share of the row's "
            "tonnes and a tonne comes from overseas or goes on overseas, not both: correct the "
            "shares, or "
            "rebuild demand.csv (`karvan data build-demand`)."]


#: how far a link's capacity_tpy may stand from its own published capacity_value in
#: capacity_unit: a port's access links share its capacity (Alat: 30 % road, 70 % rail), a truck
#: count converts at one payload or another; a capacity in kt/yr, Mt/yr or trucks/day written
#: into capacity_tpy is 1,000 to 10^6 times off
CAPACITY_FACTOR = 10.0


def _capacity_problems(links: pd.DataFrame, commodities: pd.DataFrame,
                       demand: pd.DataFrame) -> list[str]:
    """Links whose ``capacity_tpy`` is more than :data:`CAPACITY_FACTOR` times above or below
    what their own ``capacity_value`` in ``capacity_unit`` converts to: the two columns say the
    same capacity, and a unit slip in one of them (11,000 for 11 Mt/yr) passed in silence and
    moved 3 Mt of transit."""
    from karvan.freight.units import capacity_to_tpy, mean_payloads

    need = {"capacity_tpy", "capacity_value", "capacity_unit"}
    if not need <= set(links.columns):
        return []
    tpy = pd.to_numeric(links["capacity_tpy"], errors="coerce")
    value = pd.to_numeric(links["capacity_value"], errors="coerce")
    both = tpy.notna() & value.notna() & links["capacity_unit"].notna()
    if not both.any():
        return []
    payloads = mean_payloads(commodities, demand)
    problems = []
    for pos, (link_id, row) in enumerate(links.iterrows()):
        if not both.iloc[pos]:
            continue
        try:
            published = capacity_to_tpy(value.iloc[pos], str(row["capacity_unit"]), payloads)
        except InputError:
            continue  # the unit's own problem is reported where the capacity is used
        if published > 0 and not (1 / CAPACITY_FACTOR <= tpy.iloc[pos] / published
                                  <= CAPACITY_FACTOR):
            problems.append(
                f"link.csv line {pos + 2} ({link_id}): capacity_tpy {tpy.iloc[pos]:,.0f} t/yr "
                f"is {tpy.iloc[pos] / published:.3g} times what its capacity_value "
                f"{value.iloc[pos]:g} {row['capacity_unit']} converts to ({published:,.0f} "
                "t/yr): one of the two is in another unit. Write capacity_tpy in tonnes per "
                "year per direction (blank: converted from capacity_value), or correct "
                f"capacity_value or capacity_unit; a link that takes under 1/{CAPACITY_FACTOR:g} "
                "of a published capacity should not give it as its own.")
    return problems


#: the node layer each end of a link of a mode must be in (transfer links join layers)
_LAYERS_OF_MODE = {"rail": ("rail",), "road": ("road",), "sea": ("sea",),
                   "ferry": ("rail", "sea"), "border": ("rail", "road")}


def _topology_problems(nodes: pd.DataFrame, links: pd.DataFrame) -> list[str]:
    """Links whose ends are not where their mode runs: a rail, road or sea link must join two
    nodes of its own layer, a ferry or a border two nodes of one layer (modes meet only
    through transfer links); and a border link must run from the first country of its
    ``border_id`` to the second. A rail line given a road node passed in silence (ADY's
    north–south transit fell by 83 %), and so did a border with its ends swapped (its two
    directions' tonnes exchanged)."""
    if "layer" not in nodes or "mode" not in links:
        return []
    layer = nodes["layer"].astype(str)
    country = nodes["country"].astype(str) if "country" in nodes else None
    problems = []
    for pos, (link_id, r) in enumerate(links.iterrows()):
        at = f"link.csv line {pos + 2} ({link_id})"
        a, b = layer.get(r["from_node_id"]), layer.get(r["to_node_id"])
        allowed = _LAYERS_OF_MODE.get(str(r["mode"]))
        if a is not None and b is not None and allowed is not None:
            if a not in allowed or b not in allowed or a != b:
                want = (f"two {allowed[0]} nodes" if len(allowed) == 1
                        else f"two nodes of one layer ({' or '.join(allowed)})")
                problems.append(f"{at}: a {r['mode']} link from {r['from_node_id']} ({a}) to "
                                f"{r['to_node_id']} ({b}); it must join {want}: modes meet "
                                "only through transfer links. Correct the node id.")
        border = r.get("border_id")
        if country is not None and isinstance(border, str) and border.strip():
            m = re.match(r"^([A-Z]{2})-([A-Z]{2})", border.strip())
            fc, tc = country.get(r["from_node_id"]), country.get(r["to_node_id"])
            if m and fc is not None and tc is not None and (fc, tc) == (m[2], m[1]):
                problems.append(f"{at}: border {border} runs from {m[1]} to {m[2]}, but the "
                                f"link runs from {r['from_node_id']} ({fc}) to "
                                f"{r['to_node_id']} ({tc}): its ends are swapped; swap "
                                "from_node_id and to_node_id.")
    return problems


def _future_count_problems(observed: pd.DataFrame) -> list[str]:
    """Rows of ``observed.csv`` of a year after this one: a count is of a year past, and a typo
    (2042 for 2024) dropped a fit row from every comparison in silence (no run is of that year).
    A count of a year after the base year is a count all the same, compared with a run of its
    year (``reference_2025``)."""
    import datetime

    if "year" not in observed:
        return []
    this_year = datetime.date.today().year
    year = pd.to_numeric(observed["year"], errors="coerce")
    return [f"observed.csv line {i + 2} ({observed.at[i, 'observed_id']}): year "
            f"{int(year[i])} has not come yet ({this_year} now), and a count is of a year past; "
            "correct the year." for i in observed.index[year > this_year]]


#: how far a value of time may stand from value x percentage / 24 (a slip is 24 or 1,000
#: times off; rounding a few percent)
VOT_FACTOR = 1.5


def _value_of_time_problems(commodities: pd.DataFrame) -> list[str]:
    """Commodities whose ``vot_usd_per_t_h`` is more than :data:`VOT_FACTOR` times above or
    below ``value_usd_per_t`` x ``vot_pct_value_per_day`` / 100 / 24: the three columns say one
    thing, and a value per day, or a value per kg, in one of them passed in silence (grain's
    value of time 24 times too high moved 3.6 Mt onto the Astara road). Rounding (0.13 for
    0.1333) is not a slip."""
    need = ("value_usd_per_t", "vot_usd_per_t_h", "vot_pct_value_per_day")
    if not set(need) <= set(commodities.columns):
        return []
    value, vot, pct = (pd.to_numeric(commodities[c], errors="coerce") for c in need)
    implied = value * pct / 100.0 / 24.0
    ratio = vot / implied
    bad = (vot.notna() & implied.notna() & (implied > 0)
           & ((ratio > VOT_FACTOR) | (ratio < 1 / VOT_FACTOR)))
    return [f"commodity.csv line {i + 2} ({commodities.at[i, 'commodity_id']}): "
            f"vot_usd_per_t_h {vot[i]:g} is not value_usd_per_t {value[i]:g} x "
            f"vot_pct_value_per_day {pct[i]:g} % / 24 h = {implied[i]:.4g} USD/t-h ("
            f"{vot[i] / implied[i]:.3g} times it): a value per day, or per kg, in one of the "
            "three? Make them agree (the value of time is per tonne and hour, the value per "
            "tonne, the percentage per day)." for i in commodities.index[bad]]


def split_role(independent: bool, kind: str, total_of: bool = False) -> str:
    """The role the split rule gives a row of ``observed.csv`` (docs/dataset.md, "The split
    rule", written before any fit): ``check`` for a total of other rows (``total_of``; rule "A
    total of fit rows from one release is checked, not fitted"), else ``validate`` if and only
    if it is independent and counts a port's throughput (``kind`` port), else ``fit``.

    Examples
    --------
    >>> split_role(True, "port"), split_role(True, "link"), split_role(False, "port")
    ('validate', 'fit', 'fit')
    >>> split_role(True, "link", total_of=True)
    'check'
    """
    if total_of:
        return "check"
    return "validate" if independent and kind == "port" else "fit"


def _check_observed(folder: Path, frames: dict, observed: pd.DataFrame,
                    links: pd.DataFrame, *, refit: tuple[str, ...] = ()) -> None:
    """``observed.csv`` as the runs read it, and the two rules that keep validation honest:
    ``independent`` is what the inputs cite (a row is not independent if and only if an input
    names its ``observed_id``), and ``role`` follows the split rule (:func:`split_role`).

    Raises
    ------
    InputError
        Every problem at once, with line and id and the fix.
    """
    from karvan.freight.independence import judge_independence
    from karvan.freight.observed import parse_observations

    problems: list[str] = []
    countries = ({str(c) for c in frames["zone"]["country"]}
                 | {str(c) for c in links.get("country", ())})
    try:
        parse_observations(observed, links, countries=countries,
                           commodities=set(frames["commodity"]["commodity_id"].astype(str)))
    except InputError as e:
        problems.extend(e.problems)
    obs = frames["observed"]

    def cites(p: Path) -> bool:  # a table that can cite observations (its header has the column)
        with p.open(encoding="utf-8-sig", errors="replace") as f:
            return "observed_ids" in f.readline()

    inputs = {p.relative_to(folder).as_posix(): pd.read_csv(p, dtype=str, keep_default_na=False)
              for p in sorted([*folder.glob("*.csv"), *folder.glob("demand_inputs/*.csv")])
              if p.name not in ("observed.csv", "sources.csv") and cites(p)}
    source = obs["source"] if "source" in obs else pd.Series("", index=obs.index)
    judged = judge_independence(pd.DataFrame({"observed_id": obs["observed_id"].astype(str),
                                              "source": source.fillna("").astype(str)}), inputs)

    def flag(v) -> str:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip(
            ).lower()

    for pos, (r, j) in enumerate(zip(obs.itertuples(index=False), judged.itertuples(index=False),
                                     strict=True)):
        at = f"observed.csv line {pos + 2} ({r.observed_id})"
        stated = flag(getattr(r, "independent", ""))
        if stated == "true" and not j.independent:
            by = j.cited_by.split(";")
            verb = "cites" if len(by) == 1 else "cite"
            problems.append(f"{at}: independent is true, but {' and '.join(by)} {verb} it in "
                            "observed_ids: the figure built an input, so it is no evidence "
                            "that the model is right; set independent false and role fit (or "
                            "take it out of the input's observed_ids, if the input does not "
                            "rest on it).")
        elif stated == "false" and j.independent:
            problems.append(f"{at}: independent is false, but no input names it "
                            "in observed_ids; name it in the observed_ids of the input rows "
                            "built from it (the input then says what it rests on), or set "
                            "independent true.")
        given = flag(getattr(r, "role", ""))
        role = given or "fit"
        kind = flag(getattr(r, "kind", ""))
        # by the row's own statement (blank: not known to be independent, so no evidence)
        independent = stated == "true"
        total_of = bool(flag(getattr(r, "total_of", "")))
        want = split_role(independent, kind, total_of)
        # a row with total_of, or role check without it: parse_observations says what to do
        if not total_of and role in ("fit", "validate") and role != want and not (
                role == "validate" and not independent):  # that one parse_observations says
            why = ("an independent port throughput" if want == "validate" else
                   "not an independent port throughput" if independent else
                   "not independent")
            stated_role = role if given else "blank (read as fit)"
            problems.append(f"{at}: role is {stated_role}, but the split rule (docs/dataset.md, "
                            "\"The split rule\", written before any fit: validate if and only if "
                            f"independent and kind port) makes it {want}: it is {why}; set "
                            f"role {want}. A rule chosen by how rows fit would make the "
                            "validation a fit.")
    problems.extend(_fitted_to_validation(
        {k: v for k, v in frames.items() if k not in refit}, obs))
    if problems:
        raise InputError(problems, str(folder))


#: the tables of fitted values, what writes them again from the fit rows alone, and the other
#: way out
FITTED_TABLES = {"choice_parameter": ("karvan calibrate --parameters --write",
                                      "set those rows' value to their prior_value and clear "
                                      "their observations"),
                 "od_estimate": ("karvan calibrate --write", "delete od_estimate.csv")}


def _fitted_to_validation(frames: dict, obs: pd.DataFrame) -> list[str]:
    """The rows of fitted tables (``choice_parameter.csv``, ``od_estimate.csv``) whose
    ``observations`` name a ``validate`` or ``check`` row of ``observed.csv``, one problem per
    table: those rows are never fitted to, so a row that became ``validate`` after the fit (its
    kind or independence changed) leaves the fit holding what it is meant to be checked
    against, and a ``check`` row (a total of fit rows) fitted too weighs its parts twice. An
    id that ``observed.csv`` no longer has is warned about (the fit rests on a figure gone)."""
    from karvan.schema.text import id_list

    roles = dict(zip(obs["observed_id"].astype(str),
                     obs["role"].fillna("").astype(str).str.strip().str.lower()
                     if "role" in obs else [""] * len(obs), strict=True))
    problems, gone = [], {}
    for name, (fix, other) in FITTED_TABLES.items():
        table = frames.get(name)
        if table is None or "observations" not in table:
            continue
        lines, bad = [], {}
        for pos, v in enumerate(table["observations"]):
            ids = id_list(";".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
            hit = [i for i in ids if roles.get(i) in ("validate", "check")]
            gone.update({i: name for i in ids if i not in roles})
            if hit:
                lines.append(pos + 2)
                bad.update(dict.fromkeys(hit))
        if lines:
            kinds = sorted({roles[i] for i in bad})
            one = len(bad) == 1
            what = " and ".join(f"{k} row{'' if one else 's'}" for k in kinds)
            why = {"validate": "validation rows are never fitted to, so they would check the "
                               "fit against itself",
                   "check": "a check row is the total of fit rows, so fitting it too weighs "
                            "its parts twice"}
            problems.append(f"{name}.csv line{'' if len(lines) == 1 else 's'} "
                            f"{format_ids(lines)}: fitted to {format_ids(list(bad))}, "
                            f"{'a ' if one else ''}{what} of observed.csv: "
                            f"{'; '.join(why[k] for k in kinds)}; fit again from the fit rows "
                            f"(`{fix}`), or {other}.")
    if gone:
        by = {}
        for i, name in gone.items():
            by.setdefault(name, []).append(i)
        for name, ids in by.items():
            warnings.warn(f"{name}.csv was fitted to {format_ids(ids)}, which observed.csv no "
                          f"longer has; fit again (`{FITTED_TABLES[name][0]}`) to rest on the "
                          "rows as they are.", CorridorWarning, stacklevel=4)
    return problems


def is_reference(name: str) -> bool:
    """Whether a scenario name is a reference (``baseline``, ``reference_Y`` or
    ``backcast_Y``: :mod:`karvan.scenario.reference` builds them), whatever the dataset's base
    year."""
    return name == "baseline" or bool(re.fullmatch(r"(reference|backcast)_\d{4}", name))


def reference_name(year: int, *, base_year: int = 2024) -> str:
    """The name of the reference of ``year``: ``baseline``, ``reference_<year>`` or
    ``backcast_<year>`` (:mod:`karvan.scenario.reference` builds them)."""
    if year == base_year:
        return "baseline"
    return f"reference_{year}" if year > base_year else f"backcast_{year}"


def separating_reference(a: str, a_year: int, b: str, b_year: int, *,
                         base_year: int = 2024) -> str | None:
    """The like-year reference to compare with so that a difference ``b - a`` of runs of two
    years is separated into a scenario's own changes and the growth of demand: ``b``'s, unless
    ``b`` is itself that reference, then ``a``'s; ``None`` where each run is the reference of
    its own year (nothing but references to compare). Never one of the two runs.

    Examples
    --------
    >>> separating_reference("baseline", 2024, "rasht_astara", 2028)
    'reference_2028'
    >>> separating_reference("rasht_astara", 2028, "baseline", 2024)
    'reference_2028'
    >>> separating_reference("reference_2030", 2030, "baseline", 2024) is None
    True
    """
    for year in (b_year, a_year):
        want = reference_name(year, base_year=base_year)
        if want not in (a, b):
            return want
    return None
