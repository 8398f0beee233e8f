"""Open a network with its demand from a GMNS folder or a TNTP net file, ready to assign."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.io.gmns import EVERY_USE, GmnsWarning, read_gmns, read_gmns_demand
from karvan.io.gmns_ready import FACILITY_DEFAULTS, require_ready
from karvan.io.tntp import (
    _sibling,
    read_tntp,
    read_tntp_net,
    resolved_factors,
    with_factors,
)
from karvan.network.demand import Demand
from karvan.network.model import Network


@dataclass(frozen=True, slots=True)
class Problem:
    """A network, its demand (None when there is none) and the default cost weights.

    ``classes`` describes the traffic classes a GMNS folder defines (``use_definition.csv`` with
    karvan's ``value_of_time`` and ``cost_field`` columns, one demand segment each), as keyword
    arguments of :class:`karvan.TrafficClass`; empty for one class with the default cost.
    ``notes`` say what was done to make the network assignable (defaults used, links left out).
    """

    network: Network
    demand: Demand | None
    toll_factor: float = 0.0
    distance_factor: float = 0.0
    kind: str = "gmns"
    classes: tuple[dict, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def read_problem(
    path: str | os.PathLike,
    trips: str | os.PathLike | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    need_demand: bool = True,
    defaults: bool = True,
    capacity_per_lane: bool | None = None,
    use: str | None = None,
) -> Problem:
    """Read a GMNS folder (demand from ``trips`` or its ``demand.csv``) or a TNTP ``_net`` file
    (demand from ``trips`` or the ``_trips`` file beside it), ready to assign.

    A GMNS network goes through :func:`karvan.io.gmns_ready.require_ready`: links out of use are
    left out and, with ``defaults``, blank free speeds and capacities are filled by facility
    type; each such step is a :class:`~karvan.io.gmns.GmnsWarning` and a line of ``notes``.
    ``capacity_per_lane`` and ``use`` are those of :func:`karvan.io.gmns.read_gmns`, which warns
    where they are left unsaid and would matter (links of more than one lane with a capacity,
    links whose ``allowed_uses`` bar some uses); ``use=EVERY_USE`` is taken for a TNTP network
    too, whose every link is for every use.

    Raises
    ------
    InputError
        For a path that is neither, unreadable or invalid files, a network not ready to assign
        (what it needs), a missing demand file, or a ``use`` for a TNTP network.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a GMNS folder or a TNTP _net file.")
    one = None if use == EVERY_USE else use  # the one use whose links are kept
    if one is not None and path.is_file() and path.suffix.lower() == ".tntp":
        raise InputError(f"--use {use}: a TNTP network's links have no allowed uses; --use "
                         "applies to GMNS folders (link.csv's allowed_uses). Leave it out.",
                         str(path))
    if path.is_dir():
        # read_gmns warns where the capacity's reading (capacity_per_lane None) or the uses
        # (use None) would matter
        net = read_gmns(path, capacity_per_lane=capacity_per_lane, use=use)
        net, notes = require_ready(net, defaults=FACILITY_DEFAULTS if defaults else None,
                                   zones_from_demand=True)
        dpath = Path(trips) if trips is not None else path / "demand.csv"
        if dpath.exists():
            net = zones_at_demand_nodes(net, dpath, notes)
            demand = read_gmns_demand(dpath, net)
        elif trips is not None:
            raise InputError(f"no demand: {dpath} does not exist; check the trips path.")
        elif need_demand:
            raise InputError(f"no demand: {dpath} does not exist; pass --trips FILE.")
        else:
            demand = None
        for n in notes:
            warnings.warn(n, GmnsWarning, stacklevel=2)
        classes = gmns_classes(net, demand)
        if one is not None:
            one_use(net, one, [c["name"] for c in classes] or (
                list(demand.names) if demand is not None else []), path)
        given = [f"--{k.replace('_', '-')}" for k, v in (("toll_factor", toll_factor),
                                                         ("distance_factor", distance_factor))
                 if v]
        if classes and given:
            # the classes' cost is time + money (their cost_field) / value_of_time: the factors
            # of the default class would be recorded and not applied
            raise InputError(f"{' and '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to "
                             "the default class, but "
                             f"use_definition.csv defines the classes "
                             f"{format_ids([c['name'] for c in classes])}, whose cost is time + "
                             "their cost_field / value_of_time; leave the factor out, or scale "
                             "the cost_field column (or value_of_time) instead.",
                             str(path))
        return Problem(net, demand, toll_factor or 0.0, distance_factor or 0.0, "gmns",
                       classes, tuple(notes))
    if (path.suffix.lower() == ".tntp" and trips is not None
            and Path(trips).suffix.lower() == ".csv"):
        # a TNTP network with a demand table in CSV
        net, factors = read_tntp_net(path)
        demand = read_gmns_demand(trips, net)
        tf, df = resolved_factors(factors, toll_factor, distance_factor)
        return Problem(with_factors(net, tf, df), demand, tf, df, "tntp")
    if path.suffix.lower() == ".tntp":
        if not need_demand and trips is None and _sibling(path, "trips") is None:
            net, factors = read_tntp_net(path)
            tf, df = resolved_factors(factors, toll_factor, distance_factor)
            return Problem(with_factors(net, tf, df), None, tf, df, "tntp")
        p = read_tntp(path, trips, toll_factor=toll_factor, distance_factor=distance_factor)
        return Problem(p.network, p.demand, p.toll_factor, p.distance_factor, "tntp")
    raise InputError(f"{path}: not a folder or a .tntp file; karvan reads GMNS folders and TNTP "
                     "_net files.")


def zones_at_demand_nodes(net: Network, demand_path: Path, notes: list[str]) -> Network:
    """A network without zones loads demand at the nodes its demand table names: each such
    node becomes the zone of its own id (with a note). A network with zones is returned as is.

    Raises
    ------
    InputError
        When the demand table cannot be read or names nodes the network does not have.
    """
    if len(net.zones):
        return net
    from karvan.io.gmns import _ids
    from karvan.schema import Checker, load_schema, read_csv

    checker = Checker()
    t = checker.table(load_schema("gmns/demand"), read_csv(demand_path))
    checker.raise_if_errors(str(demand_path))
    kind = "integer" if pd.api.types.is_integer_dtype(net.nodes.index) else "string"
    named = [v for c in ("o_zone_id", "d_zone_id") for v in _ids(t[c], kind) if v is not None]
    named = list(dict.fromkeys(named))
    unknown = [v for v in named if v not in net.nodes.index]
    if unknown:
        raise InputError(f"{demand_path.name}: the network has no zones, so demand is loaded at "
                         f"nodes, but {format_ids(unknown)} are not nodes of node.csv; give "
                         "zone_id to the nodes, or name nodes in the demand.",
                         str(demand_path))
    nodes = net.nodes.copy()
    nodes["zone_id"] = pd.Series(nodes.index, index=nodes.index, dtype=object).where(
        nodes.index.isin(named), None)
    notes.append(f"the network has no zones: demand is loaded at the {len(named)} nodes "
                 f"{demand_path.name} names (node_id {format_ids(named)}).")
    config = dict(net.config)
    config["_zone_id_type"] = kind
    return Network(nodes, net.links, config, net.name)


def gmns_classes(net: Network, demand: Demand | None) -> tuple[dict, ...]:
    """Traffic classes from ``use_definition.csv`` where it gives karvan's ``value_of_time``:
    one class per use that names a demand segment, with ``pce`` and the money cost in the link
    column ``cost_field``; none (the default class) otherwise.

    Raises
    ------
    InputError
        When uses with a value of time and the demand's segments do not match, or a
        ``cost_field`` is not a link column.
    """
    ud = net.config.get("tables", {}).get("use_definition")
    if ud is None or "value_of_time" not in ud or not ud["value_of_time"].notna().any():
        pce = (pd.to_numeric(ud["pce"], errors="coerce") if ud is not None and "pce" in ud
               else pd.Series(dtype=float))
        # uses that the demand's segments name, with a pce that would count
        named = (ud["use"].astype(str).isin(demand.names) if ud is not None and "use" in ud
                 and demand is not None else pd.Series(False, index=pce.index))
        if (pce.notna() & (pce != 1.0) & named).any():
            odd = ud[pce.notna() & (pce != 1.0) & named]
            listed = ", ".join(f"{u} {p:g}" for u, p in zip(odd["use"], pce[odd.index],
                                                              strict=True))
            warnings.warn(f"use_definition.csv gives pce ({listed}) but no value_of_time: "
                          "karvan reads classes, and their pce, only from uses with a "
                          "value_of_time, so every vehicle counts 1 against "
                          "capacity; give the uses a value_of_time (and the link column of "
                          "their money cost in cost_field).", GmnsWarning, stacklevel=3)
        if demand is not None and len(demand.names) > 1:
            warnings.warn(f"the demand has {len(demand.names)} segments "
                          f"({format_ids(demand.names)}) but use_definition.csv gives no "
                          "value_of_time: each is assigned as a class of its own at the default "
                          "cost (time, with the toll and distance factors).", GmnsWarning,
                          stacklevel=3)
        return ()
    ud = ud[ud["value_of_time"].notna()]
    out = []
    problems = []
    segments = set(demand.names) if demand is not None else None
    for r in ud.itertuples(index=False):
        name = str(r.use)
        cost_field = getattr(r, "cost_field", None)
        fields = {}
        if isinstance(cost_field, str) and cost_field:
            if cost_field not in net.links:
                problems.append(f"use_definition.csv: use {name}: cost_field {cost_field!r} is "
                                "not a column of link.csv.")
            fields = {cost_field: 1.0}
        pce = getattr(r, "pce", None)
        out.append({"name": name, "demand": name, "value_of_time": float(r.value_of_time),
                    "pce": float(pce) if pce is not None and not pd.isna(pce) else 1.0,
                    "cost_fields": fields})
    if segments is not None:
        missing = sorted(segments - {c["name"] for c in out})
        if missing:
            problems.append(f"demand segments {format_ids(missing)} have no use with a "
                            "value_of_time in use_definition.csv.")
        out = [c for c in out if c["name"] in segments]
    if problems:
        raise InputError(problems, str(net.config.get("source", net.name)))
    free = [c["name"] for c in out if not c["cost_fields"]]
    if free:
        warnings.warn(f"use_definition.csv: uses {format_ids(free)} have a value_of_time but no "
                      "cost_field, so they pay no money cost on any link and their "
                      "value_of_time changes nothing (a class's cost is time + money / "
                      "value_of_time); name the link column of their money cost in cost_field "
                      "(the link toll: cost_field toll).", GmnsWarning, stacklevel=3)
    return tuple(out)


def one_use(net: Network, use: str, names: list[str], path: Path | str) -> None:
    """Refuse classes or demand segments named after other uses than ``use``: ``use`` keeps the
    links of that one use, and every class travels on them.

    Raises
    ------
    InputError
        When ``names`` holds a use of ``use_definition.csv`` or ``use_group.csv`` other than
        ``use``.
    """
    tables = net.config.get("tables", {})
    defined: set[str] = set()
    for name, col in (("use_definition", "use"), ("use_group", "use_group")):
        t = tables.get(name)
        if t is not None and col in t:
            defined |= {str(u).strip().lower() for u in t[col].dropna()}
    others = [n for n in names if str(n).strip().lower() in defined
              and str(n).strip().lower() != use.strip().lower()]
    if others:
        raise InputError(f"--use {use}: the demand has classes of other uses "
                         f"({format_ids(others)}), which would travel on the links of "
                         f"{use}; --use assigns one use on its own links. Assign each use "
                         "with a demand of its own, or leave --use out (every class on every "
                         "link).", str(path))
