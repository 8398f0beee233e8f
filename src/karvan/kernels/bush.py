"""Origin-based user equilibrium: Algorithm B (Dial 2006) on acyclic bushes, stored sparsely.

One bush per (class, origin): a set of arcs forming an acyclic graph rooted at the origin, with
origin-based arc flows. The bushes share one pool: bush ``b`` owns the slots
``bptr[b] : bptr[b] + bcap[b]`` of ``barc`` (arc index) and ``bflow`` (its flow on that arc), of
which the first ``blen[b]`` are used. Its arcs are grouped by head node, the groups in a
topological order of the bush, so that one forward pass over the slots visits every node after
all of its predecessors, and one backward pass visits it before them. Memory follows the bushes:
12 bytes per bush arc, nothing per link and origin.

Per bush and pass:

1. labels (forward pass): shortest distance ``lmin`` over bush arcs and longest distance
   ``lmax`` over used arcs, with the slot of the arc that gives each (``minp``, ``maxp``);
2. bush update (once per round): unused arcs that are not the shortest-path arc of their head
   leave; an arc (i, j) outside the bush joins when it shortens the path to ``j``
   (``lmin[i] + c < lmin[j]``) and ``lup[i] < lup[j]``, ``lup`` being the longest distance over
   the arcs that stay. Ordering the nodes by (``lup``, old position) is then a topological order
   of the new bush, which is how the slots are regrouped;
3. flow shifts (backward pass): at every node whose longest used path and shortest path end on
   different arcs, from the longest to the shortest segment back to their last common node, by
   the Newton step ``(C_long - C_short) / sum of derivatives``, capped by the least flow on the
   long segment. Arc times follow every shift.

The exact gap needs shortest paths over the whole network; the bush labels are an upper bound
that a label-correcting pass from the nodes with a violated arc makes exact, cheaply once the
bushes hold the shortest paths.

References
----------
R. B. Dial, "A path-based user-equilibrium traffic assignment algorithm that obviates path
storage and enumeration", Transportation Research Part B 40(10), 917-936, 2006.
Y. Nie, "A class of bush-based algorithms for the traffic assignment problem", Transportation
Research Part B 44(1), 73-89, 2010.
"""

from __future__ import annotations

import numpy as np

from karvan.kernels._atomic import atomic_add, atomic_add2, fetch_add, fetch_add_sync
from karvan.kernels._jit import JIT, njit
from karvan.kernels.paths import _tree
from karvan.kernels.vdf import _dtime, _time


def bush_scratch(n_nodes: int, n_arcs: int) -> tuple[np.ndarray, ...]:
    """Work arrays of one thread: (node ints, node floats, arc ints, arc floats, counters).

    Rows 2 and 3 of the node ints and row 0 of the arc ints hold stamps that must only grow,
    with their counters in ``counters``; the other rows are free between calls.
    """
    return (np.zeros((7, n_nodes), np.int64), np.zeros((3, n_nodes)),
            np.zeros((2, n_arcs), np.int64), np.zeros(n_arcs), np.zeros(2, np.int64))


@njit(**JIT)
def _add_arc(k, a, dx, pce_k, shared, fft, cap, alpha, beta, kind, x, v, t, dt):
    """Add ``dx`` of class k to arc a; with ``shared`` (threads share the link arrays) the flow
    and volume are added atomically, so no concurrent update is lost."""
    if shared:
        atomic_add2(x, k, a, dx)
        vol = atomic_add(v, a, pce_k * dx) + pce_k * dx
    else:
        x[k, a] += dx
        vol = v[a] + pce_k * dx
        v[a] = vol
    t[a] = _time(vol, fft[a], cap[a], alpha[a], beta[a], kind[a])
    dt[a] = _dtime(vol, fft[a], cap[a], alpha[a], beta[a], kind[a])


@njit(**JIT)
def _labels(o, k, lo, hi, barc, bflow, head, tail, t, fixed, eps, lmin, lmax, minp, maxp, seen,
            stamp):
    """Forward pass over the slots lo:hi; returns the bush's cost sum(flow * cost)."""
    lmin[o] = 0.0
    lmax[o] = 0.0
    minp[o] = -1
    maxp[o] = -1
    seen[o] = stamp
    cur = -1
    cost = 0.0
    for p in range(lo, hi):
        a = barc[p]
        j = head[a]
        i = tail[a]
        if j != cur:
            cur = j
            lmin[j] = np.inf
            lmax[j] = -np.inf
            minp[j] = -1
            maxp[j] = -1
            seen[j] = stamp
        c = t[a] + fixed[k, a]
        w = lmin[i] + c
        if w < lmin[j]:
            lmin[j] = w
            minp[j] = p
        f = bflow[p]
        if f > eps:
            cost += f * c
            w = lmax[i] + c
            if w > lmax[j]:
                lmax[j] = w
                maxp[j] = p
    return cost


@njit(**JIT)
def _shift_pass(o, k, lo, hi, barc, bflow, head, tail, fft, cap, alpha, beta, kind, fixed, pce,
                x, v, t, dt, lmin, lmax, minp, maxp, mark, stamp0, shared):
    """Backward pass: one Newton shift at every node whose longest used path and shortest path
    end differently. Returns (shifts, last stamp used).

    With ``shared`` (several threads move flow on the same link arrays), the link flows and
    volumes are updated atomically: no update of another thread is lost.
    """
    st = stamp0
    shifts = 0
    prev = -1
    for p in range(hi - 1, lo - 1, -1):
        j = head[barc[p]]
        if j == prev:
            continue
        prev = j
        mp = maxp[j]
        sp = minp[j]
        if mp < 0 or sp < 0 or mp == sp:
            continue
        if lmax[j] - lmin[j] <= 1e-15 * abs(lmax[j]):
            continue
        # last common node of the two paths: walk both back in turn, marking; the first node
        # one walk finds marked by the other is it
        st += 1
        us = j
        ul = j
        d = o
        while True:
            if us != o:
                us = tail[barc[minp[us]]]
                if mark[us] == st:
                    d = us
                    break
                mark[us] = st
            if ul != o:
                ul = tail[barc[maxp[ul]]]
                if mark[ul] == st:
                    d = ul
                    break
                mark[ul] = st
        cmax = 0.0
        dsum = 0.0
        fmin = np.inf
        u = j
        while u != d:
            q = maxp[u]
            a = barc[q]
            cmax += t[a] + fixed[k, a]
            dsum += dt[a]
            if bflow[q] < fmin:
                fmin = bflow[q]
            u = tail[a]
        cmin = 0.0
        u = j
        while u != d:
            a = barc[minp[u]]
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
            q = maxp[u]
            a = barc[q]
            nf = bflow[q] - dx
            if nf < 0.0:
                nf = 0.0
            dd = bflow[q] - nf
            bflow[q] = nf
            _add_arc(k, a, -dd, pce[k], shared, fft, cap, alpha, beta, kind, x, v, t, dt)
            u = tail[a]
        u = j
        while u != d:
            q = minp[u]
            a = barc[q]
            bflow[q] += dx
            _add_arc(k, a, dx, pce[k], shared, fft, cap, alpha, beta, kind, x, v, t, dt)
            u = tail[a]
        shifts += 1
    return shifts, st


@njit(**JIT)
def _update(b, o, k, lo, hi, cap_b, barc, bflow, indptr, head, tail, blocked, fft, cap, alpha,
            beta, kind, fixed, pce, x, v, t, dt, eps, lmin, minp, seen, stamp, lup, order, rank,
            cnt, inb, sarc, sflow, shared):
    """Bush update after :func:`_labels`: drop unused arcs, add shortcuts, regroup the slots.

    Returns (new length, arcs wanted, changed): ``arcs wanted`` exceeds the new length when the
    bush's room ``cap_b`` was too small for every shortcut found (the caller grows it for the
    next round); ``changed`` is False when the slots are as they were.
    """
    m = head.shape[0]
    # keep: used arcs and shortest-path arcs; the rest leave (with their crumbs of flow)
    kept = 0
    for p in range(lo, hi):
        a = barc[p]
        inb[a] = stamp
        f = bflow[p]
        if f > eps or minp[head[a]] == p:
            sarc[kept] = a
            sflow[kept] = f
            kept += 1
        elif f != 0.0:
            _add_arc(k, a, -f, pce[k], shared, fft, cap, alpha, beta, kind, x, v, t, dt)
    removed = kept < hi - lo
    # candidates: arcs outside the bush that shorten the path to their head
    n_cand = 0
    for a in range(m):
        if inb[a] == stamp:
            continue
        i = tail[a]
        j = head[a]
        if j == o or (blocked[i] and i != o):
            continue
        if seen[i] != stamp or seen[j] != stamp:
            continue
        if lmin[i] + t[a] + fixed[k, a] < lmin[j] - 1e-14 * abs(lmin[j]):
            sarc[m - 1 - n_cand] = a  # from the far end of the scratch, away from the kept
            n_cand += 1
    if not removed and n_cand == 0:
        return hi - lo, hi - lo, False
    # a candidate joins when lup[i] < lup[j], lup the longest distance over the arcs that stay:
    # ordering the nodes by (lup, old position) is then topological for the new bush
    n_new = 0
    wanted = 0
    if n_cand > 0:
        lup[o] = 0.0
        cur = -1
        for p in range(lo, hi):
            a = barc[p]
            j = head[a]
            if j != cur:
                cur = j
                lup[j] = -np.inf
            if bflow[p] > eps or minp[j] == p:
                w = lup[tail[a]] + t[a] + fixed[k, a]
                if w > lup[j]:
                    lup[j] = w
        room = cap_b - kept
        for c in range(n_cand):
            a = sarc[m - 1 - c]
            if lup[tail[a]] < lup[head[a]]:
                wanted += 1
                if n_new < room:
                    sarc[kept + n_new] = a
                    sflow[kept + n_new] = 0.0
                    n_new += 1
    total = kept + n_new
    if n_new == 0:
        # removals only: the order stands, the slots close up
        for s in range(kept):
            barc[lo + s] = sarc[s]
            bflow[lo + s] = sflow[s]
        return kept, kept + wanted, True
    # old positions of the nodes (the origin first)
    order[0] = o
    n_nodes = 1
    cur = -1
    for p in range(lo, hi):
        j = head[barc[p]]
        if j != cur:
            cur = j
            rank[j] = n_nodes - 1
            order[n_nodes] = j
            n_nodes += 1
    rank[o] = -1
    # an added arc against the old order needs a new one: nodes by (lup, old position)
    backward = False
    for s in range(kept, total):
        if rank[tail[sarc[s]]] >= rank[head[sarc[s]]]:
            backward = True
            break
    if backward:
        keys = np.empty(n_nodes - 1)
        for r in range(1, n_nodes):
            keys[r - 1] = lup[order[r]]
        perm = np.argsort(keys, kind="mergesort")
        for r in range(n_nodes - 1):
            rank[order[perm[r] + 1]] = r
    # counting sort of the arcs by the rank of their head
    for r in range(n_nodes):
        cnt[r] = 0
    for s in range(total):
        cnt[rank[head[sarc[s]]] + 1] += 1
    for r in range(1, n_nodes):
        cnt[r] += cnt[r - 1]
    for s in range(total):
        r = rank[head[sarc[s]]]
        q = lo + cnt[r]
        cnt[r] += 1
        barc[q] = sarc[s]
        bflow[q] = sflow[s]
    return total, kept + wanted, True


@njit(**JIT)
def _bush_demand_cost(b, dests, bush_demand, lmin):
    s = 0.0
    for j in range(dests.shape[0]):
        q = bush_demand[b, j]
        if q > 0.0:
            s += q * lmin[dests[j]]
    return s


@njit(**JIT)
def sweep_chunk(lo_b, hi_b, mode, threshold, indptr, head, tail, blocked, fft, cap, alpha, beta,
                kind, fixed, pce, bush_class, bush_origin, bush_demand, dests, bptr, blen, bcap,
                barc, bflow, need, active, x, v, t, dt, locks, nodes_i, nodes_f, arcs_i, arcs_f,
                ctr):
    """One pass of Algorithm B over bushes ``lo_b:hi_b``; returns the number of flow shifts.

    ``mode`` 1: bush update then one shift pass (every bush); ``mode`` 0: a shift pass on the
    bushes still ``active``. A bush whose excess cost (cost minus its demand at bush shortest
    distances) is below ``threshold`` times its demand cost skips the pass and leaves the active
    set. ``need[b]`` is set to the room bush b wanted in an update, when it had less.
    ``locks``: non-empty when several threads share ``x``, ``v``, ``t``, ``dt`` (their flow
    updates are then atomic).
    """
    lmin = nodes_f[0]
    lmax = nodes_f[1]
    lup = nodes_f[2]
    minp = nodes_i[0]
    maxp = nodes_i[1]
    seen = nodes_i[2]
    mark = nodes_i[3]
    order = nodes_i[4]
    rank = nodes_i[5]
    cnt = nodes_i[6]
    inb = arcs_i[0]
    sarc = arcs_i[1]
    sflow = arcs_f
    shifts = 0
    stamp = ctr[0]
    mstamp = ctr[1]
    for b in range(lo_b, hi_b):
        if mode == 0 and not active[b]:
            continue
        k = bush_class[b]
        o = bush_origin[b]
        lo = bptr[b]
        hi = lo + blen[b]
        total = 0.0
        for j in range(dests.shape[0]):
            total += bush_demand[b, j]
        eps = 1e-13 * max(total, 1.0)
        stamp += 1
        cost = _labels(o, k, lo, hi, barc, bflow, head, tail, t, fixed, eps, lmin, lmax, minp,
                       maxp, seen, stamp)
        if mode == 1:
            n_len, wanted, changed = _update(b, o, k, lo, hi, bcap[b], barc, bflow, indptr, head,
                                             tail, blocked, fft, cap, alpha, beta, kind, fixed,
                                             pce, x, v, t, dt, eps, lmin, minp, seen, stamp, lup,
                                             order, rank, cnt, inb, sarc, sflow,
                                             locks.shape[0] > 0)
            blen[b] = n_len
            hi = lo + n_len
            if wanted > n_len:
                need[b] = wanted
            if changed:
                stamp += 1
                cost = _labels(o, k, lo, hi, barc, bflow, head, tail, t, fixed, eps, lmin, lmax,
                               minp, maxp, seen, stamp)
            active[b] = True
        else:
            spc = _bush_demand_cost(b, dests, bush_demand, lmin)
            if cost - spc <= threshold * spc:
                active[b] = False
                continue
        s, mstamp = _shift_pass(o, k, lo, hi, barc, bflow, head, tail, fft, cap, alpha, beta,
                                kind, fixed, pce, x, v, t, dt, lmin, lmax, minp, maxp, mark,
                                mstamp, locks.shape[0] > 0)
        shifts += s
    ctr[0] = stamp
    ctr[1] = mstamp
    return shifts


@njit(**JIT)
def sweep_passes(n_pass, chunk_lo, chunk_hi, counter, done, mode, threshold, indptr, head, tail,
                 blocked, fft, cap, alpha, beta, kind, fixed, pce, bush_class, bush_origin,
                 bush_demand, dests, bptr, blen, bcap, barc, bflow, need, active, x, v, t, dt,
                 locks, nodes_i, nodes_f, arcs_i, arcs_f, ctr):
    """Up to ``n_pass`` passes of :func:`sweep_chunk` over the chunks ``chunk_lo[c]:chunk_hi[c]``,
    the work items (pass, chunk) taken in order from the shared ``counter[0]``; returns the flow
    shifts made by this caller.

    Every thread of a solve calls this once: there is no barrier between the passes, so a thread
    that the machine's load holds back delays no other (a thread may start pass p + 1 while
    another finishes pass p, as the bushes of one pass already see each other's shifts). The
    passes stop after the first complete pass without shifts: ``done[2 p]`` counts the finished
    chunks of pass p and ``done[2 p + 1]`` its shifts.

    ``counter[1 + c]`` (``counter`` has ``1 + len(chunk_lo)`` slots, all 0 at the start) says
    whether a thread is inside chunk c. Without a barrier a thread can draw (p + 1, c) while
    another is still in (p, c), when it passed every other chunk in the meantime (chunks of
    bushes already near equilibrium take no time, and the load can hold a thread back): two
    threads in one bush break its flows and its order (rare runs stalled at a gap, or looped).
    A thread that finds its chunk taken skips it for that pass, a shift pass being a refinement
    that the next pass or round repeats; a skipped chunk counts as finished without shifts.
    """
    n_c = chunk_lo.shape[0]
    total = n_pass * n_c
    shifts = 0
    while True:
        i = fetch_add(counter, 0, 1)
        if i >= total:
            break
        p = i // n_c
        if p > 0 and done[2 * p - 2] == n_c and done[2 * p - 1] == 0:
            fetch_add(counter, 0, total)  # the last pass moved nothing: stop everyone
            break
        c = i - p * n_c
        s = 0
        if fetch_add_sync(counter, 1 + c, 1) == 0:  # the chunk is this thread's until released
            s = sweep_chunk(chunk_lo[c], chunk_hi[c], mode, threshold, indptr, head, tail,
                            blocked, fft, cap, alpha, beta, kind, fixed, pce, bush_class,
                            bush_origin, bush_demand, dests, bptr, blen, bcap, barc, bflow, need,
                            active, x, v, t, dt, locks, nodes_i, nodes_f, arcs_i, arcs_f, ctr)
        fetch_add_sync(counter, 1 + c, -1)
        fetch_add(done, 2 * p + 1, s)
        fetch_add(done, 2 * p, 1)
        shifts += s
    return shifts


@njit(**JIT)
def gap_chunk(lo_b, hi_b, indptr, head, tail, blocked, t, fixed, bush_class, bush_origin,
              bush_demand, dests, bptr, blen, barc, sptt_b, nodes_i, nodes_f):
    """Exact shortest-path cost of every bush's demand, ``sptt_b[b]``, at arc times ``t``.

    The bush's shortest distances are an upper bound; a label-correcting pass (FIFO queue) from
    every node with a violated out-arc makes them exact. Blocked nodes other than the origin are
    reached but not passed through, also by the bush's own arcs.
    """
    n = indptr.shape[0] - 1
    dist = nodes_f[0]
    queue = nodes_i[0]
    inq = nodes_i[1]
    for b in range(lo_b, hi_b):
        k = bush_class[b]
        o = bush_origin[b]
        for u in range(n):
            dist[u] = np.inf
            inq[u] = 0
        dist[o] = 0.0
        lo = bptr[b]
        for p in range(lo, lo + blen[b]):
            a = barc[p]
            u = tail[a]
            if blocked[u] and u != o:
                continue
            w = dist[u] + t[a] + fixed[k, a]
            if w < dist[head[a]]:
                dist[head[a]] = w
        # queue every node that can improve a neighbour
        qh = 0
        qt = 0
        for u in range(n):
            if dist[u] == np.inf or (blocked[u] and u != o):
                continue
            du = dist[u]
            for a in range(indptr[u], indptr[u + 1]):
                if du + t[a] + fixed[k, a] < dist[head[a]]:
                    queue[qt] = u
                    qt += 1
                    inq[u] = 1
                    break
        size = qt
        qt = qt % n
        while size > 0:
            u = queue[qh]
            qh += 1
            if qh == n:
                qh = 0
            size -= 1
            inq[u] = 0
            du = dist[u]
            for a in range(indptr[u], indptr[u + 1]):
                j = head[a]
                w = du + t[a] + fixed[k, a]
                if w < dist[j]:
                    dist[j] = w
                    if inq[j] == 0 and not (blocked[j] and j != o):
                        queue[qt] = j
                        qt += 1
                        if qt == n:
                            qt = 0
                        size += 1
                        inq[j] = 1
        sptt_b[b] = _bush_demand_cost(b, dests, bush_demand, dist)


@njit(**JIT)
def reach_counts(indptr, head, blocked, origins, out):
    """Number of nodes reachable from each origin (breadth first, not through blocked nodes)."""
    n = indptr.shape[0] - 1
    seen = np.zeros(n, np.int64)
    queue = np.empty(n, np.int64)
    for r in range(origins.shape[0]):
        o = origins[r]
        st = r + 1
        seen[o] = st
        queue[0] = o
        qh = 0
        qt = 1
        while qh < qt:
            u = queue[qh]
            qh += 1
            if blocked[u] and u != o:
                continue
            for a in range(indptr[u], indptr[u + 1]):
                j = head[a]
                if seen[j] != st:
                    seen[j] = st
                    queue[qt] = j
                    qt += 1
        out[r] = qt


@njit(**JIT)
def init_chunk(lo_b, hi_b, indptr, head, tail, blocked, cost, bush_class, bush_origin,
               bush_demand, dests, bptr, blen, barc, bflow, lost, nodes_i, nodes_f):
    """Start bushes ``lo_b:hi_b`` as the shortest-path trees of their origins at ``cost``
    (classes x arcs) and load their demand; ``lost[b]`` is the demand with no path."""
    n = indptr.shape[0] - 1
    dist = nodes_f[0]
    load = nodes_f[1]
    pred = nodes_i[0]
    order = nodes_i[1]
    heap = nodes_i[4]
    pos = nodes_i[5]
    for b in range(lo_b, hi_b):
        k = bush_class[b]
        o = bush_origin[b]
        cnt = _tree(o, indptr, head, cost[k], blocked, dist, pred, order, heap, pos)
        for i in range(n):
            load[i] = 0.0
        lo_ = 0.0
        for j in range(dests.shape[0]):
            q = bush_demand[b, j]
            d = dests[j]
            if q > 0.0 and d != o:
                if dist[d] == np.inf:
                    lo_ += q
                else:
                    load[d] += q
        lost[b] = lo_
        # settle order is a topological order of the tree: one arc per settled node
        lo = bptr[b]
        for r in range(1, cnt):
            barc[lo + r - 1] = pred[order[r]]
            bflow[lo + r - 1] = 0.0
        blen[b] = cnt - 1
        for r in range(cnt - 1, 0, -1):
            u = order[r]
            q = load[u]
            if q != 0.0:
                a = pred[u]
                bflow[lo + r - 1] = q
                load[tail[a]] += q


@njit(**JIT)
def class_flows(bptr, blen, barc, bflow, bush_class, n_classes, n_arcs):
    """Sum the bush flows of each class: (classes x arcs)."""
    x = np.zeros((n_classes, n_arcs))
    for b in range(bptr.shape[0]):
        k = bush_class[b]
        lo = bptr[b]
        for p in range(lo, lo + blen[b]):
            x[k, barc[p]] += bflow[p]
    return x


@njit(**JIT)
def dense_flows(bptr, blen, barc, bflow, n_arcs):
    """The bush flows as a (bushes x arcs) array, and which arcs each bush holds."""
    nb = bptr.shape[0]
    flow = np.zeros((nb, n_arcs))
    inbush = np.zeros((nb, n_arcs), np.bool_)
    for b in range(nb):
        lo = bptr[b]
        for p in range(lo, lo + blen[b]):
            flow[b, barc[p]] = bflow[p]
            inbush[b, barc[p]] = True
    return flow, inbush


@njit(**JIT)
def regroup(bptr, blen, barc, bflow, new_ptr, new_arc, new_flow):
    """Copy every bush's used slots to ``new_ptr`` offsets of the new pool."""
    for b in range(bptr.shape[0]):
        lo = bptr[b]
        nlo = new_ptr[b]
        for s in range(blen[b]):
            new_arc[nlo + s] = barc[lo + s]
            new_flow[nlo + s] = bflow[lo + s]


@njit(**JIT)
def _topo(b, o, indptr, head, inbush, indeg, topo):
    """Kahn's order of the nodes reached by dense bush b from o; returns the count."""
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
def bush_destination_flows(b, o, indptr, head, tail, rindptr, rarcs, inbush, flow, demand_b,
                           dests):
    """Flows of bush b split by destination: (n_dest, n_arcs), from dense bush arrays.

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
