"""Shortest-path trees on a forward-star (CSR) graph, all-or-nothing loading and path skims.

Graph arrays: ``indptr`` (n_nodes + 1) and ``head`` (n_arcs) give each node's out-arcs sorted by
tail; ``tail`` is the tail of each arc; ``cost`` the arc cost (non-negative). A node with
``blocked[node]`` true may start or end a path but never lies inside one (TNTP's first-thru-node
rule, zone centroids in general). Dijkstra with an indexed binary heap.
"""

from __future__ import annotations

import numpy as np

from karvan.kernels._jit import JIT, PJIT, njit, prange


@njit(**JIT)
def _heap_push_or_decrease(heap, pos, size, dist, v):
    # insert v (pos[v] == -1) or move it up after its key decreased; returns the new size
    i = pos[v]
    if i < 0:
        i = size
        size += 1
    dv = dist[v]
    while i > 0:
        parent = (i - 1) >> 1
        p = heap[parent]
        if dist[p] <= dv:
            break
        heap[i] = p
        pos[p] = i
        i = parent
    heap[i] = v
    pos[v] = i
    return size


@njit(**JIT)
def _heap_pop(heap, pos, size, dist):
    top = heap[0]
    pos[top] = -2  # settled
    size -= 1
    if size > 0:
        last = heap[size]
        dl = dist[last]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and dist[heap[c + 1]] < dist[heap[c]]:
                c += 1
            if dist[heap[c]] >= dl:
                break
            heap[i] = heap[c]
            pos[heap[i]] = i
            i = c
        heap[i] = last
        pos[last] = i
    return top, size


@njit(**JIT)
def _tree_to(origin, indptr, head, cost, blocked, dist, pred, order, heap, pos, target, stamp,
             n_targets):
    """One-to-all Dijkstra from ``origin``; fills dist, pred (arc index, -1 at root or unreached)
    and order (nodes in the order settled); returns how many nodes were settled. With
    ``n_targets`` >= 0 it stops once that many nodes marked ``target[node] == stamp`` are
    settled (nodes not settled then keep dist inf)."""
    n = indptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        pred[i] = -1
        pos[i] = -1
    dist[origin] = 0.0
    size = _heap_push_or_decrease(heap, pos, 0, dist, origin)
    count = 0
    found = 0
    while size > 0:
        u, size = _heap_pop(heap, pos, size, dist)
        order[count] = u
        count += 1
        if n_targets >= 0 and target[u] == stamp:
            found += 1
            if found >= n_targets:
                break
        if blocked[u] and u != origin:
            continue
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            nd = du + cost[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = e
                size = _heap_push_or_decrease(heap, pos, size, dist, v)
    return count


@njit(**JIT)
def _tree(origin, indptr, head, cost, blocked, dist, pred, order, heap, pos):
    """One-to-all Dijkstra from ``origin`` (see :func:`_tree_to`)."""
    return _tree_to(origin, indptr, head, cost, blocked, dist, pred, order, heap, pos, pos, -3,
                    -1)


@njit(**JIT)
def _aon_chunk(c, n_chunks, indptr, head, tail, cost, blocked, origins, dests, demand, flows):
    """Load the origins c, c + n_chunks, ... into ``flows``; return (SPTT, lost demand)."""
    n = indptr.shape[0] - 1
    n_orig = origins.shape[0]
    n_dest = dests.shape[0]
    dist = np.empty(n)
    pred = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    load = np.zeros(n)
    target = np.zeros(n, np.int64)
    sptt = 0.0
    lost = 0.0
    for oi in range(c, n_orig, n_chunks):
        total = 0.0
        o = origins[oi]
        n_t = 0
        for j in range(n_dest):
            if demand[oi, j] > 0.0 and dests[j] != o and target[dests[j]] != oi + 1:
                target[dests[j]] = oi + 1
                n_t += 1
            total += demand[oi, j]
        if total == 0.0:
            continue
        # stop once every destination with demand is settled
        count = _tree_to(o, indptr, head, cost, blocked, dist, pred, order, heap, pos, target,
                         oi + 1, n_t)
        for j in range(n_dest):
            q = demand[oi, j]
            if q == 0.0:
                continue
            d = dests[j]
            if d == o:
                continue
            if dist[d] == np.inf:
                lost += q
                continue
            load[d] += q
            sptt += q * dist[d]
        for k in range(count - 1, 0, -1):
            v = order[k]
            q = load[v]
            if q != 0.0:
                e = pred[v]
                flows[e] += q
                load[tail[e]] += q
                load[v] = 0.0
        load[o] = 0.0
    return sptt, lost


def aon_scratch(n_nodes: int, n_arcs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Work arrays of one thread for :func:`aon_range`: (node ints, node floats, its own arc
    flows, a stamp counter)."""
    return (np.zeros((5, n_nodes), np.int64), np.zeros((2, n_nodes)), np.zeros(n_arcs),
            np.zeros(1, np.int64))


@njit(**JIT)
def aon_range(lo, hi, indptr, head, tail, cost, blocked, origins, dests, demand, flows, nodes_i,
              nodes_f, ctr):
    """Load origins ``lo:hi`` all-or-nothing, adding to ``flows``; return (SPTT, lost demand).

    Serial and without allocation: ``nodes_i`` (5 x nodes), ``nodes_f`` (2 x nodes) and the stamp
    counter ``ctr`` come from :func:`aon_scratch`, one set per thread.
    """
    n_dest = dests.shape[0]
    pred = nodes_i[0]
    order = nodes_i[1]
    heap = nodes_i[2]
    pos = nodes_i[3]
    target = nodes_i[4]
    dist = nodes_f[0]
    load = nodes_f[1]
    sptt = 0.0
    lost = 0.0
    st = ctr[0]
    for oi in range(lo, hi):
        total = 0.0
        o = origins[oi]
        st += 1
        n_t = 0
        for j in range(n_dest):
            if demand[oi, j] > 0.0 and dests[j] != o and target[dests[j]] != st:
                target[dests[j]] = st
                n_t += 1
            total += demand[oi, j]
        if total == 0.0:
            continue
        count = _tree_to(o, indptr, head, cost, blocked, dist, pred, order, heap, pos, target,
                         st, n_t)
        for i in range(count):
            load[order[i]] = 0.0
        for j in range(n_dest):
            q = demand[oi, j]
            if q == 0.0:
                continue
            d = dests[j]
            if d == o:
                continue
            if dist[d] == np.inf:
                lost += q
                continue
            load[d] += q
            sptt += q * dist[d]
        for k in range(count - 1, 0, -1):
            v = order[k]
            q = load[v]
            if q != 0.0:
                e = pred[v]
                flows[e] += q
                load[tail[e]] += q
                load[v] = 0.0
    ctr[0] = st
    return sptt, lost


@njit(**PJIT)
def _aon_parallel(indptr, head, tail, cost, blocked, origins, dests, demand, n_chunks):
    m = head.shape[0]
    flows_c = np.zeros((n_chunks, m))
    sptt_c = np.zeros(n_chunks)
    lost_c = np.zeros(n_chunks)
    for c in prange(n_chunks):
        sptt_c[c], lost_c[c] = _aon_chunk(c, n_chunks, indptr, head, tail, cost, blocked,
                                          origins, dests, demand, flows_c[c])
    out = np.zeros(m)
    for c in range(n_chunks):
        for e in range(m):
            out[e] += flows_c[c, e]
    return out, sptt_c.sum(), lost_c.sum()


@njit(**JIT)
def _aon_serial(indptr, head, tail, cost, blocked, origins, dests, demand):
    out = np.zeros(head.shape[0])
    sptt, lost = _aon_chunk(0, 1, indptr, head, tail, cost, blocked, origins, dests, demand, out)
    return out, sptt, lost


#: below this many origin x arc operations a parallel launch costs more than it saves
SERIAL_WORK = 200_000


def aon_assign(indptr, head, tail, cost, blocked, origins, dests, demand, n_chunks):
    """All-or-nothing assignment of ``demand[i, j]`` from ``origins[i]`` to ``dests[j]``.

    Returns (arc flows, shortest-path total cost sum_ij demand_ij * dist_ij, demand with no path).
    Origins are spread over ``n_chunks`` parallel workers, each loading its own flow vector;
    small problems run serially.
    """
    if n_chunks <= 1 or origins.shape[0] * head.shape[0] < SERIAL_WORK:
        return _aon_serial(indptr, head, tail, cost, blocked, origins, dests, demand)
    return _aon_parallel(indptr, head, tail, cost, blocked, origins, dests, demand, n_chunks)


@njit(**JIT)
def _trees_chunk(c, n_chunks, indptr, head, cost, blocked, origins, dist_all, pred_all):
    n = indptr.shape[0] - 1
    order = np.empty(n, np.int64)
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    for oi in range(c, origins.shape[0], n_chunks):
        _tree(origins[oi], indptr, head, cost, blocked, dist_all[oi], pred_all[oi], order, heap,
              pos)


@njit(**PJIT)
def _trees_parallel(indptr, head, cost, blocked, origins, n_chunks, dist_all, pred_all):
    for c in prange(n_chunks):
        _trees_chunk(c, n_chunks, indptr, head, cost, blocked, origins, dist_all, pred_all)


def shortest_path_trees(indptr, head, cost, blocked, origins, n_chunks):
    """Distances and predecessor arcs from every origin: two (n_origins, n_nodes) arrays."""
    n = indptr.shape[0] - 1
    dist_all = np.empty((origins.shape[0], n))
    pred_all = np.empty((origins.shape[0], n), np.int64)
    if n_chunks <= 1 or origins.shape[0] * head.shape[0] < SERIAL_WORK:
        _trees_chunk(0, 1, indptr, head, cost, blocked, origins, dist_all, pred_all)
    else:
        _trees_parallel(indptr, head, cost, blocked, origins, n_chunks, dist_all, pred_all)
    return dist_all, pred_all


@njit(**PJIT)
def path_skims(indptr, head, tail, cost, blocked, origins, dests, fields, n_chunks):
    """Sums of arc ``fields`` (n_fields, n_arcs) along least-cost paths: (n_orig, n_dest, n_fields).

    Unreachable pairs get NaN; a zone to itself gets 0.
    """
    n = indptr.shape[0] - 1
    n_orig = origins.shape[0]
    n_dest = dests.shape[0]
    nf = fields.shape[0]
    out = np.empty((n_orig, n_dest, nf))
    for c in prange(n_chunks):
        dist = np.empty(n)
        pred = np.empty(n, np.int64)
        order = np.empty(n, np.int64)
        heap = np.empty(n, np.int64)
        pos = np.empty(n, np.int64)
        acc = np.zeros((n, nf))
        for oi in range(c, n_orig, n_chunks):
            o = origins[oi]
            count = _tree(o, indptr, head, cost, blocked, dist, pred, order, heap, pos)
            for f in range(nf):
                acc[o, f] = 0.0
            for k in range(1, count):
                v = order[k]
                e = pred[v]
                u = tail[e]
                for f in range(nf):
                    acc[v, f] = acc[u, f] + fields[f, e]
            for j in range(n_dest):
                d = dests[j]
                if d == o:
                    for f in range(nf):
                        out[oi, j, f] = 0.0
                elif dist[d] == np.inf:
                    for f in range(nf):
                        out[oi, j, f] = np.nan
                else:
                    for f in range(nf):
                        out[oi, j, f] = acc[d, f]
    return out


@njit(**JIT)
def _masked_run(indptr, adj, arc, cost, ok, dist, heap, pos, sources, lo, hi):
    # Dijkstra from sources[lo:hi] together (each at distance 0) over the positions e whose arc
    # ``arc[e]`` is ``ok``; fills ``dist``
    n = indptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        pos[i] = -1
    size = 0
    for s in range(lo, hi):
        v = sources[s]
        if dist[v] > 0.0:
            dist[v] = 0.0
            size = _heap_push_or_decrease(heap, pos, size, dist, v)
    while size > 0:
        u, size = _heap_pop(heap, pos, size, dist)
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            a = arc[e]
            if not ok[a]:
                continue
            v = adj[e]
            nd = du + cost[a]
            if nd < dist[v]:
                dist[v] = nd
                size = _heap_push_or_decrease(heap, pos, size, dist, v)


@njit(**JIT)
def masked_distances(indptr, adj, arc, cost, ok, sources, each):
    """Least cost from the nearest of ``sources`` (one row), or from each source (one row each,
    with ``each``), over a star ``indptr``/``adj`` whose position ``e`` is the arc ``arc[e]``,
    using only the arcs ``ok[a]`` at ``cost[a]`` (non-negative; inf: not usable). A star sorted
    by head with ``adj`` the tails gives the least cost *to* the sources. Unreached: inf.
    No node is blocked here: the caller leaves such arcs out of ``ok``."""
    n = indptr.shape[0] - 1
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    rows = sources.shape[0] if each else 1
    out = np.empty((rows, n))
    if each:
        for r in range(rows):
            _masked_run(indptr, adj, arc, cost, ok, out[r], heap, pos, sources, r, r + 1)
    else:
        _masked_run(indptr, adj, arc, cost, ok, out[0], heap, pos, sources, 0, sources.shape[0])
    return out
