"""Equilibrium and capacity-constrained assignment; convergence is part of the result."""

from __future__ import annotations

from karvan.assign.classes import TrafficClass
from karvan.assign.equilibrium import METHODS, IterationInfo, assign
from karvan.assign.result import AssignmentResult

__all__ = ["METHODS", "AssignmentResult", "IterationInfo", "TrafficClass", "assign"]
