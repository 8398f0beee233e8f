"""A corridor scenario under the choice model: nested logit over route families with hard
capacities as side constraints of the stochastic equilibrium (``karvan run --choice logit``).

:func:`solve_choice` builds the engine's inputs from the dataset
(:mod:`karvan.freight.choice_model`), generates the route sets (k routes by link penalty plus a
forced member of every route family that can serve each OD pair), solves the equilibrium at fixed
costs with the capacities in the dual (:func:`karvan.choice.dual.fixed_cost_equilibrium`) and
returns the route list and the tables the run needs: capacities with their shadow prices,
unserved demand; :func:`family_shares` gives each family's share per country pair.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.assign.classes import TrafficClass
from karvan.choice import (
    ChoiceResult,
    RouteOptions,
    Waypoints,
    capacities_from_links,
)
from karvan.choice._setup import setup
from karvan.choice.dual import fixed_cost_equilibrium, fixed_cost_lp
from karvan.choice.routes import (
    SOURCE_UNSERVED,
    SOURCE_WAYPOINTS,
    build_route_set,
    least_cost_route_set,
    subset_routes,
)
from karvan.errors import InputError, KarvanError, format_ids
from karvan.freight import accounting as acc
from karvan.freight.choice_model import (
    FORCE_WITHIN,
    CorridorChoice,
    arcs_classifier,
    family_classifier,
    serves_pairs,
)
from karvan.network.demand import Demand
from karvan.network.graph import compile_graph
from karvan.network.model import Network, complete_links
from karvan.paths.trees import shortest_path_trees, tree_routes_through
from karvan.schema.text import id_list

#: money per tonne on a link a segment may not use (a transit ban): prohibitive but finite
BANNED_USD_PER_T = 1e6

log = logging.getLogger(__name__)

#: route-set generation of the corridor: routes per OD pair and class by link penalty
MAX_ROUTES = 6
PENALTY = 1.3
#: the column of link.csv saying which capacities bound both directions together
BOTH_DIRECTIONS = "capacity_both_directions"
#: the engine column of the choice model's hard capacities (see choice_network)
HARD_CAPACITY = "capacity_hard_tpy"


@dataclass(frozen=True, slots=True, eq=False)
class ChoiceRun:
    """What the corridor run takes from the choice model."""

    result: ChoiceResult
    routes: pd.DataFrame
    capacities: pd.DataFrame
    unserved: pd.DataFrame
    classes: tuple[TrafficClass, ...]
    network: Network
    settings: dict


def choice_network(net: Network) -> Network:
    """The network of the choice model: constant times (congestion is the capacities'
    multipliers, not a delay curve), and each link's hard capacity in ``capacity_hard_tpy``:
    ``capacity`` (tonnes per year per direction, as the deterministic model reads it), or, where
    link.csv's ``capacity_both_directions`` is true, the annual throughput of both directions
    together that the link's published capacity gives (twice ``capacity_tpy`` for a unit that
    names both directions, which link.csv halves into a per-direction figure)."""
    from karvan.freight.costs import hard_capacity

    links = net.links.copy()
    links["vdf"] = "constant"
    both, hard = hard_capacity(links)
    links[BOTH_DIRECTIONS] = both
    links[HARD_CAPACITY] = hard
    return Network(net.nodes, links, dict(net.config), net.name)


def choice_classes(classes, model: CorridorChoice, link_ids) -> list[TrafficClass]:
    """The classes with the gauge-break terms of their commodity as link costs (USD/t)."""
    out = []
    gauge = {}  # each commodity's gauge-break terms, looked up once for its classes
    for c in classes:
        com = c.name.split("|", 1)[0]
        if com not in gauge:
            gauge[com] = model.gauge_extra(com, link_ids)
        usd, hours = gauge[com]
        extra = usd + c.value_of_time * hours  # as model.link_cost_usd_per_t
        lc = extra if c.link_cost is None else np.asarray(c.link_cost, dtype=float) + extra
        out.append(TrafficClass(name=c.name, demand=c.demand, value_of_time=c.value_of_time,
                                pce=c.pce, cost_fields=dict(c.cost_fields),
                                link_cost=lc if lc.any() else None))
    return out


def _class_arc_costs(net: Network, g, c: TrafficClass, links: pd.DataFrame | None = None
                     ) -> np.ndarray:
    """The free-flow generalized cost (hours) of each arc of ``g`` for class ``c``; ``links``:
    ``net.links`` in the order of ``g``'s links, where the caller has it (one lookup for all
    its classes)."""
    if links is None:
        links = net.links.loc[g.link_ids]
    money = np.zeros(g.n_links)
    for col, w in c.cost_fields.items():
        money += w * links[col].to_numpy(dtype=float)
    if c.link_cost is not None:
        money += np.asarray(c.link_cost, dtype=float)
    return g.free_flow_time + g.to_arcs(money / c.value_of_time)


def forced_routes(net: Network, demand: Demand, classes, model: CorridorChoice,
                  theta_h: dict[str, float], zone_country: dict[str, str],
                  have: dict | None = None):
    """Forced alternatives: for every OD pair and class, the least-cost route through each
    family's characteristic links (one of its ``via_link_ids``, and one of its
    ``also_via_link_ids`` in either order), where that route costs at most
    ``FORCE_WITHIN / theta`` more than the pair's cheapest route, or where the family is
    declared to serve the pair's countries; where ``have`` maps (family, class, origin,
    destination) to the cost (hours) of the cheapest route of the family a set holds already,
    only if it costs less than that (by more than ``HAVE_TOL`` hours; returned apart, as
    ``checked``). Built from the least-cost trees of every node (the corridor has a few
    hundred); a route that would pass a node twice is left to the route engine's waypoint
    search, which avoids the nodes of earlier legs, where the family is declared or its
    route is within ``4 / theta`` of the cheapest (else it is left out: a detour back over
    its own path). Where the family is declared, its route avoids the characteristic links
    of the families of a higher priority wherever it can (through the waypoint search):
    their ``via_link_ids``, and the ``also_via_link_ids`` of those whose ``via_link_ids`` it
    shares. A route that used one would be classified in that family, and the declared
    family would have no route; a route read off the trees goes to that search only where
    the classifier (:func:`~karvan.freight.choice_model.arcs_classifier`) puts it in another
    family.

    Returns
    -------
    routes
        (class name, origin, destination, arcs) of each forced route.
    waypoints
        :class:`~karvan.choice.Waypoints` for the routes the trees could not give loop-free,
        of families with no route in the set for the pair.
    missing
        The pairs the families are declared to serve that have no route through their links.
    checked
        (routes, waypoints) as the first two, for families with a route in the set: of those
        classified in one family for a pair, the cheapest enters if it is cheaper than every
        route the set holds of that family (:func:`_search_route_set`).
    """
    g = compile_graph(net)
    lid = pd.Index(g.link_ids)
    serves = serves_pairs(model.families)
    zone_ids = list(demand.zone_ids)
    zn = g.zone_nodes[g.zone_index(zone_ids)]
    routes, checked_routes = [], []
    groups: dict[tuple, list] = {}
    no_route = []
    # the characteristic links of the families of a higher priority: a forced route of a
    # family that crossed one would be classified there, and the family would have no route
    avoid_of: dict[str, tuple[str, ...]] = {}
    # where the family is declared, also the also_via_link_ids of a family of a higher
    # priority whose via_link_ids the family shares: a route through the shared links is
    # classified there as soon as it crosses one of them
    claim_of: dict[str, tuple[str, ...]] = {}
    higher: list[str] = []
    shared_also: list[tuple[set[str], list[str]]] = []  # (via, also_via) of each family before
    for f in model.families.itertuples():
        own = set(id_list(f.via_link_ids)) | set(id_list(f.also_via_link_ids))
        avoid_of[f.family_id] = tuple(dict.fromkeys(x for x in higher
                                                     if x not in own and x in lid))
        also_of_higher = [x for v, a in shared_also if v & own for x in a]
        claim_of[f.family_id] = tuple(dict.fromkeys(
            [*avoid_of[f.family_id], *(x for x in also_of_higher if x not in own and x in lid)]))
        higher.extend(x for x in id_list(f.via_link_ids) if x != "*")
        shared_also.append((set(id_list(f.via_link_ids)) - {"*"},
                            list(id_list(f.also_via_link_ids))))
    # which family a forced route of a declared family would be classified in
    classify = arcs_classifier(model.families)
    position = {f: i for i, f in enumerate(model.family_ids)}
    # each family's characteristic links and their arcs, and the arcs (or pairs of arcs, in
    # either order) a route of it passes: the same for every class
    fams = []
    for f in model.families.itertuples():
        via = [x for x in id_list(f.via_link_ids) if x != "*"]
        if not via:
            continue
        also = id_list(f.also_via_link_ids)
        arcs_of = {x: np.flatnonzero(g.arc_link == p) for x, p in
                   zip(via + also, lid.get_indexer(via + also), strict=True) if p >= 0}
        first = [arcs_of[x] for x in via if x in arcs_of] if not also else []
        pairs = [(arcs_of[x], arcs_of[y]) for x in via for y in also
                 if x in arcs_of and y in arcs_of]
        fams.append((f.family_id, np.concatenate(first) if first else None,
                     _pair_legs(pairs) if pairs else None))
    # (family, class) -> {OD pair: cost of the family's cheapest route the set holds}
    have_of: dict[tuple[str, str], dict] = {}
    for (fam, cls, a, b), h in (have or {}).items():
        have_of.setdefault((fam, cls), {})[a, b] = float(h)
    g_links = net.links.loc[g.link_ids]
    for c in classes:
        m = np.asarray(demand.matrices[c.demand], dtype=float).copy()
        np.fill_diagonal(m, 0.0)
        oi, di = np.nonzero(m > 0)
        if not len(oi):
            continue
        cost = np.ascontiguousarray(_class_arc_costs(net, g, c, g_links))
        dist, pred = shortest_path_trees(g, cost, np.arange(g.n_nodes), threads=1)
        o, d = zn[oi], zn[di]
        cut = dist[o, d] + FORCE_WITHIN / theta_h[c.name]
        from_o, to_d = dist[o], dist[:, d]  # (n_od, n_nodes), (n_nodes, n_od)
        # the country pair of each OD pair, as a position in the class's list of country pairs
        cpairs: dict[tuple[str, str], int] = {}
        cpair = np.array([cpairs.setdefault((zone_country.get(zone_ids[i], ""),
                                             zone_country.get(zone_ids[j], "")), len(cpairs))
                          for i, j in zip(oi, di, strict=True)], dtype=np.int64)
        ods = [(zone_ids[i], zone_ids[j]) for i, j in zip(oi, di, strict=True)]
        for fam, first, legs in fams:
            best = np.full(len(o), np.inf)
            best_arcs = np.full((len(o), 2), -1, dtype=np.int64)
            if first is not None:
                # one characteristic link: all of them at once (the first least cost, as the
                # links one by one in their order)
                best, arcs = _through(cost, g, from_o, to_d, first)
                reach = np.isfinite(best)
                best_arcs[reach, :1] = arcs[reach]
            if legs is not None:
                best, arcs = _through_pairs(dist, cost, g, from_o, to_d, *legs)
                reach = np.isfinite(best)
                best_arcs[reach] = arcs[reach]
            served = serves.get(fam, ())
            declared = np.array([p in served for p in cpairs], dtype=bool)[cpair]
            want = (best <= cut) | (declared & np.isfinite(best))
            held_f = np.full(len(o), np.inf)  # the family's cheapest route the set holds
            if (fam, c.name) in have_of:
                held = have_of[fam, c.name]
                held_f = np.array([held.get(od, np.inf) for od in ods])
                want &= best < held_f - HAVE_TOL
            # where the family has a route in the set, a forced member enters only as the
            # least-cost route of the family it is classified in
            fresh = held_f == np.inf
            at = np.flatnonzero(want)
            ok, n_arcs, arcs_flat = tree_routes_through(g, pred, o[at], d[at], best_arcs[at])
            starts = np.concatenate([[0], np.cumsum(n_arcs)])
            # classified in another family (one of a higher priority): the declared family
            # would have no route
            claimed = np.zeros(len(at), dtype=bool)
            if declared[at].any():
                claimed = (classify(g, arcs_flat, starts) != position[fam]) & (n_arcs > 0)
            for k, i in enumerate(at):
                od = (zone_ids[oi[i]], zone_ids[di[i]])
                routed = ok[k] and not (declared[i] and claimed[k])
                if routed:
                    (routes if fresh[i] else checked_routes).append(
                        (c.name, *od, arcs_flat[starts[k]:starts[k + 1]].copy()))
                elif declared[i] or best[i] <= dist[o[i], d[i]] + WAYPOINT_WITHIN / theta_h[
                        c.name]:
                    # through the waypoint search, which avoids the nodes of earlier legs
                    # (where the family would have a share worth the search); a route that
                    # crossed a link of a higher priority searches around it
                    via_arcs = [int(x) for x in best_arcs[i] if x >= 0]
                    key = (fam, tuple(str(g.link_ids[g.arc_link[x]]) for x in via_arcs),
                           c.name, bool(declared[i]), bool(fresh[i]))
                    groups.setdefault(key, []).append(od)
            for i in np.flatnonzero(declared & ~np.isfinite(best)):
                no_route.append((fam, c.name, zone_ids[oi[i]], zone_ids[di[i]]))
    wps = [Waypoints(name=f"{fam}#{n}", via=via, kind="link", ods=tuple(ods), classes=(cls,),
                     avoid=claim_of[fam] if decl else avoid_of[fam])
           for n, ((fam, via, cls, decl, _), ods) in enumerate(groups.items())]
    checked = [w for w, key in zip(wps, groups, strict=True) if not key[4]]
    wps = [w for w, key in zip(wps, groups, strict=True) if key[4]]
    missing = pd.DataFrame(no_route, columns=["family_id", "class", "origin", "destination"])
    return routes, wps, missing, (checked_routes, checked)


#: a forced member the trees cannot give loop-free goes to the waypoint search where it lies
#: within this many units of 1 / theta of the pair's cheapest route (or its family is declared)
WAYPOINT_WITHIN = 4.0

#: how much cheaper (hours) a family's least-cost route must be than the cheapest route of
#: the family a set holds to enter it as a forced member (:func:`forced_routes`)
HAVE_TOL = 1e-6


def _through(cost, g, from_o, to_d, arcs) -> tuple[np.ndarray, np.ndarray]:
    """Least cost from each origin to its destination through one of ``arcs``, and that arc
    (n_od, 1); ``from_o`` and ``to_d`` are the rows of the distance table from the origins and
    its columns to the destinations (the first arc where several give the least cost)."""
    tot = (from_o[:, g.tail[arcs]] + cost[arcs][None, :]) + to_d[g.head[arcs]].T
    j = np.argmin(tot, axis=1)
    return tot[np.arange(len(from_o)), j], arcs[j][:, None]


def _pair_legs(pairs) -> tuple[np.ndarray, np.ndarray]:
    """For each (x, y) of ``pairs`` (arrays of arcs), every arc of x then every arc of y, and
    every arc of y then every arc of x: the first and second arcs (:func:`_through_pairs`), in
    the order of the pairs, x before y, then the arcs of the first leg, then of the second."""
    first, second = [], []
    for x, y in pairs:
        for a, b in ((x, y), (y, x)):
            first.append(np.repeat(a, len(b)))
            second.append(np.tile(b, len(a)))
    return np.concatenate(first), np.concatenate(second)


def _through_pairs(dist, cost, g, from_o, to_d, f, s) -> tuple[np.ndarray, np.ndarray]:
    """Least cost from each origin to its destination through arc ``f[i]`` and then arc
    ``s[i]`` for some i (:func:`_pair_legs`), and those two arcs in travel order (n_od, 2):
    the first i where several give the least cost."""
    tot = ((from_o[:, g.tail[f]] + cost[f][None, :])
           + (dist[g.head[f], g.tail[s]] + cost[s])[None, :]) + to_d[g.head[s]].T
    j = np.argmin(tot, axis=1)
    return tot[np.arange(len(from_o)), j], np.column_stack([f[j], s[j]])


#: route sets of the latest calls of :func:`choice_route_set`, by :func:`route_set_key`
_ROUTE_SETS: OrderedDict[bytes, tuple] = OrderedDict()
_ROUTE_SETS_LOCK = threading.Lock()
#: how many route sets a process keeps: a calibration evaluation runs the base year and its
#: two back-casts, each on its own network
ROUTE_SET_CACHE = 6


def route_set_key(cnet: Network, demand: Demand, classes, model: CorridorChoice,
                  zone_country: dict[str, str]) -> bytes:
    """A digest of everything :func:`choice_route_set` reads: the network's links, nodes and
    settings, the demand, the classes (value of time, pce, money columns, link costs), the
    families and the route sets' dispersion, the zones' countries and the search settings.
    What the fit varies and the route sets do not read (family constants, theta, value of
    reliability, nest scales) is not in it."""
    h = hashlib.blake2b(digest_size=20)

    def typed(values) -> list[str]:
        # object cells by type and repr: pandas hashes them as str(), so 1, "1" and True (or a
        # list, which it cannot hash at all) would not differ
        return [f"{type(v).__name__}:{v!r}" for v in values]

    def frame(df: pd.DataFrame) -> None:
        h.update(repr((list(df.columns), [str(t) for t in df.dtypes], len(df),
                       str(df.index.dtype))).encode())
        obj = [c for c in df.columns if df[c].dtype == object]
        flat = df.assign(**{c: typed(df[c]) for c in obj}) if obj else df
        if df.index.dtype == object:
            flat = flat.set_axis(typed(df.index), axis=0)
        h.update(pd.util.hash_pandas_object(flat, index=True).to_numpy().tobytes())

    def array(a) -> None:
        a = np.ascontiguousarray(a, dtype=float)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())

    frame(cnet.links)
    frame(cnet.nodes)
    frame(model.families)
    h.update(repr(sorted((k, v) for k, v in cnet.config.items()
                         if v is None or isinstance(v, (str, int, float, bool)))).encode())
    h.update(repr(tuple(demand.zone_ids)).encode())
    for name in demand.names:
        h.update(repr(name).encode())
        array(demand.matrices[name])
    for c in classes:
        h.update(repr((c.name, c.demand, float(c.value_of_time), float(c.pce),
                       sorted(c.cost_fields.items()))).encode())
        if c.link_cost is None:
            h.update(b"no link cost")
        else:
            array(c.link_cost)
    h.update(repr(sorted(model.route_set_theta_per_hour(classes).items())).encode())
    h.update(repr(sorted(zone_country.items())).encode())
    h.update(repr((MAX_ROUTES, PENALTY, FORCE_WITHIN, HAVE_TOL, WAYPOINT_WITHIN)).encode())
    return h.digest()


def clear_route_set_cache() -> None:
    """Forget the route sets :func:`choice_route_set` keeps."""
    with _ROUTE_SETS_LOCK:
        _ROUTE_SETS.clear()


class _Records(logging.Handler):
    """The warnings karvan logs in this thread while a route set is searched, to log again
    when the kept route set is given instead (a run's warnings are the same either way)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


def choice_route_set(cnet: Network, demand: Demand, classes, model: CorridorChoice, *,
                     zone_country: dict[str, str]):
    """The route sets of the choice model on ``cnet`` (:func:`choice_network`) for ``classes``
    (:func:`choice_classes`): the searches (``MAX_ROUTES`` by link penalty ``PENALTY``), then a
    forced member of each family that can serve a pair and that the searches did not find
    (:func:`forced_routes`).

    The route sets do not depend on the family constants, theta (they take the prior's), the
    value of reliability or the nest scales, which a fit varies from run to run: the latest
    :data:`ROUTE_SET_CACHE` are kept by :func:`route_set_key` and a copy given again, with the
    warnings their search logged, to a call with the same inputs (half of a base-year run's
    time).

    Returns
    -------
    route_set
        The routes, without the family constants.
    n_forced
        How many waypoint searches the forced members needed.
    missing
        The pairs declared families have no route for (:func:`forced_routes`).
    """
    key = route_set_key(cnet, demand, classes, model, zone_country)
    with _ROUTE_SETS_LOCK:
        hit = _ROUTE_SETS.get(key)
        if hit is not None:
            _ROUTE_SETS.move_to_end(key)
    if hit is not None:
        kept, records = hit
        for rec in records:
            logging.getLogger(rec.name).handle(rec)
        return copy.deepcopy(kept)  # the caller's to change; the kept one stays as searched
    records = _Records()
    root = logging.getLogger("karvan")
    root.addHandler(records)
    try:
        found = _search_route_set(cnet, demand, classes, model, zone_country=zone_country)
    finally:
        root.removeHandler(records)
    with _ROUTE_SETS_LOCK:
        _ROUTE_SETS[key] = (copy.deepcopy(found), tuple(records.records))
        while len(_ROUTE_SETS) > max(ROUTE_SET_CACHE, 0):
            _ROUTE_SETS.popitem(last=False)
    return found


def _search_route_set(cnet: Network, demand: Demand, classes, model: CorridorChoice, *,
                      zone_country: dict[str, str], least_cost_members: bool = True):
    """:func:`choice_route_set` without its cache. ``least_cost_members=False`` adds forced
    members only for the families the search found no route of (the rule before
    2026-12-06), to compare with."""
    # one classifier for every route set searched here: it looks the families' links up once
    by_arcs = arcs_classifier(model.families)
    # the network compiled and the classes' costs built once, for the searches and the
    # waypoint searches (generate_route_sets would do it in each)
    ca = setup(cnet, demand, classes)
    searched = build_route_set(ca, RouteOptions(max_routes=MAX_ROUTES, penalty=PENALTY))
    # the cost of each family's cheapest route the search found, per pair: a family's
    # least-cost route enters where it is cheaper (it was left out where the search had found
    # a costlier route of the family)
    found = _held_costs(searched, _classified(by_arcs, searched), cnet, classes, model)
    have = found if least_cost_members else dict.fromkeys(found, -np.inf)
    # which forced alternatives enter: at the route sets' own dispersion (the prior's), so
    # that a fitted or drawn theta does not change the route sets
    routes, wps, missing, checked = forced_routes(
        cnet, demand, classes, model, model.route_set_theta_per_hour(classes), zone_country,
        have)
    rs = add_routes_to(searched, routes)
    # the waypoint searches' least-cost routes (which drop a forced route equal to one) are
    # the first routes of the search's
    if wps:
        rs = add_forced(rs, least_cost_route_set(ca, searched, wps))
    if checked[0] or checked[1]:
        # the cheapest route of each family the set holds: of those the search found
        # (``found``) and of those added since (all of source waypoints, the search's not)
        added = subset_routes(rs, rs.route_source == SOURCE_WAYPOINTS)
        held = dict(found)
        for k, h in _held_costs(added, _classified(by_arcs, added), cnet, classes,
                                model).items():
            held[k] = min(held.get(k, np.inf), h)
        forced = least_cost_route_set(ca, searched, checked[1]) if checked[1] else None
        rs = _add_least_cost_members(rs, checked[0], forced, held, by_arcs, cnet, classes,
                                     model)
    return rs, len(wps) + len(checked[1]), missing


def _add_least_cost_members(rs, routes: list, forced, held: dict, by_arcs, cnet: Network,
                            classes, model: CorridorChoice):
    """``rs`` with the forced members of families it holds a route of (:func:`forced_routes`'s
    ``checked``: ``routes`` read off the trees, and ``forced``, the route set of its
    waypoints, or None): of the candidates classified in one family for a pair, the cheapest,
    where it costs less (by more than ``HAVE_TOL`` hours) than every route of that family
    ``rs`` holds (``held``: :func:`_held_costs` of ``rs``). A candidate is kept to the family
    it is classified in, not the one whose links it was forced through: a route through one
    family's links that is another's entered as the first's, though a cheaper route of its
    own family was in the set. ``by_arcs``: ``model``'s :func:`arcs_classifier`."""
    g = rs.graph
    by_name = {c.name: c for c in classes}
    g_links = cnet.links.loc[g.link_ids]
    arc_cost = {n: _class_arc_costs(cnet, g, by_name[n], g_links) for n in rs.class_names}
    ids = model.family_ids
    best: dict[tuple, tuple[float, object]] = {}  # key -> (cost, route or forced index)
    if routes:
        arcs = [np.asarray(r[3], dtype=np.int64) for r in routes]
        starts = np.concatenate([[0], np.cumsum([len(a) for a in arcs])])
        fam = by_arcs(g, np.concatenate(arcs), starts)
        for f, r, a in zip(fam.tolist(), routes, arcs, strict=True):
            if f >= 0:
                key, h = (ids[f], r[0], r[1], r[2]), float(arc_cost[r[0]][a].sum())
                if h < best.get(key, (np.inf, None))[0]:
                    best[key] = (h, r)
    if forced is not None:
        fam = _classified(by_arcs, forced)
        cost = route_free_costs(forced, cnet, classes)
        for i, (key, h) in enumerate(zip(_family_keys(forced, fam, model), cost.tolist(),
                                         strict=True)):
            if (key is not None and forced.route_source[i] == SOURCE_WAYPOINTS
                    and h < best.get(key, (np.inf, None))[0]):
                best[key] = (h, i)
    enter = {k: v for k, (h, v) in best.items() if h < held.get(k, np.inf) - HAVE_TOL}
    rs = add_routes_to(rs, [v for v in enter.values() if isinstance(v, tuple)])
    if forced is not None:
        keep = np.zeros(forced.n_routes, dtype=bool)
        keep[[v for v in enter.values() if isinstance(v, int)]] = True
        rs = add_forced(rs, forced, keep=keep)
    return rs


def _classified(by_arcs, rs) -> np.ndarray:
    """The family of every route of ``rs`` by ``by_arcs`` (:func:`arcs_classifier`), as
    :func:`family_classifier` gives it."""
    return by_arcs(rs.graph, rs.route_arcs, rs.route_ptr)


def _family_keys(rs, fam: np.ndarray, model: CorridorChoice) -> list:
    """(family id, class name, origin, destination) of every route of ``rs`` (None where it is
    of no family)."""
    z = np.asarray(rs.zone_ids, dtype=object)
    ids = model.family_ids
    ro = rs.route_od
    return [(ids[f], rs.class_names[rs.od_class[w]], z[rs.od_origin[w]], z[rs.od_destination[w]])
            if f >= 0 else None for f, w in zip(fam.tolist(), ro.tolist(), strict=True)]


def _held_costs(rs, fam: np.ndarray, cnet: Network, classes, model: CorridorChoice
                ) -> dict[tuple, float]:
    """(family id, class name, origin, destination) -> the free-flow cost (hours,
    :func:`route_free_costs`) of the cheapest route of that family ``rs`` holds for the pair."""
    out: dict[tuple, float] = {}
    for k, h in zip(_family_keys(rs, fam, model), route_free_costs(rs, cnet, classes).tolist(),
                    strict=True):
        if k is not None:
            out[k] = min(out.get(k, np.inf), h)
    return out


def route_links(rs, g) -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    """Every route of ``rs`` (on the compiled graph ``g``) as (class name, origin, destination,
    ((link id, id of the node it leaves), ...)): a route in terms another network of the same
    dataset can look up (:func:`_arcs_on`). The pseudo-routes of unserved demand are left out
    (:func:`served_routes`).
    """
    z = np.asarray(rs.zone_ids, dtype=object)
    names = np.asarray(rs.class_names, dtype=object)
    link = np.asarray(g.link_ids, dtype=object)[g.arc_link]
    tail = np.asarray(g.node_ids, dtype=object)[g.tail]
    step = list(zip(map(str, link), map(str, tail), strict=True))  # of each arc
    served = served_routes(rs)
    w = rs.route_od[served]
    cls = names[rs.od_class[w]].tolist()
    org = z[rs.od_origin[w]].tolist()
    dst = z[rs.od_destination[w]].tolist()
    flat, ptr = rs.route_arcs.tolist(), rs.route_ptr.tolist()
    return [(c, o, d, tuple(map(step.__getitem__, flat[ptr[i]:ptr[i + 1]])))
            for c, o, d, i in zip(cls, org, dst, served.tolist(), strict=True)]


def served_routes(rs) -> np.ndarray:
    """Positions of the routes of ``rs`` that are not the pseudo-routes of unserved demand."""
    return np.flatnonzero(rs.route_source != SOURCE_UNSERVED)


def route_free_costs(rs, net: Network, classes) -> np.ndarray:
    """The generalized cost at free flow (hours) of every route of ``rs`` for its class, as the
    route searches price it (``classes``: the choice classes, :func:`choice_classes`, on
    ``net``, the network ``rs`` was searched on): no family constant, reliability term or
    capacity multiplier."""
    g = rs.graph
    if rs.n_routes == 0:  # no OD pair has a route (every link closed)
        return np.zeros(0)
    by_name = {c.name: c for c in classes}
    g_links = net.links.loc[g.link_ids]
    arc_cost = np.vstack([_class_arc_costs(net, g, by_name[n], g_links)
                          for n in rs.class_names])
    n = np.diff(rs.route_ptr)
    cls = np.repeat(rs.od_class[rs.route_od], n)
    route = np.repeat(np.arange(rs.n_routes), n)
    return np.bincount(route, weights=arc_cost[cls, rs.route_arcs],
                       minlength=rs.n_routes) + rs.route_fixed


def _families_and_costs(rs, net: Network, classes, model: CorridorChoice):
    """The family of every route of ``rs``, and the cost logit compares (hours) at free flow:
    its arcs' (:func:`route_free_costs`) and its family's terms for its class at ``model``'s
    values (constant, reliability, insurance, sanctions, empty return:
    :func:`with_family_costs`)."""
    fam = family_classifier(model.families)(rs)
    return fam, route_free_costs(with_family_costs(rs, fam, model.constants(classes),
                                                   model.family_ids), net, classes)


def reference_route_set(name: str, rs, cnet: Network, classes, model: CorridorChoice
                        ) -> ReferenceRoutes:
    """The route sets ``rs`` of a like-year reference (searched on its choice network ``cnet``
    for its choice ``classes``), kept for its projects' runs (:func:`solve_choice`)."""
    g = rs.graph
    served = served_routes(rs)
    fam, cost = _families_and_costs(rs, cnet, classes, model)
    by_name = {c.name: c for c in classes}
    g_links = cnet.links.loc[g.link_ids]
    keys, route_arcs, route_ptr = reference_arcs(rs, g)
    return ReferenceRoutes(
        name, route_links(rs, g), cnet.links, cost[served], fam[served],
        {n: _class_arc_costs(cnet, g, by_name[n], g_links) for n in rs.class_names},
        {k: i for i, k in enumerate(keys)}, _banned_links(classes, g.link_ids), keys,
        route_arcs, route_ptr)


def reference_arcs(rs, g) -> tuple[tuple, np.ndarray, np.ndarray]:
    """The arcs of the routes of :func:`route_links` (``rs`` on the compiled graph ``g``):
    (link id, id of the node it leaves) of every arc of ``g`` in its order, the routes' arcs
    (positions in it) route after route, and where each route starts in them."""
    link = np.asarray(g.link_ids, dtype=object)[g.arc_link]
    tail = np.asarray(g.node_ids, dtype=object)[g.tail]
    served = served_routes(rs)
    lengths = np.diff(rs.route_ptr)[served]
    return (tuple(zip(map(str, link), map(str, tail), strict=True)),
            np.concatenate([rs.arcs(i) for i in served]).astype(np.int64) if len(served)
            else np.zeros(0, np.int64), np.r_[0, np.cumsum(lengths)].astype(np.int64))


def _arc_positions(g, keys) -> np.ndarray:
    """The position in ``g`` of the arc of each of ``keys`` ((link id, id of the node it
    leaves)), in their order; -1 for an arc ``g`` lacks."""
    link = np.asarray(g.link_ids, dtype=object)[g.arc_link]
    tail = np.asarray(g.node_ids, dtype=object)[g.tail]
    arc_of = {(str(a), str(b)): k for k, (a, b) in enumerate(zip(link, tail, strict=True))}
    return np.fromiter((arc_of.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))


def _arcs_on(g, routes: list, keys, route_arcs: np.ndarray, route_ptr: np.ndarray
             ) -> list[tuple[str, str, str, np.ndarray] | None]:
    """The routes of :func:`route_links` (their arcs as :func:`reference_arcs` gives them) in
    the arcs of ``g``: (class name, origin, destination, arcs), or None for a route that is not
    open on ``g`` (a link not in it)."""
    arcs = _arc_positions(g, keys)[route_arcs]
    n = np.diff(route_ptr)
    closed = np.ones(len(n), dtype=bool)  # a route without arcs is none open here
    some = n > 0
    if some.any():
        closed[some] = np.minimum.reduceat(arcs, route_ptr[:-1][some]) < 0
    return [None if shut else (cls, o, d, arcs[a:b])
            for (cls, o, d, _), shut, a, b in zip(routes, closed.tolist(),
                                                   route_ptr[:-1].tolist(),
                                                   route_ptr[1:].tolist(), strict=True)]


def solve_choice(net: Network, demand: Demand, classes, model: CorridorChoice, *,
                 zone_country: dict[str, str], closed_links: set[str],
                 reference: ReferenceRoutes | None = None, limit: bool = False) -> ChoiceRun:
    """Solve a scenario's nested-logit equilibrium with hard capacities.

    Parameters
    ----------
    net, demand, classes
        The scenario's engine network, demand segments and traffic classes (as the
        deterministic run builds them).
    model
        :func:`karvan.freight.choice_model.choice_parameters`.
    zone_country
        Zone id -> country.
    closed_links
        Links the scenario closed: a family that loses every route through them is reported,
        not an error.
    reference
        The like-year reference's route sets (:class:`ReferenceRoutes`,
        :func:`karvan.scenario.run.reference_routes`): each OD pair then has the reference's
        routes whose links are all open here, and of the routes found here only those through
        a link the scenario opened or changed (any attribute but capacity) that its network did
        not have or that cost less here; a pair the
        reference did not have keeps every route found here, and a pair that lost reference
        routes to closed links (or to a transit ban) takes one route found here in place of
        each lost, no cheaper than it (:func:`match_replacements`, :func:`_as_reference`). A
        search afresh finds other routes wherever the
        network changed, so the two runs would differ by their searches as well as by the
        scenario: a project dropped routes its reference offered, or gained routes its
        reference's network had but its search had not found (which lowered the expected cost
        of pairs a closure cut off).
    limit
        Also solve the deterministic limit over the same route sets, at the same costs and
        capacities (:func:`karvan.choice.dual.fixed_cost_lp`): the capacities table then gains
        ``limit_tonnes``, ``limit_binding``, ``limit_shadow_price_h`` and
        ``limit_shadow_price_usd_per_t``, what would bind and at what price if every shipper
        took a least-cost route by the choice model's own costs (no dispersion).

    Raises
    ------
    InputError
        A route family declared (``route_family.csv``, column ``serves``) to serve the countries
        of an OD pair with demand has no route for it on a network the scenario did not close
        links of; bad parameters.
    """
    cnet = choice_network(net)
    classes = choice_classes(classes, model, cnet.links.index)
    theta_h = model.theta_per_hour(classes)
    classify = family_classifier(model.families)
    rs, n_forced, missing = choice_route_set(cnet, demand, classes, model,
                                             zone_country=zone_country)
    kept = 0
    if reference is not None:
        rs, kept = _as_reference(rs, reference, cnet, classes, model)
    fam = classify(rs)
    _check_served(rs, fam, model, zone_country, missing, closed_links)
    consts = model.constants(classes)
    caps = capacities_from_links(cnet, HARD_CAPACITY, both_directions=BOTH_DIRECTIONS)
    # the family constants are each route's own cost; the nests group the routes
    rs = with_family_costs(rs, fam, consts, model.family_ids)
    nest_names = list(dict.fromkeys(model.families["nest"]))
    nest_idx = np.array([nest_names.index(n) for n in model.families["nest"]], dtype=np.int64)
    groups = np.where(fam >= 0, nest_idx[np.maximum(fam, 0)], -1)
    scale = np.array([model.nest_scale[n] for n in nest_names], dtype=float)
    # not converging and unserved demand are the result's (converged, unserved), logged below
    # the route set's graph is this network compiled (by the search, or kept from it): the
    # equilibrium takes it rather than compiling the network once more
    same_net = np.array_equal(np.asarray(rs.graph.link_ids, dtype=object),
                              cnet.links.index.to_numpy(dtype=object))
    res = fixed_cost_equilibrium(rs.graph if same_net else cnet, demand, classes=classes,
                                 theta=theta_h, routes=rs, capacities=caps, beta=model.beta,
                                 gamma=model.gamma, groups=groups, scale=scale,
                                 links=complete_links(cnet.links) if same_net else None)
    if not res.converged:
        log.warning("%s: the capacities of the choice equilibrium did not settle in %d "
                    "iterations (largest excess %.3g)", net.name, res.iterations,
                    float(res.capacities["relative_excess"].max()))
    # the result's route set is this one with an unserved alternative (no arcs) added to each
    # OD pair where there are capacities: its routes' families are those classified above
    rr = res.route_set
    real = rr.route_source != SOURCE_UNSERVED
    fam_rr = None
    if (rr.graph is rs.graph and int(real.sum()) == rs.n_routes
            and np.array_equal(rr.route_arcs, rs.route_arcs)
            and np.array_equal(np.diff(rr.route_ptr)[real], np.diff(rs.route_ptr))):
        fam_rr = np.full(rr.n_routes, -1, dtype=np.int64)
        fam_rr[real] = fam
    routes = _routes(res, classify, fam_rr)
    cap = capacity_table(res, cnet)
    if limit and len(cap):
        try:
            lim = fixed_cost_lp(rs.graph if same_net else cnet, demand, classes=classes,
                                routes=rs, capacities=caps,
                                links=complete_links(cnet.links) if same_net else None)
        except KarvanError as e:
            # a second opinion: the run stands without it, and says so
            log.warning("%s: the choice model's deterministic limit was not solved, the "
                        "capacities table has no limit_* columns: %s", net.name, e)
        else:
            lc = capacity_table(lim, cnet).set_index("constraint_id")
            for col in ("tonnes", "binding", "shadow_price_h", "shadow_price_usd_per_t"):
                cap[f"limit_{col}"] = cap["constraint_id"].map(lc[col]).to_numpy()
            # both tables compile the same capacities on the same graph: every row matches
            assert cap["limit_binding"].notna().all()
            cap["limit_binding"] = cap["limit_binding"].astype(bool)
    uns = res.unserved.copy()
    if len(uns):
        uns.insert(1, "commodity", uns["class"].str.split("|").str[0])
        log.warning("%s: %.0f t/yr of demand in %d OD pairs cannot be carried within the "
                    "capacities (table choice_unserved)", net.name, uns["unserved"].sum(),
                    len(uns))
    settings = {"choice": "logit", "route_sets": {"max_routes": MAX_ROUTES, "penalty": PENALTY,
                                                  "forced_alternatives": n_forced,
                                                  "routes_of_the_reference": kept,
                                                  "routes": int(rs.n_routes)},
                "choice_method": "nested logit at fixed costs, capacities in the dual "
                                 "(projected Newton on the multipliers)",
                "theta_per_h": theta_h, "choice_parameters": model.describe()}
    return ChoiceRun(res, routes, cap, uns, tuple(classes), cnet, settings)


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceRoutes:
    """The route sets of a scenario's like-year reference, in terms of link ids
    (:func:`route_links`), and the reference's engine links (what a scenario changed is read
    against them)."""

    name: str
    routes: list
    links: pd.DataFrame
    #: each route's cost at free flow on the reference's network, its family's terms included
    #: (hours, :func:`_families_and_costs`), in the order of ``routes``
    costs: np.ndarray
    #: each route's family (position in the model's families), in the order of ``routes``
    families: np.ndarray
    #: class name -> the cost of every arc of the reference's network at free flow (hours)
    arc_costs: dict
    #: (link id, id of the node it leaves) -> position of the arc in ``arc_costs``' arrays
    arc_index: dict
    #: class name -> the links banned to it in the reference (its transit bans)
    banned: dict
    #: (link id, id of the node it leaves) of every arc of the reference's network, in its
    #: order (an undirected loop gives two arcs one key, so ``arc_index`` can be shorter)
    arc_keys: tuple
    #: the arcs of every route (positions in ``arc_keys``), route after route in the order of
    #: ``routes``, and where each route starts in them (one entry more than routes)
    route_arcs: np.ndarray
    route_ptr: np.ndarray


def changed_links(links: pd.DataFrame, reference: pd.DataFrame) -> set[str]:
    """Ids of the links of ``links`` that ``reference`` lacks or holds with another value of a
    column both have, capacities left out (the route sets are searched at free flow)."""
    common = [c for c in links.columns if c in reference.columns and "capacity" not in c]
    ids = links.index.intersection(reference.index)
    a = links.loc[ids, common]
    b = reference.loc[ids, common]
    differs = ~((a == b) | (a.isna() & b.isna())).all(axis=1)
    return set(map(str, links.index.difference(reference.index))) | set(
        map(str, ids[differs.to_numpy()]))


def _as_reference(rs, reference: ReferenceRoutes, cnet: Network, classes,
                  model: CorridorChoice):
    """``rs`` (searched on the scenario's network ``cnet`` for the choice ``classes``) made
    comparable with the reference: see :func:`solve_choice`'s ``reference``. Returns the route
    set and how many of the reference's routes it took.

    Each pair has the reference's routes open to it here: of the same class, or of the same
    commodity where a transit ban of the scenario's renamed the class (its routes through the
    banned links are lost to it). A route searched here is the scenario's own where it passes
    a link the scenario opened or changed and the reference's network did not have it or it
    costs less here than there; a route the reference's network had at the same cost or more
    is not (the reference's search had not found it). A pair that lost reference routes takes,
    of the others searched here, one in place of each route lost, no cheaper at free flow
    than the route it replaces, of the lost route's own family first
    (:func:`match_replacements`): a closure or a ban takes options away, and a route its
    reference's search had not found must not lower the pair's cost.
    """
    from karvan.choice.routes import subset_routes

    g = compile_graph(cnet)
    z = np.asarray(rs.zone_ids, dtype=object)
    pair_of = [(rs.class_names[k], z[o], z[d]) for k, o, d in zip(
        rs.od_class, rs.od_origin, rs.od_destination, strict=True)]
    # the reference's pair of each of ours: the same class, else the same commodity
    ref_pairs = dict.fromkeys(r[:3] for r in reference.routes)
    by_commodity = {(acc.commodity_of(c), o, d): (c, o, d) for c, o, d in ref_pairs}
    ours = {}  # the reference's pair -> ours
    for w in dict.fromkeys(pair_of):
        r = w if w in ref_pairs else by_commodity.get((acc.commodity_of(w[0]), w[1], w[2]))
        if r is not None:
            ours.setdefault(r, w)
    ref_class = {w: r[0] for r, w in ours.items()}
    banned_links = _banned_links(classes, g.link_ids)
    banned = {n: np.isin(g.link_ids[g.arc_link], list(b)) for n, b in banned_links.items()}
    lifted_of: dict[tuple[str, str], np.ndarray | None] = {}

    def lifted(w) -> np.ndarray | None:
        """The links (a mask) banned to the reference's class of pair ``w`` and not to its
        class here: a ban the scenario lifts opens them, as an opened link does."""
        key = (w[0], ref_class[w])
        if key not in lifted_of:
            gone = set(reference.banned.get(key[1], ())) - set(banned_links.get(key[0], ()))
            lifted_of[key] = np.isin(g.link_ids, list(gone)) if gone else None
        return lifted_of[key]

    open_here, lost = [], {}  # lost: pair -> [(cost, family)] of the routes it lost
    for r, here, c, f in zip(reference.routes, _arcs_on(
            g, reference.routes, reference.arc_keys, reference.route_arcs,
            reference.route_ptr),
                             reference.costs, reference.families, strict=True):
        w = ours.get(r[:3])
        if w is None:
            continue
        arcs = None if here is None else here[3]
        if arcs is not None and not (w[0] in banned and banned[w[0]][arcs].any()):
            open_here.append((*w, arcs))
        else:
            lost.setdefault(w, []).append((float(c), int(f)))
    with_ref = set(ours.values())
    at = pd.Index(map(str, g.link_ids)).get_indexer(
        sorted(changed_links(cnet.links, reference.links)))
    on_changed = np.zeros(g.n_links, dtype=bool)
    on_changed[at[at >= 0]] = True
    open_keys = {(r[:3], r[3].tobytes()) for r in open_here}
    ro = rs.route_od
    keep = np.zeros(rs.n_routes, dtype=bool)
    candidates: dict[tuple, list[int]] = {}
    changed = []
    for i in served_routes(rs):
        w = pair_of[ro[i]]
        arcs = rs.arcs(i)
        if w not in with_ref:  # a pair the reference did not have
            keep[i] = True
        elif on_changed[g.arc_link[arcs]].any() or (
                (up := lifted(w)) is not None and up[g.arc_link[arcs]].any()):
            changed.append(int(i))
        elif w in lost and (w, np.asarray(arcs, dtype=np.int64).tobytes()) not in open_keys:
            candidates.setdefault(w, []).append(int(i))
    if changed:
        # through a changed link: the scenario's own where the reference's network did not
        # have the route or it costs less here (a fee raised on a link is no reason to offer
        # routes through it the reference's search had not found)
        here = route_free_costs(rs, cnet, classes)
        link = np.asarray(g.link_ids, dtype=object)[g.arc_link]
        tail = np.asarray(g.node_ids, dtype=object)[g.tail]
        # each arc's position on the reference's network (-1: an arc it lacks)
        on_ref = np.fromiter((reference.arc_index.get(k, -1) for k in zip(
            map(str, link), map(str, tail), strict=True)), dtype=np.int64, count=len(link))
        for i in changed:
            w = pair_of[ro[i]]
            arcs = rs.arcs(i)
            j = on_ref[arcs]
            there = reference.arc_costs.get(ref_class[w])
            if (j < 0).any() or there is None or here[i] < float(there[j].sum()) * (1 - 1e-9):
                keep[i] = True
            elif w in lost and (w, np.asarray(arcs, dtype=np.int64).tobytes()) not in open_keys:
                candidates.setdefault(w, []).append(i)
    keep[rs.route_source == SOURCE_UNSERVED] = True
    if candidates:
        fam, cost = _families_and_costs(rs, cnet, classes, model)
        for w, idx in candidates.items():
            lc, lf = zip(*lost[w], strict=True)
            chosen = match_replacements(lc, cost[idx], lost_families=lf,
                                        candidate_families=fam[idx])
            keep[np.asarray(idx)[chosen]] = True
    before = int(keep.sum())
    out = add_routes_to(subset_routes(rs, keep), open_here)
    return out, int(out.n_routes - before)


def _banned_links(classes, link_ids) -> dict[str, frozenset[str]]:
    """Class name -> the links banned to it (a transit ban's prohibitive link cost), for the
    classes that have any; ``link_ids`` in the order of the classes' ``link_cost``."""
    ids = np.asarray(link_ids, dtype=object)
    out = {}
    for c in classes:
        if c.link_cost is not None:
            hit = np.asarray(c.link_cost, dtype=float) >= BANNED_USD_PER_T
            if hit.any():
                out[c.name] = frozenset(map(str, ids[hit]))
    return out


def match_replacements(lost, candidates, *, lost_families=None, candidate_families=None,
                       rtol: float = 1e-9) -> np.ndarray:
    """Which of the ``candidates`` (their costs) replace the ``lost`` routes (theirs): each lost
    route, cheapest first, takes the cheapest candidate not yet taken that costs at least as
    much as it (to ``rtol``), where one is left. The pair's routes after the swap then cost,
    one for one, no less than those it had, so that its expected cost under multinomial logit
    (without path size) cannot fall; of the assignments with that property it replaces the
    most lost routes. With families (``lost_families``, ``candidate_families``), each lost
    route takes a candidate of its own family first, then the routes left over are matched so
    (a family that keeps a route where the closure left it one): that can replace fewer than
    the most (lost 10 and 20 of families 0 and 1, candidates 25 and 15 of families 0 and 1: the
    20 finds no candidate of its family no cheaper, and the 25 went to the 10).

    Returns
    -------
    numpy.ndarray
        Positions in ``candidates`` of those taken, in ascending order.

    Examples
    --------
    >>> match_replacements([10.0, 12.0], [9.0, 11.0, 15.0, 16.0]).tolist()
    [1, 2]
    >>> match_replacements([10.0], [9.0]).tolist()
    []
    >>> match_replacements([10.0], [11.0, 12.0], lost_families=[0],
    ...                    candidate_families=[1, 0]).tolist()
    [1]
    """
    c = np.asarray(candidates, dtype=float)
    lo = np.asarray(lost, dtype=float)
    free = np.ones(len(c), dtype=bool)
    left = np.ones(len(lo), dtype=bool)
    taken: list[int] = []
    if lost_families is not None and candidate_families is not None:
        lf = np.asarray(lost_families)
        cf = np.asarray(candidate_families)
        for f in np.unique(lf):
            li, ci = np.flatnonzero(lf == f), np.flatnonzero(cf == f)
            got, used = _greedy(lo[li], c[ci], rtol)
            taken.extend(ci[got].tolist())
            free[ci[got]] = False
            left[li[used]] = False
    ci = np.flatnonzero(free)
    got, _ = _greedy(lo[left], c[ci], rtol)
    taken.extend(ci[got].tolist())
    return np.sort(np.asarray(taken, dtype=np.int64))


def _greedy(lost: np.ndarray, c: np.ndarray, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`match_replacements` without families: (positions in ``c`` taken, positions in
    ``lost`` replaced)."""
    order = np.argsort(c, kind="stable")
    taken, used = [], []
    j = 0
    for k in np.argsort(lost, kind="stable"):
        x = lost[k]
        while j < len(order) and c[order[j]] < x - rtol * max(abs(x), 1.0):
            j += 1
        if j == len(order):
            break
        taken.append(int(order[j]))
        used.append(int(k))
        j += 1
    return np.asarray(taken, dtype=np.int64), np.asarray(used, dtype=np.int64)


def add_routes_to(rs, routes: list):
    """``rs`` with the routes (class name, origin, destination, arcs) it does not hold yet."""
    from karvan.choice.routes import SOURCE_WAYPOINTS, add_routes

    if not routes:
        return rs
    key = {(int(k), int(o), int(d)): w for w, (k, o, d) in enumerate(zip(
        rs.od_class, rs.od_origin, rs.od_destination, strict=True))}
    cls = {n: i for i, n in enumerate(rs.class_names)}
    zp = {z: i for i, z in enumerate(rs.zone_ids)}
    ws = [key[(cls[k], zp[o], zp[d])] for k, o, d, _ in routes]
    known = _route_keys(rs, _lengths(ws, [len(r[3]) for r in routes]))
    r_od, r_len, r_arcs = [], [], []
    for w, (_, _, _, arcs) in zip(ws, routes, strict=True):
        k = (w, np.asarray(arcs, dtype=np.int64).tobytes())
        if k in known:
            continue
        known.add(k)
        r_od.append(w)
        r_len.append(len(arcs))
        r_arcs.append(arcs)
    if not r_od:
        return rs
    out, _ = add_routes(rs, np.asarray(r_od), np.asarray(r_len), np.concatenate(r_arcs),
                        SOURCE_WAYPOINTS)
    return out


def _route_keys(rs, lengths: dict[int, set[int]]) -> set[tuple[int, bytes]]:
    """(OD pair, the bytes of its arcs as int64) of the routes in ``rs`` of each pair of
    ``lengths`` (OD pair -> the lengths of its new routes) with one of those lengths: what a
    new route is checked against (equal arcs, equal bytes; routes of another length cannot
    be equal)."""
    arcs = np.ascontiguousarray(rs.route_arcs, dtype=np.int64)
    ptr = rs.route_ptr
    n = np.diff(ptr)
    od = rs.route_od
    # (OD pair, length) as one number, every route against every wanted one at once
    top = max(int(n.max(initial=0)), *(max(v) for v in lengths.values()), 0) + 1
    want = np.fromiter((w * top + k for w, lens in lengths.items() for k in lens),
                       dtype=np.int64)
    hit = np.flatnonzero(np.isin(od * top + n, want))
    return {(int(od[i]), arcs[ptr[i]:ptr[i + 1]].tobytes()) for i in hit}


def _lengths(ods, lens) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for w, n in zip(ods, lens, strict=True):
        out.setdefault(int(w), set()).add(int(n))
    return out


def add_forced(rs, forced, keep: np.ndarray | None = None):
    """``rs`` with the forced routes (waypoints) of ``forced``, a route set of the same OD
    pairs, that it does not hold yet (of those ``keep``, a mask over ``forced``'s routes,
    allows)."""
    from karvan.choice.routes import SOURCE_WAYPOINTS, add_routes

    assert forced.n_od == rs.n_od and (forced.od_class == rs.od_class).all()
    src = forced.route_source == SOURCE_WAYPOINTS
    r = np.flatnonzero(src if keep is None else src & keep)
    if not len(r):
        return rs
    route_od = forced.route_od  # a property that builds the whole array: once, not per route
    known = _route_keys(rs, _lengths(route_od[r], np.diff(forced.route_ptr)[r]))
    keep = []
    for i in r:
        key = (int(route_od[i]), np.asarray(forced.arcs(i), dtype=np.int64).tobytes())
        if key not in known:
            known.add(key)
            keep.append(i)
    if not keep:
        return rs
    keep = np.asarray(keep)
    lens = np.diff(forced.route_ptr)[keep]
    arcs = np.concatenate([forced.arcs(i) for i in keep])
    out, _ = add_routes(rs, forced.route_od[keep], lens, arcs, SOURCE_WAYPOINTS)
    return out


def with_family_costs(rs, fam: np.ndarray, constants: pd.DataFrame, family_ids) -> object:
    """The route set with each route's family constant (hours, per class) as its own cost."""
    from karvan.choice.routes import RouteSet

    tab = constants.pivot(index="class", columns="family", values="constant")
    tab = tab.reindex(index=list(rs.class_names), columns=list(family_ids)).fillna(0.0)
    c = tab.to_numpy(dtype=float)
    cls = rs.od_class[rs.route_od]
    fixed = np.where(fam >= 0, c[cls, np.maximum(fam, 0)], 0.0) + rs.route_fixed
    fields = {f: getattr(rs, f) for f in RouteSet.__dataclass_fields__}
    fields["route_fixed"] = fixed
    return RouteSet(**fields)


def _check_served(rs, fam, model: CorridorChoice, zone_country, missing: pd.DataFrame,
                  closed_links: set[str]) -> None:
    serves = serves_pairs(model.families)
    if not serves:
        return
    z = np.asarray(rs.zone_ids, dtype=object)
    oc = np.array([zone_country.get(x, "") for x in z[rs.od_origin]])
    dc = np.array([zone_country.get(x, "") for x in z[rs.od_destination]])
    ids = model.family_ids
    has = np.zeros((rs.n_od, len(ids)), dtype=bool)
    ok = fam >= 0
    has[rs.route_od[ok], fam[ok]] = True
    lines = (dict(zip(ids, model.families["line"], strict=True)) if "line" in model.families
             else dict(zip(ids, range(2, len(ids) + 2), strict=True)))
    problems = []
    lost: list[tuple[str, set, np.ndarray]] = []  # families the scenario's closures cut off
    for f, pairs in serves.items():
        i = ids.index(f)
        hit = np.array([(x, y) in pairs for x, y in zip(oc, dc, strict=True)],
                       dtype=bool) & ~has[:, i]
        if not hit.any():
            continue
        if closed_links:
            lost.append((f, pairs, hit))
            continue
        ods = [f"{z[rs.od_origin[w]]}->{z[rs.od_destination[w]]} "
               f"({rs.class_names[rs.od_class[w]]})" for w in np.flatnonzero(hit)]
        problems.append(f"route_family.csv line {lines[f]}: family {f!r} is declared to serve "
                        f"{format_ids(sorted(f'{a}-{b}' for a, b in pairs))} but has no route "
                        f"for {int(hit.sum())} OD pairs with demand ({format_ids(ods)}); check "
                        "its via_link_ids (open links a route of those countries can use) or "
                        "remove the pairs from serves.")
    if problems:
        raise InputError(problems, "route_family.csv")
    if lost:
        # the scenario's own effect (a corridor closed), said once: not a fault of the data
        cut = np.logical_or.reduce([h for _, _, h in lost])
        ods = [f"{z[rs.od_origin[w]]}->{z[rs.od_destination[w]]} "
               f"({rs.class_names[rs.od_class[w]]})" for w in np.flatnonzero(cut)]
        pairs = sorted({f"{a}-{b}" for _, p, _ in lost for a, b in p})
        log.warning("the scenario's %d closed links leave route families %s (route_family.csv "
                    "lines %s) without a route for %d OD pairs with demand that they serve (%s; "
                    "%s): they carry none of it in this scenario.", len(closed_links),
                    format_ids([f for f, _, _ in lost]),
                    format_ids([lines[f] for f, _, _ in lost]), int(cut.sum()),
                    format_ids(pairs), format_ids(ods, 3))


def _routes(res: ChoiceResult, classify, fam: np.ndarray | None = None) -> pd.DataFrame:
    """The route list of the run (as :func:`karvan.paths.route_flows`), with each route's
    family; unserved alternatives and routes below 1e-9 of their pair's demand left out.
    ``fam``: each route's family where the caller has it for the result's route set (else
    ``classify`` gives it)."""
    from karvan.choice.routes import SOURCE_UNSERVED

    rs = res.route_set
    g = rs.graph
    od = rs.route_od
    share = res.route_flow / rs.od_demand[od]
    keep = np.flatnonzero((rs.route_source != SOURCE_UNSERVED) & (share >= 1e-9))
    z = np.asarray(rs.zone_ids, dtype=object)
    names = np.asarray(rs.class_names, dtype=object)
    flat = rs.route_arcs.tolist()
    flat_links = np.asarray(g.link_ids, dtype=object)[g.arc_link[rs.route_arcs]].tolist()
    spans = list(zip(rs.route_ptr[keep].tolist(), rs.route_ptr[keep + 1].tolist(),
                     strict=True))
    tab = pd.DataFrame({
        "class": names[rs.od_class[od[keep]]],
        "origin": z[rs.od_origin[od[keep]]],
        "destination": z[rs.od_destination[od[keep]]],
        "arcs": [tuple(flat[i:j]) for i, j in spans],
        "links": [tuple(flat_links[i:j]) for i, j in spans],
        "flow": res.route_flow[keep], "share": share[keep], "cost": res.route_cost[keep],
        "family_idx": (classify(rs) if fam is None else fam)[keep],
        "_od": od[keep]})
    tab = tab.sort_values(["_od", "flow"], ascending=[True, False], kind="stable")
    tab["route"] = tab.groupby("_od").cumcount()
    return tab[["class", "origin", "destination", "route", "arcs", "links", "flow", "share",
                "cost", "family_idx"]].reset_index(drop=True)


def capacity_table(res: ChoiceResult, net: Network) -> pd.DataFrame:
    """Every hard capacity: link, direction (``ab``, ``ba`` or ``both``), capacity, tonnes,
    utilization, whether it binds, its multiplier in hours and in USD/t (per commodity, and
    averaged over the tonnes that use it)."""
    c = res.capacities
    if c is None or not len(c):
        return pd.DataFrame(columns=["constraint_id", "link_id", "direction", "name", "mode",
                                     "capacity_tpy", "tonnes", "utilization", "binding",
                                     "shadow_price_h", "shadow_price_usd_per_t"])
    g = res.graph
    parts = c["constraint_id"].astype(str).str.rsplit(":", n=1)
    link = parts.str[0]
    direction = parts.str[1]
    links = net.links
    out = pd.DataFrame({
        "constraint_id": c["constraint_id"].astype(str),
        "link_id": link,
        "direction": direction,
        "name": links.loc[link, "name"].to_numpy() if "name" in links else "",
        "mode": links.loc[link, "mode"].to_numpy(),
        "country": links.loc[link, "country"].to_numpy(),
        "capacity_tpy": c["capacity"].to_numpy(),
        "tonnes": c["volume"].to_numpy(),
    })
    out["utilization"] = out["tonnes"] / out["capacity_tpy"]
    mu = c["multiplier"].to_numpy()
    out["binding"] = c["binding"].to_numpy() & (mu > 0)
    out["shadow_price_h"] = mu
    # USD/t: the hours times each commodity's value of time, averaged over the tonnes through
    pos = pd.Index(g.link_ids).get_indexer(link)
    usd = np.zeros(len(out))
    tot = np.zeros(len(out))
    per_com: dict[str, np.ndarray] = {}
    arcs_of = []  # the arcs of each constraint: its link's, in its direction
    for p, dr in zip(pos, direction, strict=True):
        arcs = np.flatnonzero(g.arc_link == p)
        if dr == "ab":
            arcs = arcs[g.arc_dir[arcs] > 0]
        elif dr == "ba":
            arcs = arcs[g.arc_dir[arcs] < 0]
        arcs_of.append(arcs)
    for k, cl in enumerate(res.classes):
        com = cl.name.split("|", 1)[0]
        per_com[com] = mu * cl.value_of_time
        for i, arcs in enumerate(arcs_of):
            f = float(res.class_flows[k][arcs].sum())
            usd[i] += f * mu[i] * cl.value_of_time
            tot[i] += f
    with np.errstate(invalid="ignore", divide="ignore"):
        out["shadow_price_usd_per_t"] = np.where(tot > 0, usd / tot, np.nan)
    for com, v in per_com.items():
        out[f"shadow_price_usd_per_t_{com}"] = v
    return out.sort_values(["binding", "shadow_price_h"], ascending=False, ignore_index=True)


def family_shares(routes: pd.DataFrame, families: pd.DataFrame, zone_country: dict[str, str]
                  ) -> pd.DataFrame:
    """Tonnes and share of each route family per origin country, destination country and
    commodity (share of the tonnes of that country pair and commodity).

    ``routes`` is a run's ``routes`` table with a ``family_id`` column."""
    nest = dict(zip(families["family_id"], families["nest"], strict=True))
    r = routes.assign(origin_country=routes["origin"].map(zone_country),
                      destination_country=routes["destination"].map(zone_country))
    keys = ["origin_country", "destination_country", "commodity"]
    t = r.groupby([*keys, "family_id"], as_index=False)["tonnes"].sum()
    t["nest"] = t["family_id"].map(nest)
    t["share"] = t["tonnes"] / t.groupby(keys)["tonnes"].transform("sum")
    order = {f: i for i, f in enumerate(families["family_id"])}
    t = t.sort_values(keys + ["family_id"], key=lambda s: s.map(order) if s.name == "family_id"
                      else s, ignore_index=True)
    return t[[*keys, "family_id", "nest", "tonnes", "share"]]
