"""Statistics of the routes of an Algorithm B result over sets of arcs, without listing routes.

Under the proportional split of origin-based flows (the route lists of
:func:`karvan.paths.route_flows`), one pass over each bush gives, for every destination, the
probability that the route uses an arc of a set (a country's links, a route option's links) and
the expected sum of arc weights (length, charges) over the route's arcs in the set. Summed with
the OD demand, these are the per-country tonnes, transit tonnes and revenue of the ``countries``
table and the share of a route option, computed from the bushes directly.
"""

from __future__ import annotations

import numpy as np

from karvan.errors import InputError
from karvan.kernels.bush_sets import bush_set_joint_stats, bush_set_stats


def bush_route_sets(result, b: int, member: np.ndarray, weights: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """For bush ``b`` of ``result`` (an Algorithm B result): ``touch`` (n_zones, n_sets), the
    share of the flow to each zone whose route uses an arc of each set, and ``wsum``
    (n_zones, n_sets, n_weights), the expected sum of ``weights`` over the route's arcs in each
    set. The rows are the zones of the assigned demand in its order
    (``result.bushes.zone_ids``, the columns of ``result.bushes.demand[b]``), which need not be
    the graph's.

    Parameters
    ----------
    result
        An :class:`~karvan.assign.AssignmentResult` with bushes.
    b
        The bush (a row of ``result.bushes``).
    member
        (n_sets, n_arcs) booleans: which arcs belong to each set.
    weights
        (n_weights, n_arcs) arc weights.

    Raises
    ------
    InputError
        A result without bushes, or arrays of the wrong shape.
    """
    bs = result.bushes
    if bs is None:
        raise InputError("route-set statistics need a result of method='algorithm-b'.")
    g = result.graph
    if member.shape[1] != g.n_arcs or weights.shape[1] != g.n_arcs:
        raise InputError(f"member and weights need {g.n_arcs} columns (one per arc).")
    rindptr, rarcs = g.reverse_star()
    return route_set_stats(bs, g, b, np.ascontiguousarray(member, dtype=np.bool_),
                  np.ascontiguousarray(weights, dtype=float), rindptr, rarcs)


def route_set_stats(bs, g, b, member, weights, rindptr, rarcs):
    """:func:`bush_route_sets` on the bushes ``bs`` of graph ``g`` with its reverse star
    given, for loops over many bushes: prior validation of the arrays is assumed (contiguous
    bool ``member``, float ``weights``, both with one column per arc). Rows in the order of
    the demand's zones (``bs.zone_ids``; ``bush_zone`` is a position among them)."""
    q = bs.demand[b]
    eps = 1e-12 * max(1.0, float(q.sum()))
    zn = bs.zone_nodes
    o = int(zn[bs.bush_zone[b]])
    avoid, wsum = bush_set_stats(b, o, g.indptr, g.head, g.tail, rindptr, rarcs, bs.inbush,
                                 bs.flow, member, weights, eps)
    return 1.0 - avoid[zn], wsum[zn]


def route_set_joint_stats(bs, g, b, member, cond, weights, rindptr, rarcs):
    """For pairs of arc sets (``member[s]``, ``cond[s]``): ``touch`` (n_zones, n_sets), the
    share of the flow to each zone whose route uses an arc of ``cond[s]``, and ``wsum``
    (n_zones, n_sets, n_weights), the expected sum of ``weights`` over the route's arcs in
    ``member[s]`` counted on those routes only (a country's charges on the routes that cross
    its land, say). Arrays as :func:`route_set_stats` takes them, ``cond`` like ``member``."""
    q = bs.demand[b]
    eps = 1e-12 * max(1.0, float(q.sum()))
    zn = bs.zone_nodes
    o = int(zn[bs.bush_zone[b]])
    args = (b, o, g.indptr, g.head, g.tail, rindptr, rarcs, bs.inbush, bs.flow)
    _, w_all = bush_set_stats(*args, member, weights, eps)
    avoid, w_avoid = bush_set_joint_stats(*args, member, cond, weights, eps)
    return 1.0 - avoid[zn], w_all[zn] - w_avoid[zn]
