"""Static user-equilibrium assignment: all-or-nothing, MSA and the Frank-Wolfe family.

All methods share one loop. At iteration k the current flows x_k are priced at their own costs,
an all-or-nothing assignment y_k at those costs gives both the true relative gap of x_k and the
Frank-Wolfe target, and the method turns y_k into a search direction:

- ``msa``: x_{k+1} = x_k + (y_k - x_k) / (k + 1);
- ``fw``: direction y_k - x_k with an exact line search;
- ``cfw``: the target is a convex combination of y_k and the previous target, chosen so the new
  direction is conjugate to the previous one under the Hessian diag(t'(v)) (Mitradjieva & Lindberg
  2013);
- ``bfw``: the same with the two previous directions (bi-conjugate).

The gap reported, and tested against the target, is always that of the flows returned.

References
----------
M. Mitradjieva and P. O. Lindberg, "The stiff is moving - conjugate direction Frank-Wolfe methods
with applications to traffic assignment", Transportation Science 47(2), 280-293, 2013.
M. J. Beckmann, C. B. McGuire and C. B. Winsten, Studies in the Economics of Transportation, 1956.
"""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Literal

import numpy as np

from karvan.assign.bush import solve_bush
from karvan.assign.classes import TrafficClass
from karvan.assign.problem import _Problem, relative_gap
from karvan.assign.result import AssignmentResult, IterationInfo
from karvan.errors import ConvergenceWarning, InputError, NoPathError, format_ids
from karvan.network.arguments import finite_number

#: Algorithm B runs its kernels as Python (numba not loaded) up to this many class x zone x arc
#: slots: a few-link network solves in tens of milliseconds, numba's load costs ~0.4 s CPU
INTERPRET_WORK = 1_000

if TYPE_CHECKING:
    from karvan.network.demand import Demand
    from karvan.network.graph import CompiledGraph
    from karvan.network.model import Network

log = logging.getLogger(__name__)

Method = Literal["aon", "msa", "fw", "cfw", "bfw", "algorithm-b"]
METHODS: tuple[str, ...] = ("aon", "msa", "fw", "cfw", "bfw", "algorithm-b")

__all__ = ["METHODS", "IterationInfo", "Method", "_Problem", "assign"]


def assign(
    network: Network | CompiledGraph,
    demand: Demand,
    *,
    method: Method = "algorithm-b",
    gap: float = 1e-4,
    max_iter: int = 500,
    max_time_s: float | None = None,
    classes: Sequence[TrafficClass] | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: Mapping | None = None,
    callback: Callable[[IterationInfo], None] | None = None,
    strict: bool = False,
    record_routes: bool = False,
    warm_start: AssignmentResult | None = None,
) -> AssignmentResult:
    """Assign ``demand`` to ``network`` at user equilibrium.

    Parameters
    ----------
    network
        A :class:`Network` (checked and compiled here) or an already compiled graph (then pass
        ``links`` when classes read link columns other than ``toll`` and ``length``).
    demand
        OD matrices over zones of the network.
    method
        ``algorithm-b`` (the default: origin-based, fastest to tight gaps on every network
        benchmarked, keeps bushes for route lists and warm starts), ``bfw``, ``cfw``, ``fw``,
        ``msa`` or ``aon``.
    gap
        Target relative gap ``(TSTT - SPTT) / SPTT`` of the flows returned.
    max_iter, max_time_s
        Other stopping rules; reaching one of them first leaves ``converged`` False and warns.
    classes
        Traffic classes; default one class per matrix of ``demand`` (``all`` when there is one),
        each with generalized cost ``time + toll_factor * toll + distance_factor * length``.
    toll_factor, distance_factor
        Cost weights of the default class (TNTP's generalized cost); None counts as 0, with a
        warning where the network's TNTP files state a factor (``network.config``: pass
        ``read_tntp``'s ``problem.toll_factor`` to apply it).
    links
        With a compiled graph: link columns by name (a table, or a mapping of name to values in
        the graph's link order) for the classes' ``cost_fields``.
    callback
        Called with an :class:`IterationInfo` after each iteration.
    strict
        Raise :class:`~karvan.errors.KarvanError` instead of warning when not converged.
    warm_start
        With ``method="algorithm-b"``: the result of an earlier assignment by the same method on
        the same graph (links and passable nodes) and demand zones, whose bushes the solver
        starts from.
    record_routes
        Keep every all-or-nothing tree and the weight of each in the returned flows, so that
        :func:`karvan.paths.route_flows` can list the routes of every OD pair with their flows
        (memory: iterations x classes x zones x nodes integers; meant for corridor-size
        networks).

    Returns
    -------
    AssignmentResult

    Raises
    ------
    InputError
        On a bad network, demand or class definition.
    NoPathError
        When some OD pair with demand has no path.

    Examples
    --------
    >>> import pandas as pd
    >>> from karvan import Demand, Network
    >>> nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
    ...                       "free_flow_time": [1.0, 2.0], "capacity": [1.0, 1.0],
    ...                       "alpha": [1.0, 1.0], "beta": [1.0, 1.0]},
    ...                      index=pd.Index(["a", "b"], name="link_id"))
    >>> d = Demand((1, 2), {"demand": np.array([[0.0, 3.0], [0.0, 0.0]])})
    >>> r = assign(Network(nodes, links), d, gap=1e-10)
    >>> [round(float(f), 6) for f in r.flow]  # 1 + f_a = 2 (1 + f_b), f_a + f_b = 3
    [2.333333, 0.666667]
    """
    from karvan.network.arguments import check_arguments, stated_factors

    check_arguments(network, demand, gap=gap, max_iter=max_iter, max_time_s=max_time_s,
                    toll_factor=toll_factor, distance_factor=distance_factor)
    toll_factor, distance_factor = stated_factors(network, toll_factor, distance_factor,
                                                  classes=classes)
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}.")
    if not (finite_number(gap) and gap >= 0):
        # inf stopped before any iteration and said "converged"
        raise InputError(f"gap must be a finite number >= 0, got {gap}.")
    if max_iter < 1:
        raise InputError(f"max_iter must be >= 1, got {max_iter}.")
    if max_time_s is not None and not (max_time_s > 0):
        # -1 ran one iteration and said "not converged"
        raise InputError(f"max_time_s must be > 0 seconds (or None: no limit), got "
                         f"{max_time_s}.")
    from karvan.network.graph import CompiledGraph

    if isinstance(network, CompiledGraph):
        from karvan.network.graph import links_in_graph_order

        graph = network
        if links is None:
            links = {"toll": _link_values(graph, graph.toll),
                     "length": _link_values(graph, graph.length)}
        links = links_in_graph_order(graph, links)  # by link_id, not by row position
    else:
        from karvan.network.graph import compile_graph
        from karvan.network.model import complete_links

        graph = compile_graph(network)
        links = complete_links(network.links)
    if classes is None:
        fields = {}
        if toll_factor:
            fields["toll"] = toll_factor
        if distance_factor:
            fields["length"] = distance_factor
        # every matrix is carried: one class each, all at the same cost (never a segment left
        # out because no class names it)
        classes = ([TrafficClass("all", demand.names[0], cost_fields=fields)]
                   if len(demand.names) == 1 else
                   [TrafficClass(n, n, cost_fields=fields) for n in demand.names])
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise InputError(f"class names repeat: {format_ids(names)}.")
    if method == "algorithm-b":
        from karvan.kernels._jit import interpreted

        ws = None
        if warm_start is not None:
            if warm_start.bushes is None:
                raise InputError("warm_start needs a result of method='algorithm-b'.")
            ws = warm_start.bushes
        # a network of a few links solves in Python faster than numba loads (~0.4 s CPU)
        small = len(classes) * len(demand.zone_ids) * graph.n_arcs <= INTERPRET_WORK
        with interpreted() if small else nullcontext():
            prob = _Problem(graph, demand, classes, links)
            return solve_bush(prob, gap=gap, max_iter=max_iter, max_time_s=max_time_s,
                              callback=callback, strict=strict, warm_start=ws)
    prob = _Problem(graph, demand, classes, links)
    return _solve(prob, method=method, gap=gap, max_iter=max_iter, max_time_s=max_time_s,
                  callback=callback, strict=strict, record=record_routes)


def _link_values(graph: CompiledGraph, arc_values: np.ndarray) -> np.ndarray:
    out = np.zeros(graph.n_links)
    out[graph.arc_link] = arc_values
    return out


class _Recorder:
    """The all-or-nothing trees of each iteration and their weights in the current flows.

    Every method here moves x to a convex combination of all-or-nothing solutions y_0, y_1, ...;
    tracking the coefficients of x (and of the conjugate targets s1, s2) over the y_j gives the
    route flows of every OD pair exactly: route flow = sum of the weights of the trees that use it.
    """

    def __init__(self, prob: _Problem) -> None:
        self.prob = prob
        self.trees: list[list[np.ndarray]] = []
        self.wx = np.zeros(0)
        self.ws1 = self.ws2 = None

    def add_tree(self, t: np.ndarray) -> int:
        from karvan import kernels as K

        g, p = self.prob.g, self.prob
        per_class = []
        for k in range(len(p.classes)):
            _, pred = K.shortest_path_trees(g.indptr, g.head, t + p.fixed[k], g.blocked,
                                            p.origins, p.n_chunks)
            per_class.append(pred.astype(np.int32))
        self.trees.append(per_class)
        n = len(self.trees)
        for name in ("wx", "ws1", "ws2"):
            w = getattr(self, name)
            if w is not None:
                setattr(self, name, np.r_[w, 0.0])
        return n - 1

    def step(self, j: int, coef, step: float, kind: str) -> None:
        e = np.zeros(len(self.trees))
        e[j] = 1.0
        if coef is None:
            ws = e
        else:
            b0, b1, b2 = coef
            ws = b0 * e + b1 * self.ws1
            if b2 > 0.0:
                ws = ws + b2 * self.ws2
        if kind == "conjugate":
            self.ws2 = self.ws1
            self.ws1 = ws
        self.wx = (1.0 - step) * self.wx + step * ws


def _solve(prob: _Problem, *, method: str, gap: float, max_iter: int, max_time_s: float | None,
           callback, strict: bool, record: bool = False) -> AssignmentResult:
    workers = prob.aon_workers()
    try:
        return _solve_on(prob, workers, method=method, gap=gap, max_iter=max_iter,
                         max_time_s=max_time_s, callback=callback, strict=strict, record=record)
    finally:
        workers.close()


def _solve_on(prob: _Problem, workers, *, method: str, gap: float, max_iter: int,
              max_time_s: float | None, callback, strict: bool, record: bool) -> AssignmentResult:
    from karvan import kernels as K

    g = prob.g
    n_cls = len(prob.classes)
    t0 = _time.perf_counter()
    x = np.zeros((n_cls, g.n_arcs))
    y = np.zeros_like(x)
    t = prob.times(np.zeros(g.n_arcs))
    _, lost = prob.aon(t, x, workers)
    rec = _Recorder(prob) if record else None
    if rec is not None:
        rec.add_tree(t)
        rec.wx = np.ones(1)
    if lost > 0:
        pairs = prob.unreachable_pairs()
        raise NoPathError(
            f"{len(pairs)} OD pairs with demand ({lost:g} in all) have no path "
            f"({format_ids(pairs)}); connect them or remove their demand."
        )
    rows = []
    s1 = s2 = d1 = p1 = None
    tau1 = 0.0
    converged = False
    rel_gap = aec = obj = np.nan
    it = 0
    step = 1.0
    direction = "aon"
    while True:
        v = prob.volume(x)
        prob.times(v, t)
        sptt, _ = prob.aon(t, y, workers)
        j = rec.add_tree(t) if rec is not None else -1
        tstt = float(sum(prob.pce[k] * np.dot(x[k], t + prob.fixed[k]) for k in range(n_cls)))
        rel_gap = relative_gap(tstt, sptt)
        aec = (tstt - sptt) / prob.demand_total if prob.demand_total > 0 else 0.0
        obj = prob.objective(x, v)
        elapsed = _time.perf_counter() - t0
        rows.append((it, rel_gap, aec, obj, step, direction, elapsed))
        if callback is not None:
            callback(IterationInfo(it, rel_gap, aec, obj, step, direction, elapsed))
        if rel_gap <= gap:
            converged = True
            break
        if method == "aon" or it >= max_iter or (max_time_s is not None and elapsed >= max_time_s):
            break
        it += 1
        if method == "msa":
            step = 1.0 / (it + 1)
            direction = "msa"
            x += step * (y - x)
            if rec is not None:
                rec.step(j, None, step, "msa")
            continue
        # direction
        target = y
        direction = "fw"
        coef = None
        if method in ("cfw", "bfw") and s1 is not None and 0.0 < tau1 < 1.0 - 1e-12:
            h = prob.dtimes(v)
            ev = prob.volume(y - x)
            dv1 = prob.volume(d1)
            hd1 = h * dv1
            d1d1 = float(np.dot(hd1, dv1))
            ed1 = float(np.dot(ev, hd1))
            if method == "bfw" and s2 is not None:
                pv = prob.volume(p1)
                hp = h * pv
                pp = float(np.dot(hp, pv))
                pd1 = float(np.dot(hp, dv1))
                ep = float(np.dot(ev, hp))
                det = d1d1 * pp - pd1 * pd1
                if det > 1e-14 * max(d1d1 * pp, 1e-300):
                    a = (-ed1 * pp + ep * pd1) / det
                    b = (-ep * d1d1 + ed1 * pd1) / det
                    b1 = (a + b * tau1) / (1.0 - tau1)
                    if b1 >= 0.0 and b >= 0.0:
                        coef = (1.0, b1, b)
                        direction = "bfw"
            if coef is None and d1d1 > 0.0:
                b1 = (-ed1 / d1d1) / (1.0 - tau1)
                if b1 >= 0.0:
                    coef = (1.0, b1, 0.0)
                    direction = "cfw"
        if coef is not None:
            tot = sum(coef)
            coef = tuple(c / tot for c in coef)
            b0, b1, b2 = coef
            target = b0 * y + b1 * s1
            if b2 > 0.0:
                target += b2 * s2
        d = target - x
        dv = prob.volume(d)
        fixed_dot = float(np.sum(prob.grad_fixed * d))
        step = K.line_search(v, dv, fixed_dot, g.free_flow_time, g.capacity, g.alpha, g.beta,
                             g.vdf, 1.0)
        if step <= 0.0 and direction != "fw":
            # the conjugate direction gave no descent: take a plain Frank-Wolfe step
            direction = "fw"
            target = y
            d = y - x
            dv = prob.volume(d)
            fixed_dot = float(np.sum(prob.grad_fixed * d))
            step = K.line_search(v, dv, fixed_dot, g.free_flow_time, g.capacity, g.alpha, g.beta,
                                 g.vdf, 1.0)
            coef = None
        if rec is not None:
            rec.step(j, coef, step, "conjugate" if method in ("cfw", "bfw") else "fw")
        if method in ("cfw", "bfw"):
            p1 = (s1 - x) if s1 is not None else None
            s2 = s1
            s1 = target.copy() if target is y else target
            d1 = d
            tau1 = step
        x += step * d
    v = prob.volume(x)
    prob.times(v, t)
    costs = t[None, :] + prob.fixed
    if not converged and method != "aon":
        msg = (f"{method} stopped after {it} iterations at relative gap {rel_gap:.3g} "
               f"(target {gap:g}).")
        if strict:
            from karvan.errors import KarvanError

            raise KarvanError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    log.info("%s: %d iterations, relative gap %.3g, %.3f s", method, it, rel_gap,
             _time.perf_counter() - t0)
    return AssignmentResult(
        graph=g,
        classes=prob.classes,
        class_flows=x,
        volume=v,
        time=t.copy(),
        class_costs=costs,
        objective=obj,
        gap=float(rel_gap),
        aec=float(aec),
        iterations=it,
        converged=converged,
        convergence_rows=tuple(rows),
        routes=None if rec is None else (rec.trees, rec.wx, prob.origins, prob.zone_ids,
                                         prob.mats),
        params={"method": method, "gap": gap, "max_iter": max_iter, "max_time_s": max_time_s,
                "threads": workers.n_threads,
                "classes": [{"name": c.name, "demand": c.demand, "value_of_time": c.value_of_time,
                             "pce": c.pce, "cost_fields": dict(c.cost_fields)}
                            for c in prob.classes]},
    )
