"""Conversions between tonnes and the units capacities and fleets are counted in.

Payload factors are data: ``t_per_teu``, ``t_per_wagon`` and ``t_per_truck`` per commodity in
``commodity.csv``. Where a capacity is shared by all commodities, the factor used is the mean over
commodities weighted by their base-year tonnes. ``WAGONS_PER_TRAIN`` and ``OPERATING_DAYS`` are
assumptions, overridable by the caller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids

WAGONS_PER_TRAIN = 57.0  # assumption: a 1520 mm block train of about 57 four-axle wagons
OPERATING_DAYS = 365.0

#: capacity units karvan converts to tonnes per year, and the payload each needs
CAPACITY_UNITS = {
    "t/yr": None, "tpy": None, "tonnes/yr": None, "kt/yr": None, "mt/yr": None,
    "trains/day": "t_per_wagon", "pairs_of_trains_per_day": "t_per_wagon",
    "wagons/day": "t_per_wagon", "wagons/yr": "t_per_wagon",
    "teu/yr": "t_per_teu", "mteu/yr": "t_per_teu", "kteu/yr": "t_per_teu",
    "trucks/day": "t_per_truck", "trucks/yr": "t_per_truck",
    "trucks_per_day_both_directions": "t_per_truck",
}


def mean_payloads(commodities: pd.DataFrame, demand: pd.DataFrame) -> dict[str, float]:
    """Tonnes per wagon, TEU and truck, averaged over commodities by base-year tonnes."""
    w = demand.groupby("commodity_id")["tonnes_per_year"].sum()
    out = {}
    for col in ("t_per_wagon", "t_per_teu", "t_per_truck"):
        if col not in commodities:
            out[col] = np.nan
            continue
        f = commodities.set_index("commodity_id")[col]
        ok = f.notna() & (f > 0)
        ww = w.reindex(f.index).fillna(0)[ok]
        out[col] = float((f[ok] * ww).sum() / ww.sum()) if ww.sum() > 0 else (
            float(f[ok].mean()) if ok.any() else np.nan)
    return out


def capacity_to_tpy(value: float, unit: str, payloads: dict[str, float], *,
                    wagons_per_train: float = WAGONS_PER_TRAIN,
                    operating_days: float = OPERATING_DAYS) -> float:
    """Convert a capacity in trains/day, wagons, TEU, trucks or tonnes to tonnes per year.

    ``pairs_of_trains_per_day`` counts one train each way per pair, so the capacity per direction
    equals trains/day. Units are matched without regard to case and spaces.

    Raises
    ------
    InputError
        For a unit it does not know, or a unit whose payload (``t_per_wagon``, ``t_per_teu``,
        ``t_per_truck``) is not in ``payloads``: a capacity that cannot be converted must not be
        read as unlimited.

    Examples
    --------
    >>> capacity_to_tpy(7, "Mt/yr", {})
    7000000.0
    >>> capacity_to_tpy(2, "trains/day", {"t_per_wagon": 50.0}, wagons_per_train=50)
    1825000.0
    """
    u = str(unit).strip().lower().replace(" ", "")
    if u not in CAPACITY_UNITS:
        raise InputError(f"capacity unit {unit!r} is not one karvan converts; use one of "
                         f"{format_ids(CAPACITY_UNITS, 20)}.")
    scale = {"kt/yr": 1e3, "mt/yr": 1e6, "mteu/yr": 1e6, "kteu/yr": 1e3}.get(u, 1.0)
    need = CAPACITY_UNITS[u]
    if need is None:
        return float(value) * scale
    payload = payloads.get(need, np.nan)
    if not (np.isfinite(payload) and payload > 0):
        raise InputError(f"a capacity in {unit} needs {need} (tonnes per unit) of the "
                         "commodities, and none is given; fill it in commodity.csv.")
    if u in ("trains/day", "pairs_of_trains_per_day"):
        return float(value) * wagons_per_train * payload * operating_days
    if u in ("wagons/day", "trucks/day"):
        return float(value) * payload * operating_days
    if u == "trucks_per_day_both_directions":
        # capacities are per direction
        return float(value) / 2.0 * payload * operating_days
    return float(value) * scale * payload


def tonnes_to_units(tonnes, t_per_unit):
    """Tonnes to TEU, wagons or trucks (NaN where the factor is missing or zero)."""
    t_per_unit = np.asarray(t_per_unit, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t_per_unit > 0, np.asarray(tonnes, dtype=float) / t_per_unit, np.nan)
