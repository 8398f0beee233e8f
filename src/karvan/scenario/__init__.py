"""Scenarios: files of dated modifications, applied to the corridor, run and compared."""

from __future__ import annotations

from karvan.scenario.spec import (
    Modification,
    Scenario,
    builtin_scenarios,
    load_scenario,
    read_scenario_file,
)

__all__ = ["Modification", "Scenario", "builtin_scenarios", "load_scenario",
           "read_scenario_file"]
