"""OD matrices and skims of a run in OMX (Open Matrix) files, written and read with h5py.

Layout (OMX 0.2, as written by ``openmatrix``): root attributes ``OMX_VERSION`` = ``b"0.2"``,
``SHAPE`` (int32 rows, columns) and ``OMX_CREATED_WITH``; one float64 array per matrix under
``/data`` (zlib level 1 with shuffle, the compression every HDF5 build has); 1-D zone lookups
under ``/lookup``. karvan's zone ids are strings, so two lookups are written: ``zones`` (uint32,
1..n, the integer mapping OMX tools expect) and ``zone_id`` (the ids as fixed-length UTF-8
bytes). Row i and column i of every matrix are zone ``zone_id[i]``.

Matrices of a run (``<c>`` is a commodity id):

=======================  ======  ===========================================================
matrix                   unit    content
=======================  ======  ===========================================================
demand_<c>               t/yr    the scenario's demand (``demand`` table)
demand_total             t/yr    sum over commodities
time_h_<c>               h       equilibrium travel time (``skims`` table)
distance_km_<c>          km      distance of the skimmed path
charge_usd_per_t_<c>     USD/t   money charges on the path
cost_usd_per_t_<c>       USD/t   generalized cost (charges + value of time x time)
=======================  ======  ===========================================================

Skims exist only for OD pairs with demand and an open route; other cells are NaN. Each matrix
carries ``units``, ``quantity`` and (where it applies) ``commodity`` attributes.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from karvan._version import __version__
from karvan.errors import InputError, format_ids
from karvan.io.atomic import atomic_file
from karvan.io.geopackage import as_run, network_geometry
from karvan.io.run_folder import RunRecord

OMX_VERSION = b"0.2"
SKIM_FIELDS = {"time_h": "h", "distance_km": "km", "charge_usd_per_t": "USD/t",
               "cost_usd_per_t": "USD/t"}


def write_omx(run: RunRecord | str | os.PathLike, path: str | os.PathLike | None = None, *,
              zone_ids: list[str] | None = None) -> Path:
    """Write a run's demand (per commodity and total) and skims as one OMX file.

    Parameters
    ----------
    run
        A run (:class:`~karvan.io.run_folder.RunRecord`) or a folder written by ``karvan run``.
    path
        The file to write; default ``<run folder>/run.omx``. An existing file is replaced; a
        failed write leaves it as it was and no temporary file.
    zone_ids
        Zone order of the matrices; default: the zones of the run's dataset in file order
        (or, if the dataset is gone, every zone named in the demand and skims, sorted).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        Not a run folder, a missing table, duplicate ``zone_ids`` or zones of the run that
        ``zone_ids`` lacks.
    """
    rec = as_run(run)
    target = Path(path) if path is not None else rec.path / "run.omx"
    rec.require(("demand", "skims"))
    demand = rec.table("demand")
    skims = rec.table("skims")
    if zone_ids is None:
        zone_ids = _dataset_zones(rec)
    named = set(demand["origin_zone_id"]) | set(demand["destination_zone_id"]) | set(
        skims["origin"]) | set(skims["destination"])
    if zone_ids is None:
        zone_ids = sorted(named)
    zone_ids = [str(z) for z in zone_ids]
    if len(set(zone_ids)) != len(zone_ids):
        raise InputError("zone_ids has duplicates; each zone must appear once.")
    missing = sorted(named - set(zone_ids))
    if missing:
        raise InputError(f"{rec.path}: {len(missing)} zones of the demand or skims are not in "
                         f"zone_ids ({format_ids(missing)}).")
    n = len(zone_ids)
    matrices: dict[str, tuple[np.ndarray, dict]] = {}
    com = list(dict.fromkeys(demand["commodity_id"]))
    total = np.zeros((n, n))
    for c in com:
        rows = demand[demand["commodity_id"] == c]
        m = _matrix(rows["origin_zone_id"], rows["destination_zone_id"],
                    rows["tonnes_per_year"], zone_ids, fill=0.0)
        total += m
        matrices[f"demand_{c}"] = (m, {"units": "t/yr", "quantity": "demand", "commodity": c})
    matrices["demand_total"] = (total, {"units": "t/yr", "quantity": "demand"})
    for field, unit in SKIM_FIELDS.items():
        if field not in skims:
            continue
        for c in dict.fromkeys(skims["commodity"]):
            rows = skims[skims["commodity"] == c]
            m = _matrix(rows["origin"], rows["destination"], rows[field], zone_ids,
                        fill=np.nan)
            matrices[f"{field}_{c}"] = (m, {"units": unit, "quantity": field, "commodity": c})
    with atomic_file(target) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["OMX_VERSION"] = np.bytes_(OMX_VERSION)  # fixed-length, as PyTables writes it
        f.attrs["OMX_CREATED_WITH"] = np.bytes_(f"karvan {__version__}".encode())
        f.attrs["SHAPE"] = np.array([n, n], dtype=np.int32)
        data = f.create_group("data")
        for name, (m, attrs) in matrices.items():
            ds = data.create_dataset(name, data=m.astype(np.float64), compression="gzip",
                                     compression_opts=1, shuffle=True)
            for k, v in attrs.items():
                ds.attrs[k] = np.bytes_(str(v).encode())
        lookup = f.create_group("lookup")
        lookup.create_dataset("zones", data=np.arange(1, n + 1, dtype=np.uint32))
        enc = [z.encode("utf-8") for z in zone_ids]
        width = max((len(b) for b in enc), default=1)
        lookup.create_dataset("zone_id", data=np.array(enc, dtype=f"S{width}"))
    return target


def read_omx(path: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read every matrix of an OMX file as a DataFrame (rows: origin, columns: destination).

    The index comes from a string lookup of the right length if there is one (``zone_id``
    first), else from an integer lookup (``zones`` first), else 0..n-1. Files written by
    ``openmatrix`` (PyTables) read the same way.

    Raises
    ------
    InputError
        Not an HDF5 file, or not OMX (no ``OMX_VERSION`` attribute or no ``/data`` group).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"OMX file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not an HDF5/OMX file ({e}).") from None
    with f:
        if "OMX_VERSION" not in f.attrs or "data" not in f:
            raise InputError(f"{path}: not an OMX file (no OMX_VERSION attribute or /data "
                             "group).")
        names = list(f["data"].keys())
        shape = tuple(int(x) for x in f.attrs["SHAPE"]) if "SHAPE" in f.attrs else (
            f["data"][names[0]].shape if names else (0, 0))
        labels = _labels(f, shape[0])
        out = {}
        for name in names:
            m = np.asarray(f["data"][name][()])
            if m.shape != shape:
                raise InputError(f"{path}: matrix {name} has shape {m.shape}, the file says "
                                 f"{shape}.")
            out[name] = pd.DataFrame(m, index=pd.Index(labels, name="origin"),
                                     columns=pd.Index(labels, name="destination"))
    return out


def _labels(f: h5py.File, n: int) -> list:
    if "lookup" not in f:
        return list(range(n))
    lookups = {k: v for k, v in f["lookup"].items()
               if isinstance(v, h5py.Dataset) and v.ndim == 1 and v.shape[0] == n}
    strings = [k for k, v in lookups.items() if v.dtype.kind in "SUO"]
    ints = [k for k, v in lookups.items() if v.dtype.kind in "iu"]
    for group, first in ((strings, "zone_id"), (ints, "zones")):
        if group:
            key = first if first in group else sorted(group)[0]
            vals = lookups[key][()]
            return [v.decode("utf-8") if isinstance(v, bytes) else v.item()
                    if hasattr(v, "item") else v for v in vals]
    return list(range(n))


def _matrix(origin: pd.Series, destination: pd.Series, values: pd.Series, zone_ids: list[str],
            *, fill: float) -> np.ndarray:
    pos = {z: i for i, z in enumerate(zone_ids)}
    m = np.full((len(zone_ids), len(zone_ids)), fill)
    i = origin.astype(str).map(pos).to_numpy(dtype=np.int64)
    j = destination.astype(str).map(pos).to_numpy(dtype=np.int64)
    v = values.to_numpy(dtype=float)
    if np.isnan(fill):
        m[i, j] = v  # one row per OD pair
    else:
        np.add.at(m, (i, j), v)
    return m


def _dataset_zones(run: RunRecord) -> list[str] | None:
    try:
        zones = network_geometry(run).zones
    except InputError:
        return None
    return [str(z) for z in zones["zone_id"]] or None
