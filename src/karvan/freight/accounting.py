"""Freight results from an assignment: link tonnes, routes, per-country transit, borders,
bottlenecks, skims, the shipper comparison and the calibration table.

Per country C, over every route r with flow f_r (tonnes per year):
- ``tonnes``: the sum of f_r over routes that use a link in C;
- ``tonne_km``: f_r times the length of r inside C;
- ``revenue_usd``: f_r times the charges (tariffs and fees) of r's links in C;
- ``transit_*``: the same over routes whose origin and destination both lie outside C, and
  over the part of a route's tonnes that comes from or goes on overseas through a port of C
  (the demand cell's ``overseas_origin_share`` or ``overseas_destination_share`` of the end
  in C, the other end outside C) where the route uses a rail or road link of C: an all-water
  route that ends at the port is a ship's call, not transit (:func:`transit_weights`);
- ``sea_legs_only``: every link of C that the routes use is a sea leg (``mode`` sea or ferry),
  so its revenue is the shipping line's charge, not the country's (Egypt's Suez Canal leg,
  ocean freight with no canal dues).
Sea links carry the pseudo-country ``XX`` (open sea) and Caspian links ``XC``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from karvan.assign.capacity import CapacityResult
from karvan.assign.result import AssignmentResult
from karvan.freight.corridor import OVERSEAS_SHARES
from karvan.freight.costs import EXTRA_TIME_PREFIX, hard_capacity
from karvan.freight.observed import (
    LAND_MODES,
    RunFlows,
    modelled_tonnes,
    observation_matrix,
    parse_observations,
)
from karvan.network.graph import CompiledGraph
from karvan.network.model import Network
from karvan.paths.trees import path_sums, shortest_path_trees

SEA_COUNTRIES = ("XX", "XC")


def sea_leg_countries(links: pd.DataFrame) -> list[str]:
    """The countries whose links (``country``, ``mode``) are all sea legs, mode sea or ferry:
    :data:`SEA_COUNTRIES` and, on the shipped dataset, Egypt's Suez Canal; no transit by land.

    >>> sea_leg_countries(pd.DataFrame({"country": ["EG", "XC", "AZ", "AZ"],
    ...                                 "mode": ["sea", "ferry", "rail", "ferry"]}))
    ['EG', 'XC']
    """
    sea = links.groupby("country")["mode"].agg(
        lambda m: set(m.astype(str)) <= {"sea", "ferry"})
    return sorted(map(str, sea[sea].index))


def commodity_of(class_name: str) -> str:
    """The commodity of a traffic class: ``grain`` or a segment of it, ``grain|ban0``."""
    return class_name.split("|", 1)[0]


def arc_charges(net: Network, g: CompiledGraph) -> dict[str, np.ndarray]:
    """Per-arc charge (USD per tonne) of every commodity: ``charge_usd_per_t__<commodity>``."""
    links = net.links.loc[g.link_ids]
    out = {}
    for col in links.columns:
        if col.startswith("charge_usd_per_t__"):
            out[col.removeprefix("charge_usd_per_t__")] = links[col].to_numpy(dtype=float)[
                g.arc_link]
    return out




def arc_extra_hours(net: Network, g: CompiledGraph) -> dict[str, np.ndarray]:
    """Per-arc time (hours) that each commodity takes beyond the link's own time:
    ``extra_time_h__<commodity>`` (none: an empty dict)."""
    links = net.links.loc[g.link_ids]
    return {col.removeprefix(EXTRA_TIME_PREFIX): links[col].to_numpy(dtype=float)[g.arc_link]
            for col in links.columns if col.startswith(EXTRA_TIME_PREFIX)}


def _per_link_max(g: CompiledGraph, arc_values: np.ndarray) -> np.ndarray:
    out = np.full(g.n_links, -np.inf)
    np.maximum.at(out, g.arc_link, arc_values)
    return out


def link_results(net: Network, ue: AssignmentResult, lp: CapacityResult | None,
                 commodities: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per open link: tonnes by direction and commodity, utilization, times and costs,
    vehicles (wagons per day on rail, trucks per day on road, border crossings included: see
    :func:`vehicle_mode`; TEU per year of containers), the
    load in the unit the capacity was published in, and the capacity LP's tonnes and shadow
    price."""
    g = ue.graph
    links = net.links.loc[g.link_ids]
    ab, ba = g.to_links(ue.flow)
    cap = links["capacity"].to_numpy(dtype=float)
    df = pd.DataFrame({
        "link_id": g.link_ids,
        "name": links.get("name", pd.Series("", index=links.index)).to_numpy(),
        "mode": links["mode"].to_numpy(),
        "element": links.get("element", links["mode"]).to_numpy(),
        "country": links["country"].to_numpy(),
        "border_id": links.get("border_id", pd.Series(None, index=links.index)).to_numpy(),
        "from_node_id": links["from_node_id"].to_numpy(),
        "to_node_id": links["to_node_id"].to_numpy(),
        "directed": links["directed"].to_numpy(),
        "length_km": links["length"].to_numpy(),
        "capacity_tpy": cap,
        "tonnes_ab": ab,
        "tonnes_ba": ba,
        "tonnes_tot": ab + ba,
    })
    vol_max = _per_link_max(g, ue.volume)
    vol_max = np.where(np.isfinite(vol_max), vol_max, 0.0)
    # a capacity that both directions share (a port's quay, a terminal) against both
    both, hard = hard_capacity(links)
    v_ab, v_ba = g.to_links(ue.volume)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["utilization"] = np.where(both, np.where(hard > 0, (v_ab + v_ba) / hard, np.nan),
                                     np.where(cap > 0, vol_max / cap, np.nan))
    t_ab, t_ba = _dir_values(g, ue.time)
    df["time_h_ab"], df["time_h_ba"] = t_ab, t_ba
    df["free_flow_time_h"] = links["free_flow_time"].to_numpy()
    df["charge_usd_per_t"] = links["charge_usd_per_t"].to_numpy()
    df["tonne_km"] = df["tonnes_tot"] * df["length_km"]
    charges = arc_charges(net, g)
    rev = np.zeros(g.n_arcs)
    for k, c in enumerate(ue.classes):
        a, b = g.to_links(ue.class_flows[k])
        col = f"tonnes_{commodity_of(c.name)}"
        df[col] = (df[col] if col in df else 0.0) + a + b
        rev += ue.class_flows[k] * charges[commodity_of(c.name)]
    a, b = g.to_links(rev)
    df["revenue_usd"] = a + b
    # what its freight pays a tonne, over the commodities' own tariffs (charge_usd_per_t is the
    # link's default: 70 USD/t on a rail ferry whose wagons pay 31-42)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["charge_paid_usd_per_t"] = np.where(df["tonnes_tot"] > 0,
                                               df["revenue_usd"] / df["tonnes_tot"], np.nan)
    if commodities is not None:
        pay = commodities.set_index("commodity_id")
        wagons = np.zeros(g.n_links)
        trucks = np.zeros(g.n_links)
        teu = np.zeros(g.n_links)
        for name in dict.fromkeys(commodity_of(c.name) for c in ue.classes):
            t = df[f"tonnes_{name}"].to_numpy()
            for col, acc_ in (("t_per_wagon", wagons), ("t_per_truck", trucks),
                              ("t_per_teu", teu)):
                f = pay.at[name, col] if col in pay else np.nan
                if name == "containers" or col != "t_per_teu":
                    if pd.notna(f) and f > 0:
                        acc_ += t / f
        mode = vehicle_mode(links)
        df["wagons_per_day"] = np.where(mode == "rail", wagons / 365.0, np.nan)
        df["trucks_per_day"] = np.where(mode == "road", trucks / 365.0, np.nan)
        df["teu_per_year"] = teu
    if "capacity_value" in links and "capacity_unit" in links:
        val = pd.to_numeric(links["capacity_value"], errors="coerce").to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            df["capacity_unit"] = links["capacity_unit"].to_numpy()
            df["capacity_value"] = val
            # the load, in the unit the capacity was published in (same conversion factor);
            # not where the published tonnage describes more than the link (a port's figure on
            # one of its access links)
            unit = links["capacity_unit"].astype(str).str.lower().str.replace(" ", "")
            scale = unit.map({"t/yr": 1.0, "tpy": 1.0, "tonnes/yr": 1.0, "kt/yr": 1e3,
                              "mt/yr": 1e6}).to_numpy(dtype=float)
            own = ~np.isfinite(scale) | (np.abs(val * scale - cap) <= 1e-6 * np.abs(cap))
            # in the capacity's own sense: both directions together where they share it (the
            # busier direction alone gave 344 trucks a day at Astara against 251)
            df["load_in_capacity_unit"] = np.where((cap > 0) & own,
                                                   df["utilization"].to_numpy() * val, np.nan)
    if lp is not None:
        a, b = g.to_links(lp.volume)
        df["lp_tonnes_tot"] = a + b
        with np.errstate(invalid="ignore", divide="ignore"):
            # in the sense of the LP's bound: both directions together where they share it
            df["lp_utilization"] = np.where(
                both, np.where(hard > 0, (a + b) / hard, np.nan),
                np.where(cap > 0, _per_link_max(g, lp.volume) / cap, np.nan))
        df["shadow_price_usd_per_t"] = _per_link_max(g, lp.shadow_price)
        # set by the penalty on unserved demand, not by a saving in cost (in either direction)
        df["shadow_price_capped"] = _per_link_max(g, lp.shadow_price_capped.astype(float)) > 0
    return df


def vehicle_mode(links: pd.DataFrame) -> np.ndarray:
    """The vehicles that cross each link: ``rail`` (wagons) or ``road`` (trucks), else "".

    A rail or road line is its mode; a border crossing is its ``submode`` (``rail``, ``road``);
    a gauge break (``rail-rail``) and a rail ferry (``submode`` ``rail``) carry wagons. Ports and
    other transfers change vehicle, and the other ferries and sea links carry ships: none."""
    mode = links["mode"].astype(str).to_numpy()
    sub = (links["submode"].fillna("").astype(str).str.lower().to_numpy()
           if "submode" in links else np.full(len(links), ""))
    out = np.where(np.isin(mode, ["rail", "road"]), mode, "")
    out = np.where((mode == "border") & np.isin(sub, ["rail", "road"]), sub, out)
    out = np.where(((mode == "transfer") & (sub == "rail-rail"))
                   | ((mode == "ferry") & (sub == "rail")), "rail", out)
    return out.astype(object)


def _dir_values(g: CompiledGraph, arc_values: np.ndarray):
    ab = np.full(g.n_links, np.nan)
    ba = np.full(g.n_links, np.nan)
    fwd = g.arc_dir > 0
    ab[g.arc_link[fwd]] = arc_values[fwd]
    ba[g.arc_link[~fwd]] = arc_values[~fwd]
    return ab, ba


def route_table(routes: pd.DataFrame, net: Network, ue_graph: CompiledGraph, times: np.ndarray,
                vot: dict[str, float], *, queue: np.ndarray | None = None) -> pd.DataFrame:
    """Routes with time, distance, money cost, generalized cost and the countries crossed;
    ``queue``: hours of queueing per arc at hard capacities (:func:`queue_hours`), in the
    routes' time and cost and apart as ``queue_h``, as in the skims."""
    g = ue_graph
    links = net.links.loc[g.link_ids]
    length = links["length"].to_numpy(dtype=float)[g.arc_link]
    charges = arc_charges(net, g)
    country = links["country"].to_numpy()[g.arc_link]
    columns = ["commodity", "origin", "destination", "route", "links", "tonnes", "share",
               "time_h", "queue_h", "distance_km", "charge_usd_per_t", "cost_usd_per_t",
               "countries"]
    if not len(routes):
        return pd.DataFrame(columns=columns)
    # sums over each route's arcs, vectorised over routes
    lens = routes["arcs"].map(len).to_numpy()
    arcs = np.fromiter(itertools.chain.from_iterable(routes["arcs"]), dtype=np.int64,
                       count=int(lens.sum()))
    start = np.r_[0, np.cumsum(lens)[:-1]]
    cls = routes.iloc[:, 0].astype(str).to_numpy()
    com = np.array([commodity_of(c) for c in cls], dtype=object)
    coms = list(dict.fromkeys(com))
    ent_com = np.repeat(pd.Index(coms).get_indexer(com), lens)
    ch_arc = np.stack([charges[c] for c in coms])[ent_com, arcs]
    extra = arc_extra_hours(net, g)
    zero = np.zeros(g.n_arcs)
    ex_arc = np.stack([extra.get(c, zero) for c in coms])[ent_com, arcs]

    def sums(v: np.ndarray) -> np.ndarray:
        out = np.zeros(len(lens))
        has = lens > 0
        if has.any():
            out[has] = np.add.reduceat(v, start[has])
        return out

    q = sums(queue[arcs]) if queue is not None else np.zeros(len(lens))
    t = sums(times[arcs] + ex_arc) + q
    km = sums(length[arcs])
    ch = sums(ch_arc)
    # the countries crossed, in order, a country once per stretch
    cs = country[arcs]
    new = np.ones(len(cs), dtype=bool)
    new[1:] = cs[1:] != cs[:-1]
    new[start[lens > 0]] = True
    seq_start = np.cumsum(np.r_[0, [int(new[s:s + n].sum()) for s, n in zip(start, lens,
                                                                              strict=True)]])
    kept = cs[new]
    seqs = [" > ".join(kept[seq_start[i]:seq_start[i + 1]]) for i in range(len(lens))]
    vot_r = np.array([vot[c] for c in cls], dtype=float)
    return pd.DataFrame({
        "commodity": com, "origin": routes["origin"].to_numpy(),
        "destination": routes["destination"].to_numpy(), "route": routes["route"].to_numpy(),
        "links": [" > ".join(map(str, x)) for x in routes["links"]],
        "tonnes": routes["flow"].to_numpy(), "share": routes["share"].to_numpy(),
        "time_h": t, "queue_h": q, "distance_km": km, "charge_usd_per_t": ch,
        "cost_usd_per_t": ch + vot_r * t, "countries": seqs}, columns=columns)


def overseas_shares(classes, origins, destinations,
                    cells: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Each route's overseas origin and destination shares: those of its demand cell (its
    class's commodity, origin and destination zones) in ``cells`` (a run's demand, with the
    columns of :data:`karvan.freight.corridor.OVERSEAS_SHARES`); 0 where ``cells`` is None,
    lacks the columns or has no such cell."""
    n = len(origins)
    if cells is None or not len(cells) or not set(OVERSEAS_SHARES) <= set(cells) or not n:
        return np.zeros(n), np.zeros(n)
    key = pd.MultiIndex.from_arrays([cells["commodity_id"].astype(str).to_numpy(),
                                     cells["origin_zone_id"].to_numpy(dtype=object),
                                     cells["destination_zone_id"].to_numpy(dtype=object)])
    com = {c: commodity_of(str(c)) for c in set(classes)}
    at = key.get_indexer(pd.MultiIndex.from_arrays(
        [[com[c] for c in classes], np.asarray(origins, dtype=object),
         np.asarray(destinations, dtype=object)]))
    out = []
    for col in OVERSEAS_SHARES:
        v = np.nan_to_num(cells[col].to_numpy(dtype=float))
        out.append(np.where(at >= 0, v[np.maximum(at, 0)], 0.0))
    return out[0], out[1]


def transit_weights(country, origin_country, destination_country, share_o, share_d,
                    land) -> np.ndarray:
    """The part of a route's tonnes that is transit of ``country`` (arrays, one entry per route
    and country): 1 where both ends lie outside the country; where one end lies in it and the
    other outside, that end's overseas share if the route uses a rail or road link of the
    country (``land``), else 0; 0 where both ends lie in it (its own trade)."""
    inside_o = origin_country == country
    inside_d = destination_country == country
    land = np.asarray(land, dtype=bool)
    return np.where(~inside_o & ~inside_d, 1.0,
                    np.where(inside_o & inside_d, 0.0,
                             land * np.where(inside_d, share_d, share_o)))


def country_transit(routes: pd.DataFrame, raw_routes: pd.DataFrame, net: Network,
                    g: CompiledGraph, zone_country: dict[str, str],
                    cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-country tonnes, tonne-km and revenue, in all and in transit (see module notes).
    ``cells``: the run's demand with its overseas shares (none: no tonne is overseas cargo)."""
    links = net.links.loc[g.link_ids]
    length = links["length"].to_numpy(dtype=float)[g.arc_link]
    charges = arc_charges(net, g)
    country = links["country"].to_numpy()[g.arc_link]
    mode = links["mode"].astype(str).to_numpy()
    sea_arc = np.isin(mode, ["sea", "ferry"])[g.arc_link]
    land_arc = np.isin(mode, LAND_MODES)[g.arc_link]
    cols = ["tonnes", "tonne_km", "revenue_usd", "transit_tonnes", "transit_tonne_km",
            "transit_revenue_usd"]
    r = raw_routes[(raw_routes["flow"] > 0) & (raw_routes["arcs"].map(len) > 0)]
    if not len(r):
        return pd.DataFrame(columns=["country", *cols, "sea_legs_only"])
    # one entry per arc of every route, in the order of the routes (vectorised over routes)
    lens = r["arcs"].map(len).to_numpy()
    arcs = np.fromiter(itertools.chain.from_iterable(r["arcs"]), dtype=np.int64,
                       count=int(lens.sum()))
    ent_route = np.repeat(np.arange(len(r)), lens)
    com = r.iloc[:, 0].map(commodity_of).to_numpy()
    coms = list(dict.fromkeys(com))
    ch = np.stack([charges[c] for c in coms])
    com_idx = pd.Index(coms).get_indexer(com)
    ent_charge = ch[com_idx[ent_route], arcs]
    codes, names = pd.factorize(country[arcs])
    # per (route, country): length and charge summed, tonnes counted once
    key = ent_route * len(names) + codes
    uk, first, inv = np.unique(key, return_index=True, return_inverse=True)
    km = np.bincount(inv, weights=length[arcs])
    rev_t = np.bincount(inv, weights=ent_charge)
    on_land = np.bincount(inv, weights=land_arc[arcs]) > 0
    rr, cc = uk // len(names), uk % len(names)
    f = r["flow"].to_numpy(dtype=float)[rr]
    zc = pd.Series(zone_country)
    oc = r["origin"].map(zc).to_numpy()[rr]
    dc = r["destination"].map(zc).to_numpy()[rr]
    cname = np.asarray(names, dtype=object)[cc]
    s_o, s_d = overseas_shares(com, r["origin"].to_numpy(), r["destination"].to_numpy(), cells)
    transit = transit_weights(cname, oc, dc, s_o[rr], s_d[rr], on_land)
    vals = np.column_stack([f, f * km, f * rev_t, f * transit, f * km * transit,
                            f * rev_t * transit])
    out = np.zeros((len(names), 6))
    np.add.at(out, cc, vals)
    # countries in the order they first appear (as the route-by-route sum gave them)
    order = np.argsort(first_pos(cc, first), kind="stable")
    df = pd.DataFrame(out[order], index=pd.Index(np.asarray(names, dtype=object)[order],
                                                 name="country"), columns=cols)
    not_sea = np.bincount(codes, weights=~sea_arc[arcs], minlength=len(names))
    df["sea_legs_only"] = (not_sea == 0)[order]
    return df.sort_values("tonnes", ascending=False).reset_index()


def first_pos(cc: np.ndarray, first: np.ndarray) -> np.ndarray:
    """For each country code, the first entry position where it appears."""
    pos = np.full(int(cc.max()) + 1 if len(cc) else 0, np.iinfo(np.int64).max)
    np.minimum.at(pos, cc, first)
    return pos


def border_table(links: pd.DataFrame) -> pd.DataFrame:
    """Throughput, capacity, utilization and dwell of every border crossing: tonnes of all its
    links, ``capacity_tpy`` the sum of its links' capacities as link.csv gives them (per
    direction; blank where none has one, which is unlimited), ``capacity_hard_tpy`` (where the
    links have it) the sum of the bounds their utilization is taken against, ``utilization``
    that of its busiest link in the sense of that link's capacity, and the trucks and wagons a
    day that cross it (both directions, where its links count them)."""
    b = links[links["border_id"].notna() & (links["border_id"].astype(str) != "")]
    if not len(b):
        return pd.DataFrame(columns=["border_id", "link_ids", "tonnes_ab", "tonnes_ba",
                                     "tonnes_tot", "capacity_tpy", "utilization",
                                     "dwell_h", "shadow_price_usd_per_t"])
    agg = {"link_id": lambda s: ";".join(map(str, s)), "tonnes_ab": "sum", "tonnes_ba": "sum",
           "tonnes_tot": "sum", "capacity_tpy": lambda s: s.sum(min_count=1),
           "utilization": "max", "free_flow_time_h": "max"}
    for c in ("trucks_per_day", "wagons_per_day"):  # both directions; blank: none crosses
        if c in b:
            agg[c] = lambda s: s.sum(min_count=1)
    if "capacity_hard_tpy" in b:
        # the bound utilization is taken against (both directions together where they share
        # it): capacity_tpy alone read 2.95 Mt through 2.19 Mt at a utilization of 0.67
        agg["capacity_hard_tpy"] = lambda s: s.sum(min_count=1)
    if "shadow_price_usd_per_t" in b:
        agg["shadow_price_usd_per_t"] = "max"
    if "shadow_price_capped" in b:
        agg["shadow_price_capped"] = "any"
    out = b.groupby("border_id", as_index=False).agg(agg)
    out = out.rename(columns={"link_id": "link_ids", "free_flow_time_h": "dwell_h"})
    return out.sort_values("tonnes_tot", ascending=False, ignore_index=True)


def bottlenecks(links: pd.DataFrame, *, threshold: float = 0.8) -> pd.DataFrame:
    """Links at or above ``threshold`` utilization at equilibrium, binding in the LP, or, with
    the choice model's columns (``capacity_utilization``, ``choice_shadow_price_usd_per_t``,
    ``limit_shadow_price_usd_per_t``), at or above ``threshold`` of their hard capacity or
    binding there or in its deterministic limit."""
    def col(name):
        return (pd.to_numeric(links[name], errors="coerce").fillna(0) if name in links
                else pd.Series(0.0, index=links.index))

    hit = ((col("utilization") >= threshold) | (col("shadow_price_usd_per_t") > 0)
           | (col("capacity_utilization") >= threshold)
           | (col("choice_shadow_price_usd_per_t") > 0)
           | (col("limit_shadow_price_usd_per_t") > 0))
    b = links[hit].copy()
    cols = ["link_id", "name", "mode", "country", "border_id", "capacity_tpy", "tonnes_tot",
            "utilization"] + [c for c in ("lp_tonnes_tot", "lp_utilization",
                                          "shadow_price_usd_per_t", "shadow_price_capped",
                                          "capacity_utilization",
                                          "choice_shadow_price_usd_per_t",
                                          "limit_shadow_price_usd_per_t") if c in b]
    b = b[cols]
    # the choice model's own price first where the run has one (under logit the LP's is a
    # second opinion)
    keys = [k for k in ("choice_shadow_price_usd_per_t", "shadow_price_usd_per_t",
                        "utilization") if k in b]
    return b.sort_values(keys, ascending=False, ignore_index=True)


def od_skims(g: CompiledGraph, ue: AssignmentResult, net: Network, vot: dict[str, float],
             demand_pairs: pd.DataFrame,
             expected: dict[tuple[str, str, str], float] | None = None,
             zone_country: dict[str, str] | None = None) -> pd.DataFrame:
    """Time, distance, charge and generalized cost of the least-cost path of every OD pair
    with demand, per commodity, at the equilibrium times, and the pair's expected cost.

    ``expected`` maps (class, origin, destination) to the expected perceived cost of the pair
    in USD/t under the choice model (its logsum, :attr:`karvan.choice.ChoiceResult.
    od_expected_cost`); without it (deterministic choice, the logsum's limit) the expected
    cost is the least cost. With ``zone_country`` (zone id -> country), the columns
    ``origin_country`` and ``destination_country`` follow."""
    length = g.length
    charges = arc_charges(net, g)
    extra = arc_extra_hours(net, g)
    zones = list(g.zone_ids)
    zn = g.zone_nodes
    # the choice model's queues at hard capacities (hours): the path is chosen on costs that
    # hold them, so its time holds them too (as explore's shipper figures)
    queue = queue_hours(ue)
    rows = []
    for k, c in enumerate(ue.classes):
        com = commodity_of(c.name)
        t_arc = ue.time + queue + (extra[com] if com in extra else 0.0)
        out = path_sums(g, ue.class_costs[k], [t_arc, length, charges[com], queue],
                        origins=zn, destinations=zn)
        pairs = demand_pairs[demand_pairs["segment"] == c.name]
        zi = {z: i for i, z in enumerate(zones)}
        for o, d in zip(pairs["origin_zone_id"], pairs["destination_zone_id"], strict=True):
            t, dist, ch, q = out[zi[o], zi[d]]
            cost = ch + vot[c.name] * t
            rows.append((commodity_of(c.name), o, d, t, q, dist, ch, cost,
                         cost if expected is None else expected.get((c.name, o, d), np.nan)))
    out = pd.DataFrame(rows, columns=["commodity", "origin", "destination", "time_h", "queue_h",
                                      "distance_km", "charge_usd_per_t", "cost_usd_per_t",
                                      "expected_cost_usd_per_t"])
    if zone_country is not None:
        out["origin_country"] = out["origin"].map(zone_country)
        out["destination_country"] = out["destination"].map(zone_country)
    return out


def queue_hours(ue) -> np.ndarray:
    """Hours of queueing on each arc at the choice model's hard capacities (their multipliers,
    ``surcharge``; zeros for the user equilibrium, whose delays are in its times)."""
    q = getattr(ue, "surcharge", None)
    return np.zeros_like(ue.time) if q is None else np.asarray(q, dtype=float)


def best_via(g: CompiledGraph, cost: np.ndarray, o_node: int, d_node: int,
             via_arcs: np.ndarray, also_arcs: np.ndarray | None = None
             ) -> tuple[float, list[int]]:
    """Least-cost path from o to d that uses one of ``via_arcs`` (and, given ``also_arcs``, one
    of those too, before or after; a link in both sets counts for both): its cost and arcs.

    A path that crosses a via link and comes straight back over it (a detour through the link
    made to look like a route along it) is not taken: where the least-cost combination of
    shortest legs uses a link twice, the legs are searched again without the links it crosses
    on purpose, link by link."""
    sets = [np.asarray(via_arcs, dtype=np.int64)]
    if also_arcs is not None:
        sets.append(np.asarray(also_arcs, dtype=np.int64))
    if any(not len(s) for s in sets):
        return np.inf, []
    best, path = _chain_best(g, cost, o_node, d_node, sets, ())
    if not path or _simple(g, path):
        return best, path
    best, path = np.inf, []
    links = [list(np.unique(g.arc_link[s])) for s in sets]
    combos = ([(a,) for a in links[0]] if len(sets) == 1 else
              [(a, b) for a in links[0] for b in links[1]])
    for combo in combos:
        chosen = [sets[k][g.arc_link[sets[k]] == lk] for k, lk in enumerate(combo)]
        if len(combo) == 2 and combo[0] == combo[1]:
            chosen = chosen[:1]  # one link of both sets: crossing it once meets both
        c, p = _chain_best(g, cost, o_node, d_node, chosen, set(combo))
        if p and c < best:
            best, path = c, p
    return best, path


def _simple(g: CompiledGraph, path: list[int]) -> bool:
    links = g.arc_link[np.asarray(path, dtype=np.int64)]
    return len(np.unique(links)) == len(links)


def _chain_best(g: CompiledGraph, cost: np.ndarray, o_node: int, d_node: int,
                sets: list[np.ndarray], barred) -> tuple[float, list[int]]:
    """Least-cost path through one arc of each of ``sets`` (in either order for two), on legs
    of shortest paths that use no arc of the links ``barred``."""
    legs = cost
    if barred:
        legs = np.array(cost, dtype=float, copy=True)
        legs[np.isin(g.arc_link, list(barred))] = np.inf
    dist_o, pred_o = shortest_path_trees(g, legs, [o_node], threads=1)
    heads = np.unique(g.head[np.concatenate(sets)])
    dist_h, pred_h = shortest_path_trees(g, legs, heads, threads=1)
    hpos = {int(h): i for i, h in enumerate(heads)}

    def walk(pred, src, dst):
        arcs, v = [], dst
        while v != src:
            e = int(pred[v])
            arcs.append(e)
            v = int(g.tail[e])
        return arcs[::-1]

    best, best_chain = np.inf, None
    for order in ([sets] if len(sets) == 1 else [sets, sets[::-1]]):
        # the cost of reaching and crossing each arc of the first set, then of each next
        reach = {int(a): (dist_o[0, g.tail[a]] + cost[a], (int(a),)) for a in order[0]}
        for nxt in order[1:]:
            reach = {int(b): min(((c + dist_h[hpos[int(g.head[a])], g.tail[b]] + cost[b],
                                   ch + (int(b),)) for a, (c, ch) in reach.items()),
                                 key=lambda x: x[0]) for b in nxt}
        for b, (c, chain) in reach.items():
            total = c + dist_h[hpos[int(g.head[b])], d_node]
            if total < best:
                best, best_chain = total, chain
    if not np.isfinite(best):
        return np.inf, []
    path = walk(pred_o[0], o_node, int(g.tail[best_chain[0]]))
    for a, b in zip(best_chain, best_chain[1:] + (None,), strict=True):
        path.append(a)
        end = d_node if b is None else int(g.tail[b])
        path += walk(pred_h[hpos[int(g.head[a])]], int(g.head[a]), end)
    return float(best), path


def calibration(observed: pd.DataFrame, runs: Mapping[int, RunFlows], *,
                link_table: pd.DataFrame, zone_country: Mapping[str, str],
                commodities: Iterable[str]) -> pd.DataFrame:
    """Modelled tonnes beside every reported volume, each counted in the scope of its figure:
    the first table of :func:`calibration_with_cells` (see there).

    Raises
    ------
    InputError
        Every row that cannot be parsed or names unknown ids (:func:`parse_observations`).
    """
    return calibration_with_cells(observed, runs, link_table=link_table,
                                  zone_country=zone_country, commodities=commodities)[0]


#: columns of the second table of :func:`calibration_with_cells`
CELL_COLUMNS = ["observed_id", "year", "run", "origin_zone_id", "destination_zone_id",
                "origin_country", "destination_country", "commodity_id", "modelled_tonnes",
                "share_of_modelled", "share_of_observed"]


def calibration_with_cells(observed: pd.DataFrame, runs: Mapping[int, RunFlows], *,
                           link_table: pd.DataFrame, zone_country: Mapping[str, str],
                           commodities: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Modelled tonnes beside every reported volume, each counted in the scope of its figure,
    and what each compared row's modelled tonnes are made of.

    A row of year Y is compared with ``runs[Y]`` (the base-year run, or a back-cast); rows of a
    year without a run are listed with ``compared`` false. The modelled value counts the routes
    that meet the row's terms once each, in its direction, commodity and origin-destination subset
    (:mod:`karvan.freight.observed`).

    Parameters
    ----------
    observed
        ``observed.csv`` as loaded.
    runs
        The runs to compare with, by year.
    link_table
        The dataset's link table (every status), indexed by ``link_id``.
    zone_country
        Zone id -> country.
    commodities
        The commodity ids of the dataset.

    Returns
    -------
    (DataFrame, DataFrame)
        One row per observation: ``observed_id, kind, element_ids, direction, scope,
        commodity_id, od_countries, mode, year, run, compared, independent, role, source,
        confidence, observed_tonnes, modelled_tonnes, difference_tonnes, ratio, used_for,
        total_of, note``; and one row per compared observation and demand cell (OD pair and
        commodity) that adds to it (:data:`CELL_COLUMNS`): the cell's tonnes that the row
        counts, their share of the row's modelled and of its reported tonnes, largest first
        within a row.

    Raises
    ------
    InputError
        Every row that cannot be parsed or names unknown ids (:func:`parse_observations`).
    """
    countries = set(zone_country.values())
    obs = parse_observations(observed, link_table, countries=countries,
                             commodities=set(commodities))
    modelled = np.full(len(obs), np.nan)
    run_name = np.full(len(obs), "", dtype=object)
    years = np.array([o.year for o in obs])
    tonnes = np.array([o.tonnes for o in obs])
    parts = []
    for year, flows in runs.items():
        sel = np.flatnonzero(years == year)
        if not len(sel):
            continue
        a = observation_matrix([obs[i] for i in sel], flows, zone_country)
        modelled[sel] = modelled_tonnes(a, flows)
        run_name[sel] = flows.name
        cells = flows.cells.reset_index(drop=True)
        contrib = a * cells["tonnes_per_year"].to_numpy(dtype=float)[None, :]
        ri, ci = np.nonzero(contrib > 0)
        if len(ri):
            rows = sel[ri]
            t = contrib[ri, ci]
            with np.errstate(divide="ignore", invalid="ignore"):
                parts.append(pd.DataFrame({
                    "observed_id": [obs[i].observed_id for i in rows],
                    "year": year,
                    "run": flows.name,
                    "origin_zone_id": cells["origin_zone_id"].to_numpy()[ci],
                    "destination_zone_id": cells["destination_zone_id"].to_numpy()[ci],
                    "origin_country": cells["origin_zone_id"].map(zone_country).to_numpy()[ci],
                    "destination_country": cells["destination_zone_id"].map(
                        zone_country).to_numpy()[ci],
                    "commodity_id": cells["commodity_id"].astype(str).to_numpy()[ci],
                    "modelled_tonnes": t,
                    "share_of_modelled": t / modelled[rows],
                    "share_of_observed": np.where(tonnes[rows] > 0, t / tonnes[rows], np.nan),
                }))
    compared = np.isfinite(modelled)
    order = {o.observed_id: i for i, o in enumerate(obs)}
    cell_table = (pd.concat(parts, ignore_index=True) if parts
                  else pd.DataFrame({c: pd.Series(dtype=float if c in (
                      "modelled_tonnes", "share_of_modelled", "share_of_observed")
                      else "int64" if c == "year" else object) for c in CELL_COLUMNS}))
    if len(cell_table):
        cell_table = (cell_table.assign(_o=cell_table["observed_id"].map(order))
                      .sort_values(["_o", "modelled_tonnes"], ascending=[True, False],
                                   kind="stable")
                      .drop(columns="_o").reset_index(drop=True))

    def col(name: str) -> list:
        if name not in observed:
            return [""] * len(observed)
        return [("" if (isinstance(v, float) and np.isnan(v)) else v) for v in observed[name]]

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(compared, modelled / tonnes, np.nan)
    return pd.DataFrame({
        "observed_id": [o.observed_id for o in obs],
        "kind": col("kind"),
        "element_ids": col("element_ids"),
        "direction": col("direction"),
        "scope": col("scope"),
        "commodity_id": col("commodity_id"),
        "od_countries": col("od_countries"),
        "mode": col("mode"),
        "year": years,
        "run": run_name,
        "compared": compared,
        "independent": [o.independent for o in obs],
        "role": [o.role for o in obs],
        "source": col("source"),
        "confidence": col("confidence"),
        "observed_tonnes": tonnes,
        "modelled_tonnes": modelled,
        "difference_tonnes": modelled - tonnes,
        "ratio": ratio,
        "used_for": col("used_for"),
        "total_of": col("total_of"),
        "note": col("note"),
    }), cell_table


def caspian_share(routes: pd.DataFrame, origin_country: str, destination_country: str,
                  zone_country: dict[str, str], country_of_link: dict) -> float:
    """Share of the tonnes from one country to another whose route crosses the Caspian (a link
    in pseudo-country ``XC``)."""
    r = routes[(routes["origin"].map(zone_country) == origin_country)
               & (routes["destination"].map(zone_country) == destination_country)]
    if not len(r) or r["tonnes"].sum() == 0:
        return float("nan")
    uses = r["links"].map(lambda s: any(country_of_link.get(x) == "XC" for x in s.split(" > ")))
    return float(r.loc[uses, "tonnes"].sum() / r["tonnes"].sum())
