"""The corridor's OD estimation, run with the scenario machinery: the base year and the
back-casts of the observed years, with a demand given cell by cell (:mod:`karvan.calibrate`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from karvan.calibrate.corridor import CorridorEstimate, Runner, estimate_corridor_demand
from karvan.freight.corridor import CorridorData
from karvan.freight.observed import RunFlows
from karvan.scenario.reference import backcast_scenario, backcast_years, reference_scenario
from karvan.scenario.run import run_scenario


def corridor_runner(data: CorridorData, *, gap: float = 1e-10, method: str = "algorithm-b",
                    max_iter: int = 5000, choice: str = "deterministic") -> Runner:
    """An assignment as an OD-estimation runner: base-year cell tonnes (the rows of
    ``data.demand``) -> the runs of the base year and of every back-cast year that has
    observations; the deterministic model unless ``choice`` is ``logit``."""
    base = reference_scenario(data.base_year, base_year=data.base_year)
    years = pd.to_numeric(data.observed["year"], errors="coerce")
    past = [y for y in backcast_years() if (years == y).any()]

    def run(q: np.ndarray) -> dict[int, RunFlows]:
        d = replace(data, demand=data.demand.assign(tonnes_per_year=np.asarray(q, float)))
        out = {}
        for spec in [base] + [backcast_scenario(y) for y in past]:
            out[spec.year] = run_scenario(d, spec, gap=gap, method=method, max_iter=max_iter,
                                          lp=False, backcasts=False, choice=choice).flows
        return out

    return run


def estimate_demand(data: CorridorData, *, runner: Runner | None = None, **kwargs
                    ) -> CorridorEstimate:
    """OD estimation of the corridor's base-year demand from the ``fit`` rows of its
    ``observed.csv`` (keywords: :func:`karvan.calibrate.corridor.estimate_corridor_demand`);
    the deterministic equilibrium unless another ``runner`` is given."""
    return estimate_corridor_demand(
        data.observed, data.demand, runner or corridor_runner(data), link_table=data.links,
        zone_country=data.zone_country(), commodities=data.commodity_ids, **kwargs)
