"""Slow, obvious reference code for the numba kernels and the equilibrium solvers.

Everything here is written for clarity, not speed: dicts and heapq for Dijkstra, predecessor
walks for all-or-nothing loading, ``scipy.integrate.quad`` for integrals, finite differences for
derivatives, a grid plus golden section for the line search, and explicit path enumeration for
equilibrium checks. Nothing imports from ``karvan`` except the ``VDF_*`` codes, so a bug in the
kernels cannot hide in the reference.

Graphs are given as parallel arc lists ``tails, heads, costs`` (arc ``e`` runs from ``tails[e]``
to ``heads[e]``); ``blocked[node]`` true means a path may start or end at ``node`` but not pass
through it.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict

import numpy as np
from scipy.integrate import quad

VDF_BPR = 0
VDF_CONICAL = 1
VDF_CONSTANT = 2

INF = math.inf
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# ----------------------------------------------------------------------------- shortest paths


def adjacency(tails, heads, costs) -> dict[int, list[tuple[int, float, int]]]:
    """Node -> [(head, cost, arc index), ...]."""
    adj: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
    for e, (u, v, c) in enumerate(zip(tails, heads, costs, strict=True)):
        adj[int(u)].append((int(v), float(c), e))
    return adj


def dijkstra(n, tails, heads, costs, blocked, origin) -> tuple[list[float], list[int]]:
    """Distances from ``origin`` and one predecessor arc per reached node (-1 at the root and at
    unreached nodes). Blocked nodes other than the origin are reached but never expanded."""
    adj = adjacency(tails, heads, costs)
    dist = {origin: 0.0}
    pred = {origin: -1}
    done: set[int] = set()
    heap = [(0.0, origin)]
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if blocked[u] and u != origin:
            continue
        for v, c, e in adj[u]:
            nd = d + c
            if nd < dist.get(v, INF):
                dist[v] = nd
                pred[v] = e
                heapq.heappush(heap, (nd, v))
    return [dist.get(i, INF) for i in range(n)], [pred.get(i, -1) for i in range(n)]


def path_to(pred, tails, origin, node) -> list[int]:
    """Arc indices of the tree path origin -> node, in travel order."""
    arcs = []
    while node != origin:
        e = pred[node]
        arcs.append(e)
        node = int(tails[e])
    return arcs[::-1]


def aon(n, tails, heads, costs, blocked, origins, dests, demand) -> tuple[np.ndarray, float, float]:
    """Dense all-or-nothing loading: (arc flows, sum demand x distance, demand with no path).

    Each OD pair's demand is walked back along the predecessor arcs of its own tree. Demand from
    a node to itself is neither loaded nor lost.
    """
    flows = np.zeros(len(tails))
    sptt = 0.0
    lost = 0.0
    for i, o in enumerate(origins):
        dist, pred = dijkstra(n, tails, heads, costs, blocked, int(o))
        for j, d in enumerate(dests):
            q = float(demand[i][j])
            if q == 0.0 or d == o:
                continue
            if dist[d] == INF:
                lost += q
                continue
            sptt += q * dist[d]
            for e in path_to(pred, tails, int(o), int(d)):
                flows[e] += q
    return flows, sptt, lost


def simple_paths(n, tails, heads, blocked, origin, dest) -> list[list[int]]:
    """Every simple path origin -> dest as a list of arc indices (parallel arcs give distinct
    paths). Blocked nodes may only be the origin or the destination. Exponential: tiny graphs."""
    out_arcs: dict[int, list[int]] = defaultdict(list)
    for e, u in enumerate(tails):
        out_arcs[int(u)].append(e)
    found: list[list[int]] = []

    def walk(u, seen, arcs):
        if u == dest:
            found.append(list(arcs))
            return
        if blocked[u] and u != origin:
            return
        for e in out_arcs[u]:
            v = int(heads[e])
            if v not in seen:
                seen.add(v)
                arcs.append(e)
                walk(v, seen, arcs)
                arcs.pop()
                seen.discard(v)

    walk(origin, {origin}, [])
    return found


def path_cost(path, arc_cost) -> float:
    return float(sum(arc_cost[e] for e in path))


def used_path_excess(paths, arc_cost, arc_flow, flow_tol) -> float:
    """Largest relative excess cost, over the least-cost path, of a path all of whose arcs carry
    more than ``flow_tol``.

    For flow from a single origin this is the equilibrium check that needs only link flows: any
    decomposition of the arc flows into paths uses only such paths, and at equilibrium every one
    of them is a least-cost path.
    """
    best = min(path_cost(p, arc_cost) for p in paths)
    used = [p for p in paths if all(arc_flow[e] > flow_tol for e in p)]
    if not used:
        return 0.0
    return max(path_cost(p, arc_cost) - best for p in used) / best


# ----------------------------------------------------------------------------- delay functions


def bpr_time(v, fft, cap, alpha, beta) -> float:
    return fft * (1.0 + alpha * (v / cap) ** beta)


def conical_time(v, fft, cap, alpha, beta) -> float:
    u = 1.0 - v / cap
    return fft * (2.0 + math.sqrt(alpha**2 * u**2 + beta**2) - alpha * u - beta)


def conical_beta(alpha) -> float:
    """Spiess's beta for a given alpha: then t(0) = fft and t(cap) = 2 fft."""
    return (2.0 * alpha - 1.0) / (2.0 * alpha - 2.0)


def time(v, fft, cap, alpha, beta, kind) -> float:
    if kind == VDF_BPR:
        return bpr_time(v, fft, cap, alpha, beta)
    if kind == VDF_CONICAL:
        return conical_time(v, fft, cap, alpha, beta)
    if kind == VDF_CONSTANT:
        return fft
    raise ValueError(kind)


def integral(f, a, b) -> float:
    """integral_a^b f by adaptive quadrature, on [0, 1] after substituting w = a + s (b - a) so
    that tiny intervals do not trouble quad's absolute tolerances."""
    if a == b:
        return 0.0
    val, _ = quad(lambda s: f(a + s * (b - a)), 0.0, 1.0, epsabs=0.0, epsrel=1e-12, limit=200)
    return (b - a) * val


def time_integral(v, fft, cap, alpha, beta, kind) -> float:
    """integral_0^v t(w) dw."""
    return integral(lambda w: time(w, fft, cap, alpha, beta, kind), 0.0, v)


def time_derivative(v, fft, cap, alpha, beta, kind, rel_step=1e-6) -> float:
    """Central difference with a step relative to the volume (or to capacity near zero)."""
    h = rel_step * max(abs(v), cap if math.isfinite(cap) else 1.0)
    return (time(v + h, fft, cap, alpha, beta, kind) - time(v - h, fft, cap, alpha, beta, kind)) / (
        2.0 * h
    )


# ----------------------------------------------------------------------------- line search


def beckmann_along(lam, v, dv, fixed, fft, cap, alpha, beta, kind) -> float:
    """phi(lam) - phi(0) for phi(lam) = sum_a int_0^{v_a + lam dv_a} t_a + fixed * lam."""
    s = fixed * lam
    for i in range(len(v)):
        if dv[i] == 0.0:
            continue
        p = (fft[i], cap[i], alpha[i], beta[i], kind[i])
        s += integral(lambda w, p=p: time(w, *p), v[i], v[i] + lam * dv[i])
    return s


def beckmann_slope(lam, v, dv, fixed, fft, cap, alpha, beta, kind) -> float:
    """phi'(lam) = sum_a t_a(v_a + lam dv_a) dv_a + fixed."""
    return fixed + sum(
        time(v[i] + lam * dv[i], fft[i], cap[i], alpha[i], beta[i], kind[i]) * dv[i]
        for i in range(len(v))
    )


def minimise_brute(phi, lo, hi, n_grid=101, tol=1e-10) -> float:
    """Minimiser of a convex ``phi`` on [lo, hi]: the best point of a dense grid, then golden
    section inside the neighbouring grid cells."""
    grid = np.linspace(lo, hi, n_grid)
    vals = [phi(x) for x in grid]
    k = int(np.argmin(vals))
    a = grid[max(k - 1, 0)]
    b = grid[min(k + 1, n_grid - 1)]
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    fc, fd = phi(c), phi(d)
    while b - a > tol * max(1.0, abs(hi)):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = phi(c)
        else:
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = phi(d)
    candidates = [(vals[k], grid[k]), (phi(0.5 * (a + b)), 0.5 * (a + b))]
    return min(candidates)[1]


# ----------------------------------------------------------------------------- equilibrium


def relative_gap(n, tails, heads, arc_cost, blocked, origins, dests, demand, arc_flow):
    """(TSTT - SPTT) / SPTT of one class's ``arc_flow`` priced at ``arc_cost``, and (TSTT, SPTT)."""
    tstt = float(np.dot(arc_flow, arc_cost))
    _, sptt, _ = aon(n, tails, heads, arc_cost, blocked, origins, dests, demand)
    return (tstt - sptt) / sptt, tstt, sptt


# ----------------------------------------------------------------------------- route choice


def penalty_routes(n, tails, heads, costs, blocked, origin, dest, max_routes, max_depth,
                   max_misses, penalty) -> list[list[int]]:
    """Link penalisation, as written in the literature: repeat a least-cost search, multiply
    the cost of every arc of the route found by ``penalty`` after each search, keep distinct
    routes; stop at ``max_routes`` routes, ``max_depth`` searches or more than ``max_misses``
    repeats."""
    cost = [float(c) for c in costs]
    routes: list[list[int]] = []
    misses = 0
    for _ in range(max_depth):
        if len(routes) >= max_routes:
            break
        dist, pred = dijkstra(n, tails, heads, cost, blocked, origin)
        if dist[dest] == INF:
            break
        path = path_to(pred, tails, origin, dest)
        for e in path:
            cost[e] *= penalty
        if path in routes:
            misses += 1
            if misses > max_misses:
                break
        else:
            routes.append(path)
    return routes


def path_sizes(routes, weight, gamma: float = 0.0) -> list[float]:
    """Path size of each route of one OD pair, in the obvious way: sum over its arcs of
    (weight / route weight) / (sum over the routes using the arc of (its weight / theirs) **
    gamma); gamma 0 is Ben-Akiva and Bierlaire's (routes using the arc), gamma > 0 Ramming's
    generalized path size."""
    totals = [sum(weight[e] for e in r) for r in routes]
    out = []
    for i, r in enumerate(routes):
        total = totals[i]
        ok = gamma != 0 and all(t > 0 for t in totals)

        def denom(e, i=i, ok=ok):
            return sum((totals[i] / totals[j]) ** gamma if ok else 1.0
                       for j, q in enumerate(routes) if e in set(q))

        out.append(sum(weight[e] / total / denom(e) for e in set(r)) if total > 0 else
                   sum(1.0 / len(r) / denom(e) for e in set(r)))
    return out


def logit_shares(costs, weights, theta) -> list[float]:
    """Shares proportional to weight * exp(-theta * cost), computed in the obvious way."""
    e = [w * math.exp(-theta * (c - min(costs))) for c, w in zip(costs, weights, strict=True)]
    return [x / sum(e) for x in e]


def efficient_paths(n, tails, heads, costs, blocked, origin, dest) -> list[list[int]]:
    """Dial's efficient paths origin -> dest: every path of arcs (i, j) with r(i) < r(j), r the
    least cost from the origin (positive costs), never passing through a blocked node."""
    r, _ = dijkstra(n, tails, heads, costs, blocked, origin)
    eff = [e for e in range(len(tails))
           if r[tails[e]] < r[heads[e]] and not (blocked[tails[e]] and tails[e] != origin)]
    sub_t = [tails[e] for e in eff]
    sub_h = [heads[e] for e in eff]
    return [[eff[i] for i in p] for p in simple_paths(n, sub_t, sub_h, blocked, origin, dest)]
