"""GMNS 0.96 network folders: ``node.csv``, ``link.csv`` and the optional ``config.csv``,
``zone.csv``, ``use_definition.csv``, ``use_group.csv`` and ``demand.csv``.

Read leniently, write strictly:

- booleans as TRUE/FALSE, true/false, 1/0, t/f, yes/no; a blank ``directed`` means directed, with a
  warning;
- ``allowed_uses`` split on ``,`` or ``;``, case-insensitive, checked against ``use_definition`` and
  ``use_group`` (groups resolved recursively) when those tables exist;
- free-text units in ``config.csv`` normalised (``mi``/``miles`` -> ``mile``, ``mph`` ->
  ``mile/hour``, ``km/h`` -> ``kilometer/hour``, a bare EPSG number -> ``EPSG:n``);
- columns outside the spec are kept and written back unchanged.

karvan reads ``capacity`` as the capacity of the whole link in its direction of travel; a file
that gives capacity per lane is converted with ``capacity_per_lane=True`` (capacity x lanes).
Where a link has no ``free_flow_time`` column it is derived, in hours, from ``length`` and
``free_speed`` and the units in ``config.csv``; derived columns are not written back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.network.demand import Demand
from karvan.network.model import Network

GMNS_VERSION = "0.96"
NODE_REQUIRED = ("node_id", "x_coord", "y_coord")
LINK_REQUIRED = ("link_id", "from_node_id", "to_node_id", "directed")
NODE_NUMERIC = ("x_coord", "y_coord", "z_coord")
LINK_NONNEG = ("length", "capacity", "free_speed", "lanes", "toll", "free_flow_time", "row_width")
CONFIG_FIELDS = ("dataset_name", "short_length", "long_length", "speed", "crs",
                 "geometry_field_format", "currency", "version_number", "id_type")

_TRUE = {"true", "1", "1.0", "t", "yes", "y"}
_FALSE = {"false", "0", "0.0", "f", "no", "n"}
_LENGTH_UNITS = {
    "mile": "mile", "mi": "mile", "miles": "mile",
    "kilometer": "kilometer", "kilometre": "kilometer", "km": "kilometer", "kilometers": "kilometer",
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
}
_SPEED_IN_M_PER_H = {"mile/hour": 1609.344, "kilometer/hour": 1000.0, "meter/second": 3600.0}


class GmnsWarning(UserWarning):
    """A GMNS file was read with a lenient interpretation worth knowing about."""


def normalise_config(raw: dict[str, Any], *, where: str = "config.csv") -> dict[str, Any]:
    """Normalise free-text units and CRS of a GMNS ``config`` row; raise on unknown units."""
    cfg = {k: v for k, v in raw.items() if not _blank(v)}
    problems = []
    for key in ("long_length", "short_length"):
        if key in cfg:
            u = str(cfg[key]).strip().lower()
            if u not in _LENGTH_UNITS:
                problems.append(
                    f"{where}: {key} {cfg[key]!r} is not a known length unit; use one of "
                    "mile, kilometer, meter, foot."
                )
            else:
                cfg[key] = _LENGTH_UNITS[u]
    if "speed" in cfg:
        u = str(cfg["speed"]).strip().lower().replace("per hour", "/hour").replace(" ", "")
        u = {"mile/hour": "mile/hour", "miles/hour": "mile/hour",
             "kilometer/hour": "kilometer/hour", "kilometers/hour": "kilometer/hour"}.get(u, u)
        if u not in _SPEED_UNITS:
            problems.append(
                f"{where}: speed {cfg['speed']!r} is not a known speed unit; use mile/hour, "
                "kilometer/hour or meter/second."
            )
        else:
            cfg["speed"] = _SPEED_UNITS[u]
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
            problems.append(f"{where}: id_type {raw['id_type']!r} must be string or integer.")
    if problems:
        raise InputError(problems)
    return cfg


def read_gmns(
    folder: str | os.PathLike,
    *,
    capacity_per_lane: bool = False,
    use: str | None = None,
) -> Network:
    """Read a GMNS network folder.

    Parameters
    ----------
    folder
        A folder with ``node.csv`` and ``link.csv`` (and optionally the other GMNS tables).
    capacity_per_lane
        Multiply ``capacity`` by ``lanes`` (GMNS defines capacity per lane).
    use
        Keep only links whose ``allowed_uses`` admit this use (or a group containing it); links
        with blank ``allowed_uses`` admit every use.

    Returns
    -------
    Network
        Nodes indexed by ``node_id``, links by ``link_id``; every column read is kept.

    Raises
    ------
    InputError
        Listing every problem found, each with file, line and id: missing files or columns,
        duplicate ids, links to unknown nodes, non-numeric or negative values, unknown uses,
        zones that are not in ``zone.csv``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; a GMNS network is a folder with node.csv "
                         "and link.csv.")
    problems: list[str] = []
    nodes = _read_csv(folder / "node.csv", problems, required=True)
    links = _read_csv(folder / "link.csv", problems, required=True)
    if nodes is None or links is None:
        raise InputError(problems, str(folder))
    cfg_table = _read_csv(folder / "config.csv", problems, required=False)
    config: dict[str, Any] = {}
    if cfg_table is not None:
        if len(cfg_table) != 1:
            problems.append(f"config.csv: has {len(cfg_table)} rows; GMNS says it has exactly one.")
        if len(cfg_table):
            try:
                config = normalise_config(cfg_table.iloc[0].to_dict())
            except InputError as e:
                problems.extend(e.problems)
    n_before = len(problems)
    _require(nodes, NODE_REQUIRED, "node.csv", problems)
    _require(links, LINK_REQUIRED[:3], "link.csv", problems)
    if len(problems) > n_before:  # the checks below need the required columns
        raise InputError(problems, str(folder))
    id_type = config.get("id_type")
    # ids that refer to each other get one type: integers only if every one of them is whole
    node_refs = [(nodes, "node_id"), (nodes, "parent_node_id"), (links, "from_node_id"),
                 (links, "to_node_id")]
    zone_refs = [(nodes, "zone_id")]
    link_refs = [(links, "link_id"), (links, "parent_link_id")]
    for group in (node_refs, zone_refs, link_refs):
        present = [(df, c) for df, c in group if c in df]
        kind = id_type or ("integer" if all(_whole(df[c]) for df, c in present) else "string")
        for df, c in present:
            df[c] = _ids(df[c], kind)
    config["_zone_id_type"] = "integer" if "zone_id" in nodes and len(nodes["zone_id"].dropna()) \
        and all(isinstance(z, (int, np.integer)) for z in nodes["zone_id"].dropna()) else "string"
    _check_ids(nodes, "node_id", "node.csv", problems)
    _check_ids(links, "link_id", "link.csv", problems)
    for col in NODE_NUMERIC:
        _numeric(nodes, col, "node.csv", "node_id", problems, nonneg=False,
                 required=col in NODE_REQUIRED)
    for col in LINK_NONNEG:
        _numeric(links, col, "link.csv", "link_id", problems, nonneg=True)
    known = set(nodes["node_id"])
    for end in ("from_node_id", "to_node_id"):
        bad = ~links[end].isin(known)
        if bad.any():
            problems.append(
                f"link.csv: {int(bad.sum())} links have a {end} not in node.csv (lines "
                f"{format_ids(links.index[bad] + 2)}; link_id {format_ids(links.loc[bad, 'link_id'])}"
                f"; {end} {format_ids(links.loc[bad, end].unique())}); add the nodes or fix the ids."
            )
    if "directed" in links:
        raw = links["directed"]
        blank = raw.isna() | (raw.astype(str).str.strip() == "")
        s = raw.astype(str).str.strip().str.lower()
        bad = ~blank & ~s.isin(_TRUE | _FALSE)
        if bad.any():
            problems.append(
                f"link.csv: directed must be true or false (TRUE/FALSE, 1/0 also read); lines "
                f"{format_ids(links.index[bad] + 2)} have {format_ids(raw[bad].unique())}."
            )
        if blank.any():
            warnings.warn(
                f"link.csv: {int(blank.sum())} links have a blank 'directed' (link_id "
                f"{format_ids(links.loc[blank, 'link_id'])}); read as directed.",
                GmnsWarning, stacklevel=2,
            )
        links["directed"] = ~s.isin(_FALSE)
    else:
        warnings.warn("link.csv has no 'directed' column (GMNS requires it); every link is read "
                      "as directed.", GmnsWarning, stacklevel=2)
        links["directed"] = True
    uses = _read_uses(folder, problems)
    if "allowed_uses" in links:
        links["allowed_uses"] = links["allowed_uses"].map(_split_uses)
        if uses is not None:
            known_uses = set(uses)
            bad_rows = [i for i, u in links["allowed_uses"].items()
                        if isinstance(u, str) and not set(u.split(",")) <= known_uses]
            if bad_rows:
                unknown = sorted({x for i in bad_rows
                                  for x in links.at[i, "allowed_uses"].split(",")} - known_uses)
                problems.append(
                    f"link.csv: {len(bad_rows)} links name uses that are in neither "
                    f"use_definition.csv nor use_group.csv (lines "
                    f"{format_ids([i + 2 for i in bad_rows])}: {format_ids(unknown)})."
                )
    zone_table = _read_csv(folder / "zone.csv", problems, required=False)
    if zone_table is not None and "zone_id" in nodes:
        if "zone_id" not in zone_table:
            problems.append("zone.csv: no zone_id column.")
        else:
            zids = set(_ids(zone_table["zone_id"], id_type))
            z = nodes["zone_id"]
            bad = z.notna() & ~z.isin(zids)
            if bad.any():
                problems.append(
                    f"node.csv: {int(bad.sum())} nodes name a zone_id not in zone.csv (lines "
                    f"{format_ids(nodes.index[bad] + 2)}: {format_ids(z[bad].unique())})."
                )
    if "zone_id" in nodes:
        z = nodes["zone_id"].dropna()
        dup = z[z.duplicated(keep=False)]
        if len(dup):
            problems.append(
                f"node.csv: {dup.nunique()} zones have more than one node (zone_id "
                f"{format_ids(dup.unique())} on lines {format_ids(dup.index + 2)}; node_id "
                f"{format_ids(nodes.loc[dup.index, 'node_id'])}); karvan loads a zone at one "
                "centroid node: keep zone_id on that node only."
            )
    # checked here, with the other problems, rather than when the times are derived
    if "free_flow_time" not in links and {"length", "free_speed"} <= set(links.columns):
        zero = (links["free_speed"] <= 0) & (links["length"] > 0)
        if zero.any():
            problems.append(
                f"link.csv: {int(zero.sum())} links have free_speed 0 and a positive length "
                f"(lines {format_ids(links.index[zero] + 2)}; link_id "
                f"{format_ids(links.loc[zero, 'link_id'])}); give them a free_speed > 0 or add "
                "a free_flow_time column."
            )
    if "free_flow_time" not in links and "length" in links:
        no_speed = links["length"].fillna(0).gt(0) & (
            links["free_speed"].isna() if "free_speed" in links else True)
        if no_speed.any():
            problems.append(
                f"link.csv: {int(no_speed.sum())} links have a length but no free_speed (lines "
                f"{format_ids(links.index[no_speed] + 2)}; link_id "
                f"{format_ids(links.loc[no_speed, 'link_id'])}); their travel time would be "
                "unknown: give a free_speed or add a free_flow_time column."
            )
    # a use no table defines would silently keep only the links open to every use
    if use is not None and uses is not None and use.strip().lower() not in uses:
        problems.append(
            f"use {use!r} is in neither use_definition.csv nor use_group.csv; known uses: "
            f"{format_ids(sorted(uses), limit=20)}."
        )
    if problems:
        raise InputError(problems, str(folder))
    derived = []
    if capacity_per_lane and "lanes" in links and "capacity" in links:
        links["capacity"] = links["capacity"] * links["lanes"].fillna(1)
        config["capacity_per_lane"] = True
    if "free_flow_time" not in links:
        links["free_flow_time"] = _free_flow_time(links, config, folder)
        derived.append("free_flow_time")
    config["derived_columns"] = derived
    config["time_unit"] = config.get("time_unit", "hour")
    # the helper tables go back out with the network
    config["tables"] = {n: t for n, t in (("zone", zone_table),
                                          ("use_definition", _read_csv(
                                              folder / "use_definition.csv", [], required=False)),
                                          ("use_group", _read_csv(
                                              folder / "use_group.csv", [], required=False)))
                        if t is not None}
    if use is not None and "allowed_uses" in links:
        members = _use_members(uses or {}, use.strip().lower())
        keep = links["allowed_uses"].map(
            lambda u: not isinstance(u, str) or bool(set(u.split(",")) & members)).astype(bool)
        links = links[keep]
    nodes = nodes.set_index("node_id", drop=True)
    links = links.set_index("link_id", drop=True)
    name = str(config.get("dataset_name", folder.name))
    config["source"] = str(folder)
    return Network(nodes, links, config, name)


def read_gmns_demand(path: str | os.PathLike, network: Network | None = None) -> Demand:
    """Read a long demand table: origin, destination, volume [, segment].

    Accepted column names: ``o_zone_id``/``orig_taz``/``origin``,
    ``d_zone_id``/``dest_taz``/``destination``, ``volume``/``total``/``demand``/``flow``, and an
    optional segment column ``segment``/``class``/``mode``/``agent_type``. With ``network``, the
    zones are the network's (in its order) and unknown zones are an error.
    """
    path = Path(path)
    problems: list[str] = []
    table = _read_csv(path, problems, required=True)
    if table is None:
        raise InputError(problems)
    cols = {c.lower(): c for c in table.columns}

    def pick(*names):
        return next((cols[n] for n in names if n in cols), None)

    o = pick("o_zone_id", "orig_taz", "origin", "from_zone_id")
    d = pick("d_zone_id", "dest_taz", "destination", "to_zone_id")
    v = pick("volume", "total", "demand", "flow", "trips")
    s = pick("segment", "class", "mode", "agent_type")
    missing = [n for n, c in (("origin (o_zone_id)", o), ("destination (d_zone_id)", d),
                              ("volume", v)) if c is None]
    if missing:
        raise InputError(f"{path.name}: no column for {', '.join(missing)}; columns are "
                         f"{', '.join(table.columns)}.")
    id_type = network.config.get("id_type") if network is not None else None
    if id_type is None and network is not None:
        # zone ids in the demand take the type of the network's zone ids
        id_type = network.config.get("_zone_id_type")
    table[o] = _ids(table[o], id_type)
    table[d] = _ids(table[d], id_type)
    zone_ids = tuple(network.zones.index) if network is not None else None
    vals = pd.to_numeric(table[v], errors="coerce")
    bad = vals.isna() | (vals < 0)
    if bad.any():
        problems.append(
            f"{path.name}: {int(bad.sum())} rows have a missing, non-numeric or negative {v} "
            f"(lines {format_ids(table.index[bad] + 2)})."
        )
    if zone_ids is not None:
        known = set(zone_ids)
        for col in (o, d):
            unk = ~table[col].isin(known)
            if unk.any():
                problems.append(
                    f"{path.name}: {int(unk.sum())} rows name a {col} that is not a zone of the "
                    f"network (lines {format_ids(table.index[unk] + 2)}; "
                    f"{format_ids(table.loc[unk, col].unique())}); set zone_id on their nodes."
                )
    if problems:
        raise InputError(problems)
    return Demand.from_long(table, origin=o, destination=d, value=v, segment=s, zone_ids=zone_ids)


def write_gmns(network: Network, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``network`` as a GMNS 0.96 folder, strictly: spec columns first, booleans as
    true/false, ``config.csv`` with explicit units and version. Columns derived on reading are
    left out; every other column is written. The folder appears whole or not at all.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise InputError(f"{folder} exists; pass overwrite=True to replace it.")
    cfg = {k: v for k, v in network.config.items() if k in CONFIG_FIELDS}
    cfg.setdefault("dataset_name", network.name)
    cfg["version_number"] = GMNS_VERSION
    cfg.setdefault("geometry_field_format", "WKT")
    derived = set(network.config.get("derived_columns", []))
    nodes = network.nodes.reset_index()
    links = network.links.reset_index()
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
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        nodes.to_csv(tmp / "node.csv", index=False)
        links.to_csv(tmp / "link.csv", index=False)
        pd.DataFrame([{k: cfg.get(k, "") for k in CONFIG_FIELDS}]).to_csv(tmp / "config.csv",
                                                                          index=False)
        for name, table in network.config.get("tables", {}).items():
            table.to_csv(tmp / f"{name}.csv", index=False)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


# -- helpers -------------------------------------------------------------------------------------


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""


def _read_csv(path: Path, problems: list[str], *, required: bool) -> pd.DataFrame | None:
    if not path.exists():
        if required:
            problems.append(f"{path.name} is missing from {path.parent}.")
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "NaN"],
                         skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        problems.append(f"{path.name}: cannot be read as CSV ({e}).")
        return None
    df.columns = [c.strip() for c in df.columns]
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].str.strip()
    return df


def _require(df: pd.DataFrame, cols, name: str, problems: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        problems.append(f"{name}: missing required column(s) {', '.join(missing)}.")


def _whole(col: pd.Series) -> bool:
    """Whether every non-blank value of an id column is a whole number."""
    num = pd.to_numeric(col, errors="coerce")
    return bool((col.isna() | (num.notna() & (num == np.round(num)))).all())


def _ids(col: pd.Series, id_type: str | None) -> pd.Series:
    """Ids as int where every one is a whole number (unless id_type says string), else str."""
    if id_type == "string":
        out = col.astype(object).where(col.notna(), None)
        # a numeric column read as float ("1.0") back to its text
        return out.map(lambda v: v if v is None or isinstance(v, str) else (
            str(int(v)) if isinstance(v, float) and v == int(v) else str(v)))
    num = pd.to_numeric(col, errors="coerce")
    ok = col.isna() | (num.notna() & (num == np.round(num)))
    if ok.all() and col.notna().any():
        out = num.astype("Int64")
        return out.astype(object).where(out.notna(), None) if out.isna().any() \
            else out.astype(np.int64)
    return col.astype(object).where(col.notna(), None)


def _check_ids(df: pd.DataFrame, col: str, name: str, problems: list[str]) -> None:
    blank = df[col].isna()
    if blank.any():
        problems.append(f"{name}: {int(blank.sum())} rows have no {col} "
                        f"(lines {format_ids(df.index[blank] + 2)}).")
    dup = df[col].duplicated(keep=False) & ~blank
    if dup.any():
        problems.append(
            f"{name}: {df.loc[dup, col].nunique()} duplicate {col} "
            f"({format_ids(df.loc[dup, col].unique())} on lines {format_ids(df.index[dup] + 2)});"
            " ids must be unique."
        )


def _numeric(df, col, name, id_col, problems, *, nonneg: bool, required: bool = False) -> None:
    if col not in df:
        return
    raw = df[col]
    vals = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & vals.isna()
    if bad.any():
        problems.append(
            f"{name}: {int(bad.sum())} rows have a non-numeric {col} (lines "
            f"{format_ids(df.index[bad] + 2)}; {id_col} {format_ids(df.loc[bad, id_col])}: "
            f"{format_ids(raw[bad].unique())})."
        )
    if required:
        miss = raw.isna()
        if miss.any():
            problems.append(f"{name}: {int(miss.sum())} rows have no {col} (lines "
                            f"{format_ids(df.index[miss] + 2)}).")
    if nonneg:
        neg = vals < 0
        if neg.any():
            problems.append(
                f"{name}: {int(neg.sum())} rows have a negative {col} (lines "
                f"{format_ids(df.index[neg] + 2)}; {id_col} {format_ids(df.loc[neg, id_col])}); "
                f"{col} must be >= 0."
            )
    df[col] = vals


def _split_uses(v) -> str | None:
    if _blank(v):
        return None
    parts = [p.strip().lower() for p in str(v).replace(";", ",").split(",")]
    return ",".join(p for p in parts if p)


def _read_uses(folder: Path, problems: list[str]) -> dict[str, set[str]] | None:
    ud = _read_csv(folder / "use_definition.csv", problems, required=False)
    ug = _read_csv(folder / "use_group.csv", problems, required=False)
    if ud is None and ug is None:
        return None
    uses: dict[str, set[str]] = {}
    if ud is not None and "use" in ud:
        for u in ud["use"].dropna():
            uses[u.strip().lower()] = {u.strip().lower()}
    if ug is not None and {"use_group", "uses"} <= set(ug.columns):
        for _, row in ug.iterrows():
            members = _split_uses(row["uses"])
            uses[str(row["use_group"]).strip().lower()] = set(members.split(",")) if members \
                else set()
    return uses


def _use_members(uses: dict[str, set[str]], use: str) -> set[str]:
    """The use itself and every group that contains it, directly or through other groups."""
    found = {use}
    changed = True
    while changed:
        changed = False
        for name, members in uses.items():
            if name not in found and members & found:
                found.add(name)
                changed = True
    return found


def _free_flow_time(links: pd.DataFrame, config: dict, folder: Path) -> pd.Series:
    if "length" not in links or "free_speed" not in links:
        return pd.Series(0.0, index=links.index)
    lu = config.get("long_length", "kilometer")
    su = config.get("speed", "kilometer/hour")
    length_m = links["length"].astype(float) * _LENGTH_IN_M[lu]
    speed_m_per_h = links["free_speed"].astype(float) * _SPEED_IN_M_PER_H[su]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = length_m / speed_m_per_h
    # links with free_speed 0 and a positive length were reported by read_gmns
    return t.replace([np.inf, -np.inf], np.nan).fillna(0.0)


def _order(columns, first) -> list[str]:
    cols = list(columns)
    return [c for c in first if c in cols] + [c for c in cols if c not in first]
