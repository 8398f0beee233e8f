"""The arrays of a choice problem: compiled graph, classes, their fixed arc costs and demand.

Class costs follow :class:`karvan.TrafficClass`: generalized cost in time units,
``time + (sum of weight * link[field] + link_cost) / value_of_time``, as the deterministic
assignment uses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.assign import TrafficClass
from karvan.assign.classes import nonfinite_cost_message
from karvan.errors import InputError, format_ids
from karvan.kernels._jit import num_threads
from karvan.network.demand import Demand
from karvan.network.graph import CompiledGraph, compile_graph, links_in_graph_order
from karvan.network.model import Network, complete_links


@dataclass(frozen=True, slots=True, eq=False)
class ClassArrays:
    """Graph, classes and the per-class arrays the kernels read."""

    graph: CompiledGraph
    classes: tuple[TrafficClass, ...]
    zone_ids: tuple
    zone_nodes: np.ndarray
    mats: tuple[np.ndarray, ...]
    fixed: np.ndarray
    pce: np.ndarray
    vot: np.ndarray
    n_chunks: int

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def free_costs(self) -> np.ndarray:
        """(n_classes, n_arcs) generalized cost at zero volume (time units)."""
        return self.graph.free_flow_time[None, :] + self.fixed


def setup(
    network: Network | CompiledGraph,
    demand: Demand,
    classes: Sequence[TrafficClass] | None = None,
    *,
    toll_factor: float | None = None,
    distance_factor: float | None = None,
    links: pd.DataFrame | None = None,
) -> ClassArrays:
    """Compile the network (unless compiled), check the classes against the demand and the link
    table, and build each class's fixed arc costs.

    Raises
    ------
    InputError
        On a bad network, an unknown demand matrix or cost field, blank cost values, or negative
        fixed costs.
    """
    from karvan.network.arguments import check_arguments, stated_factors

    check_arguments(network, demand, toll_factor=toll_factor, distance_factor=distance_factor)
    # the user's call is the public function's caller, two frames above this one
    toll_factor, distance_factor = stated_factors(network, toll_factor, distance_factor,
                                                  classes=classes, stacklevel=4)
    if isinstance(network, CompiledGraph):
        graph = network
        if links is None:
            links = pd.DataFrame({"toll": _link_values(graph, graph.toll),
                                  "length": _link_values(graph, graph.length)},
                                 index=pd.Index(graph.link_ids, name="link_id"))
        links = links_in_graph_order(graph, links)  # by link_id, not by row position
        if not isinstance(links, pd.DataFrame):
            links = pd.DataFrame(dict(links), index=pd.Index(graph.link_ids, name="link_id"))
    else:
        graph = compile_graph(network)
        links = complete_links(network.links)
    if classes is None:
        if not demand.names:
            raise InputError("the demand has no matrix.")
        name = "demand" if "demand" in demand.matrices else demand.names[0]
        fields = {}
        if toll_factor:
            fields["toll"] = toll_factor
        if distance_factor:
            fields["length"] = distance_factor
        classes = [TrafficClass("all", name, cost_fields=fields)]
    classes = tuple(classes)
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise InputError(f"class names repeat: {format_ids(names)}.")
    zi = graph.zone_index(list(demand.zone_ids))
    problems: list[str] = []
    fixed = np.zeros((len(classes), graph.n_arcs))
    mats = []
    for k, c in enumerate(classes):
        if c.demand not in demand.matrices:
            problems.append(f"class {c.name!r} names demand {c.demand!r}, which is not among "
                            f"{format_ids(demand.names)}.")
            continue
        m = np.array(demand.matrices[c.demand], dtype=float)
        np.fill_diagonal(m, 0.0)
        mats.append(m)
        money = np.zeros(graph.n_links)
        for col, w in c.cost_fields.items():
            if col not in links:
                problems.append(f"class {c.name!r}: cost field {col!r} is not a link column.")
                continue
            vals = pd.to_numeric(links[col], errors="coerce").to_numpy(dtype=float)
            if w != 0 and np.isnan(vals).any():
                bad = links.index[np.isnan(vals)]
                problems.append(f"class {c.name!r}: cost field {col!r} is blank or non-numeric "
                                f"on {len(bad)} links (link_id {format_ids(bad)}).")
                continue
            if w != 0 and np.isinf(vals).any():
                problems.append(nonfinite_cost_message(c.name, f"cost field {col!r}",
                                                       links.index[np.isinf(vals)]))
                continue
            if w != 0:
                money += w * vals
        if c.link_cost is not None:
            lc = np.asarray(c.link_cost, dtype=float)
            if lc.shape != (graph.n_links,):
                problems.append(f"class {c.name!r}: link_cost has shape {lc.shape}, expected "
                                f"({graph.n_links},).")
            elif not np.isfinite(lc).all():
                problems.append(nonfinite_cost_message(c.name, "link_cost",
                                                       graph.link_ids[~np.isfinite(lc)]))
            else:
                money += lc
        fixed[k] = graph.to_arcs(money / c.value_of_time)
    if problems:
        raise InputError(problems, "route choice")
    # negative fixed costs are allowed where the cost at free flow is not negative (every delay
    # function is at least the free-flow time)
    neg = np.flatnonzero((graph.free_flow_time[None, :] + fixed < 0).any(axis=0))
    if len(neg):
        raise InputError(f"{len(neg)} arcs have a negative cost at free flow for a class "
                         "(free-flow time plus the class's money cost over its value of time; "
                         f"link_id {format_ids(graph.link_ids[graph.arc_link[neg]])}); route "
                         "searches need non-negative costs.")
    return ClassArrays(graph=graph, classes=classes, zone_ids=tuple(demand.zone_ids),
                       zone_nodes=graph.zone_nodes[zi], mats=tuple(mats), fixed=fixed,
                       pce=np.array([c.pce for c in classes], dtype=float),
                       vot=np.array([c.value_of_time for c in classes], dtype=float),
                       n_chunks=max(1, num_threads()))


def per_class(value: float | Mapping[str, float], classes: Sequence[TrafficClass], what: str,
              *, positive: bool = True, allow_inf: bool = False) -> np.ndarray:
    """One value per class from a number or a mapping class name -> number, checked.

    Raises
    ------
    InputError
        On a missing or unknown class name, or a value that is not a positive finite number.
    """
    names = [c.name for c in classes]
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(names))
        missing = [n for n in names if n not in value]
        problems = []
        if unknown:
            problems.append(f"{what} given for unknown classes {format_ids(unknown)} (classes: "
                            f"{format_ids(names)}).")
        if missing:
            problems.append(f"{what} missing for classes {format_ids(missing)}.")
        if problems:
            raise InputError(problems)
        vals = [value[n] for n in names]
    else:
        vals = [value] * len(names)
    out = np.empty(len(vals))
    for i, v in enumerate(vals):
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{what} of class {names[i]!r} is {v!r}, not a number.") from None
        ok = (x > 0 if positive else x >= 0) and (np.isfinite(x) or (allow_inf and x > 0))
        if not ok:
            raise InputError(f"{what} of class {names[i]!r} is {x:g}; it must be a "
                             f"{'positive' if positive else 'non-negative'} finite number.")
        out[i] = x
    return out


def _link_values(graph: CompiledGraph, arc_values: np.ndarray) -> np.ndarray:
    out = np.zeros(graph.n_links)
    out[graph.arc_link] = arc_values
    return out
