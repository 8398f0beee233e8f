"""Least-cost multi-class flow with hard capacities, as a linear program solved by HiGHS.

For every class k and origin o with demand, arc flows f[k,o,a] >= 0 conserve flow at every node;
unserved demand u[k,o,d] >= 0 leaves the network at a penalty. Capacities bind the sum over
classes and origins of the capacity units on each arc:

    minimise    sum c[k,a] f[k,o,a] + sum p u[k,o,d]
    subject to  out(f[k,o]) - in(f[k,o]) = supply[k,o] (less unserved) at every node
                sum_{k,o} pce[k] f[k,o,a] <= cap[a]                      for capacitated arcs

or, for a link whose capacity both directions share (``both_directions``: a terminal, a port,
a border crossing published as annual throughput), one row over its two arcs together.

with c[k,a] = value_of_time[k] * free_flow_time[a] + money cost of class k on a. The dual value
of a capacity row is the shadow price of that arc: how much the total cost would fall with one
more unit of capacity (money per capacity unit, e.g. USD per tonne per year).

Unserved demand is demand the capacities cannot carry: the penalty p is derived from the problem
(twice the cost of the dearest OD pair's cheapest route), and where demand is left unserved the
solution is checked against the least unserved demand the capacities allow (the LP that
minimises only unserved demand); while it leaves more, p doubles. Where all demand is carried
the shadow prices are those of the LP without unserved demand, in which p has no part. Where
some is not, the shadow prices that move with p (the LP solved again at 2 p) are set by it, not
by a saving in transport cost: those of the capacities that turn demand away, and of those tied
to them; :attr:`CapacityResult.shadow_price_capped` marks them.

The LP is solved by pricing (:func:`_solve_priced`): first over the arcs of routes close to each
origin's shortest ones, then with every arc that the capacity duals show could lower the cost,
until none can. The result is the optimum of the whole LP at a fraction of its size.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from karvan.assign.classes import TrafficClass
from karvan.assign.equilibrium import _Problem
from karvan.errors import InputError, KarvanError, format_ids
from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph, as_bool, compile_graph
from karvan.network.model import Network, complete_links


@dataclass(frozen=True, slots=True, eq=False)
class CapacityResult:
    """Solution of the capacity-constrained least-cost flow.

    Attributes
    ----------
    class_flows
        (n_classes, n_arcs) flow per class.
    volume
        Capacity units per arc.
    unit_cost
        (n_classes, n_arcs) money cost per unit of flow on each arc.
    shadow_price
        Per arc: money saved per extra unit of capacity (0 where the capacity does not bind or
        the arc has none); where both directions share a capacity, its price on each of the
        two arcs.
    shadow_price_capped
        Per arc: True where the shadow price is set by the penalty on unserved demand rather
        than by a saving in transport cost (it moves with the penalty): the capacity turns
        demand away, or is tied by other freight's equally cheap routes to one that does.
    unserved
        Table class, origin, destination, demand, unserved, penalty.
    routes
        Table class, origin, destination, route, arcs, links, flow, share, cost (a flow
        decomposition of the solution).
    total_cost
        Objective value: transport cost plus penalties.
    """

    graph: CompiledGraph
    classes: tuple[TrafficClass, ...]
    class_flows: np.ndarray
    volume: np.ndarray
    unit_cost: np.ndarray
    shadow_price: np.ndarray
    shadow_price_capped: np.ndarray
    unserved: pd.DataFrame
    routes: pd.DataFrame
    total_cost: float
    status: str


def solve_capacity_lp(
    network: Network,
    demand: Demand,
    classes: Sequence[TrafficClass],
    *,
    unserved_penalty: float | Mapping[str, float] | None = None,
    closed_links: Mapping[str, Collection] | None = None,
    both_directions: bool | str = False,
) -> CapacityResult:
    """Solve the least-cost flow with hard capacities (see the module notes).

    Parameters
    ----------
    network
        Network whose ``capacity`` column holds the hard capacities (blank: unlimited).
    demand, classes
        As for :func:`karvan.assign`.
    unserved_penalty
        None (default): demand is left unserved only where the capacities cannot carry it. The
        penalty starts at twice the cost of the dearest OD pair's cheapest route (over all arcs,
        at its class's costs, capacities left aside) and doubles while the LP leaves more demand
        unserved than the least the capacities allow (an LP that minimises unserved demand
        alone, solved only when some is left unserved). Or money per unit of demand left
        unserved, one value or one per class name: demand whose cheapest route within the
        capacities costs more is then left unserved even where the network could carry it.
    closed_links
        Per class name, link ids the class may not use (a transit ban): its flow on them is 0,
        so demand that only they could carry is unserved, whatever the class's cost on them.
    both_directions
        Whether the ``capacity`` of an undirected link bounds its two directions together
        (annual throughput) rather than each: True or False for every link, or the name of a
        boolean link column saying it link by link (as
        :func:`karvan.choice.capacities_from_links` takes it).

    Examples
    --------
    Two routes, 10 units of demand; the cheap route (cost 1) holds 6, the other costs 3:

    >>> nodes = pd.DataFrame({"zone_id": ["A", "B"]}, index=pd.Index(["A", "B"], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": ["A", "A"], "to_node_id": ["B", "B"],
    ...                       "free_flow_time": [1.0, 3.0], "capacity": [6.0, np.nan],
    ...                       "vdf": "constant"}, index=pd.Index(["cheap", "dear"], name="link_id"))
    >>> d = Demand(("A", "B"), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    >>> r = solve_capacity_lp(Network(nodes, links), d, [TrafficClass()])
    >>> r.class_flows[0].round(6).tolist(), float(r.shadow_price[0].round(6))
    ([6.0, 4.0], 2.0)

    An undirected link of capacity 6 between A and B, 10 units each way, and a dear one: per
    direction it carries 6 each way; as a throughput of both directions, 6 in all:

    >>> both = links.assign(directed=False)
    >>> d2 = Demand(("A", "B"), {"demand": np.array([[0.0, 10.0], [10.0, 0.0]])})
    >>> for shared in (False, True):
    ...     r = solve_capacity_lp(Network(nodes, both), d2, [TrafficClass()],
    ...                           both_directions=shared)
    ...     ab, ba = r.graph.to_links(r.volume)
    ...     print(float((ab + ba)[0].round(6)), r.graph.to_links(r.shadow_price)[0].round(6)[0])
    12.0 2.0
    6.0 2.0

    Without the dear route, 4 units cannot be carried. The penalty is 2 (twice the pair's
    cheapest cost, 1), and the capacity's shadow price, 2 - 1, is set by it:

    >>> r = solve_capacity_lp(Network(nodes, links.loc[["cheap"]]), d, [TrafficClass()])
    >>> r.unserved["unserved"].tolist(), r.shadow_price.tolist(), r.shadow_price_capped.tolist()
    ([4.0], [1.0], [True])

    Raises
    ------
    InputError
        On a bad network, demand or class, a penalty that is not a finite positive number (or
        missing for a class), costs that are not finite, or ``closed_links`` naming a class or
        link that is not in the problem.
    KarvanError
        When HiGHS does not solve the LP.
    """
    graph = compile_graph(network)
    links = complete_links(network.links)
    prob = _Problem(graph, demand, classes, links)
    g = graph
    n, m = g.n_nodes, g.n_arcs
    K = len(classes)
    vot = np.array([c.value_of_time for c in classes])
    unit_cost = vot[:, None] * (g.free_flow_time[None, :] + prob.fixed)
    derived = unserved_penalty is None
    closed = _closed_arcs(g, classes, closed_links or {})
    pen = np.ones(K) if derived else _penalties(unserved_penalty, classes)
    bad = ~np.isfinite(unit_cost).all(axis=0)
    if bad.any():
        raise InputError(f"{int(bad.sum())} arcs have a cost that is not finite (link_id "
                         f"{format_ids(g.link_ids[g.arc_link[bad]])}); check their times and "
                         "charges.", "capacity LP")
    incidence = sp.csr_matrix(
        (np.r_[np.ones(m), -np.ones(m)], (np.r_[g.tail, g.head], np.r_[np.arange(m),
                                                                         np.arange(m)])),
        shape=(n, m))
    blocks = []  # (k, i, dests, q)
    for k in range(K):
        mat = prob.mats[k]
        for i in range(mat.shape[0]):
            dests = np.flatnonzero(mat[i] > 0)
            if len(dests):
                blocks.append((k, i, dests, mat[i, dests]))
    B = len(blocks)
    if B == 0:  # no demand at all (every OD pair cut off, or zero): nothing to route
        return CapacityResult(
            graph=g, classes=tuple(classes), class_flows=np.zeros((K, m)), volume=np.zeros(m),
            unit_cost=unit_cost, shadow_price=np.zeros(m),
            shadow_price_capped=np.zeros(m, dtype=bool),
            unserved=pd.DataFrame(columns=["class", "origin", "destination", "demand",
                                           "unserved", "penalty"]),
            routes=pd.DataFrame(columns=["class", "origin", "destination", "route", "arcs",
                                         "links", "flow", "share", "cost"]),
            total_cost=0.0, status="no demand to route")
    n_u = sum(len(b[2]) for b in blocks)
    n_var = B * m + n_u
    cost = np.zeros(n_var)
    upper = np.full(n_var, np.inf)
    b_eq = np.zeros(B * n)
    u_rows, u_cols, u_vals = [], [], []
    col = B * m
    for bi, (k, i, dests, q) in enumerate(blocks):
        o = prob.origins[i]
        cost[bi * m:(bi + 1) * m] = unit_cost[k]
        through = g.blocked[g.tail] & (g.tail != o)
        upper[bi * m:(bi + 1) * m][through | closed[k]] = 0.0
        b_eq[bi * n + o] += q.sum()
        for dj, qq in zip(prob.dests[dests], q, strict=True):
            b_eq[bi * n + dj] -= qq
            # unserved demand: leaves the origin's supply and the destination's sink
            u_rows += [bi * n + o, bi * n + dj]
            u_cols += [col, col]
            u_vals += [1.0, -1.0]
            upper[col] = qq
            col += 1
    a_eq = sp.hstack([sp.block_diag([incidence] * B, format="csr") if B else
                      sp.csr_matrix((0, 0)),
                      sp.csr_matrix((u_vals, (u_rows, [c - B * m for c in u_cols])),
                                    shape=(B * n, n_u))], format="csr")
    capped, b_ub = _capacity_rows(g, links, both_directions)
    if capped.shape[0] and B:
        a_ub = sp.hstack([capped * float(prob.pce[blocks[bi][0]]) for bi in range(B)]
                         + [sp.csr_matrix((capped.shape[0], n_u))], format="csr")
    else:
        a_ub, b_ub = None, None
    stars = _Stars(g)
    u_class = np.concatenate([np.full(len(b[2]), b[0]) for b in blocks])
    total = float(b_eq[b_eq > 0].sum())
    if derived:
        pen = np.full(K, 2.0 * _dearest_cheapest(g, stars, blocks, prob, unit_cost, upper))
    cost[B * m:] = pen[u_class]
    scale = max(1.0, float(np.abs(b_eq).max(initial=0.0)) / SCALE_TO)
    model = _Model(a_eq, b_eq, a_ub, b_ub, n_var, scale)
    x, res = _solve_priced(g, blocks, prob, unit_cost, pen, cost, upper, model, capped, stars)
    if derived and (x[B * m:] > 1e-9).any():
        # the least unserved demand the capacities allow: the same LP at no cost per arc and 1
        # per unit unserved; while the penalty leaves more, it is too low to say "cannot carry"
        least_cost = np.r_[np.zeros(B * m), np.ones(n_u)]
        # on a model of its own: at no arc cost every arc is near, and its basis is not one the
        # LPs at the penalty should start from (their duals decide shadow_price_capped)
        least = _solve_priced(g, blocks, prob, np.zeros_like(unit_cost), np.ones(K), least_cost,
                              upper, _Model(a_eq, b_eq, a_ub, b_ub, n_var, scale), capped,
                              stars)[0][B * m:].sum()
        for _ in range(60):
            # within the solver's own tolerance of the least (a tighter test could double on
            # the solver's noise to the last round)
            if x[B * m:].sum() <= least + 1e-6 * max(1.0, total):
                break
            pen = 2.0 * pen
            cost[B * m:] = pen[u_class]
            x, res = _solve_priced(g, blocks, prob, unit_cost, pen, cost, upper, model,
                                   capped, stars)
        else:
            raise KarvanError(f"the capacity LP leaves {x[B * m:].sum():.6g} units unserved "
                              f"where the capacities can carry all but {least:.6g}, even at a "
                              f"penalty of {pen[0]:.6g} per unit; report this network.")
    if (a_ub is not None and (x[B * m:] <= 1e-9).all()
            and (res.ub_dual < -1e-9).any()):
        # all demand carried: the prices of the LP that must carry it all, in which the penalty
        # has no part (where a price's range reaches up to the penalty, the penalty LP may give
        # its upper end; this one gives the saving of one more unit)
        carry_all = upper.copy()
        carry_all[B * m:] = 0.0
        # the unserved columns are fixed at 0 and cost nothing: no price can come from the
        # penalty (at a capacity exactly full, a price read with the penalty on them was the
        # penalty less the route's cost: 99 at a given penalty of 100, 3 at a derived 4)
        cost_all = cost.copy()
        cost_all[B * m:] = 0.0
        x, res = _solve_priced(g, blocks, prob, unit_cost, np.full(K, np.inf), cost_all,
                               carry_all, model, capped, stars, start=x)
    flows = np.zeros((K, m))
    for bi, (k, _i, _d, _q) in enumerate(blocks):
        flows[k] += x[bi * m:(bi + 1) * m]
    shadow = np.zeros(m)
    if a_ub is not None:
        shadow = capped.T @ -res.ub_dual
    shadow[np.abs(shadow) < 1e-9] = 0.0
    rows = []
    col = B * m
    for k, i, dests, q in blocks:
        for j, qq in zip(dests, q, strict=True):
            rows.append((classes[k].name, prob.zone_ids[i], prob.zone_ids[j], qq, x[col], pen[k]))
            col += 1
    unserved = pd.DataFrame(rows, columns=["class", "origin", "destination", "demand",
                                           "unserved", "penalty"])
    unserved["unserved"] = unserved["unserved"].where(unserved["unserved"] > 1e-9, 0.0)
    routes = _decompose(g, blocks, x, m, prob, classes, unit_cost, unserved)
    set_by_penalty = np.zeros(m, dtype=bool)
    if a_ub is not None and (unserved["unserved"] > 0).any():
        # the prices that move with the penalty are set by it: solve again at twice the penalty
        cost[B * m:] = 2.0 * pen[u_class]
        again = _solve_priced(g, blocks, prob, unit_cost, 2.0 * pen, cost, upper, model, capped,
                              stars)[1]
        moved = capped.T @ -again.ub_dual
        set_by_penalty = np.abs(moved - shadow) > 1e-7 * np.maximum(1.0, np.abs(shadow))
    return CapacityResult(graph=g, classes=tuple(classes), class_flows=flows,
                          volume=prob.pce @ flows, unit_cost=unit_cost, shadow_price=shadow,
                          shadow_price_capped=set_by_penalty, unserved=unserved, routes=routes,
                          total_cost=float(res.fun), status=res.message)


def _capacity_rows(g: CompiledGraph, links: pd.DataFrame, both_directions: bool | str
                   ) -> tuple[sp.csr_matrix, np.ndarray]:
    """The capacity rows of the LP: (rows x arcs) 0/1 matrix and bounds, a row per arc with a
    capacity, or per link where both its directions share one (``both_directions``).

    Raises
    ------
    InputError
        ``both_directions`` names a column the links do not have.
    """
    arcs = np.flatnonzero(np.isfinite(g.capacity))
    if isinstance(both_directions, str):
        if both_directions not in links:
            raise InputError(f"the link table has no {both_directions!r} column.",
                             "capacity LP")
        shared = np.asarray(as_bool(links.loc[g.link_ids, both_directions]), dtype=bool)
    else:
        shared = np.full(g.n_links, bool(both_directions))
    # a row per arc, except that the arcs of a shared link take their link's row
    key = np.where(shared[g.arc_link[arcs]], g.n_arcs + g.arc_link[arcs], arcs)
    keys, row = np.unique(key, return_inverse=True)
    sel = sp.csr_matrix((np.ones(len(arcs)), (row, arcs)), shape=(len(keys), g.n_arcs))
    first = np.zeros(len(keys), dtype=np.int64)
    first[row[::-1]] = arcs[::-1]  # an arc of each row: its link's capacity
    return sel, g.capacity[first]


def _dearest_cheapest(g: CompiledGraph, stars: _Stars, blocks, prob, unit_cost, upper) -> float:
    """The cost of the dearest OD pair's cheapest route (over every arc it may use, at its
    class's costs, capacities left aside; pairs with no route left out); 1 where every route
    is free."""
    m = g.n_arcs
    dearest = 0.0
    for bi, (k, i, dests, _q) in enumerate(blocks):
        d = _dist(stars, unit_cost[k], upper[bi * m:(bi + 1) * m] > 0,
                  [prob.origins[i]])[prob.dests[dests]]
        d = d[np.isfinite(d)]
        if len(d):
            dearest = max(dearest, float(d.max()))
    return dearest if dearest > 0 else 1.0


#: the first solve holds the arcs of routes within this factor of a destination's shortest one
SLACK = 1.1
#: the largest supply of a node in the LP as solved (flows are scaled to it, then back)
SCALE_TO = 1e4


class _Model:
    """The LP's rows and the columns let into it so far, in one HiGHS model.

    Columns only enter: one let in by the pricing stays for every later solve of the same LP
    (at whatever cost and bounds that solve gives it), which keeps the optimum of the whole LP,
    since a column more is never wrong. Each solve starts from the basis of the one before, so
    that a solve after a few columns enter, or after costs or bounds change (the LP that carries
    all demand, the one at twice the penalty), takes tens of simplex iterations where one from
    scratch takes thousands.
    """

    def __init__(self, a_eq: sp.csr_matrix, b_eq: np.ndarray, a_ub: sp.csr_matrix | None,
                 b_ub: np.ndarray | None, n_var: int, scale: float):
        self.n_ub = 0 if a_ub is None else a_ub.shape[0]
        self.a = (a_eq if a_ub is None else sp.vstack([a_ub, a_eq])).tocsc()
        self.scale = scale
        eq = b_eq / scale
        lower = np.r_[np.full(self.n_ub, -np.inf), eq]
        upper = np.r_[b_ub / scale if b_ub is not None else np.zeros(0), eq]
        self.h = _silent_highs()
        self.h.addRows(len(lower), lower, upper, 0, np.zeros(0, np.int32),
                       np.zeros(0, np.int32), np.zeros(0))
        self.cols = np.zeros(0, dtype=np.int64)  # the LP's column of each model column
        self.has = np.zeros(n_var, dtype=bool)

    def solve(self, cost: np.ndarray, upper: np.ndarray, active: np.ndarray):
        """Solve over the model's columns and those of ``active`` (the whole LP's columns at
        ``cost`` and ``upper``, upper already scaled): (x of the whole LP, scaled; objective,
        scaled; duals of the capacity rows).

        Raises
        ------
        KarvanError
            When HiGHS does not solve the LP.
        """
        import highspy

        h = self.h
        if len(self.cols):
            idx = np.arange(len(self.cols), dtype=np.int32)
            h.changeColsCost(len(idx), idx, cost[self.cols])
            h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), upper[self.cols])
        new = np.flatnonzero(active & ~self.has)
        if len(new):
            a = self.a[:, new]
            h.addCols(len(new), cost[new], np.zeros(len(new)), upper[new], a.nnz,
                      a.indptr[:-1].astype(np.int32), a.indices.astype(np.int32),
                      a.data.astype(float))
            self.cols = np.r_[self.cols, new]
            self.has[new] = True
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise KarvanError(f"the capacity LP was not solved: HiGHS says "
                              f"{h.modelStatusToString(status)}.")
        sol = h.getSolution()
        x = np.zeros(len(self.has))
        x[self.cols] = np.asarray(sol.col_value)
        dual = np.asarray(sol.row_dual)[:self.n_ub]
        return x, float(h.getInfo().objective_function_value), dual


def _silent_highs():
    """A HiGHS instance that writes nothing to the console (:func:`_silent_highs_class`)."""
    h = _silent_highs_class()()
    h.setOptionValue("output_flag", False)
    return h


@functools.cache
def _silent_highs_class() -> type:
    """The class of highspy's ``Highs`` without the callbacks karvan does not use: setting them up
    prints HiGHS's banner on the process's standard output (below Python's ``sys.stdout``, into
    ``karvan run``'s summary or an answer on stdout), before the log can be turned off."""
    import highspy

    class SilentHighs(highspy.Highs):
        def enableCallbacks(self):  # noqa: N802 (highspy's name)
            """No callbacks: nothing is logged before ``output_flag`` is off."""

    return SilentHighs


@dataclass(frozen=True, slots=True)
class _Solved:
    """One solve of the LP: objective, the capacity rows' duals (<= 0, money per unit), and
    its status (a solve that is not optimal raises instead)."""

    fun: float
    ub_dual: np.ndarray
    message: str


def _solve_priced(g: CompiledGraph, blocks, prob, unit_cost, pen, cost, upper, model: _Model,
                  capped, stars: _Stars, start: np.ndarray | None = None
                  ) -> tuple[np.ndarray, _Solved]:
    """Solve the LP by pricing: first with the arcs that lie on routes near each block's shortest
    ones, then, with the capacity duals of that solution, let in the arcs of any block whose
    shortest route over all arcs is cheaper than its route over the arcs in the LP (or than
    leaving its demand unserved), and solve again, until no block has one. ``start`` (a
    solution) adds the columns it uses to the first solve, which keeps it feasible where
    unserved demand is not allowed. ``model`` holds the columns of the solves before (of the
    same LP at other costs or bounds), which stay in.

    The last solution is optimal for the whole LP: the shortest-route distances over all arcs,
    at arc cost plus capacity dual, are node potentials that satisfy its dual constraints and
    complementary slackness (every route with flow is a shortest route, demand is left unserved
    only where no route is cheaper than the penalty). The first solve usually holds a tenth of
    the variables of the whole LP.

    Raises
    ------
    KarvanError
        When HiGHS does not solve an LP of the loop.
    """
    m = g.n_arcs
    # flows in units of SCALE_TO of the largest supply: HiGHS's tolerances are absolute, and a
    # demand 300 times the corridor's (10^10 t) was called infeasible; the prices (duals) are
    # the same at any scale, the objective is scaled back
    scale = model.scale
    upper = upper / scale
    start = start / scale if start is not None else None
    active = model.has.copy()
    usable = []
    for bi, (k, i, dests, _q) in enumerate(blocks):
        if (unit_cost < 0).any():
            active[:] = True
            break  # shortest routes need costs >= 0: solve the whole LP
        o = prob.origins[i]
        ok = upper[bi * m:(bi + 1) * m] > 0
        usable.append(ok)
        w = unit_cost[k]
        d_nodes = prob.dests[dests]
        fwd = _dist(stars, w, ok, [o])
        back = _dist(stars, w, ok, d_nodes, reverse=True, each=True)
        near = (fwd[g.tail][None, :] + w[None, :] + back[:, g.head]
                <= SLACK * np.minimum(fwd[d_nodes], pen[k])[:, None] + 1e-6)
        active[bi * m:(bi + 1) * m] |= ok & near.any(axis=0)
    active[len(blocks) * m:] = True  # the unserved columns are always in
    if start is not None:
        active |= start > 0
    lam = np.zeros(m)
    while True:
        x, fun, dual = model.solve(cost, upper, active)
        active = model.has.copy()
        if active.all():
            break
        if capped.shape[0]:
            lam[:] = capped.T @ np.maximum(-dual, 0.0)
        let_in = np.zeros(len(active), dtype=bool)
        for bi, (k, i, dests, _q) in enumerate(blocks):
            o, d_nodes = prob.origins[i], prob.dests[dests]
            w = unit_cost[k] + lam * prob.pce[k]
            sl = slice(bi * m, (bi + 1) * m)
            full = _dist(stars, w, usable[bi], [o])
            inner = _dist(stars, w, usable[bi] & active[sl], [o])
            target = np.minimum(inner[d_nodes], pen[k])
            worse = full[d_nodes] < target - 1e-7 * np.maximum(1.0, np.abs(target))
            if worse.any():
                back = _dist(stars, w, usable[bi], d_nodes[worse], reverse=True, each=True)
                cheaper = (full[g.tail][None, :] + w[None, :] + back[:, g.head]
                           < target[worse][:, None])
                let_in[sl] = usable[bi] & ~active[sl] & cheaper.any(axis=0)
        if not let_in.any():
            break
        active |= let_in
    return x * scale, _Solved(fun * scale, dual, "Optimal")


class _Stars:
    """The out-arcs (forward star) and in-arcs (reverse star) of a graph, for :func:`_dist`."""

    def __init__(self, g: CompiledGraph):
        arcs = np.arange(g.n_arcs, dtype=np.int64)
        by_head = np.argsort(g.head, kind="stable").astype(np.int64)
        rev_ptr = np.zeros(g.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(g.head, minlength=g.n_nodes), out=rev_ptr[1:])
        self.fwd = (np.asarray(g.indptr, dtype=np.int64), np.asarray(g.head, dtype=np.int64),
                    arcs)
        self.rev = (rev_ptr, np.asarray(g.tail, dtype=np.int64)[by_head], by_head)


def _dist(stars: _Stars, w: np.ndarray, ok: np.ndarray, sources, *, reverse: bool = False,
          each: bool = False) -> np.ndarray:
    """Least cost from the nearest of ``sources`` (to it, with ``reverse``; from each source, one
    row each, with ``each``) over the arcs ``ok`` weighted by ``w`` (negative costs count as 0,
    costs that are not finite leave the arc out); inf where unreachable."""
    from karvan.kernels import paths as KP

    indptr, adj, arc = stars.rev if reverse else stars.fwd
    d = KP.masked_distances(indptr, adj, arc, np.maximum(w, 0.0), ok & np.isfinite(w),
                            np.asarray(sources, dtype=np.int64), each)
    return d if each else d[0]


def _closed_arcs(g: CompiledGraph, classes, closed_links: Mapping[str, Collection]
                 ) -> np.ndarray:
    """(n_classes, n_arcs): True on the arcs of the links closed to each class.

    Raises
    ------
    InputError
        Class names or link ids of ``closed_links`` that are not in the problem, all named.
    """
    names = [c.name for c in classes]
    problems = []
    unknown = [k for k in closed_links if k not in names]
    if unknown:
        problems.append(f"closed_links names classes that are not in the problem "
                        f"({format_ids(unknown)}); use the names of the classes passed.")
    out = np.zeros((len(classes), g.n_arcs), dtype=bool)
    arc_link = g.link_ids[g.arc_link]
    for k, name in enumerate(names):
        ids = list(closed_links.get(name, ()))
        missing = [i for i in ids if i not in set(g.link_ids)]
        if missing:
            problems.append(f"closed_links of class {name!r} names links that are not in the "
                            f"network ({format_ids(missing)}); use link ids of its links table.")
        out[k] = np.isin(arc_link, ids)
    if problems:
        raise InputError(problems, "capacity LP")
    return out


def _penalties(unserved_penalty: float | Mapping[str, float], classes) -> np.ndarray:
    """One finite positive penalty per class.

    Raises
    ------
    InputError
        A penalty missing for a class, or not a finite number > 0; the message names it.
    """
    if isinstance(unserved_penalty, Mapping):
        missing = [c.name for c in classes if c.name not in unserved_penalty]
        if missing:
            raise InputError(f"unserved_penalty has no value for classes {format_ids(missing)}.",
                             "capacity LP")
        raw = [unserved_penalty[c.name] for c in classes]
    else:
        raw = [unserved_penalty] * len(classes)
    try:
        pen = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"unserved_penalty must be numbers (got {format_ids(raw)}).",
                         "capacity LP") from None
    bad = ~(np.isfinite(pen) & (pen > 0))
    if bad.any():
        raise InputError(
            f"unserved_penalty must be a finite number > 0 (classes "
            f"{format_ids([c.name for c, b in zip(classes, bad, strict=True) if b])}: "
            f"{format_ids(pen[bad])}); it is the money per unit of demand left unserved.",
            "capacity LP")
    return pen


def _decompose(g: CompiledGraph, blocks, x, m, prob, classes, unit_cost, unserved
               ) -> pd.DataFrame:
    """Split each origin's arc flows into routes to its destinations (flow decomposition)."""
    rows = []
    served = (unserved["demand"] - unserved["unserved"]).to_numpy()
    pos = 0
    in_arcs = [[] for _ in range(g.n_nodes)]
    for a in range(m):
        in_arcs[g.head[a]].append(a)
    for bi, (k, i, dests, q) in enumerate(blocks):
        f = x[bi * m:(bi + 1) * m].copy()
        o = prob.origins[i]
        tol = 1e-7 * max(1.0, float(q.sum()))
        for dj_pos, j in enumerate(dests):
            need = served[pos + dj_pos]
            d = prob.dests[j]
            found: dict[tuple, float] = {}
            while need > tol:
                path, v, seen = [], d, set()
                while v != o and v not in seen:
                    seen.add(v)
                    cand = [a for a in in_arcs[v] if f[a] > tol]
                    if not cand:
                        break
                    a = max(cand, key=lambda e: f[e])
                    path.append(a)
                    v = g.tail[a]
                if v != o:
                    break
                path.reverse()
                amt = min(need, min(f[a] for a in path))
                for a in path:
                    f[a] -= amt
                need -= amt
                found[tuple(path)] = found.get(tuple(path), 0.0) + amt
            total = sum(found.values())
            for r, (arcs, fl) in enumerate(sorted(found.items(), key=lambda kv: -kv[1])):
                a = np.asarray(arcs, dtype=np.int64)
                rows.append((classes[k].name, prob.zone_ids[i], prob.zone_ids[j], r, arcs,
                             tuple(g.link_ids[g.arc_link[a]]), fl, fl / q[dj_pos] if total else 0,
                             float(unit_cost[k][a].sum())))
        pos += len(dests)
    return pd.DataFrame(rows, columns=["class", "origin", "destination", "route", "arcs", "links",
                                       "flow", "share", "cost"])
