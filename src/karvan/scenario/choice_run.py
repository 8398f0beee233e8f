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

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.assign.classes import TrafficClass
from karvan.choice import (
    ChoiceResult,
    RouteOptions,
    Waypoints,
    capacities_from_links,
    generate_route_sets,
)
from karvan.choice.dual import fixed_cost_equilibrium
from karvan.errors import InputError, format_ids
from karvan.freight.choice_model import (
    FORCE_WITHIN,
    CorridorChoice,
    _ids,
    family_classifier,
    serves_pairs,
)
from karvan.network.demand import Demand
from karvan.network.graph import compile_graph
from karvan.network.model import Network
from karvan.paths.trees import shortest_path_trees

log = logging.getLogger(__name__)

#: route-set generation of the corridor: routes per OD pair and class by link penalty
MAX_ROUTES = 6
PENALTY = 1.3
#: the column of link.csv saying which capacities bound both directions together
BOTH_DIRECTIONS = "capacity_both_directions"


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
    multipliers, not a delay curve)."""
    links = net.links.copy()
    links["vdf"] = "constant"
    if BOTH_DIRECTIONS not in links:
        links[BOTH_DIRECTIONS] = False
    return Network(net.nodes, links, dict(net.config), net.name)


def choice_classes(classes, model: CorridorChoice, link_ids) -> list[TrafficClass]:
    """The classes with the gauge-break terms of their commodity as link costs (USD/t)."""
    out = []
    for c in classes:
        extra = model.link_cost_usd_per_t(c.name.split("|", 1)[0], link_ids, c.value_of_time)
        lc = extra if c.link_cost is None else np.asarray(c.link_cost, dtype=float) + extra
        out.append(TrafficClass(name=c.name, demand=c.demand, value_of_time=c.value_of_time,
                                pce=c.pce, cost_fields=dict(c.cost_fields),
                                link_cost=lc if lc.any() else None))
    return out


def _class_arc_costs(net: Network, g, c: TrafficClass) -> np.ndarray:
    links = net.links.loc[g.link_ids]
    money = np.zeros(g.n_links)
    for col, w in c.cost_fields.items():
        money += w * links[col].to_numpy(dtype=float)
    if c.link_cost is not None:
        money += np.asarray(c.link_cost, dtype=float)
    return g.free_flow_time + g.to_arcs(money / c.value_of_time)


def family_waypoints(net: Network, demand: Demand, classes, model: CorridorChoice,
                     theta_h: dict[str, float], zone_country: dict[str, str]
                     ) -> tuple[list[Waypoints], pd.DataFrame]:
    """Forced alternatives: for every OD pair and class, the least-cost route through each
    family's characteristic links (and one of its ``also_via`` links, in either order), where
    that route costs at most ``FORCE_WITHIN / theta`` more than the pair's cheapest route, or
    where the family is declared to serve the pair's countries. Also returns the pairs the
    families are declared to serve that have no route through their links at all."""
    g = compile_graph(net)
    lid = pd.Index(g.link_ids)
    serves = serves_pairs(model.families)
    zone_ids = list(demand.zone_ids)
    zpos = g.zone_index(zone_ids)
    zn = g.zone_nodes[zpos]
    groups: dict[tuple, list] = {}
    no_route = []
    for c in classes:
        m = np.asarray(demand.matrices[c.demand], dtype=float)
        oi, di = np.nonzero(m > 0)
        if not len(oi):
            continue
        cost = np.ascontiguousarray(_class_arc_costs(net, g, c))
        dist, _ = shortest_path_trees(g, cost, np.arange(g.n_nodes), threads=1)
        o, d = zn[oi], zn[di]
        least = dist[o, d]
        cut = least + FORCE_WITHIN / theta_h[c.name]
        oc = np.array([zone_country.get(zone_ids[i], "") for i in oi])
        dc = np.array([zone_country.get(zone_ids[j], "") for j in di])
        for f in model.families.itertuples():
            via = [x for x in _ids(f.via_link_ids) if x != "*"]
            if not via:
                continue
            also = _ids(f.also_via_link_ids)
            arcs_of = {x: np.flatnonzero(g.arc_link == p) for x, p in
                       zip(via + also, lid.get_indexer(via + also), strict=True) if p >= 0}
            best = np.full(len(o), np.inf)
            best_via = np.full(len(o), -1, dtype=np.int64)
            cands: list[tuple[str, ...]] = []
            for a in via:
                for b in (also or [None]):
                    if a not in arcs_of or (b is not None and b not in arcs_of):
                        continue
                    seqs = [(a,)] if b is None else [(a, b), (b, a)]
                    for seq in seqs:
                        cc = _through(dist, cost, g, o, d, [arcs_of[x] for x in seq])
                        better = cc < best
                        best[better] = cc[better]
                        best_via[better] = len(cands)
                        cands.append(seq)
            declared = np.array([(x, y) in serves.get(f.family_id, ()) for x, y in
                                 zip(oc, dc, strict=True)], dtype=bool)
            want = (best <= cut) | (declared & np.isfinite(best))
            for i in np.flatnonzero(want):
                key = (f.family_id, cands[best_via[i]], c.name)
                groups.setdefault(key, []).append((zone_ids[oi[i]], zone_ids[di[i]]))
            for i in np.flatnonzero(declared & ~np.isfinite(best)):
                no_route.append((f.family_id, c.name, zone_ids[oi[i]], zone_ids[di[i]]))
    wps = [Waypoints(name=f"{fam}#{n}", via=via, kind="link", ods=tuple(ods), classes=(cls,))
           for n, ((fam, via, cls), ods) in enumerate(groups.items())]
    missing = pd.DataFrame(no_route, columns=["family_id", "class", "origin", "destination"])
    return wps, missing


def _through(dist, cost, g, o, d, arcs_seq) -> np.ndarray:
    """Least cost from o to d through one arc of each set in ``arcs_seq``, in order."""
    # cost to reach the end of each arc of the first set, then on through the next sets
    first = arcs_seq[0]
    at = dist[o][:, g.tail[first]] + cost[first][None, :]  # (n_od, n_arcs of set 0)
    ends = g.head[first]
    for arcs in arcs_seq[1:]:
        # from each end node to each arc of the next set
        step = dist[ends][:, g.tail[arcs]] + cost[arcs][None, :]  # (n_prev, n_next)
        at = np.min(at[:, :, None] + step[None, :, :], axis=1)
        ends = g.head[arcs]
    return np.min(at + dist[ends][:, d].T, axis=1)


def solve_choice(net: Network, demand: Demand, classes, model: CorridorChoice, *,
                 zone_country: dict[str, str], closed_links: set[str]) -> ChoiceRun:
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
    wps, missing = family_waypoints(cnet, demand, classes, model, theta_h, zone_country)
    opts = RouteOptions(max_routes=MAX_ROUTES, penalty=PENALTY, waypoints=tuple(wps))
    rs = generate_route_sets(cnet, demand, classes=classes, options=opts)
    classify = family_classifier(model.families)
    fam = classify(rs)
    _check_served(rs, fam, model, zone_country, missing, closed_links)
    consts = model.constants(classes)
    caps = capacities_from_links(cnet, "capacity", both_directions=BOTH_DIRECTIONS)
    # the family constants are each route's own cost; the nests group the routes
    rs = with_family_costs(rs, fam, consts, model.family_ids)
    nest_names = list(dict.fromkeys(model.families["nest"]))
    nest_idx = np.array([nest_names.index(n) for n in model.families["nest"]], dtype=np.int64)
    groups = np.where(fam >= 0, nest_idx[np.maximum(fam, 0)], -1)
    scale = np.array([model.nest_scale[n] for n in nest_names], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unserved demand: reported below
        res = fixed_cost_equilibrium(cnet, demand, classes=classes, theta=theta_h, routes=rs,
                                     capacities=caps, beta=model.beta, groups=groups,
                                     scale=scale)
    if not res.converged:
        log.warning("%s: the capacities of the choice equilibrium did not settle in %d "
                    "iterations (largest excess %.3g)", net.name, res.iterations,
                    float(res.capacities["relative_excess"].max()))
    routes = _routes(res, classify)
    cap = capacity_table(res, cnet)
    uns = res.unserved.copy()
    if len(uns):
        uns.insert(1, "commodity", uns["class"].str.split("|").str[0])
        log.warning("%s: %.0f t/yr of demand in %d OD pairs cannot be carried within the "
                    "capacities (table choice_unserved)", net.name, uns["unserved"].sum(),
                    len(uns))
    settings = {"choice": "logit", "route_sets": {"max_routes": MAX_ROUTES, "penalty": PENALTY,
                                                  "forced_alternatives": len(wps),
                                                  "routes": int(rs.n_routes)},
                "choice_method": "nested logit at fixed costs, capacities in the dual "
                                 "(projected Newton on the multipliers)",
                "theta_per_h": theta_h, "choice_parameters": model.describe()}
    return ChoiceRun(res, routes, cap, uns, tuple(classes), cnet, settings)


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
    for f, pairs in serves.items():
        i = ids.index(f)
        hit = np.array([(x, y) in pairs for x, y in zip(oc, dc, strict=True)]) & ~has[:, i]
        if not hit.any():
            continue
        ods = [f"{z[rs.od_origin[w]]}->{z[rs.od_destination[w]]} "
               f"({rs.class_names[rs.od_class[w]]})" for w in np.flatnonzero(hit)]
        msg = (f"route_family.csv line {lines[f]}: family {f!r} is declared to serve "
               f"{format_ids(sorted(f'{a}-{b}' for a, b in pairs))} but has no route for "
               f"{int(hit.sum())} OD pairs with demand ({format_ids(ods)}); check its "
               "via_link_ids (open links a route of those countries can use) or remove the "
               "pairs from serves.")
        if closed_links:
            log.warning("%s (the scenario closes %d links)", msg, len(closed_links))
        else:
            problems.append(msg)
    if problems:
        raise InputError(problems, "route_family.csv")


def _routes(res: ChoiceResult, classify) -> pd.DataFrame:
    """The route list of the run (as :func:`karvan.paths.route_flows`), with each route's
    family; unserved alternatives and routes below 1e-9 of their pair's demand left out."""
    rs = res.route_set
    tab = res.route_table()
    fam = classify(rs)
    tab["family_idx"] = fam
    tab = tab[(tab["source"] != "unserved") & (tab["share"] >= 1e-9)]
    tab = tab.sort_values(["class", "origin", "destination", "flow"],
                          ascending=[True, True, True, False], kind="stable")
    tab["route"] = tab.groupby(["class", "origin", "destination"]).cumcount()
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
    for k, cl in enumerate(res.classes):
        com = cl.name.split("|", 1)[0]
        per_com[com] = mu * cl.value_of_time
        for i, (p, dr) in enumerate(zip(pos, direction, strict=True)):
            arcs = np.flatnonzero(g.arc_link == p)
            if dr == "ab":
                arcs = arcs[g.arc_dir[arcs] > 0]
            elif dr == "ba":
                arcs = arcs[g.arc_dir[arcs] < 0]
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
