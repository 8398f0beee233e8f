"""Dial's STOCH loading and its stochastic equilibrium by the method of successive averages.

Dial's loading (:mod:`karvan.kernels.dial`) spreads each origin's demand over every efficient
path (each arc leading away from the origin in least cost) by logit, without route sets. It
needs no route storage, so it suits large networks; it has no path-size correction for
overlapping paths. The efficient arcs are those of the free-flow costs, kept through the
iterations: a fixed choice set makes the loading continuous in the costs, so that the averages
converge (recomputing the efficient arcs at every iteration, as Dial's original loading does at
fixed costs, makes the loading jump when an arc changes side and the averages stall at a gap of
about 1e-3 on Sioux Falls). The fixed point with congestion is found by averaging class arc flows:
``x <- x + (y - x) / (n + 1)`` (MSA) or with self-regulated steps (SRA, Liu, He and He 2009),
y Dial's loading at the current costs; the gap is ``sum_k,a |x - y| / sum_k,a x``.

References
----------
H. X. Liu, X. He and B. He, "Method of successive weighted averages (MSWA) and self-regulated
averaging schemes for solving stochastic user equilibrium problem", Networks and Spatial
Economics 9(4), 485-503, 2009.

Hard capacities work as in the route-based solver (augmented Lagrangian, multipliers as delays,
an unserved alternative per OD pair), but MSA converges slowly: prefer the route-based solver
when capacities bind.
"""

from __future__ import annotations

import time as _time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from karvan import kernels as K
from karvan.assign import TrafficClass
from karvan.choice._setup import ClassArrays, per_class, setup
from karvan.choice.capacities import Capacities, compile_capacities, no_capacities
from karvan.choice.result import ChoiceResult
from karvan.errors import ConvergenceWarning, KarvanError, NoPathError, format_ids
from karvan.kernels import dial as KD
from karvan.kernels import logit as KL
from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph
from karvan.network.model import Network

COLUMNS = ["outer", "iteration", "gap", "link_gap", "divergence", "aec", "objective",
           "max_violation", "routes", "elapsed_s"]


class _Dial:
    def __init__(self, ca: ClassArrays, theta: np.ndarray, caps: Capacities | None) -> None:
        self.ca, self.g, self.theta = ca, ca.graph, theta
        self.rindptr, self.rarcs = self.g.reverse_star()
        self.cons = compile_capacities(caps, self.g) if caps is not None else no_capacities(
            self.g.n_arcs)
        n = self.cons.n
        self.mu, self.rho, self.S = np.zeros(n), np.zeros(n), np.zeros(n)
        self.surch = np.zeros(self.g.n_arcs)
        self.dsurch = np.zeros(self.g.n_arcs)
        self.t = np.empty(self.g.n_arcs)
        self.dt = np.empty(self.g.n_arcs)
        self.unserved_cost = np.full(ca.n_classes, np.inf)
        self.unserved = [np.zeros_like(m) for m in ca.mats]
        self.lost = 0.0
        self.free = ca.free_costs()
        self.efficient = "free"

    def set_volume(self, x: np.ndarray) -> np.ndarray:
        g, ca = self.g, self.ca
        v = np.ascontiguousarray(ca.pce @ x)
        KL.arc_times(v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf, self.t, self.dt)
        c = self.cons
        if c.n:
            self.S = np.add.reduceat(v[c.cons_arcs], c.cons_ptr[:-1])
            KL.surcharges(c.cons_ptr, c.cons_arcs, c.cap, self.mu, self.rho, self.S,
                          self.surch, self.dsurch)
        return v

    def arc_costs(self) -> np.ndarray:
        return self.t[None, :] + self.ca.fixed + self.surch[None, :]

    def load(self) -> np.ndarray:
        """Dial's loading of every class at the current costs: (n_classes, n_arcs).

        Raises
        ------
        KarvanError
            When the path weights overflow.
        """
        g, ca = self.g, self.ca
        costs = self.arc_costs()
        y = np.zeros((ca.n_classes, g.n_arcs))
        lost = 0.0
        for k in range(ca.n_classes):
            c0 = costs[k] if self.efficient == "current" else self.free[k]
            y[k], lo, over, un = KD.dial_load(
                g.indptr, g.head, g.tail, self.rindptr, self.rarcs,
                np.ascontiguousarray(costs[k]), np.ascontiguousarray(c0), g.blocked,
                float(self.theta[k]), ca.zone_nodes, ca.zone_nodes, ca.mats[k],
                float(self.unserved_cost[k]), ca.n_chunks)
            if over:
                raise KarvanError(f"class {ca.classes[k].name!r}: Dial's path weights overflow "
                                  "(too many efficient paths at this theta); use the route-"
                                  "based loading (loading='psl').")
            lost += lo
            self.unserved[k] = un * ca.mats[k]
        self.lost = lost
        return y

    def violation(self) -> float:
        c = self.cons
        return float(max(0.0, np.max((self.S - c.cap) / c.cap))) if c.n else 0.0

    def slack(self) -> float:
        c = self.cons
        if not c.n:
            return 0.0
        on = self.mu + self.rho * (self.S - c.cap) > 0
        return float(max(0.0, np.max(((c.cap - self.S) / c.cap)[on]))) if on.any() else 0.0


def _unreachable(d: _Dial) -> list[str]:
    ca, g = d.ca, d.g
    out = []
    for k, m in enumerate(ca.mats):
        dist, _ = K.shortest_path_trees(g.indptr, g.head, g.free_flow_time + ca.fixed[k],
                                        g.blocked, ca.zone_nodes, ca.n_chunks)
        bad = np.argwhere((m > 0) & ~np.isfinite(dist[:, ca.zone_nodes]))
        out.extend(f"{ca.zone_ids[i]}->{ca.zone_ids[j]}" for i, j in bad)
    return out


def solve_dial(ca: ClassArrays, theta: np.ndarray, *, capacities: Capacities | None,
               gap: float, max_iter: int, max_time_s: float | None, callback, strict: bool,
               iterate: bool = True, method: str = "msa") -> ChoiceResult:
    """Dial's loading at free-flow costs (``iterate`` False) or its equilibrium by ``msa``
    (steps 1 / (n + 1)) or ``sra``, self-regulated averaging (Liu, He and He 2009): steps
    1 / beta_n with beta growing by 1.5 after an iteration whose residual |y - x| grew and by
    0.5 otherwise.

    Raises
    ------
    NoPathError
        When some OD pair with demand has no path.
    KarvanError
        When Dial's weights overflow, or with ``strict`` when the averages do not converge.
    """
    t0 = _time.perf_counter()
    d = _Dial(ca, theta, capacities)
    g = ca.graph
    x = np.zeros((ca.n_classes, g.n_arcs))
    d.set_volume(x)
    if d.cons.n:
        free_dist, _ = K.shortest_path_trees(g.indptr, g.head, g.free_flow_time + ca.fixed[0],
                                             g.blocked, ca.zone_nodes, ca.n_chunks)
        u = np.zeros(ca.n_classes)
        for k in range(ca.n_classes):
            dist, _ = K.shortest_path_trees(g.indptr, g.head, g.free_flow_time + ca.fixed[k],
                                            g.blocked, ca.zone_nodes, ca.n_chunks)
            dk = dist[:, ca.zone_nodes][ca.mats[k] > 0]
            u[k] = 10.0 * float(dk[np.isfinite(dk)].max()) + 40.0 / theta[k] if dk.size else 1.0
        if capacities.unserved_cost is not None:
            u = per_class(capacities.unserved_cost, ca.classes, "unserved_cost")
        d.unserved_cost = u
        q = sum(float(m.sum()) for m in ca.mats)
        dq = free_dist[:, ca.zone_nodes][ca.mats[0] > 0]
        scale = float(np.mean(dq[np.isfinite(dq)])) if q > 0 and dq.size else 1.0
        d.rho = np.full(d.cons.n, 10.0 * max(scale, 1e-12)) / d.cons.cap
    x = d.load()
    if d.lost > 0:
        pairs = _unreachable(d)
        raise NoPathError(f"{len(pairs)} OD pairs with demand ({d.lost:g} in all) have no path "
                          f"({format_ids(pairs)}); connect them or remove their demand.")
    if not iterate:
        rows = [(0, 0, 0.0, 0.0, np.nan, np.nan, np.nan, 0.0, 0, _time.perf_counter() - t0)]
        return _result(d, x, 0.0, rows, 0, True, gap, t0, strict, loaded=False)
    rows = []
    it = 0
    converged = False
    deadline = None if max_time_s is None else t0 + max_time_s
    rounds = capacities.max_rounds if capacities is not None else 1
    tol = capacities.tol if capacities is not None else 0.0
    link_gap = np.inf
    prev_viol = np.inf
    for outer in range(rounds):
        n = 0
        ok = False
        beta = 1.0
        prev_res = np.inf
        while True:
            d.set_volume(x)
            y = d.load()
            tot = float(x.sum())
            link_gap = float(np.abs(x - y).sum() / tot) if tot > 0 else 0.0
            viol = d.violation()
            row = (outer, it, link_gap, link_gap, np.nan, np.nan, np.nan, viol, 0,
                   _time.perf_counter() - t0)
            rows.append(row)
            if callback is not None:
                from karvan.choice.equilibrium import ChoiceIteration

                callback(ChoiceIteration(*row))
            if link_gap <= gap:
                ok = True
                break
            if it >= max_iter or (deadline is not None and _time.perf_counter() >= deadline):
                break
            it += 1
            n += 1
            if method == "sra":
                res = float(np.abs(y - x).sum())
                beta += 1.5 if res >= prev_res else 0.5
                prev_res = res
                x = x + (y - x) / beta
            else:
                x = x + (y - x) / (n + 1)
        if not d.cons.n:
            converged = ok
            break
        if ok and d.violation() <= tol and d.slack() <= max(10.0 * tol, 1e-6):
            converged = True
            break
        if not ok:
            break
        d.mu = np.maximum(0.0, d.mu + d.rho * (d.S - d.cons.cap))
        viol = d.violation()
        if viol > 0.25 * prev_viol:
            d.rho *= 4.0
        prev_viol = viol
    return _result(d, x, link_gap, rows, it, converged, gap, t0, strict)


def _result(d: _Dial, x, link_gap, rows, it, converged, gap, t0, strict, loaded: bool = True
            ) -> ChoiceResult:
    """The result; with ``loaded`` False the times stay those the loading was made at.

    Raises
    ------
    KarvanError
        With ``strict`` when not converged.
    """
    ca, g = d.ca, d.g
    v = d.set_volume(x) if loaded else np.ascontiguousarray(ca.pce @ x)
    cap_table = None
    if d.cons.n:
        c = d.cons
        mult = np.maximum(0.0, d.mu + d.rho * (d.S - c.cap))
        cap_table = pd.DataFrame({"constraint_id": c.ids, "capacity": c.cap, "volume": d.S,
                                  "multiplier": mult, "binding": mult > 0,
                                  "relative_excess": (d.S - c.cap) / c.cap})
    if not converged:
        msg = (f"Dial's MSA stopped after {it} iterations at gap {link_gap:.3g} (target "
               f"{gap:g}).")
        if strict:
            raise KarvanError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    rows_u = []
    z = np.asarray(ca.zone_ids, dtype=object)
    for k, un in enumerate(d.unserved):
        for i, j in np.argwhere(un > 1e-9 * np.maximum(ca.mats[k], 1e-300)):
            if ca.mats[k][i, j] > 0:
                rows_u.append((ca.classes[k].name, z[i], z[j], ca.mats[k][i, j], un[i, j]))
    unserved = pd.DataFrame(rows_u, columns=["class", "origin", "destination", "demand",
                                             "unserved"])
    if len(unserved):
        warnings.warn(f"{float(unserved['unserved'].sum()):g} units of demand in "
                      f"{len(unserved)} OD pairs cannot be carried within the capacities (see "
                      "the result's unserved table).", UserWarning, stacklevel=3)
    return ChoiceResult(
        graph=g, classes=ca.classes, theta=d.theta.copy(), class_flows=x, volume=v,
        time=d.t.copy(), surcharge=d.surch.copy(), class_costs=d.arc_costs(), route_set=None,
        route_flow=None, route_cost=None, route_share=None, gap=float(link_gap),
        link_gap=float(link_gap), divergence=float("nan"), aec=float("nan"), iterations=it,
        converged=converged, convergence=pd.DataFrame(rows, columns=COLUMNS),
        capacities=cap_table, unserved=unserved,
        params={"method": "dial", "gap": gap, "threads": ca.n_chunks})


def dial_loading(
    network: Network | CompiledGraph,
    demand: Demand,
    *,
    theta: float | Mapping[str, float],
    classes: Sequence[TrafficClass] | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> ChoiceResult:
    """One Dial (STOCH) loading at free-flow costs: every OD pair's demand spread by logit over
    all its efficient paths (see the module notes).

    Parameters are those of :func:`karvan.choice.stochastic_equilibrium`.

    Returns
    -------
    ChoiceResult
        With no route set.

    Raises
    ------
    InputError
        On bad input.
    NoPathError
        When some OD pair with demand has no path.

    Examples
    --------
    Two parallel links of time 1 and 2 and one unit of demand, theta 1:

    >>> nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
    ...                       "free_flow_time": [1.0, 2.0], "vdf": "constant"},
    ...                      index=pd.Index(["a", "b"], name="link_id"))
    >>> d = Demand((1, 2), {"demand": np.array([[0.0, 1.0], [0.0, 0.0]])})
    >>> [round(float(f), 6) for f in dial_loading(Network(nodes, links), d, theta=1.0).flow]
    [0.731059, 0.268941]
    """
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    th = per_class(theta, ca.classes, "theta")
    return solve_dial(ca, th, capacities=None, gap=0.0, max_iter=0, max_time_s=None,
                      callback=None, strict=False, iterate=False)


