"""Answers with their uncertainty: uncertain inputs as data, experiments of scenario x draw on
Dask, percentile bands, probabilities of statements and global sensitivity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from karvan.explore.distributions import Distribution
from karvan.explore.inputs import (
    InputSet,
    UncertainInput,
    corridor_inputs,
    parameter_inputs,
    ranges_inputs,
    read_uncertainty,
)

if TYPE_CHECKING:  # at run time imported when first used (module __getattr__ below)
    from karvan.explore.runner import ExperimentResult
    from karvan.explore.study import explore

__all__ = [
    "Distribution",
    "ExperimentResult",
    "InputSet",
    "UncertainInput",
    "corridor_inputs",
    "explore",
    "parameter_inputs",
    "ranges_inputs",
    "read_uncertainty",
]


def __getattr__(name: str):
    # karvan.explore.explore (karvan.explore.study.explore), imported when first used: it
    # brings Dask's runner and the corridor model with it
    if name == "explore":
        from karvan.explore.study import explore

        return explore
    if name == "ExperimentResult":
        from karvan.explore.runner import ExperimentResult

        return ExperimentResult
    raise AttributeError(f"module 'karvan.explore' has no attribute {name!r}")
