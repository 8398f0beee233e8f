"""Checks of the kinds of an assignment's arguments, without importing pandas or the network
tables (the compiled path of ``karvan assign`` imports neither)."""

from __future__ import annotations

import numbers as _n
import sys
import warnings
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


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool) that is finite: a Python or numpy number,
    a Fraction, an int too large for a float (not finite as a float: False).

    Examples
    --------
    >>> from fractions import Fraction
    >>> [finite_number(x) for x in (1e-4, Fraction(1, 10**6), float("inf"), float("nan"),
    ...                             "0.1", None, True, 10**400)]
    [True, True, False, False, False, False, False, False]
    """
    import math

    if isinstance(value, bool) or not isinstance(value, _n.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond a float
        return False


def stated_factors(network: Any, toll_factor: float | None, distance_factor: float | None,
                   *, classes: Any = None, stacklevel: int = 3) -> tuple[float, float]:
    """The cost weights of an assignment's default class: each as given, else 0. Where one is
    left out (None) and the network is a TNTP network whose files or reader state it
    (``network.config``: ``<TOLL FACTOR>``, ``<DISTANCE FACTOR>``, or the factors given to
    ``read_tntp``), a warning says that it is not applied and how to apply it: the network
    was assigned without its tolls in silence. Not where ``classes`` are given (the factors
    shape only the default class; the classes' own cost fields hold the tolls). ``stacklevel``
    names the user's call (3 from a function that calls this one directly).

    Examples
    --------
    >>> import warnings
    >>> class Net:
    ...     config = {"format": "tntp", "toll_factor": 0.5}
    >>> stated_factors(Net(), 0.0, 2.0)
    (0.0, 2.0)
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     stated_factors(Net(), None, None)
    (0.0, 0.0)
    >>> "toll_factor=0.5" in str(w[0].message)
    True
    """
    config = getattr(network, "config", None) or {}
    if classes is None and config.get("format") == "tntp":
        left = [f"{k}={config[k]!r}" for k, v in (("toll_factor", toll_factor),
                                                  ("distance_factor", distance_factor))
                if v is None and config.get(k)]
        if left:
            from karvan.errors import CostFactorWarning

            warnings.warn(f"the network's TNTP files state {', '.join(left)}, which this "
                          "assignment leaves out (it weighs time alone); pass "
                          f"{', '.join(left)} to apply them (read_tntp's problem.toll_factor "
                          "and distance_factor hold them), or 0 to say that they are not "
                          "wanted.", CostFactorWarning, stacklevel=stacklevel)
    return (0.0 if toll_factor is None else toll_factor,
            0.0 if distance_factor is None else distance_factor)
