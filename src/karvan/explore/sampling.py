"""Designs: the points of the unit cube at which an experiment evaluates its models.

- ``lhs``: a Latin hypercube of ``draws`` points (scipy's :class:`~scipy.stats.qmc.LatinHypercube`);
  bands, probabilities and Spearman rank correlations come from it.
- ``sobol``: Saltelli's scheme on a scrambled Sobol sequence (SALib): ``draws`` base points give
  ``draws * (G + 2)`` evaluations for G sensitivity groups (first and total order indices);
  ``draws`` must be a power of 2.
- ``morris``: Morris trajectories (SALib), ``draws * (G + 1)`` evaluations; screening for when
  evaluations are few. The grid's :data:`MORRIS_LEVELS` levels are the centres of as many equal
  strata of each input's probability (1/8, 3/8, 5/8, 7/8), not SALib's 0, 1/3, 2/3, 1: those
  are the ends of the distributions, where a lognormal input would be drawn about 7 standard
  deviations out. Its bands are those of a 4-level grid, coarse beside a Latin hypercube's.

Sensitivity groups: the factors of the inputs (``groups="factor"``), or one group per table and
field (``groups="field"``: ``demand.tonnes``, ``link.capacity``, ...), which needs far fewer
evaluations for Sobol indices. Every design point varies every factor independently; groups only
decide which factors move together between the matrices of the Saltelli and Morris schemes. The
factors that draw jointly (:attr:`~karvan.explore.inputs.InputSet.correlation`: the choice
model's fitted parameters, with the correlations of their fit) are one group,
:data:`JOINT_GROUP`, under either grouping: groups are then independent of each other, so a
group's Sobol indices do not depend on the order of its factors (Jacques, Lavergne and Devictor
2006), whereas an index of one correlated factor's design dimension would (Mara, Tarantola and
Annoni 2015).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from karvan.errors import InputError, catch_warnings
from karvan.explore.inputs import JOINT_GROUP, InputSet

SAMPLERS = ("lhs", "sobol", "morris")
GROUPINGS = ("factor", "field")
#: levels of the Morris grid
MORRIS_LEVELS = 4
#: the version of the designs :func:`make_design` draws, recorded in an experiment's manifest
#: (``design_version``): 2, the Morris grid at the centres of its strata; 1, before it, the Morris
#: grid at SALib's levels 0, 1/3, 2/3, 1 (the ends of the distributions), whose elementary
#: effects the analysis of version 2 would rescale wrongly. Latin hypercubes and Sobol designs
#: are the same in both.
DESIGN_VERSION = 2


@dataclass(frozen=True, slots=True, eq=False)
class Design:
    """A design: points ``u`` (n, n_factors) in the unit cube and how they were drawn."""

    sampler: str
    base: int
    seed: int
    u: np.ndarray
    factors: tuple[str, ...]
    groups: tuple[str, ...]
    group_of: tuple[str, ...]

    @property
    def n(self) -> int:
        """The number of points."""
        return int(self.u.shape[0])

    def problem(self) -> dict:
        """The SALib problem of this design (unit bounds; groups where they merge factors)."""
        p = {"num_vars": len(self.factors), "names": list(self.factors),
             "bounds": [[0.0, 1.0]] * len(self.factors)}
        if len(self.groups) != len(self.factors):
            p["groups"] = list(self.group_of)
        return p


def factor_groups(inputs: InputSet, groups: str) -> list[str]:
    """The sensitivity group of each factor of ``inputs``: the factor itself (``factor``) or
    its table and field (``field``), and :data:`JOINT_GROUP` for every factor that draws
    jointly with others (``inputs.correlation``).

    Raises
    ------
    InputError
        When ``groups`` is not one of :data:`GROUPINGS`.
    """
    if groups == "factor":
        out = list(inputs.factors)
    elif groups == "field":
        first = {}
        for x in inputs.inputs:
            first.setdefault(x.factor, f"{x.table}.{x.field}")
        out = [first[f] for f in inputs.factors]
    else:
        raise InputError(f"unknown grouping {groups!r}; use one of {', '.join(GROUPINGS)}.")
    joint = set(inputs.correlation.factors) if inputs.correlation is not None else set()
    clash = [f for f, g in zip(inputs.factors, out, strict=True)
             if g == JOINT_GROUP and f not in joint]
    if clash:
        raise InputError(f"the factor {JOINT_GROUP!r} would fall into the group of the factors "
                         "that draw jointly, which has that name; rename it (the group of its "
                         "rows in the uncertainty table).")
    return [JOINT_GROUP if f in joint else g for f, g in zip(inputs.factors, out, strict=True)]


def n_groups(inputs: InputSet, groups: str) -> int | None:
    """How many sensitivity groups ``groups`` makes of ``inputs`` (None for an unknown
    grouping, which :func:`check_design_args` names)."""
    if groups not in GROUPINGS:
        return None
    return len(set(factor_groups(inputs, groups)))


def n_joint(inputs: InputSet) -> int:
    """How many factors of ``inputs`` draw jointly (the sensitivity group :data:`JOINT_GROUP`)."""
    return 0 if inputs.correlation is None else len(inputs.correlation.factors)


def check_design_args(sampler: str, draws: int, n_factors: int, groups: str = "factor",
                      n_groups: int | None = None, n_joint: int = 0) -> list[str]:
    """Problems with a design request (empty when it can be drawn); ``n_groups``: the number
    of sensitivity groups (default: one per factor); ``n_joint``: how many of the factors
    draw jointly (:data:`JOINT_GROUP`)."""
    out = []
    if sampler not in SAMPLERS:
        out.append(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 2:
        out.append(f"draws (--draws) must be an integer >= 2, got {draws!r}.")
    elif sampler == "sobol" and draws & (draws - 1):
        lo = 1 << (int(draws).bit_length() - 1)
        out.append(f"the sobol sampler needs a power of 2 for --draws (its base sample), got "
                   f"{draws}; use {lo} or {2 * lo}.")
    if n_factors < 1:
        out.append("there is no uncertain input to draw.")
    elif sampler in ("sobol", "morris") and n_factors < 2 and groups == "factor":
        out.append(f"the {sampler} sampler needs at least 2 factors, got {n_factors}.")
    elif sampler in ("sobol", "morris") and n_groups is not None and n_groups < 2:
        # SALib samples one group as ungrouped factors but analyses it as a group: wrong
        # indices, or an error after every draw has run
        how = ("choose inputs beyond the factors that draw jointly, which are one group "
               f"({JOINT_GROUP}), with --input, or use --sampler lhs, which ranks every "
               "factor apart"
               if n_joint and n_joint == n_factors else
               "use --groups factor, or choose inputs of more than one table and field with "
               "--input")
        out.append(f"the {sampler} sampler needs at least 2 sensitivity groups; the inputs "
                   f"chosen make {n_groups} (--groups {groups}): {how}.")
    if groups not in GROUPINGS:
        out.append(f"unknown grouping {groups!r}; use one of {', '.join(GROUPINGS)}.")
    return out


def make_design(inputs: InputSet, sampler: str, draws: int, seed: int, *,
                groups: str = "factor") -> Design:
    """Draw the design of an experiment; the same arguments give the same points.

    Raises
    ------
    InputError
        An unknown sampler or grouping, ``draws`` < 2, a Sobol base that is not a power of 2.
    """
    problems = check_design_args(sampler, draws, len(inputs.factors), groups,
                                 n_groups(inputs, groups), n_joint(inputs))
    if problems:
        raise InputError(problems)
    group_of = factor_groups(inputs, groups)
    names = tuple(dict.fromkeys(group_of))
    d = len(inputs.factors)
    prob = {"num_vars": d, "names": list(inputs.factors), "bounds": [[0.0, 1.0]] * d}
    if len(names) != d:
        prob["groups"] = group_of
    rng = np.random.default_rng(seed)
    if sampler == "lhs":
        u = _lhs(d, draws, rng)
    elif sampler == "sobol":
        from SALib.sample import sobol

        with catch_warnings():
            # SALib's notes on Sobol balance, not other threads' warnings
            warnings.filterwarnings("ignore", category=UserWarning, module=r"SALib(\.|$)")
            u = sobol.sample(prob, draws, calc_second_order=False, seed=rng)
    else:
        from SALib.sample import morris

        u = morris.sample(prob, draws, num_levels=MORRIS_LEVELS, seed=rng)
        # the grid 0, 1/3, 2/3, 1 onto the centres of MORRIS_LEVELS strata (see the module);
        # the steps keep their sign, so SALib's elementary effects are scaled alike
        u = 0.5 / MORRIS_LEVELS + u * (1.0 - 1.0 / MORRIS_LEVELS)
    return Design(sampler, int(draws), int(seed), np.ascontiguousarray(u, dtype=float),
                  tuple(inputs.factors), names, tuple(group_of))


def morris_design_version(u: np.ndarray) -> int | None:
    """The design version (:data:`DESIGN_VERSION`) of the points ``u`` of a Morris design,
    read from its levels: 2 where every value is a centre of :data:`MORRIS_LEVELS` strata
    (1/8, 3/8, 5/8, 7/8), 1 where every value is a level of SALib's grid (0, 1/3, 2/3, 1),
    None where they are neither. For experiments stored before their manifest recorded it.

    Examples
    --------
    >>> morris_design_version(np.array([[0.125, 0.625], [0.375, 0.875]]))
    2
    >>> morris_design_version(np.array([[0.0, 2 / 3], [1 / 3, 1.0]]))
    1
    """
    n = MORRIS_LEVELS
    u = np.asarray(u, dtype=float)
    for version, levels in ((2, (np.arange(n) + 0.5) / n), (1, np.arange(n) / (n - 1))):
        if np.isclose(u[..., None], levels, rtol=0.0, atol=1e-9).any(axis=-1).all():
            return version
    return None


def _lhs(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=d, rng=rng).random(n)
