"""Logit route choice, stochastic user equilibrium, Dial's loading, nested corridor choice and
hard capacities as side constraints of the equilibrium."""

from __future__ import annotations

from karvan.choice.capacities import Capacities, capacities_from_links
from karvan.choice.dial import dial_loading
from karvan.choice.equilibrium import (
                                       ChoiceIteration,
                                       deterministic_equilibrium,
                                       logit_loading,
                                       stochastic_equilibrium,
)
from karvan.choice.nested import Nests, nested_logit_shares, route_families
from karvan.choice.result import ChoiceResult
from karvan.choice.routes import RouteOptions, RouteSet, Waypoints, generate_route_sets

__all__ = ["Capacities", "ChoiceIteration", "ChoiceResult", "Nests", "RouteOptions", "RouteSet",
           "Waypoints", "capacities_from_links", "deterministic_equilibrium", "dial_loading",
           "generate_route_sets", "logit_loading", "nested_logit_shares", "route_families",
           "stochastic_equilibrium"]
