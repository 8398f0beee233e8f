"""Per-arc spin locks for kernels that share link arrays between threads.

numba has no atomics on the CPU target; :func:`try_lock` and :func:`unlock` are intrinsics that
emit LLVM's ``cmpxchg`` and an atomic store once numba is loaded; :func:`fetch_add` hands out
work items from a shared counter. Interpreted kernels (one thread)
use the plain Python stand-ins below. A lock is an int64 slot, 0 free and 1 held.
"""

from __future__ import annotations

from karvan.kernels._jit import stand_in


def _try_lock_py(locks, i):
    if locks[i] != 0:
        return False
    locks[i] = 1
    return True


def _unlock_py(locks, i):
    locks[i] = 0


def _fetch_add_py(counter, i, v):
    old = counter[i]
    counter[i] += v
    return old


def _build_try_lock():
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def try_lock(typingctx, locks, i):
        """Take ``locks[i]`` if it is free; True when taken (acquire ordering)."""
        sig = types.boolean(locks, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
            zero = context.get_constant(types.int64, 0)
            one = context.get_constant(types.int64, 1)
            res = builder.cmpxchg(ptr, zero, one, "acquire", "monotonic")
            return builder.extract_value(res, 1)

        return sig, codegen

    return try_lock


def _build_unlock():
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def unlock(typingctx, locks, i):
        """Free ``locks[i]`` (release ordering)."""
        sig = types.void(locks, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
            zero = context.get_constant(types.int64, 0)
            builder.store_atomic(zero, ptr, "release", 8)
            return context.get_dummy_value()

        return sig, codegen

    return unlock


def _build_fetch_add():
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def fetch_add(typingctx, counter, i, v):
        """``counter[i] += v`` as one atomic step (int64); returns the value before."""
        sig = types.int64(counter, i, types.int64)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
            val = context.cast(builder, args[2], signature.args[2], types.int64)
            return builder.atomic_rmw("add", ptr, val, "monotonic")

        return sig, codegen

    return fetch_add


try_lock = stand_in(_try_lock_py, _build_try_lock)
fetch_add = stand_in(_fetch_add_py, _build_fetch_add)
unlock = stand_in(_unlock_py, _build_unlock)
