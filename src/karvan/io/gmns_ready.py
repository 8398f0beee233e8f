"""What a GMNS network needs before it can be assigned, and the documented defaults that fill it.

GMNS makes ``capacity``, ``free_speed`` and ``lanes`` optional; assignment needs a free-flow time
on every link and a capacity wherever the delay function uses one. :func:`assignment_needs`
says what is missing; :func:`prepare_assignment` fills what it can from defaults by facility
type and refuses what it cannot.

Defaults by facility type
-------------------------
Free speed (km/h), capacity per lane (vehicles per hour) and lanes are those osm2gmns 1.0 fills
in for OpenStreetMap highway classes (``fillLinkAttributesWithDefaultValues``; the tables
``getPresetDefaultSpeedDict``, ``getPresetDefaultCapacityDict`` and
``getPresetDefaultLanesDict`` of ``src/osmconfig.cpp`` in github.com/jiawlu/OSM2GMNS). A
facility type is matched in lower case, first as an OSM class (``primary_link`` counts as
``primary``, as osm2gmns maps it), then through :data:`FACILITY_ALIASES` (the names of US
practice and of the GMNS examples: freeway, ramp, arterial, collector, local, sidewalk ...);
anything else is ``other``. A link's capacity is the default per lane times its ``lanes`` (the
class's lanes where blank). AequilibraE, for comparison, gives links of an unknown type 900
vehicles per lane and hour and two lanes (``network.links.link_types.default`` in its
``parameters.yml``). Override any of it with ``defaults=`` (a mapping of facility class to
:class:`FacilityDefault`), or state the values in ``link.csv``.

Also left out of an assignment, each with a note: links whose ``status`` is closed, planned or
under construction (karvan's export writes every link of a scenario with its status), and links
of capacity 0 (GMNS's way of saying a link carries no vehicles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.network.model import Network


@dataclass(frozen=True, slots=True)
class FacilityDefault:
    """Defaults of one facility class."""

    free_speed_kph: float
    capacity_per_lane: float
    lanes: float


#: osm2gmns 1.0 presets (src/osmconfig.cpp): free speed km/h, capacity per lane veh/h, lanes
FACILITY_DEFAULTS: dict[str, FacilityDefault] = {
    "motorway": FacilityDefault(120, 2300, 4),
    "trunk": FacilityDefault(100, 2200, 3),
    "primary": FacilityDefault(80, 1800, 3),
    "secondary": FacilityDefault(60, 1600, 2),
    "tertiary": FacilityDefault(40, 1200, 2),
    "residential": FacilityDefault(30, 1000, 1),
    "living_street": FacilityDefault(30, 1000, 1),
    "service": FacilityDefault(30, 800, 1),
    "cycleway": FacilityDefault(5, 800, 1),
    "footway": FacilityDefault(5, 800, 1),
    "track": FacilityDefault(30, 800, 1),
    "unclassified": FacilityDefault(30, 800, 1),
    "other": FacilityDefault(30, 800, 1),
}

#: other names of facility types, mapped to the classes above
FACILITY_ALIASES: dict[str, str] = {
    # osm2gmns's own mapping of OSM highway values
    "motorway_link": "motorway", "trunk_link": "trunk", "primary_link": "primary",
    "secondary_link": "secondary", "tertiary_link": "tertiary",
    "residential_link": "residential", "services": "service", "pedestrian": "footway",
    "steps": "footway",
    # US practice and the GMNS examples
    "freeway": "motorway", "expressway": "motorway", "interstate": "motorway",
    "ramp": "motorway", "on-ramp": "motorway", "off-ramp": "motorway",
    "highway": "trunk", "principal arterial": "primary", "major arterial": "primary",
    "arterial": "primary", "minor arterial": "secondary", "collector": "tertiary",
    "major collector": "tertiary", "minor collector": "tertiary", "local": "residential",
    "local street": "residential", "sidewalk": "footway", "crosswalk": "footway",
    "walkway": "footway", "path": "footway", "bikeway": "cycleway", "cycletrack": "cycleway",
    "bike lane": "cycleway",
}
NOT_OPEN = ("closed", "planned", "under_construction")


@dataclass(frozen=True, slots=True, eq=False)
class Readiness:
    """What assigning a network needs.

    Attributes
    ----------
    needs
        What is missing and no default fills (empty: ready).
    defaults
        The defaults that would be used, one line per kind, with counts.
    notes
        Links left out, units assumed.
    network
        The network as it would be assigned (None where something is needed).
    """

    needs: list[str]
    defaults: list[str]
    notes: list[str]
    network: Network | None

    @property
    def ready(self) -> bool:
        """Whether assignment needs nothing more."""
        return not self.needs


def facility_class(facility_type: object, defaults: Mapping[str, FacilityDefault]
                   = FACILITY_DEFAULTS) -> str:
    """The default class of a facility type: itself if ``defaults`` has it, an alias, or
    ``other``."""
    if not isinstance(facility_type, str) or not facility_type.strip():
        return "other"
    f = " ".join(facility_type.strip().lower().replace("_", " ").split())
    for key in (facility_type.strip().lower(), f.replace(" ", "_"), f):
        if key in defaults:
            return key
        if key in FACILITY_ALIASES and FACILITY_ALIASES[key] in defaults:
            return FACILITY_ALIASES[key]
    return "other"


def prepare_assignment(network: Network, *, defaults: Mapping[str, FacilityDefault] | None
                       = FACILITY_DEFAULTS, zones_from_demand: bool = False) -> Readiness:
    """The network as it would be assigned: links out of use left out, blank free speeds and
    capacities filled by facility type, free-flow times derived; and what is still needed.

    Only networks read from GMNS (``config["derived_columns"]`` or a ``facility_type`` column)
    get defaults; other networks are returned as they are, with their needs.

    Parameters
    ----------
    network
        A network, typically from :func:`karvan.io.read_gmns`.
    defaults
        Facility class -> :class:`FacilityDefault`; None fills nothing (every blank is a need).
    zones_from_demand
        A network without zones is not short of anything: its demand will name nodes
        (:func:`karvan.io.problem.zones_at_demand_nodes`).

    Returns
    -------
    Readiness
    """
    from karvan.io.gmns import free_flow_time_h

    links = network.links.copy()
    cfg = network.config
    needs: list[str] = []
    used: list[str] = []
    notes: list[str] = []
    if "status" in links:
        out = links["status"].isin(NOT_OPEN)
        if out.any():
            notes.append(f"{int(out.sum())} links are closed, planned or under construction "
                         f"(status; link_id {format_ids(links.index[out])}): left out.")
            links = links[~out]
    if "capacity" in links:
        cap = pd.to_numeric(links["capacity"], errors="coerce")
        zero = cap == 0
        if zero.any():
            lanes0 = (zero & (pd.to_numeric(links["lanes"], errors="coerce") == 0)
                      if cfg.get("capacity_per_lane") and "lanes" in links else zero & False)
            why = (f" ({int(lanes0.sum())} of them read per lane, with lanes 0: capacity x "
                   "lanes is 0; give their lanes, or read capacity per link)"
                   if lanes0.any() else "")
            notes.append(f"{int(zero.sum())} links have capacity 0 (link_id "
                         f"{format_ids(links.index[zero])}){why}: they carry no traffic and are "
                         "left out.")
            links = links[~zero]
    if "free_flow_time" in cfg.get("derived_columns", []):
        for k in cfg.get("units_assumed", []):
            notes.append(f"no {k} in config.csv: {cfg.get(k)} assumed to derive travel times "
                         "(GMNS leaves units to config.csv).")
    gmns = "free_flow_time" in cfg.get("derived_columns", []) or "facility_type" in links
    derived = "free_flow_time" in cfg.get("derived_columns", [])
    table = defaults if defaults is not None else {}
    cls = pd.Series([facility_class(f, table) if table else "other"
                     for f in links.get("facility_type", pd.Series(None, index=links.index))],
                    index=links.index, dtype=object)
    vdf = (links["vdf"].fillna("bpr").astype(str).str.strip().str.lower()
           .replace({"none": "constant", "": "bpr"})) if "vdf" in links else \
        pd.Series("bpr", index=links.index)
    connector = vdf == "constant"
    if derived:
        length = pd.to_numeric(links.get("length"), errors="coerce") if "length" in links \
            else pd.Series(np.nan, index=links.index)
        speed = pd.to_numeric(links.get("free_speed"), errors="coerce") \
            if "free_speed" in links else pd.Series(np.nan, index=links.index)
        no_len = length.isna() & ~connector
        if no_len.any():
            needs.append(f"{int(no_len.sum())} links have no length (link_id "
                         f"{format_ids(links.index[no_len])}), so no travel time: give a length "
                         "(and a free_speed), or a free_flow_time column in hours.")
        fill = speed.isna() & length.gt(0) & ~connector
        if fill.any():
            if defaults is None:
                needs.append(f"{int(fill.sum())} links have a length but no free_speed (link_id "
                             f"{format_ids(links.index[fill])}): give a free_speed, or let "
                             "karvan use its defaults by facility type.")
            else:
                kph = cls[fill].map(lambda c: table[c].free_speed_kph)
                from karvan.io.gmns import _SPEED_IN_M_PER_H

                factor = 1000.0 / _SPEED_IN_M_PER_H[cfg.get("speed", "kilometer/hour")]
                speed = speed.copy()
                speed[fill] = kph * factor
                links["free_speed"] = speed
                used.append(f"free_speed of {int(fill.sum())} links by facility type "
                            f"({_counts(cls[fill])}) in km/h, converted to "
                            f"{cfg.get('speed', 'kilometer/hour')}." + _near("free_speed", links))
        zero = speed.eq(0) & length.gt(0)
        if zero.any():
            needs.append(f"{int(zero.sum())} links have free_speed 0 and a positive length "
                         f"(link_id {format_ids(links.index[zero])}): they cannot be traversed; "
                         "give them a free_speed > 0, or close them.")
        fft = free_flow_time_h(links, {"long_length": cfg.get("long_length", "kilometer"),
                                       "speed": cfg.get("speed", "kilometer/hour")})
        links["free_flow_time"] = fft.where(~connector, links.get("free_flow_time", 0.0))
    elif "free_flow_time" in links:
        blank = pd.to_numeric(links["free_flow_time"], errors="coerce").isna()
        if blank.any():
            needs.append(f"{int(blank.sum())} links have no free_flow_time (link_id "
                         f"{format_ids(links.index[blank])}).")
        odd = _time_unit(links, cfg)
        if odd:
            notes.append(odd)
    else:
        needs.append("the links have no free_flow_time, and no length and free_speed to derive "
                     "it from.")
    alpha = pd.to_numeric(links["alpha"], errors="coerce").fillna(0.15) if "alpha" in links \
        else pd.Series(0.15, index=links.index)
    bpr = vdf.eq("bpr")
    for field, value in (("alpha", 0.15), ("beta", 4)):
        given = (pd.to_numeric(links[field], errors="coerce").notna() if field in links
                 else pd.Series(False, index=links.index))
        hint = _near(field, links)
        if (bpr & ~given).any() and hint:
            # said where a column looks like the parameter under another name (vdf_alpha,
            # bpr_alpha): the default stands in for what the user may have meant to give
            used.append(f"{field} {value} (BPR) on {int((bpr & ~given).sum())} links without "
                        f"their own{'' if field in links else ' (link.csv has no ' + field + ')'}"
                        "." + hint)
    t0 = pd.to_numeric(links["free_flow_time"], errors="coerce") if "free_flow_time" in links \
        else pd.Series(np.nan, index=links.index)
    uses_cap = vdf.isin(["bpr", "conical"]) & (alpha > 0) & ~(t0 == 0)
    cap = pd.to_numeric(links.get("capacity"), errors="coerce") if "capacity" in links \
        else pd.Series(np.nan, index=links.index)
    fill = cap.isna() & uses_cap
    if fill.any():
        if defaults is None or not gmns:
            needs.append(f"{int(fill.sum())} links have no capacity (link_id "
                         f"{format_ids(links.index[fill])}): give one, or let karvan use its "
                         "defaults by facility type.")
        else:
            lanes = pd.to_numeric(links.get("lanes"), errors="coerce") if "lanes" in links \
                else pd.Series(np.nan, index=links.index)
            lanes = lanes[fill].where(lanes[fill] > 0)
            lanes = lanes.fillna(cls[fill].map(lambda c: table[c].lanes))
            per_lane = cls[fill].map(lambda c: table[c].capacity_per_lane)
            cap = cap.copy()
            cap[fill] = per_lane * lanes
            links["capacity"] = cap
            given = format_ids([f"{v:g}" for v in cap[fill]])
            used.append(f"capacity of {int(fill.sum())} links: capacity per lane by facility "
                        f"type times lanes ({_counts(cls[fill])}; link_id "
                        f"{format_ids(links.index[fill])}: {given})."
                        + _near("capacity", links))
    odd = _length_scale(network.nodes, links, cfg)
    if odd:
        notes.append(odd)
    if not len(network.zones):
        if not zones_from_demand:
            needs.append("no zones: give zone_id to the nodes where demand starts and ends (or "
                         "name nodes in demand.csv: a network without zones loads demand at "
                         "the nodes it names).")
    net = Network(network.nodes, links, dict(cfg), network.name)
    return Readiness(needs, used, notes, None if needs else net)


def _length_scale(nodes: pd.DataFrame, links: pd.DataFrame, cfg: dict) -> str | None:
    """A note where link lengths are far from the straight-line distance between their nodes
    (a length in feet under a config.csv that says miles), for longitude/latitude networks."""
    from karvan.io.gmns import _LENGTH_IN_M

    if str(cfg.get("crs", "")).upper() not in ("EPSG:4326", "EPSG:4269") or "length" not in links:
        return None
    if not {"x_coord", "y_coord"} <= set(nodes.columns):
        return None
    xy = nodes[["x_coord", "y_coord"]].astype(float)
    a = xy.reindex(links["from_node_id"]).to_numpy()
    b = xy.reindex(links["to_node_id"]).to_numpy()
    lon1, lat1, lon2, lat2 = (np.radians(v) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(
        (lon2 - lon1) / 2) ** 2
    straight_m = 2 * 6_371_000.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    length_m = pd.to_numeric(links["length"], errors="coerce").to_numpy(dtype=float) \
        * _LENGTH_IN_M[cfg.get("long_length", "kilometer")]
    ok = (straight_m > 50) & (length_m > 0)
    if ok.sum() < 3:
        return None
    ratio = float(np.median(length_m[ok] / straight_m[ok]))
    if 0.2 <= ratio <= 5:
        return None
    return (f"link lengths are typically {ratio:.3g} times the straight-line distance between "
            f"their nodes: check long_length in config.csv ({cfg.get('long_length')}); travel "
            "times are derived from it.")


def _counts(s: pd.Series) -> str:
    vc = s.value_counts()
    return ", ".join(f"{k} {v}" for k, v in vc.items())


def require_ready(network: Network, *, defaults: Mapping[str, FacilityDefault] | None
                  = FACILITY_DEFAULTS, zones_from_demand: bool = False
                  ) -> tuple[Network, list[str]]:
    """:func:`prepare_assignment`, raising where something is still needed.

    Returns
    -------
    network, notes
        The network to assign and what was done to it (defaults used, links left out).

    Raises
    ------
    InputError
        Listing what the network still needs.
    """
    r = prepare_assignment(network, defaults=defaults, zones_from_demand=zones_from_demand)
    if r.needs:
        raise InputError(r.needs, f"{network.name}: not ready to assign")
    return r.network, r.notes + r.defaults


def _time_unit(links: pd.DataFrame, cfg: Mapping) -> str | None:
    """A note where a given free_flow_time is, on most links, 60 times (or 1/60 of) the time
    that length / free_speed gives in hours: minutes read as hours, or the reverse."""
    from karvan.io.gmns import free_flow_time_h

    if "length" not in links or "free_speed" not in links:
        return None
    given = pd.to_numeric(links["free_flow_time"], errors="coerce")
    derived = free_flow_time_h(links, {"long_length": cfg.get("long_length", "kilometer"),
                                       "speed": cfg.get("speed", "kilometer/hour")})
    ok = (given > 0) & (derived > 0)
    if ok.sum() < 1:
        return None
    ratio = float(np.median(given[ok] / derived[ok]))
    said = (f"free_flow_time is {ratio:.3g} times length / free_speed (in hours) on "
            f"{int(ok.sum())} links (median)")
    if abs(np.log(ratio / 60.0)) < np.log(1.2):
        return (f"{said}: it looks like minutes read as hours. karvan reads free_flow_time in "
                "config.csv's time_unit (hour where not given); say time_unit minute there, "
                "convert the column, or leave it out to derive it from length and free_speed.")
    if abs(np.log(ratio * 60.0)) < np.log(1.2):
        return (f"{said}: it looks like hours read as minutes (config.csv's time_unit); set "
                "time_unit to hour there, or convert the column to that unit.")
    return None


def _near(field: str, links: pd.DataFrame) -> str:
    """A hint where link.csv has a column that looks like ``field`` misspelt, which defaults
    now stand in for (a note only: nothing is read from it)."""
    import difflib
    import re

    others = [c for c in links.columns if c != field]
    # vdf_alpha, bpr_alpha, DTALite's VDF_alpha1 (other tools' names)
    other_name = re.compile(rf"(^|_){field}\d*$|^{field}_", re.IGNORECASE)
    fixed = [c for c in others if other_name.search(str(c))]
    if fixed:
        return (f" Column {fixed[0]!r} of link.csv looks like {field} under another tool's name: "
                f"rename it to {field} if it holds them.")
    close = difflib.get_close_matches(field, others, n=1, cutoff=0.8)
    return (f" Column {close[0]!r} of link.csv looks like {field} misspelt: rename it to "
            f"{field} if it holds them." if close else "")
