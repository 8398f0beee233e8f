"""Algorithm B's sparse bushes and the worker threads that sweep them.

The bush pool is checked for what the kernels rely on (every bush acyclic, its slots grouped by
head node in a topological order, flows conserving its origin's demand) on real networks, after
every round and at convergence, with and without growth of the pool, and on two threads.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import karvan
from karvan import TrafficClass
from karvan.assign import bush as AB
from karvan.assign._workers import Workers, chunks_of
from karvan.assign.problem import _Problem
from karvan.io import read_tntp
from karvan.network.graph import compile_graph
from karvan.network.model import complete_links


def check_bushes(result) -> None:
    """Every bush: slots grouped by head in a topological order, no arc into the origin or out
    of a blocked node other than the origin, every reached node reached from the origin, flow
    >= 0 and conserved (the origin sends its demand, each destination keeps its own)."""
    bs = result.bushes
    g = result.graph
    tol = 1e-9
    for b in range(len(bs.size)):
        lo, n = int(bs.ptr[b]), int(bs.size[b])
        assert n <= bs.room[b]
        arcs = bs.arc[lo:lo + n].astype(np.int64)
        flow = bs.arc_flow[lo:lo + n]
        o = int(bs.zone_nodes[bs.bush_zone[b]])
        heads = g.head[arcs]
        tails = g.tail[arcs]
        assert (flow >= 0).all()
        assert not (heads == o).any()
        assert not (g.blocked[tails] & (tails != o)).any()
        # groups by head, in order: a head's group is contiguous and every tail comes earlier
        pos = {o: -1}
        for r, j in enumerate(heads):
            if j in pos and r > 0 and heads[r - 1] != j:
                raise AssertionError(f"bush {b}: head {j} in two groups")
            pos.setdefault(int(j), r)
        for a_t, j in zip(tails, heads, strict=True):
            assert int(a_t) in pos and pos[int(a_t)] < pos[int(j)], f"bush {b}: not topological"
        # conservation: inflow - outflow = demand kept at each node
        demand = bs.demand[b]
        net_in = np.bincount(heads, flow, g.n_nodes) - np.bincount(tails, flow, g.n_nodes)
        want = np.zeros(g.n_nodes)
        np.add.at(want, bs.zone_nodes, demand)
        want[o] = 0.0
        want[o] = -want.sum()
        np.testing.assert_allclose(net_in, want, rtol=0, atol=tol * max(1.0, demand.sum()))


def _problem(tntp_dir, name):
    prob = read_tntp(tntp_dir / name / f"{name}_net.tntp")
    g = compile_graph(prob.network)
    return prob, g, complete_links(prob.network.links)


@pytest.mark.parametrize("name", ["SiouxFalls", "Anaheim"])
def test_bushes_hold_their_invariants_round_by_round(tntp_dir, name):
    prob, g, links = _problem(tntp_dir, name)
    for rounds in (1, 2, 5, 500):
        p = _Problem(g, prob.demand, [TrafficClass()], links)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", karvan.errors.ConvergenceWarning)
            r = AB.solve_bush(p, gap=1e-10, max_iter=rounds, max_time_s=None, callback=None,
                              strict=False, threads=1)
        check_bushes(r)
    assert r.converged


def test_a_pool_without_room_grows_and_reaches_the_same_answer(tntp_dir, monkeypatch):
    prob, g, links = _problem(tntp_dir, "Anaheim")
    ref = AB.solve_bush(_Problem(g, prob.demand, [TrafficClass()], links), gap=1e-10,
                        max_iter=500, max_time_s=None, callback=None, strict=True, threads=1)
    grew = []
    real_grow = AB._Pool.grow

    def grow(self, need):
        grew.append(int((need > self.cap).sum()))
        real_grow(self, need)

    monkeypatch.setattr(AB, "_slack", lambda sizes: np.zeros(len(np.atleast_1d(sizes)), np.int64))
    monkeypatch.setattr(AB._Pool, "grow", grow)
    r = AB.solve_bush(_Problem(g, prob.demand, [TrafficClass()], links), gap=1e-10,
                      max_iter=500, max_time_s=None, callback=None, strict=True, threads=1)
    assert grew and grew[0] > 0  # bushes started as trees without room, so they had to grow
    check_bushes(r)
    assert abs(r.objective - ref.objective) <= 1e-9 * ref.objective


def test_two_threads_keep_the_bushes_whole(tntp_dir):
    prob, g, links = _problem(tntp_dir, "Anaheim")
    p = _Problem(g, prob.demand, [TrafficClass()], links)
    r = AB.solve_bush(p, gap=1e-10, max_iter=500, max_time_s=None, callback=None, strict=True,
                      threads=2)
    assert r.params["threads"] == 2
    check_bushes(r)


def test_dense_view_matches_the_pool(tntp_dir):
    prob, _, _ = _problem(tntp_dir, "SiouxFalls")
    r = karvan.assign(prob.network, prob.demand, method="algorithm-b", gap=1e-8)
    bs = r.bushes
    flow, inbush = bs.flow, bs.inbush
    assert flow.shape == (len(bs.size), r.graph.n_arcs)
    np.testing.assert_allclose(flow.sum(axis=0), r.flow, rtol=1e-12, atol=1e-9)
    assert inbush.sum() == bs.size.sum()
    assert bs.flow is flow  # built once
    assert bs.nbytes == bs.arc.nbytes + bs.arc_flow.nbytes


def test_workers_run_every_chunk_once_and_return_in_order():
    seen = []
    lock = threading.Lock()

    def fn(lo, hi, sc):
        with lock:
            seen.append((lo, hi))
        sc.append(threading.get_ident())
        return lo * 1000 + hi

    chunks = chunks_of(103, 9)
    assert chunks[0][0] == 0 and chunks[-1][1] == 103
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    with Workers(2, list) as w:
        out = w.run(fn, chunks)
        assert out == [lo * 1000 + hi for lo, hi in chunks]
        assert sorted(seen) == chunks
        assert len(w.scratch) == 2
    with Workers(1, list) as w:
        assert w.run(fn, [(0, 1)]) == [1]
    assert chunks_of(0, 4) == [] and chunks_of(3, 10) == [(0, 1), (1, 2), (2, 3)]


def test_a_thread_never_enters_a_chunk_another_is_still_in(monkeypatch):
    # The shift passes have no barrier: while thread A is held inside chunk 0 of pass 0, thread B
    # runs through chunks 1 and 2 and draws chunk 0 of pass 1. It must skip it (two threads in
    # one bush broke its flows: runs that stalled at a gap, or looped), and do the others.
    from karvan.kernels import bush as KB

    lock = threading.Lock()

    def fetch_add(arr, i, v):  # atomic here by a lock (the kernels' are LLVM atomics)
        with lock:
            old = arr[i]
            arr[i] += v
            return old

    inside, calls = set(), []
    a_inside, release_a = threading.Event(), threading.Event()

    def sweep_chunk(lo, hi, *rest):
        with lock:
            assert lo not in inside, f"two threads in chunk {lo}"
            inside.add(lo)
            calls.append((threading.current_thread().name, lo))
        if threading.current_thread().name == "A":
            a_inside.set()
            assert release_a.wait(10)
        with lock:
            inside.discard(lo)
        return 1

    monkeypatch.setattr(KB, "fetch_add", fetch_add)
    monkeypatch.setattr(KB, "fetch_add_sync", fetch_add)
    monkeypatch.setattr(KB, "sweep_chunk", sweep_chunk)
    n_c, n_pass = 3, 2
    counter = np.zeros(1 + n_c, np.int64)
    done = np.zeros(2 * n_pass, np.int64)
    lo = np.arange(n_c, dtype=np.int64)
    out = {}

    def run():
        name = threading.current_thread().name
        out[name] = KB.sweep_passes.py_func(n_pass, lo, lo + 1, counter, done, 0, 0.0,
                                            *([None] * 32))

    a = threading.Thread(target=run, name="A")
    a.start()
    assert a_inside.wait(10)
    b = threading.Thread(target=run, name="B")
    b.start()
    b.join(10)
    release_a.set()
    a.join(10)
    assert not a.is_alive() and not b.is_alive()
    assert calls == [("A", 0), ("B", 1), ("B", 2), ("B", 1), ("B", 2)]
    assert out == {"A": 1, "B": 4}
    assert done.tolist() == [3, 3, 3, 2]  # both passes finished; chunk 0 of pass 1 skipped
    assert counter[1:].tolist() == [0, 0, 0]  # every chunk given back
