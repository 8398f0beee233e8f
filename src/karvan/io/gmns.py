"""GMNS 0.96 network folders: ``node.csv``, ``link.csv`` and the optional ``config.csv``,
``zone.csv``, ``use_definition.csv``, ``use_group.csv`` and ``demand.csv``.

Every table is checked against its schema (``karvan/schema/gmns``, see ``docs/schemas.md``) with
the one checker. What GMNS allows is read; what karvan needs only to *assign* (a free-flow time,
a capacity) is not asked for here but by :mod:`karvan.io.gmns_ready`, which says what is missing
and which documented defaults would fill it. Read leniently, write strictly:

- booleans as TRUE/FALSE, true/false, 1/0, t/f, yes/no; a blank ``directed`` means directed, with a
  warning;
- ``allowed_uses`` split on ``,`` or ``;``, case-insensitive, checked against ``use_definition`` and
  ``use_group`` (groups resolved recursively) when those tables exist;
- free-text units in ``config.csv`` normalised (``mi``/``miles`` -> ``mile``, ``mph`` ->
  ``mile/hour``, ``km/h`` -> ``kilometer/hour``, a bare EPSG number -> ``EPSG:n``);
- a list where a number belongs (``['2', '3']``, as an OpenStreetMap conversion writes where a
  way's attribute changes along a link) is read as its smallest value, and a number written
  with a unit (``25 mph``) is converted to the unit of ``config.csv``, each with a warning;
- a zone with several nodes is loaded at a centroid of its own, joined to its nodes by
  connectors of zero time and no capacity limit (``zone_nodes="connect"``, with a warning);
- columns outside the spec are kept and written back unchanged; a column whose name looks like
  a GMNS column cut to ten characters by a shapefile export gets a hint naming it.

karvan reads ``capacity`` as the capacity of the whole link in its direction of travel; a file
that gives capacity per lane, as GMNS defines it, is converted with ``capacity_per_lane=True``
(capacity x lanes). Where a link has no ``free_flow_time`` column it is derived, in hours, from
``length`` and ``free_speed`` and the units in ``config.csv``; derived columns are not written
back. A link whose time cannot be derived gets none (never 0).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from karvan.errors import InputError, Violation, format_ids, shorten
from karvan.io.atomic import atomic_folder
from karvan.network.demand import Demand
from karvan.network.model import Network

GMNS_VERSION = "0.96"
NODE_REQUIRED = ("node_id", "x_coord", "y_coord")
LINK_REQUIRED = ("link_id", "from_node_id", "to_node_id", "directed")
CONFIG_FIELDS = ("dataset_name", "short_length", "long_length", "speed", "crs",
                 "geometry_field_format", "currency", "version_number", "id_type")
#: link columns read leniently: a list of numbers is read as its smallest value
LIST_NUMBERS = ("length", "capacity", "free_speed", "lanes", "toll", "row_width", "grade")
#: units karvan assumes where a folder has no config.csv (GMNS recommends, but does not fix, them)
DEFAULT_UNITS = {"long_length": "kilometer", "speed": "kilometer/hour"}
ZoneNodes = Literal["connect", "first", "strict"]
#: ``use=`` for every link, for every use, said so (no note where ``allowed_uses`` bars some uses
#: from some links); ``allowed_uses`` splits on ``,`` and ``;`` and ``all`` can be a use group,
#: so a star names no use
EVERY_USE = "*"

_TRUE = {"true", "1", "1.0", "t", "yes", "y"}
_FALSE = {"false", "0", "0.0", "f", "no", "n"}
_LENGTH_UNITS = {
    "mile": "mile", "mi": "mile", "miles": "mile",
    "kilometer": "kilometer", "kilometre": "kilometer", "km": "kilometer",
    "kilometers": "kilometer",
    "kilometres": "kilometer",
    "meter": "meter", "metre": "meter", "m": "meter", "meters": "meter", "metres": "meter",
    "foot": "foot", "feet": "foot", "ft": "foot",
}
_LENGTH_IN_M = {"mile": 1609.344, "kilometer": 1000.0, "meter": 1.0, "foot": 0.3048}
_SPEED_UNITS = {
    "mph": "mile/hour", "mi/h": "mile/hour", "mile/hour": "mile/hour", "miles/hour": "mile/hour",
    "mile per hour": "mile/hour", "miles per hour": "mile/hour",
    "km/h": "kilometer/hour", "kph": "kilometer/hour", "kmh": "kilometer/hour",
    "km/hr": "kilometer/hour", "kilometer/hour": "kilometer/hour",
    "kilometre/hour": "kilometer/hour", "kilometers per hour": "kilometer/hour",
    "m/s": "meter/second", "meter/second": "meter/second", "mps": "meter/second",
    "knots": "knot", "knot": "knot", "kn": "knot",
}
_SPEED_IN_M_PER_H = {"mile/hour": 1609.344, "kilometer/hour": 1000.0, "meter/second": 3600.0,
                     "knot": 1852.0}
_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/ ]+?)\s*$")


class GmnsWarning(UserWarning):
    """A GMNS file was read with a lenient interpretation worth knowing about."""


@dataclass(frozen=True, slots=True, eq=False)
class GmnsRead:
    """What reading a GMNS folder found.

    Attributes
    ----------
    network
        The network, or None where errors stop it.
    errors
        Problems that stop reading: what karvan cannot read as GMNS.
    warnings
        Departures from the GMNS specification read leniently, each saying how it was read.
    notes
        karvan's own readings of what GMNS allows (a zone with several nodes loaded through
        connectors).
    violations
        Every error and warning one by one, with file, line, column and value.
    """

    folder: Path
    network: Network | None
    errors: list[str]
    warnings: list[str]
    notes: list[str]
    violations: list[Violation] = field(default_factory=list)

    @property
    def valid_gmns(self) -> bool:
        """No error and no departure from the specification."""
        return not self.errors and not self.warnings


def normalise_config(raw: dict[str, Any], *, where: str = "config.csv") -> dict[str, Any]:
    """Normalise free-text units and CRS of a GMNS ``config`` row.

    Raises
    ------
    InputError
        For a length or speed unit it does not know, or an ``id_type`` other than string or
        integer.
    """
    cfg = {k: v for k, v in raw.items() if not _blank(v)}
    problems = []
    for key in ("long_length", "short_length"):
        if key in cfg:
            u = str(cfg[key]).strip().lower()
            if u not in _LENGTH_UNITS:
                problems.append(
                    f"{where}: {key} {shorten(cfg[key])!r} is not a known length unit; use one "
                    "of mile, kilometer, meter, foot."
                )
            else:
                cfg[key] = _LENGTH_UNITS[u]
    if "speed" in cfg:
        u = _speed_unit(cfg["speed"])
        if u is None:
            problems.append(
                f"{where}: speed {shorten(cfg['speed'])!r} is not a known speed unit; use "
                "mile/hour, kilometer/hour or meter/second."
            )
        else:
            cfg["speed"] = u
    if "crs" in cfg:
        c = str(cfg["crs"]).strip()
        if c.replace(".0", "").isdigit():
            c = f"EPSG:{c.replace('.0', '')}"
        elif c.lower().startswith("epsg:"):
            c = "EPSG:" + c[5:]
        cfg["crs"] = c
    if "id_type" in cfg:
        cfg["id_type"] = str(cfg["id_type"]).strip().lower()
        if cfg["id_type"] not in ("string", "integer"):
            problems.append(f"{where}: id_type {shorten(raw['id_type'])!r} must be string or "
                            "integer.")
    if problems:
        raise InputError(problems)
    return cfg


def inspect_gmns(
    folder: str | os.PathLike,
    *,
    capacity_per_lane: bool | None = None,
    use: str | None = None,
    zone_nodes: ZoneNodes = "connect",
) -> GmnsRead:
    """Read a GMNS folder and say what was found, without raising for what the files hold.

    Parameters are those of :func:`read_gmns`.

    Returns
    -------
    GmnsRead
        The network (None if there are errors), the errors, the departures from GMNS read
        leniently and karvan's notes.

    Raises
    ------
    InputError
        Only when ``folder`` is not a folder.
    """
    from karvan.schema import Checker, load_schema, read_csv

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; a GMNS network is a folder with node.csv "
                         "and link.csv.")
    every_use = use == EVERY_USE  # use=None's reading, said: no note of it
    if every_use:
        use = None
    checker = Checker()
    notes: list[str] = []
    text = {}
    for name in ("node", "link", "config", "zone", "use_definition", "use_group"):
        path = folder / f"{name}.csv"
        if not path.is_file():
            if name == "link" and not (folder / "node.csv").is_file():
                # neither: perhaps not a GMNS network at all
                checker.message(f"{path.name} is missing from {folder}. A GMNS network is a "
                                "folder with node.csv and link.csv; a TNTP network is passed "
                                "as its _net file (X_net.tntp).", file=path.name)
            elif name in ("node", "link"):
                checker.message(f"{path.name} is missing from {folder}.", file=path.name)
            continue
        try:
            text[name] = read_csv(path)
        except InputError as e:
            for m in e.problems:
                checker.message(m, file=path.name)
    if "node" not in text or "link" not in text:
        return _result(folder, None, checker, notes)
    config: dict[str, Any] = {}
    tables = {}
    if "config" in text:
        tables["config"] = checker.table(load_schema("gmns/config"), text["config"])
        if tables["config"].n_rows:
            try:
                config = normalise_config({k: v[0] for k, v in tables["config"].columns.items()})
            except InputError as e:
                for m in e.problems:
                    checker.message(m, file="config.csv")
    if "directed" not in text["link"].columns:
        checker.message("link.csv has no 'directed' column (GMNS requires it); every link is "
                        "read as directed.", severity="warning", file="link.csv")
    else:
        d = text["link"].columns["directed"]
        blank = np.flatnonzero(d == "")
        if len(blank):
            ids = text["link"].columns.get("link_id", np.full(len(d), "?", dtype=object))
            checker.message(f"link.csv: {len(blank)} links have a blank 'directed' (link_id "
                            f"{format_ids(ids[blank])}); read as directed.",
                            severity="warning", file="link.csv")
    units = {k: config.get(k, v) for k, v in DEFAULT_UNITS.items()}
    _lenient_numbers(text["link"], units, checker)
    for name in ("node", "link", "zone", "use_definition", "use_group"):
        if name in text:
            tables[name] = checker.table(load_schema(f"gmns/{name}"), text[name])
    id_type = config.get("id_type")
    keys = [(tables[n], k, tables[n].columns[k].copy()) for n, k in
            (("node", "node_id"), ("link", "link_id"), ("zone", "zone_id"))
            if n in tables and k in tables[n].columns]
    _type_ids(tables, id_type, checker)
    for table, k, before in keys:
        _typed_repeats(checker, table, (k,), f"each {k} may appear once", {k: before})
    checker.references({k: tables[k] for k in ("node", "link", "zone") if k in tables})
    uses = _uses(tables)
    link_uses = _check_uses(tables["link"], uses, checker)
    if use is not None and uses is not None and use.strip().lower() not in uses:
        checker.message(f"use {shorten(use)!r} is in neither use_definition.csv nor "
                        f"use_group.csv; known uses: {format_ids(sorted(uses), limit=20)}.")
    elif use is not None and uses is None and link_uses is not None:
        named = {u for v in link_uses if v for u in v.split(",")}
        if named and use.strip().lower() not in named | {ALL_USES}:
            checker.message(f"use {shorten(use)!r} is named by no link's allowed_uses, and no "
                            "use_definition.csv or use_group.csv defines it; uses named: "
                            f"{format_ids(sorted(named), limit=20)}.", file="link.csv")
    if checker.errors():
        return _result(folder, None, checker, notes)
    nodes = _int_ids(tables["node"].to_frame(), ("node_id", "zone_id", "parent_node_id"))
    links = _int_ids(tables["link"].to_frame(), ("link_id", "from_node_id", "to_node_id",
                                                 "parent_link_id"))
    if "directed" in links:
        links["directed"] = [True if v is None or v != v else bool(v) for v in links["directed"]]
    else:
        links["directed"] = True
    links["directed"] = links["directed"].astype(bool)
    if link_uses is not None:
        links["allowed_uses"] = link_uses
    _warn_parallel_links(links, checker)
    nodes, links, zone_info = _zones(nodes, links, zone_nodes, checker, notes)
    tu = str(config.get("time_unit", "hour")).strip().lower()
    if tu not in TIME_UNITS:
        checker.message(f"config.csv: time_unit {shorten(config.get('time_unit'))!r} is not a "
                        f"time unit; use one of hour, minute, second (the unit of link.csv's "
                        "free_flow_time).", file="config.csv")
    if checker.errors():
        return _result(folder, None, checker, notes)
    config["_zone_id_type"] = "integer" if zone_info["int_ids"] else "string"
    derived = []
    if capacity_per_lane and "lanes" in links and "capacity" in links:
        links["capacity"] = links["capacity"] * links["lanes"].fillna(1)
        config["capacity_per_lane"] = True
    if "free_flow_time" not in links:
        links["free_flow_time"] = free_flow_time_h(links, units)
        derived.append("free_flow_time")
    else:
        # karvan's own config column (GMNS 0.96 has none): free_flow_time's unit, read as hours
        hours = TIME_UNITS[str(config.get("time_unit", "hour")).strip().lower()]
        if hours != 1.0:
            links["free_flow_time"] = links["free_flow_time"] * hours
            notes.append(f"free_flow_time read in {config['time_unit']} (config.csv "
                         "time_unit) and converted to hours.")
        # a blank cell takes the time of its length and speed, as a file without the column
        # does (a column left blank was "76 links have no free_flow_time")
        blank = pd.to_numeric(links["free_flow_time"], errors="coerce").isna()
        if blank.any():
            derived_t = free_flow_time_h(links, units)
            fill = blank & derived_t.notna()
            if fill.any():
                links["free_flow_time"] = pd.to_numeric(links["free_flow_time"],
                                                        errors="coerce").where(~fill, derived_t)
                notes.append(f"free_flow_time blank on {int(fill.sum())} links (link_id "
                             f"{format_ids(links.loc[fill, 'link_id'])}): taken from their "
                             "length and free_speed.")
    config["time_unit"] = "hour"
    links = _add_connectors(links, zone_info)
    config["derived_columns"] = derived
    config["units_assumed"] = [k for k in DEFAULT_UNITS if k not in config]
    config.update({k: v for k, v in units.items()})
    config["tables"] = {n: tables[n].to_frame() for n in ("zone", "use_definition", "use_group")
                        if n in tables}
    config["zone_members"] = zone_info["members"]
    config["derived_nodes"] = zone_info["centroids"]
    config["derived_links"] = list(zone_info["connectors"].index)
    if use is not None and "allowed_uses" in links:
        groups = _groups(uses)
        wanted = _expand({use.strip().lower()}, groups)
        keep = links["allowed_uses"].map(lambda u: _admits(u, wanted, groups)).astype(bool)
        own = ~links["link_id"].isin(config["derived_links"])  # not the zones' connectors
        notes.append(f"use {shorten(use)!r}: {int((keep & own).sum())} of {int(own.sum())} links "
                     "admit it " + (f"(allowed_uses); left out: link_id "
                                    f"{format_ids(links.loc[~keep, 'link_id'])}."
                                    if not keep.all() else "(allowed_uses)."))
        links = links[keep]
    elif use is not None:
        notes.append(f"use {shorten(use)!r}: link.csv has no allowed_uses, so every link is "
                     "read for it.")
    nodes = nodes.set_index("node_id", drop=True)
    links = links.set_index("link_id", drop=True)
    name = str(config.get("dataset_name", folder.name))
    config["source"] = str(folder)
    net = Network(nodes, links, config, name)
    # readings left unsaid where they matter: the capacity's (per lane or per link) and the
    # uses' (every link for every use)
    if capacity_per_lane is None and (note := capacity_lane_note(net)):
        notes.append(note)
    if use is None and not every_use and (note := uses_note(net)):
        notes.append(note)
    return _result(folder, net, checker, notes)


def read_gmns(
    folder: str | os.PathLike,
    *,
    capacity_per_lane: bool | None = None,
    use: str | None = None,
    zone_nodes: ZoneNodes = "connect",
) -> Network:
    r"""Read a GMNS folder.

    Parameters
    ----------
    folder
        A folder with ``node.csv`` and ``link.csv`` (and optionally the other GMNS tables).
    capacity_per_lane
        True: multiply ``capacity`` by ``lanes`` (GMNS 0.96 defines capacity per lane). False:
        read ``capacity`` as the whole link's. None: the whole link's, with a warning where
        links of more than one lane have a capacity (:func:`capacity_lane_note`), since the two
        readings differ there.
    use
        Keep only links whose ``allowed_uses`` admit this use (naming it, a group holding it,
        or, for a group, all its members); blank ``allowed_uses``, and ``all`` where no group of
        that name is defined, admit every use. None: every link, for every use, with a warning
        where ``allowed_uses`` bars some uses from some links (:func:`uses_note`).
        :data:`EVERY_USE` (``"*"``): every link, for every use, as with None, said so: no
        warning of it (``all`` is not the same: a link whose ``allowed_uses`` names only
        some uses does not admit ``all``).
    zone_nodes
        What to do with a zone that several nodes name: ``"connect"`` (load it at a centroid of
        its own, joined to each of its nodes by a connector of zero time and no capacity limit),
        ``"first"`` (load it at the first of its nodes) or ``"strict"`` (an error).

    Returns
    -------
    Network
        Nodes indexed by ``node_id``, links by ``link_id``; every column read is kept. Links
        whose free-flow time cannot be derived have none (see
        :func:`karvan.io.gmns_ready.prepare_assignment` for defaults).

    Raises
    ------
    InputError
        Listing every problem found, each with file, line and id: missing files or columns,
        undecodable text, duplicate ids, links to unknown nodes, values that are not numbers or
        out of range, unknown uses, zones that are not in ``zone.csv``.

    Warns
    -----
    GmnsWarning
        For each departure from GMNS read leniently, for zones loaded through connectors, and
        for karvan's readings of the file: the links ``use`` leaves out, and where
        ``capacity_per_lane`` or ``use`` left unsaid would matter (the notes ``karvan assign``
        prints).

    Examples
    --------
    Every link for every use, said so, though link 1 bars trucks: no warning.

    >>> import tempfile, warnings
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "node.csv").write_text("node_id,x_coord,y_coord\n1,0,0\n2,1,0\n")
    >>> _ = (d / "link.csv").write_text("link_id,from_node_id,to_node_id,directed,allowed_uses\n"
    ...                                 '1,1,2,true,car\n2,2,1,true,"car,truck"\n')
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error")
    ...     read_gmns(d, use=EVERY_USE).links.index.tolist()
    [1, 2]
    """
    r = inspect_gmns(folder, capacity_per_lane=capacity_per_lane, use=use,
                     zone_nodes=zone_nodes)
    if r.errors:
        raise InputError(r.errors, str(r.folder),
                         violations=[v for v in r.violations if v.severity == "error"])
    for w in r.warnings + r.notes:
        warnings.warn(w, GmnsWarning, stacklevel=2)
    return r.network


def read_gmns_demand(path: str | os.PathLike, network: Network | None = None) -> Demand:
    """Read a long demand table: origin, destination, volume [, segment].

    Column names are read through the aliases of the schema ``gmns/demand``:
    ``o_zone_id``/``orig_taz``/``origin``/``origin_zone_id``,
    ``d_zone_id``/``dest_taz``/``destination``/``destination_zone_id``,
    ``volume``/``total``/``demand``/``flow``/``trips``/``tonnes_per_year``, and an optional segment
    column ``segment``/``class``/``mode``/``agent_type``/``commodity_id``/``use``. With
    ``network``, the zones are the network's (in its order) and unknown zones are an error. An
    origin, destination (and segment) that repeats is an error, never summed.

    Raises
    ------
    InputError
        With every problem: unreadable text, missing columns, volumes that are not finite
        numbers >= 0, repeated rows, zones the network does not have.
    """
    from karvan.schema import Checker, load_schema, read_csv

    path = Path(path)
    text = read_csv(path)
    checker = Checker()
    schema = load_schema("gmns/demand")
    header = {c.lower() for c in text.columns}
    absent = [f.name for f in schema.fields if f.required
              and not any(a.lower() in header for a in (f.name, *f.aliases))]
    if absent:
        names = {"o_zone_id": "origin (o_zone_id)", "d_zone_id": "destination (d_zone_id)",
                 "volume": "volume"}
        raise InputError(f"{path.name}: no column for {', '.join(names[a] for a in absent)}; "
                         f"columns are {format_ids(text.header, 20)}.")
    t = checker.table(schema, text)
    id_type = network.config.get("id_type") if network is not None else None
    if id_type is None and network is not None:
        id_type = network.config.get("_zone_id_type")
    key = ("o_zone_id", "d_zone_id") + (("segment",) if "segment" in t.columns else ())
    before = {k: t.columns[k].copy() for k in key}
    for col in ("o_zone_id", "d_zone_id"):
        t.columns[col] = _ids(t.columns[col], id_type)
    _typed_repeats(checker, t, key, "give each origin, destination (and segment) one row; "
                   "repeats are not summed", before)
    zone_ids = tuple(network.zones.index) if network is not None else None
    if zone_ids is not None:
        known = set(zone_ids)
        for col in ("o_zone_id", "d_zone_id"):
            vals = t.columns[col]
            bad = np.asarray([v is not None and v not in known for v in vals], dtype=bool)
            for i in np.flatnonzero(bad):
                checker.add(Violation(path.name, int(t.lines[i]), col, shorten(vals[i]),
                                      "is not a zone of the network",
                                      "correct the zone id, or give the node where that zone "
                                      "is its zone_id in node.csv"))
    checker.raise_if_errors(str(path.parent))
    for w in checker.warnings():
        warnings.warn(w, GmnsWarning, stacklevel=2)
    seg = "segment" if "segment" in t.columns else None
    table = pd.DataFrame({k: t.columns[k] for k in ("o_zone_id", "d_zone_id", "volume")
                          + ((seg,) if seg else ())})
    if not (pd.to_numeric(table["volume"], errors="coerce") > 0).any():
        warnings.warn(f"{path.name}: no demand (every volume is 0 or there is no row): every "
                      "flow will be 0; is this the demand file meant?", GmnsWarning,
                      stacklevel=2)
    return Demand.from_long(table, origin="o_zone_id", destination="d_zone_id", value="volume",
                            segment=seg, zone_ids=zone_ids)


#: config.csv's time_unit (karvan's column: the unit of a given free_flow_time) in hours
TIME_UNITS = {"hour": 1.0, "hours": 1.0, "h": 1.0, "hr": 1.0, "minute": 1 / 60, "minutes": 1 / 60,
              "min": 1 / 60, "second": 1 / 3600, "seconds": 1 / 3600, "s": 1 / 3600,
              "sec": 1 / 3600}


def free_flow_time_h(links: pd.DataFrame, units: dict[str, str]) -> pd.Series:
    """Free-flow time in hours from ``length`` and ``free_speed`` in the given units; NaN where
    it cannot be known (no length, or no positive speed on a link of positive length); 0 on a
    link of length 0."""
    if "length" not in links or "free_speed" not in links:
        return pd.Series(np.nan, index=links.index)
    length_m = pd.to_numeric(links["length"], errors="coerce").astype(float) \
        * _LENGTH_IN_M[units["long_length"]]
    speed = pd.to_numeric(links["free_speed"], errors="coerce").astype(float) \
        * _SPEED_IN_M_PER_H[units["speed"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = length_m / speed.where(speed > 0)
    return t.where(length_m != 0, 0.0).where(length_m.notna())


def write_gmns(network: Network, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``network`` as a GMNS 0.96 folder, strictly: spec columns first, booleans as
    true/false, ``config.csv`` with explicit units and version. Columns derived on reading and
    the centroids and connectors added for zones with several nodes are left out (those zones
    are written back on their nodes); every other column is written. The folder appears whole or
    not at all.

    Raises
    ------
    InputError
        When ``folder`` exists and ``overwrite`` is not set, or the nodes have no coordinates
        (GMNS requires them; a TNTP network read without its ``_node.tntp`` has none).
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise InputError(f"{folder} exists; pass overwrite=True to replace it.")
    xy = [c for c in ("x_coord", "y_coord") if c in network.nodes]
    if len(xy) < 2 or network.nodes[xy].isna().any().any():
        missing = (network.nodes.index if len(xy) < 2 else
                   network.nodes.index[network.nodes[xy].isna().any(axis=1)])
        raise InputError(f"{network.name}: {len(missing)} nodes have no coordinates (node_id "
                         f"{format_ids(missing)}); GMNS requires x_coord and y_coord, so the "
                         "folder would not be read back. Give the nodes coordinates (for a "
                         "TNTP network, its _node.tntp file beside the _net file).")
    stated = [f"{k} {network.config[k]:g}" for k in ("toll_factor", "distance_factor")
              if network.config.get("format") == "tntp" and network.config.get(k)]
    if stated:  # GMNS's config.csv has no field for them: the folder reads back without them
        warnings.warn(f"{network.name}: the GMNS folder does not keep the TNTP cost weights "
                      f"({', '.join(stated)}); karvan assign on it weighs time alone unless "
                      "given --toll-factor and --distance-factor.", GmnsWarning, stacklevel=2)
    cfg = {k: v for k, v in network.config.items() if k in CONFIG_FIELDS}
    cfg.setdefault("dataset_name", network.name)
    cfg["version_number"] = GMNS_VERSION
    cfg.setdefault("geometry_field_format", "WKT")
    derived = set(network.config.get("derived_columns", []))
    nodes = network.nodes.drop(index=list(network.config.get("derived_nodes", [])),
                               errors="ignore").reset_index()
    links = network.links.drop(index=list(network.config.get("derived_links", [])),
                               errors="ignore").reset_index()
    members = network.config.get("zone_members", {})
    if members and "zone_id" in nodes:
        zone_of = {n: z for z, ns in members.items() for n in ns}
        nodes["zone_id"] = pd.Series([zone_of.get(n, z) for n, z in zip(
            nodes["node_id"], nodes["zone_id"], strict=True)], index=nodes.index, dtype=object)
    if "passable" in nodes and network.config.get("derived_nodes"):
        nodes = nodes.drop(columns="passable")
    links = links[[c for c in links.columns if c not in derived]]
    if network.config.get("capacity_per_lane") and {"capacity", "lanes"} <= set(links.columns):
        # read as capacity x lanes; GMNS stores capacity per lane
        lanes = links["lanes"].where(links["lanes"] > 0).fillna(1)
        links["capacity"] = links["capacity"] / lanes
    links["directed"] = np.where(links["directed"].astype(bool), "true", "false") \
        if "directed" in links else "true"
    if "allowed_uses" in links:
        links["allowed_uses"] = links["allowed_uses"].map(
            lambda u: u if isinstance(u, str) else "")
    for df in (nodes, links):
        for c in df.columns:
            if df[c].dtype == bool:
                df[c] = np.where(df[c], "true", "false")
    nodes = nodes[_order(nodes.columns, NODE_REQUIRED)]
    links = links[_order(links.columns, LINK_REQUIRED)]
    with atomic_folder(folder) as tmp:
        nodes.to_csv(tmp / "node.csv", index=False)
        links.to_csv(tmp / "link.csv", index=False)
        pd.DataFrame([{k: cfg.get(k, "") for k in CONFIG_FIELDS}]).to_csv(tmp / "config.csv",
                                                                          index=False)
        for name, table in network.config.get("tables", {}).items():
            table.to_csv(tmp / f"{name}.csv", index=False)
    return folder


# -- helpers -------------------------------------------------------------------------------------


def _warn_parallel_links(links: pd.DataFrame, checker) -> None:
    """Warn of links that copy another: the same two nodes in the same direction (a two-way
    link counts both ways) and the same length, capacity, speed, time, lanes, uses and toll.
    Parallel links that differ (a cycle track beside a road) are a network's own; a copy carries
    flow as a road of its own, so a repeated row, or a two-way link also given as its reverse,
    lowers every cost in silence (Sioux Falls with three rows repeated: total travel time 12 %
    lower)."""
    same = [c for c in ("length", "capacity", "free_speed", "free_flow_time", "lanes",
                        "allowed_uses", "toll") if c in links]
    two_way = ~links["directed"].to_numpy(dtype=bool)
    # blank cells compare equal (pandas keeps NaN through astype(str) and groupby drops it)
    cols = links[["link_id", "from_node_id", "to_node_id", *same]]
    ab = cols.astype(object).where(cols.notna(), "").astype(str).assign(pos=np.arange(len(links)))
    ba = ab[two_way].rename(columns={"from_node_id": "to_node_id",
                                     "to_node_id": "from_node_id"})
    arcs = pd.concat([ab, ba], ignore_index=True)
    arcs = arcs[arcs["from_node_id"] != arcs["to_node_id"]]
    key = ["from_node_id", "to_node_id", *same]
    dup = arcs[arcs.duplicated(key, keep=False)]
    if dup.empty:
        return
    groups = sorted((" & ".join(g.sort_values("pos")["link_id"]), g["pos"].min())
                    for _, g in dup.groupby(key, dropna=False))
    groups = [text for text, _ in sorted(groups, key=lambda t: t[1])]
    checker.message(f"link.csv: {len(groups)} sets of links are copies of one another (the "
                    "same nodes, direction, length, capacity, speed, lanes and uses: "
                    f"link_id {format_ids(groups)}); each "
                    "carries flow as a link of its own. If a row was repeated, or a two-way "
                    "link (directed false) is also given as its reverse, remove the copy.",
                    severity="warning", file="link.csv")


def _result(folder: Path, network, checker, notes) -> GmnsRead:
    return GmnsRead(folder, network, checker.errors(), checker.warnings(), list(notes),
                    list(checker.violations))


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _speed_unit(text) -> str | None:
    u = str(text).strip().lower()
    u = u.replace("per hour", "/hour").replace(" ", "")
    u = {"miles/hour": "mile/hour", "kilometers/hour": "kilometer/hour",
         "kilometres/hour": "kilometer/hour"}.get(u, u)
    if u in _SPEED_UNITS:
        return _SPEED_UNITS[u]
    u2 = str(text).strip().lower()
    return _SPEED_UNITS.get(u2)


def _lenient_numbers(table, units: dict[str, str], checker) -> None:
    """Read lists of numbers (``['2', '3']``) as their smallest value and numbers with a unit
    (``25 mph``) in the units of ``config.csv``, in place, each kind with one warning."""
    for col in LIST_NUMBERS:
        vals = table.columns.get(col)
        if vals is None:
            continue
        listed, unitful = [], []
        original: dict[int, str] = {}
        for i, v in enumerate(vals):
            if not v or _isfloat(v):
                continue
            items = [v]
            if v.startswith("[") and v.endswith("]"):
                items = [x.strip().strip("'\"").strip() for x in v[1:-1].split(",")]
            elif ";" in v:
                items = [x.strip() for x in v.split(";")]
            nums = []
            had_unit = False
            for item in items:
                if _isfloat(item):
                    nums.append(float(item))
                    continue
                got = _with_unit(item, col, units)
                if got is None:
                    nums = []
                    break
                nums.append(got)
                had_unit = True
            if not nums or not all(np.isfinite(nums)):
                continue  # the checker reports it as not a number
            original[i] = v
            vals[i] = repr(min(nums))
            (listed if len(items) > 1 or v.startswith("[") else unitful).append(i)
            if had_unit and len(items) > 1:
                unitful.append(i)
        for idx, problem, fix in (
                (listed, "is a list of values", "read as the smallest of each list (an "
                 "OpenStreetMap conversion writes a list where a way's attribute changes along "
                 "the link); split such links or write one number"),
                (unitful, "carries a unit", f"converted to the unit of config.csv "
                 f"({units['speed'] if col == 'free_speed' else units['long_length']}); write "
                 "plain numbers")):
            for i in idx:
                checker.add(Violation(table.name, int(table.lines[i]), col,
                                      shorten(original[i]), problem, fix, severity="warning"))
        table.columns[col] = vals


def _with_unit(item: str, col: str, units: dict[str, str]) -> float | None:
    m = _WITH_UNIT.match(item)
    if m is None:
        return None
    value, unit = float(m.group(1)), m.group(2).strip().lower()
    if col == "free_speed":
        u = _speed_unit(unit)
        if u is None:
            return None
        return value * _SPEED_IN_M_PER_H[u] / _SPEED_IN_M_PER_H[units["speed"]]
    if col == "length" and unit in _LENGTH_UNITS:
        return value * _LENGTH_IN_M[_LENGTH_UNITS[unit]] / _LENGTH_IN_M[units["long_length"]]
    return None


def _isfloat(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _ids(col: np.ndarray, id_type: str | None) -> np.ndarray:
    """Ids as Python ints where every one is a whole number (unless id_type says string), else
    as text; None stays None."""
    vals = [v for v in col if v is not None and not (isinstance(v, float) and v != v)]
    if id_type != "string" and vals and _all_whole(vals):
        out = np.empty(len(col), dtype=object)
        out[:] = [None if v is None or (isinstance(v, float) and v != v) else int(float(v))
                  for v in col]
        return out
    out = np.empty(len(col), dtype=object)
    out[:] = [None if v is None or (isinstance(v, float) and v != v) else
              (str(int(v)) if isinstance(v, float) and v == int(v) else str(v)) for v in col]
    return out


def _typed_repeats(checker, table, key: tuple[str, ...], fix: str, before: dict) -> None:
    """Rows whose key repeats an earlier row's once the ids are typed (``1`` and ``01``, ``2``
    and ``2.0`` are one integer id) but not as written (``before``: the key's columns before
    typing; the check on the text reports those): an error naming both lines."""
    from karvan.schema.check import _repeats

    if table is None or any(k not in table.columns for k in key) or not table.n_rows:
        return
    cols = [np.asarray(table.columns[k], dtype=object) for k in key]
    valid = np.ones(table.n_rows, dtype=bool)
    for c in cols:
        valid &= np.asarray([v is not None and not (isinstance(v, float) and v != v)
                             for v in c], dtype=bool)
    dup, first = _repeats(cols, valid)
    label = key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"
    for i, f0 in zip(dup, first, strict=True):
        if all(str(before[k][i]) == str(before[k][f0]) for k in key):
            continue  # repeated as written: the text check's
        line = int(table.lines[i]) if table.lines is not None else None
        other = f"line {int(table.lines[f0])}" if table.lines is not None else f"row {f0 + 1}"
        val = ", ".join(shorten(before[k][i]) for k in key)
        checker.add(Violation(table.name, line, label, val,
                              f"is the same id as on {other} once read as a number (1 and 01, "
                              "2 and 2.0 are one id)", fix))


def _int_ids(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Id columns of Python ints with none blank as int64 (others stay as they are)."""
    for c in cols:
        if c in df and len(df) and df[c].notna().all() and all(
                isinstance(v, (int, np.integer)) for v in df[c]):
            df[c] = df[c].astype(np.int64)
    return df


def _check_whole_ids(table, column: str, checker) -> None:
    """Ids of ``column`` that are not whole numbers, an error under ``id_type = integer``."""
    col = table.columns[column]
    for i, v in enumerate(col):
        if v is None or (isinstance(v, float) and v != v) or _all_whole([v]):
            continue
        line = None if table.lines is None else int(table.lines[i])
        row_id = None if table.ids is None or table.ids[i] is None else \
            f"{table.id_label} {shorten(table.ids[i])}"
        checker.add(Violation(table.name, line, column, shorten(v),
                              "is not a whole number, as config.csv's id_type = integer says",
                              "write whole-number ids below 2**53, or set id_type to string "
                              "in config.csv", row_id))


def _all_whole(vals) -> bool:
    try:
        num = np.asarray(vals, dtype=np.float64)
    except (ValueError, TypeError):
        return False
    return bool((np.isfinite(num) & (num == np.floor(num)) & (np.abs(num) < 2.0**53)).all())


def _type_ids(tables: dict, id_type: str | None, checker=None) -> None:
    """Ids that refer to each other get one type: integers only if every one of them is whole.
    Where config.csv says ``id_type = integer``, a node, link or zone id that is not a whole
    number (within 2**53) is an error of ``checker``."""
    groups = ([("node", "node_id"), ("node", "parent_node_id"), ("link", "from_node_id"),
               ("link", "to_node_id")],
              [("node", "zone_id"), ("zone", "zone_id"), ("zone", "super_zone")],
              [("link", "link_id"), ("link", "parent_link_id")])
    for group in groups:
        present = [(t, c) for t, c in group if t in tables and c in tables[t].columns]
        vals = [v for t, c in present for v in tables[t].columns[c]
                if v is not None and not (isinstance(v, float) and v != v)]
        kind = id_type or ("integer" if vals and _all_whole(vals) else "string")
        if id_type == "integer" and checker is not None:
            for t, c in present:  # the ids the graph is made of (optional parents: warnings)
                if c in ("node_id", "link_id", "from_node_id", "to_node_id", "zone_id"):
                    _check_whole_ids(tables[t], c, checker)
        for t, c in present:
            tables[t].columns[c] = _ids(tables[t].columns[c], kind)
            if tables[t].id_label == c:
                object.__setattr__(tables[t], "ids", tables[t].columns[c])


def _split_uses(v) -> str | None:
    if _blank(v):
        return None
    parts = [p.strip().lower() for p in str(v).replace(";", ",").split(",")]
    return ",".join(p for p in parts if p) or None


def _uses(tables: dict) -> dict[str, set[str]] | None:
    ud, ug = tables.get("use_definition"), tables.get("use_group")
    if ud is None and ug is None:
        return None
    uses: dict[str, set[str]] = {}
    if ud is not None and "use" in ud.columns:
        for u in ud.columns["use"]:
            if u is not None:
                uses[str(u).strip().lower()] = {str(u).strip().lower()}
    if ug is not None and {"use_group", "uses"} <= set(ug.columns):
        uses.update(_group_members(ug.columns["use_group"], ug.columns["uses"]))
    return uses


def _group_members(groups, members) -> dict[str, set[str]]:
    """use_group.csv's groups (lower case) and the uses each holds, as written."""
    out: dict[str, set[str]] = {}
    for g, m in zip(groups, members, strict=False):
        if not _blank(g):
            split = _split_uses(m)
            out[str(g).strip().lower()] = set(split.split(",")) if split else set()
    return out


def _check_uses(links, uses, checker) -> np.ndarray | None:
    if "allowed_uses" not in links.columns:
        return None
    split = np.asarray([_split_uses(v) for v in links.columns["allowed_uses"]], dtype=object)
    if uses is not None:
        known = set(uses)
        for i, u in enumerate(split):
            if u is None:
                continue
            unknown = sorted(set(u.split(",")) - known)
            if unknown:
                checker.add(Violation(
                    links.name, int(links.lines[i]) if links.lines is not None else None,
                    "allowed_uses", ", ".join(unknown),
                    "names uses that are in neither use_definition.csv nor use_group.csv",
                    "add them to use_definition.csv or correct them",
                    None if links.ids is None else f"link_id {links.ids[i]}"))
    return split


def links_barring_uses(network: Network) -> pd.Index:
    """Links whose ``allowed_uses`` admit some of the uses the links name but not every one (a
    path for bicycles, a lane for buses): the links that :func:`read_gmns` with ``use=`` keeps
    for some uses and leaves out for others. A use group counts as its members, as
    ``use_group.csv`` defines them, and ``all`` that no group defines as every use; uses that no
    link names (``parking`` in ``use_definition.csv``, say) do not count.

    Examples
    --------
    >>> import pandas as pd
    >>> from karvan.network.model import Network
    >>> links = pd.DataFrame({"from_node_id": [1, 2, 1, 2], "to_node_id": [2, 3, 3, 1],
    ...                       "allowed_uses": ["auto", "auto,bike", None, "ALL"]},
    ...                      index=[7, 8, 9, 10])
    >>> nodes = pd.DataFrame(index=[1, 2, 3])
    >>> links_barring_uses(Network(nodes, links, {}, "n")).tolist()  # 7 bars bicycles
    [7]
    """
    links = network.links
    if "allowed_uses" not in links:
        return links.index[:0]
    ug = network.config.get("tables", {}).get("use_group")
    groups = (_group_members(ug["use_group"], ug["uses"])
              if ug is not None and {"use_group", "uses"} <= set(ug.columns) else {})
    split = [_split_uses(u) for u in links["allowed_uses"]]
    given = [_expand(set(u.split(",")), groups) if u else None for u in split]
    every = set().union(*(g for g in given if g))
    barring = [g is not None and not g >= every for g in given]
    return links.index[np.asarray(barring, dtype=bool)]


def uses_note(net: Network) -> str | None:
    """The note :func:`read_gmns` warns (and ``karvan assign`` prints) where ``allowed_uses``
    bars some uses from some links (:func:`links_barring_uses`) and the network was read for
    every use: each class is then assigned on every link; None where it bars none."""
    barring = links_barring_uses(net)
    if not len(barring):
        return None
    own = len(net.links) - len(net.config.get("derived_links", []))  # not the connectors
    return (f"allowed_uses bars some uses from {len(barring)} of {own} links "
            f"(link_id {format_ids(barring)}), but every link is read for every class; to "
            "assign one use on its own links, pass --use USE (read_gmns(..., use=USE)), else "
            "--every-use (use=karvan.io.gmns.EVERY_USE) to say so.")


def capacity_lane_note(net: Network) -> str | None:
    """The note :func:`read_gmns` warns (and ``karvan assign`` prints) where links of more than
    one lane give a capacity, read as the whole link's: GMNS 0.96 defines it per lane, and
    nothing in a file says which it follows; None where no such link has a capacity."""
    links = net.links
    if not {"capacity", "lanes"} <= set(links.columns):
        return None
    lanes = pd.to_numeric(links["lanes"], errors="coerce")
    given = pd.to_numeric(links["capacity"], errors="coerce").notna() & (lanes > 1)
    if not given.any():
        return None
    return (f"capacity of {int(given.sum())} links with more than one lane (link_id "
            f"{format_ids(links.index[given])}) read as the whole link's capacity; GMNS 0.96 "
            "defines capacity per lane: if the file follows it, pass --capacity-per-lane "
            "(read_gmns(..., capacity_per_lane=True)), else --capacity-per-link "
            "(capacity_per_lane=False) to say so.")


#: ``allowed_uses`` that admits every use where no use group of that name says otherwise
ALL_USES = "all"


def _groups(uses: dict[str, set[str]] | None) -> dict[str, set[str]]:
    """The use groups of :func:`_uses` (its uses map to themselves)."""
    return {k: v for k, v in (uses or {}).items() if v != {k}}


def _expand(names: set[str], groups: dict[str, set[str]]) -> set[str] | None:
    """The uses that ``names`` stand for, each group replaced by its members (through nested
    groups); None for every use (``all`` where no group of that name is defined)."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in found:
            continue
        if n == ALL_USES and n not in groups:
            return None
        found.add(n)
        todo.extend(groups.get(n, ()))
    return {n for n in found if n not in groups}


def _admits(allowed, wanted: set[str] | None, groups: dict[str, set[str]]) -> bool:
    """Whether a link's ``allowed_uses`` (as :func:`_split_uses` gives it; blank admits every
    use) admits every use that ``wanted`` (:func:`_expand` of the use asked for) stands for."""
    if not isinstance(allowed, str) or not allowed:
        return True
    given = _expand(set(allowed.split(",")), groups)
    return given is None or (wanted is not None and wanted <= given)


def _zones(nodes: pd.DataFrame, links: pd.DataFrame, how: str, checker, notes: list[str]):
    """Zones named by several nodes: connected through a centroid, loaded at the first node, or
    an error; returns the nodes and what was done."""
    info = {"members": {}, "centroids": [], "connectors": pd.DataFrame(), "int_ids": False}
    if "zone_id" not in nodes:
        return nodes, links, info
    z = nodes["zone_id"]
    present = z.notna()
    info["int_ids"] = bool(present.any()) and all(isinstance(v, (int, np.integer))
                                                  for v in z[present])
    dup = z[present & z.duplicated(keep=False)]
    if not len(dup):
        return nodes, links, info
    zones = list(dict.fromkeys(dup))
    if how == "strict":
        checker.message(
            f"node.csv: {len(zones)} zones have more than one node (zone_id "
            f"{format_ids(zones)}; node_id {format_ids(nodes.loc[dup.index, 'node_id'])}); "
            "karvan loads a zone at one centroid node: keep zone_id on that node only, or read "
            "with zone_nodes='connect'.", file="node.csv")
        return nodes, links, info
    members = {zid: list(nodes.loc[dup.index[dup == zid], "node_id"]) for zid in zones}
    info["members"] = members
    nodes = nodes.copy()
    if how == "first":
        for ns in members.values():
            nodes.loc[nodes["node_id"].isin(ns[1:]), "zone_id"] = None
        notes.append(f"node.csv: {len(zones)} zones have more than one node (zone_id "
                     f"{format_ids(zones)}); each is loaded at the first of its nodes "
                     "(zone_nodes='first').")
        return nodes, links, info
    node_ids = list(nodes["node_id"])
    int_nodes = all(isinstance(v, (int, np.integer)) for v in node_ids)
    link_ids = list(links["link_id"])
    int_links = all(isinstance(v, (int, np.integer)) for v in link_ids)
    next_node = max(node_ids) + 1 if int_nodes else None
    next_link = max(link_ids) + 1 if int_links and link_ids else (0 if int_links else None)
    taken_nodes, taken_links = set(map(str, node_ids)), set(map(str, link_ids))
    cent_rows, conn_rows = [], []
    for zid, ns in members.items():
        if int_nodes:
            cid, next_node = next_node, next_node + 1
        else:
            cid = _fresh(f"zone_{zid}", taken_nodes)
        xy = nodes.loc[nodes["node_id"].isin(ns), ["x_coord", "y_coord"]].mean()
        cent_rows.append({"node_id": cid, "x_coord": xy["x_coord"], "y_coord": xy["y_coord"],
                          "node_type": "centroid", "zone_id": zid})
        info["centroids"].append(cid)
        for n in ns:
            if int_links:
                lid, next_link = next_link, next_link + 1
            else:
                lid = _fresh(f"connector_{zid}_{n}", taken_links)
            conn_rows.append({"link_id": lid, "from_node_id": cid, "to_node_id": n,
                              "directed": False, "length": 0.0, "free_flow_time": 0.0,
                              "vdf": "constant", "facility_type": "connector"})
    nodes.loc[nodes["node_id"].isin([n for ns in members.values() for n in ns]), "zone_id"] = None
    nodes["passable"] = True
    cent = pd.DataFrame(cent_rows)
    cent["passable"] = False  # a path may start or end at a centroid, never pass through it
    nodes = pd.concat([nodes, cent], ignore_index=True)
    info["connectors"] = pd.DataFrame(conn_rows).set_index("link_id")
    notes.append(
        f"node.csv: {len(zones)} zones have more than one node (zone_id {format_ids(zones)}); "
        f"each is loaded at a centroid of its own (node_id {format_ids(info['centroids'])}) "
        "joined to each of its nodes by a connector of zero time and no capacity limit "
        "(zone_nodes='connect'; 'first' loads a zone at its first node instead).")
    return nodes, links, info


def _add_connectors(links: pd.DataFrame, info: dict) -> pd.DataFrame:
    conn = info["connectors"]
    if not len(conn):
        return links
    conn = conn.reset_index()
    out = pd.concat([links, conn], ignore_index=True)
    out["directed"] = out["directed"].astype(bool)
    return out


def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _order(columns, first) -> list[str]:
    cols = list(columns)
    return [c for c in first if c in cols] + [c for c in cols if c not in first]
