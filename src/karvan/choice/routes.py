"""Route sets per OD pair and class: generation, forced alternatives through waypoints, storage.

A route set is stored compactly, with no Python object per route: OD pairs (class, origin,
destination, demand) are rows of arrays; the routes of OD pair ``w`` are
``od_ptr[w]:od_ptr[w + 1]``; the arcs of route ``r`` are
``route_arcs[route_ptr[r]:route_ptr[r + 1]]`` in travel order.

Generation (:func:`generate_route_sets`) repeats least-cost searches between each OD pair at the
class's free-flow generalized cost:

- ``penalty`` (link penalisation): after each search the costs of the arcs of the route found are
  multiplied by ``penalty`` (compounding), until ``max_routes`` distinct routes are found, or
  ``max_depth`` searches were made, or more than ``max_misses`` searches returned a known route.
- ``elimination`` (breadth-first search with link elimination, Rieser-Schuessler et al. 2013):
  networks with one more arc of a found route removed, level by level.

Forced alternatives (:class:`Waypoints`) add, for chosen OD pairs, the least-cost route through a
sequence of nodes or links, so that a named family of routes (via a port, a border, a ferry) has
a member whatever the searches found.

References
----------
N. Rieser-Schuessler, M. Balmer and K. W. Axhausen, "Route choice sets for very high-resolution
data", Transportmetrica A 9(9), 825-845, 2013.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from karvan.choice._setup import ClassArrays, setup
from karvan.errors import InputError, NoPathError, format_ids
from karvan.kernels import routesets as KR
from karvan.kernels._jit import interpreting
from karvan.kernels.logit import MAX_ROUTES
from karvan.network.graph import CompiledGraph

log = logging.getLogger(__name__)

#: where a route came from (``RouteSet.route_source``)
SOURCE_SEARCH = 0
SOURCE_WAYPOINTS = 1
SOURCE_COLUMN = 2
SOURCE_UNSERVED = 3
SOURCE_NAMES = ("search", "waypoints", "column_generation", "unserved")


@dataclass(frozen=True, slots=True)
class Waypoints:
    """A forced alternative: the least-cost route through ``via``, in order.

    Parameters
    ----------
    name
        The label its routes carry (``RouteSet.labels``), e.g. a route family.
    via
        Node ids (``kind="node"``) or link ids (``kind="link"``) to pass, in order. A link id
        names its forward arc, or, on an undirected link, whichever direction gives the cheaper
        route; ``(link_id, -1)`` names the backward arc of an undirected link.
    kind
        ``node`` or ``link``.
    ods
        (origin zone id, destination zone id) pairs it applies to; default every OD pair with
        demand.
    classes
        Class names it applies to; default all.
    avoid
        Link ids whose arcs the route avoids wherever another route through ``via`` exists
        (their cost is raised by ``AVOID_COST``), e.g. the characteristic links of route
        families of a higher priority, which would otherwise claim the route.
    """

    name: str
    via: tuple
    kind: Literal["node", "link"] = "node"
    ods: tuple | None = None
    classes: tuple[str, ...] | None = None
    avoid: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """How route sets are generated (see the module notes).

    Parameters
    ----------
    max_routes
        Distinct routes per OD pair and class from the searches (1 to 64).
    method
        ``penalty`` or ``elimination``.
    penalty
        Cost factor (> 1) on the arcs of each route found (``penalty``).
    max_depth
        Searches per OD pair (``penalty``) or levels (``elimination``); default
        ``4 * max_routes`` and ``max_routes`` respectively.
    max_misses
        Searches per OD pair that may return a known route before it stops; default
        ``2 * max_routes``.
    waypoints
        Forced alternatives.
    grow
        Column generation in the equilibrium: at each iteration, the least-cost route of every
        OD pair at the current costs joins its set when it is cheaper than every route there.
    """

    max_routes: int = 5
    method: Literal["penalty", "elimination"] = "penalty"
    penalty: float = 1.1
    max_depth: int | None = None
    max_misses: int | None = None
    waypoints: Sequence[Waypoints] = field(default_factory=tuple)
    grow: bool = True

    def check(self) -> None:
        """Check the options.

        Raises
        ------
        InputError
            Listing every bad option.
        """
        problems = []
        if not (isinstance(self.max_routes, (int, np.integer)) and 1 <= self.max_routes
                <= MAX_ROUTES):
            problems.append(f"max_routes must be an integer from 1 to {MAX_ROUTES}, got "
                            f"{self.max_routes!r}.")
        if self.method not in ("penalty", "elimination"):
            problems.append(f"unknown route method {self.method!r}; use penalty or elimination.")
        if self.method == "penalty" and not (np.isfinite(self.penalty) and self.penalty > 1.0):
            problems.append(f"penalty must be a finite number > 1, got {self.penalty!r}.")
        for name in ("max_depth", "max_misses"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, np.integer)) and v >= 0):
                problems.append(f"{name} must be a non-negative integer, got {v!r}.")
        if problems:
            raise InputError(problems, "route options")


@dataclass(frozen=True, slots=True, eq=False)
class RouteSet:
    """Routes per OD pair and class, stored compactly (see the module notes).

    Attributes
    ----------
    od_class, od_origin, od_destination
        Class index and origin/destination zone positions (in ``zone_ids``) of each OD pair.
    od_demand
        Demand of each OD pair (> 0).
    od_ptr, route_ptr, route_arcs
        The routes of each OD pair and the arcs of each route.
    route_source
        0 found by the searches, 1 forced through waypoints, 2 added by column generation,
        3 the unserved-demand alternative (no arcs).
    route_label
        Index into ``labels`` of the waypoint family of a route, or -1.
    route_fixed
        A route's own cost (time units) on top of its arcs' costs: the cost of leaving demand
        unserved on source-3 routes, 0 elsewhere.
    """

    graph: CompiledGraph
    class_names: tuple[str, ...]
    zone_ids: tuple
    od_class: np.ndarray
    od_origin: np.ndarray
    od_destination: np.ndarray
    od_demand: np.ndarray
    od_ptr: np.ndarray
    route_ptr: np.ndarray
    route_arcs: np.ndarray
    route_source: np.ndarray
    route_label: np.ndarray
    route_fixed: np.ndarray
    labels: tuple[str, ...] = ()

    @property
    def n_od(self) -> int:
        """Number of OD pairs (with their class)."""
        return int(self.od_class.shape[0])

    @property
    def n_routes(self) -> int:
        """Number of routes."""
        return int(self.route_ptr.shape[0] - 1)

    @property
    def route_od(self) -> np.ndarray:
        """OD pair index of every route."""
        return np.repeat(np.arange(self.n_od), np.diff(self.od_ptr))

    def routes_per_od(self) -> np.ndarray:
        """Number of routes of every OD pair."""
        return np.diff(self.od_ptr)

    def arcs(self, r: int) -> np.ndarray:
        """Arc positions of route ``r``."""
        return self.route_arcs[self.route_ptr[r]:self.route_ptr[r + 1]]

    def table(self, ods: np.ndarray | None = None) -> pd.DataFrame:
        """One row per route: class, origin, destination, route (0.. within its OD pair),
        source, label, arcs, links. ``ods`` limits it to some OD pair indices (the table holds
        a tuple per route: meant for inspection, not for every route of a large network)."""
        ods = np.arange(self.n_od) if ods is None else np.asarray(ods, dtype=np.int64)
        g = self.graph
        zid = np.asarray(self.zone_ids, dtype=object)
        rows = []
        for w in ods:
            for i, r in enumerate(range(self.od_ptr[w], self.od_ptr[w + 1])):
                a = self.arcs(r).astype(np.int64)
                lab = self.route_label[r]
                rows.append((self.class_names[self.od_class[w]], zid[self.od_origin[w]],
                             zid[self.od_destination[w]], i, SOURCE_NAMES[self.route_source[r]],
                             self.labels[lab] if lab >= 0 else "", tuple(a.tolist()),
                             tuple(g.link_ids[g.arc_link[a]].tolist())))
        return pd.DataFrame(rows, columns=["class", "origin", "destination", "route", "source",
                                           "label", "arcs", "links"])

    def od_index(self, origin, destination, class_name: str | None = None) -> int:
        """Index of the OD pair (origin, destination[, class]).

        Raises
        ------
        InputError
            When the route set has no such OD pair.
        """
        oi = list(self.zone_ids).index(origin) if origin in self.zone_ids else -1
        di = list(self.zone_ids).index(destination) if destination in self.zone_ids else -1
        hit = (self.od_origin == oi) & (self.od_destination == di)
        if class_name is not None:
            hit &= self.od_class == self.class_names.index(class_name)
        idx = np.flatnonzero(hit)
        if len(idx) != 1:
            raise InputError(f"no single OD pair {origin!r} -> {destination!r}"
                             f"{'' if class_name is None else f' of class {class_name!r}'} in "
                             "this route set.")
        return int(idx[0])


# --------------------------------------------------------------------------------- building


def od_pairs(ca: ClassArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OD pairs with demand, by class then origin then destination: (class, origin zone
    position, destination zone position, demand)."""
    cls, ori, dst, dem = [], [], [], []
    for k, m in enumerate(ca.mats):
        i, j = np.nonzero(m > 0)
        cls.append(np.full(len(i), k, dtype=np.int64))
        ori.append(i.astype(np.int64))
        dst.append(j.astype(np.int64))
        dem.append(m[i, j])
    if not cls:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, np.zeros(0)
    return np.concatenate(cls), np.concatenate(ori), np.concatenate(dst), np.concatenate(dem)


def assemble(route_od: np.ndarray, route_len: np.ndarray, route_arcs: np.ndarray, n_od: int,
             *extra: np.ndarray) -> tuple[np.ndarray, ...]:
    """Routes given in any order (each OD pair's routes in their own order) to OD-grouped
    storage: (od_ptr, route_ptr, route_arcs, *extra reordered)."""
    od_ptr, route_ptr, arcs, where = KR.group_routes(
        np.ascontiguousarray(route_od, dtype=np.int64),
        np.ascontiguousarray(route_len, dtype=np.int64),
        np.ascontiguousarray(route_arcs, dtype=np.int64), n_od)
    out = []
    for x in extra:
        y = np.empty_like(np.asarray(x))
        y[where] = x
        out.append(y)
    return (od_ptr, route_ptr, arcs, *out)


def _run_shared(fn, n_workers: int, *args):
    """Run ``fn(next_group, *args)`` on ``n_workers`` threads that take destination groups
    from one shared counter (a worker slowed by other processes takes fewer)."""
    counter = np.zeros(1, dtype=np.int64)
    if n_workers <= 1 or interpreting():
        # interpreted kernels count with a plain (not atomic) add: one worker
        return [fn(counter, *args)]
    with ThreadPoolExecutor(n_workers) as ex:
        return list(ex.map(lambda _c: fn(counter, *args), range(n_workers)))


def _search_routes(ca: ClassArrays, opts: RouteOptions, od_cls, od_o, od_d
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = ca.graph
    rindptr, rarcs = g.reverse_star()
    k_max = int(opts.max_routes)
    outs = []
    for k in range(ca.n_classes):
        sel = np.flatnonzero(od_cls == k)
        if not len(sel):
            continue
        dn = ca.zone_nodes[od_d[sel]]
        order = np.lexsort((ca.zone_nodes[od_o[sel]], dn))
        sel = sel[order]
        dn = dn[order]
        group_dest, starts = np.unique(dn, return_index=True)
        group_ptr = np.r_[starts, len(sel)].astype(np.int64)
        od_orig = ca.zone_nodes[od_o[sel]].astype(np.int64)
        cost = np.ascontiguousarray(ca.graph.free_flow_time + ca.fixed[k])
        if opts.method == "penalty":
            depth = 4 * k_max if opts.max_depth is None else int(opts.max_depth)
            misses = 2 * k_max if opts.max_misses is None else int(opts.max_misses)
            dead = KR.dead_ends(g.indptr, g.head, rindptr, rarcs, g.tail)
            res = _run_shared(KR.penalty_routes, ca.n_chunks, g.indptr, g.head, g.tail, rindptr,
                              rarcs, cost, g.blocked, dead, group_dest.astype(np.int64), group_ptr,
                              od_orig, sel.astype(np.int64), k_max, depth, misses,
                              float(opts.penalty))
        else:
            depth = k_max if opts.max_depth is None else int(opts.max_depth)
            misses = 2 * k_max if opts.max_misses is None else int(opts.max_misses)
            res = _run_shared(KR.elimination_routes, ca.n_chunks, g.indptr, g.head, g.tail,
                              rindptr, rarcs, cost, g.blocked, group_dest.astype(np.int64),
                              group_ptr, od_orig, sel.astype(np.int64), k_max, max(depth, 1),
                              misses)
        outs.extend(res)
    if opts.method == "penalty" and outs:
        searches = sum(int(o[3]) for o in outs)
        settled = sum(int(o[4]) for o in outs)
        log.info("route sets: %d searches for %d OD pairs, %.1f nodes settled per search",
                 searches, len(od_cls), settled / max(searches - len(od_cls), 1))
    if not outs:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    return (np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs]),
            np.concatenate([o[2] for o in outs]))


#: Cost added to the arcs a :class:`Waypoints` avoids: larger than any route's cost, finite so
#: that a route that cannot avoid them is still found.
AVOID_COST = 1.0e9


def _avoid_arcs(g: CompiledGraph, lid: pd.Index, wp: Waypoints, problems: list[str]
                ) -> np.ndarray:
    """The arcs of the links ``wp.avoid`` names (both directions); ``lid``: ``g``'s link ids."""
    if not wp.avoid:
        return np.zeros(0, dtype=np.int64)
    pos = lid.get_indexer(list(wp.avoid))
    bad = [v for v, q in zip(wp.avoid, pos, strict=True) if q < 0]
    if bad:
        problems.append(f"waypoints {wp.name!r}: unknown link ids to avoid {format_ids(bad)}.")
    return np.flatnonzero(np.isin(g.arc_link, pos[pos >= 0])).astype(np.int64)


def _via_arcs(g: CompiledGraph, lid: pd.Index, wp: Waypoints, problems: list[str]
              ) -> list[list[int]] | None:
    """Arc choices per via link: a list (one entry per via) of candidate arcs; ``lid``: ``g``'s
    link ids."""
    out = []
    for v in wp.via:
        want = None
        if isinstance(v, tuple):
            v, want = v
        pos = lid.get_indexer([v])[0]
        if pos < 0:
            problems.append(f"waypoints {wp.name!r}: unknown link id {v!r}.")
            return None
        arcs = np.flatnonzero(g.arc_link == pos)
        dirs = g.arc_dir[arcs]
        if want is not None:
            arcs = arcs[dirs == (1 if want >= 0 else -1)]
            if not len(arcs):
                problems.append(f"waypoints {wp.name!r}: link {v!r} has no "
                                f"{'forward' if want >= 0 else 'backward'} direction.")
                return None
        out.append([int(a) for a in arcs])
    return out


def _waypoint_routes(ca: ClassArrays, waypoints: Sequence[Waypoints], od_cls, od_o, od_d
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(route_od, route_len, route_arcs, route_label, labels) of the forced alternatives.

    Raises
    ------
    InputError
        Listing bad waypoints: unknown nodes, links, classes or zones, repeated names.
    """
    g = ca.graph
    if not waypoints:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, e, []
    problems: list[str] = []
    labels = [wp.name for wp in waypoints]
    if len(set(labels)) != len(labels):
        problems.append(f"waypoint names repeat: {format_ids(labels)}.")
    names = [c.name for c in ca.classes]
    zpos = {z: i for i, z in enumerate(ca.zone_ids)}
    key = {(int(k), int(o), int(d)): w
           for w, (k, o, d) in enumerate(zip(od_cls, od_o, od_d, strict=True))}
    items = []  # (od, label, orig node, dest node, [(node, arc)...])
    # the link ids' index, each list of links to avoid and each list of links to pass are
    # looked up once (the corridor's forced members give a hundred waypoints of a dozen lists)
    lid = pd.Index(g.link_ids)
    via_of: dict[tuple, list[list[int]]] = {}
    avoid_of: dict[tuple, tuple[int, ...]] = {}
    avoid = []  # the arcs each waypoint avoids, as a tuple (its group's key)
    for wp in waypoints:
        known = avoid_of.get(tuple(wp.avoid))
        if known is None:
            n_problems = len(problems)
            known = tuple(_avoid_arcs(g, lid, wp, problems).tolist())
            if len(problems) == n_problems:  # a bad list is told of for every waypoint
                avoid_of[tuple(wp.avoid)] = known
        avoid.append(known)
    for li, wp in enumerate(waypoints):
        if wp.kind not in ("node", "link"):
            problems.append(f"waypoints {wp.name!r}: kind must be node or link, not {wp.kind!r}.")
            continue
        if not len(wp.via):
            problems.append(f"waypoints {wp.name!r}: no waypoint given.")
            continue
        cls_sel = range(ca.n_classes)
        if wp.classes is not None:
            bad = [c for c in wp.classes if c not in names]
            if bad:
                problems.append(f"waypoints {wp.name!r}: unknown classes {format_ids(bad)}.")
                continue
            cls_sel = [names.index(c) for c in wp.classes]
        if wp.kind == "node":
            try:
                nodes = g.node_index(list(wp.via))
            except InputError as e:
                problems.append(f"waypoints {wp.name!r}: {e}")
                continue
            choices = [[(int(n), -1)] for n in nodes]
        else:
            arcs = via_of.get(tuple(wp.via))
            if arcs is None:
                n_problems = len(problems)
                arcs = _via_arcs(g, lid, wp, problems)
                if arcs is None:
                    continue
                if len(problems) == n_problems:
                    via_of[tuple(wp.via)] = arcs
            choices = [[(-1, a) for a in alts] for alts in arcs]
        if wp.ods is None:
            targets = [w for w in range(len(od_cls)) if od_cls[w] in cls_sel]
        else:
            targets = []
            for pair in wp.ods:
                o, d = pair
                if o not in zpos or d not in zpos:
                    problems.append(f"waypoints {wp.name!r}: OD pair {o!r} -> {d!r} names a zone "
                                    "that is not in the demand.")
                    continue
                targets.extend(key[(k, zpos[o], zpos[d])] for k in cls_sel
                               if (k, zpos[o], zpos[d]) in key)
        for w in targets:
            for combo in itertools.product(*choices):
                items.append((w, li, ca.zone_nodes[od_o[w]], ca.zone_nodes[od_d[w]], combo))
    if problems:
        raise InputError(problems, "waypoints")
    if not items:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, e, labels
    r_od, r_len, r_arcs, r_lab = [], [], [], []
    # the items of each (class, arcs avoided), in their order, searched together
    grouped: dict[tuple[int, tuple[int, ...]], list] = {}
    for it in items:
        grouped.setdefault((int(od_cls[it[0]]), avoid[it[1]]), []).append(it)
    for k, av in sorted(grouped):
        its = grouped[k, av]
        via_ptr = np.zeros(len(its) + 1, dtype=np.int64)
        np.cumsum([len(it[4]) for it in its], out=via_ptr[1:])
        flat = [p for it in its for p in it[4]]
        via_node = np.array([p[0] for p in flat], dtype=np.int64)
        via_arc = np.array([p[1] for p in flat], dtype=np.int64)
        cost = np.ascontiguousarray(g.free_flow_time + ca.fixed[k])
        if av:
            cost[np.asarray(av, dtype=np.int64)] += AVOID_COST
        ok, ln, arcs = KR.waypoint_routes(
            g.indptr, g.head, g.tail, cost, g.blocked,
            np.array([it[2] for it in its], dtype=np.int64),
            np.array([it[3] for it in its], dtype=np.int64), via_ptr, via_node, via_arc)
        starts = np.zeros(len(ln) + 1, dtype=np.int64)
        np.cumsum(ln, out=starts[1:])
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for i, it in enumerate(its):
            if not ok[i]:
                continue
            a = arcs[starts[i]:starts[i + 1]]
            if len(np.unique(a)) < len(a):
                continue  # a leg comes back over an arc of another: not a route
            c = float(cost[a].sum())
            if (it[0], it[1]) not in best or c < best[(it[0], it[1])][0]:
                best[(it[0], it[1])] = (c, i)
        missing = {(it[0], it[1]) for it in its} - best.keys()
        if missing:
            log.info("class %s: %d OD pairs have no loop-free route through their waypoints",
                     ca.classes[k].name, len(missing))
        for (w, li), (_c, i) in sorted(best.items()):
            r_od.append(w)
            r_lab.append(li)
            r_len.append(ln[i])
            r_arcs.append(arcs[starts[i]:starts[i + 1]])
    if not r_od:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, e, labels
    return (np.array(r_od, dtype=np.int64), np.array(r_len, dtype=np.int64),
            np.concatenate(r_arcs), np.array(r_lab, dtype=np.int64), labels)


def build_route_set(ca: ClassArrays, opts: RouteOptions) -> RouteSet:
    """Generate the route sets of every OD pair with demand (see the module notes).

    Raises
    ------
    InputError
        On bad options or waypoints.
    NoPathError
        When some OD pair with demand has no route.
    """
    opts.check()
    od = od_pairs(ca)
    return _with_waypoints(ca, od, _search_routes(ca, opts, *od[:3]), tuple(opts.waypoints))


def least_cost_route_set(ca: ClassArrays, searched: RouteSet,
                         waypoints: Sequence[Waypoints] = ()) -> RouteSet:
    """The route set :func:`build_route_set` gives on ``ca`` with
    ``RouteOptions(max_routes=1, waypoints=waypoints)``, without searching again: its one route
    of each OD pair is the first route ``searched`` holds of the pair.

    ``searched`` must be a route set :func:`build_route_set` gave on ``ca`` by link penalty
    (any ``max_routes``), without waypoints: the first search of each pair is at the base
    costs (the destination's tree), whatever the number of routes, and a pair's routes are
    kept in the order found.

    Raises
    ------
    InputError
        When ``searched`` is not of ``ca``'s graph and OD pairs, or holds routes that the
        searches did not find; on bad waypoints.
    """
    od = od_pairs(ca)
    if (searched.graph is not ca.graph or searched.n_od != len(od[0])
            or not all(np.array_equal(a, b) for a, b in zip(
                od, (searched.od_class, searched.od_origin, searched.od_destination,
                     searched.od_demand), strict=True))
            or (searched.route_source != SOURCE_SEARCH).any()
            or (searched.routes_per_od() == 0).any()):
        raise InputError("least_cost_route_set needs a route set the searches gave on the "
                         "same class arrays, without waypoints.")
    first = searched.od_ptr[:-1]
    lens = np.diff(searched.route_ptr)[first]
    at = np.repeat(searched.route_ptr[first], lens) + (
        np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
    return _with_waypoints(ca, od, (np.arange(searched.n_od, dtype=np.int64), lens,
                                    searched.route_arcs[at].astype(np.int64)), tuple(waypoints))


def _with_waypoints(ca: ClassArrays, od: tuple[np.ndarray, ...], searched: tuple[np.ndarray, ...],
                    waypoints: tuple[Waypoints, ...]) -> RouteSet:
    """The route set of the OD pairs ``od`` (:func:`od_pairs`) with the searches' routes
    ``searched`` (route_od, route_len, route_arcs) and the forced routes of ``waypoints``."""
    od_cls, od_o, od_d, od_q = od
    n_od = len(od_cls)
    s_od, s_len, s_arcs = searched
    w_od, w_len, w_arcs, w_lab, labels = _waypoint_routes(ca, waypoints, od_cls, od_o, od_d)
    src = np.r_[np.full(len(s_od), SOURCE_SEARCH), np.full(len(w_od), SOURCE_WAYPOINTS)]
    lab = np.r_[np.full(len(s_od), -1), w_lab].astype(np.int64)
    od_ptr, route_ptr, route_arcs, src, lab = assemble(
        np.r_[s_od, w_od], np.r_[s_len, w_len], np.r_[s_arcs, w_arcs], n_od, src, lab)
    rs = RouteSet(graph=ca.graph, class_names=tuple(c.name for c in ca.classes),
                  zone_ids=ca.zone_ids, od_class=od_cls, od_origin=od_o, od_destination=od_d,
                  od_demand=od_q, od_ptr=od_ptr, route_ptr=route_ptr, route_arcs=route_arcs,
                  route_source=src.astype(np.int8), route_label=lab.astype(np.int32),
                  route_fixed=np.zeros(len(src)), labels=tuple(labels))
    if len(w_od):
        rs = _dedupe(rs)
    check_route_set(rs)
    return rs


def _dedupe(rs: RouteSet) -> RouteSet:
    """Drop a forced route equal to another route of its OD pair, moving its label there; cap
    each OD pair at MAX_ROUTES routes."""
    keep = np.ones(rs.n_routes, dtype=bool)
    label = rs.route_label.copy()
    src = rs.route_source.copy()
    for w in np.flatnonzero(np.bincount(rs.route_od[rs.route_source == SOURCE_WAYPOINTS],
                                        minlength=rs.n_od)):
        seen: dict[tuple, int] = {}
        for r in range(rs.od_ptr[w], rs.od_ptr[w + 1]):
            key = tuple(rs.arcs(r).tolist())
            if key in seen:
                keep[r] = False
                first = seen[key]
                if label[first] < 0:
                    label[first] = label[r]
            else:
                seen[key] = r
        kept = np.flatnonzero(keep[rs.od_ptr[w]:rs.od_ptr[w + 1]]) + rs.od_ptr[w]
        if len(kept) > MAX_ROUTES:
            log.warning("OD pair %d has %d routes; the last %d forced ones are dropped", w,
                        len(kept), len(kept) - MAX_ROUTES)
            keep[kept[MAX_ROUTES:]] = False
    if keep.all():
        return RouteSet(**{**_fields(rs), "route_label": label})
    return subset_routes(RouteSet(**{**_fields(rs), "route_label": label, "route_source": src}),
                         keep)


def _fields(rs: RouteSet) -> dict:
    return {f: getattr(rs, f) for f in RouteSet.__dataclass_fields__}


def subset_routes(rs: RouteSet, keep: np.ndarray) -> RouteSet:
    """The route set with only the routes where ``keep`` is true."""
    lens = np.diff(rs.route_ptr)
    od_ptr, route_ptr, arcs, src, lab, fix = assemble(
        rs.route_od[keep], lens[keep],
        rs.route_arcs[np.repeat(keep, lens)], rs.n_od,
        rs.route_source[keep], rs.route_label[keep], rs.route_fixed[keep])
    return RouteSet(**{**_fields(rs), "od_ptr": od_ptr, "route_ptr": route_ptr,
                       "route_arcs": arcs, "route_source": src, "route_label": lab,
                       "route_fixed": fix})


def add_routes(rs: RouteSet, route_od, route_len, route_arcs, source: int,
               route_fixed: np.ndarray | None = None) -> tuple[RouteSet, np.ndarray]:
    """The route set with routes appended to their OD pairs (after the routes there); also the
    position of every old route in the new storage."""
    route_od = np.asarray(route_od, dtype=np.int64)
    route_len = np.asarray(route_len, dtype=np.int64)
    order = np.argsort(route_od, kind="stable")
    starts = np.zeros(len(route_len) + 1, dtype=np.int64)
    np.cumsum(route_len, out=starts[1:])
    lens = route_len[order]
    new_ptr = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_ptr[1:])
    idx = np.repeat(starts[:-1][order] - new_ptr[:-1], lens) + np.arange(new_ptr[-1])
    arcs = np.asarray(route_arcs, dtype=rs.route_arcs.dtype)[idx]
    od_ptr, route_ptr, out_arcs, old_pos, new_pos = KR.merge_routes(
        rs.od_ptr, rs.route_ptr, rs.route_arcs, route_od[order], new_ptr, arcs)
    n = len(route_ptr) - 1
    src = np.empty(n, dtype=np.int8)
    lab = np.empty(n, dtype=np.int32)
    fix = np.empty(n)
    src[old_pos], src[new_pos] = rs.route_source, source
    lab[old_pos], lab[new_pos] = rs.route_label, -1
    fix[old_pos] = rs.route_fixed
    fix[new_pos] = 0.0 if route_fixed is None else np.asarray(route_fixed, dtype=float)[order]
    out = RouteSet(**{**_fields(rs), "od_ptr": od_ptr, "route_ptr": route_ptr,
                      "route_arcs": out_arcs, "route_source": src, "route_label": lab,
                      "route_fixed": fix})
    return out, old_pos


def check_route_set(rs: RouteSet) -> None:
    """Every OD pair with demand has at least one route and at most MAX_ROUTES.

    Raises
    ------
    NoPathError
        Listing the OD pairs with demand and no route.
    InputError
        When an OD pair has more than MAX_ROUTES routes.
    """
    n = rs.routes_per_od()
    real = np.bincount(rs.route_od[rs.route_source != SOURCE_UNSERVED], minlength=rs.n_od)
    empty = np.flatnonzero(real == 0)
    if len(empty):
        z = np.asarray(rs.zone_ids, dtype=object)
        tag = len(rs.class_names) > 1
        pairs = [f"{z[rs.od_origin[w]]}->{z[rs.od_destination[w]]}"
                 + (f" ({rs.class_names[rs.od_class[w]]})" if tag else "") for w in empty]
        raise NoPathError(f"{len(empty)} OD pairs with demand "
                          f"({float(rs.od_demand[empty].sum()):g} in all) have no route "
                          f"({format_ids(pairs)}); connect them or remove their demand.")
    if (n > MAX_ROUTES).any():
        raise InputError(f"{int((n > MAX_ROUTES).sum())} OD pairs have more than {MAX_ROUTES} "
                         "routes; use fewer routes or waypoints.")


def generate_route_sets(
    network,
    demand,
    *,
    classes=None,
    options: RouteOptions | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> RouteSet:
    """Route sets of every OD pair with demand and every class, at free-flow generalized cost.

    Parameters
    ----------
    network
        A :class:`~karvan.Network` or a compiled graph.
    demand
        OD matrices over zones of the network.
    classes
        Traffic classes (default: one class over the matrix ``demand``, or the only matrix).
    options
        How routes are generated (:class:`RouteOptions`; default 5 routes by link penalty 1.1).
    toll_factor, distance_factor, links
        As for :func:`karvan.assign`.

    Returns
    -------
    RouteSet

    Raises
    ------
    InputError
        On a bad network, demand, class or option.
    NoPathError
        When some OD pair with demand has no route.

    Examples
    --------
    >>> nodes = pd.DataFrame({"zone_id": [1, 2, None]}, index=pd.Index([1, 2, 3], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1, 3], "to_node_id": [2, 3, 2],
    ...                       "free_flow_time": [3.0, 1.0, 1.0], "vdf": "constant"},
    ...                      index=pd.Index(["direct", "a", "b"], name="link_id"))
    >>> from karvan import Demand, Network
    >>> d = Demand((1, 2), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    >>> rs = generate_route_sets(Network(nodes, links), d, options=RouteOptions(max_routes=3))
    >>> [r for r in rs.table()["links"]]
    [('a', 'b'), ('direct',)]
    """
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    return build_route_set(ca, options or RouteOptions())
