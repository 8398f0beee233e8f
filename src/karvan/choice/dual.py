"""Logit choice over fixed route sets at flow-independent costs with hard capacities, solved in
the dual: the multipliers minimise a smooth convex function of a few variables.

With costs that do not depend on flow (the corridor's choice model, where congestion is the
capacities' multipliers), the equilibrium with capacities is the minimum of

    sum_r e_r [h_r c_r + (1 / theta_k) h_r (ln h_r - ln w_r)]   (nested: its nested form)

over route flows that carry the demand, subject to ``A h <= C``, where ``e_r`` is the capacity
units (PCE) per unit of demand of the route's class and ``A`` counts them (the objective of the
engine's augmented Lagrangian, :mod:`karvan.choice.equilibrium`: each class chooses by logit at
costs ``c + M mu``, the surcharge per unit of demand whatever its PCE). Its Lagrangian dual is

    F(mu) = sum_w (e_w q_w / theta_w) LSE_w(c + M mu) + mu . C,   mu >= 0,

with ``LSE_w`` the (nested) logsum of OD pair w, ``M`` the route-constraint incidence; ``F`` is
convex with gradient ``C - S(mu)`` (S: the constraints' volumes in capacity units under the
logit loading at costs ``c + M mu``) and Hessian ``sum_w e_w q_w theta_w M' G_w M``, with
``G_w`` the Hessian of the OD pair's logsum in the utilities. For a nested logit with nests n of
scale s_n in (0, 1], share ``p_r = P_n P_{r|n}``,

    G_w = diag(p_r / s_n(r)) - sum_n (1 / s_n - 1) P_n pi_n pi_n' - p p'

(``pi_n``: the within-nest shares ``P_{r|n}`` of the routes of nest n, 0 elsewhere; a route of no
nest has s = 1); with every s = 1 it is the covariance ``diag(p) - p p'`` of multinomial logit.
A projected Newton method (Bertsekas 1982) finds mu in a few iterations; the flows are then exactly
the logit loading at their own costs (the SUE gap is 0 by construction) and every capacity holds
to the tolerance. The unserved-demand alternative of every OD pair keeps the dual bounded when
capacities cannot carry the demand.

References
----------
D. P. Bertsekas, "Projected Newton methods for optimization problems with simple constraints",
SIAM Journal on Control and Optimization 20(2), 221-246, 1982.
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from karvan.assign import TrafficClass
from karvan.choice._setup import per_class, setup
from karvan.choice.capacities import Capacities, compile_capacities
from karvan.choice.equilibrium import COLUMNS, _align, _with_unserved
from karvan.choice.result import ChoiceResult, unserved_table
from karvan.choice.routes import SOURCE_UNSERVED, RouteSet
from karvan.errors import InputError, KarvanError
from karvan.kernels import logit as KL
from karvan.kernels.vdf import VDF_CONSTANT
from karvan.network.model import Network


def _group_order(rs: RouteSet, group: np.ndarray):
    """Routes sorted by (OD pair, nest): the order and the start of each (OD, nest) block,
    its OD pair and its nest (-1: a route of no nest, a block of its own)."""
    od = rs.route_od
    key_nest = np.where(group >= 0, group, -1)
    # a route of no nest is a block of its own: give it a unique key
    uniq = np.where(key_nest >= 0, key_nest, np.iinfo(np.int64).max // 2 + np.arange(len(od)))
    order = np.lexsort((uniq, od))
    so, sn = od[order], uniq[order]
    start = np.r_[0, np.flatnonzero((np.diff(so) != 0) | (np.diff(sn) != 0)) + 1]
    return order, start, so[start], key_nest[order][start]


class _Dual:
    def __init__(self, rs, rc0, lnps, theta, pce, M, cap, group, scale):
        self.rs, self.rc0, self.lnps, self.M, self.cap = rs, rc0, lnps, M, cap
        cls = rs.od_class[rs.route_od]
        self.th_r = theta[cls]
        self.pce_r = pce[cls]
        self.q = rs.od_demand
        self.th_w = theta[rs.od_class]
        # capacity units per unit of demand of each OD pair's class: the logsum terms count in
        # them, so that F's gradient is C - S with S in capacity units (see the module notes)
        self.pce_w = pce[rs.od_class]
        self.qp = self.q * self.pce_w
        self.order, self.start, self.b_od, self.b_nest = _group_order(rs, group)
        self.s_b = np.where(self.b_nest >= 0, scale[np.maximum(self.b_nest, 0)], 1.0)
        self.bstart_od = np.r_[0, np.flatnonzero(np.diff(self.b_od) != 0) + 1]
        # the block (OD pair, nest) of every route, in route order
        self.blk_r = np.empty(len(self.order), dtype=np.int64)
        self.blk_r[self.order] = np.repeat(np.arange(len(self.start)),
                                           np.diff(np.r_[self.start, len(self.order)]))
        self._dense = None

    def _logsums(self, mu, lnps=None):
        """At multipliers ``mu``, per (OD, nest) block in ``order``: the routes' exponentials and
        their sums, the blocks' exponentials and their sums, the number of blocks per OD pair and
        of routes per block; and the logsum of every OD pair (in OD order). ``lnps``: the
        path-size terms, the problem's where None."""
        c = self.rc0 + self.M @ mu
        ps = self.lnps if lnps is None else lnps
        v = (-self.th_r * c + ps)[self.order]
        n_b = np.diff(np.r_[self.start, len(v)])
        u = v / np.repeat(self.s_b, n_b)
        mx = np.maximum.reduceat(u, self.start)
        e = np.exp(u - np.repeat(mx, n_b))
        sm = np.add.reduceat(e, self.start)
        iv = self.s_b * (mx + np.log(sm))  # inclusive value of each (OD, nest) block
        mx2 = np.maximum.reduceat(iv, self.bstart_od)
        cnt = np.diff(np.r_[self.bstart_od, len(iv)])
        e2 = np.exp(iv - np.repeat(mx2, cnt))
        sm2 = np.add.reduceat(e2, self.bstart_od)
        lse = mx2 + np.log(sm2)  # per OD pair (in b_od order = OD order)
        return e, sm, e2, sm2, cnt, n_b, lse

    def evaluate(self, mu):
        """F(mu), route shares, route flows, volumes S, and (within-nest share of every route,
        share of every (OD, nest) block) for :meth:`hessian`."""
        e, sm, e2, sm2, cnt, n_b, lse = self._logsums(mu)
        p_nest = e2 / np.repeat(sm2, cnt)
        within = e / np.repeat(sm, n_b)
        p = np.empty(len(e))
        p[self.order] = within * np.repeat(p_nest, n_b)
        within_r = np.empty(len(e))
        within_r[self.order] = within
        F = float(np.sum(self.qp / self.th_w * lse) + mu @ self.cap)
        h = p * self.q[self.rs.route_od]
        S = self.M.T @ (self.pce_r * h)
        return F, p, h, S, (within_r, p_nest)

    def expected_cost(self, mu):
        """The expected perceived cost of every OD pair at multipliers ``mu``: the (nested)
        logsum of the route costs in cost units, ``-LSE_w / theta_w`` (see the module notes),
        in OD order, without the path-size terms.

        Path size corrects the choice probabilities for routes that share links; it depends on
        which other routes are in the set, so it is not a cost of the route. Counted in the
        logsum, a route added beside a cheaper one it overlaps lowered the cheaper one's term
        and could raise the pair's expected cost: a network that only gained a link looked
        worse for the shippers. Without it the expected cost never rises when routes are added
        at fixed costs.
        """
        return -self._logsums(mu, lnps=0.0)[-1] / self.th_w

    def hessian(self, p, nest):
        """sum_w e_w q_w theta_w M' G_w M (see the module notes), over the routes that use a
        constraint (the others add nothing); ``p`` and ``nest`` as :meth:`evaluate` returns
        them."""
        rs = self.rs
        if self._dense is None:
            used = np.flatnonzero(np.diff(self.M.indptr) > 0)
            od = rs.route_od[used]  # non-decreasing: routes are stored by OD pair
            start = np.r_[0, np.flatnonzero(np.diff(od) != 0) + 1] if len(od) else od
            blk = self.blk_r[used]
            # the blocks of a nest with scale < 1 among them, each once
            nested = self.s_b[blk] < 1.0
            ublk, inv = np.unique(blk[nested], return_inverse=True)
            self._dense = (used, self.M[used].toarray(), od, start, nested, ublk, inv)
        used, Md, od, start, nested, ublk, inv = self._dense
        if not len(used):
            return np.zeros((Md.shape[1], Md.shape[1]))
        s_r = self.s_b[self.blk_r[used]]
        wgt = p[used] * self.qp[od] * self.th_r[used] / s_r
        # einsum without BLAS: a threaded BLAS on a busy machine made this the slowest step
        H = np.einsum("ri,rj->ij", Md * wgt[:, None], Md, optimize=False)
        # minus sum_w q theta s_w s_w', s_w = sum_r p_r M_r (over the pairs that use one)
        Sw = np.add.reduceat(Md * p[used][:, None], start, axis=0)
        w = od[start]
        H -= np.einsum("wi,wj->ij", Sw * (self.qp[w] * self.th_w[w])[:, None], Sw,
                       optimize=False)
        if len(ublk):
            # minus sum over nests n of scale s < 1: q theta (1 / s - 1) P_n m_n m_n',
            # m_n = sum_{r in n} P_{r|n} M_r
            within_r, p_nest = nest
            mb = np.zeros((len(ublk), Md.shape[1]))
            np.add.at(mb, inv, Md[nested] * within_r[used[nested]][:, None])
            wb = self.b_od[ublk]
            cb = self.qp[wb] * self.th_w[wb] * (1.0 / self.s_b[ublk] - 1.0) * p_nest[ublk]
            H -= np.einsum("bi,bj->ij", mb * cb[:, None], mb, optimize=False)
        return H


def _kkt(mu: np.ndarray, excess: np.ndarray, tol: float) -> bool:
    """Every capacity holds to ``tol`` (relative) and every positive multiplier's capacity is
    used to within ``10 tol``."""
    return bool((excess <= tol).all() and not ((mu > 0) & (-excess > 10 * tol)).any())


def _fixed_cost_problem(network, demand, theta, routes, classes, capacities, toll_factor,
                        distance_factor, links):
    """What the logit equilibrium and its deterministic limit at fixed costs share: the
    classes, theta per class, the route set (with an unserved alternative per OD pair where
    there are capacities), the arcs' free costs, the capacities compiled, every route's cost
    and the route x constraint incidence ``M``.

    Raises
    ------
    InputError
        A link whose time depends on flow; bad theta, routes or capacities.
    """
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    g = ca.graph
    # every arc's delay function, as the graph compiled it (a link table without a vdf
    # column takes the network's default, BPR)
    flowdep = np.asarray(g.vdf) != VDF_CONSTANT
    if flowdep.any():
        ids = pd.unique(np.asarray(g.link_ids)[np.asarray(g.arc_link)[flowdep]])
        raise InputError(f"{len(ids)} links have a flow-dependent time (vdf other than "
                         f"constant, or no vdf column: BPR), e.g. {', '.join(map(str, ids[:5]))}; "
                         "use stochastic_equilibrium, or set vdf to constant.")
    # theta None: the deterministic limit (its unserved alternative costs no 40 / theta more)
    th = (np.full(ca.n_classes, np.inf) if theta is None
          else per_class(theta, ca.classes, "theta"))
    rs = _align(routes, ca)
    free = np.ascontiguousarray(ca.free_costs())
    caps = capacities if capacities is not None else Capacities(
        pd.DataFrame({"link_id": [], "capacity": []}))
    if capacities is not None:
        cons = compile_capacities(capacities, g)
        rs = _with_unserved(rs, ca, capacities, th)
    else:
        from karvan.choice.capacities import no_capacities

        cons = no_capacities(g.n_arcs)
    n = rs.n_routes
    rc0 = KL.route_costs(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, rs.route_fixed,
                         free, np.empty(n))
    # route x constraint incidence: one entry per arc of the route in the constraint
    lens = np.diff(rs.route_ptr)
    r_of = np.repeat(np.arange(n), lens)
    a = rs.route_arcs
    k = np.diff(cons.arc_cons_ptr)[a]
    rows = np.repeat(r_of, k)
    # each arc's constraints in turn: arc_cons[ptr[x] + j] for j < k[x], over the arcs in order
    start = np.repeat(cons.arc_cons_ptr[a] - np.cumsum(k) + k, k)
    cols = np.asarray(cons.arc_cons, dtype=np.int64)[start + np.arange(len(start))]
    M = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, cons.n))
    return ca, th, rs, free, caps, cons, rc0, M


def _outcome(ca, rs, cons, M, rc0, h, mu, with_table: bool):
    """From route flows ``h`` and multipliers ``mu``: class arc flows, volumes, each arc's
    surcharge, the route costs with the multipliers, the constraints' volumes, the capacities
    table (None unless ``with_table``) and the average excess cost over the served routes."""
    g = ca.graph
    x = KL.load_routes(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, h, ca.n_classes,
                       g.n_arcs, ca.n_chunks)
    vol = np.ascontiguousarray(ca.pce @ x)
    surch = np.zeros(g.n_arcs)
    for j in range(cons.n):
        surch[cons.cons_arcs[cons.cons_ptr[j]:cons.cons_ptr[j + 1]]] += mu[j]
    rc = rc0 + M @ mu
    S = M.T @ (ca.pce[rs.od_class[rs.route_od]] * h)
    table = None
    if with_table:
        table = pd.DataFrame({"constraint_id": cons.ids, "capacity": cons.cap, "volume": S,
                              "multiplier": mu, "binding": mu > 0,
                              "relative_excess": (S - cons.cap) / cons.cap})
    q = float(rs.od_demand.sum())
    cmin = np.full(rs.n_od, np.inf)
    real = rs.route_source != SOURCE_UNSERVED
    np.minimum.at(cmin, rs.route_od[real], rc[real])
    aec = float(np.sum(h[real] * (rc[real] - cmin[rs.route_od[real]])) / q) if q else 0.0
    return x, vol, surch, rc, S, table, aec


def fixed_cost_equilibrium(
    network: Network,
    demand,
    *,
    theta: float | Mapping[str, float],
    routes: RouteSet,
    classes: Sequence[TrafficClass] | None = None,
    capacities: Capacities | None = None,
    beta: float = 1.0,
    gamma: float = 0.0,
    groups: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    max_iter: int = 100,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> ChoiceResult:
    """Logit (or nested-logit) equilibrium over fixed route sets at flow-independent costs,
    with hard capacities solved in the dual (see the module notes).

    Parameters
    ----------
    network, demand, classes, theta, beta, gamma, toll_factor, distance_factor
        As for :func:`karvan.choice.stochastic_equilibrium`; every link must have a constant
        time (``vdf`` constant).
    routes
        The route sets (their ``route_fixed``: each route's own cost, hours, such as a family
        constant).
    capacities
        Hard capacities; ``tol`` is the relative excess allowed.
    groups, scale
        Nested logit: the nest of each route of ``routes`` (-1: none) and each nest's scale in
        (0, 1]. Default: multinomial logit.
    max_iter
        Newton iterations at most.
    links
        With ``network`` a compiled graph (such as ``routes.graph``, which spares compiling
        the network again): the network's link table, which the classes' cost fields are read
        from.

    Returns
    -------
    ChoiceResult
        ``gap`` 0 (the flows are the loading at their own costs); ``converged`` when every
        capacity holds to ``tol`` and complementary slackness to ``10 tol``.

    Raises
    ------
    InputError
        A link whose time depends on flow; bad theta, routes or capacities.
    """
    t0 = _time.perf_counter()
    bad = [f"{name} must be a number >= 0, got {v!r}." for name, v in
           (("beta (the path-size exponent)", beta),
            ("gamma (the generalized path size's exponent)", gamma))
           if not (np.isfinite(v) and v >= 0)]
    if bad:
        raise InputError(bad)
    ca, th, rs, free, caps, cons, rc0, M = _fixed_cost_problem(
        network, demand, theta, routes, classes, capacities, toll_factor, distance_factor,
        links)
    g = ca.graph
    n = rs.n_routes
    ps = KL.path_size(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, free, ca.n_chunks,
                      gamma)
    lnps = beta * np.log(ps)
    if groups is None:
        grp = np.full(n, -1, dtype=np.int64)
        sc = np.ones(1)
    else:
        grp = np.full(n, -1, dtype=np.int64)
        src = np.asarray(groups, dtype=np.int64)
        real = rs.route_source != SOURCE_UNSERVED
        if real.sum() != len(src):
            raise InputError("groups must give one nest per route of the route set.")
        grp[real] = src
        sc = np.asarray(scale, dtype=float)
    tol = caps.tol
    mu = np.zeros(cons.n)
    rows_c = []
    it = 0
    if rs.n_routes == 0:  # no demand: nothing to load, no capacity used
        dual = None
        F, p, h, S, nest = 0.0, np.zeros(0), np.zeros(0), np.zeros(cons.n), None
        max_iter = 0
    else:
        dual = _Dual(rs, rc0, lnps, th, ca.pce, M, cons.cap, grp, sc)
        F, p, h, S, nest = dual.evaluate(mu)
    # the Newton iterations go on past ``tol`` (they converge quadratically), to ktol
    ktol = min(tol, 1e-11)
    prev_resid = np.inf
    for it in range(1, max_iter + 1):
        grad = cons.cap - S
        excess = (S - cons.cap) / cons.cap
        rows_c.append((0, it - 1, 0.0, 0.0, 0.0, 0.0, F, float(max(0.0, excess.max(initial=0))),
                       n, _time.perf_counter() - t0))
        resid = float(max(excess.max(initial=0.0), (-excess[mu > 0]).max(initial=0.0), 0.0))
        if cons.n == 0 or _kkt(mu, excess, ktol) or (_kkt(mu, excess, tol)
                                                     and resid > 0.5 * prev_resid):
            # tight, or within tol and no longer gaining (F's rounding limits the line search)
            break
        prev_resid = resid
        free_set = (mu > 0) | (grad < 0)
        H = dual.hessian(p, nest)
        idx = np.flatnonzero(free_set)
        Hf = H[np.ix_(idx, idx)]
        dscale = max(float(np.abs(np.diag(Hf)).max(initial=0.0)), 1e-300)
        moved = False
        # Levenberg-Marquardt damping when the plain Newton step does not descend (the
        # Hessian is singular along directions no route's share depends on)
        for lam in (1e-12, 1e-8, 1e-4, 1e-2, 1.0, 1e2, None):
            d = np.zeros(cons.n)
            if lam is None:
                # where no route that uses a constraint has a share left (all of it unserved),
                # the Hessian vanishes: a projected gradient step, as long as the largest
                # multiplier
                g_max = float(np.abs(grad[idx]).max())
                d[idx] = -grad[idx] / g_max * max(1.0, float(mu.max(initial=0.0)))
            else:
                try:
                    d[idx] = -np.linalg.solve(Hf + lam * dscale * np.eye(len(idx)), grad[idx])
                except np.linalg.LinAlgError:
                    continue
                if not np.isfinite(d).all():
                    # a Hessian singular to rounding (shares saturated at a large theta):
                    # damp more
                    continue
            alpha = 1.0
            for _ in range(60):
                mu_new = np.maximum(0.0, mu + alpha * d)
                step = mu_new - mu
                slope = float(grad @ step)
                if slope < 0:
                    F_new, p_new, h_new, S_new, nest_new = dual.evaluate(mu_new)
                    if F_new <= F + 1e-4 * slope:
                        moved = True
                        break
                alpha *= 0.5
            if moved:
                break
        if not moved:
            break
        mu, F, p, h, S, nest = mu_new, F_new, p_new, h_new, S_new, nest_new
    excess = (S - cons.cap) / cons.cap
    converged = cons.n == 0 or _kkt(mu, excess, tol)
    x, vol, surch, rc, _, cap_table, aec = _outcome(ca, rs, cons, M, rc0, h, mu,
                                                   capacities is not None)
    conv = pd.DataFrame(rows_c, columns=COLUMNS)
    expected = dual.expected_cost(mu) if dual is not None else np.zeros(rs.n_od)
    return ChoiceResult(
        graph=g, classes=ca.classes, theta=th, class_flows=x, volume=vol,
        time=g.free_flow_time.copy(), surcharge=surch,
        class_costs=free + surch[None, :], route_set=rs, route_flow=h, route_cost=rc,
        route_share=p, gap=0.0, link_gap=0.0, divergence=0.0, aec=aec, iterations=it,
        converged=converged, convergence=conv, capacities=cap_table,
        unserved=unserved_table(rs, h), od_expected_cost=expected,
        params={"method": "dual-newton", "beta": beta, "gamma": gamma, "overlap": "cost",
                "threads": ca.n_chunks, "tol": tol})


def fixed_cost_lp(
    network: Network,
    demand,
    *,
    routes: RouteSet,
    classes: Sequence[TrafficClass] | None = None,
    capacities: Capacities | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> ChoiceResult:
    """The deterministic limit (``theta -> inf``) of :func:`fixed_cost_equilibrium`.

    Over the same route sets, at the same costs (the routes' own costs such as family
    constants included) and capacities, the linear program

        min sum_r e_r c_r h_r   s.t.   sum_{r in w} h_r = q_w,   sum_r e_r M_r h_r <= C,   h >= 0,

    solved with HiGHS (:func:`scipy.optimize.linprog`). Every unit of demand takes a least-cost
    route at costs ``c + M mu``, where ``mu`` (time units, the multipliers) are the duals of the
    capacities; the logit equilibrium's multipliers tend to them as theta grows. It says which
    capacities would bind and at what price if shippers all took their cheapest route by the
    same costs as the logit model: set against the logit equilibrium, what its dispersion does;
    set against a network LP at tariffs and time alone (:func:`karvan.assign.capacity
    .solve_capacity_lp`), what the route sets and the routes' own costs do. Where the LP has
    several optimal solutions (routes of equal cost, a price that is not unique), it gives one.

    Parameters
    ----------
    network, demand, routes, classes, capacities, toll_factor, distance_factor, links
        As for :func:`fixed_cost_equilibrium`.

    Returns
    -------
    ChoiceResult
        ``theta`` inf; route flows, the multipliers (``capacities``, ``binding`` where a
        multiplier is positive), the unserved demand, the route costs with the multipliers and
        ``od_expected_cost`` the least of them per OD pair; ``gap`` and ``aec`` 0 at the optimum.

    Raises
    ------
    InputError
        A link whose time depends on flow; bad routes or capacities.
    KarvanError
        When HiGHS ends without an optimal solution: a solver failure, since every OD pair with
        demand has a route (an empty route set is an input error) and, with capacities, an
        unserved alternative, so the LP is feasible and bounded.

    Examples
    --------
    Two routes of cost 1 and 3 for 10 units, the cheap one's link holding 6: 6 and 4, and the
    multiplier is the cost difference, 2.

    >>> from karvan import Demand
    >>> from karvan.choice import RouteOptions, generate_route_sets
    >>> nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
    ...                       "free_flow_time": [1.0, 3.0], "vdf": "constant"},
    ...                      index=pd.Index(["cheap", "dear"], name="link_id"))
    >>> net, d = Network(nodes, links), Demand((1, 2), {"demand": np.array([[0.0, 10.0],
    ...                                                                      [0.0, 0.0]])})
    >>> rs = generate_route_sets(net, d, options=RouteOptions(max_routes=2, penalty=10.0))
    >>> caps = Capacities(pd.DataFrame({"link_id": ["cheap"], "capacity": [6.0]}))
    >>> r = fixed_cost_lp(net, d, routes=rs, capacities=caps)
    >>> [round(float(f), 6) for f in r.flow], round(float(r.capacities["multiplier"][0]), 6)
    ([6.0, 4.0], 2.0)
    """
    from scipy.optimize import linprog

    t0 = _time.perf_counter()
    ca, th, rs, free, caps, cons, rc0, M = _fixed_cost_problem(
        network, demand, None, routes, classes, capacities, toll_factor, distance_factor,
        links)
    g = ca.graph
    n = rs.n_routes
    pce_r = ca.pce[rs.od_class[rs.route_od]]
    h = np.zeros(n)
    mu = np.zeros(cons.n)
    if n:
        a_eq = sp.csr_matrix((np.ones(n), (rs.route_od, np.arange(n))), shape=(rs.n_od, n))
        a_ub = sp.csr_matrix(M.T.multiply(pce_r[None, :])) if cons.n else None
        # costs in time units per unit of demand, weighted by capacity units as the logit
        # equilibrium's objective is, so that the capacities' duals are its multipliers
        sol = linprog(pce_r * rc0, A_ub=a_ub, b_ub=cons.cap if cons.n else None,
                      A_eq=a_eq, b_eq=rs.od_demand, bounds=(0, None), method="highs")
        if sol.status != 0:
            raise KarvanError(f"the capacities' LP over the route sets ended without an "
                              f"optimum: {sol.message}")
        h = np.maximum(sol.x, 0.0)
        if cons.n:
            mu = np.maximum(-np.asarray(sol.ineqlin.marginals, dtype=float), 0.0)
            # a price that rounds to zero against the costs is none
            eps = 1e-9 * max(1.0, float(np.abs(rc0).max(initial=0.0)))
            mu = np.where(mu > eps, mu, 0.0)
    x, vol, surch, rc, S, cap_table, aec = _outcome(ca, rs, cons, M, rc0, h, mu,
                                                   capacities is not None)
    cmin = np.full(rs.n_od, np.inf)
    np.minimum.at(cmin, rs.route_od, rc)
    share = np.divide(h, rs.od_demand[rs.route_od], out=np.zeros(n),
                      where=rs.od_demand[rs.route_od] > 0)
    excess = float(max(0.0, ((S - cons.cap) / cons.cap).max(initial=0.0)))
    conv = pd.DataFrame([(0, 0, 0.0, 0.0, 0.0, aec, float(np.sum(pce_r * rc0 * h)), excess, n,
                          _time.perf_counter() - t0)], columns=COLUMNS)
    return ChoiceResult(
        graph=g, classes=ca.classes, theta=th, class_flows=x, volume=vol,
        time=g.free_flow_time.copy(), surcharge=surch,
        class_costs=free + surch[None, :], route_set=rs, route_flow=h, route_cost=rc,
        route_share=share, gap=0.0, link_gap=0.0, divergence=0.0, aec=aec, iterations=1,
        converged=True, convergence=conv, capacities=cap_table,
        unserved=unserved_table(rs, h), od_expected_cost=cmin,
        params={"method": "lp-highs", "beta": 0.0, "gamma": 0.0, "overlap": "cost",
                "threads": ca.n_chunks, "tol": caps.tol})
