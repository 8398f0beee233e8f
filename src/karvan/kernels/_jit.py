"""The one place where numba options are set, and where numba is loaded.

:func:`njit` declares a kernel without importing numba: it returns a :class:`Kernel` that
compiles (or loads from the on-disk cache) on its first call. At that first call every kernel
declared so far gets its numba dispatcher, and the names in the ``karvan.kernels`` modules are
rebound to the dispatchers, so that compiled kernels call each other directly.

Inside :func:`interpreted`, and as long as numba has not been loaded, kernels run as the plain
Python functions they are written as. numba's import, its target refresh and the loading of the
cached kernels cost about 0.4 s of CPU per process, more than a whole solve of a network of a few
links takes in Python; the caller decides when a problem is that small.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as _np

JIT = {"cache": True, "nogil": True, "fastmath": False}
PJIT = {**JIT, "parallel": True}

_lock = threading.RLock()
_kernels: list[Kernel] = []
#: stand-ins of numba objects (prange, intrinsics) -> a function that builds the numba object
_stand_ins: dict[int, tuple[Any, Callable[[], Any]]] = {}
_state = {"loaded": False, "interpreted": 0}


class Kernel:
    """A kernel declared with :func:`njit`: its Python function and numba options; the
    dispatcher once numba is loaded."""

    def __init__(self, fn: Callable, options: dict) -> None:
        self.py_func = fn
        self.options = options
        self.dispatcher = None
        self.aot = None
        self.aot_args: tuple = ()
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any) -> Any:
        if self.dispatcher is None:
            if self.aot is not None and _args_match(self.aot_args, args):
                return self.aot(*args)
            if _state["interpreted"]:
                return self.py_func(*args)
            load_numba()
        return self.dispatcher(*args)

    def __repr__(self) -> str:
        return f"<karvan kernel {self.__module__}.{self.__qualname__}>"


def njit(**options: Any) -> Callable[[Callable], Any]:
    """Declare a kernel compiled with ``options`` (:data:`JIT` or :data:`PJIT`)."""

    def decorate(fn: Callable) -> Any:
        if _state["loaded"]:
            import numba

            return numba.njit(**options)(fn)
        k = Kernel(fn, options)
        _kernels.append(k)
        return k

    return decorate


def stand_in(obj: Any, build: Callable[[], Any]) -> Any:
    """Register ``obj``, used by kernels in interpreted runs, to be replaced by ``build()`` (a
    numba object) in the kernel modules when numba loads; returns ``obj`` (or the numba object
    when numba is loaded already)."""
    if _state["loaded"]:
        return build()
    _stand_ins[id(obj)] = (obj, build)
    return obj


def _prange(*args: int) -> range:
    return range(*args)


prange = stand_in(_prange, lambda: __import__("numba").prange)


def load_numba() -> None:
    """Import numba, give every declared kernel its dispatcher and rebind the kernel modules'
    names to them (once per process)."""
    if _state["loaded"]:
        return
    with _lock:
        if _state["loaded"]:
            return
        paused = gc.isenabled()
        gc.disable()  # numba's import makes ~10^5 long-lived objects: collections find nothing
        try:
            import numba

            refresh_target()
            for k in _kernels:
                k.dispatcher = numba.njit(**k.options)(k.py_func)
            built = {key: build() for key, (_obj, build) in _stand_ins.items()}
            for name, mod in list(sys.modules.items()):
                if mod is None or not (name == "karvan.kernels"
                                       or name.startswith("karvan.kernels.")):
                    continue
                ns = vars(mod)
                for attr, val in list(ns.items()):
                    if isinstance(val, Kernel):
                        ns[attr] = val.dispatcher
                    elif id(val) in built and _stand_ins[id(val)][0] is val:
                        ns[attr] = built[id(val)]
            _state["loaded"] = True
        finally:
            if paused:
                gc.enable()


#: argument codes of :func:`attach_aot`: scalars, then (dtype name, ndim) of C-contiguous arrays
AOT_CODES = {"i": "int", "f": "float", "I": ("int64", 1), "J": ("int32", 1),
             "F": ("float64", 1), "B": ("bool", 1), "I2": ("int64", 2), "F2": ("float64", 2)}


def _args_match(spec: tuple, args: tuple) -> bool:
    """Whether ``args`` have exactly the types of ``spec`` (the compiled code checks nothing)."""
    if len(args) != len(spec):
        return False
    for a, s in zip(args, spec, strict=True):
        if s == "int":
            if not isinstance(a, (int, _np.integer)):
                return False
        elif s == "float":
            if not isinstance(a, (float, int, _np.floating, _np.integer)):
                return False
        else:
            if (type(a) is not _np.ndarray or a.dtype != s[0] or a.ndim != s[1]
                    or not a.dtype.isnative):
                return False
            f = a.flags
            if not (f.c_contiguous and f.aligned and f.writeable):
                return False
    return True


def attach_aot(functions: dict[tuple[str, str], tuple[Callable, str]]) -> int:
    """Give declared kernels their ahead-of-time compiled versions.

    ``functions`` maps (module, kernel name) to (compiled function, argument codes), the codes
    (keys of :data:`AOT_CODES`) separated by spaces. Returns the number of kernels attached.
    """
    n = 0
    with _lock:
        for k in _kernels:
            entry = functions.get((k.__module__, k.__name__))
            if entry is None:
                continue
            fn, codes = entry
            k.aot_args = tuple(_aot_code(c) for c in codes.split())
            k.aot = fn
            n += 1
    return n


def _aot_code(code: str) -> Any:
    s = AOT_CODES[code]
    return s if isinstance(s, str) else (_np.dtype(s[0]), s[1])


def aot_attached() -> bool:
    """Whether some kernel runs ahead-of-time compiled code in this process."""
    return any(k.aot is not None for k in _kernels)


def compiled() -> bool:
    """Whether kernels run compiled code (numba loaded, or ahead-of-time versions attached)."""
    return _state["loaded"] or aot_attached()


_BLAS = "scipy.linalg.cython_blas"


def refresh_target() -> None:
    """Refresh numba's CPU target once per process, without importing scipy.linalg for it.

    The first call of any compiled kernel in a process, cached or not, refreshes numba's CPU
    target: it imports numba's implementation modules and installs their registries. One of them
    (``numba.np.arraymath``) checks for a BLAS by importing ``scipy.linalg``, about a third of
    the refresh, although no karvan kernel uses BLAS. Here that import is made to fail, so it
    finds no BLAS; numba's ``np.dot`` and ``np.linalg`` import the BLAS themselves when they are
    compiled, so only numba's inner-product helper of a few array functions falls back to a
    plain loop in this process. The garbage collector is paused meanwhile: the refresh creates
    some hundred thousand long-lived objects, and the collections it would trigger find nothing.
    """
    if "numba.np.arraymath" in sys.modules:
        return  # refreshed already
    paused = gc.isenabled()
    gc.disable()
    try:
        try:
            from numba.core.registry import cpu_target
        except ImportError:  # a numba without this layout: the first dispatch does it
            return
        block = _BLAS not in sys.modules
        if block:
            sys.modules[_BLAS] = None  # type: ignore[assignment]  (import raises ImportError)
        try:
            cpu_target.target_context.refresh()
        finally:
            if block and sys.modules.get(_BLAS, 0) is None:
                del sys.modules[_BLAS]
    finally:
        if paused:
            gc.enable()


def numba_loaded() -> bool:
    """Whether the kernels are compiled ones (numba loaded) in this process."""
    return _state["loaded"]


@contextmanager
def interpreted() -> Iterator[None]:
    """Run kernels as Python inside this block unless numba is loaded already (for problems so
    small that loading numba costs more than the solve)."""
    with _lock:
        _state["interpreted"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["interpreted"] -= 1


def interpreting() -> bool:
    """Whether kernels called now run as Python."""
    return bool(_state["interpreted"]) and not _state["loaded"]


def num_threads() -> int:
    """Threads numba will use for parallel kernels (without loading numba when it is not loaded:
    ``NUMBA_NUM_THREADS`` or the CPUs this process may use)."""
    if "numba" in sys.modules or _state["loaded"]:
        import numba

        return int(numba.get_num_threads())
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.strip().isdigit():
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
