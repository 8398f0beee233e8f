"""Route-set statistics of one bush without listing its routes.

Under the proportional split of origin-based flows (a route's share of its OD flow is the product,
over its arcs, of the arc's flow over the in-flow of the arc's head node: Bar-Gera 2010), the walk
from a destination back to the origin is a Markov chain whose step from node u depends on u
only. For a set S of arcs, the probability that the route to u avoids S, and the expected sum of
an arc weight over the route's arcs in S, therefore satisfy, in the bush's topological order,

    avoid_S(o) = 1,  avoid_S(u) = sum over in-arcs a of u: p_a * [a not in S] * avoid_S(tail a)
    w_S(o) = 0,      w_S(u)     = sum over in-arcs a of u: p_a * (w_S(tail a) + [a in S] * w_a)

with p_a = flow_a / inflow(u). One forward pass gives both for every destination at once.
"""

from __future__ import annotations

import numpy as np

from karvan.kernels._jit import JIT, njit


@njit(**JIT)
def _bush_order(b, o, indptr, head, inbush, flow, eps):
    """The nodes of bush ``b`` (rooted at ``o``) in topological order (the first ``count`` of
    ``topo``) and each node's in-flow over the bush's arcs with flow above ``eps``."""
    n = indptr.shape[0] - 1
    m = head.shape[0]
    indeg = np.zeros(n, np.int64)
    topo = np.empty(n, np.int64)
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
    inflow = np.zeros(n)
    for a in range(m):
        if inbush[b, a] and flow[b, a] > eps:
            inflow[head[a]] += flow[b, a]
    return topo, count, inflow


@njit(**JIT)
def bush_set_stats(b, o, indptr, head, tail, rindptr, rarcs, inbush, flow, member, weights,
                   eps):
    """For bush ``b`` rooted at node ``o`` and arc sets ``member`` (n_sets, n_arcs; bool):
    ``avoid`` (n_nodes, n_sets), the probability that the bush's route to a node uses no arc of
    the set, and ``wsum`` (n_nodes, n_sets, n_weights), the expected sum of ``weights[k, a]``
    over the route's arcs in the set. Nodes the bush does not reach read avoid 1, wsum 0."""
    n = indptr.shape[0] - 1
    n_sets = member.shape[0]
    n_w = weights.shape[0]
    topo, count, inflow = _bush_order(b, o, indptr, head, inbush, flow, eps)
    avoid = np.ones((n, n_sets))
    wsum = np.zeros((n, n_sets, n_w))
    for idx in range(1, count):
        u = topo[idx]
        if inflow[u] <= 0.0:
            continue
        for s in range(n_sets):
            avoid[u, s] = 0.0
        for r in range(rindptr[u], rindptr[u + 1]):
            a = rarcs[r]
            if not inbush[b, a] or flow[b, a] <= eps:
                continue
            p = flow[b, a] / inflow[u]
            t = tail[a]
            for s in range(n_sets):
                if member[s, a]:
                    for k in range(n_w):
                        wsum[u, s, k] += p * (wsum[t, s, k] + weights[k, a])
                else:
                    avoid[u, s] += p * avoid[t, s]
                    for k in range(n_w):
                        wsum[u, s, k] += p * wsum[t, s, k]
    return avoid, wsum


@njit(**JIT)
def bush_set_joint_stats(b, o, indptr, head, tail, rindptr, rarcs, inbush, flow, member, cond,
                         weights, eps):
    """As :func:`bush_set_stats`, for pairs of arc sets (``member[s]``, ``cond[s]``).

    ``avoid`` (n_nodes, n_sets) is the probability that the route to a node uses no arc of
    ``cond[s]``, and ``wsum`` (n_nodes,
    n_sets, n_weights), the expected sum of ``weights[k, a]`` over the route's arcs in
    ``member[s]`` on the routes that avoid ``cond[s]`` (0 on the others):

        avoid_T(u) = sum over in-arcs a: p_a * [a not in T] * avoid_T(tail a)
        w_ST(u)    = sum over in-arcs a: p_a * [a not in T] * (w_ST(tail a)
                                                             + [a in S] * w_a * avoid_T(tail a))

    The expected sum over the routes that use an arc of ``cond[s]`` is ``bush_set_stats``'s
    minus this one's."""
    n = indptr.shape[0] - 1
    n_sets = member.shape[0]
    n_w = weights.shape[0]
    topo, count, inflow = _bush_order(b, o, indptr, head, inbush, flow, eps)
    avoid = np.ones((n, n_sets))
    wsum = np.zeros((n, n_sets, n_w))
    for idx in range(1, count):
        u = topo[idx]
        if inflow[u] <= 0.0:
            continue
        for s in range(n_sets):
            avoid[u, s] = 0.0
        for r in range(rindptr[u], rindptr[u + 1]):
            a = rarcs[r]
            if not inbush[b, a] or flow[b, a] <= eps:
                continue
            p = flow[b, a] / inflow[u]
            t = tail[a]
            for s in range(n_sets):
                if cond[s, a]:
                    continue
                avoid[u, s] += p * avoid[t, s]
                for k in range(n_w):
                    wsum[u, s, k] += p * wsum[t, s, k]
                    if member[s, a]:
                        wsum[u, s, k] += p * weights[k, a] * avoid[t, s]
    return avoid, wsum
