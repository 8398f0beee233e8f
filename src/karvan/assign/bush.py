"""Algorithm B (origin-based, bush) user equilibrium: the driver around the numba kernels.

A round has the structure of TAP-B's outer iteration (Boyles et al.): one pass that updates
every bush and shifts flow in it, then up to ``inner`` passes that only shift flow, each over
the bushes whose own excess cost is still above a quarter of the last gap, then one exact gap
check. The bushes are stored sparsely (:mod:`karvan.kernels.bush`), so memory grows with the
bushes, not with links x origins.

The bushes are kept in the result (:class:`BushState`) so that another assignment on the same
graph can start from them (``warm_start``): after a change of a few link attributes it reaches
the same gap in a fraction of the rounds.
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from karvan.assign._workers import Workers, chunks_of
from karvan.assign.problem import CHUNKS_PER_THREAD, SERIAL_WORK, relative_gap
from karvan.assign.result import AssignmentResult, IterationInfo
from karvan.errors import ConvergenceWarning, InputError, KarvanError, NoPathError, format_ids

if TYPE_CHECKING:
    from karvan.assign.problem import _Problem

#: work items per thread in a pass (taken from a counter inside the kernel, so they cost little)
PASS_CHUNKS_PER_THREAD = 16


@dataclass(frozen=True, slots=True, eq=False)
class BushState:
    """Origin-based flows: one bush per (class, origin) with demand, stored sparsely.

    Bush ``b`` holds the arcs ``arc[ptr[b]:ptr[b] + size[b]]`` with its flows
    ``arc_flow[...]`` on them (room for ``room[b]`` arcs); ``bush_class[b]`` and
    ``bush_zone[b]`` (a position in the demand's zones) say whose it is; ``blocked`` is the
    graph's impassable nodes they were grown on. :attr:`flow` and :attr:`inbush` give the dense
    (bushes x arcs) view, built on first use.
    """

    ptr: np.ndarray
    size: np.ndarray
    room: np.ndarray
    arc: np.ndarray
    arc_flow: np.ndarray
    bush_class: np.ndarray
    bush_zone: np.ndarray
    link_ids: np.ndarray
    n_arcs: int
    zone_ids: tuple = ()
    zone_nodes: np.ndarray | None = None
    demand: np.ndarray | None = None
    blocked: np.ndarray | None = None
    _dense: dict = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        """Bytes held by the bush pool (arcs and flows, with the room to grow)."""
        return int(self.arc.nbytes + self.arc_flow.nbytes)

    def _densify(self) -> tuple[np.ndarray, np.ndarray]:
        from karvan.kernels import bush as KB

        if "flow" not in self._dense:
            f, i = KB.dense_flows(self.ptr, self.size, self.arc, self.arc_flow, self.n_arcs)
            self._dense["flow"], self._dense["inbush"] = f, i
        return self._dense["flow"], self._dense["inbush"]

    @property
    def flow(self) -> np.ndarray:
        """Bush flows as a dense (bushes x arcs) array."""
        return self._densify()[0]

    @property
    def inbush(self) -> np.ndarray:
        """Which arcs each bush holds, as a dense (bushes x arcs) boolean array."""
        return self._densify()[1]


class _Pool:
    """The bushes' slots, with room to grow."""

    def __init__(self, sizes: np.ndarray) -> None:
        self.cap = np.asarray(sizes, dtype=np.int64) + _slack(sizes)
        self.ptr = np.zeros(len(self.cap), np.int64)
        if len(self.cap):
            self.ptr[1:] = np.cumsum(self.cap)[:-1]
        total = int(self.cap.sum())
        self.arc = np.zeros(total, np.int32)
        self.flow = np.zeros(total)
        self.len = np.zeros(len(self.cap), np.int64)

    def grow(self, need: np.ndarray) -> None:
        """Give every bush with ``need[b] > cap[b]`` room for it and some more."""
        from karvan.kernels import bush as KB

        big = need > self.cap
        cap = self.cap.copy()
        cap[big] = need[big] + _slack(need[big])
        ptr = np.zeros(len(cap), np.int64)
        ptr[1:] = np.cumsum(cap)[:-1]
        arc = np.zeros(int(cap.sum()), np.int32)
        flow = np.zeros(len(arc))
        KB.regroup(self.ptr, self.len, self.arc, self.flow, ptr, arc, flow)
        self.cap, self.ptr, self.arc, self.flow = cap, ptr, arc, flow


def _slack(sizes: np.ndarray) -> np.ndarray:
    return np.maximum(16, np.asarray(sizes, dtype=np.int64) // 4)


def solve_bush(prob: _Problem, *, gap: float, max_iter: int, max_time_s: float | None,
               callback, strict: bool, warm_start: BushState | None = None,
               threads: int | None = None, inner: int = 20) -> AssignmentResult:
    """Algorithm B on the arrays of an assignment problem (see ``karvan.assign``).

    Parameters
    ----------
    prob
        The problem's arrays.
    gap, max_iter, max_time_s, callback, strict, warm_start
        As in :func:`karvan.assign.assign` (``max_iter`` counts rounds).
    threads
        Threads for the passes and the gap; default numba's thread count, one on small
        problems.
    inner
        Most shift-only passes per round.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    NoPathError
        When some OD pair with demand has no path.
    InputError
        When ``warm_start`` belongs to another network or demand, or was grown where other
        nodes were passable.
    KarvanError
        With ``strict`` when the target gap is not reached, and on flows that do not carry the
        demand (a negative gap: a bug).
    """
    from karvan.kernels.bush import bush_scratch

    g = prob.g
    m = g.n_arcs
    t0 = _time.perf_counter()
    # bushes: every (class, origin) with demand
    bc, bz = [], []
    for k, mat in enumerate(prob.mats):
        for i in np.flatnonzero(mat.sum(axis=1) > 0):
            bc.append(k)
            bz.append(i)
    n_b = len(bc)
    bush_class = np.asarray(bc, dtype=np.int64)
    bush_zone = np.asarray(bz, dtype=np.int64)
    bush_origin = prob.origins[bush_zone] if n_b else np.zeros(0, np.int64)
    bush_demand = np.zeros((n_b, len(prob.dests)))
    for b, (k, i) in enumerate(zip(bc, bz, strict=True)):
        bush_demand[b] = prob.mats[k][i]
    dests = np.ascontiguousarray(prob.dests, dtype=np.int64)
    fixed = np.ascontiguousarray(prob.fixed)
    n_threads = prob.n_chunks if threads is None else max(1, int(threads))
    if threads is None and n_b * m < SERIAL_WORK:
        n_threads = 1
    n_threads = min(n_threads, max(1, n_b))
    chunks = chunks_of(n_b, n_threads * CHUNKS_PER_THREAD if n_threads > 1 else 1)
    workers = Workers(n_threads, lambda: bush_scratch(g.n_nodes, m))
    try:
        pool = _start(prob, workers, chunks, warm_start, bush_class, bush_zone, bush_origin,
                      bush_demand, dests, fixed)
        return _iterate(prob, workers, chunks, pool, gap=gap, max_iter=max_iter,
                        max_time_s=max_time_s, callback=callback, strict=strict, inner=inner,
                        t0=t0, bush_class=bush_class, bush_zone=bush_zone,
                        bush_origin=bush_origin, bush_demand=bush_demand, dests=dests,
                        fixed=fixed)
    finally:
        workers.close()


def _init_bushes(prob: _Problem, workers: Workers, pool: _Pool, sel: np.ndarray,
                 cost: np.ndarray, bush_class, bush_origin, bush_demand, dests) -> None:
    """Shortest-path-tree bushes for the bushes ``sel`` at ``cost``.

    Raises
    ------
    NoPathError
        When some OD pair with demand has no path.
    """
    from karvan.kernels import bush as KB

    g = prob.g
    lost = np.zeros(len(bush_class))
    # the kernel walks a range of bushes: run it on the selected ones through a sub-pool view
    sub_class = np.ascontiguousarray(bush_class[sel])
    sub_origin = np.ascontiguousarray(bush_origin[sel])
    sub_demand = np.ascontiguousarray(bush_demand[sel])
    sub_ptr = np.ascontiguousarray(pool.ptr[sel])
    sub_len = np.zeros(len(sel), np.int64)
    sub_lost = np.zeros(len(sel))

    def run(lo, hi, sc):
        KB.init_chunk(lo, hi, g.indptr, g.head, g.tail, g.blocked, cost, sub_class, sub_origin,
                      sub_demand, dests, sub_ptr, sub_len, pool.arc, pool.flow, sub_lost, sc[0],
                      sc[1])

    workers.run(run, chunks_of(len(sel), workers.n_threads * CHUNKS_PER_THREAD))
    pool.len[sel] = sub_len
    lost[sel] = sub_lost
    if lost.sum() > 0:
        pairs = prob.unreachable_pairs()
        raise NoPathError(
            f"{len(pairs)} OD pairs with demand ({lost.sum():g} in all) have no path "
            f"({format_ids(pairs)}); connect them or remove their demand."
        )


def _start(prob: _Problem, workers: Workers, chunks, warm_start: BushState | None, bush_class,
           bush_zone, bush_origin, bush_demand, dests, fixed) -> _Pool:
    from karvan.kernels import bush as KB

    g = prob.g
    n_b = len(bush_class)
    n_cls = len(prob.classes)
    reach = np.zeros(n_b, np.int64)
    KB.reach_counts(g.indptr, g.head, g.blocked, bush_origin, reach)
    trees = np.maximum(reach - 1, 0)
    if warm_start is None:
        pool = _Pool(trees)
        t = prob.times(np.zeros(g.n_arcs))
        cost0 = np.ascontiguousarray(t[None, :] + fixed)
        _init_bushes(prob, workers, pool, np.arange(n_b), cost0, bush_class, bush_origin,
                     bush_demand, dests)
        return pool
    ws = warm_start
    ok = (ws.n_arcs == g.n_arcs and len(ws.size) == n_b
          and np.array_equal(ws.bush_class, bush_class)
          and np.array_equal(ws.bush_zone, bush_zone)
          and tuple(ws.zone_ids) == tuple(prob.zone_ids)
          and np.array_equal(ws.zone_nodes, prob.origins)
          and np.array_equal(ws.link_ids, g.link_ids[g.arc_link]))
    if not ok:
        raise InputError("warm_start bushes belong to another network or demand (arcs, "
                         "classes, zones or origins differ); start from scratch.")
    if ws.blocked is None or ws.blocked.shape != g.blocked.shape:
        raise InputError("warm_start bushes were grown on another set of nodes; start from "
                         "scratch.")
    changed = np.flatnonzero(ws.blocked != g.blocked)
    if len(changed):
        # a bush keeps the arcs it was grown with, and its flow on them, through a node that
        # has become impassable
        raise InputError(
            f"warm_start bushes were grown where {len(changed)} nodes had another passable flag "
            f"(node_id {format_ids(g.node_ids[changed])}); start from scratch."
        )
    # a bush keeps how its flow splits between destinations: where an origin's demand changed
    # only in scale the bush is scaled; where its mix changed it starts afresh
    old_d = ws.demand
    tot_old = old_d.sum(axis=1)
    tot_new = bush_demand.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(tot_old > 0, tot_new / tot_old, 0.0)
    same_mix = np.all(np.abs(bush_demand - scale[:, None] * old_d)
                      <= 1e-12 * np.maximum(tot_new, 1.0)[:, None], axis=1)
    pool = _Pool(np.where(same_mix, ws.size, trees))
    pool.len[:] = np.where(same_mix, ws.size, 0)
    KB.regroup(ws.ptr, pool.len, ws.arc, ws.arc_flow, pool.ptr, pool.arc, pool.flow)
    for b in np.flatnonzero(same_mix):
        lo = pool.ptr[b]
        pool.flow[lo:lo + pool.len[b]] *= scale[b]
    redo = np.flatnonzero(~same_mix)
    if len(redo):
        x0 = KB.class_flows(pool.ptr, pool.len, pool.arc, pool.flow, bush_class, n_cls, g.n_arcs)
        cost0 = np.ascontiguousarray(prob.times(prob.volume(x0))[None, :] + fixed)
        _init_bushes(prob, workers, pool, redo, cost0, bush_class, bush_origin, bush_demand,
                     dests)
    return pool


def _iterate(prob: _Problem, workers: Workers, chunks, pool: _Pool, *, gap, max_iter,
             max_time_s, callback, strict, inner, t0, bush_class, bush_zone, bush_origin,
             bush_demand, dests, fixed) -> AssignmentResult:
    from karvan.kernels import bush as KB

    g = prob.g
    n_cls = len(prob.classes)
    n_b = len(bush_class)
    need = np.zeros(n_b, np.int64)
    active = np.ones(n_b, np.bool_)
    sptt_b = np.zeros(n_b)
    pce_b = prob.pce[bush_class] if n_b else np.zeros(0)
    # threads share the link arrays: non-empty, the kernels update them atomically
    locks = np.zeros(g.n_arcs if workers.n_threads > 1 else 0, np.int64)

    # the passes' work items: small chunks of bushes, taken by the threads from a counter in
    # the kernel (a thread held back by the machine's load leaves little work unfinished)
    pass_chunks = chunks_of(n_b, workers.n_threads * PASS_CHUNKS_PER_THREAD
                            if workers.n_threads > 1 else 1)
    chunk_lo = np.array([c[0] for c in pass_chunks], np.int64)
    chunk_hi = np.array([c[1] for c in pass_chunks], np.int64)

    def sweep(mode: int, threshold: float, x, v, t, dt, n_pass: int = 1) -> int:
        counter = np.zeros(1 + len(chunk_lo), np.int64)  # next item; which chunks are taken
        done = np.zeros(2 * n_pass, np.int64)

        def run(sc):
            return KB.sweep_passes(n_pass, chunk_lo, chunk_hi, counter, done, mode, threshold,
                                   g.indptr, g.head, g.tail, g.blocked, g.free_flow_time,
                                   g.capacity, g.alpha, g.beta, g.vdf, fixed, prob.pce,
                                   bush_class, bush_origin, bush_demand, dests, pool.ptr,
                                   pool.len, pool.cap, pool.arc, pool.flow, need, active, x, v,
                                   t, dt, locks, sc[0], sc[1], sc[2], sc[3], sc[4])
        return sum(workers.each(run))

    def exact_sptt(t) -> float:
        def run(lo, hi, sc):
            KB.gap_chunk(lo, hi, g.indptr, g.head, g.tail, g.blocked, t, fixed, bush_class,
                         bush_origin, bush_demand, dests, pool.ptr, pool.len, pool.arc, sptt_b,
                         sc[0], sc[1])
        workers.run(run, chunks)
        return float(np.dot(pce_b, sptt_b))

    rows = []
    it = 0
    converged = False
    rel_gap = aec = obj = np.nan
    shifts = 0
    t = np.empty(g.n_arcs)
    while True:
        # the class flows re-summed from the bushes (the threads' shared totals can miss an
        # update), and their times: the gap is that of exactly these flows
        x = KB.class_flows(pool.ptr, pool.len, pool.arc, pool.flow, bush_class, n_cls, g.n_arcs)
        v = prob.volume(x)
        prob.times(v, t)
        dt = prob.dtimes(v).copy()
        sptt = exact_sptt(t)
        tstt = float(sum(prob.pce[k] * np.dot(x[k], t + fixed[k]) for k in range(n_cls)))
        rel_gap = relative_gap(tstt, sptt)
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
        it += 1
        # one pass that updates every bush, then passes that only shift flow in the bushes
        # still far from their own equilibrium (TAP-B: a quarter of the last gap)
        shifts = sweep(1, 0.0, x, v, t, dt)
        if need.any():
            pool.grow(need)
            need[:] = 0
        # (no threshold while the gap has no finite value: SPTT <= 0)
        threshold = 0.25 * rel_gap if it > 1 and np.isfinite(rel_gap) else 0.0
        # the shift-only passes, up to the first that moves nothing, without a barrier between
        shifts += sweep(0, threshold, x, v, t, dt, n_pass=inner if it > 1 else 1)
    if not converged:
        msg = (f"algorithm-b stopped after {it} rounds at relative gap {rel_gap:.3g} "
               f"(target {gap:g}).")
        if strict:
            raise KarvanError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    state = BushState(pool.ptr, pool.len, pool.cap, pool.arc, pool.flow, bush_class, bush_zone,
                      g.link_ids[g.arc_link], g.n_arcs, tuple(prob.zone_ids), prob.origins,
                      bush_demand, g.blocked.copy())
    return AssignmentResult(
        graph=g, classes=prob.classes, class_flows=x, volume=v, time=t.copy(),
        class_costs=t[None, :] + prob.fixed, objective=obj, gap=float(rel_gap), aec=float(aec),
        iterations=it, converged=converged, convergence_rows=tuple(rows),
        params={"method": "algorithm-b", "gap": gap, "max_iter": max_iter,
                "max_time_s": max_time_s, "threads": workers.n_threads,
                "bush_bytes": state.nbytes,
                "classes": [{"name": c.name, "demand": c.demand,
                             "value_of_time": c.value_of_time, "pce": c.pce,
                             "cost_fields": dict(c.cost_fields)} for c in prob.classes]},
        bushes=state,
    )
