"""Reported volumes (``observed.csv``) and what a run says about them.

Every observation is a linear function of the OD cells of a run,
``modelled_i = sum over cells c of a[i, c] * tonnes_c``, where ``a[i, c]`` is the share of cell
c's tonnes that the observation counts: the share of its flow on routes that meet the
observation's terms, restricted to the observation's commodity and origin-destination subset.
Trade observations count demand, not routes: ``a[i, c]`` is 1 for the cells of the country
pair, or, where the dataset's demand generator inputs say which flows the figure built, the
share of the cell's tonnes that those flows carry (``Observation.cell_share``). The same
matrix gives the calibration table and the OD estimation's link-use proportions.

Grammar of ``element_ids`` (docs/dataset.md, "Calibration and validation"): groups separated by
``;`` are alternatives, and a route that meets any of them counts once; the terms of a group,
joined by ``+``, must all be met. A term is a link id or border id (both directions; ``:ab`` or
``:ba`` one), ``A>B>C`` (from country A across country B to country C, ``*`` for any country other
than B) or a country pair of the demand (``A<>B`` both directions, ``A>B`` one).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from karvan.errors import InputError, format_ids
from karvan.freight.corridor import OVERSEAS_SHARES
from karvan.network.graph import CompiledGraph
from karvan.schema.text import id_list

#: columns an observed table must have; the others have defaults (see :func:`parse_observations`)
REQUIRED = ("observed_id", "element_ids", "year", "tonnes_per_year")
ROLES = ("fit", "validate", "check")
#: how far the figures of a ``check`` row's parts (``total_of``) may sum from its own, relative
TOTAL_TOLERANCE = 0.01
#: the modes on which a route crosses a country by land: overseas cargo through a port of the
#: country is its transit only on them (rule "Freight through a gateway port is transit of the
#: port's country", docs/dataset.md)
LAND_MODES = ("rail", "road")


@dataclass(frozen=True, slots=True)
class Term:
    """One condition of a group: ``kind`` is ``link`` (``ids`` are link ids, each with a
    direction ``ab``, ``ba`` or ``both``), ``border`` (border ids), ``transit`` (``ids`` =
    (A, B, C)) or ``trade`` (``ids`` = (A, B), ``both`` for ``A<>B``)."""

    kind: str
    ids: tuple[str, ...]
    direction: str = "both"


@dataclass(frozen=True, slots=True)
class Observation:
    """A parsed row of ``observed.csv``: what it counts, for which year, how much."""

    observed_id: str
    groups: tuple[tuple[Term, ...], ...]
    year: int
    tonnes: float
    commodity_id: str | None = None
    od: tuple[str, str, str] | None = None  # (A, B, how): how in {"either", "one", "both"}
    mode: str | None = None
    node_direction: tuple[str, str] | None = None  # the direction column's from>to
    independent: bool = False
    role: str = "fit"
    #: a trade row's share of each demand cell, ((origin zone, destination zone, commodity),
    #: share) pairs: the tonnes of the flows that the figure built (``cell_shares`` of
    #: :func:`karvan.freight.corridor.load_corridor`); None: every tonne of the pair
    cell_share: tuple[tuple[tuple[str, str, str], float], ...] | None = None
    #: the rows whose figures this row's is the sum of (``total_of``; role ``check``): compared,
    #: never fitted, its parts being fitted (rule "A total of fit rows from one release is
    #: checked, not fitted", docs/dataset.md)
    total_of: tuple[str, ...] = ()

    @property
    def is_trade(self) -> bool:
        """Whether one of its terms is a trade term (``A>B`` or ``A<>B``: a country pair)."""
        return any(t.kind == "trade" for g in self.groups for t in g)


@dataclass(frozen=True, slots=True, eq=False)
class RunFlows:
    """What the comparators need from one run: its routes, graph, link table and demand cells.

    ``routes`` has columns ``class, origin, destination, arcs, share`` (as
    :func:`karvan.paths.route_flows`), ``links`` is the scenario's link table indexed by
    ``link_id`` (with ``mode``, ``country``, ``border_id``, ``from_node_id``, ``to_node_id``),
    ``cells`` the demand of the run (``origin_zone_id, destination_zone_id, commodity_id,
    tonnes_per_year``), one row per OD pair and commodity.
    """

    name: str
    year: int
    routes: pd.DataFrame
    graph: CompiledGraph
    links: pd.DataFrame
    cells: pd.DataFrame
    meta: dict = field(default_factory=dict)


def _split(value) -> list[str]:
    s = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return [p.strip() for p in s.split(";") if p.strip() and p.strip().lower() != "nan"]


def _text(row: Mapping, col: str) -> str:
    v = row.get(col, "")
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v).strip()


def parse_observations(observed: pd.DataFrame, links: pd.DataFrame, *,
                       countries: set[str], commodities: set[str],
                       where: str = "observed.csv") -> list[Observation]:
    """Parse every row of an observed table, checking its ids against the dataset.

    Parameters
    ----------
    observed
        The table (``CorridorData.observed``): ``observed_id, element_ids, year,
        tonnes_per_year`` and optionally ``direction, commodity_id, od_countries, mode,
        independent`` (default false: a figure not known to be independent is no evidence) and
        ``role`` (default fit; ``check`` for a row with ``total_of``, the ids of the rows its
        figure is the sum of).
    links
        The dataset's link table, indexed by ``link_id``, with ``from_node_id``, ``to_node_id``
        and ``border_id``: every link of every status, so that a figure on a link that a
        scenario closes still parses (and counts zero there).
    countries, commodities
        The country codes of the zones (plus the link pseudo-countries) and the commodity ids.

    Returns
    -------
    list of Observation
        In the order of the table.

    Raises
    ------
    InputError
        Every problem at once: unknown link, border, country or commodity ids, bad syntax, a
        direction that matches no end of its link, tonnes that are not positive.
    """
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in observed]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)}.")
    border_ids = set(links["border_id"].dropna().astype(str)) if "border_id" in links else set()
    link_ids = set(map(str, links.index))
    link_countries = set(links["country"].dropna().astype(str)) if "country" in links else set()
    known_c = set(countries) | link_countries
    out: list[Observation] = []
    for pos, row in enumerate(observed.to_dict("records")):
        oid = _text(row, "observed_id") or f"line {pos + 2}"
        at = f"{where} line {pos + 2} ({oid})"
        groups = []
        for g in _split(row.get("element_ids")):
            terms = []
            for raw in (t.strip() for t in g.split("+")):
                term = _parse_term(raw, link_ids, border_ids, known_c, at, problems)
                if term is not None:
                    terms.append(term)
            if terms:
                groups.append(tuple(terms))
        if not groups and not any(at in p for p in problems):
            problems.append(f"{at}: element_ids is empty; name the links, borders, transit or "
                            "country pair the figure counts.")
        kinds = {t.kind for g in groups for t in g}
        if "trade" in kinds and kinds != {"trade"}:
            problems.append(f"{at}: a country pair (A<>B) compares demand and cannot be combined "
                            "with links, borders or transit in one row.")
        try:
            year = int(float(row.get("year")))
        except (TypeError, ValueError):
            problems.append(f"{at}: year {row.get('year')!r} is not a year.")
            year = -1
        tonnes = pd.to_numeric(pd.Series([row.get("tonnes_per_year")]), errors="coerce").iloc[0]
        if not (tonnes > 0):
            problems.append(f"{at}: tonnes_per_year must be a number > 0, not "
                            f"{row.get('tonnes_per_year')!r}.")
        com = _text(row, "commodity_id") or None
        if com is not None and com not in commodities:
            problems.append(f"{at}: unknown commodity_id {com!r} (known: "
                            f"{format_ids(sorted(commodities))}).")
        od = _parse_od(_text(row, "od_countries"), known_c, at, problems)
        mode = _text(row, "mode") or None
        if mode is not None and "transit" not in kinds:
            problems.append(f"{at}: mode {mode!r} applies to transit terms (A>B>C) only; give "
                            "the links of that mode instead.")
        elif mode is not None and "mode" in links and mode not in set(
                links["mode"].astype(str)):
            # any other spelling matched no link: a count of 0 t
            problems.append(f"{at}: mode {mode!r} is not a mode of link.csv (modes: "
                            f"{format_ids(sorted(set(links['mode'].astype(str))), 12)}).")
        direction = _text(row, "direction") or "both"
        node_dir = None
        if direction == "both":
            # 'both' says every term counts both directions; a one-way term would be read as
            # written whatever the column says, so the two must agree
            one_way = [f"{t.ids[0]}:{t.direction}" if t.kind in ("link", "border")
                       else ">".join(t.ids) for g in groups for t in g
                       if (t.kind in ("link", "border") and t.direction in ("ab", "ba"))
                       or (t.kind == "trade" and t.direction == "one")]
            if one_way:
                problems.append(f"{at}: direction 'both' but {format_ids(one_way)} in "
                                "element_ids count one direction: write 'element' in the "
                                "direction column (the terms carry the direction), or name the "
                                "links without ':ab'/':ba'.")
        if direction not in ("both", "element"):
            frm, sep, to = direction.partition(">")
            single = len(groups) == 1 and len(groups[0]) == 1 and groups[0][0].kind in (
                "link", "border") and groups[0][0].direction == "both"
            if not sep or not frm.strip() or not to.strip():
                problems.append(f"{at}: direction {direction!r} must be 'both', 'element' or "
                                "from_node>to_node.")
            elif not single:
                problems.append(f"{at}: direction {direction!r} needs exactly one link or border "
                                "in element_ids (use id:ab or id:ba in a longer list).")
            else:
                node_dir = (frm.strip(), to.strip())
                term = groups[0][0]
                dirs, left = _node_direction(term, node_dir, links)
                if dirs is None:
                    problems.append(f"{at}: direction {direction!r} matches neither end of "
                                    f"{format_ids(term.ids)}.")
                elif left:
                    # the nodes of one of the border's links (rail, say) would leave its
                    # other links out of the count without a word
                    problems.append(f"{at}: direction {direction!r} matches the ends of "
                                    f"{format_ids([lid for lid, _ in dirs])} but not of "
                                    f"{format_ids(left)}, also links of border "
                                    f"{term.ids[0]!r}: name the link(s) the figure counts "
                                    "instead of the border (id:ab or id:ba for one direction), "
                                    "or give the direction of every link of the border in "
                                    "its own row.")
                else:
                    # the links of the term in that direction, as alternatives (a border may
                    # have a rail and a road link)
                    groups = [(Term("link", (lid,), d),) for lid, d in dirs]
        independent = _text(row, "independent").lower()
        if independent not in ("", "true", "false"):
            problems.append(f"{at}: independent must be true or false, not {independent!r}.")
        role = _text(row, "role") or "fit"
        total_of = tuple(id_list(_text(row, "total_of")))
        if role not in ROLES:
            problems.append(f"{at}: role must be fit, validate or check, not {role!r}.")
        elif total_of and role != "check":
            problems.append(f"{at}: total_of names {format_ids(total_of)}, so the row is the sum "
                            f"of other rows and its role is check, not {role}: set role check "
                            "(compared, never fitted, its parts being fitted), or clear total_of "
                            "if the figure is not their sum.")
        elif role == "check" and not total_of:
            problems.append(f"{at}: role check is for a total of fit rows: name them in total_of "
                            "(the observed_ids whose figures add up to this one), or set role fit "
                            "or validate.")
        if role == "validate" and independent != "true":
            problems.append(f"{at}: a validate row must be independent (independent=true): a "
                            "figure used to build an input cannot test the model.")
        shares = row.get("cell_shares")
        cell_share = (tuple(sorted(shares.items())) if isinstance(shares, Mapping)
                      and kinds == {"trade"} else None)
        out.append(Observation(oid, tuple(groups), year, float(tonnes) if tonnes > 0 else 0.0,
                               com, od, mode, node_dir, independent == "true", role,
                               cell_share, total_of))
    sources = ({str(r.get("observed_id", "")).strip(): set(id_list(_text(r, "source")))
                for r in observed.to_dict("records")} if "source" in observed else None)
    problems.extend(_total_problems(out, where, sources))
    if problems:
        raise InputError(problems, where)
    return out


def _total_problems(obs: list[Observation], where: str,
                    sources: Mapping[str, set[str]] | None = None) -> list[str]:
    """What is wrong with the ``total_of`` of every row that has one, every problem of every
    row: a part named twice, not in the table or the row itself, a part of another year, of a
    role other than fit or (where ``sources``, the source ids of each row, are given) of
    another release (no source id in common with the row), and parts whose figures do not add
    up to the row's within :data:`TOTAL_TOLERANCE`."""
    problems = []
    by_id = {o.observed_id: o for o in obs}
    for pos, o in enumerate(obs):
        if not o.total_of:
            continue
        at = f"{where} line {pos + 2} ({o.observed_id})"
        twice = sorted({i for i in o.total_of if o.total_of.count(i) > 1})
        if twice:
            problems.append(f"{at}: total_of names {format_ids(twice)} more than once; name each "
                            "part once.")
        unknown = [i for i in dict.fromkeys(o.total_of) if i not in by_id or i == o.observed_id]
        if unknown:
            problems.append(f"{at}: total_of names {format_ids(unknown)}, not another row of the "
                            "table; name the observed_ids of the rows whose sum the figure is.")
        parts = [by_id[i] for i in dict.fromkeys(o.total_of)
                 if i in by_id and i != o.observed_id]
        other_year = [p.observed_id for p in parts if p.year != o.year]
        if other_year:
            problems.append(f"{at}: total_of names {format_ids(other_year)} of another year than "
                            f"{o.year}: a total adds up figures of its own year; name the parts "
                            "of that year, or clear total_of (the row is then fit or validate "
                            "by the split rule).")
        not_fit = [f"{p.observed_id} ({p.role})" for p in parts if p.role != "fit"]
        if not_fit:
            problems.append(f"{at}: its parts {format_ids(not_fit)} are not fit rows: a check row "
                            "is left out of the fit because its parts are in it; name fit rows "
                            "only, or clear total_of (the row is then fit or validate by the "
                            "split rule).")
        if sources is not None:
            own = sources.get(o.observed_id, set())
            other = [p.observed_id for p in parts if not sources.get(p.observed_id, set()) & own]
            if other:
                problems.append(f"{at}: its parts {format_ids(other)} cite none of its sources "
                                f"({format_ids(sorted(own)) if own else 'none given'}): a total "
                                "adds up the figures of one release; name the parts from its "
                                "source, or clear total_of.")
        if unknown or twice:
            continue  # the sum of parts that are not all there says nothing more
        total = sum(p.tonnes for p in parts)
        if o.tonnes > 0 and total > 0 and abs(total - o.tonnes) > TOTAL_TOLERANCE * o.tonnes:
            problems.append(f"{at}: tonnes_per_year {o.tonnes:,.0f} is not the sum of its parts "
                            f"{format_ids(o.total_of)}, {total:,.0f} ({total / o.tonnes - 1:+.1%}; "
                            f"within {TOTAL_TOLERANCE:.0%} expected): correct the figures, or "
                            "clear total_of if the row is not their total.")
    return problems


def _parse_term(raw: str, link_ids: set[str], border_ids: set[str], countries: set[str],
                at: str, problems: list[str]) -> Term | None:
    if "<>" in raw:
        a, b = (s.strip() for s in raw.split("<>", 1))
        bad = [c for c in (a, b) if c not in countries]
        if bad:
            problems.append(f"{at}: unknown country {format_ids(bad)} in {raw!r}.")
            return None
        return Term("trade", (a, b), "both")
    if raw.count(">") == 2:
        a, b, c = (s.strip() for s in raw.split(">"))
        bad = [x for x in (a, b, c) if x != "*" and x not in countries]
        if b == "*" or bad:
            problems.append(f"{at}: transit {raw!r} needs a country in the middle and known "
                            f"countries or * at the ends.")
            return None
        if b in (a, c):
            # IR>IR>* counted Iran's own exports as transit through Iran
            problems.append(f"{at}: transit {raw!r} starts or ends in the country it crosses; "
                            "transit is freight of other countries (for a country's own trade "
                            "use A>B or A<>B).")
            return None
        return Term("transit", (a, b, c))
    if raw.count(">") == 1:
        a, b = (s.strip() for s in raw.split(">"))
        bad = [c for c in (a, b) if c not in countries]
        if bad:
            problems.append(f"{at}: unknown country {format_ids(bad)} in {raw!r}.")
            return None
        return Term("trade", (a, b), "one")
    ident, _, d = raw.partition(":")
    d = d.strip().lower() or "both"
    if d not in ("ab", "ba", "both"):
        problems.append(f"{at}: direction {d!r} of {raw!r} must be ab or ba.")
        return None
    if ident in link_ids:
        return Term("link", (ident,), d)
    if ident in border_ids:
        return Term("border", (ident,), d)
    problems.append(f"{at}: {ident!r} is neither a link id nor a border id of the dataset.")
    return None


def _parse_od(text: str, countries: set[str], at: str, problems: list[str]
              ) -> tuple[str, str, str] | None:
    if not text:
        return None
    if text.startswith("!"):  # every flow but those of the subset after the "!"
        inner = _parse_od(text[1:].strip(), countries, at, [])
        if inner is None:
            problems.append(f"{at}: od_countries {text!r}: after '!' must come C, A>B or "
                            "A<>B with country codes (* for any country in A>B).")
            return None
        return (inner[0], inner[1], "not-" + inner[2])
    if "<>" in text:
        a, b = (s.strip() for s in text.split("<>", 1))
        how = "both"
    elif ">" in text:
        a, b = (s.strip() for s in text.split(">", 1))
        how = "one"
    else:
        a, b, how = text, text, "either"
    bad = [c for c in (a, b) if c != "*" and c not in countries]
    if bad or (how == "either" and a == "*"):
        problems.append(f"{at}: od_countries {text!r} must be C, A>B, A<>B with country codes "
                        "(* for any country in A>B), or one of them after '!' for every flow "
                        "but those.")
        return None
    return (a, b, how)


def _node_direction(term: Term, frm_to: tuple[str, str], links: pd.DataFrame):
    """The (link, ab or ba) pairs of the term's links (a border's every link) that run between
    the two nodes, None where none does; and the term's links that do not (sorted)."""
    ids = [term.ids[0]] if term.kind == "link" else list(
        links.index[links["border_id"].astype(str) == term.ids[0]])
    out, other = [], []
    for lid in ids:
        f, t = str(links.at[lid, "from_node_id"]), str(links.at[lid, "to_node_id"])
        if f == frm_to[0] and t == frm_to[1]:
            out.append((lid, "ab"))
        elif t == frm_to[0] and f == frm_to[1]:
            out.append((lid, "ba"))
        else:
            other.append(lid)
    return out or None, sorted(other)


def _od_match(od: tuple[str, str, str] | None, oc: np.ndarray, dc: np.ndarray) -> np.ndarray:
    if od is None:
        return np.ones(len(oc), dtype=bool)
    a, b, how = od
    if how.startswith("not-"):
        return ~_od_match((a, b, how[4:]), oc, dc)
    if how == "either":
        return (oc == a) | (dc == a)
    fwd = ((oc == a) if a != "*" else np.ones(len(oc), bool)) & (
        (dc == b) if b != "*" else np.ones(len(dc), bool))
    if how == "one":
        return fwd
    bwd = ((oc == b) if b != "*" else np.ones(len(oc), bool)) & (
        (dc == a) if a != "*" else np.ones(len(dc), bool))
    return fwd | bwd


def observation_matrix(observations: list[Observation], flows: RunFlows,
                       zone_country: Mapping[str, str]) -> np.ndarray:
    """The matrix ``a`` (observations x cells of ``flows.cells``) of one run.

    ``a[i, c]`` is the share of cell c's tonnes that observation i counts in this run: the
    summed share of its routes that meet the observation's terms (each route once), or for a
    trade observation on its country pair 1 (its ``cell_share`` where it has one); zero
    outside the observation's commodity and origin-destination subset.

    A cell's tonnes that come from or go on overseas through a port zone of a country B (its
    ``overseas_origin_share`` and ``overseas_destination_share``, where ``flows.cells`` has
    them) have no country at that end for a transit term through B: ``A>B>*`` counts a route
    from A to a port of B with the overseas destination share (``*>B>C`` from a port of B
    with the overseas origin share) if the route uses a rail or road link of B (of the row's
    mode, where it has one); ``A>B>C`` does not count them (where they go beyond the port is
    unknown). For a term through another country the port's country is the end, as for the
    rest of the cell (``KZ>AZ>GE`` counts Kazakh oil to Georgia's ports in full).
    ``a @ flows.cells["tonnes_per_year"]`` is the modelled value of every observation, whatever
    its year (comparing only like years is the caller's part).

    Raises
    ------
    InputError
        Cells that give an OD pair and commodity more than one row, or tonnes that are not a
        finite number >= 0.
    """
    cells = flows.cells.reset_index(drop=True)
    n_cells = len(cells)
    c_oc = cells["origin_zone_id"].map(zone_country).to_numpy(dtype=object)
    c_dc = cells["destination_zone_id"].map(zone_country).to_numpy(dtype=object)
    c_com = cells["commodity_id"].astype(str).to_numpy()
    g = flows.graph
    routes = flows.routes
    n_routes = len(routes)
    c_o = cells["origin_zone_id"].to_numpy(dtype=object)
    c_d = cells["destination_zone_id"].to_numpy(dtype=object)
    cell_keys = pd.MultiIndex.from_arrays([c_com, c_o, c_d])
    problems = []
    if not cell_keys.is_unique:  # a route's tonnes would go to one of them, a trade's to both
        dup = [f"{o}->{d} {c}" for c, o, d in
               cell_keys[cell_keys.duplicated(keep="first")].unique()]
        problems.append(f"run {flows.name} ({flows.year}): {len(dup)} OD pairs and commodities "
                        f"have more than one row of demand ({format_ids(dup)}); a run's cells "
                        "are one row per OD pair and commodity: sum the rows of each.")
    if "tonnes_per_year" in cells:
        # one NaN made every modelled value NaN, those of rows that do not count the cell too
        t = pd.to_numeric(cells["tonnes_per_year"], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(t) & (t >= 0))
        if bad.any():
            ids = [f"{o}->{d} {c}" for c, o, d in cell_keys[bad]]
            problems.append(f"run {flows.name} ({flows.year}): tonnes_per_year must be a finite "
                            f"number >= 0 in every cell; {int(bad.sum())} are not "
                            f"({format_ids(ids)}).")
    if problems:
        raise InputError(problems, "RunFlows.cells")
    # route -> cell (-1 where the route's pair and commodity have no cell)
    if n_routes:
        classes = routes["class"].tolist()
        commodity = {c: str(c).split("|", 1)[0] for c in set(classes)}  # of each class name
        r_cell = cell_keys.get_indexer(pd.MultiIndex.from_arrays(
            [[commodity[c] for c in classes],
             routes["origin"].to_numpy(dtype=object),
             routes["destination"].to_numpy(dtype=object)])).astype(np.int64)
    else:
        r_cell = np.zeros(0, np.int64)
    share = routes["share"].to_numpy(dtype=float) if n_routes else np.zeros(0)
    # each route's tonnes in three parts: those of neither overseas end, from overseas, to
    # overseas (the cell's shares; all in the first part where the cells have none)
    parts = np.zeros((3, n_routes))
    if n_routes:
        parts[0] = 1.0
        if set(OVERSEAS_SHARES) <= set(cells):
            for p, col in enumerate(OVERSEAS_SHARES, start=1):
                v = np.nan_to_num(cells[col].to_numpy(dtype=float))
                parts[p] = np.where(r_cell >= 0, v[np.maximum(r_cell, 0)], 0.0)
            parts[0] = 1.0 - parts[1] - parts[2]
    live = [p for p in range(3) if p == 0 or parts[p].any()]
    # route x arc incidence, built as CSR directly: an arc a route crosses twice is two
    # entries, which a product sums (a route uses an arc where the sum is > 0)
    arcs = routes["arcs"].tolist() if n_routes else []
    lengths = np.fromiter(map(len, arcs), dtype=np.int64, count=len(arcs))
    cols = np.fromiter(itertools.chain.from_iterable(arcs), dtype=np.int64,
                       count=int(lengths.sum()))
    ptr = np.concatenate(([0], np.cumsum(lengths)))
    off = (cols < 0) | (cols >= g.n_arcs)
    if off.any():  # routes of another graph: CSR is not checked, and would read past its ends
        bad = np.unique(np.searchsorted(ptr, np.flatnonzero(off), side="right") - 1)
        raise InputError(
            f"run {flows.name} ({flows.year}): {len(bad)} routes have arcs that are not arcs of "
            f"the run's graph (0 to {g.n_arcs - 1}), e.g. arc {int(cols[off][0])} of route "
            f"{int(bad[0])} ({routes['origin'].iloc[bad[0]]} -> "
            f"{routes['destination'].iloc[bad[0]]}); give the routes with the graph they "
            "were found on.", "RunFlows.routes")
    inc = sparse.csr_matrix((np.ones(len(cols)), cols, ptr), shape=(n_routes, g.n_arcs))
    link_tab = flows.links
    arc_lid = g.link_ids[g.arc_link]
    arc_country = link_tab["country"].reindex(arc_lid).astype(str).to_numpy()
    arc_mode = link_tab["mode"].reindex(arc_lid).astype(str).to_numpy()
    arc_border = (link_tab["border_id"].reindex(arc_lid).astype(str).to_numpy()
                  if "border_id" in link_tab else np.full(g.n_arcs, "", dtype=object))
    arc_fwd = g.arc_dir > 0
    # the countries of the routes' origins and destinations (NaN for a zone without one)
    r_oc = routes["origin"].map(zone_country).to_numpy(dtype=object) \
        if n_routes else np.zeros(0, object)
    r_dc = routes["destination"].map(zone_country).to_numpy(dtype=object) \
        if n_routes else np.zeros(0, object)

    def arcs_of(t: Term, mode: str | None, land: bool = False) -> np.ndarray:
        """The arcs a route must use to meet the term (of a transit term: to pass through;
        ``land``: its rail and road links, which overseas cargo must use)."""
        if t.kind in ("link", "border"):
            sel = np.isin(arc_lid, t.ids) if t.kind == "link" else (arc_border == t.ids[0])
            if t.direction == "ab":
                sel &= arc_fwd
            elif t.direction == "ba":
                sel &= ~arc_fwd
            return sel
        inside = arc_country == t.ids[1]
        if mode is not None:
            inside &= arc_mode == mode
        if land:
            inside &= np.isin(arc_mode, LAND_MODES)
        return inside

    # which routes use each term's arcs, all terms in one sparse product (a term the
    # observations share is computed once; sparse, so that many routes and terms stay small)
    def key(t: Term, mode: str | None, land: bool = False) -> tuple:
        return (t.kind, tuple(t.ids), t.direction,
                None if t.kind in ("link", "border") else mode, land)

    col: dict[tuple, int] = {}
    masks = []
    for ob in observations:
        if ob.is_trade:
            continue
        for grp in ob.groups:
            for t in grp:
                for land in (False, True) if t.kind == "transit" and len(live) > 1 \
                        else (False,):
                    k = key(t, ob.mode, land)
                    if k not in col:
                        col[k] = len(masks)
                        masks.append(arcs_of(t, ob.mode, land))
    used = (inc @ sparse.csc_matrix(np.column_stack(masks), dtype=float)).tocsc() \
        if masks else None

    def routes_using(t: Term, mode: str | None, land: bool = False) -> np.ndarray:
        j = col[key(t, mode, land)]
        hit = np.zeros(n_routes, dtype=bool)
        lo, hi = used.indptr[j], used.indptr[j + 1]
        hit[used.indices[lo:hi]] = used.data[lo:hi] > 0
        return hit

    def term_hits(t: Term, mode: str | None, part: int = 0) -> np.ndarray:
        """The routes whose tonnes of ``part`` (0: neither end overseas, 1: from overseas,
        2: to overseas) meet the term."""
        if t.kind in ("link", "border"):
            return routes_using(t, mode)
        a, b, c = t.ids
        via = routes_using(t, mode)
        frm = (r_oc != b) if a == "*" else (r_oc == a)
        to = (r_dc != b) if c == "*" else (r_dc == c)
        # overseas cargo through a port of B has no country at that end: any other than B
        # (``*``), but not a named one; across B by rail or road. Through a port elsewhere, the
        # port's country is the end, as for the rest of the cell
        if part == 1:
            port = r_oc == b
            frm = np.where(port, a == "*", frm)
            via = via & (~port | routes_using(t, mode, True))
        elif part == 2:
            port = r_dc == b
            to = np.where(port, c == "*", to)
            via = via & (~port | routes_using(t, mode, True))
        return via & frm & to

    out = np.zeros((len(observations), n_cells))
    for i, ob in enumerate(observations):
        mask = _od_match(ob.od, c_oc, c_dc)
        if ob.commodity_id is not None:
            mask &= c_com == ob.commodity_id
        if ob.is_trade:
            row = np.zeros(n_cells, dtype=bool)
            for grp in ob.groups:
                for t in grp:
                    row |= _od_match(t.ids + (t.direction,), c_oc, c_dc)
            out[i] = (row & mask).astype(float)
            if ob.cell_share is not None:  # the flows the figure built, not the whole pair
                part = dict(ob.cell_share)
                out[i] *= np.array([part.get(k, 0.0) for k in zip(
                    c_o, c_d, c_com, strict=True)])
            continue
        weight = np.zeros(n_routes)
        for p in live:
            hit = np.zeros(n_routes, dtype=bool)
            for grp in ob.groups:
                ok = np.ones(n_routes, dtype=bool)
                for t in grp:
                    ok &= term_hits(t, ob.mode, p)
                hit |= ok
            weight += np.where(hit, parts[p], 0.0)
        keep = (weight > 0) & (r_cell >= 0)
        np.add.at(out[i], r_cell[keep], share[keep] * weight[keep])
        out[i] *= mask
    return out


def modelled_tonnes(matrix: np.ndarray, flows: RunFlows) -> np.ndarray:
    """Modelled value of every observation in a run: the matrix times the cells' tonnes."""
    return matrix @ flows.cells["tonnes_per_year"].to_numpy(dtype=float)
