"""Open a network with its demand from a GMNS folder or a TNTP net file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from karvan.errors import InputError
from karvan.io.gmns import read_gmns, read_gmns_demand
from karvan.io.tntp import _sibling, read_tntp, read_tntp_net
from karvan.network.demand import Demand
from karvan.network.model import Network


@dataclass(frozen=True, slots=True)
class Problem:
    """A network, its demand (None when there is none) and the default cost weights."""

    network: Network
    demand: Demand | None
    toll_factor: float = 0.0
    distance_factor: float = 0.0
    kind: str = "gmns"


def read_problem(
    path: str | os.PathLike,
    trips: str | os.PathLike | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    need_demand: bool = True,
) -> Problem:
    """Read a GMNS folder (demand from ``trips`` or its ``demand.csv``) or a TNTP ``_net`` file
    (demand from ``trips`` or the ``_trips`` file beside it)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a GMNS folder or a TNTP _net file.")
    if path.is_dir():
        net = read_gmns(path)
        dpath = Path(trips) if trips is not None else path / "demand.csv"
        if dpath.exists():
            demand = read_gmns_demand(dpath, net)
        elif trips is not None:
            raise InputError(f"no demand: {dpath} does not exist; check the trips path.")
        elif need_demand:
            raise InputError(f"no demand: {dpath} does not exist; pass --trips FILE.")
        else:
            demand = None
        return Problem(net, demand, toll_factor or 0.0, distance_factor or 0.0, "gmns")
    if path.suffix.lower() == ".tntp" and trips is not None and Path(trips).suffix.lower() == ".csv":
        # a TNTP network with a demand table in CSV
        net, factors = read_tntp_net(path)
        demand = read_gmns_demand(trips, net)
        tf = toll_factor if toll_factor is not None else factors.get("toll_factor", 0.0)
        df = distance_factor if distance_factor is not None else factors.get("distance_factor",
                                                                             0.0)
        return Problem(net, demand, float(tf), float(df), "tntp")
    if path.suffix.lower() == ".tntp":
        if not need_demand and trips is None and _sibling(path, "trips") is None:
            net, factors = read_tntp_net(path)
            return Problem(net, None, factors.get("toll_factor", 0.0),
                           factors.get("distance_factor", 0.0), "tntp")
        p = read_tntp(path, trips, toll_factor=toll_factor, distance_factor=distance_factor)
        return Problem(p.network, p.demand, p.toll_factor, p.distance_factor, "tntp")
    raise InputError(f"{path}: not a folder or a .tntp file; karvan reads GMNS folders and TNTP "
                     "_net files.")
