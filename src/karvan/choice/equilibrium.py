"""Stochastic user equilibrium with path-size logit route choice, its deterministic limit, and
hard capacities inside both.

The logit equilibrium over fixed route sets is the minimum of Fisk's (1980) objective

    sum_a int_0^{v_a} t_a(s) ds + sum_k (1 / theta_k) sum_{p of class k} h_p (ln h_p - ln w_p)

over route flows h that carry the demand, with ``w_p = PS_p ** beta`` the path-size weight (Ben-
Akiva and Bierlaire 1999) and fixed costs in t. Its optimality conditions are exactly the path-size
logit loading at the flows' own costs. Two ways there:

- ``newton`` (default): Gauss-Seidel over OD pairs; each pair's route flows move along the Newton
  direction of the objective restricted to them (dense route Hessian from shared arcs, plus the
  entropy's diagonal), with an exact line search, and arc costs are updated before the next pair.
  It converges quadratically near the fixed point on uncongested pairs and needs no step-size
  rule.
- ``msa``: the method of successive averages on route flows, ``h <- h + (y - h) / (n + 1)``, with y
  the logit loading at the current costs (Sheffi and Powell 1982); slow (sublinear) but the
  classic reference.

Route sets grow by column generation when ``RouteOptions.grow``: after an iteration the least-
cost route of every OD pair at the current costs joins its set if it is cheaper than every route
already there (with zero flow; the next sweep loads it). It runs after each of the first three
iterations, after every iteration that follows one where it added routes, every fifth iteration
otherwise, and always before the fixed point is declared: when the gap is below the target and
no cheaper route is left.

With ``theta`` infinite (:func:`deterministic_equilibrium`) the same machinery solves the user
equilibrium by path-based gradient projection (Jayakrishnan et al. 1994), which is what hard
capacities need on networks whose costs do not depend on flow.

References
----------
C. S. Fisk, "Some developments in equilibrium traffic assignment", Transportation Research B
14(3), 243-255, 1980.
M. Ben-Akiva and M. Bierlaire, "Discrete choice methods and their applications to short term
travel decisions", in Handbook of Transportation Science, 1999.
Y. Sheffi and W. B. Powell, "An algorithm for the equilibrium assignment problem with random
link times", Networks 12(2), 191-207, 1982.
R. Jayakrishnan, W. K. Tsai, J. N. Prashker and S. Rajadhyaksha, "A faster path-based algorithm
for traffic assignment", Transportation Research Record 1443, 75-83, 1994.
"""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from karvan import kernels as K
from karvan.assign import TrafficClass
from karvan.choice._setup import ClassArrays, per_class, setup
from karvan.choice.capacities import (
    Capacities,
    CompiledCapacities,
    compile_capacities,
    no_capacities,
)
from karvan.choice.nested import (
    CompiledNests,
    Nests,
    compile_nests,
    nested_logit_shares,
    route_families,
)
from karvan.choice.result import ChoiceResult, unserved_table
from karvan.choice.routes import (
    SOURCE_COLUMN,
    SOURCE_UNSERVED,
    RouteOptions,
    RouteSet,
    add_routes,
    build_route_set,
    check_route_set,
    od_pairs,
)
from karvan.errors import ConvergenceWarning, InputError, KarvanError, format_ids
from karvan.kernels import logit as KL
from karvan.kernels import routesets as KR
from karvan.kernels import sue as KS
from karvan.network.arguments import finite_number
from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph
from karvan.network.model import Network

log = logging.getLogger(__name__)

#: what the counts of ``params["steps"]`` count (see kernels.logit.newton_sweep)
STEP_NAMES = ("projection", "toward_loading", "newton_whole", "newton_searched",
              "halvings", "unchanged", "line_search_evaluations")
COLUMNS = ["outer", "iteration", "gap", "link_gap", "divergence", "aec", "objective",
           "max_violation", "routes", "elapsed_s"]


@dataclass(frozen=True, slots=True)
class ChoiceIteration:
    """What a progress callback receives after each iteration."""

    outer: int
    iteration: int
    gap: float
    link_gap: float
    divergence: float
    aec: float
    objective: float
    max_violation: float
    routes: int
    elapsed_s: float


class _State:
    """Route flows, arc volumes and costs, constraint state: everything an iteration updates."""

    def __init__(self, ca: ClassArrays, rs: RouteSet, theta: np.ndarray, beta: float,
                 overlap: str, cons: CompiledCapacities, nests: Nests | None = None,
                 gamma: float = 0.0) -> None:
        g = ca.graph
        self.nests = nests
        self.cnests = compile_nests(nests, rs) if nests is not None else None
        self.ca, self.g, self.theta, self.beta, self.overlap = ca, g, theta, beta, overlap
        self.gamma = gamma
        self.cons = cons
        self.mu = np.zeros(cons.n)
        self.rho = np.zeros(cons.n)
        self.S = np.zeros(cons.n)
        self.surch = np.zeros(g.n_arcs)
        self.dsurch = np.zeros(g.n_arcs)
        self.v = np.zeros(g.n_arcs)
        self.t = np.empty(g.n_arcs)
        self.dt = np.empty(g.n_arcs)
        if overlap == "cost":
            self.weight = np.ascontiguousarray(ca.free_costs())
        else:
            self.weight = np.ascontiguousarray(np.tile(g.length, (ca.n_classes, 1)))
        self.set_routes(rs)
        self.h = np.zeros(rs.n_routes)
        self._origins: list | None = None
        self.stats = np.zeros(8, dtype=np.int64)

    def set_routes(self, rs: RouteSet) -> None:
        self.rs = rs
        if self.nests is not None:
            self.cnests = CompiledNests(self.cnests.names, route_families(rs, self.nests),
                                        self.cnests.scale, self.cnests.asc, self.cnests.nest)
        ps = KL.path_size(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, self.weight,
                          self.ca.n_chunks, self.gamma)
        self.lnps = self.beta * np.log(ps)
        self.rc = np.empty(rs.n_routes)

    # arc state -------------------------------------------------------------------------
    def arc_costs(self) -> np.ndarray:
        return np.ascontiguousarray(self.t[None, :] + self.ca.fixed + self.surch[None, :])

    def refresh(self) -> np.ndarray:
        """Arc volumes, times, constraint volumes and surcharges from the route flows; returns
        the class arc flows."""
        rs, g, ca = self.rs, self.g, self.ca
        x = KL.load_routes(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, self.h,
                           ca.n_classes, g.n_arcs, ca.n_chunks)
        self.v = np.ascontiguousarray(ca.pce @ x)
        KL.arc_times(self.v, g.free_flow_time, g.capacity, g.alpha, g.beta, g.vdf, self.t,
                     self.dt)
        self.update_surcharges()
        return x

    def update_surcharges(self) -> None:
        c = self.cons
        if c.n:
            self.S = np.add.reduceat(self.v[c.cons_arcs], c.cons_ptr[:-1]) if len(
                c.cons_arcs) else np.zeros(c.n)
            KL.surcharges(c.cons_ptr, c.cons_arcs, c.cap, self.mu, self.rho, self.S,
                          self.surch, self.dsurch)

    def route_costs(self) -> np.ndarray:
        rs = self.rs
        return KL.route_costs(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs,
                              rs.route_fixed, self.arc_costs(), self.rc, self.ca.n_chunks)

    def shares(self, rc: np.ndarray) -> np.ndarray:
        rs = self.rs
        if self.cnests is not None:
            return nested_logit_shares(rs, rc, self.theta, self.cnests, self.lnps)
        return KL.logit_shares(rs.od_ptr, rs.od_class, rc, self.lnps, self.theta,
                               np.empty(rs.n_routes))

    # steps -----------------------------------------------------------------------------
    def load_logit(self) -> None:
        """Route flows := the logit loading at the current costs."""
        rs = self.rs
        self.h = self.shares(self.route_costs()) * rs.od_demand[rs.route_od]
        self.refresh()

    def sweep(self, skip_tol: float = 1e-13) -> np.ndarray:
        """One Gauss-Seidel Newton sweep over every OD pair (serial: splitting the pairs
        between threads that see each other's moves only after the sweep made the flows
        oscillate on Chicago Sketch)."""
        rs, g, c, ca = self.rs, self.g, self.cons, self.ca
        KS.newton_sweep(np.arange(rs.n_od, dtype=np.int64), rs.od_ptr, rs.od_class,
                        rs.od_demand, rs.route_ptr, rs.route_arcs, rs.route_fixed, self.lnps,
                        self.theta, ca.pce, ca.fixed, g.free_flow_time, g.capacity, g.alpha,
                        g.beta, g.vdf, self.v, self.t, self.dt, c.arc_cons_ptr, c.arc_cons,
                        c.cons_ptr, c.cons_arcs, c.cap, self.mu, self.rho, self.S, self.surch,
                        self.dsurch, self.h, self.stats, skip_tol)
        return self.refresh()

    def msa(self, n: int) -> np.ndarray:
        rs = self.rs
        y = self.shares(self.route_costs()) * rs.od_demand[rs.route_od]
        self.h += (y - self.h) / (n + 1)
        return self.refresh()

    def grow(self) -> int:
        """Column generation: add each OD pair's least-cost route where it is cheaper than
        every route in its set; returns the number added."""
        rs, g, ca = self.rs, self.g, self.ca
        rc = self.route_costs()
        real = rs.route_source != SOURCE_UNSERVED
        # every OD pair has a route: the least cost of each by a reduction over its block
        cmin = np.minimum.reduceat(np.where(real, rc, np.inf), rs.od_ptr[:-1])
        if self._origins is None:
            self._origins = _origin_groups(ca, rs)
        full = rs.routes_per_od() >= KL.MAX_ROUTES
        costs = self.arc_costs()
        parts = []
        for k, (orig_nodes, orig_ptr, od_dest, od_id) in self._origins:
            cost = np.ascontiguousarray(costs[k])
            n = ca.n_chunks if len(orig_nodes) * g.n_arcs >= KL.SERIAL_WORK else 1
            args = (g.indptr, g.head, g.tail, cost, g.blocked, orig_nodes, orig_ptr, od_dest,
                    od_id, cmin, 1e-12)
            if n <= 1:
                parts.append(KR.new_least_cost_routes(0, 1, *args))
            else:
                with ThreadPoolExecutor(n) as ex:
                    parts.extend(ex.map(lambda c, n=n, args=args: KR.new_least_cost_routes(
                        c, n, *args), range(n)))
        if not parts:  # no OD pair with demand: nothing to grow
            return 0
        r_od = np.concatenate([p[0] for p in parts])
        if not len(r_od):
            return 0
        r_len = np.concatenate([p[1] for p in parts])
        r_arcs = np.concatenate([p[2] for p in parts])
        keep = ~full[r_od]
        if not keep.all():
            r_arcs = r_arcs[np.repeat(keep, r_len)]
            r_od, r_len = r_od[keep], r_len[keep]
        if not len(r_od):
            return 0
        new_rs, where = add_routes(rs, r_od, r_len, r_arcs, SOURCE_COLUMN)
        h = np.zeros(new_rs.n_routes)
        h[where] = self.h
        self.set_routes(new_rs)
        self.h = h
        return int(len(r_od))

    # measures --------------------------------------------------------------------------
    def objective(self, x: np.ndarray) -> float:
        """The objective the method minimises at the current flows: time integrals, fixed
        costs, the entropy terms (finite theta) and the augmented-Lagrangian terms."""
        g, ca, rs = self.g, self.ca, self.rs
        z = float(K.link_time_integral(self.v, g.free_flow_time, g.capacity, g.alpha, g.beta,
                                       g.vdf))
        z += float(np.sum(ca.pce[:, None] * ca.fixed * x))
        cls = rs.od_class[rs.route_od]
        pce = ca.pce[cls]
        z += float(np.dot(rs.route_fixed * pce, self.h))
        th = self.theta[cls]
        m = (self.h > 0) & np.isfinite(th)
        if m.any():
            hm = self.h[m]
            z += float(np.sum(pce[m] * hm * (np.log(hm) - self.lnps[m]) / th[m]))
        c = self.cons
        if c.n:
            e = np.maximum(0.0, self.mu + self.rho * (self.S - c.cap))
            z += float(np.sum((e * e - self.mu * self.mu) / (2.0 * self.rho)))
        return z

    def measure(self, x: np.ndarray) -> tuple[float, float, float, float, float]:
        """(gap, link_gap, divergence, aec, objective) of the current flows (see
        ChoiceResult)."""
        rs = self.rs
        rc = self.route_costs()
        l1, excess, least, kl = KL.route_gap(rs.od_ptr, rs.od_class, rs.od_demand, rc,
                                             self.lnps, self.theta, self.h, rs.route_arcs,
                                             self.ca.n_chunks)
        q = float(rs.od_demand.sum())
        y = self.shares(rc) * rs.od_demand[rs.route_od]
        if self.cnests is not None:
            # the distance from the nested loading (route_gap measured the plain logit one)
            l1 = float(np.abs(self.h - y).sum())
            m = self.h > 0
            th = self.theta[rs.od_class[rs.route_od]]
            with np.errstate(divide="ignore"):
                kl = float(np.sum(self.h[m] * np.log(self.h[m] / y[m]) / th[m]))
        xy = KL.load_routes(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, y,
                            self.ca.n_classes, self.g.n_arcs, self.ca.n_chunks)
        tot = float(x.sum())
        link_gap = float(np.abs(x - xy).sum() / tot) if tot > 0 else 0.0
        if np.isinf(self.theta).all():
            gap = excess / least if least > 0 else 0.0
        else:
            gap = l1 / (2.0 * q) if q > 0 else 0.0
        return (float(gap), link_gap, float(kl / q) if q > 0 else 0.0,
                float(excess / q) if q > 0 else 0.0, self.objective(x))

    def violation(self) -> float:
        """Largest relative capacity excess."""
        c = self.cons
        if not c.n:
            return 0.0
        return float(max(0.0, np.max((self.S - c.cap) / c.cap)))

    def slack(self) -> float:
        """Largest relative spare capacity on a constraint with a positive multiplier
        (complementary slackness: 0 at the solution)."""
        c = self.cons
        if not c.n:
            return 0.0
        mult = self.mu + self.rho * (self.S - c.cap)
        on = mult > 0
        return float(max(0.0, np.max(((c.cap - self.S) / c.cap)[on]))) if on.any() else 0.0


def _origin_groups(ca: ClassArrays, rs: RouteSet) -> list:
    out = []
    for k in range(ca.n_classes):
        sel = np.flatnonzero(rs.od_class == k)
        if not len(sel):
            continue
        on = ca.zone_nodes[rs.od_origin[sel]]
        order = np.argsort(on, kind="stable")
        sel, on = sel[order], on[order]
        nodes, starts = np.unique(on, return_index=True)
        out.append((k, (nodes.astype(np.int64), np.r_[starts, len(sel)].astype(np.int64),
                        ca.zone_nodes[rs.od_destination[sel]].astype(np.int64),
                        sel.astype(np.int64))))
    return out


def _align(rs: RouteSet, ca: ClassArrays) -> RouteSet:
    """A route set given by the caller, checked against the demand: the same OD pairs (demand
    taken from the demand matrices), every one with a route.

    Raises
    ------
    InputError
        When it was built for other inputs, or misses or adds OD pairs.
    """
    if rs.graph.n_arcs != ca.graph.n_arcs or rs.class_names != tuple(
            c.name for c in ca.classes) or tuple(rs.zone_ids) != tuple(ca.zone_ids):
        raise InputError("the route set was built for another network, classes or zones; "
                         "generate it from the same inputs.")
    cls, o, d, q = od_pairs(ca)
    key_rs = pd.MultiIndex.from_arrays([rs.od_class, rs.od_origin, rs.od_destination])
    key = pd.MultiIndex.from_arrays([cls, o, d])
    pos = key_rs.get_indexer(key)
    if (pos < 0).any():
        z = np.asarray(ca.zone_ids, dtype=object)
        miss = np.flatnonzero(pos < 0)
        raise InputError(f"{len(miss)} OD pairs with demand have an empty route set "
                         f"({format_ids([f'{z[o[w]]}->{z[d[w]]}' for w in miss])}); generate "
                         "routes for them (generate_route_sets with this demand).")
    if len(key) != rs.n_od or not (pos == np.arange(len(pos))).all():
        raise InputError("the route set covers OD pairs without demand; generate it from this "
                         "demand.")
    out = RouteSet(**{f: getattr(rs, f) for f in RouteSet.__dataclass_fields__})
    object.__setattr__(out, "od_demand", q)
    check_route_set(out)
    return out


def _with_unserved(rs: RouteSet, ca: ClassArrays, caps: Capacities, theta: np.ndarray
                   ) -> RouteSet:
    """Add one unserved-demand alternative (no arcs, fixed cost) to every OD pair. Its default
    cost is 10 times the class's dearest free-flow route plus 40 / theta, so that logit gives it
    a share below exp(-40) unless capacities leave no other way.

    Raises
    ------
    InputError
        On a bad unserved cost, or when an OD pair has no room for one more route.
    """
    free = ca.free_costs()
    rc = KL.route_costs(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, rs.route_fixed,
                        free, np.empty(rs.n_routes))
    if caps.unserved_cost is None:
        u = np.zeros(ca.n_classes)
        for k in range(ca.n_classes):
            sel = rs.od_class[rs.route_od] == k
            u[k] = 10.0 * float(rc[sel].max()) if sel.any() else 1.0
            if np.isfinite(theta[k]):
                u[k] += 40.0 / theta[k]
        u = np.maximum(u, 1e-9)
    else:
        u = per_class(caps.unserved_cost, ca.classes, "unserved_cost")
    full = rs.routes_per_od() >= KL.MAX_ROUTES
    if full.any():
        raise InputError(f"{int(full.sum())} OD pairs already have {KL.MAX_ROUTES} routes; "
                         "with capacities one more is needed for unserved demand.")
    n = rs.n_od
    out, _ = add_routes(rs, np.arange(n), np.zeros(n, dtype=np.int64),
                        np.zeros(0, dtype=np.int64), SOURCE_UNSERVED, u[rs.od_class])
    return out


def _solve(ca: ClassArrays, theta: np.ndarray, *, routes, method: str, beta: float,
           overlap: str, capacities: Capacities | None, gap: float, max_iter: int,
           max_time_s: float | None, callback, strict: bool,
           nests: Nests | None = None, gamma: float = 0.0) -> ChoiceResult:
    t0 = _time.perf_counter()
    opts = routes if isinstance(routes, RouteOptions) else RouteOptions()
    if isinstance(routes, RouteSet):
        rs = _align(routes, ca)
        grow = False
    else:
        rs = build_route_set(ca, opts)
        grow = opts.grow
    cons = no_capacities(ca.graph.n_arcs)
    if capacities is not None:
        cons = compile_capacities(capacities, ca.graph)
        rs = _with_unserved(rs, ca, capacities, theta)
    st = _State(ca, rs, theta, beta, overlap, cons, nests, gamma)
    if cons.n:
        free = ca.free_costs()
        rc = KL.route_costs(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs,
                            np.zeros(rs.n_routes), free, np.empty(rs.n_routes))
        real = rs.route_source != SOURCE_UNSERVED
        wts = rs.od_demand[rs.route_od][real]
        scale = (float(np.average(rc[real], weights=wts)) if wts.sum() > 0
                 else float(rc[real].mean()) if real.any() else 1.0)
        # a capacity exceeded by 10 % costs about one average route: stiff enough that the
        # multipliers settle in a few rounds, soft enough for the inner solver
        st.rho = np.full(cons.n, 10.0 * max(scale, 1e-12)) / cons.cap
    st.t[:] = 0.0
    st.refresh()
    st.load_logit()
    rows: list[tuple] = []
    deadline = None if max_time_s is None else t0 + max_time_s
    it = 0
    converged = False
    tol = capacities.tol if capacities is not None else 0.0
    rounds = capacities.max_rounds if capacities is not None else 1
    prev_viol = np.inf
    x = st.refresh()
    meas = st.measure(x)
    rows.append((0, 0, *meas, st.violation(), st.rs.n_routes, _time.perf_counter() - t0))
    added = 0
    for outer in range(rounds):
        inner_ok = False
        n_inner = 0
        # inexact rounds: while capacities are far from holding, the inner equilibrium need
        # not be tight (the last round is solved to ``gap``)
        target = gap if not cons.n else max(gap, min(1e-3, 0.01 * st.violation())
                                            if outer else 1e-3)
        grown = False  # whether column generation ran after the last sweep
        while True:
            if meas[0] <= target and n_inner > 0 and not added:
                if grow and not grown:
                    # the fixed point of these route sets: does any cheaper route remain?
                    added = st.grow()
                    grown = True
                    if added:
                        x = st.refresh()
                        meas = st.measure(x)
                        continue
                inner_ok = True
                break
            if it >= max_iter or (deadline is not None and _time.perf_counter() >= deadline):
                break
            it += 1
            n_inner += 1
            if method == "msa":
                x = st.msa(n_inner)
            else:
                # OD pairs whose flows are already this close to their loading wait: closer
                # than the gap itself (measured as a share of their own demand; on Chicago
                # Sketch half the pairs, with 2 % of the gap between them, wait, and the gap
                # falls as fast per sweep), or than the target
                x = st.sweep(skip_tol=max(min(1e-3, 0.01 * target), meas[0]))
            # column generation while it finds routes, and every fifth iteration once the
            # route sets settle (each round is a shortest-path tree per origin and class)
            grown = grow and (n_inner <= 3 or added > 0 or n_inner % 5 == 0)
            added = st.grow() if grown else 0
            if added:
                x = st.refresh()
            meas = st.measure(x)
            viol = st.violation()
            row = (outer, it, *meas, viol, st.rs.n_routes, _time.perf_counter() - t0)
            rows.append(row)
            if callback is not None:
                callback(ChoiceIteration(*row))
        if not cons.n:
            converged = inner_ok
            break
        viol = st.violation()
        if (inner_ok and meas[0] <= gap and viol <= tol
                and st.slack() <= max(10.0 * tol, 1e-6)):
            converged = True
            break
        if not inner_ok:
            break  # out of iterations or time
        # multiplier update: mu := the surcharge at the current volumes
        st.mu = np.maximum(0.0, st.mu + st.rho * (st.S - cons.cap))
        if viol > 0.25 * prev_viol:
            st.rho *= 4.0
        prev_viol = viol
        st.update_surcharges()
        meas = st.measure(x)
        added = 0
        n_inner = 0
    return _result(st, x, meas, rows, it, converged, gap, method, opts, capacities, strict,
                   t0)


def _result(st: _State, x, meas, rows, it, converged, gap, method, opts, capacities, strict,
            t0, rc: np.ndarray | None = None, share: np.ndarray | None = None) -> ChoiceResult:
    ca, rs, g = st.ca, st.rs, st.g
    if rc is None:
        rc = st.route_costs().copy()
    if share is None:
        share = st.shares(rc)
    conv = pd.DataFrame(rows, columns=COLUMNS)
    cap_table = None
    if st.cons.n:
        c = st.cons
        mult = np.maximum(0.0, st.mu + st.rho * (st.S - c.cap))
        cap_table = pd.DataFrame({"constraint_id": c.ids, "capacity": c.cap, "volume": st.S,
                                  "multiplier": mult, "binding": mult > 0,
                                  "relative_excess": (st.S - c.cap) / c.cap})
    if not converged:
        msg = (f"the equilibrium stopped after {it} iterations at gap {meas[0]:.3g} (target "
               f"{gap:g})" + (f", capacity excess {st.violation():.3g}" if st.cons.n else "")
               + ".")
        if strict:
            raise KarvanError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    unserved = unserved_table(rs, st.h)
    if len(unserved):
        warnings.warn(f"{float(unserved['unserved'].sum()):g} units of demand in "
                      f"{len(unserved)} OD pairs cannot be carried within the capacities (see "
                      "the result's unserved table).", UserWarning, stacklevel=3)
    log.info("route choice (%s): %d iterations, gap %.3g, %d routes, %.3f s", method, it,
             meas[0], rs.n_routes, _time.perf_counter() - t0)
    return ChoiceResult(
        graph=g, classes=ca.classes, theta=st.theta.copy(), class_flows=x, volume=st.v.copy(),
        time=st.t.copy(), surcharge=st.surch.copy(), class_costs=st.arc_costs(), route_set=rs,
        route_flow=st.h.copy(), route_cost=rc, route_share=share, gap=meas[0],
        link_gap=meas[1], divergence=meas[2], aec=meas[3], iterations=it, converged=converged,
        convergence=conv, capacities=cap_table, unserved=unserved,
        params={"method": method, "gap": gap, "beta": st.beta, "gamma": st.gamma,
                "overlap": st.overlap,
                "routes": {"max_routes": opts.max_routes, "method": opts.method,
                           "penalty": opts.penalty, "grow": opts.grow},
                "threads": ca.n_chunks,
                "steps": dict(zip(STEP_NAMES, st.stats[:len(STEP_NAMES)].tolist(), strict=True))})


def _check_common(gap: float, max_iter: int, beta: float, overlap: str,
                  gamma: float = 0.0, max_time_s: float | None = None) -> None:
    problems = []
    if max_time_s is not None and not (max_time_s > 0):
        problems.append(f"max_time_s must be > 0 seconds (or None: no limit), got "
                        f"{max_time_s}.")
    if not (finite_number(gap) and gap >= 0):
        problems.append(f"gap must be a finite number >= 0, got {gap}.")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 0):
        problems.append(f"max_iter must be an integer >= 0, got {max_iter!r}.")
    if not (np.isfinite(beta) and beta >= 0):
        problems.append(f"beta (the path-size exponent) must be a number >= 0, got {beta!r}.")
    if not (np.isfinite(gamma) and gamma >= 0):
        problems.append(f"gamma (the generalized path size's exponent) must be a number >= 0, "
                        f"got {gamma!r}.")
    if overlap not in ("cost", "length"):
        problems.append(f"overlap must be cost or length, got {overlap!r}.")
    if problems:
        raise InputError(problems)


def stochastic_equilibrium(
    network: Network | CompiledGraph,
    demand: Demand,
    *,
    theta: float | Mapping[str, float],
    classes: Sequence[TrafficClass] | None = None,
    routes: RouteOptions | RouteSet | None = None,
    loading: Literal["psl", "dial"] = "psl",
    method: Literal["newton", "msa", "sra"] | None = None,
    beta: float = 1.0,
    gamma: float = 0.0,
    overlap: Literal["cost", "length"] = "cost",
    capacities: Capacities | None = None,
    nests: Nests | None = None,
    gap: float = 1e-6,
    max_iter: int = 500,
    max_time_s: float | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
    callback: Callable[[ChoiceIteration], None] | None = None,
    strict: bool = False,
) -> ChoiceResult:
    """Stochastic user equilibrium: logit route choice with congestion.

    Parameters
    ----------
    network, demand
        As for :func:`karvan.assign`.
    theta
        Dispersion per unit of generalized cost (time units), one value or one per class name:
        a route is chosen with probability proportional to ``exp(-theta * cost) * PS ** beta``.
        Large theta approaches the deterministic equilibrium. (With costs in money, use
        ``theta_money * value_of_time``.)
    classes
        Traffic classes (default one class over the matrix ``demand``).
    routes
        :class:`RouteOptions` (default: 5 routes by link penalty, column generation on) or a
        ready :class:`RouteSet` (then fixed: no column generation).
    loading
        ``psl`` (path-size logit over route sets) or ``dial`` (Dial's STOCH loading over
        efficient paths, MSA; no route sets: see :func:`karvan.choice.dial.dial_loading`).
    method
        ``newton`` (the default with ``psl``) or ``msa``; with ``dial``, ``msa`` (default) or
        ``sra`` (self-regulated averaging); see the module notes.
    beta
        Exponent of the path size (1: Ben-Akiva and Bierlaire's path-size logit; 0: plain
        multinomial logit over the route set).
    gamma
        Exponent of Ramming's (2002) generalized path size: a route j counts on the arcs of
        route i with weight ``(L_i / L_j) ** gamma`` (L the routes' free-flow weights), so that
        routes far longer than i barely lower its path size. 0 (the default): Ben-Akiva and
        Bierlaire's path size, every route of the pair on an arc counting 1.
    overlap
        Arc weight of the path size: ``cost`` (free-flow generalized cost) or ``length``.
    capacities
        Hard capacities (:class:`Capacities`), solved as side constraints.
    nests
        Route families as nests of a nested logit with alternative-specific constants
        (:class:`~karvan.choice.nested.Nests`) instead of path-size logit across all routes;
        solved by MSA (``method`` ``msa``, the default then).
    gap
        Target of the result's ``gap`` (see :class:`ChoiceResult`).
    max_iter, max_time_s
        Other stopping rules; reaching one first leaves ``converged`` False and warns.
    toll_factor, distance_factor, links
        As for :func:`karvan.assign`.
    callback
        Called with a :class:`ChoiceIteration` after each iteration.
    strict
        Raise instead of warning when not converged.

    Returns
    -------
    ChoiceResult

    Raises
    ------
    InputError
        On bad input: theta <= 0, unknown classes, a route set without routes for an OD pair
        with demand, bad capacities.
    NoPathError
        When some OD pair with demand has no route.

    Examples
    --------
    Two parallel links, 10 units of demand, theta 1 per time unit, no congestion: the shares
    are the binary logit of the two times.

    >>> nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
    ...                       "free_flow_time": [1.0, 2.0], "vdf": "constant"},
    ...                      index=pd.Index(["a", "b"], name="link_id"))
    >>> d = Demand((1, 2), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    >>> r = stochastic_equilibrium(Network(nodes, links), d, theta=1.0)
    >>> [round(float(f), 6) for f in r.flow]  # 10 / (1 + e^-1), 10 / (1 + e)
    [7.310586, 2.689414]
    """
    if loading not in ("psl", "dial"):
        raise InputError(f"unknown loading {loading!r}; use psl or dial.")
    if method is None:
        method = "msa" if loading == "dial" or nests is not None else "newton"
    if nests is not None and (method != "msa" or loading != "psl"):
        raise InputError("nested logit runs over route sets (loading='psl') with method='msa'.")
    if method not in ("newton", "msa", "sra"):
        raise InputError(f"unknown method {method!r}; use newton, msa or sra.")
    if loading == "dial" and method == "newton":
        raise InputError("Dial's loading iterates by method='msa' or 'sra' (it has no route "
                         "flows for the Newton sweep).")
    if loading == "dial" and gamma != 0:
        raise InputError("gamma (the generalized path size) weighs the routes of a route set; "
                         "Dial's loading has none: use loading='psl' or gamma=0.")
    if loading == "psl" and method == "sra":
        raise InputError("method='sra' is for loading='dial'; use newton or msa.")
    _check_common(gap, max_iter, beta, overlap, gamma, max_time_s)
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    th = per_class(theta, ca.classes, "theta")
    if loading == "dial":
        from karvan.choice.dial import solve_dial

        return solve_dial(ca, th, capacities=capacities, gap=gap, max_iter=max_iter,
                          max_time_s=max_time_s, callback=callback, strict=strict,
                          method=method)
    return _solve(ca, th, routes=routes, method=method, beta=beta, overlap=overlap,
                  capacities=capacities, gap=gap, max_iter=max_iter, max_time_s=max_time_s,
                  callback=callback, strict=strict, nests=nests, gamma=gamma)


def deterministic_equilibrium(
    network: Network | CompiledGraph,
    demand: Demand,
    *,
    classes: Sequence[TrafficClass] | None = None,
    routes: RouteOptions | RouteSet | None = None,
    capacities: Capacities | None = None,
    gap: float = 1e-8,
    max_iter: int = 1000,
    max_time_s: float | None = None,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
    callback: Callable[[ChoiceIteration], None] | None = None,
    strict: bool = False,
) -> ChoiceResult:
    """User equilibrium by path-based gradient projection, with hard capacities as side
    constraints: the ``theta -> inf`` limit of :func:`stochastic_equilibrium`.

    Without capacities :func:`karvan.assign` (Algorithm B) is faster; this solver is for the
    capacity-constrained equilibrium, whose multipliers are the delays that ration the
    capacities. ``gap`` is the relative gap over the route sets (column generation adds every
    cheaper route, so at convergence it is the network's relative gap).

    Parameters
    ----------
    network, demand, classes, routes, capacities, max_iter, max_time_s, toll_factor,
    distance_factor, links, callback, strict
        As for :func:`stochastic_equilibrium`; ``routes`` defaults to one route per OD pair
        grown by column generation.
    gap
        Target relative gap.

    Returns
    -------
    ChoiceResult

    Raises
    ------
    InputError
        On bad input.
    NoPathError
        When some OD pair with demand has no route.

    Examples
    --------
    The cheap link (time 1) holds 6 of 10 units; the rest take the dear one (time 3). Users of
    the cheap link queue 2 time units, so that both routes cost 3.

    >>> nodes = pd.DataFrame({"zone_id": [1, 2]}, index=pd.Index([1, 2], name="node_id"))
    >>> links = pd.DataFrame({"from_node_id": [1, 1], "to_node_id": [2, 2],
    ...                       "free_flow_time": [1.0, 3.0], "vdf": "constant"},
    ...                      index=pd.Index(["cheap", "dear"], name="link_id"))
    >>> d = Demand((1, 2), {"demand": np.array([[0.0, 10.0], [0.0, 0.0]])})
    >>> caps = Capacities(pd.DataFrame({"link_id": ["cheap"], "capacity": [6.0]}))
    >>> r = deterministic_equilibrium(Network(nodes, links), d, capacities=caps)
    >>> [round(float(f), 6) for f in r.flow], round(float(r.capacities["multiplier"][0]), 6)
    ([6.0, 4.0], 2.0)
    """
    _check_common(gap, max_iter, 1.0, "cost")
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    if routes is None:
        routes = RouteOptions(max_routes=1)
    th = np.full(ca.n_classes, np.inf)
    return _solve(ca, th, routes=routes, method="newton", beta=0.0, overlap="cost",
                  capacities=capacities, gap=gap, max_iter=max_iter, max_time_s=max_time_s,
                  callback=callback, strict=strict)


def logit_loading(
    network: Network | CompiledGraph,
    demand: Demand,
    *,
    theta: float | Mapping[str, float],
    classes: Sequence[TrafficClass] | None = None,
    routes: RouteOptions | RouteSet | None = None,
    beta: float = 1.0,
    gamma: float = 0.0,
    overlap: Literal["cost", "length"] = "cost",
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> ChoiceResult:
    """One path-size logit loading at free-flow costs: route sets, then each OD pair's demand
    split over its routes, with no congestion feedback.

    Parameters are those of :func:`stochastic_equilibrium`. The result's times and costs are
    the free-flow ones the shares were computed with; its gap fields measure the flows against
    the loading at those costs (0).

    Returns
    -------
    ChoiceResult

    Raises
    ------
    InputError
        On bad input.
    NoPathError
        When some OD pair with demand has no route.
    """
    _check_common(0.0, 0, beta, overlap, gamma)
    ca = setup(network, demand, classes, toll_factor=toll_factor,
               distance_factor=distance_factor, links=links)
    th = per_class(theta, ca.classes, "theta")
    t0 = _time.perf_counter()
    opts = routes if isinstance(routes, RouteOptions) else RouteOptions()
    rs = _align(routes, ca) if isinstance(routes, RouteSet) else build_route_set(ca, opts)
    st = _State(ca, rs, th, beta, overlap, no_capacities(ca.graph.n_arcs), gamma=gamma)
    st.t[:] = ca.graph.free_flow_time
    st.dt[:] = 0.0
    rc = st.route_costs().copy()
    share = st.shares(rc)
    st.h = share * rs.od_demand[rs.route_od]
    x = KL.load_routes(rs.od_ptr, rs.od_class, rs.route_ptr, rs.route_arcs, st.h,
                       ca.n_classes, ca.graph.n_arcs, ca.n_chunks)
    st.v = np.ascontiguousarray(ca.pce @ x)
    # the flows are the loading at these costs: gap, link gap and divergence are 0 by
    # construction (no second loading to measure them); the excess cost is not
    _l1, excess, _least, _kl = KL.route_gap(rs.od_ptr, rs.od_class, rs.od_demand, rc, st.lnps,
                                            th, st.h, rs.route_arcs, ca.n_chunks)
    q = float(rs.od_demand.sum())
    meas = (0.0, 0.0, 0.0, excess / q if q > 0 else 0.0, st.objective(x))
    rows = [(0, 0, *meas, 0.0, rs.n_routes, _time.perf_counter() - t0)]
    return _result(st, x, meas, rows, 0, True, 0.0, "loading", opts, None, False, t0, rc=rc,
                   share=share)
