"""Readers for the TNTP test-problem format (Transportation Networks for Research).

Files: ``<name>_net.tntp`` (links), ``<name>_trips.tntp`` (OD demand), ``<name>_node.tntp``
(coordinates, optional) and ``<name>_flow.tntp`` (best-known link flows). Fields are separated
by white space, data rows of net files end in ``;``, lines starting with ``~`` are comments, and
a block of ``<TAG> value`` lines closed by ``<END OF METADATA>`` opens net and trips files.

Zones are nodes ``1..Z``. Nodes below ``<FIRST THRU NODE>`` may start or end a path but never lie
inside one (``passable`` False). Generalized cost is time + toll factor x toll + distance factor x
length; the factors come from ``<TOLL FACTOR>``/``<DISTANCE FACTOR>`` where a file states them, or
from the caller.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError
from karvan.network.demand import Demand
from karvan.network.model import Network

_PAIR = re.compile(r"(\S+)\s*:\s*([^;\s]+)\s*;?")
_TAG = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")
NET_COLUMNS = ("init_node", "term_node", "capacity", "length", "free_flow_time", "b", "power",
               "speed", "toll", "link_type")


@dataclass(frozen=True, slots=True)
class TntpProblem:
    """A TNTP network with its demand and the cost weights it was published with."""

    network: Network
    demand: Demand
    toll_factor: float
    distance_factor: float


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None


def _metadata(lines: list[str], path: Path, problems: list[str]) -> tuple[dict[str, str], int]:
    meta: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _TAG.match(line)
        if not m:
            continue
        tag = " ".join(m.group(1).upper().split())
        if tag == "END OF METADATA":
            return meta, i + 1
        meta[tag] = m.group(2)
    problems.append(f"{path.name}: no <END OF METADATA> line; is this a TNTP file?")
    return meta, len(lines)


def _meta_number(meta, tag, path, problems, *, kind=float, required=True):
    if tag not in meta:
        if required:
            problems.append(f"{path.name}: metadata <{tag}> is missing.")
        return None
    try:
        return kind(float(meta[tag].split()[0])) if kind is int else kind(meta[tag].split()[0])
    except (ValueError, IndexError):
        problems.append(f"{path.name}: metadata <{tag}> is {meta[tag]!r}, not a number.")
        return None


def read_tntp_net(path: str | os.PathLike) -> tuple[Network, dict[str, float]]:
    """Read a ``_net.tntp`` file.

    Returns
    -------
    network
        Nodes ``1..N`` (zones ``1..Z`` carry ``zone_id``), one directed BPR link per row with
        ``link_id`` 1.. in file order and the TNTP columns kept (``b`` -> ``alpha``,
        ``power`` -> ``beta``).
    factors
        ``toll_factor`` and ``distance_factor`` if the file states them (else absent).

    Raises
    ------
    InputError
        With every problem found: malformed rows (file and line), counts that disagree with the
        metadata, negative values, non-positive capacity on a congestible link.
    """
    path = Path(path)
    lines = _read_lines(path)
    problems: list[str] = []
    meta, start = _metadata(lines, path, problems)
    n_zones = _meta_number(meta, "NUMBER OF ZONES", path, problems, kind=int)
    n_nodes = _meta_number(meta, "NUMBER OF NODES", path, problems, kind=int)
    n_links = _meta_number(meta, "NUMBER OF LINKS", path, problems, kind=int)
    ftn = _meta_number(meta, "FIRST THRU NODE", path, problems, kind=int, required=False)
    factors = {}
    for tag, key in (("TOLL FACTOR", "toll_factor"), ("DISTANCE FACTOR", "distance_factor")):
        v = _meta_number(meta, tag, path, problems, required=False)
        if v is not None:
            factors[key] = v
    rows = []
    where = []
    for i in range(start, len(lines)):
        raw = lines[i].strip()
        if not raw or raw.startswith("~"):
            continue
        raw = raw.rstrip(";").strip()
        parts = raw.replace(";", " ").split()
        if len(parts) < 10:
            problems.append(
                f"{path.name} line {i + 1}: {len(parts)} fields, expected 10 "
                f"({' '.join(NET_COLUMNS)})."
            )
            continue
        try:
            vals = [float(p) for p in parts[:10]]
        except ValueError:
            bad = [p for p in parts[:10] if not _isfloat(p)]
            problems.append(f"{path.name} line {i + 1}: non-numeric field(s) {', '.join(bad)}.")
            continue
        rows.append(vals)
        where.append(i + 1)
    if problems and not rows:
        raise InputError(problems, str(path))
    df = pd.DataFrame(rows, columns=list(NET_COLUMNS))
    line_no = np.asarray(where)
    for col in ("capacity", "length", "free_flow_time", "b", "power", "toll"):
        bad = line_no[(df[col] < 0).to_numpy() | ~np.isfinite(df[col].to_numpy())]
        if len(bad):
            problems.append(
                f"{path.name}: {len(bad)} links have a negative or non-finite {col} "
                f"(lines {_first(bad)}); {col} must be >= 0."
            )
    congestible = (df["b"] > 0) & (df["free_flow_time"] > 0)
    bad = line_no[(congestible & ~(df["capacity"] > 0)).to_numpy()]
    if len(bad):
        problems.append(
            f"{path.name}: {len(bad)} links have capacity <= 0 with b > 0 (lines {_first(bad)}); "
            "BPR needs a positive capacity."
        )
    if n_links is not None and len(df) != n_links:
        problems.append(
            f"{path.name}: <NUMBER OF LINKS> says {n_links} but {len(df)} link rows were read."
        )
    ends = pd.concat([df["init_node"], df["term_node"]])
    nonint = ends[ends != np.round(ends)]
    if len(nonint):
        problems.append(f"{path.name}: node ids must be whole numbers ({_first(nonint.unique())}).")
    if n_nodes is not None and len(df):
        out = ends[(ends < 1) | (ends > n_nodes)].unique()
        if len(out):
            problems.append(
                f"{path.name}: links name nodes outside 1..{n_nodes} (<NUMBER OF NODES>): "
                f"{_first(out.astype(int))}."
            )
    if n_zones is not None and n_nodes is not None and n_zones > n_nodes:
        problems.append(f"{path.name}: <NUMBER OF ZONES> {n_zones} exceeds <NUMBER OF NODES>.")
    if problems:
        raise InputError(problems, str(path))
    node_ids = np.arange(1, n_nodes + 1)
    ftn = 1 if ftn is None else ftn
    nodes = pd.DataFrame(
        {
            "zone_id": pd.array([i if i <= n_zones else pd.NA for i in node_ids], dtype="Int64"),
            "passable": node_ids >= ftn,
        },
        index=pd.Index(node_ids, name="node_id"),
    )
    links = pd.DataFrame(
        {
            "from_node_id": df["init_node"].astype(np.int64).to_numpy(),
            "to_node_id": df["term_node"].astype(np.int64).to_numpy(),
            "directed": True,
            "capacity": df["capacity"].to_numpy(),
            "length": df["length"].to_numpy(),
            "free_flow_time": df["free_flow_time"].to_numpy(),
            "vdf": "bpr",
            "alpha": df["b"].to_numpy(),
            "beta": df["power"].to_numpy(),
            "speed": df["speed"].to_numpy(),
            "toll": df["toll"].to_numpy(),
            "link_type": df["link_type"].astype(np.int64).to_numpy(),
        },
        index=pd.Index(np.arange(1, len(df) + 1), name="link_id"),
    )
    config = {"format": "tntp", "first_thru_node": ftn, "source": str(path), **factors}
    name = path.name.removesuffix(".tntp").removesuffix("_net")
    return Network(nodes, links, config, name), factors


def read_tntp_trips(path: str | os.PathLike, *, n_zones: int | None = None) -> Demand:
    """Read a ``_trips.tntp`` file into a one-matrix :class:`Demand` over zones ``1..Z``.

    Intrazonal entries are kept in the matrix (they never load a link). The sum is checked
    against ``<TOTAL OD FLOW>`` (relative tolerance 1e-6).
    """
    path = Path(path)
    lines = _read_lines(path)
    problems: list[str] = []
    meta, start = _metadata(lines, path, problems)
    z = _meta_number(meta, "NUMBER OF ZONES", path, problems, kind=int)
    total = _meta_number(meta, "TOTAL OD FLOW", path, problems, required=False)
    if n_zones is not None and z is not None and z != n_zones:
        problems.append(
            f"{path.name}: <NUMBER OF ZONES> is {z} but the network has {n_zones} zones."
        )
    if z is None:
        raise InputError(problems, str(path))
    m = np.zeros((z, z))
    origin = None
    for i in range(start, len(lines)):
        raw = lines[i].strip()
        if not raw or raw.startswith("~"):
            continue
        if raw.lower().startswith("origin"):
            parts = raw.split()
            try:
                origin = int(parts[1])
            except (IndexError, ValueError):
                problems.append(f"{path.name} line {i + 1}: cannot read the origin in {raw!r}.")
                origin = None
                continue
            if not 1 <= origin <= z:
                problems.append(
                    f"{path.name} line {i + 1}: origin {origin} is outside zones 1..{z}."
                )
                origin = None
            continue
        if origin is None:
            if not problems or "before any" not in problems[-1]:
                problems.append(f"{path.name} line {i + 1}: OD entries before any 'Origin' line.")
            continue
        pairs = _PAIR.findall(raw)
        leftover = _PAIR.sub("", raw).strip()
        if leftover:
            problems.append(f"{path.name} line {i + 1}: cannot read {leftover!r} as 'dest : flow;'.")
        for d_s, v_s in pairs:
            try:
                d = int(d_s)
                v = float(v_s)
            except ValueError:
                problems.append(f"{path.name} line {i + 1}: bad entry '{d_s} : {v_s}'.")
                continue
            if not 1 <= d <= z:
                problems.append(
                    f"{path.name} line {i + 1}: destination {d} is outside zones 1..{z}."
                )
            elif not np.isfinite(v) or v < 0:
                problems.append(f"{path.name} line {i + 1}: demand {v_s} to {d} is not >= 0.")
            else:
                m[origin - 1, d - 1] += v
    if total is not None and not problems:
        s = m.sum()
        if abs(s - total) > 1e-6 * max(1.0, abs(total)):
            problems.append(
                f"{path.name}: the OD entries sum to {s:.6f} but <TOTAL OD FLOW> says {total}; "
                "the file is truncated or the metadata is wrong."
            )
    if problems:
        raise InputError(problems, str(path))
    demand = Demand(tuple(range(1, z + 1)), {"demand": m})
    return demand


def read_tntp_flow(path: str | os.PathLike) -> pd.DataFrame:
    """Read a best-known ``_flow.tntp`` file: columns from_node_id, to_node_id, volume, cost."""
    path = Path(path)
    rows = []
    problems = []
    for i, line in enumerate(_read_lines(path)):
        parts = line.replace(";", " ").split()
        if not parts or parts[0].startswith("~") or parts[0].startswith("<"):
            continue
        if not _isfloat(parts[0]):
            continue  # header
        if len(parts) < 4 or not all(_isfloat(p) for p in parts[:4]):
            problems.append(f"{path.name} line {i + 1}: expected 'from to volume cost'.")
            continue
        rows.append([float(p) for p in parts[:4]])
    if problems:
        raise InputError(problems, str(path))
    df = pd.DataFrame(rows, columns=["from_node_id", "to_node_id", "volume", "cost"])
    df[["from_node_id", "to_node_id"]] = df[["from_node_id", "to_node_id"]].astype(np.int64)
    df.index = pd.RangeIndex(1, len(df) + 1, name="link_id")
    return df


def read_tntp_node(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``_node.tntp`` coordinates file: x_coord, y_coord indexed by node_id."""
    path = Path(path)
    rows = []
    for line in _read_lines(path):
        parts = line.replace(";", " ").split()
        if len(parts) >= 3 and all(_isfloat(p) for p in parts[:3]):
            rows.append((int(float(parts[0])), float(parts[1]), float(parts[2])))
    df = pd.DataFrame(rows, columns=["node_id", "x_coord", "y_coord"]).set_index("node_id")
    return df


def read_tntp(
    net_path: str | os.PathLike,
    trips_path: str | os.PathLike | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
) -> TntpProblem:
    """Read a TNTP network with its trips (the sibling ``_trips.tntp`` unless given) and the
    node coordinates where a ``_node.tntp`` file lies beside it.

    Cost weights given here win over those stated in the files; absent both, they are 0.
    """
    net_path = Path(net_path)
    network, factors = read_tntp_net(net_path)
    if trips_path is None:
        trips_path = _sibling(net_path, "trips")
        if trips_path is None:
            raise InputError(
                f"no trips file beside {net_path.name}; pass it with --trips / trips_path."
            )
    demand = read_tntp_trips(trips_path, n_zones=len(network.zones))
    # the cost weights may stand in the trips file too; the net file's win
    trips_meta, _ = _metadata(_read_lines(Path(trips_path)), Path(trips_path), [])
    for tag, key in (("TOLL FACTOR", "toll_factor"), ("DISTANCE FACTOR", "distance_factor")):
        if key not in factors:
            v = _meta_number(trips_meta, tag, Path(trips_path), [], required=False)
            if v is not None:
                factors[key] = v
    node_file = _sibling(net_path, "node")
    if node_file is not None:
        coords = read_tntp_node(node_file)
        nodes = network.nodes.join(coords, how="left")
        network = Network(nodes, network.links, network.config, network.name)
    tf = toll_factor if toll_factor is not None else factors.get("toll_factor", 0.0)
    df = distance_factor if distance_factor is not None else factors.get("distance_factor", 0.0)
    return TntpProblem(network, demand, float(tf), float(df))


def _sibling(net_path: Path, kind: str) -> Path | None:
    stem = net_path.name
    if "_net" not in stem:
        return None
    cand = net_path.with_name(stem.replace("_net", f"_{kind}", 1))
    return cand if cand.exists() else None


def _isfloat(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _first(values, limit: int = 5) -> str:
    values = list(values)
    s = ", ".join(str(v) for v in values[:limit])
    return s + (f" and {len(values) - limit} more" if len(values) > limit else "")
