"""The outcome of a route-choice assignment: flows, costs, route sets with their shares, the
capacities' multipliers and how far the flows are from the fixed point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from karvan.assign import TrafficClass
from karvan.choice.routes import SOURCE_NAMES, SOURCE_UNSERVED, RouteSet
from karvan.network.graph import CompiledGraph


@dataclass(frozen=True, slots=True, eq=False)
class ChoiceResult:
    """Flows of a stochastic (or deterministic) equilibrium or of one logit loading.

    Costs are generalized costs in time units, as in :class:`karvan.AssignmentResult`:
    ``time + fixed / value_of_time + surcharge``; ``theta`` is per unit of that cost.

    Attributes
    ----------
    class_flows
        (n_classes, n_arcs) flow of each class in its demand units.
    volume
        Capacity units per arc: ``sum_k pce_k * class_flows[k]``.
    time
        Arc time at ``volume``.
    surcharge
        Per arc: the sum of the multipliers of the capacities it belongs to (time units): the
        queueing delay a user pays there. 0 without capacities.
    class_costs
        (n_classes, n_arcs) generalized cost, surcharge included.
    theta
        Dispersion per class (inf: deterministic choice).
    route_set
        The routes (None for Dial's loading, which has no route sets).
    route_flow, route_cost, route_share
        Per route of ``route_set``: flow, cost at the returned flows, and its logit share at
        those costs (the loading the flows are compared with).
    gap
        Route-based: ``sum |h - y| / (2 * demand)``, the share of the demand that the logit
        loading y at the flows' own costs would put on other routes than the flows h do (0 at
        the fixed point). Deterministic: the relative gap (TSTT - SPTT) / SPTT over the route
        sets. Dial: ``sum_k,a |x - y| / sum_k,a x`` over class arc flows.
    link_gap
        ``sum_k,a |x - y| / sum_k,a x``: the same distance on class arc flows.
    divergence
        Route-based logit: ``sum h ln(h / y) / (theta * demand)``, cost units per unit of demand
        (Kullback-Leibler divergence of the route flows from the logit loading, scaled).
    aec
        Average excess cost: ``sum_routes h (c - least route cost) / demand``.
    capacities
        One row per capacity: constraint_id, capacity, volume, multiplier (time units),
        binding, relative_excess; None without capacities.
    unserved
        Rows class, origin, destination, demand, unserved for every OD pair that leaves demand
        unserved (empty when all is carried).
    od_expected_cost
        Per OD pair of ``route_set``: the expected perceived cost of the pair, the (nested)
        logsum in cost units, ``-ln(sum_r exp(-theta c_r)) / theta`` (with each nest's
        inclusive value where nests have a scale below 1), at the returned route costs,
        without the path-size terms (they correct the shares for overlap and depend on the
        other routes of the set: counted, a route added beside a cheaper one raised the
        expected cost); its difference between two scenarios is the user benefit per unit of
        demand. Set by
        :func:`karvan.choice.dual.fixed_cost_equilibrium`; None from the other methods.
    convergence
        One row per iteration: outer (augmented-Lagrangian round), iteration, gap, link_gap,
        divergence, aec, objective (the function the method minimises: Fisk's with the
        augmented-Lagrangian terms), max_violation (largest relative capacity excess), routes,
        elapsed_s.
    """

    graph: CompiledGraph
    classes: tuple[TrafficClass, ...]
    theta: np.ndarray
    class_flows: np.ndarray
    volume: np.ndarray
    time: np.ndarray
    surcharge: np.ndarray
    class_costs: np.ndarray
    route_set: RouteSet | None
    route_flow: np.ndarray | None
    route_cost: np.ndarray | None
    route_share: np.ndarray | None
    gap: float
    link_gap: float
    divergence: float
    aec: float
    iterations: int
    converged: bool
    convergence: pd.DataFrame
    capacities: pd.DataFrame | None = None
    unserved: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["class", "origin", "destination", "demand", "unserved"]))
    params: dict[str, Any] = field(default_factory=dict)
    od_expected_cost: np.ndarray | None = None

    @property
    def flow(self) -> np.ndarray:
        """Total flow per arc in demand units (sum over classes)."""
        return self.class_flows.sum(axis=0)

    @property
    def cost(self) -> np.ndarray:
        """Generalized cost per arc of the first class (time units)."""
        return self.class_costs[0]

    def link_table(self) -> pd.DataFrame:
        """One row per arc: link_id, direction, from/to node ids, flow, time, cost, volume,
        voc, surcharge, and flow_<class>/cost_<class> when there is more than one class."""
        g = self.graph
        df = pd.DataFrame({
            "link_id": g.link_ids[g.arc_link],
            "direction": g.arc_dir.astype(np.int64),
            "from_node_id": g.node_ids[g.tail],
            "to_node_id": g.node_ids[g.head],
            "flow": self.flow,
            "time": self.time,
            "cost": self.cost,
            "volume": self.volume,
            "voc": np.where(np.isfinite(g.capacity), self.volume / g.capacity, 0.0),
            "surcharge": self.surcharge,
        })
        if len(self.classes) > 1:
            for k, c in enumerate(self.classes):
                df[f"flow_{c.name}"] = self.class_flows[k]
                df[f"cost_{c.name}"] = self.class_costs[k]
        order = np.lexsort((-g.arc_dir, g.arc_link))
        return df.iloc[order].reset_index(drop=True)

    def link_summary(self) -> pd.DataFrame:
        """One row per link with flow_ab, flow_ba and flow_tot."""
        g = self.graph
        ab, ba = g.to_links(self.flow)
        return pd.DataFrame({"flow_ab": ab, "flow_ba": ba, "flow_tot": ab + ba},
                            index=pd.Index(g.link_ids, name="link_id"))

    def route_table(self, *, min_share: float = 0.0, ods: np.ndarray | None = None
                    ) -> pd.DataFrame:
        """One row per route: class, origin, destination, route, source, label, links, flow,
        share (of the OD pair's demand), probability (logit share at the returned costs),
        cost. Routes whose share is below ``min_share`` are left out; ``ods`` limits the table
        to some OD pair indices.

        Raises
        ------
        ValueError
            For a result of Dial's loading, which has no route sets.
        """
        rs = self.route_set
        if rs is None:
            raise ValueError("Dial's loading keeps no route sets; use loading='psl' for routes.")
        tab = rs.table(ods)
        ods = np.arange(rs.n_od) if ods is None else np.asarray(ods, dtype=np.int64)
        idx = np.concatenate([np.arange(rs.od_ptr[w], rs.od_ptr[w + 1]) for w in ods]) \
            if len(ods) else np.zeros(0, dtype=np.int64)
        q = rs.od_demand[rs.route_od[idx]]
        tab["flow"] = self.route_flow[idx]
        tab["share"] = self.route_flow[idx] / q
        tab["probability"] = self.route_share[idx]
        tab["cost"] = self.route_cost[idx]
        tab["source"] = [SOURCE_NAMES[s] for s in rs.route_source[idx]]
        if min_share > 0:
            tab = tab[tab["share"] >= min_share].reset_index(drop=True)
        return tab


def unserved_table(rs: RouteSet, flow: np.ndarray, *, rel_tol: float = 1e-9) -> pd.DataFrame:
    """OD pairs whose unserved-demand alternative carries more than ``rel_tol`` of the demand."""
    r = np.flatnonzero(rs.route_source == SOURCE_UNSERVED)
    w = rs.route_od[r]
    hit = flow[r] > rel_tol * rs.od_demand[w]
    r, w = r[hit], w[hit]
    z = np.asarray(rs.zone_ids, dtype=object)
    return pd.DataFrame({
        "class": [rs.class_names[k] for k in rs.od_class[w]],
        "origin": z[rs.od_origin[w]],
        "destination": z[rs.od_destination[w]],
        "demand": rs.od_demand[w],
        "unserved": flow[r],
    })
