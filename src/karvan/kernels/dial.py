"""Dial's STOCH loading: logit over every efficient path, without enumerating paths.

For each origin o, ``r0`` is the least cost from o at the reference costs ``cost0`` (Dijkstra).
An arc (i, j) is efficient when it leads away from the origin: ``r0(i) < r0(j)``; at equal
``r0`` only a zero-cost arc, when the search settled i before j (an arc with a cost between two
nodes equally far from o is not efficient either way). Every path made of efficient arcs
ending at a destination is a choice alternative with probability proportional to
``exp(-theta * cost)`` at the current costs ``cost``. With ``r`` the least cost from o over
efficient arcs at ``cost``, arc weights ``L_a = exp(theta * (r(j) - r(i) - c_a))`` (<= 1) are
summed forward in the settle order (node weight W), and the demand is split backward in reverse
order, each node's flow over its efficient in-arcs in proportion to ``L_a * W(tail)`` (Dial
1971). With ``cost0 = cost`` this is Dial's original loading; a fixed ``cost0`` (free flow)
keeps the choice set fixed, so that the loading is continuous in the costs.

Graph arrays as in :mod:`karvan.kernels.paths`, plus the in-arcs ``rindptr``/``rarcs``. A blocked
node other than the origin ends paths but never passes them on.

Optionally each OD pair has one more alternative, leaving the demand unserved at cost ``unserved``
per unit: it takes the share ``1 / (1 + W(d) exp(theta (unserved - r(d))))``.

References
----------
R. B. Dial, "A probabilistic multipath traffic assignment model which obviates path
enumeration", Transportation Research 5(2), 83-111, 1971.
"""

from __future__ import annotations

import math

import numpy as np

from karvan.kernels._jit import JIT, PJIT, njit, prange
from karvan.kernels.paths import _heap_pop as _pop
from karvan.kernels.paths import _heap_push_or_decrease as _push


@njit(**JIT)
def _settle(o, indptr, head, cost, blocked, r, rank, order, heap, pos):
    """Dijkstra from o: least costs ``r``, the settle ``order`` and each node's ``rank`` in it
    (-1 if not reached); returns the number settled."""
    n = indptr.shape[0] - 1
    for i in range(n):
        r[i] = np.inf
        pos[i] = -1
        rank[i] = -1
    r[o] = 0.0
    size = _push(heap, pos, 0, r, o)
    count = 0
    while size > 0:
        u, size = _pop(heap, pos, size, r)
        rank[u] = count
        order[count] = u
        count += 1
        if blocked[u] and u != o:
            continue
        ru = r[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            nd = ru + cost[e]
            if nd < r[v] and pos[v] != -2:
                r[v] = nd
                size = _push(heap, pos, size, r, v)
    return count


@njit(**JIT)
def _efficient(e, tail, head, rank, r0, cost0, blocked, o):
    # away from the origin: r0(i) < r0(j); at equal r0 only an arc on which the distance
    # does not grow (a zero cost, or one too small to register beside it), in settle order
    # (an arc with a cost between two nodes equally far would otherwise count one way or the
    # other as the search broke the tie, that is as the link table was ordered)
    i = tail[e]
    j = head[e]
    if rank[i] < 0 or rank[j] < 0 or rank[i] >= rank[j]:
        return False
    if not (r0[i] < r0[j] or r0[i] + cost0[e] == r0[j]):
        return False
    return not (blocked[i] and i != o)


@njit(**JIT)
def _dial_chunk(c, n_chunks, indptr, head, tail, rindptr, rarcs, cost, cost0, blocked, theta,
                origins, dests, demand, unserved_cost, flows, unserved):
    """Load origins c, c + n_chunks, ... into ``flows``; unserved shares into ``unserved``
    (rows of those origins). Returns (demand with no path, 1 if a weight overflowed)."""
    n = indptr.shape[0] - 1
    r = np.empty(n)
    r0 = np.empty(n)
    rank = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    W = np.zeros(n)
    X = np.zeros(n)
    lost = 0.0
    overflow = 0
    for oi in range(c, origins.shape[0], n_chunks):
        total = 0.0
        for j in range(dests.shape[0]):
            total += demand[oi, j]
        if total == 0.0:
            continue
        o = origins[oi]
        count = _settle(o, indptr, head, cost0, blocked, r, rank, order, heap, pos)
        for k in range(count):
            W[order[k]] = 0.0
            X[order[k]] = 0.0
            r0[order[k]] = r[order[k]]
        # least costs over efficient arcs at the current costs
        for k in range(1, count):
            r[order[k]] = np.inf
        for k in range(count):
            i = order[k]
            if r[i] == np.inf or (blocked[i] and i != o):
                continue
            for e in range(indptr[i], indptr[i + 1]):
                if _efficient(e, tail, head, rank, r0, cost0, blocked, o):
                    j = head[e]
                    if r[i] + cost[e] < r[j]:
                        r[j] = r[i] + cost[e]
        W[o] = 1.0
        # forward: node weights in settle order
        for k in range(count):
            i = order[k]
            wi = W[i]
            if wi == 0.0 or (blocked[i] and i != o):
                continue
            for e in range(indptr[i], indptr[i + 1]):
                if _efficient(e, tail, head, rank, r0, cost0, blocked, o):
                    j = head[e]
                    W[j] += wi * math.exp(theta * (r[j] - r[i] - cost[e]))
        # demand at the destinations
        for j in range(dests.shape[0]):
            q = demand[oi, j]
            if q == 0.0:
                continue
            d = dests[j]
            if d == o:
                continue
            if rank[d] < 0 or W[d] == 0.0:  # no efficient path reaches d
                lost += q
                continue
            if not math.isfinite(W[d]):
                overflow = 1
                continue
            u = 0.0
            if unserved_cost != np.inf:
                z = theta * (unserved_cost - r[d])
                u = 1.0 / (1.0 + W[d] * math.exp(z)) if z < 700.0 else 0.0
                unserved[oi, j] = u
            X[d] += q * (1.0 - u)
        # backward: each node's flow over its efficient in-arcs
        for k in range(count - 1, 0, -1):
            j = order[k]
            xj = X[j]
            if xj == 0.0:
                continue
            wj = W[j]
            for x in range(rindptr[j], rindptr[j + 1]):
                e = rarcs[x]
                if _efficient(e, tail, head, rank, r0, cost0, blocked, o):
                    i = tail[e]
                    f = xj * W[i] * math.exp(theta * (r[j] - r[i] - cost[e])) / wj
                    flows[e] += f
                    X[i] += f
    return lost, overflow


@njit(**PJIT)
def _dial_par(indptr, head, tail, rindptr, rarcs, cost, cost0, blocked, theta, origins, dests,
              demand, unserved_cost, n_chunks, unserved):
    m = head.shape[0]
    part = np.zeros((n_chunks, m))
    lost = np.zeros(n_chunks)
    over = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        lost[c], over[c] = _dial_chunk(c, n_chunks, indptr, head, tail, rindptr, rarcs, cost,
                                       cost0, blocked, theta, origins, dests, demand,
                                       unserved_cost, part[c], unserved)
    out = np.zeros(m)
    for c in range(n_chunks):
        for e in range(m):
            out[e] += part[c, e]
    return out, lost.sum(), over.max()


#: below this many origin x arc operations a parallel launch costs more than it saves
SERIAL_WORK = 200_000


def dial_load(indptr, head, tail, rindptr, rarcs, cost, cost0, blocked, theta, origins, dests,
              demand, unserved_cost, n_chunks):
    """Dial's loading of ``demand[i, j]`` from ``origins[i]`` to ``dests[j]`` at arc costs
    ``cost`` with dispersion ``theta``, over the efficient arcs of the costs ``cost0``.

    Returns (arc flows, demand with no path, overflow flag, unserved shares (n_orig, n_dest);
    all zero when ``unserved_cost`` is inf).
    """
    unserved = np.zeros(demand.shape)
    if n_chunks <= 1 or origins.shape[0] * head.shape[0] < SERIAL_WORK:
        out = np.zeros(head.shape[0])
        lost, over = _dial_chunk(0, 1, indptr, head, tail, rindptr, rarcs, cost, cost0, blocked,
                                 theta, origins, dests, demand, unserved_cost, out, unserved)
        return out, lost, over, unserved
    out, lost, over = _dial_par(indptr, head, tail, rindptr, rarcs, cost, cost0, blocked, theta,
                                origins, dests, demand, unserved_cost, n_chunks, unserved)
    return out, lost, over, unserved
