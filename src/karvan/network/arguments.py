"""Checks of the kinds of an assignment's arguments, without importing pandas or the network
tables (the compiled path of ``karvan assign`` imports neither)."""

from __future__ import annotations

import numbers as _n
import sys
from typing import Any


def check_arguments(network: Any, demand: Any, **numbers: Any) -> None:
    """Check the kinds of an assignment's arguments: a :class:`~karvan.network.model.Network`
    (or a compiled graph), a :class:`~karvan.network.demand.Demand` and plain numbers
    (``gap="1e-4"`` failed deep inside with a comparison of str and float, a demand array with
    "no attribute 'names'").

    Raises
    ------
    TypeError
        Naming each argument of another kind and what was given.
    """
    from karvan.network.demand import Demand

    # a Network or CompiledGraph exists only once its module is imported
    kinds = tuple(k for k in (getattr(sys.modules.get("karvan.network.model"), "Network", None),
                              getattr(sys.modules.get("karvan.network.graph"), "CompiledGraph",
                                      None)) if k is not None)
    wrong = []
    if not isinstance(network, kinds):
        wrong.append(f"network must be a karvan Network (read_gmns, read_tntp(...).network or "
                     f"Network(nodes, links)), got {type(network).__name__}")
    if not isinstance(demand, Demand):
        wrong.append(f"demand must be a karvan Demand (Demand(zone_ids, {{name: matrix}}) or "
                     f"Demand.from_long(table)), got {type(demand).__name__}")
    for name, v in numbers.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, _n.Real)):
            wrong.append(f"{name} must be a number, got {type(v).__name__} {v!r}")
    if wrong:
        raise TypeError("; ".join(wrong) + ".")


def stated_factors(network: Any, toll_factor: float | None, distance_factor: float | None
                   ) -> tuple[float, float]:
    """The cost weights of an assignment's default class: each as given, or where None the
    one the network's file states (``network.config``: TNTP's ``<TOLL FACTOR>`` and
    ``<DISTANCE FACTOR>``), else 0. A network read with stated factors and assigned without
    them ignored its tolls.

    Examples
    --------
    >>> class Net:
    ...     config = {"toll_factor": 0.5}
    >>> stated_factors(Net(), None, None), stated_factors(Net(), 0.0, 2.0)
    ((0.5, 0.0), (0.0, 2.0))
    """
    config = getattr(network, "config", None) or {}
    return (float(config.get("toll_factor", 0.0)) if toll_factor is None else toll_factor,
            float(config.get("distance_factor", 0.0)) if distance_factor is None
            else distance_factor)
