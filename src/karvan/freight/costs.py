"""Freight generalized cost and the engine network built from corridor links.

Per tonne on a link:

    time_h   = length_km / speed_kph + dwell_h + wait_h
               speed_kph: the link's, or for a commodity on a line link the speed of
                        ``speed_commodity.csv`` (mode, country, commodity) where that is higher
               dwell_h: time spent on the element itself (border, transfer, port handling);
               wait_h:  on scheduled ferries and sea links, half the headway,
                        0.5 * 168 / frequency_per_week
    charge   = tariff_usd_per_tkm * length_km + tariff_usd_per_t + fee_usd_per_t
    cost     = charge + value_of_time_usd_per_t_h(commodity) * time_h

Tariffs missing on a link come from ``tariff_commodity.csv`` by (mode, country, commodity), then
(mode, ``*``, commodity), then from ``tariff.csv`` by (mode, country), then (mode, ``*``). The
charge is therefore per commodity: column ``charge_usd_per_t__<commodity>`` of the engine network.
So is the time of a commodity with a speed of its own: its difference from the link's time is column
``extra_time_h__<commodity>`` (hours; negative where the commodity runs faster), which its traffic
class values at its value of time.
Capacity-limited elements (a ``capacity_tpy``, or a ``capacity_value`` in a ``capacity_unit``
that :func:`karvan.freight.units.capacity_to_tpy` converts) get their delay function (BPR by
default), on annual tonnes; the rest have constant times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from karvan.assign.classes import TrafficClass
from karvan.errors import InputError, format_ids
from karvan.freight.corridor import CorridorData
from karvan.freight.units import capacity_to_tpy, mean_payloads
from karvan.network.graph import as_bool
from karvan.network.model import Network

#: per-commodity link columns of time a commodity takes beyond the link's own, in hours (its own
#: speed, negative where faster; the choice model's gauge-break terms)
EXTRA_TIME_PREFIX = "extra_time_h__"

#: the column of a link's factor on the tariff it takes from tariff.csv or tariff_commodity.csv
#: (a scenario's scale of a link without a tariff of its own); blank: 1
TARIFF_FACTOR = {"tariff_usd_per_tkm": "tariff_usd_per_tkm_factor",
                 "tariff_usd_per_t": "tariff_usd_per_t_factor"}


def link_costs(data: CorridorData, links: pd.DataFrame, commodity: str | None = None
               ) -> pd.DataFrame:
    """Per-link time_h (with dwell_h and wait_h), the tariffs applied and charge_usd_per_t, for
    one commodity (or for none: the defaults of ``tariff.csv`` only)."""
    out = pd.DataFrame(index=links.index)
    length = links["length_km"].fillna(0.0)
    speed = links["speed_kph"] if "speed_kph" in links else pd.Series(np.nan, index=links.index)
    if commodity is not None:
        speed = commodity_speed(data, links, commodity, speed)
    run = np.where(speed > 0, length / speed.where(speed > 0, 1.0), 0.0)
    out["dwell_h"] = links["dwell_h"].fillna(0.0) if "dwell_h" in links else 0.0
    out["wait_h"] = sailing_wait_h(links)
    out["time_h"] = run + out["dwell_h"] + out["wait_h"]
    for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
        own = links[col] if col in links else pd.Series(np.nan, index=links.index)
        # a scenario's scale of a link that takes the tables' tariff (TARIFF_FACTOR)
        fac = (pd.to_numeric(links[TARIFF_FACTOR[col]], errors="coerce").fillna(1.0)
               if TARIFF_FACTOR[col] in links else 1.0)
        val = own.copy()
        if commodity is not None:
            val = val.fillna(_default_tariff(data.tariffs_by_commodity, links, col, commodity)
                             * fac)
        out[col] = val.fillna(_default_tariff(data.tariffs, links, col) * fac).fillna(0.0)
    out["fee_usd_per_t"] = links["fee_usd_per_t"].fillna(0.0) if "fee_usd_per_t" in links else 0.0
    out["charge_usd_per_t"] = (out["tariff_usd_per_tkm"] * length + out["tariff_usd_per_t"]
                               + out["fee_usd_per_t"])
    return out


def speed_commodities(data: CorridorData) -> list[str]:
    """The commodities with a speed of their own in ``speed_commodity.csv`` (in the order of
    ``commodity.csv``)."""
    tab = data.speeds_by_commodity
    if tab is None or not len(tab):
        return []
    own = set(tab["commodity_id"].astype(str))
    return [c for c in data.commodity_ids if c in own]


def commodity_speed(data: CorridorData, links: pd.DataFrame, commodity: str,
                    speed: pd.Series) -> pd.Series:
    """``speed`` (the links' own, km/h) with ``commodity``'s speed of ``speed_commodity.csv``
    on the links of its mode and country (rail and road links are the lines: borders, gauge
    breaks, terminals and ports are links of other modes) where that is higher; on a link a
    scenario slows, the commodity's speed is slowed by the same factor (:func:`slowdown`); a
    link without a speed of its own keeps none.

    >>> import types
    >>> tab = pd.DataFrame({"mode": ["rail"], "country": ["RU"], "commodity_id": ["containers"],
    ...                     "speed_kph": [35.0]})
    >>> data = types.SimpleNamespace(speeds_by_commodity=tab)
    >>> links = pd.DataFrame({"mode": ["rail", "rail", "rail", "road", "rail"],
    ...                       "country": ["RU", "RU", "KZ", "RU", "RU"]}, index=list("abcde"))
    >>> commodity_speed(data, links, "containers", pd.Series([17.0, 50.0, 17.0, 25.0, np.nan],
    ...                                                      index=links.index)).tolist()
    [35.0, 50.0, 17.0, 25.0, nan]
    """
    tab = data.speeds_by_commodity
    if tab is None or not len(tab):
        return speed
    rows = tab[tab["commodity_id"].astype(str) == commodity]
    if not len(rows):
        return speed
    own = {(m, c): float(v) for m, c, v in zip(rows["mode"], rows["country"],
                                               pd.to_numeric(rows["speed_kph"]), strict=True)}
    country = links["country"] if "country" in links else pd.Series("", index=links.index)
    com = pd.Series([own.get((m, c), np.nan) for m, c in zip(links["mode"], country, strict=True)],
                    index=links.index, dtype=float)
    speed = speed.astype(float)
    com = com * slowdown(data, links, speed)
    # a link without a speed has no running time, for any commodity
    faster = com.notna() & (speed > 0) & (speed < com)
    return speed.where(~faster, com)


def slowdown(data, links: pd.DataFrame, speed: pd.Series) -> pd.Series:
    """Per link, the scenario's ``speed`` over the dataset's ``speed_kph`` where lower (a line a
    scenario slows), else 1: a commodity's own speed there is slowed by the same factor, while
    a line made faster is faster for every commodity (:func:`commodity_speed`).

    >>> import types
    >>> base = pd.DataFrame({"speed_kph": [20.0, 20.0, np.nan]}, index=list("abc"))
    >>> data = types.SimpleNamespace(links=base)
    >>> slowdown(data, base, pd.Series([10.0, 40.0, 5.0], index=list("abc"))).tolist()
    [0.5, 1.0, 1.0]
    """
    base_links = getattr(data, "links", None)
    if base_links is None or "speed_kph" not in base_links:
        return pd.Series(1.0, index=links.index)
    base = pd.to_numeric(base_links["speed_kph"], errors="coerce").reindex(links.index)
    ratio = speed / base.where(base > 0)
    return ratio.where((ratio > 0) & (ratio < 1), 1.0).fillna(1.0)


def sailing_wait_h(links: pd.DataFrame) -> pd.Series:
    """Expected wait for a sailing: half the headway of a scheduled ferry or sea link with
    ``frequency_per_week`` departures (cargo arriving at random), 0 elsewhere."""
    if "frequency_per_week" not in links:
        return pd.Series(0.0, index=links.index)
    f = pd.to_numeric(links["frequency_per_week"], errors="coerce")
    ferry = links["mode"].isin(["ferry", "sea"]) & (f > 0)
    return pd.Series(np.where(ferry, 0.5 * 168.0 / f.where(f > 0, 1.0), 0.0), index=links.index)


def capacities_tpy(data: CorridorData, links: pd.DataFrame) -> pd.Series:
    """capacity_tpy where given, else converted from capacity_value and capacity_unit.

    Raises
    ------
    InputError
        When a capacity_value cannot be converted from its capacity_unit.
    """
    cap = pd.to_numeric(links.get("capacity_tpy", pd.Series(np.nan, index=links.index)),
                        errors="coerce")
    if "capacity_value" in links and "capacity_unit" in links:
        payloads = mean_payloads(data.commodities, data.demand)
        miss = cap.isna() & links["capacity_value"].notna() & links["capacity_unit"].notna()
        problems = []
        for i in links.index[miss]:
            try:
                cap[i] = capacity_to_tpy(links.at[i, "capacity_value"],
                                         links.at[i, "capacity_unit"], payloads)
            except InputError as e:
                problems.append(f"link {i}: {e}")
        if problems:
            raise InputError(problems, "link.csv")
    return cap


def _default_tariff(tariffs: pd.DataFrame | None, links: pd.DataFrame, col: str,
                    commodity: str | None = None) -> pd.Series:
    if tariffs is None or not len(tariffs) or col not in tariffs:
        return pd.Series(np.nan, index=links.index)
    value = pd.to_numeric(tariffs[col]).tolist()
    com = tariffs["commodity_id"].tolist() if commodity is not None else [None] * len(value)
    rows = [(m, c, v) for m, c, v, k in zip(tariffs["mode"].tolist(), tariffs["country"].tolist(),
                                            value, com, strict=True)
            if v == v and k == commodity]  # v == v: not NaN
    exact = {(m, c): v for m, c, v in rows if c != "*"}
    anyc = {m: v for m, c, v in rows if c == "*"}
    country = links["country"].tolist() if "country" in links else [""] * len(links)
    vals = [exact.get((m, c), anyc.get(m, np.nan))
            for m, c in zip(links["mode"].tolist(), country, strict=True)]
    return pd.Series(vals, index=links.index, dtype=float)


def build_network(data: CorridorData, links: pd.DataFrame, *, name: str = "corridor") -> Network:
    """The engine network of the open links of ``links`` (a scenario's link table).

    Engine columns: free_flow_time (hours), capacity (tonnes per year), vdf, alpha, beta,
    length (km), charge_usd_per_t (default tariffs) and charge_usd_per_t__<commodity>; the
    freight columns are carried along.
    """
    open_links = links[links["status"] == "open"].copy()
    costs = link_costs(data, open_links)
    eng = open_links.copy()
    for c in costs:
        eng[c] = costs[c]
    own_speed = set(speed_commodities(data))
    for com in data.commodity_ids:
        com_costs = link_costs(data, open_links, com)
        eng[f"charge_usd_per_t__{com}"] = com_costs["charge_usd_per_t"]
        if com in own_speed:
            eng[f"{EXTRA_TIME_PREFIX}{com}"] = com_costs["time_h"] - costs["time_h"]
    eng["free_flow_time"] = costs["time_h"]
    eng["length"] = open_links["length_km"].fillna(0.0)
    cap = capacities_tpy(data, open_links)
    eng["capacity"] = cap
    vdf = open_links["vdf"].fillna("bpr").astype(str).str.lower() if "vdf" in open_links \
        else pd.Series("bpr", index=open_links.index)
    has_cap = pd.Series(cap, index=open_links.index).fillna(0) > 0
    eng["vdf"] = np.where(has_cap & (vdf != "none"), vdf, "constant")
    eng["alpha"] = open_links["vdf_alpha"].fillna(0.15) if "vdf_alpha" in open_links else 0.15
    eng["beta"] = open_links["vdf_beta"].fillna(4.0) if "vdf_beta" in open_links else 4.0
    nodes = data.nodes.copy()
    zone_of = dict(zip(data.zones["node_id"], data.zones["zone_id"], strict=True))
    nodes["zone_id"] = [zone_of.get(n) for n in nodes.index]
    nodes["passable"] = True
    return Network(nodes, eng, dict(data.config), name)


def commodity_classes(data: CorridorData, names: list[str] | None = None) -> list[TrafficClass]:
    """One traffic class per commodity: value of time per tonne-hour, 1 capacity unit per tonne,
    money cost from the link charge.

    Raises
    ------
    InputError
        When ``names`` holds commodities the dataset does not have.
    """
    com = data.commodities.set_index("commodity_id")
    names = list(com.index) if names is None else names
    unknown = [n for n in names if n not in com.index]
    if unknown:
        raise InputError(f"unknown commodities {format_ids(unknown)}.")
    own_speed = set(speed_commodities(data))
    out = []
    for c in names:
        vot = float(com.at[c, "vot_usd_per_t_h"])
        fields = {f"charge_usd_per_t__{c}": 1.0}
        if c in own_speed:  # its own time on a link, valued at its value of time
            fields[f"{EXTRA_TIME_PREFIX}{c}"] = vot
        out.append(TrafficClass(name=c, demand=c, value_of_time=vot, pce=1.0,
                                cost_fields=fields))
    return out


def hard_capacity(links: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whether each link's capacity bounds both directions together (link.csv's
    ``capacity_both_directions``), and the hard capacity in that sense (tonnes per year):
    ``capacity`` (per direction, as the deterministic model reads it), or, where both
    directions share it, their annual throughput together (twice ``capacity`` for a unit that
    names both directions, which link.csv halves into a per-direction figure)."""
    cap = pd.to_numeric(links["capacity"], errors="coerce").to_numpy(dtype=float)
    if "capacity_both_directions" not in links:
        return np.zeros(len(links), dtype=bool), cap
    both = as_bool(links["capacity_both_directions"])
    return both, cap * np.where(halved_capacity(links), 2.0, 1.0)


def halved_capacity(links: pd.DataFrame) -> np.ndarray:
    """Whether each link's capacity column is half a published throughput of both directions
    together, which bounds them together (``capacity_both_directions`` true and a
    ``capacity_unit`` that names both directions, a truck count at a road crossing):
    :func:`hard_capacity` doubles it back."""
    if "capacity_both_directions" not in links or "capacity_unit" not in links:
        return np.zeros(len(links), dtype=bool)
    unit = links["capacity_unit"].astype(str).str.lower()
    return as_bool(links["capacity_both_directions"]) & unit.str.endswith(
        "both_directions").to_numpy()
