"""Algorithm B (origin-based, bush) user equilibrium: the driver around the numba sweep.

The bushes are kept in the result (:class:`BushState`) so that another assignment on the same
graph can start from them (``warm_start``): after a change of a few link attributes it reaches
the same gap in a fraction of the sweeps.
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.assign.result import AssignmentResult
from karvan.errors import ConvergenceWarning, InputError, KarvanError, NoPathError, format_ids
from karvan.kernels import bush as KB
from karvan.kernels.paths import aon_assign


@dataclass(frozen=True, slots=True, eq=False)
class BushState:
    """Origin-based flows: one bush per (class, origin) with demand.

    ``flow[b, a]`` is the flow of bush b on arc a, ``inbush[b, a]`` whether the arc is in it;
    ``bush_class[b]`` and ``bush_origin[b]`` (a position in the demand's zones) say whose it is.
    """

    flow: np.ndarray
    inbush: np.ndarray
    bush_class: np.ndarray
    bush_zone: np.ndarray
    link_ids: np.ndarray
    zone_ids: tuple = ()
    zone_nodes: np.ndarray | None = None
    demand: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return int(self.flow.nbytes + self.inbush.nbytes)


def solve_bush(prob, *, gap: float, max_iter: int, max_time_s: float | None, callback,
               strict: bool, warm_start: BushState | None = None, n_shift: int = 1,
               threads: int | None = None, shift_sweeps: int = 2) -> AssignmentResult:
    """Algorithm B on the arrays of an assignment problem (see ``karvan.assign``)."""
    from karvan.assign.equilibrium import IterationInfo

    g = prob.g
    n_cls = len(prob.classes)
    t0 = _time.perf_counter()
    # bushes: every (class, origin) with demand
    bc, bz = [], []
    for k, mat in enumerate(prob.mats):
        for i in np.flatnonzero(mat.sum(axis=1) > 0):
            bc.append(k)
            bz.append(i)
    bush_class = np.asarray(bc, dtype=np.int64)
    bush_zone = np.asarray(bz, dtype=np.int64)
    bush_origin = prob.origins[bush_zone] if len(bz) else np.zeros(0, np.int64)
    bush_demand = np.zeros((len(bc), len(prob.dests)))
    for b, (k, i) in enumerate(zip(bc, bz)):
        bush_demand[b] = prob.mats[k][i]
    t = prob.times(np.zeros(g.n_arcs))
    # unreachable demand is an input error, as for the other methods
    y = np.zeros((n_cls, g.n_arcs))
    _, lost = prob.aon(t, y)
    if lost > 0:
        pairs = prob.unreachable_pairs()
        raise NoPathError(
            f"{len(pairs)} OD pairs with demand ({lost:g} in all) have no path "
            f"({format_ids(pairs)}); connect them or remove their demand."
        )
    if warm_start is not None:
        ok = (warm_start.flow.shape == (len(bc), g.n_arcs)
              and np.array_equal(warm_start.bush_class, bush_class)
              and np.array_equal(warm_start.bush_zone, bush_zone)
              and tuple(warm_start.zone_ids) == tuple(prob.zone_ids)
              and np.array_equal(warm_start.zone_nodes, prob.origins)
              and np.array_equal(warm_start.link_ids, g.link_ids[g.arc_link]))
        if not ok:
            raise InputError("warm_start bushes belong to another network or demand (arcs, "
                             "classes, zones or origins differ); start from scratch.")
        flow = warm_start.flow.copy()
        inbush = warm_start.inbush.copy()
        # a bush keeps how its flow splits between destinations: where an origin's demand
        # changed only in scale the bush is scaled; where its mix changed it starts afresh
        old_d = warm_start.demand
        tot_old = old_d.sum(axis=1)
        tot_new = bush_demand.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(tot_old > 0, tot_new / tot_old, 0.0)
        same_mix = np.all(np.abs(bush_demand - scale[:, None] * old_d)
                          <= 1e-12 * np.maximum(tot_new, 1.0)[:, None], axis=1)
        flow *= np.where(same_mix, scale, 0.0)[:, None]
        redo = np.flatnonzero(~same_mix)
        if len(redo):
            inbush[redo] = False
            sub_flow = np.zeros((len(redo), g.n_arcs))
            sub_in = np.zeros((len(redo), g.n_arcs), dtype=np.bool_)
            x0 = KB.class_flows_from_bushes(flow, bush_class, n_cls)
            cost0 = np.ascontiguousarray(prob.times(prob.volume(x0))[None, :] + prob.fixed)
            KB.bush_init(g.indptr, g.head, g.tail, g.blocked, cost0, bush_class[redo],
                         bush_origin[redo], bush_demand[redo], prob.dests, sub_flow, sub_in)
            flow[redo] = sub_flow
            inbush[redo] = sub_in
    else:
        flow = np.zeros((len(bc), g.n_arcs))
        inbush = np.zeros((len(bc), g.n_arcs), dtype=np.bool_)
        cost0 = np.ascontiguousarray(t[None, :] + prob.fixed)
        KB.bush_init(g.indptr, g.head, g.tail, g.blocked, cost0, bush_class, bush_origin,
                     bush_demand, prob.dests, flow, inbush)
    rindptr, rarcs = g.reverse_star()
    n_threads = prob.n_chunks if threads is None else max(1, int(threads))
    if threads is None and len(bc) * g.n_arcs < 200_000:
        n_threads = 1  # a parallel launch costs more than it saves
    x = KB.class_flows_from_bushes(flow, bush_class, n_cls)
    v = prob.volume(x)
    t = prob.times(v)
    dt = prob.dtimes(v).copy()
    rows = []
    it = 0
    converged = False
    rel_gap = aec = obj = np.nan
    shifts = 0
    while True:
        # re-sum the class flows from the bushes, so that rounding does not build up
        x = KB.class_flows_from_bushes(flow, bush_class, n_cls)
        v = prob.volume(x)
        prob.times(v, t)
        dt = prob.dtimes(v).copy()
        sptt = 0.0
        for k in range(n_cls):
            _, s, _ = aon_assign(g.indptr, g.head, g.tail, t + prob.fixed[k], g.blocked,
                                 prob.origins, prob.dests, prob.mats[k], prob.n_chunks)
            sptt += prob.pce[k] * s
        tstt = float(sum(prob.pce[k] * np.dot(x[k], t + prob.fixed[k]) for k in range(n_cls)))
        rel_gap = (tstt - sptt) / sptt if sptt > 0 else 0.0
        aec = (tstt - sptt) / prob.demand_total if prob.demand_total > 0 else 0.0
        obj = prob.objective(x, v)
        elapsed = _time.perf_counter() - t0
        rows.append((it, rel_gap, aec, obj, float(shifts), "algorithm-b", elapsed))
        if callback is not None:
            callback(IterationInfo(it, rel_gap, aec, obj, float(shifts), "algorithm-b", elapsed))
        if rel_gap < -1e-9:
            # flows cheaper than the shortest paths: they do not carry the demand
            raise KarvanError(f"algorithm-b: the flows do not match the demand (relative gap "
                              f"{rel_gap:.3g} < 0); this is a bug, please report it.")
        if rel_gap <= gap:
            converged = True
            break
        if it >= max_iter or (max_time_s is not None and elapsed >= max_time_s):
            break
        # far from the target, two rounds between gap checks: a check (shortest paths from
        # every origin) costs about as much as a round
        rounds = 2 if rel_gap > 1e3 * gap and it + 2 <= max_iter else 1
        shifts = 0
        for _ in range(rounds):
            it += 1
            shifts += KB.bush_sweep(g.indptr, g.head, g.tail, rindptr, rarcs, g.blocked,
                                    g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf,
                                    prob.fixed, prob.pce, bush_class, bush_origin, flow, inbush,
                                    x, v, t, dt, n_shift, True, n_threads)
            # more sweeps that only shift flow within the bushes, before the next gap check
            for _ in range(shift_sweeps):
                shifts += KB.bush_sweep(g.indptr, g.head, g.tail, rindptr, rarcs, g.blocked,
                                        g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf,
                                        prob.fixed, prob.pce, bush_class, bush_origin, flow,
                                        inbush, x, v, t, dt, 1, False, n_threads)
    conv = pd.DataFrame(rows, columns=["iteration", "relative_gap", "aec", "objective", "step",
                                       "direction", "elapsed_s"])
    if not converged:
        msg = (f"algorithm-b stopped after {it} sweeps at relative gap {rel_gap:.3g} "
               f"(target {gap:g}).")
        if strict:
            raise KarvanError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    state = BushState(flow, inbush, bush_class, bush_zone, g.link_ids[g.arc_link],
                      tuple(prob.zone_ids), prob.origins, bush_demand)
    return AssignmentResult(
        graph=g, classes=prob.classes, class_flows=x, volume=v, time=t.copy(),
        class_costs=t[None, :] + prob.fixed, objective=obj, gap=float(rel_gap), aec=float(aec),
        iterations=it, converged=converged, convergence=conv,
        params={"method": "algorithm-b", "gap": gap, "max_iter": max_iter,
                "max_time_s": max_time_s, "threads": n_threads, "bush_bytes": state.nbytes,
                "classes": [{"name": c.name, "demand": c.demand,
                             "value_of_time": c.value_of_time, "pce": c.pce,
                             "cost_fields": dict(c.cost_fields)} for c in prob.classes]},
        bushes=state,
    )
