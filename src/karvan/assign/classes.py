"""Traffic classes: who travels, with which demand, valued how."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from karvan.errors import InputError


@dataclass(frozen=True, slots=True, eq=False)
class TrafficClass:
    """One class of traffic sharing the network's congestion with the others.

    The class chooses routes by generalized cost
    ``value_of_time * time + sum(weight * link[field]) + link_cost`` (money per unit of demand),
    which is equivalent to ``time + fixed / value_of_time`` in time units; that is what the
    solvers use. Its flow loads congestion with ``pce`` capacity units per unit of demand.

    Parameters
    ----------
    name
        Label used in outputs (``flow_<name>``).
    demand
        Name of the matrix in the :class:`~karvan.network.Demand` this class carries.
    value_of_time
        Money per unit of time (> 0). With the default 1 all costs are in time units.
    pce
        Capacity units per unit of demand (passenger-car equivalents, or 1 for tonnes when
        capacities are in tonnes).
    cost_fields
        Link column -> money per unit of that column (e.g. ``{"toll": 0.02, "length": 0.04}``).
    link_cost
        Optional per-link money cost, in the network's link order.
    """

    name: str = "all"
    demand: str = "demand"
    value_of_time: float = 1.0
    pce: float = 1.0
    cost_fields: Mapping[str, float] = field(default_factory=dict)
    link_cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        problems = []
        if not (np.isfinite(self.value_of_time) and self.value_of_time > 0):
            problems.append(f"class {self.name!r}: value_of_time must be > 0.")
        if not (np.isfinite(self.pce) and self.pce > 0):
            problems.append(f"class {self.name!r}: pce must be > 0.")
        for k, w in self.cost_fields.items():
            if not np.isfinite(w):
                problems.append(f"class {self.name!r}: weight of {k!r} is not finite.")
        if problems:
            raise InputError(problems)


def nonfinite_cost_message(name: str, what: str, bad) -> str:
    """The problem of a class's cost that is NaN or infinite on the links ``bad``."""
    from karvan.errors import format_ids

    return (f"class {name!r}: {what} is NaN or infinite on {len(bad)} links (link_id "
            f"{format_ids(bad)}); give every link a finite cost (to close a link, remove it "
            "from the link table; to close a node to through traffic, set its passable false).")
