"""Conversions between tonnes and the units capacities and fleets are counted in.

The factors are data: ``t_per_teu``, ``t_per_wagon`` and ``t_per_truck`` per commodity in
``commodity.csv``; ``wagons_per_train`` and ``operating_days`` are explicit parameters.
"""

from __future__ import annotations

import numpy as np

WAGONS_PER_TRAIN = 57  # 1520 mm block train of about 57 four-axle wagons (assumption)
OPERATING_DAYS = 365


def trains_per_day_to_tpy(trains_per_day: float, t_per_wagon: float, *,
                          wagons_per_train: float = WAGONS_PER_TRAIN,
                          operating_days: float = OPERATING_DAYS) -> float:
    """Annual tonnes a line carries at ``trains_per_day`` loaded trains each way."""
    return trains_per_day * wagons_per_train * t_per_wagon * operating_days


def tonnes_to_units(tonnes, t_per_unit):
    """Tonnes to TEU, wagons or trucks (NaN where the factor is missing or zero)."""
    t_per_unit = np.asarray(t_per_unit, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t_per_unit > 0, np.asarray(tonnes, dtype=float) / t_per_unit, np.nan)
