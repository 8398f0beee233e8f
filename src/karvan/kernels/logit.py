"""Path-size logit over route sets: path sizes, route costs, choice shares, loading and the
distance of route flows from the logit loading at their own costs (the sweep of the equilibrium
is in :mod:`karvan.kernels.sue`).

Route sets in compact storage, grouped by OD pair: the routes of OD pair ``w`` are
``od_ptr[w]:od_ptr[w + 1]``, the arcs of route ``r`` are ``route_arcs[route_ptr[r]:route_ptr[r +
1]]`` (no arc twice in a route). OD pair ``w`` belongs to class ``od_class[w]``, whose fixed arc
costs are ``fixed[k]``, dispersion ``theta[k]`` (per unit of cost; ``inf`` means deterministic
choice) and capacity units per unit of flow ``pce[k]``. A route may carry a fixed cost of its own,
``route_fixed`` (and has no arcs when it stands for demand left unserved).

Cost of an arc for class k: ``time(volume) + fixed[k] + surcharge``. The surcharge of an arc sums,
over the side constraints j it belongs to, ``max(0, mu_j + rho_j (S_j - C_j))`` with ``S_j`` the
volume on the arcs of constraint j: the derivative of the augmented Lagrangian term of Larsson and
Patriksson (1995). Without constraints it is zero.
"""

from __future__ import annotations

import math

import numpy as np

from karvan.kernels._jit import JIT, PJIT, njit, prange

VDF_BPR = 0
VDF_CONICAL = 1

#: largest route set of one OD pair the Newton sweep handles (route membership is a bit mask)
MAX_ROUTES = 64


@njit(**JIT)
def vdf_time(v, fft, cap, a, b, kind):
    """Arc time at volume ``v`` (BPR, conical, constant; as :mod:`karvan.kernels.vdf`)."""
    if v < 0.0:
        v = 0.0
    if kind == VDF_BPR:
        if a == 0.0 or fft == 0.0:
            return fft
        x = v / cap
        if b == 4.0:
            x2 = x * x
            return fft * (1.0 + a * x2 * x2)
        return fft * (1.0 + a * x**b)
    if kind == VDF_CONICAL:
        u = 1.0 - v / cap
        return fft * (2.0 + math.sqrt(a * a * u * u + b * b) - a * u - b)
    return fft


@njit(**JIT)
def vdf_dtime(v, fft, cap, a, b, kind):
    """Derivative of the travel time with respect to the volume, at ``v``."""
    if v < 0.0:
        v = 0.0
    if kind == VDF_BPR:
        if a == 0.0 or fft == 0.0 or b == 0.0:
            return 0.0
        x = v / cap
        if b == 4.0:
            return fft * a * 4.0 * x * x * x / cap
        if b == 1.0:
            return fft * a / cap
        return fft * a * b * x ** (b - 1.0) / cap
    if kind == VDF_CONICAL:
        u = 1.0 - v / cap
        r = math.sqrt(a * a * u * u + b * b)
        d = a
        if r > 0.0:
            d = a - a * a * u / r
        return fft * d / cap
    return 0.0


#: below this many route arcs a parallel launch costs more than it saves
SERIAL_WORK = 400_000


def n_workers(route_arcs, n_chunks):
    """Chunks to split route work into: 1 (serial) for small route sets."""
    return 1 if n_chunks <= 1 or route_arcs.shape[0] < SERIAL_WORK else n_chunks


@njit(**JIT)
def arc_times(v, fft, cap, alpha, beta, kind, t, dt):
    """Arc times and their derivatives at volumes ``v`` into ``t`` and ``dt``."""
    for a in range(v.shape[0]):
        t[a] = vdf_time(v[a], fft[a], cap[a], alpha[a], beta[a], kind[a])
        dt[a] = vdf_dtime(v[a], fft[a], cap[a], alpha[a], beta[a], kind[a])


@njit(**JIT)
def surcharges(cons_ptr, cons_arcs, cons_cap, mu, rho, S, surch, dsurch):
    """Per-arc surcharge and its derivative from the constraint state (arcs not in any
    constraint get 0)."""
    for a in range(surch.shape[0]):
        surch[a] = 0.0
        dsurch[a] = 0.0
    for j in range(cons_cap.shape[0]):
        val = mu[j] + rho[j] * (S[j] - cons_cap[j])
        if val > 0.0:
            for x in range(cons_ptr[j], cons_ptr[j + 1]):
                a = cons_arcs[x]
                surch[a] += val
                dsurch[a] += rho[j]


@njit(**JIT)
def _path_size_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, weight, gamma, ps):
    n_od = od_ptr.shape[0] - 1
    # per arc: the routes' summed relevance on it, and the shortest route through it
    share = np.zeros(weight.shape[1])
    amin = np.full(weight.shape[1], np.inf)
    length = np.zeros(route_ptr.shape[0] - 1)
    for w in range(c, n_od, n_chunks):
        k = od_class[w]
        r0 = od_ptr[w]
        r1 = od_ptr[w + 1]
        # route lengths; gamma counts only where every route of the pair with arcs has a
        # positive length (else the path size of Ben-Akiva and Bierlaire)
        positive = True
        for r in range(r0, r1):
            total = 0.0
            for x in range(route_ptr[r], route_ptr[r + 1]):
                total += weight[k, route_arcs[x]]
            length[r] = total
            if route_ptr[r + 1] > route_ptr[r] and not total > 0.0:
                positive = False
        use_gamma = gamma != 0.0 and positive
        if use_gamma:
            # sum over the routes j on arc a of (L_i / L_j) ** gamma, for route i on a, is
            # (L_i / m_a) ** gamma * sum_j (m_a / L_j) ** gamma with m_a the shortest route
            # through a: each term of the second sum is at most 1 and one is 1, so it never
            # underflows to 0 however large gamma is (the first factor may overflow to inf:
            # the arc then adds 0 to the route's path size, its limit)
            for r in range(r0, r1):
                for x in range(route_ptr[r], route_ptr[r + 1]):
                    a = route_arcs[x]
                    amin[a] = min(amin[a], length[r])
            for r in range(r0, r1):
                for x in range(route_ptr[r], route_ptr[r + 1]):
                    a = route_arcs[x]
                    share[a] += (amin[a] / length[r]) ** gamma
        else:
            for r in range(r0, r1):
                for x in range(route_ptr[r], route_ptr[r + 1]):
                    share[route_arcs[x]] += 1.0
        for r in range(r0, r1):
            p0 = route_ptr[r]
            p1 = route_ptr[r + 1]
            if p1 == p0:
                ps[r] = 1.0
                continue
            total = length[r]
            s = 0.0
            if use_gamma:
                for x in range(p0, p1):
                    a = route_arcs[x]
                    s += weight[k, a] / total / ((total / amin[a]) ** gamma * share[a])
            elif total > 0.0:
                for x in range(p0, p1):
                    a = route_arcs[x]
                    s += weight[k, a] / total / share[a]
            else:
                for x in range(p0, p1):
                    s += 1.0 / (p1 - p0) / share[route_arcs[x]]
            ps[r] = s
        for r in range(r0, r1):
            for x in range(route_ptr[r], route_ptr[r + 1]):
                share[route_arcs[x]] = 0.0
                amin[route_arcs[x]] = np.inf


@njit(**PJIT)
def _path_size_par(n_chunks, od_ptr, od_class, route_ptr, route_arcs, weight, gamma, ps):
    for c in prange(n_chunks):
        _path_size_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, weight, gamma, ps)


def path_size(od_ptr, od_class, route_ptr, route_arcs, weight, n_chunks, gamma=0.0):
    """Path size of every route: the generalized path size of Ramming (2002),
    PS_i = sum over arcs a of i of (l_a / L_i) / sum over the routes j of the OD pair that use a
    of (L_i / L_j) ** gamma, with l_a = ``weight[class, a]`` and L the routes' total weights.
    ``gamma`` 0 (the default) is Ben-Akiva and Bierlaire's (1999) path size, the denominator the
    number of routes N_a that use the arc; with gamma > 0 a route longer than route i counts
    less on i's arcs, so alternatives far dearer than i barely lower its path size. A route of
    zero total weight counts its arcs equally; where a route of the pair has zero total weight
    the pair's routes all count 1 (gamma 0); a route without arcs has PS 1."""
    ps = np.ones(route_ptr.shape[0] - 1)
    gamma = float(gamma)
    n = n_workers(route_arcs, n_chunks)
    if n == 1:
        _path_size_chunk(0, 1, od_ptr, od_class, route_ptr, route_arcs, weight, gamma, ps)
    else:
        _path_size_par(n, od_ptr, od_class, route_ptr, route_arcs, weight, gamma, ps)
    return ps


@njit(**JIT)
def _route_costs_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, route_fixed,
                       arc_cost, out):
    for w in range(c, od_ptr.shape[0] - 1, n_chunks):
        k = od_class[w]
        for r in range(od_ptr[w], od_ptr[w + 1]):
            s = route_fixed[r]
            for x in range(route_ptr[r], route_ptr[r + 1]):
                s += arc_cost[k, route_arcs[x]]
            out[r] = s


@njit(**PJIT)
def _route_costs_par(n_chunks, od_ptr, od_class, route_ptr, route_arcs, route_fixed, arc_cost,
                     out):
    for c in prange(n_chunks):
        _route_costs_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, route_fixed,
                           arc_cost, out)


def route_costs(od_ptr, od_class, route_ptr, route_arcs, route_fixed, arc_cost, out,
                n_chunks=1):
    """Cost of every route into ``out``: its fixed cost plus its arcs' costs
    ``arc_cost[class]``."""
    n = n_workers(route_arcs, n_chunks)
    if n == 1:
        _route_costs_chunk(0, 1, od_ptr, od_class, route_ptr, route_arcs, route_fixed, arc_cost,
                           out)
    else:
        _route_costs_par(n, od_ptr, od_class, route_ptr, route_arcs, route_fixed, arc_cost, out)
    return out


@njit(**JIT)
def _shares(r0, r1, cost, lnps, th, out):
    # logit shares of routes r0..r1-1 into out[r0:r1]; theta inf: all on the first cheapest
    if th == np.inf:
        best = r0
        for r in range(r0, r1):
            out[r] = 0.0
            if cost[r] < cost[best]:
                best = r
        out[best] = 1.0
        return
    mx = -np.inf
    for r in range(r0, r1):
        u = -th * cost[r] + lnps[r]
        out[r] = u
        if u > mx:
            mx = u
    s = 0.0
    for r in range(r0, r1):
        e = math.exp(out[r] - mx)
        out[r] = e
        s += e
    for r in range(r0, r1):
        out[r] /= s


@njit(**JIT)
def logit_shares(od_ptr, od_class, cost, lnps, theta, out):
    """Choice share of every route within its OD pair: proportional to
    ``exp(-theta * cost + lnps)`` (``lnps`` = beta * ln PS for path-size logit)."""
    for w in range(od_ptr.shape[0] - 1):
        _shares(od_ptr[w], od_ptr[w + 1], cost, lnps, theta[od_class[w]], out)
    return out


@njit(**JIT)
def _load_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, flow, out):
    for w in range(c, od_ptr.shape[0] - 1, n_chunks):
        k = od_class[w]
        for r in range(od_ptr[w], od_ptr[w + 1]):
            f = flow[r]
            if f == 0.0:
                continue
            for x in range(route_ptr[r], route_ptr[r + 1]):
                out[k, route_arcs[x]] += f


@njit(**PJIT)
def _load_par(n_chunks, od_ptr, od_class, route_ptr, route_arcs, flow, part):
    for c in prange(n_chunks):
        _load_chunk(c, n_chunks, od_ptr, od_class, route_ptr, route_arcs, flow, part[c])


def load_routes(od_ptr, od_class, route_ptr, route_arcs, flow, n_classes, n_arcs, n_chunks):
    """Arc flows per class (n_classes, n_arcs) of route flows ``flow``."""
    n = n_workers(route_arcs, n_chunks)
    if n == 1:
        out = np.zeros((n_classes, n_arcs))
        _load_chunk(0, 1, od_ptr, od_class, route_ptr, route_arcs, flow, out)
        return out
    part = np.zeros((n, n_classes, n_arcs))
    _load_par(n, od_ptr, od_class, route_ptr, route_arcs, flow, part)
    return part.sum(axis=0)


@njit(**JIT)
def _gap_chunk(c, n_chunks, od_ptr, od_class, od_demand, cost, lnps, theta, flow, out):
    n_od = od_ptr.shape[0] - 1
    l1 = 0.0
    excess = 0.0
    least = 0.0
    kl = 0.0
    for w in range(c, n_od, n_chunks):
        r0 = od_ptr[w]
        r1 = od_ptr[w + 1]
        q = od_demand[w]
        th = theta[od_class[w]]
        cmin = np.inf
        best = r0
        for r in range(r0, r1):
            if cost[r] < cmin:
                cmin = cost[r]
                best = r
        ex = 0.0
        for r in range(r0, r1):
            ex += flow[r] * (cost[r] - cmin)
        excess += ex
        least += q * cmin
        if th == np.inf:
            d = 0.0
            for r in range(r0, r1):
                y = q if r == best else 0.0
                d += abs(flow[r] - y)
            l1 += d
            continue
        mx = -np.inf
        for r in range(r0, r1):
            u = -th * cost[r] + lnps[r]
            if u > mx:
                mx = u
        s = 0.0
        for r in range(r0, r1):
            s += math.exp(-th * cost[r] + lnps[r] - mx)
        lse = mx + math.log(s)
        d = 0.0
        kw = 0.0
        lq = math.log(q)
        for r in range(r0, r1):
            lny = lq + (-th * cost[r] + lnps[r]) - lse
            y = math.exp(lny)
            d += abs(flow[r] - y)
            if flow[r] > 0.0:
                kw += flow[r] * (math.log(flow[r]) - lny)
        l1 += d
        kl += kw / th
    out[c, 0] = l1
    out[c, 1] = excess
    out[c, 2] = least
    out[c, 3] = kl


@njit(**PJIT)
def _gap_par(n_chunks, od_ptr, od_class, od_demand, cost, lnps, theta, flow, out):
    for c in prange(n_chunks):
        _gap_chunk(c, n_chunks, od_ptr, od_class, od_demand, cost, lnps, theta, flow, out)


def route_gap(od_ptr, od_class, od_demand, cost, lnps, theta, flow, route_arcs=None,
              n_chunks=1):
    """How far route flows are from the logit loading at their own route costs ``cost``.

    Returns (sum |flow - y|, sum flow * (cost - least route cost), sum demand * least route
    cost, sum flow * ln(flow / y) / theta), y being the logit loading of the demand at ``cost``
    (for theta inf: all on a cheapest route; the last sum is then 0).
    """
    n = 1 if route_arcs is None else n_workers(route_arcs, n_chunks)
    out = np.zeros((n, 4))
    if n == 1:
        _gap_chunk(0, 1, od_ptr, od_class, od_demand, cost, lnps, theta, flow, out)
    else:
        _gap_par(n, od_ptr, od_class, od_demand, cost, lnps, theta, flow, out)
    s = out.sum(axis=0)
    return float(s[0]), float(s[1]), float(s[2]), float(s[3])


@njit(**JIT)
def nested_shares(od_ptr, od_class, cost, lnps, theta, family, scale, asc, out):
    """Nested-logit share of every route within its OD pair.

    Route r of family f (``family[r]``; -1: no family, a nest of its own) has utility
    ``V = -theta * (cost + asc[class, f]) + lnps``; within its nest
    ``P(r | f) = exp(V / scale_f) / sum exp(V' / scale_f)``, and the nest's inclusive value
    ``I_f = scale_f * ln sum exp(V' / scale_f)`` gives ``P(f) = exp(I_f) / sum_g exp(I_g)`` over
    the nests present in the pair.
    """
    n_fam = scale.shape[0]
    mx = np.empty(n_fam)
    sm = np.empty(n_fam)
    iv = np.empty(n_fam)
    for w in range(od_ptr.shape[0] - 1):
        r0 = od_ptr[w]
        r1 = od_ptr[w + 1]
        k = od_class[w]
        th = theta[k]
        for f in range(n_fam):
            mx[f] = -np.inf
            sm[f] = 0.0
        for r in range(r0, r1):
            f = family[r]
            if f >= 0:
                u = (-th * (cost[r] + asc[k, f]) + lnps[r]) / scale[f]
                if u > mx[f]:
                    mx[f] = u
            else:
                u = -th * cost[r] + lnps[r]
            out[r] = u
        for r in range(r0, r1):
            f = family[r]
            if f >= 0:
                sm[f] += math.exp(out[r] - mx[f])
        top = -np.inf
        for f in range(n_fam):
            if mx[f] > -np.inf:
                iv[f] = scale[f] * (mx[f] + math.log(sm[f]))
                if iv[f] > top:
                    top = iv[f]
        for r in range(r0, r1):
            if family[r] < 0 and out[r] > top:
                top = out[r]
        s = 0.0
        for f in range(n_fam):
            if mx[f] > -np.inf:
                s += math.exp(iv[f] - top)
        for r in range(r0, r1):
            if family[r] < 0:
                s += math.exp(out[r] - top)
        for r in range(r0, r1):
            f = family[r]
            if f >= 0:
                out[r] = math.exp(iv[f] - top) / s * math.exp(out[r] - mx[f]) / sm[f]
            else:
                out[r] = math.exp(out[r] - top) / s
    return out
