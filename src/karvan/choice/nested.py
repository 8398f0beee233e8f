"""Nested logit over route families: the corridor choice of issue 8.

Routes of an OD pair belong to families (all-water via Suez, INSTC West rail, the Middle
Corridor, ...), each a nest of a nested logit. A route's utility is
``V = -theta * (cost + constant[class, family]) + beta * ln PS``: the alternative-specific
constant is a cost (time units, as every cost here; negative favours the family). Within a nest
the routes compete with scale ``scale_f`` (0 < scale <= 1; 1: no more alike than routes of
different families), and the nests by their inclusive values:

    P(r) = P(f) P(r | f),  P(r | f) = exp(V_r / scale_f) / sum_{r' in f} exp(V_r' / scale_f),
    P(f) = exp(I_f) / sum_g exp(I_g),  I_f = scale_f ln sum_{r' in f} exp(V_r' / scale_f),

over the nests present in the OD pair. A route of no family is a nest of its own.

A route belongs to the first family (in the order given) whose links it uses, or to the family
named by the waypoints that forced it (:class:`~karvan.choice.Waypoints` of the same name).

The equilibrium with nested shares (``stochastic_equilibrium(..., nests=...)``) averages route
flows by MSA toward the nested-logit loading at the current costs; the reported gap is the same
distance of the flows from that loading.

References
----------
M. Ben-Akiva and S. R. Lerman, Discrete Choice Analysis, MIT Press, 1985, chapter 10.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from karvan.choice.routes import RouteSet
from karvan.errors import InputError, format_ids
from karvan.kernels import logit as KL


@dataclass(frozen=True, slots=True)
class Nests:
    """Route families as nests.

    Parameters
    ----------
    links
        Family name -> link ids whose use puts a route in the family, in priority order (a
        route using links of two families belongs to the first).
    scale
        Family name -> nest scale in (0, 1]; default 1 for every family.
    constants
        Alternative-specific constants (time units): a table with columns ``family``,
        ``class`` (optional: all classes when absent or blank; a row for one class overrides
        the row for all) and ``constant``; or a mapping family -> constant for every class.
    nest_of
        Family -> nest name, when several families share a nest (the corridor's all-water
        families, say): the routes of the families of one nest compete within it with the
        nest's scale, each family keeping its constants. Default: every family is a nest of
        its own. With ``nest_of``, ``scale`` is keyed by nest name.
    classify
        Family index (in :attr:`names`, -1 for none) of every route of a route set, when the
        rule of ``links`` (the first family whose links a route uses, or its waypoints' name)
        does not describe the families; called again when column generation adds routes.
    require_members
        Raise when a family has no route in the route set (default). False: such families
        simply do not compete (a corridor family that no OD pair of a scenario can use).
    """

    links: Mapping[str, Sequence]
    scale: Mapping[str, float] = field(default_factory=dict)
    constants: pd.DataFrame | Mapping[str, float] | None = None
    nest_of: Mapping[str, str] | None = None
    classify: Callable[[RouteSet], np.ndarray] | None = None
    require_members: bool = True

    @property
    def names(self) -> list[str]:
        """Family names, in priority order."""
        return list(self.links)

    @property
    def nest_names(self) -> list[str]:
        """Nest names: the families themselves, or the distinct values of ``nest_of`` in the
        order of the families."""
        if self.nest_of is None:
            return self.names
        return list(dict.fromkeys(str(self.nest_of.get(f, f)) for f in self.names))


@dataclass(frozen=True, slots=True, eq=False)
class CompiledNests:
    """Nest arrays: the family of each route, the scale of each nest, constants per class and
    family, and the nest of each family."""

    names: tuple[str, ...]
    family: np.ndarray
    scale: np.ndarray
    asc: np.ndarray
    nest: np.ndarray | None = None


def check_nests(nests: Nests, class_names: Sequence[str], link_ids) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Check the nests against the classes and links; return (scale per family, constants
    (n_classes, n_families)).

    Raises
    ------
    InputError
        Listing every problem: a nest with no link, unknown links, scales outside (0, 1],
        constants for unknown families or classes, non-numeric constants.
    """
    problems: list[str] = []
    names = nests.names
    if not names:
        problems.append("no route family given.")
    known_links = set(np.asarray(link_ids).tolist())
    for f, ls in (nests.links.items() if nests.classify is None else ()):
        ls = list(ls)
        if not ls:
            problems.append(f"nest {f!r} has no member: give it at least one link id.")
            continue
        bad = [x for x in ls if x not in known_links]
        if bad:
            problems.append(f"nest {f!r} names links that are not in the network "
                            f"({format_ids(bad)}).")
    if nests.nest_of is not None:
        bad = sorted(set(map(str, nests.nest_of)) - set(names))
        if bad:
            problems.append(f"nest_of names unknown families {format_ids(bad)} (families: "
                            f"{format_ids(names)}).")
    nest_names = nests.nest_names
    what = "families" if nests.nest_of is None else "nests"
    unknown = sorted(set(map(str, nests.scale)) - set(nest_names))
    if unknown:
        problems.append(f"scales given for unknown {what} {format_ids(unknown)} ({what}: "
                        f"{format_ids(nest_names)}).")
    scale = np.ones(len(nest_names))
    for i, f in enumerate(nest_names):
        v = nests.scale.get(f, 1.0)
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = np.nan
        if not (0.0 < v <= 1.0):
            problems.append(f"nest {f!r}: scale must be in (0, 1], got {nests.scale.get(f)!r}.")
        scale[i] = v
    asc = np.zeros((len(class_names), len(names)))
    c = nests.constants
    if c is not None:
        if isinstance(c, Mapping):
            c = pd.DataFrame({"family": list(c), "constant": list(c.values())})
        missing = [col for col in ("family", "constant") if col not in c]
        if missing:
            problems.append(f"the constants table lacks column(s) {', '.join(missing)}.")
        else:
            fam = c["family"].astype(str)
            bad = sorted(set(fam) - set(names))
            if bad:
                problems.append(f"constants for unknown families {format_ids(bad)} (families: "
                                f"{format_ids(names)}).")
            cls = (c["class"].astype(str).where(c["class"].notna(), "")
                   if "class" in c else pd.Series("", index=c.index))
            badc = sorted(set(cls[cls != ""]) - set(class_names))
            if badc:
                problems.append(f"constants for unknown classes {format_ids(badc)} (classes: "
                                f"{format_ids(class_names)}).")
            val = pd.to_numeric(c["constant"], errors="coerce")
            if (~np.isfinite(val)).any():
                problems.append(f"{int((~np.isfinite(val)).sum())} constants are not numbers.")
            if not problems:
                # rows for all classes first, then the rows of one class override them
                for f, k, v in zip(fam, cls, val, strict=True):
                    if k == "":
                        asc[:, names.index(f)] = v
                for f, k, v in zip(fam, cls, val, strict=True):
                    if k != "":
                        asc[list(class_names).index(k), names.index(f)] = v
    if problems:
        raise InputError(problems, "nests")
    return scale, asc


def route_families(rs: RouteSet, nests: Nests) -> np.ndarray:
    """Family index (in ``nests.names``) of every route, -1 for none (see the module notes, or
    ``nests.classify`` when given).

    Raises
    ------
    InputError
        When ``nests.classify`` returns something other than one family index per route.
    """
    if nests.classify is not None:
        fam = np.asarray(nests.classify(rs), dtype=np.int64)
        if fam.shape != (rs.n_routes,) or ((fam < -1) | (fam >= len(nests.names))).any():
            raise InputError("the nests' classify function must return one family index "
                             f"(-1 to {len(nests.names) - 1}) per route.", "nests")
        return fam
    g = rs.graph
    names = nests.names
    lid = pd.Index(g.link_ids)
    arc_fam = np.full(g.n_arcs, len(names), dtype=np.int64)
    for i in range(len(names) - 1, -1, -1):
        pos = lid.get_indexer(list(nests.links[names[i]]))
        arc_fam[np.isin(g.arc_link, pos[pos >= 0])] = i
    fam_of_arc = arc_fam[rs.route_arcs]
    lens = np.diff(rs.route_ptr)
    fam = np.full(rs.n_routes, len(names), dtype=np.int64)
    has = lens > 0
    fam[has] = np.minimum.reduceat(fam_of_arc, rs.route_ptr[:-1][has])
    fam[fam == len(names)] = -1
    for j, lab in enumerate(rs.labels):
        if lab in names:
            fam[rs.route_label == j] = names.index(lab)
    return fam


def compile_nests(nests: Nests, rs: RouteSet) -> CompiledNests:
    """Check the nests and classify the routes.

    Raises
    ------
    InputError
        As :func:`check_nests`, and for a family no route of the set belongs to.
    """
    scale, asc = check_nests(nests, rs.class_names, rs.graph.link_ids)
    fam = route_families(rs, nests)
    empty = [f for i, f in enumerate(nests.names) if not (fam == i).any()]
    if empty and nests.require_members:
        raise InputError(f"nests {format_ids(empty)} have no member: no route of any OD pair "
                         "uses their links (add waypoints so that each family has a route, or "
                         "drop the nest).", "nests")
    nest = None
    if nests.nest_of is not None:
        pos = {n: i for i, n in enumerate(nests.nest_names)}
        nest = np.array([pos[str(nests.nest_of.get(f, f))] for f in nests.names],
                        dtype=np.int64)
    return CompiledNests(tuple(nests.names), fam, scale, asc, nest)


def nested_logit_shares(rs: RouteSet, cost: np.ndarray, theta: np.ndarray, cn: CompiledNests,
                        lnps: np.ndarray | None = None) -> np.ndarray:
    """Share of every route of ``rs`` within its OD pair at route costs ``cost`` (time units),
    dispersion ``theta`` per class, with the nests ``cn`` (see the module notes)."""
    lnps = np.zeros(rs.n_routes) if lnps is None else lnps
    if cn.nest is None:
        return KL.nested_shares(rs.od_ptr, rs.od_class, np.ascontiguousarray(cost, dtype=float),
                                lnps, np.asarray(theta, dtype=float), cn.family, cn.scale,
                                np.ascontiguousarray(cn.asc), np.empty(rs.n_routes))
    # families grouped in nests: each route's family constant joins its cost, and the nests
    # are the kernel's groups
    fam = cn.family
    has = fam >= 0
    cost = np.array(cost, dtype=float)
    cls = rs.od_class[rs.route_od]
    cost[has] += cn.asc[cls[has], fam[has]]
    group = np.where(has, cn.nest[np.maximum(fam, 0)], -1).astype(np.int64)
    return KL.nested_shares(rs.od_ptr, rs.od_class, cost, lnps, np.asarray(theta, dtype=float),
                            group, cn.scale, np.zeros((len(rs.class_names), len(cn.scale))),
                            np.empty(rs.n_routes))
