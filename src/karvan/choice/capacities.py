"""Hard capacities as side constraints of the equilibrium.

A capacity bounds the volume (capacity units, as the delay functions read it) on one arc, on
both directions of a link together (an annual throughput), or on a group of arcs (a terminal with
several quays): ``S_j = sum of the volumes of its arcs <= C_j``. The equilibrium solves them by an
augmented Lagrangian (Larsson and Patriksson 1995; Nie, Zhang and Lee 2004): arcs of constraint j
cost ``max(0, mu_j + rho_j (S_j - C_j))`` on top of their time, the inner equilibrium is solved
with that cost, and ``mu_j`` is updated to that value until no capacity is exceeded. The final
``mu_j`` is the queueing delay (in time units) a user pays to use the element: the shadow price of
its capacity. Demand that no route can carry within the capacities takes an artificial
alternative per OD pair at ``unserved_cost`` and is reported.

References
----------
T. Larsson and M. Patriksson, "An augmented Lagrangean dual algorithm for link capacity side
constrained traffic assignment problems", Transportation Research B 29(6), 433-455, 1995.
Y. Nie, H. M. Zhang and D.-H. Lee, "Models and algorithms for the traffic assignment problem with
link capacity constraints", Transportation Research B 38(4), 285-312, 2004.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.network.graph import CompiledGraph, as_bool
from karvan.network.model import Network

DIRECTIONS = ("ab", "ba", "both")


@dataclass(frozen=True, slots=True)
class Capacities:
    """Hard capacities for :func:`~karvan.choice.stochastic_equilibrium` and
    :func:`~karvan.choice.deterministic_equilibrium`.

    Parameters
    ----------
    table
        Columns ``link_id``, ``direction`` (``ab``: from -> to, ``ba``: to -> from of an
        undirected link, ``both``: the two directions together) and ``capacity`` (capacity
        units per period, > 0); optional ``constraint_id``: rows that share one form a single
        constraint on the sum of their volumes (they must give the same capacity). Without it,
        each row is a constraint named by its link id and direction.
    unserved_cost
        Generalized cost (time units) of leaving one unit of demand unserved, one value or one
        per class name; default 10 times the largest free-flow cost of a route of the class
        (plus 40 / theta in the stochastic equilibrium, so that logit leaves less than
        exp(-40) of the demand unserved where capacities allow).
    tol
        Relative excess ``(S - C) / C`` allowed at the returned solution.
    max_rounds
        Multiplier updates before giving up (then ``converged`` is False).
    """

    table: pd.DataFrame
    unserved_cost: float | Mapping[str, float] | None = None
    tol: float = 1e-7
    max_rounds: int = 60


@dataclass(frozen=True, slots=True, eq=False)
class CompiledCapacities:
    """Constraint arrays for the kernels: arcs per constraint and constraints per arc."""

    ids: np.ndarray
    cons_ptr: np.ndarray
    cons_arcs: np.ndarray
    cap: np.ndarray
    arc_cons_ptr: np.ndarray
    arc_cons: np.ndarray

    @property
    def n(self) -> int:
        """Number of constraints."""
        return int(self.cap.shape[0])


def no_capacities(n_arcs: int) -> CompiledCapacities:
    """The constraint arrays of a problem without capacities."""
    e = np.zeros(0, dtype=np.int64)
    return CompiledCapacities(ids=np.zeros(0, dtype=object), cons_ptr=np.zeros(1, dtype=np.int64),
                              cons_arcs=e, cap=np.zeros(0),
                              arc_cons_ptr=np.zeros(n_arcs + 1, dtype=np.int64), arc_cons=e)


def compile_capacities(caps: Capacities, graph: CompiledGraph) -> CompiledCapacities:
    """Check the capacity table against the graph and build the constraint arrays.

    Raises
    ------
    InputError
        Listing unknown links, impossible directions, missing or non-positive capacities and
        constraints whose rows disagree.
    """
    t = caps.table
    problems: list[str] = []
    for col in ("link_id", "capacity"):
        if col not in t:
            problems.append(f"the capacity table has no {col} column.")
    if problems:
        raise InputError(problems, "capacities")
    if not (np.isfinite(caps.tol) and caps.tol >= 0):
        problems.append(f"tol must be a number >= 0, got {caps.tol!r}.")
    direction = (t["direction"].astype(str).str.strip().str.lower() if "direction" in t
                 else pd.Series("ab", index=t.index))
    bad = ~direction.isin(DIRECTIONS)
    if bad.any():
        problems.append(f"{int(bad.sum())} rows have a direction other than ab, ba, both "
                        f"(rows {format_ids(t.index[bad])}).")
    cap = pd.to_numeric(t["capacity"], errors="coerce")
    badc = ~(cap > 0) | ~np.isfinite(cap)
    if badc.any():
        problems.append(f"{int(badc.sum())} rows have a capacity that is missing, not a number "
                        f"or <= 0 (link_id {format_ids(t.loc[badc, 'link_id'])}); a hard "
                        "capacity must be a positive number.")
    lid = pd.Index(graph.link_ids)
    pos = lid.get_indexer(t["link_id"])
    unknown = pos < 0
    if unknown.any():
        problems.append(f"{int(unknown.sum())} rows name links that are not in the network "
                        f"(link_id {format_ids(t.loc[unknown, 'link_id'])}).")
    own = (t["link_id"].astype(str) + ":" + direction).to_numpy()
    if "constraint_id" in t:
        # a blank constraint_id is the row's own constraint, not one shared by every blank row
        given = t["constraint_id"]
        blank = (given.isna() | given.astype(str).str.strip().isin(["", "nan", "None"])
                 ).to_numpy()
        cid = np.where(blank, own, given.astype(str).to_numpy())
    else:
        cid = own
    arcs_of: dict[str, list[int]] = {}
    cap_of: dict[str, float] = {}
    no_arc = []
    for i in range(len(t)):
        if unknown[i] or bad.iloc[i] or badc.iloc[i]:
            continue
        arcs = np.flatnonzero(graph.arc_link == pos[i])
        dirs = graph.arc_dir[arcs]
        dr = direction.iloc[i]
        if dr == "ab":
            arcs = arcs[dirs > 0]
        elif dr == "ba":
            arcs = arcs[dirs < 0]
        if not len(arcs):
            no_arc.append(t["link_id"].iloc[i])
            continue
        c = float(cap.iloc[i])
        if cid[i] in cap_of and cap_of[cid[i]] != c:
            problems.append(f"constraint {cid[i]!r} has rows with different capacities "
                            f"({cap_of[cid[i]]:g} and {c:g}).")
        cap_of[cid[i]] = c
        arcs_of.setdefault(cid[i], []).extend(int(a) for a in arcs)
    if no_arc:
        problems.append(f"{len(no_arc)} rows ask for direction ba of a directed link (link_id "
                        f"{format_ids(no_arc)}); use ab.")
    if problems:
        raise InputError(problems, "capacities")
    ids = list(arcs_of)
    cons_arcs = [np.unique(arcs_of[c]) for c in ids]
    cons_ptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in cons_arcs], out=cons_ptr[1:])
    flat = np.concatenate(cons_arcs).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(ids)), np.diff(cons_ptr))
    order = np.argsort(flat, kind="stable")
    arc_cons_ptr = np.zeros(graph.n_arcs + 1, dtype=np.int64)
    np.cumsum(np.bincount(flat, minlength=graph.n_arcs), out=arc_cons_ptr[1:])
    return CompiledCapacities(ids=np.array(ids, dtype=object), cons_ptr=cons_ptr,
                              cons_arcs=flat, cap=np.array([cap_of[c] for c in ids]),
                              arc_cons_ptr=arc_cons_ptr, arc_cons=owner[order].astype(np.int64))


def capacities_from_links(network: Network, column: str = "capacity", *,
                          both_directions: bool | str = False,
                          unserved_cost: float | Mapping[str, float] | None = None
                          ) -> Capacities:
    """Hard capacities from a link column: every link with a positive finite value.

    Parameters
    ----------
    network
        The network whose link table holds the column.
    column
        Capacity per link (capacity units).
    both_directions
        True: the capacity of an undirected link bounds its two directions together; False:
        each direction has it; a column name: a true/false column saying which links are which.
    unserved_cost
        See :class:`Capacities`.

    Raises
    ------
    InputError
        When the column is missing.
    """
    links = network.links
    if column not in links:
        raise InputError(f"the link table has no {column!r} column.")
    cap = pd.to_numeric(links[column], errors="coerce")
    sel = links.index[(cap > 0) & np.isfinite(cap)]
    directed = (pd.Series(as_bool(links["directed"]), index=links.index) if "directed" in links
                else pd.Series(True, index=links.index))
    if isinstance(both_directions, str):
        if both_directions not in links:
            raise InputError(f"the link table has no {both_directions!r} column.")
        both = pd.Series(as_bool(links[both_directions]), index=links.index)
    else:
        both = pd.Series(bool(both_directions), index=links.index)
    rows = []
    for lk in sel:
        c = float(cap[lk])
        if directed[lk]:
            rows.append((lk, "ab", c))
        elif both[lk]:
            rows.append((lk, "both", c))
        else:
            rows.extend([(lk, "ab", c), (lk, "ba", c)])
    return Capacities(pd.DataFrame(rows, columns=["link_id", "direction", "capacity"]),
                      unserved_cost=unserved_cost)
