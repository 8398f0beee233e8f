"""The arrays of one assignment problem (graph, demand matrices, classes' fixed costs), set up
once and shared by every solver."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from karvan import kernels as K
from karvan.assign.classes import TrafficClass
from karvan.errors import InputError, format_ids
from karvan.kernels._jit import num_threads
from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph


class _Problem:
    """Arrays of one assignment problem, set up once."""

    def __init__(self, graph: CompiledGraph, demand: Demand, classes: Sequence[TrafficClass],
                 links: pd.DataFrame) -> None:
        self.g = graph
        self.classes = tuple(classes)
        self.n_chunks = max(1, num_threads())
        self.zone_ids = tuple(demand.zone_ids)
        zi = graph.zone_index(list(demand.zone_ids))
        self.origins = graph.zone_nodes[zi]
        self.dests = self.origins
        self.pce = np.array([c.pce for c in classes])
        self.fixed = np.zeros((len(classes), graph.n_arcs))
        self.mats = []
        problems = []
        for k, c in enumerate(classes):
            if c.demand not in demand.matrices:
                problems.append(
                    f"class {c.name!r} names demand {c.demand!r}, which is not among "
                    f"{format_ids(demand.names)}."
                )
                continue
            m = np.array(demand.matrices[c.demand], dtype=float)
            np.fill_diagonal(m, 0.0)
            self.mats.append(np.ascontiguousarray(m))
            money = np.zeros(graph.n_links)
            for col, w in c.cost_fields.items():
                if col not in links:
                    problems.append(f"class {c.name!r}: cost field {col!r} is not a link column.")
                    continue
                vals = pd.to_numeric(links[col], errors="coerce").to_numpy(dtype=float)
                if np.isnan(vals).any() and w != 0:
                    bad = links.index[np.isnan(vals)]
                    problems.append(
                        f"class {c.name!r}: cost field {col!r} is blank or non-numeric on "
                        f"{len(bad)} links (link_id {format_ids(bad)})."
                    )
                    continue
                if w != 0:
                    money += w * vals
            if c.link_cost is not None:
                lc = np.asarray(c.link_cost, dtype=float)
                if lc.shape != (graph.n_links,):
                    problems.append(
                        f"class {c.name!r}: link_cost has shape {lc.shape}, expected "
                        f"({graph.n_links},)."
                    )
                else:
                    money += lc
            self.fixed[k] = graph.to_arcs(money / c.value_of_time)
        if problems:
            raise InputError(problems, "assignment")
        neg = np.nonzero((self.fixed < 0).any(axis=0))[0]
        if len(neg):
            raise InputError(
                f"{len(neg)} arcs have a negative fixed cost (link_id "
                f"{format_ids(graph.link_ids[graph.arc_link[neg]])}); shortest paths need "
                "non-negative costs."
            )
        self.grad_fixed = self.pce[:, None] * self.fixed
        self.demand_total = float(sum((self.pce[k] * m.sum()) for k, m in enumerate(self.mats)))
        self._dt = np.empty(graph.n_arcs)

    def times(self, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        g = self.g
        if out is None:
            out = np.empty(g.n_arcs)
        return K.link_time(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf, out)

    def dtimes(self, v: np.ndarray) -> np.ndarray:
        g = self.g
        return K.link_time_derivative(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf,
                                      self._dt)

    def aon(self, t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Load every class all-or-nothing at times ``t`` into ``y``; return (SPTT, lost)."""
        g = self.g
        sptt = 0.0
        lost = 0.0
        for k in range(len(self.classes)):
            cost = t + self.fixed[k]
            y[k], s, lo = K.aon_assign(g.indptr, g.head, g.tail, cost, g.blocked, self.origins,
                                       self.dests, self.mats[k], self.n_chunks)
            sptt += self.pce[k] * s
            lost += lo
        return sptt, lost

    def objective(self, x: np.ndarray, v: np.ndarray) -> float:
        g = self.g
        return float(K.link_time_integral(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf)
                     + np.sum(self.grad_fixed * x))

    def volume(self, x: np.ndarray) -> np.ndarray:
        return self.pce @ x

    def unreachable_pairs(self) -> list[str]:
        """OD pairs with demand and no path, as 'origin->destination' (for the error message)."""
        g = self.g
        out = []
        for k, m in enumerate(self.mats):
            dist, _ = K.shortest_path_trees(g.indptr, g.head, g.free_flow_time + self.fixed[k],
                                            g.blocked, self.origins, self.n_chunks)
            bad = np.argwhere((m > 0) & ~np.isfinite(dist[:, self.dests]))
            tag = f" ({self.classes[k].name})" if len(self.mats) > 1 else ""
            out.extend(f"{self.zone_ids[i]}->{self.zone_ids[j]}{tag}" for i, j in bad)
        return out
