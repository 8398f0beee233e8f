"""Equilibrium and capacity-constrained assignment; convergence is part of the result.

The module is callable: ``karvan.assign(network, demand, ...)`` is :func:`assign`, while
``karvan.assign.capacity`` and ``import karvan.assign.capacity as C`` still reach the submodules
(a function bound to the package's name would hide them).
"""

from __future__ import annotations

import inspect
import sys
import types

from karvan.assign.classes import TrafficClass
from karvan.assign.equilibrium import METHODS, IterationInfo, assign
from karvan.assign.result import AssignmentResult

__all__ = ["METHODS", "AssignmentResult", "IterationInfo", "TrafficClass", "assign"]


class _CallableModule(types.ModuleType):
    """The package, callable as :func:`assign`."""

    def __call__(self, *args, **kwargs):
        return assign(*args, **kwargs)


#: ``inspect.signature(karvan.assign)`` and ``help()`` show the function's parameters
__signature__ = inspect.signature(assign)
sys.modules[__name__].__class__ = _CallableModule
