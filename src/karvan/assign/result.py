"""The outcome of an assignment: flows, times, costs and how far they are from equilibrium."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from karvan.assign.classes import TrafficClass

if TYPE_CHECKING:
    import pandas as pd

    from karvan.network.graph import CompiledGraph

#: columns of :attr:`AssignmentResult.convergence`, one row per iteration
CONVERGENCE_COLUMNS = ("iteration", "relative_gap", "aec", "objective", "step", "direction",
                       "elapsed_s")


@dataclass(frozen=True, slots=True)
class IterationInfo:
    """What a progress callback receives after each iteration."""

    iteration: int
    gap: float
    aec: float
    objective: float
    step: float
    direction: str
    elapsed_s: float


@dataclass(frozen=True, slots=True, eq=False)
class AssignmentResult:
    """Flows at (or near) equilibrium, with the convergence that got there.

    Arrays are per arc (see :class:`~karvan.network.CompiledGraph`); :meth:`link_table` turns
    them into a table keyed by ``link_id``.

    Attributes
    ----------
    class_flows
        (n_classes, n_arcs) flow of each class in its demand units.
    volume
        Congestion volume per arc: ``sum_k pce_k * class_flows[k]``.
    time
        Arc time at ``volume``.
    class_costs
        (n_classes, n_arcs) generalized cost in time units: ``time + fixed_k / value_of_time_k``.
    objective
        Beckmann's objective at the returned flows (time units x capacity units).
    gap
        Relative gap ``(TSTT - SPTT) / SPTT`` of the returned flows priced at their own costs
        (``inf`` when SPTT <= 0 < TSTT, 0 when both are 0).
    aec
        Average excess cost ``(TSTT - SPTT) / demand``.
    converged
        Whether ``gap`` reached the requested target.
    convergence_rows
        One tuple per iteration: iteration, relative_gap, aec, objective, step, direction,
        elapsed_s (:attr:`convergence` gives them as a table).
    """

    graph: CompiledGraph
    classes: tuple[TrafficClass, ...]
    class_flows: np.ndarray
    volume: np.ndarray
    time: np.ndarray
    class_costs: np.ndarray
    objective: float
    gap: float
    aec: float
    iterations: int
    converged: bool
    convergence_rows: tuple
    params: dict[str, Any] = field(default_factory=dict)
    routes: Any = None
    bushes: Any = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def convergence(self) -> pd.DataFrame:
        """One row per iteration: iteration, relative_gap, aec, objective, step, direction,
        elapsed_s."""
        if "convergence" not in self._cache:
            import pandas as pd

            self._cache["convergence"] = pd.DataFrame(list(self.convergence_rows),
                                                      columns=list(CONVERGENCE_COLUMNS))
        return self._cache["convergence"]

    def convergence_columns(self) -> dict[str, np.ndarray]:
        """:attr:`convergence` as columns of arrays, without building a table."""
        rows = self.convergence_rows
        out = {}
        for i, name in enumerate(CONVERGENCE_COLUMNS):
            vals = [r[i] for r in rows]
            out[name] = np.asarray(vals, dtype=object if name == "direction" else None)
        return out

    @property
    def flow(self) -> np.ndarray:
        """Total flow per arc in demand units (sum over classes)."""
        return self.class_flows.sum(axis=0)

    @property
    def cost(self) -> np.ndarray:
        """Generalized cost per arc of the first class (time units)."""
        return self.class_costs[0]

    def link_columns(self) -> dict[str, np.ndarray]:
        """The columns of :meth:`link_table` as arrays, in its row order (without pandas)."""
        g = self.graph
        order = np.lexsort((-g.arc_dir, g.arc_link))
        with np.errstate(divide="ignore", invalid="ignore"):
            voc = np.where(np.isfinite(g.capacity), self.volume / g.capacity, 0.0)
        cols = {
            "link_id": g.link_ids[g.arc_link],
            "direction": g.arc_dir.astype(np.int64),
            "from_node_id": g.node_ids[g.tail],
            "to_node_id": g.node_ids[g.head],
            "flow": self.flow,
            "time": self.time,
            "cost": self.cost,
            "volume": self.volume,
            "voc": voc,
        }
        if len(self.classes) > 1:
            for k, c in enumerate(self.classes):
                cols[f"flow_{c.name}"] = self.class_flows[k]
                cols[f"cost_{c.name}"] = self.class_costs[k]
        return {k: np.asarray(v)[order] for k, v in cols.items()}

    def link_table(self) -> pd.DataFrame:
        """One row per arc: link_id, direction (1 from ``from_node_id`` to ``to_node_id``, -1
        the other way on an undirected link), from/to node ids, flow, time (in the network's
        time unit: TNTP's, minutes on most networks; hours on GMNS), cost (time plus money over
        value of time), volume (capacity units: flow times pce), voc (volume over capacity),
        and flow_<class>/cost_<class> when there is more than one class."""
        import pandas as pd

        return pd.DataFrame(self.link_columns())

    def link_summary(self) -> pd.DataFrame:
        """One row per link with flow_ab, flow_ba and flow_tot (AequilibraE's convention)."""
        import pandas as pd

        g = self.graph
        ab, ba = g.to_links(self.flow)
        return pd.DataFrame({"flow_ab": ab, "flow_ba": ba, "flow_tot": ab + ba},
                            index=pd.Index(g.link_ids, name="link_id"))
