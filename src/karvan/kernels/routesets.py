"""Route sets per OD pair: repeated least-cost searches with link penalties or link elimination,
least-cost routes through waypoints, and least-cost route extraction for column generation.

Graph arrays as in :mod:`karvan.kernels.paths`: ``indptr`` and ``head`` give each node's out-arcs
(arcs sorted by tail), ``tail`` the tail of each arc, ``rindptr``/``rarcs`` the in-arcs of each
node; a node with ``blocked[node]`` true may start or end a route but never lie inside one.

Searches toward one destination are A* searches whose potential is the exact least cost to the
destination at the base costs (one reverse Dijkstra per destination). Penalties and eliminations
only raise arc costs, so that potential stays admissible and consistent, and a search settles only
nodes on or near a detour instead of the whole network.

Routes come back in compact storage: ``route_od`` (the OD index of each route), ``route_len``
(its number of arcs) and ``route_arcs`` (the arcs of all routes, concatenated in travel order).
"""

from __future__ import annotations

import numpy as np

from karvan.kernels._atomic import fetch_add
from karvan.kernels._jit import JIT, njit
from karvan.kernels.paths import _heap_pop as _pop
from karvan.kernels.paths import _heap_push_or_decrease as _push

_HASH_MUL = 1000003


@njit(**JIT)
def reverse_tree(d, rindptr, rarcs, tail, cost, blocked, dist, heap, pos, succ):
    """Least cost from every node to ``d`` into ``dist`` (inf where ``d`` cannot be reached)
    and the first arc of a least-cost route from each node into ``succ``; blocked nodes other
    than ``d`` are reached but never passed through."""
    n = rindptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        pos[i] = -1
        succ[i] = -1
    dist[d] = 0.0
    size = _push(heap, pos, 0, dist, d)
    while size > 0:
        u, size = _pop(heap, pos, size, dist)
        if blocked[u] and u != d:
            continue
        du = dist[u]
        for k in range(rindptr[u], rindptr[u + 1]):
            e = rarcs[k]
            w = tail[e]
            nd = du + cost[e]
            if nd < dist[w]:
                dist[w] = nd
                succ[w] = e
                size = _push(heap, pos, size, dist, w)


@njit(**JIT)
def _astar(o, d, indptr, head, cost, pot, blocked, g, pred, key, heap, pos, stamp, cur, avoid,
           avoid_mark):
    """A* from ``o`` to ``d`` with potential ``pot``; nodes whose ``stamp`` differs from ``cur``
    count as unvisited (no reset of the work arrays); with ``avoid_mark >= 0``, nodes with
    ``avoid[v] >= avoid_mark`` are never entered. Returns the number of nodes settled when
    ``d`` was reached (then ``pred`` walked back from ``d`` gives the route), else -1."""
    stamp[o] = cur
    g[o] = 0.0
    pred[o] = -1
    key[o] = pot[o]
    pos[o] = -1
    size = _push(heap, pos, 0, key, o)
    count = 0
    while size > 0:
        u, size = _pop(heap, pos, size, key)
        count += 1
        if u == d:
            # empty the heap for the next search
            for i in range(size):
                pos[heap[i]] = -1
            return count
        if blocked[u] and u != o:
            continue
        gu = g[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            pv = pot[v]
            if pv == np.inf or (avoid_mark >= 0 and avoid[v] >= avoid_mark):
                continue
            ce = cost[e]
            if ce == np.inf:
                continue
            nd = gu + ce
            if stamp[v] != cur:
                stamp[v] = cur
                g[v] = np.inf
                pos[v] = -1
            if nd < g[v] and pos[v] != -2:
                g[v] = nd
                pred[v] = e
                key[v] = nd + pv
                size = _push(heap, pos, size, key, v)
    return -1


@njit(**JIT)
def _hpush(hkey, hnode, pos, size, v, kv):
    # a 4-ary heap whose keys live in it (``hkey[i]`` is the key of ``hnode[i]``; one load per
    # comparison, half the levels of a binary heap): insert v (pos[v] == -1) with key kv, or
    # move it up after its key fell to kv; returns the new size
    i = pos[v]
    if i < 0:
        i = size
        size += 1
    while i > 0:
        parent = (i - 1) >> 2
        kp = hkey[parent]
        if kp <= kv:
            break
        p = hnode[parent]
        hkey[i] = kp
        hnode[i] = p
        pos[p] = i
        i = parent
    hkey[i] = kv
    hnode[i] = v
    pos[v] = i
    return size


@njit(**JIT)
def _hpop(hkey, hnode, pos, size):
    # remove the node of least key from the 4-ary heap; returns (it, the new size)
    top = hnode[0]
    pos[top] = -2
    size -= 1
    if size > 0:
        last = hnode[size]
        kl = hkey[size]
        i = 0
        while True:
            c = 4 * i + 1
            if c >= size:
                break
            best = c
            kb = hkey[c]
            end = min(c + 4, size)
            for j in range(c + 1, end):
                kj = hkey[j]
                if kj < kb:
                    kb = kj
                    best = j
            if kb >= kl:
                break
            hkey[i] = kb
            u = hnode[best]
            hnode[i] = u
            pos[u] = i
            i = best
        hkey[i] = kl
        hnode[i] = last
        pos[last] = i
    return top, size


@njit(**JIT)
def _astar_pen(o, d, indptr, head, cost, pot, blocked, g, pred, hkey, hnode, pos, stamp, cur):
    """A* from ``o`` to ``d`` as :func:`_astar` with nothing to avoid (the searches of link
    penalisation), over the 4-ary heap of :func:`_hpush`: nodes of equal key leave it in
    another order than :func:`_astar` pops them, so ties between routes of equal cost can
    break otherwise."""
    stamp[o] = cur
    g[o] = 0.0
    pred[o] = -1
    pos[o] = -1
    size = _hpush(hkey, hnode, pos, 0, o, pot[o])
    count = 0
    while size > 0:
        u, size = _hpop(hkey, hnode, pos, size)
        count += 1
        if u == d:
            for i in range(size):
                pos[hnode[i]] = -1
            return count
        if blocked[u] and u != o:
            continue
        gu = g[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head[e]
            pv = pot[v]
            if pv == np.inf:
                continue
            ce = cost[e]
            if ce == np.inf:
                continue
            nd = gu + ce
            if stamp[v] != cur:
                stamp[v] = cur
                g[v] = np.inf
                pos[v] = -1
            if nd < g[v] and pos[v] != -2:
                g[v] = nd
                pred[v] = e
                size = _hpush(hkey, hnode, pos, size, v, nd + pv)
    return -1


@njit(**JIT)
def _walk(pred, tail, o, d, buf):
    """Arcs of the route o -> d from ``pred`` into ``buf`` in travel order; returns the count."""
    n = 0
    v = d
    while v != o:
        e = pred[v]
        buf[n] = e
        n += 1
        v = tail[e]
    i = 0
    j = n - 1
    while i < j:
        t = buf[i]
        buf[i] = buf[j]
        buf[j] = t
        i += 1
        j -= 1
    return n


@njit(**JIT)
def route_hash(arcs, n):
    """Order-dependent hash of the first ``n`` entries of ``arcs``."""
    h = np.int64(n)
    for i in range(n):
        h = h * _HASH_MUL + np.int64(arcs[i]) + 1
    return h


@njit(**JIT)
def _grow_int(a, need):
    if need <= a.shape[0]:
        return a
    m = max(need, 2 * a.shape[0])
    b = np.empty(m, a.dtype)
    # an element loop, not ``b[:len(a)] = a``: the slice assignment compiles numba's shape
    # check with its formatted error message, ~5 s of the first run's compilation
    for i in range(a.shape[0]):
        b[i] = a[i]
    return b


@njit(**JIT)
def _add_route(buf, n, od, out_od, out_len, out_hash, out_arcs, nr, na, first):
    """Append the route ``buf[:n]`` of OD ``od`` unless one of routes ``first..nr-1`` equals it.
    Returns (added, out_od, out_len, out_hash, out_arcs, nr, na)."""
    h = route_hash(buf, n)
    start = na
    for r in range(nr - 1, first - 1, -1):
        start -= out_len[r]
    # start is now the offset of route ``first``
    off = start
    for r in range(first, nr):
        ln = out_len[r]
        if out_hash[r] == h and ln == n:
            same = True
            for i in range(n):
                if out_arcs[off + i] != buf[i]:
                    same = False
                    break
            if same:
                return False, out_od, out_len, out_hash, out_arcs, nr, na
        off += ln
    out_od = _grow_int(out_od, nr + 1)
    out_len = _grow_int(out_len, nr + 1)
    out_hash = _grow_int(out_hash, nr + 1)
    out_arcs = _grow_int(out_arcs, na + n)
    out_od[nr] = od
    out_len[nr] = n
    out_hash[nr] = h
    for i in range(n):
        out_arcs[na + i] = buf[i]
    return True, out_od, out_len, out_hash, out_arcs, nr + 1, na + n


@njit(**JIT)
def dead_ends(indptr, head, rindptr, rarcs, tail):
    """Nodes that no route passes through: those without out-arcs, and those whose arcs in and
    out all join one neighbour (a zone's connector pair: any way through goes there and back).
    A search toward another node never needs to enter them."""
    n = indptr.shape[0] - 1
    out = np.zeros(n, np.bool_)
    for v in range(n):
        if indptr[v + 1] == indptr[v]:
            out[v] = True
            continue
        x = head[indptr[v]]
        one = True
        for e in range(indptr[v], indptr[v + 1]):
            if head[e] != x:
                one = False
                break
        if one:
            for k in range(rindptr[v], rindptr[v + 1]):
                if tail[rarcs[k]] != x:
                    one = False
                    break
        out[v] = one
    return out


@njit(**JIT)
def penalty_routes(next_group, indptr, head, tail, rindptr, rarcs, base_cost, blocked, dead,
                   group_dest, group_ptr, od_orig, od_id, max_routes, max_depth, max_misses,
                   penalty):
    """Route sets by link penalisation for the destination groups handed out by the shared
    counter ``next_group[0]`` (each worker that runs it takes the next group until none is
    left).

    Group ``g`` holds the OD pairs ``group_ptr[g]:group_ptr[g + 1]`` toward node
    ``group_dest[g]``, with origin nodes ``od_orig`` and OD indices ``od_id``. For each OD pair
    the least-cost route at the penalised costs is found up to ``max_depth`` times; after each
    search the cost of every arc of the route found is multiplied by ``penalty`` (compounding).
    The search stops at ``max_routes`` distinct routes, or once more than ``max_misses`` searches
    returned a route already in the set. The first search of each pair, at the base costs, is
    read from the destination's reverse tree. The searches never enter the nodes marked
    ``dead`` (:func:`dead_ends`) other than the destination.

    Returns (route_od, route_len, route_arcs, searches, settled nodes).
    """
    n = indptr.shape[0] - 1
    m = head.shape[0]
    succ = np.empty(n, np.int64)
    pot = np.empty(n)
    g = np.empty(n)
    pred = np.empty(n, np.int64)
    hkey = np.empty(n)
    heap = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    pc = base_cost.copy()
    touched = np.zeros(m, np.bool_)
    mod = np.empty(m, np.int64)
    buf = np.empty(n, np.int64)
    cap0 = 1024
    out_od = np.empty(cap0, np.int64)
    out_len = np.empty(cap0, np.int64)
    out_hash = np.empty(cap0, np.int64)
    out_arcs = np.empty(cap0 * 8, np.int64)
    nr = 0
    na = 0
    cur = 0
    searches = 0
    settled = 0
    n_groups = group_dest.shape[0]
    while True:
        gi = fetch_add(next_group, 0, 1)
        if gi >= n_groups:
            break
        d = group_dest[gi]
        reverse_tree(d, rindptr, rarcs, tail, base_cost, blocked, pot, heap, pos, succ)
        for i in range(n):
            pos[i] = -1
            # an infinite potential keeps the searches out of dead ends (the origin's own
            # potential is its first key only)
            if dead[i] and i != d:
                pot[i] = np.inf
        for k in range(group_ptr[gi], group_ptr[gi + 1]):
            o = od_orig[k]
            if o == d or succ[o] < 0:
                continue
            first = nr
            n_mod = 0
            misses = 0
            found = 0
            for depth in range(max_depth):
                if found >= max_routes:
                    break
                searches += 1
                if depth == 0:
                    # the least-cost route at the base costs, from the reverse tree
                    ln = 0
                    v = o
                    while v != d:
                        e = succ[v]
                        buf[ln] = e
                        ln += 1
                        v = head[e]
                else:
                    cur += 1
                    done = _astar_pen(o, d, indptr, head, pc, pot, blocked, g, pred, hkey, heap,
                                      pos, stamp, cur)
                    if done < 0:
                        break
                    settled += done
                    ln = _walk(pred, tail, o, d, buf)
                for i in range(ln):
                    a = buf[i]
                    pc[a] *= penalty
                    if not touched[a]:
                        touched[a] = True
                        mod[n_mod] = a
                        n_mod += 1
                added, out_od, out_len, out_hash, out_arcs, nr, na = _add_route(
                    buf, ln, od_id[k], out_od, out_len, out_hash, out_arcs, nr, na, first)
                if added:
                    found += 1
                else:
                    misses += 1
                    if misses > max_misses:
                        break
            for i in range(n_mod):
                a = mod[i]
                pc[a] = base_cost[a]
                touched[a] = False
    return out_od[:nr], out_len[:nr], out_arcs[:na], searches, settled


@njit(**JIT)
def _mix(a):
    # splitmix64 finaliser: a well-spread value per arc, summed into an order-free set hash
    z = np.uint64(a) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.int64(z ^ (z >> np.uint64(31)))


@njit(**JIT)
def elimination_routes(next_group, indptr, head, tail, rindptr, rarcs, base_cost, blocked,
                       group_dest, group_ptr, od_orig, od_id, max_routes, max_depth, max_misses):
    """Route sets by breadth-first search with link elimination (Rieser-Schuessler, Balmer and
    Axhausen 2013) for the destination groups handed out by the shared counter
    ``next_group[0]``, as :func:`penalty_routes`.

    Level 0 is the network itself and its least-cost route. Each network of a level spawns, for
    every arc of its route, the network with that arc removed as well; its least-cost route is a
    candidate. Levels are explored in turn up to ``max_depth``; the search of an OD pair stops at
    ``max_routes`` distinct routes or once more than ``max_misses`` searches gave no new route.
    Networks reached twice (the same set of removed arcs) are searched once.

    Returns (route_od, route_len, route_arcs).
    """
    n = indptr.shape[0] - 1
    pot = np.empty(n)
    succ = np.empty(n, np.int64)
    g = np.empty(n)
    pred = np.empty(n, np.int64)
    key = np.empty(n)
    heap = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    pc = base_cost.copy()
    buf = np.empty(n, np.int64)
    cap0 = 1024
    out_od = np.empty(cap0, np.int64)
    out_len = np.empty(cap0, np.int64)
    out_hash = np.empty(cap0, np.int64)
    out_arcs = np.empty(cap0 * 8, np.int64)
    nr = 0
    na = 0
    cur = 0
    n_groups = group_dest.shape[0]
    while True:
        gi = fetch_add(next_group, 0, 1)
        if gi >= n_groups:
            break
        d = group_dest[gi]
        reverse_tree(d, rindptr, rarcs, tail, base_cost, blocked, pot, heap, pos, succ)
        for i in range(n):
            pos[i] = -1
        for k in range(group_ptr[gi], group_ptr[gi + 1]):
            o = od_orig[k]
            if o == d or pot[o] == np.inf:
                continue
            first = nr
            cur += 1
            if _astar(o, d, indptr, head, pc, pot, blocked, g, pred, key, heap, pos, stamp,
                      cur, stamp, -1) < 0:
                continue
            ln = _walk(pred, tail, o, d, buf)
            added, out_od, out_len, out_hash, out_arcs, nr, na = _add_route(
                buf, ln, od_id[k], out_od, out_len, out_hash, out_arcs, nr, na, first)
            found = 1
            misses = 0
            # the networks of the current level: removed-arc sets (CSR) and their routes (CSR)
            lv_rem_ptr = np.zeros(2, np.int64)
            lv_rem = np.empty(0, np.int64)
            lv_hash = np.zeros(1, np.int64)
            lv_route_ptr = np.zeros(2, np.int64)
            lv_route_ptr[1] = ln
            lv_route = buf[:ln].copy()
            seen = np.empty(64, np.int64)
            n_seen = 0
            done = found >= max_routes
            for _depth in range(1, max_depth):
                if done:
                    break
                n_lv = lv_rem_ptr.shape[0] - 1
                nx_rem_ptr = np.zeros(1, np.int64)
                nx_rem = np.empty(16, np.int64)
                nx_hash = np.empty(4, np.int64)
                nx_route_ptr = np.zeros(1, np.int64)
                nx_route = np.empty(16, np.int64)
                n_nx = 0
                for li in range(n_lv):
                    if done:
                        break
                    r0 = lv_rem_ptr[li]
                    r1 = lv_rem_ptr[li + 1]
                    for pi in range(lv_route_ptr[li], lv_route_ptr[li + 1]):
                        a = lv_route[pi]
                        hs = lv_hash[li] + _mix(a)
                        dup = False
                        for s in range(n_seen):
                            if seen[s] == hs:
                                dup = True
                                break
                        if dup:
                            continue
                        seen = _grow_int(seen, n_seen + 1)
                        seen[n_seen] = hs
                        n_seen += 1
                        for x in range(r0, r1):
                            pc[lv_rem[x]] = np.inf
                        pc[a] = np.inf
                        cur += 1
                        ok = _astar(o, d, indptr, head, pc, pot, blocked, g, pred, key, heap,
                                    pos, stamp, cur, stamp, -1) >= 0
                        for x in range(r0, r1):
                            pc[lv_rem[x]] = base_cost[lv_rem[x]]
                        pc[a] = base_cost[a]
                        if not ok:
                            misses += 1
                            if misses > max_misses:
                                done = True
                                break
                            continue
                        ln = _walk(pred, tail, o, d, buf)
                        added, out_od, out_len, out_hash, out_arcs, nr, na = _add_route(
                            buf, ln, od_id[k], out_od, out_len, out_hash, out_arcs, nr, na,
                            first)
                        if added:
                            found += 1
                            if found >= max_routes:
                                done = True
                                break
                        else:
                            misses += 1
                            if misses > max_misses:
                                done = True
                                break
                        # the reduced network joins the next level
                        nrem = r1 - r0 + 1
                        base = nx_rem_ptr[n_nx]
                        nx_rem = _grow_int(nx_rem, base + nrem)
                        for x in range(r0, r1):
                            nx_rem[base + x - r0] = lv_rem[x]
                        nx_rem[base + nrem - 1] = a
                        nx_rem_ptr = _grow_int(nx_rem_ptr, n_nx + 2)
                        nx_rem_ptr[n_nx + 1] = base + nrem
                        nx_hash = _grow_int(nx_hash, n_nx + 1)
                        nx_hash[n_nx] = hs
                        rb = nx_route_ptr[n_nx]
                        nx_route = _grow_int(nx_route, rb + ln)
                        for x in range(ln):
                            nx_route[rb + x] = buf[x]
                        nx_route_ptr = _grow_int(nx_route_ptr, n_nx + 2)
                        nx_route_ptr[n_nx + 1] = rb + ln
                        n_nx += 1
                if n_nx == 0:
                    break
                lv_rem_ptr = nx_rem_ptr[:n_nx + 1].copy()
                lv_rem = nx_rem[:nx_rem_ptr[n_nx]].copy()
                lv_hash = nx_hash[:n_nx].copy()
                lv_route_ptr = nx_route_ptr[:n_nx + 1].copy()
                lv_route = nx_route[:nx_route_ptr[n_nx]].copy()
    return out_od[:nr], out_len[:nr], out_arcs[:na]


@njit(**JIT)
def waypoint_routes(indptr, head, tail, cost, blocked, item_orig, item_dest, via_ptr, via_node,
                    via_arc):
    """Least-cost routes through waypoints, one per item.

    Item ``i`` runs from node ``item_orig[i]`` through the waypoints ``via_ptr[i]:via_ptr[i+1]``
    in order to ``item_dest[i]``; a waypoint is a node (``via_node >= 0``) or an arc to traverse
    (``via_arc >= 0``). The route is the concatenation of least-cost legs between them.

    Returns (ok, route_len, route_arcs): ``ok[i]`` is False where some leg has no path (its
    route is then empty).
    """
    n = indptr.shape[0] - 1
    n_items = item_orig.shape[0]
    zero = np.zeros(n)
    g = np.empty(n)
    pred = np.empty(n, np.int64)
    key = np.empty(n)
    heap = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    buf = np.empty(n, np.int64)
    avoid = np.full(n, -1, np.int64)
    ok = np.zeros(n_items, np.bool_)
    out_len = np.zeros(n_items, np.int64)
    out_arcs = np.empty(1024, np.int64)
    na = 0
    cur = 0
    for i in range(n_items):
        start = na
        cur_node = item_orig[i]
        # marks: 2i + 1 a node the route reaches later (a waypoint, the destination), 2i + 2 a
        # node it has passed; a leg enters neither, except its own target
        later = 2 * i + 1
        done = 2 * i + 2
        for k in range(via_ptr[i], via_ptr[i + 1]):
            if via_arc[k] >= 0:
                avoid[tail[via_arc[k]]] = later
                avoid[head[via_arc[k]]] = later
            else:
                avoid[via_node[k]] = later
        avoid[item_dest[i]] = later
        avoid[cur_node] = done
        good = True
        for k in range(via_ptr[i], via_ptr[i + 1] + 1):
            if k < via_ptr[i + 1]:
                if via_arc[k] >= 0:
                    target = tail[via_arc[k]]
                else:
                    target = via_node[k]
            else:
                target = item_dest[i]
            if target != cur_node:
                if avoid[target] == done:
                    good = False
                    break
                avoid[target] = -1
                cur += 1
                if _astar(cur_node, target, indptr, head, cost, zero, blocked, g, pred, key,
                          heap, pos, stamp, cur, avoid, later) < 0:
                    good = False
                    break
                ln = _walk(pred, tail, cur_node, target, buf)
                out_arcs = _grow_int(out_arcs, na + ln)
                for x in range(ln):
                    out_arcs[na + x] = buf[x]
                    avoid[head[buf[x]]] = done
                na += ln
            cur_node = target
            if k < via_ptr[i + 1] and via_arc[k] >= 0:
                nxt = head[via_arc[k]]
                if avoid[nxt] == done:
                    good = False
                    break
                out_arcs = _grow_int(out_arcs, na + 1)
                out_arcs[na] = via_arc[k]
                na += 1
                cur_node = nxt
                avoid[cur_node] = done
        if good and cur_node == item_dest[i] and na > start:
            ok[i] = True
            out_len[i] = na - start
        else:
            na = start
    return ok, out_len, out_arcs[:na]


@njit(**JIT)
def new_least_cost_routes(c, n_chunks, indptr, head, tail, cost, blocked, orig_nodes, orig_ptr,
                          od_dest, od_id, od_min_cost, rel_tol):
    """Column generation: for origins c, c + n_chunks, ... (node ``orig_nodes[i]`` with OD pairs
    ``orig_ptr[i]:orig_ptr[i+1]`` toward nodes ``od_dest``), the least-cost route of every OD
    pair whose cost is below ``od_min_cost[od] * (1 - rel_tol)`` (the cheapest route already in
    its set).

    Returns (route_od, route_len, route_arcs, route_cost) of those routes.
    """
    n = indptr.shape[0] - 1
    zero = np.zeros(n)
    g = np.empty(n)
    pred = np.empty(n, np.int64)
    key = np.empty(n)
    heap = np.empty(n, np.int64)
    pos = np.full(n, -1, np.int64)
    stamp = np.zeros(n, np.int64)
    buf = np.empty(n, np.int64)
    out_od = np.empty(256, np.int64)
    out_len = np.empty(256, np.int64)
    out_cost = np.empty(256)
    out_arcs = np.empty(2048, np.int64)
    nr = 0
    na = 0
    cur = 0
    for i in range(c, orig_nodes.shape[0], n_chunks):
        o = orig_nodes[i]
        # one full tree from o (the destination o never settles, the search empties the heap)
        cur += 1
        _astar(o, -1, indptr, head, cost, zero, blocked, g, pred, key, heap, pos, stamp, cur,
               stamp, -1)
        for k in range(orig_ptr[i], orig_ptr[i + 1]):
            d = od_dest[k]
            if d == o or stamp[d] != cur or g[d] == np.inf:
                continue
            if g[d] < od_min_cost[od_id[k]] * (1.0 - rel_tol):
                ln = _walk(pred, tail, o, d, buf)
                out_od = _grow_int(out_od, nr + 1)
                out_len = _grow_int(out_len, nr + 1)
                if nr + 1 > out_cost.shape[0]:
                    nc = np.empty(2 * out_cost.shape[0])
                    nc[:nr] = out_cost[:nr]
                    out_cost = nc
                out_arcs = _grow_int(out_arcs, na + ln)
                out_od[nr] = od_id[k]
                out_len[nr] = ln
                out_cost[nr] = g[d]
                for x in range(ln):
                    out_arcs[na + x] = buf[x]
                nr += 1
                na += ln
    return out_od[:nr], out_len[:nr], out_arcs[:na], out_cost[:nr]


@njit(**JIT)
def merge_routes(od_ptr, route_ptr, route_arcs, new_od, new_ptr, new_arcs):
    """Append routes to OD-grouped storage: new route i (arcs ``new_arcs[new_ptr[i]:new_ptr[i +
    1]]``) goes after the routes of OD pair ``new_od[i]`` (``new_od`` sorted).

    Returns (od_ptr, route_ptr, route_arcs, position of every old route, position of every new
    route) of the merged storage.
    """
    n_od = od_ptr.shape[0] - 1
    n_old = route_ptr.shape[0] - 1
    n_new = new_od.shape[0]
    out_od_ptr = np.zeros(n_od + 1, np.int64)
    out_ptr = np.zeros(n_old + n_new + 1, np.int64)
    out_arcs = np.empty(route_arcs.shape[0] + new_arcs.shape[0], route_arcs.dtype)
    old_pos = np.empty(n_old, np.int64)
    new_pos = np.empty(n_new, np.int64)
    r = 0
    x = 0
    j = 0
    for w in range(n_od):
        out_od_ptr[w] = r
        for q in range(od_ptr[w], od_ptr[w + 1]):
            old_pos[q] = r
            for y in range(route_ptr[q], route_ptr[q + 1]):
                out_arcs[x] = route_arcs[y]
                x += 1
            r += 1
            out_ptr[r] = x
        while j < n_new and new_od[j] == w:
            new_pos[j] = r
            for y in range(new_ptr[j], new_ptr[j + 1]):
                out_arcs[x] = new_arcs[y]
                x += 1
            r += 1
            out_ptr[r] = x
            j += 1
    out_od_ptr[n_od] = r
    return out_od_ptr, out_ptr, out_arcs, old_pos, new_pos


@njit(**JIT)
def group_routes(route_od, route_len, route_arcs, n_od):
    """Routes in any order (each OD pair's in their own order) to OD-grouped storage by a
    counting sort: (od_ptr, route_ptr, route_arcs as int32, new position of each route)."""
    n_r = route_od.shape[0]
    od_ptr = np.zeros(n_od + 1, np.int64)
    for r in range(n_r):
        od_ptr[route_od[r] + 1] += 1
    for w in range(n_od):
        od_ptr[w + 1] += od_ptr[w]
    fill = od_ptr[:-1].copy()
    where = np.empty(n_r, np.int64)
    for r in range(n_r):
        w = route_od[r]
        where[r] = fill[w]
        fill[w] += 1
    lens = np.empty(n_r, np.int64)
    for r in range(n_r):
        lens[where[r]] = route_len[r]
    route_ptr = np.zeros(n_r + 1, np.int64)
    for r in range(n_r):
        route_ptr[r + 1] = route_ptr[r] + lens[r]
    arcs = np.empty(route_ptr[n_r], np.int32)
    src = 0
    for r in range(n_r):
        dst = route_ptr[where[r]]
        for x in range(route_len[r]):
            arcs[dst + x] = route_arcs[src + x]
        src += route_len[r]
    return od_ptr, route_ptr, arcs, where


@njit(**JIT)
def _take(e, i, head, seen, buf, m):
    """Append arc ``e`` to the route ``buf[:m]`` of item ``i`` unless its head node is on it
    already (``seen[node] == i``) or the route has as many arcs as the network has nodes;
    returns the new length, or -1."""
    if m >= buf.shape[0] - 1 or seen[head[e]] == i:
        return -1
    seen[head[e]] = i
    buf[m] = e
    return m + 1


@njit(**JIT)
def routes_through_trees(pred, tail, head, orig, dest, via):
    """Routes from the least-cost trees of every node: for item i, the tree path from node
    ``orig[i]`` to the tail of arc ``via[i, 0]``, that arc, on to the next arc of ``via[i]``
    (entries -1 are unused) and to node ``dest[i]``. ``pred[a, v]`` is the arc that reaches node
    v on the tree from node a (-1 where unreached).

    Returns (ok, route_len, route_arcs): ``ok[i]`` false where a leg is unreachable or the route
    would pass a node twice (no route then, length 0); the arcs of the routes that are ok,
    concatenated in item order."""
    n = orig.shape[0]
    n_nodes = pred.shape[1]
    ok = np.zeros(n, dtype=np.bool_)
    route_len = np.zeros(n, dtype=np.int64)
    out = np.empty(max(16, 8 * n), dtype=np.int64)
    na = 0
    buf = np.empty(n_nodes + 1, dtype=np.int64)
    leg = np.empty(n_nodes + 1, dtype=np.int64)
    seen = np.full(n_nodes, -1, dtype=np.int64)
    for i in range(n):
        at = orig[i]
        m = 0
        good = True
        seen[at] = i
        for k in range(via.shape[1] + 1):
            a = via[i, k] if k < via.shape[1] else -1
            if k < via.shape[1] and a < 0:
                continue
            to = tail[a] if a >= 0 else dest[i]
            nl = 0
            v = to
            while v != at:
                e = pred[at, v]
                if e < 0 or nl > n_nodes:
                    good = False
                    break
                leg[nl] = e
                nl += 1
                v = tail[e]
            if not good:
                break
            for j in range(nl - 1, -1, -1):
                m = _take(leg[j], i, head, seen, buf, m)
                if m < 0:
                    break
            if m >= 0 and a >= 0:
                m = _take(a, i, head, seen, buf, m)
                at = head[a]
            if m < 0:
                good = False
                break
        if good:
            out = _grow_int(out, na + m)
            for j in range(m):
                out[na + j] = buf[j]
            na += m
            ok[i] = True
            route_len[i] = m
    return ok, route_len, out[:na].copy()
