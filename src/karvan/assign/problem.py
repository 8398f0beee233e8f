"""The arrays of one assignment problem (graph, demand matrices, classes' fixed costs), set up
once and shared by every solver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from karvan.assign._workers import Workers, chunks_of
from karvan.assign.classes import TrafficClass, nonfinite_cost_message
from karvan.errors import InputError, format_ids

if TYPE_CHECKING:
    from karvan.network.demand import Demand
    from karvan.network.graph import CompiledGraph

#: below this many origin x arc operations one thread is faster than handing out chunks
SERIAL_WORK = 200_000
#: chunks per thread in a parallel pass (more balance the threads better, each is a kernel call)
CHUNKS_PER_THREAD = 4


class _Problem:
    """Arrays of one assignment problem, set up once."""

    def __init__(self, graph: CompiledGraph, demand: Demand, classes: Sequence[TrafficClass],
                 links: Mapping) -> None:
        from karvan.kernels._jit import interpreting

        if not interpreting():
            # the kernels ahead-of-time compiled (built on first use), else numba
            from karvan.assign._aot import prepare

            prepare()
        self.g = graph
        self.classes = tuple(classes)
        self.n_chunks = max(1, _num_threads())
        self.zone_ids = tuple(demand.zone_ids)
        zi = _zone_positions(graph, self.zone_ids)
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
                vals = _numeric(links[col])
                if w == 0:
                    continue
                ids = np.asarray(links.index if hasattr(links, "index") else graph.link_ids)
                if np.isnan(vals).any():
                    bad = ids[np.isnan(vals)]
                    problems.append(
                        f"class {c.name!r}: cost field {col!r} is blank or non-numeric on "
                        f"{len(bad)} links (link_id {format_ids(bad)})."
                    )
                    continue
                if np.isinf(vals).any():
                    problems.append(nonfinite_cost_message(c.name, f"cost field {col!r}",
                                              ids[np.isinf(vals)]))
                    continue
                money += w * vals
            if c.link_cost is not None:
                lc = np.asarray(c.link_cost, dtype=float)
                if lc.shape != (graph.n_links,):
                    problems.append(
                        f"class {c.name!r}: link_cost has shape {lc.shape}, expected "
                        f"({graph.n_links},)."
                    )
                elif not np.isfinite(lc).all():
                    problems.append(nonfinite_cost_message(c.name, "link_cost",
                                              graph.link_ids[~np.isfinite(lc)]))
                else:
                    money += lc
            self.fixed[k] = graph.to_arcs(money / c.value_of_time)
        if problems:
            raise InputError(problems, "assignment")
        # a class's fixed cost may be negative (a class faster than the link's time), as long
        # as its cost at free flow is not: every delay function is at least the free-flow time
        neg = np.nonzero((graph.free_flow_time[None, :] + self.fixed < 0).any(axis=0))[0]
        if len(neg):
            raise InputError(
                f"{len(neg)} arcs have a negative cost at free flow for a class (free-flow time "
                f"plus the class's money cost over its value of time; link_id "
                f"{format_ids(graph.link_ids[graph.arc_link[neg]])}); shortest paths need "
                "non-negative costs."
            )
        self.grad_fixed = self.pce[:, None] * self.fixed
        self.demand_total = float(sum((self.pce[k] * m.sum()) for k, m in enumerate(self.mats)))
        self._dt = np.empty(graph.n_arcs)

    def times(self, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        from karvan import kernels as K

        g = self.g
        if out is None:
            out = np.empty(g.n_arcs)
        return K.link_time(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf, out)

    def dtimes(self, v: np.ndarray) -> np.ndarray:
        from karvan import kernels as K

        g = self.g
        return K.link_time_derivative(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf,
                                      self._dt)

    def aon_workers(self) -> Workers:
        """Workers for :meth:`aon`: numba's thread count, one thread on small problems (close
        them when done)."""
        from karvan import kernels as K

        n = self.n_chunks if len(self.origins) * self.g.n_arcs >= SERIAL_WORK else 1
        return Workers(n, lambda: K.aon_scratch(self.g.n_nodes, self.g.n_arcs))

    def aon(self, t: np.ndarray, y: np.ndarray, workers: Workers | None = None
            ) -> tuple[float, float]:
        """Load every class all-or-nothing at times ``t`` into ``y``; return (SPTT, lost).

        The origins are spread in chunks over ``workers`` (one thread when None), each thread
        loading its own flow vector.
        """
        from karvan import kernels as K

        g = self.g
        own = workers is None
        if own:
            workers = Workers(1, lambda: K.aon_scratch(g.n_nodes, g.n_arcs))
        chunks = chunks_of(len(self.origins),
                           workers.n_threads * CHUNKS_PER_THREAD if workers.n_threads > 1 else 1)
        sptt = 0.0
        lost = 0.0
        try:
            for k in range(len(self.classes)):
                cost = np.ascontiguousarray(t + self.fixed[k])
                mat = self.mats[k]
                for sc in workers.scratch:
                    sc[2][:] = 0.0

                def run(lo, hi, sc, cost=cost, mat=mat):
                    return K.aon_range(lo, hi, g.indptr, g.head, g.tail, cost, g.blocked,
                                       self.origins, self.dests, mat, sc[2], sc[0], sc[1], sc[3])

                res = workers.run(run, chunks)
                y[k] = workers.scratch[0][2]
                for sc in workers.scratch[1:]:
                    y[k] += sc[2]
                sptt += self.pce[k] * sum(r[0] for r in res)
                lost += sum(r[1] for r in res)
        finally:
            if own:
                workers.close()
        return sptt, lost

    def objective(self, x: np.ndarray, v: np.ndarray) -> float:
        from karvan import kernels as K

        g = self.g
        return float(K.link_time_integral(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf)
                     + np.sum(self.grad_fixed * x))

    def volume(self, x: np.ndarray) -> np.ndarray:
        return self.pce @ x

    def unreachable_pairs(self) -> list[str]:
        """OD pairs with demand and no path, as 'origin->destination' (for the error message)."""
        from karvan import kernels as K

        g = self.g
        out = []
        for k, m in enumerate(self.mats):
            dist, _ = K.shortest_path_trees(g.indptr, g.head, g.free_flow_time + self.fixed[k],
                                            g.blocked, self.origins, self.n_chunks)
            bad = np.argwhere((m > 0) & ~np.isfinite(dist[:, self.dests]))
            tag = f" ({self.classes[k].name})" if len(self.mats) > 1 else ""
            out.extend(f"{self.zone_ids[i]}->{self.zone_ids[j]}{tag}" for i, j in bad)
        return out


def relative_gap(tstt: float, sptt: float) -> float:
    """Relative gap ``(TSTT - SPTT) / SPTT`` of flows whose total cost is ``tstt`` against the
    shortest-path total ``sptt``.

    When SPTT <= 0 the ratio has no base: flows that cost more than the shortest paths
    (TSTT > SPTT, for example flows left on a dearer route where a free one exists) get ``inf``
    (not converged, whatever the target); 0 / 0 (no demand, or every route used costs nothing)
    gets 0. A negative SPTT comes only from negative link times, which a network should not have.
    """
    if sptt > 0:
        return (tstt - sptt) / sptt
    return np.inf if tstt > sptt else 0.0


def _zone_positions(graph: CompiledGraph, zone_ids: tuple) -> np.ndarray:
    """Positions of ``zone_ids`` among the graph's zones (the graph raises on unknown ids)."""
    lookup = {z: i for i, z in enumerate(graph.zone_ids.tolist())}
    pos = [lookup.get(z, -1) for z in zone_ids]
    if min(pos, default=0) < 0:
        return graph.zone_index(list(zone_ids))
    return np.asarray(pos, dtype=np.int64)


def _numeric(values) -> np.ndarray:
    """Values as floats, NaN where one is blank or not a number."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        import pandas as pd

        return pd.to_numeric(pd.Series(np.asarray(values, dtype=object)),
                             errors="coerce").to_numpy(dtype=float)


def _num_threads() -> int:
    from karvan.kernels._jit import num_threads

    return num_threads()
