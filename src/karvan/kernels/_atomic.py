"""Atomic updates for kernels that share arrays between threads.

numba has no atomics on the CPU target; these are intrinsics built once numba is loaded:
:func:`fetch_add` hands out work items from a shared int64 counter (:func:`fetch_add_sync`
also orders the memory around it, for a thread taking over bushes another one released);
:func:`atomic_add` and :func:`atomic_add2` add to a float64 slot without losing a concurrent
update (LLVM ``atomicrmw``). Interpreted kernels (one thread) use the plain Python stand-ins below.
"""

from __future__ import annotations

from karvan.kernels._jit import stand_in


def _add_py(arr, i, v):
    old = arr[i]
    arr[i] += v
    return old


def _add2_py(arr, i, j, v):
    old = arr[i, j]
    arr[i, j] += v
    return old


def _fetch_add_py(counter, i, v):
    old = counter[i]
    counter[i] += v
    return old


def _build(ndim: int, op: str, value_type: str, ordering: str = "monotonic"):
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    vt = getattr(types, value_type)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, args[1 + d], signature.args[1 + d], types.intp)
               for d in range(ndim)]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx)
        val = context.cast(builder, args[-1], signature.args[-1], vt)
        return builder.atomic_rmw(op, ptr, val, ordering)

    if ndim == 1:
        @intrinsic
        def add(typingctx, arr, i, v):
            return vt(arr, i, vt), codegen
    else:
        @intrinsic
        def add(typingctx, arr, i, j, v):
            return vt(arr, i, j, vt), codegen
    return add


#: ``counter[i] += v`` (int64) as one atomic step; returns the value before
fetch_add = stand_in(_fetch_add_py, lambda: _build(1, "add", "int64"))
#: :func:`fetch_add` that also orders memory (acquire and release): taking a chunk of bushes
#: with it sees every write of the thread that gave the chunk back with it
fetch_add_sync = stand_in(_fetch_add_py, lambda: _build(1, "add", "int64", "acq_rel"))
#: ``arr[i] += v`` (float64) as one atomic step; returns the value before
atomic_add = stand_in(_add_py, lambda: _build(1, "fadd", "float64"))
#: ``arr[i, j] += v`` (float64) as one atomic step; returns the value before
atomic_add2 = stand_in(_add2_py, lambda: _build(2, "fadd", "float64"))
