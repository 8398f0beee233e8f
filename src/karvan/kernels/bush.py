"""Origin-based user equilibrium: Algorithm B (Dial 2006) on acyclic bushes.

One bush per (class, origin): a set of arcs forming an acyclic graph rooted at the origin, with
origin-based arc flows ``flow[b, a]``. Each sweep updates every bush in turn (Gauss-Seidel):

1. labels in topological order: shortest distance ``lmin`` over bush arcs, longest distance over
   used arcs ``lmax`` (with their predecessor arcs), and the longest distance over all bush arcs
   ``lup``;
2. bush update: unused arcs that are not the shortest-path predecessor of their head leave the
   bush; arcs (i, j) outside it with ``lup[i] + c_ij < lup[j]`` join it. Since ``lup`` grows along
   every bush path, an arc that satisfies this cannot close a cycle;
3. flow shifts, nodes in reverse topological order: from the longest used path to the shortest
   path, between the node and the last node the two paths share, by the Newton step
   ``(C_long - C_short) / sum of derivatives``, capped by the least flow on the long segment.

The arc times follow every shift, so later shifts see the costs that earlier ones produced.

References
----------
R. B. Dial, "A path-based user-equilibrium traffic assignment algorithm that obviates path
storage and enumeration", Transportation Research Part B 40(10), 917-936, 2006.
Y. Nie, "A class of bush-based algorithms for the traffic assignment problem", Transportation
Research Part B 44(1), 73-89, 2010.
"""

from __future__ import annotations

import numpy as np

from karvan.kernels._jit import JIT, PJIT, njit, prange
from karvan.kernels.paths import _tree
from karvan.kernels.vdf import _dtime, _time


@njit(**JIT)
def _topo(b, o, indptr, head, inbush, indeg, topo):
    """Kahn's order of the nodes reached by bush b from o; returns the count (or -1 on a cycle,
    which the bush rules exclude)."""
    n = indptr.shape[0] - 1
    m = head.shape[0]
    for i in range(n):
        indeg[i] = 0
    for a in range(m):
        if inbush[b, a]:
            indeg[head[a]] += 1
    count = 0
    topo[0] = o
    end = 1
    while count < end:
        u = topo[count]
        count += 1
        for a in range(indptr[u], indptr[u + 1]):
            if inbush[b, a]:
                w = head[a]
                indeg[w] -= 1
                if indeg[w] == 0:
                    topo[end] = w
                    end += 1
    return count


@njit(**JIT)
def _labels(b, k, count, topo, rindptr, rarcs, tail, inbush, flow, t, fixed, eps,
            lmin, lmax, lup, minpred, maxpred):
    # every node, not only those reached: a node outside the bush must read as unreachable
    for u in range(lmin.shape[0]):
        lmin[u] = np.inf
        lmax[u] = -np.inf
        lup[u] = -np.inf
        minpred[u] = -1
        maxpred[u] = -1
    o = topo[0]
    lmin[o] = 0.0
    lmax[o] = 0.0
    lup[o] = 0.0
    for idx in range(1, count):
        u = topo[idx]
        for r in range(rindptr[u], rindptr[u + 1]):
            a = rarcs[r]
            if not inbush[b, a]:
                continue
            i = tail[a]
            c = t[a] + fixed[k, a]
            if lmin[i] + c < lmin[u]:
                lmin[u] = lmin[i] + c
                minpred[u] = a
            if lup[i] + c > lup[u]:
                lup[u] = lup[i] + c
            if flow[b, a] > eps and lmax[i] > -np.inf and lmax[i] + c > lmax[u]:
                lmax[u] = lmax[i] + c
                maxpred[u] = a


@njit(**JIT)
def _set_arc(a, vol, fft, cap, alpha, beta, kind, v, t, dt):
    v[a] = vol
    t[a] = _time(vol, fft[a], cap[a], alpha[a], beta[a], kind[a])
    dt[a] = _dtime(vol, fft[a], cap[a], alpha[a], beta[a], kind[a])


@njit(**JIT)
def _sweep_chunk(c, n_chunks, indptr, head, tail, rindptr, rarcs, blocked, fft, cap, alpha,
                 beta, kind, fixed, pce, bush_class, bush_origin, flow, inbush, x, v, t, dt,
                 n_shift, update_bushes):
    n = indptr.shape[0] - 1
    m = head.shape[0]
    indeg = np.empty(n, np.int64)
    topo = np.empty(n, np.int64)
    lmin = np.empty(n)
    lmax = np.empty(n)
    lup = np.empty(n)
    minpred = np.empty(n, np.int64)
    maxpred = np.empty(n, np.int64)
    mark = np.zeros(n, np.int64)
    stamp = 0
    shifts = 0
    for b in range(c, bush_class.shape[0], n_chunks):
        k = bush_class[b]
        o = bush_origin[b]
        total = 0.0
        for a in range(indptr[o], indptr[o + 1]):
            total += flow[b, a]
        eps = 1e-13 * max(total, 1.0)
        count = _topo(b, o, indptr, head, inbush, indeg, topo)
        _labels(b, k, count, topo, rindptr, rarcs, tail, inbush, flow, t, fixed, eps,
                lmin, lmax, lup, minpred, maxpred)
        if update_bushes:
            changed = False
            for a in range(m):
                if inbush[b, a] and flow[b, a] <= eps and minpred[head[a]] != a:
                    inbush[b, a] = False
                    if flow[b, a] != 0.0:
                        # drop the crumb from every total it is part of
                        f = flow[b, a]
                        flow[b, a] = 0.0
                        x[k, a] -= f
                        _set_arc(a, v[a] - pce[k] * f, fft, cap, alpha, beta, kind, v, t, dt)
                    changed = True
            for a in range(m):
                if inbush[b, a]:
                    continue
                i = tail[a]
                j = head[a]
                if j == o or (blocked[i] and i != o):
                    continue
                if lup[i] == -np.inf or lup[j] == -np.inf:
                    continue
                c = t[a] + fixed[k, a]
                if lup[i] + c < lup[j] - 1e-14 * abs(lup[j]):
                    inbush[b, a] = True
                    changed = True
            if changed:
                count = _topo(b, o, indptr, head, inbush, indeg, topo)
        for _ in range(n_shift):
            _labels(b, k, count, topo, rindptr, rarcs, tail, inbush, flow, t, fixed, eps,
                    lmin, lmax, lup, minpred, maxpred)
            moved = False
            for idx in range(count - 1, 0, -1):
                j = topo[idx]
                if maxpred[j] < 0 or minpred[j] < 0:
                    continue
                if lmax[j] - lmin[j] <= 1e-15 * lmax[j]:
                    continue
                if maxpred[j] == minpred[j]:
                    # same last arc: the divergence is further up; that node is handled itself
                    continue
                stamp += 1
                u = j
                while u != o:
                    mark[u] = stamp
                    u = tail[minpred[u]]
                mark[o] = stamp
                u = tail[maxpred[j]]
                while mark[u] != stamp:
                    u = tail[maxpred[u]]
                d = u
                cmax = 0.0
                dsum = 0.0
                fmin = np.inf
                u = j
                while u != d:
                    a = maxpred[u]
                    cmax += t[a] + fixed[k, a]
                    dsum += dt[a]
                    if flow[b, a] < fmin:
                        fmin = flow[b, a]
                    u = tail[a]
                cmin = 0.0
                u = j
                while u != d:
                    a = minpred[u]
                    cmin += t[a] + fixed[k, a]
                    dsum += dt[a]
                    u = tail[a]
                gap = cmax - cmin
                if gap <= 0.0 or fmin <= 0.0:
                    continue
                if dsum > 0.0:
                    dx = gap / (pce[k] * dsum)
                    if dx > fmin:
                        dx = fmin
                else:
                    dx = fmin
                u = j
                while u != d:
                    a = maxpred[u]
                    nf = flow[b, a] - dx
                    if nf < 0.0:
                        nf = 0.0
                    x[k, a] -= flow[b, a] - nf
                    _set_arc(a, v[a] - pce[k] * (flow[b, a] - nf), fft, cap, alpha, beta, kind,
                             v, t, dt)
                    flow[b, a] = nf
                    u = tail[a]
                u = j
                while u != d:
                    a = minpred[u]
                    flow[b, a] += dx
                    x[k, a] += dx
                    _set_arc(a, v[a] + pce[k] * dx, fft, cap, alpha, beta, kind, v, t, dt)
                    u = tail[a]
                shifts += 1
                moved = True
            if not moved:
                break
    return shifts


@njit(**PJIT)
def _sweep_parallel(indptr, head, tail, rindptr, rarcs, blocked, fft, cap, alpha, beta, kind,
                    fixed, pce, bush_class, bush_origin, flow, inbush, x, v, t, dt, n_shift,
                    update_bushes, n_chunks):
    shifts = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        shifts[c] = _sweep_chunk(c, n_chunks, indptr, head, tail, rindptr, rarcs, blocked, fft,
                                 cap, alpha, beta, kind, fixed, pce, bush_class, bush_origin,
                                 flow, inbush, x, v, t, dt, n_shift, update_bushes)
    return shifts.sum()


def bush_sweep(indptr, head, tail, rindptr, rarcs, blocked, fft, cap, alpha, beta, kind,
               fixed, pce, bush_class, bush_origin, flow, inbush, x, v, t, dt, n_shift,
               update_bushes, n_chunks=1):
    """One sweep of Algorithm B over every bush; returns the number of flow shifts.

    Serial (``n_chunks`` 1): Gauss-Seidel, every shift sees the costs of the ones before.
    Parallel: the bushes are split over ``n_chunks`` threads that share ``x``, ``v``, ``t`` and
    ``dt`` without locks. A bush belongs to one thread, so the bush flows stay exact; the shared
    totals can miss a concurrent update, so the caller re-sums them from the bushes after the
    sweep (``class_flows_from_bushes``) before it measures the gap.
    """
    if n_chunks <= 1:
        return _sweep_chunk(0, 1, indptr, head, tail, rindptr, rarcs, blocked, fft, cap, alpha,
                            beta, kind, fixed, pce, bush_class, bush_origin, flow, inbush, x, v,
                            t, dt, n_shift, update_bushes)
    return _sweep_parallel(indptr, head, tail, rindptr, rarcs, blocked, fft, cap, alpha, beta,
                           kind, fixed, pce, bush_class, bush_origin, flow, inbush, x, v, t, dt,
                           n_shift, update_bushes, n_chunks)


@njit(**JIT)
def bush_init(indptr, head, tail, blocked, cost, bush_class, bush_origin, bush_demand, dests,
              flow, inbush):
    """Start every bush as the shortest-path tree of its origin at ``cost`` (classes x arcs) and
    load its demand on it."""
    n = indptr.shape[0] - 1
    dist = np.empty(n)
    pred = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    load = np.zeros(n)
    for b in range(bush_class.shape[0]):
        k = bush_class[b]
        o = bush_origin[b]
        cnt = _tree(o, indptr, head, cost[k], blocked, dist, pred, order, heap, pos)
        for i in range(n):
            if pred[i] >= 0:
                inbush[b, pred[i]] = True
        for j in range(dests.shape[0]):
            q = bush_demand[b, j]
            if q > 0.0 and dests[j] != o:
                load[dests[j]] += q
        for idx in range(cnt - 1, 0, -1):
            u = order[idx]
            q = load[u]
            if q != 0.0:
                a = pred[u]
                flow[b, a] += q
                load[tail[a]] += q
                load[u] = 0.0
        load[o] = 0.0


@njit(**JIT)
def class_flows_from_bushes(flow, bush_class, n_classes):
    """Sum the bush flows of each class: (classes x arcs)."""
    m = flow.shape[1]
    x = np.zeros((n_classes, m))
    for b in range(flow.shape[0]):
        k = bush_class[b]
        for a in range(m):
            x[k, a] += flow[b, a]
    return x


@njit(**JIT)
def bush_destination_flows(b, o, indptr, head, tail, rindptr, rarcs, inbush, flow, demand_b,
                           dests):
    """Flows of bush b split by destination: (n_dest, n_arcs).

    At every node the flow bound for a destination arrives over the bush's in-arcs in proportion
    to their flows (proportionality), so the share of destination d's flow on arc a is found by
    walking the bush backwards from d.
    """
    n = indptr.shape[0] - 1
    m = head.shape[0]
    indeg = np.empty(n, np.int64)
    topo = np.empty(n, np.int64)
    count = _topo(b, o, indptr, head, inbush, indeg, topo)
    total = 0.0
    for j in range(dests.shape[0]):
        total += demand_b[j]
    eps = 1e-12 * max(total, 1.0)
    inflow = np.zeros(n)
    for a in range(m):
        if inbush[b, a] and flow[b, a] > eps:
            inflow[head[a]] += flow[b, a]
    out = np.zeros((dests.shape[0], m))
    share = np.zeros(n)
    for j in range(dests.shape[0]):
        q = demand_b[j]
        d = dests[j]
        if q <= 0.0 or d == o:
            continue
        for i in range(n):
            share[i] = 0.0
        share[d] = 1.0
        for idx in range(count - 1, 0, -1):
            u = topo[idx]
            if share[u] == 0.0 or inflow[u] <= 0.0:
                continue
            for r in range(rindptr[u], rindptr[u + 1]):
                a = rarcs[r]
                if inbush[b, a] and flow[b, a] > eps:
                    s = share[u] * flow[b, a] / inflow[u]
                    out[j, a] += q * s
                    share[tail[a]] += s
    return out
