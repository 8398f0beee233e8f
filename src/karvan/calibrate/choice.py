"""Calibration of the choice parameters (family constants, dispersion, value of reliability) to
the ``fit`` rows of ``observed.csv``.

The model is a function from a parameter table (the rows of ``choice_parameter.csv``) to the
runs of the observed years (:data:`ParameterRunner`): the base year and the back-casts, each
under the logit choice model. Each fitted parameter (:class:`ChoiceParameter`) names the rows
of the table it sets, either to its value (a family's constant) or to their prior values times
it (one factor on the dispersion of every commodity, on the value of reliability of every
commodity). The fit is the bounded weighted least squares of
:func:`karvan.calibrate.parameters.fit_parameters` on the fit rows, each weighted by the
relative standard error of its confidence; the standard errors come from the Jacobian at the
solution (finite differences, one run of every observed year per parameter).

The prior. Every fitted parameter has a prior value and a prior standard error, read from the
table (:func:`parameter_priors`): the columns ``prior_value`` and ``prior_std_error`` where a
calibration wrote them, else the row's value and a standard error from its confidence (the
relative standard errors of :data:`~karvan.calibrate.parameters.RSE_BY_CONFIDENCE`: of the value
for a factor, of :func:`constant_scale` for a constant, whose prior is 0). The fit starts from the
prior (the rows it sets are reset to their ``prior_value``), so that refitting a calibrated table
gives the same result as fitting the original one, and minimises the weighted sum of squares plus
the prior's penalty (maximum a posteriori): a parameter that the fit rows do not identify stays at
its prior, with its prior's standard error, and is reported as such.

Validation rows are dropped from the observed table before anything is parsed or run: no
validation figure can change the fit. They are compared afterwards, by the caller, with the
runs at the prior and at the fitted values.

Identification. A logit share depends on differences of utility within an OD pair: adding the
same constant to every family changes nothing, so one family per OD pair must keep a fixed
constant (here the all-water families and ``other`` stay at 0, the reference), and a family's
constant is identified only by rows that count its routes. A value of reliability acts through
``value x buffer_family``, which a free constant of the same family absorbs; it is identified
only through the differences between commodities and through the families whose constants are
held. :func:`identification` reports the correlations of the estimates and the rows that no
parameter moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pandas as pd

from karvan.calibrate.parameters import RSE_BY_CONFIDENCE, ParameterFit, fit_parameters
from karvan.errors import InputError, format_ids
from karvan.freight.observed import (
    Observation,
    RunFlows,
    modelled_tonnes,
    observation_matrix,
)
from karvan.freight.observed import parse_observations as _parse

#: parameter table -> the runs (by year) that table gives
ParameterRunner = Callable[[pd.DataFrame], Mapping[int, RunFlows]]


class RunPool(Protocol):
    """Runs of several parameter tables side by side (worker processes, a cluster), each
    reduced where it was run by ``measure`` (picklable: :class:`FitRowMeasure`), so that only
    the small results travel back."""

    def map(self, measure: Callable[[Mapping[int, RunFlows]], np.ndarray],
            tables: Sequence[pd.DataFrame]) -> list[np.ndarray]:
        """``measure`` of the runs of each table, in the order of ``tables``."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class FitRowMeasure:
    """The runs of the observed years -> the modelled value of each fit row, in order: what a
    parameter fit compares (picklable, so that a :class:`RunPool` applies it in its workers)."""

    observations: tuple[Observation, ...]
    zone_country: Mapping[str, str]

    def __call__(self, runs: Mapping[int, RunFlows]) -> np.ndarray:
        """The modelled tonnes of each observation in ``runs`` (by year)."""
        years = np.array([o.year for o in self.observations])
        m = np.zeros(len(self.observations))
        for yr in np.unique(years):
            sel = np.flatnonzero(years == yr)
            a = observation_matrix([self.observations[i] for i in sel], runs[int(yr)],
                                   self.zone_country)
            m[sel] = modelled_tonnes(a, runs[int(yr)])
        return m

#: the columns that identify a row of the parameter table
KEY = ("parameter", "family", "nest", "link_ids", "commodity")


@dataclass(frozen=True, slots=True)
class ChoiceParameter:
    """One fitted parameter and the rows of the parameter table it sets.

    Parameters
    ----------
    name
        Label (``asc_usd_per_t|instc_west_rail``, ``theta|factor``).
    parameter
        The ``parameter`` of the rows it sets.
    family, nest, commodity
        Further selection of the rows (None: any).
    kind
        ``value``: every selected row takes the fitted value (they must agree at the start);
        ``factor``: every selected row takes its prior value times the fitted factor (start 1).
    step
        A typical change of the parameter: the fit works in units of ``step``, and the
        (absolute) finite-difference step of the Jacobian is ``diff_step x step``.
    lower, upper
        Bounds of the fitted value (of the factor for ``kind='factor'``).
    """

    name: str
    parameter: str
    family: str | None = None
    nest: str | None = None
    commodity: str | None = None
    kind: str = "value"
    step: float = 1.0
    lower: float = -np.inf
    upper: float = np.inf

    def rows(self, table: pd.DataFrame, keys: pd.DataFrame | None = None) -> np.ndarray:
        """Boolean mask of the rows of ``table`` this parameter sets.

        The scope columns are read as the choice model reads them
        (:func:`karvan.freight.choice_model.choice_parameters`): a blank or missing family,
        nest or commodity is ``*``, and spaces around a name do not count. ``keys`` is
        :func:`key_columns` of ``table`` where the caller has it (one per table, not per
        parameter).
        """
        keys = key_columns(table) if keys is None else keys
        sel = keys["parameter"] == self.parameter
        for col in ("family", "nest", "commodity"):
            v = getattr(self, col)
            if v is not None:
                sel &= keys[col] == v
        return sel.to_numpy()


def key_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The key columns (:data:`KEY`) of a parameter table as the choice model reads them
    (:func:`karvan.freight.choice_model.choice_parameters`): text without surrounding spaces,
    a blank or missing scope (family, nest, link_ids, commodity) ``*``."""
    out = pd.DataFrame(index=table.index)
    for col in KEY:
        if col not in table:
            out[col] = "" if col == "parameter" else "*"
            continue
        v = table[col].fillna("" if col == "parameter" else "*").astype(str).str.strip()
        out[col] = v if col == "parameter" else v.replace("", "*")
    return out


def asc(family: str, commodity: str = "*", *, nest: str = "*", step: float = 10.0,
        bound: float = 500.0) -> ChoiceParameter:
    """The alternative-specific constant (USD/t) of a family, within ±``bound``.

    ``commodity`` ``*`` (default) sets the family's row for every commodity; a commodity id sets
    that commodity's own row, which the choice model takes over the family's (the most specific
    row applies), so the two are separate parameters. ``family`` ``*`` with a ``nest`` sets the
    nest's row: one constant for every family of the nest (label ``asc_usd_per_t|nest:<nest>``,
    then ``|<commodity>``)."""
    scope = family if nest == "*" else f"nest:{nest}"
    label = f"asc_usd_per_t|{scope}" + ("" if commodity == "*" else f"|{commodity}")
    # a family's row is the family's whatever nest it names; the rows of family * are told
    # apart by their nest: * (every family) is not the row of one nest
    return ChoiceParameter(label, "asc_usd_per_t", family=family,
                           nest=None if nest == "*" and family != "*" else nest,
                           commodity=commodity, step=step, lower=-bound, upper=bound)


def factor(parameter: str, *, step: float = 0.1, lower: float = 0.1, upper: float = 10.0
           ) -> ChoiceParameter:
    """One factor on every row of ``parameter`` (every commodity's dispersion, every
    commodity's value of reliability)."""
    return ChoiceParameter(f"{parameter}|factor", parameter, kind="factor", step=step,
                           lower=lower, upper=upper)


def start_values(table: pd.DataFrame, params: Sequence[ChoiceParameter]) -> np.ndarray:
    """The starting value of every parameter: its rows' common value, or 1 for a factor.

    Raises
    ------
    InputError
        A parameter selecting no row, rows of a ``value`` parameter that disagree, a start
        outside the bounds, duplicate names, an unknown kind.
    """
    problems = []
    x0 = np.ones(len(params))
    names = [p.name for p in params]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"parameters named twice: {format_ids(dup)}.")
    values = pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=float)
    keys = key_columns(table)
    for i, p in enumerate(params):
        sel = p.rows(table, keys)
        if p.kind not in ("value", "factor"):
            problems.append(f"{p.name}: kind must be value or factor, got {p.kind!r}.")
            continue
        if not sel.any():
            problems.append(f"{p.name}: no row of the parameter table has parameter "
                            f"{p.parameter!r}" + "".join(
                                f", {c} {getattr(p, c)!r}" for c in ("family", "nest",
                                                                     "commodity")
                                if getattr(p, c) is not None) + "; add the row first.")
            continue
        v = values[sel]
        if not np.isfinite(v).all():
            problems.append(f"{p.name}: its rows have no numeric value.")
            continue
        if p.kind == "value":
            if np.ptp(v) > 0:
                problems.append(f"{p.name}: its {sel.sum()} rows have different values "
                                f"({format_ids(sorted(set(v.tolist())))}); fit them apart.")
                continue
            x0[i] = v[0]
        if not (p.lower <= x0[i] <= p.upper):
            problems.append(f"{p.name}: start {x0[i]:g} outside [{p.lower:g}, {p.upper:g}].")
    if problems:
        raise InputError(problems, "choice parameters")
    return x0


def start_from(table: pd.DataFrame, start: pd.DataFrame, params: Sequence[ChoiceParameter]
               ) -> np.ndarray:
    """The values of ``params`` that ``start`` holds (for example an earlier calibrated
    ``choice_parameter.csv``), as a fit's starting point: a ``value`` parameter's common value in
    ``start``; a factor, the common ratio of its rows in ``start`` to their prior in ``table``
    (its ``prior_value`` where given, else its ``value``). ``apply_parameters(table, params, x)``
    gives back ``x``.

    Raises
    ------
    InputError
        A parameter with no row in ``start`` (rows are matched on the key columns), rows whose
        values or ratios disagree, a ratio to a prior of 0, or a value outside the bounds;
        every problem at once.
    """
    prior = reset_to_prior(table, params)
    problems = []
    x = np.ones(len(params))
    base = pd.Series(pd.to_numeric(prior["value"], errors="coerce").to_numpy(dtype=float),
                     index=pd.MultiIndex.from_frame(key_columns(prior)))
    got = start
    for c in (*KEY, "value"):
        if c not in got:
            problems.append(f"the start table has no column {c!r}.")
    if problems:
        raise InputError(problems, "choice parameters (start)")
    vals = pd.to_numeric(got["value"], errors="coerce").to_numpy(dtype=float)
    got_keys = key_columns(got)
    for i, p in enumerate(params):
        sel = p.rows(got, got_keys)
        if not sel.any():
            problems.append(f"{p.name}: no row of the start table sets it.")
            continue
        v = vals[sel]
        if p.kind == "factor":
            keys = pd.MultiIndex.from_frame(got_keys.loc[sel])
            b = base.reindex(keys).to_numpy(dtype=float)
            if not (np.isfinite(b).all() and (b != 0).all()):
                problems.append(f"{p.name}: rows of the start table without a non-zero "
                                "prior in the dataset's table.")
                continue
            v = v / b
        if not np.isfinite(v).all():
            problems.append(f"{p.name}: rows of the start table without a numeric value.")
            continue
        if np.ptp(v) > 1e-9 * max(1.0, float(np.abs(v).max())):
            what = "ratios to the prior" if p.kind == "factor" else "values"
            problems.append(f"{p.name}: its rows in the start table have different {what} "
                            f"({format_ids(sorted(set(np.round(v, 6).tolist())))}).")
            continue
        x[i] = float(np.mean(v))
        if not (p.lower <= x[i] <= p.upper):
            problems.append(f"{p.name}: start {x[i]:g} outside [{p.lower:g}, {p.upper:g}].")
    if problems:
        raise InputError(problems, "choice parameters (start)")
    return x


def apply_parameters(table: pd.DataFrame, params: Sequence[ChoiceParameter], x: Sequence[float],
                     *, prior: pd.DataFrame | None = None) -> pd.DataFrame:
    """The parameter table with ``x`` written into the rows of each parameter (a factor
    multiplies the rows' values in ``prior``, default ``table``)."""
    prior = table if prior is None else prior
    out = table.copy()
    base = pd.to_numeric(prior["value"], errors="coerce").to_numpy(dtype=float)
    vals = pd.to_numeric(out["value"], errors="coerce").to_numpy(dtype=float).copy()
    keys = key_columns(out)
    for p, v in zip(params, x, strict=True):
        sel = p.rows(out, keys)
        vals[sel] = float(v) if p.kind == "value" else base[sel] * float(v)
    out["value"] = vals
    return out


def reset_to_prior(table: pd.DataFrame, params: Sequence[ChoiceParameter]) -> pd.DataFrame:
    """The table with every row a parameter sets back at its ``prior_value`` (where the column
    gives one): a calibrated table becomes the prior it was fitted from. Rows a parameter sets
    that give no ``prior_value`` get their value as one (the column is added where missing),
    so that what reads the prior from the table (the route sets' dispersion,
    :class:`~karvan.freight.choice_model.CorridorChoice`) sees the same prior at every value
    the fit tries."""
    out = table.copy()
    sel = np.zeros(len(out), bool)
    keys = key_columns(out)
    for p in params:
        sel |= p.rows(out, keys)
    vals = pd.to_numeric(out["value"], errors="coerce").to_numpy(dtype=float).copy()
    if "prior_value" not in out:
        out["prior_value"] = ""
    prior = pd.to_numeric(out["prior_value"], errors="coerce").to_numpy(dtype=float)
    has = sel & np.isfinite(prior)
    vals[has] = prior[has]
    out["value"] = vals
    fill = sel & ~np.isfinite(prior)
    if fill.any():
        out["prior_value"] = out["prior_value"].astype(object)
        out.loc[fill, "prior_value"] = vals[fill]
    return out


def constant_scale(table: pd.DataFrame, commodity: str | None = None) -> float:
    """The cost (USD/t) against which a constant's prior is uncertain: the median over the
    commodities it applies to (all of them, or ``commodity`` alone for a commodity's own
    constant) of their median route cost, as the dispersion's prior defines it (a route 10 %
    dearer than the median has 1/e of the odds, so the median cost is 10 / theta_prior).

    A constant whose prior confidence is ``assumption`` then has a prior standard error of
    0.40 x this cost: an unmodelled cost of the order of 40 % of a typical route's.

    Raises
    ------
    InputError
        The table has no positive ``theta``.
    """
    keys = key_columns(table)  # a blank commodity is *, as the choice model reads it
    rows = table[(keys["parameter"] == "theta").to_numpy()]
    if commodity not in (None, "*"):
        rows = rows[keys.loc[rows.index, "commodity"].isin([commodity, "*"]).to_numpy()]
    col = "prior_value" if "prior_value" in rows else "value"
    theta = pd.to_numeric(rows[col], errors="coerce")
    if "prior_value" in rows:
        theta = theta.fillna(pd.to_numeric(rows["value"], errors="coerce"))
    theta = theta[theta > 0]
    if not len(theta):
        raise InputError("the table has no theta rows > 0 to scale the constants' prior by"
                         + (f" (commodity {commodity})" if commodity not in (None, "*") else "")
                         + ".", "constant_scale")
    return float(np.median(10.0 / theta.to_numpy(dtype=float)))


def parameter_priors(table: pd.DataFrame, params: Sequence[ChoiceParameter]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Prior value and prior standard error of every parameter, in its own units.

    ``prior_std_error`` of the rows where given (for a factor: divided by the rows' prior
    values, which must give one ratio), else from the rows' ``confidence``: a factor has prior
    1 and standard error :data:`RSE_BY_CONFIDENCE`; a constant has prior ``prior_value`` (else
    ``value``) and standard error RSE x :func:`constant_scale`.

    Raises
    ------
    InputError
        Rows of one parameter with different prior standard errors (ratios for a factor), or a
        confidence without a relative standard error.
    """
    prior = reset_to_prior(table, params)
    x0 = start_values(prior, params)
    vals = pd.to_numeric(prior["value"], errors="coerce").to_numpy(dtype=float)
    given = (pd.to_numeric(table["prior_std_error"], errors="coerce").to_numpy(dtype=float)
             if "prior_std_error" in table else np.full(len(table), np.nan))
    conf = table["confidence"].astype(str).to_numpy() if "confidence" in table else np.full(
        len(table), "assumption")
    sd = np.full(len(params), np.nan)
    problems, scales = [], {}
    for i, p in enumerate(params):
        sel = p.rows(table)
        if p.kind == "factor":
            # a factor's ratio from the rows whose prior is not 0 (a row of value 0 stays 0
            # whatever the factor: its standard error says nothing of the ratio)
            nz = sel & (vals != 0)
            g = given[nz] / vals[nz] if nz.any() else np.array([np.nan])  # the confidence
        else:
            g = given[sel]
        if len(g) and np.isfinite(g).all():
            if np.ptp(g) > 1e-4 * float(np.abs(g).max()):  # 6 digits written per row
                problems.append(f"{p.name}: its rows have different prior standard errors "
                                f"({format_ids(sorted({_num(v) for v in g}))}).")
                continue
            sd[i] = float(np.mean(g))
            continue
        cs = sorted(set(conf[sel]))
        bad = [c for c in cs if c not in RSE_BY_CONFIDENCE]
        if bad:
            problems.append(f"{p.name}: confidence {format_ids(bad)} has no relative standard "
                            "error; give prior_std_error or one of "
                            f"{format_ids(RSE_BY_CONFIDENCE)}.")
            continue
        rse = max(RSE_BY_CONFIDENCE[c] for c in cs)
        if p.kind == "factor":
            sd[i] = rse
        else:
            if p.commodity not in scales:
                scales[p.commodity] = constant_scale(table, p.commodity)
            sd[i] = rse * scales[p.commodity]
    if problems:
        raise InputError(problems, "choice parameters")
    return x0, sd


@dataclass(frozen=True, slots=True, eq=False)
class ChoiceFit:
    """The fitted choice parameters and what they were fitted to.

    ``fit`` is in the parameters' own units (values, standard errors, covariance); ``prior``
    and ``table`` are the parameter table before and after (values only: see
    :func:`calibrated_table` for the table with standard errors and provenance); ``counts``
    lists the fit rows used (``observed_id, year, observed, rse, modelled_prior,
    modelled``); ``prior_runs`` and ``runs`` are the runs at the prior and fitted values.
    """

    params: tuple[ChoiceParameter, ...]
    fit: ParameterFit
    prior: pd.DataFrame
    table: pd.DataFrame
    counts: pd.DataFrame
    prior_runs: Mapping[int, RunFlows]
    runs: Mapping[int, RunFlows]
    jacobian: np.ndarray

    def parameter_table(self) -> pd.DataFrame:
        """One row per fitted parameter: ``parameter, kind, prior, prior_std_error, value,
        std_error, shrinkage, identified, lower, upper, at_bound`` (``shrinkage``: the standard
        error over the prior's; ``identified``: the fit rows reduce it by 10 % or more)."""
        t = self.fit.table()
        t.insert(1, "kind", [p.kind for p in self.params])
        if "prior_value" not in t:
            t["prior_value"] = start_values(self.prior, self.params)
            t["prior_std_error"] = np.nan
            t["shrinkage"] = np.nan
        t = t.rename(columns={"prior_value": "prior"})
        cols = ["parameter", "kind", "prior", "prior_std_error", "value", "std_error",
                "shrinkage", "identified", "lower", "upper", "at_bound"]
        return t[[c for c in cols if c in t]]


def fit_observations(observed: pd.DataFrame) -> pd.DataFrame:
    """The rows a fit may see: role ``fit`` only (validation rows are dropped here, before
    anything is parsed or run)."""
    # a blank role is fit, as the schema and parse_observations read it
    role = (observed["role"].fillna("").astype(str).str.strip().replace("", "fit")
            if "role" in observed else pd.Series("fit", index=observed.index))
    return observed[role == "fit"].reset_index(drop=True)


def fit_choice_parameters(
    observed: pd.DataFrame,
    table: pd.DataFrame,
    runner: ParameterRunner,
    params: Sequence[ChoiceParameter],
    *,
    link_table: pd.DataFrame,
    zone_country: Mapping[str, str],
    commodities: Sequence[str],
    diff_step: float = 0.05,
    max_evaluations: int | None = None,
    absolute_sigma: bool = False,
    chi2_scale: float | None = None,
    use_prior: bool = True,
    start: Sequence[float] | None = None,
    callback: Callable[[int, np.ndarray, float], None] | None = None,
    on_round: Callable[[int, float], None] | None = None,
    pool: RunPool | None = None,
) -> ChoiceFit:
    """Fit choice parameters to the ``fit`` rows of ``observed``.

    Parameters
    ----------
    observed
        ``observed.csv``; its ``validate`` rows are dropped before anything else.
    table
        The parameter table (``choice_parameter.csv``); the rows of the fitted parameters are
        reset to their ``prior_value`` (:func:`reset_to_prior`) before anything is run.
    runner
        Parameter table -> runs by year (:data:`ParameterRunner`).
    params
        What to fit (:class:`ChoiceParameter`; :func:`asc`, :func:`factor`).
    link_table, zone_country, commodities
        As for :func:`karvan.freight.observed.parse_observations`.
    diff_step
        Finite-difference step of the Jacobian, in units of each parameter's ``step``: large
        enough that the equilibrium's own tolerance does not show in the differences.
    max_evaluations
        Most model evaluations (each one run of every observed year).
    absolute_sigma
        Take the relative standard errors of the confidences as known (see
        :func:`~karvan.calibrate.parameters.fit_parameters`); default: scale the covariance by
        the reduced chi-square.
    chi2_scale
        Fix the factor on the data's variances (> 0) instead of settling it in rounds, so that
        fits from several starts minimise one objective
        (:func:`~karvan.calibrate.parameters.fit_parameters`).
    use_prior
        Add each parameter's prior (:func:`parameter_priors`) as a penalty (default); False:
        plain weighted least squares.
    start
        Starting values (default: the priors); the prior's penalty still pulls to the prior.
    callback
        Called after each evaluation with (evaluation number, parameter values, weighted sum
        of squares).
    on_round
        Called before each round of the fit with (round, factor on the data's variances)
        (:func:`~karvan.calibrate.parameters.fit_parameters`).
    pool
        Runs the columns of each finite-difference Jacobian side by side (:class:`RunPool`,
        for example :class:`karvan.scenario.run_pool.ProcessRunPool`); it must run what
        ``runner`` runs. The fit is the same as without it; default: one run after the other
        in this process.

    Returns
    -------
    ChoiceFit

    Raises
    ------
    InputError
        Bad parameters (:func:`start_values`), unparseable observations, an unknown confidence,
        no fit row with a run of its year, fewer fit rows than parameters.
    """
    params = tuple(params)
    if not params:
        raise InputError("no parameter to fit.", "fit_choice_parameters")
    mu, prior_sd = parameter_priors(table, params)
    table = reset_to_prior(table, params)
    x0 = start_values(table, params)
    fit_obs = fit_observations(observed)
    obs = _parse(fit_obs, link_table, countries=set(zone_country.values()),
                 commodities=set(commodities))
    conf = dict(zip(fit_obs["observed_id"].astype(str), fit_obs["confidence"].astype(str),
                    strict=True))
    runs0 = runner(table)
    use = [o for o in obs if o.year in runs0 and o.tonnes > 0]
    if not use:
        raise InputError("no fit row has a run of its year to be compared with.",
                         "fit_choice_parameters")
    bad = sorted({conf.get(o.observed_id) for o in use} - set(RSE_BY_CONFIDENCE))
    if bad:
        raise InputError(f"confidence {bad} has no relative standard error.",
                         "fit_choice_parameters")
    if len(use) <= len(params) and not use_prior:
        raise InputError(f"{len(use)} fit rows for {len(params)} parameters: fit fewer "
                         "parameters.", "fit_choice_parameters")
    y = np.array([o.tonnes for o in use])
    rse = np.array([RSE_BY_CONFIDENCE[conf[o.observed_id]] for o in use])
    years = np.array([o.year for o in use])
    step = np.array([p.step for p in params], dtype=float)
    lo = (np.array([p.lower for p in params]) - x0) / step
    hi = (np.array([p.upper for p in params]) - x0) / step
    modelled = FitRowMeasure(tuple(use), dict(zone_country))
    m0 = modelled(runs0)
    # the runs of the last parameter values (large), and the modelled counts of every values
    # run so far (small): the Jacobian at a point is asked for again in each round of the
    # reduced chi-square, and the model is deterministic
    cache: dict = {}
    seen: dict = {tuple(np.round(x0, 12)): m0}
    count = {"n": 0}

    def evaluated(x: np.ndarray) -> np.ndarray:
        m = seen[tuple(np.round(x, 12))]
        count["n"] += 1
        if callback is not None:
            callback(count["n"], x, float(np.sum(((m - y) / (rse * y)) ** 2)))
        return m

    def model(z: np.ndarray) -> np.ndarray:
        x = x0 + step * np.asarray(z, dtype=float)
        key = tuple(np.round(x, 12))
        if key not in seen:
            runs = runner(apply_parameters(table, params, x))
            cache.clear()
            cache[key] = runs
            seen[key] = modelled(runs)
        return evaluated(x)

    def model_many(zs: Sequence[np.ndarray]) -> list[np.ndarray]:
        xs = [x0 + step * np.asarray(z, dtype=float) for z in zs]
        todo: dict = {}
        for x in xs:
            key = tuple(np.round(x, 12))
            if key not in seen and key not in todo:
                todo[key] = x
        if len(todo) > 1:
            got = pool.map(modelled, [apply_parameters(table, params, x)
                                      for x in todo.values()])
            if len(got) != len(todo):
                raise InputError(f"the run pool returned {len(got)} results for {len(todo)} "
                                 "parameter tables.", "fit_choice_parameters")
            seen.update(zip(todo, (np.asarray(m, dtype=float) for m in got), strict=True))
        return [model(z) for z in zs]  # a single missing one is run here

    z0 = np.zeros(len(params)) if start is None else (np.asarray(start, float) - x0) / step
    zprior = dict(prior=(mu - x0) / step, prior_std_errors=prior_sd / step) if use_prior else {}
    zfit = fit_parameters(model, z0, y, rse=rse, bounds=(lo, hi),
                          names=[p.name for p in params],
                          observation_ids=[o.observed_id for o in use],
                          absolute_sigma=absolute_sigma, chi2_scale=chi2_scale,
                          diff_step=diff_step,
                          max_evaluations=max_evaluations, on_round=on_round,
                          model_many=model_many if pool is not None else None, **zprior)
    x = x0 + step * zfit.values
    fit = replace(zfit, values=x, std_errors=step * zfit.std_errors,
                  covariance=zfit.covariance * np.outer(step, step),
                  lower=np.array([p.lower for p in params], dtype=float),
                  upper=np.array([p.upper for p in params], dtype=float),
                  jacobian=zfit.jacobian / step[None, :],
                  prior_values=mu if use_prior else None,
                  prior_std_errors=prior_sd if use_prior else None)
    fitted = apply_parameters(table, params, x)
    key = tuple(np.round(x, 12))
    runs = cache[key] if key in cache else runs0 if np.array_equal(x, x0) else runner(fitted)
    counts = pd.DataFrame({"observed_id": [o.observed_id for o in use], "year": years,
                           "observed": y, "rse": rse, "modelled_prior": m0,
                           "modelled": fit.modelled})
    jac = zfit.jacobian * (rse * y)[:, None] / step[None, :]  # d modelled / d value
    return ChoiceFit(params, fit, table, fitted, counts, runs0, runs, jac)


#: how far (in prior standard errors) a parameter the fit rows do not identify may lie from its
#: prior and still be said to be held by it
HELD_BY_PRIOR_SE = 2.0


def prior_distance(fit) -> np.ndarray:
    """|estimate - prior| / prior standard error of each parameter (NaN without a prior)."""
    if fit.prior_values is None or fit.prior_std_errors is None:
        return np.full(len(fit.values), np.nan)
    ps = np.asarray(fit.prior_std_errors, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(ps) & (ps > 0),
                        np.abs(np.asarray(fit.values, float) - np.asarray(fit.prior_values,
                                                                          float)) / ps, np.nan)


def identification(cf: ChoiceFit, *, corr_limit: float = 0.95, loading: float = 0.3) -> dict:
    """How well the data pin the parameters down.

    Returns
    -------
    dict
        ``condition`` (of the weighted data Jacobian at the solution, each column in units of
        the parameter's prior standard error, or of unit length without a prior; inf when
        singular), ``rank`` (its numerical rank, :data:`~karvan.calibrate.parameters.RANK_RTOL`)
        and ``parameters`` (how many), ``singular_values``, ``weak_directions`` (for each
        singular value below 1, i.e. where the fit rows know less than the prior, or below the
        rank tolerance: the value and the parameters loading on it by more than ``loading``),
        ``correlated`` (pairs with |correlation| above ``corr_limit``; every correlation lies in
        [-1, 1]), ``not_identified`` (parameters whose standard error the data reduce by less
        than 10 % from the prior's, or infinite), ``moved_unidentified`` (those of them that lie
        more than :data:`HELD_BY_PRIOR_SE` prior standard errors from their prior all the same,
        with that distance: the prior does not hold them, the fit rows pin them only together
        with other parameters or the objective is far from quadratic there, and their standard
        error from the local curvature says little), ``unmoved_rows`` (fit rows that no parameter
        moves: they weigh in the objective but identify nothing), ``no_rows`` (parameters that
        move no fit row).
    """
    c = cf.counts
    f = cf.fit
    names = f.names
    sv = f.singular_values if f.singular_values is not None else np.zeros(len(names))
    cond = float(sv[0] / sv[-1]) if len(sv) and sv[-1] > 0 else float("inf")
    corr = f.correlation()
    pairs = [(names[i], names[j], float(corr[i, j])) for i in range(len(names))
             for j in range(i + 1, len(names))
             if np.isfinite(corr[i, j]) and abs(corr[i, j]) > corr_limit]
    # singular vectors of the scaled data Jacobian (the same scaling as the rank)
    w = f.jacobian if f.jacobian is not None else np.zeros((0, len(names)))
    ps = f.prior_std_errors if f.prior_std_errors is not None else np.full(len(names), np.inf)
    norm = np.sqrt((w ** 2).sum(axis=0))
    d = np.where(np.isfinite(ps), ps, np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0),
                                               1.0))
    weak = []
    if w.size:
        _, s_, vt = np.linalg.svd(w * d[None, :])
        s_ = np.concatenate([s_, np.zeros(len(names) - len(s_))])
        for k, v in enumerate(s_):
            if k >= f.rank or (np.isfinite(ps).any() and v < 1.0):
                load = [(names[i], round(float(vt[k, i]), 3)) for i in range(len(names))
                        if abs(vt[k, i]) > loading]
                weak.append({"singular_value": float(v), "below_rank_tolerance": k >= f.rank,
                             "parameters": load})
    scale = np.abs(c["observed"].to_numpy())[:, None]
    moved = np.abs(cf.jacobian) * np.array([p.step for p in cf.params])[None, :] > 1e-6 * scale
    ident = f.identified if f.identified is not None else np.ones(len(names), bool)
    dist = prior_distance(f)
    return {"condition": cond, "rank": int(f.rank), "parameters": len(names),
            "singular_values": [float(v) for v in sv], "weak_directions": weak,
            "correlated": pairs,
            "not_identified": [n for n, ok in zip(names, ident, strict=True) if not ok],
            "moved_unidentified": [(n, float(dv)) for n, ok, dv in zip(names, ident, dist,
                                                                       strict=True)
                                   if not ok and np.isfinite(dv) and dv > HELD_BY_PRIOR_SE],
            "unmoved_rows": c.loc[~moved.any(axis=1), "observed_id"].tolist(),
            "no_rows": [n for n, m in zip(names, moved.any(axis=0), strict=True) if not m]}


def calibrated_table(cf: ChoiceFit, *, date: str, source: str | None = None,
                     command: str | None = None) -> pd.DataFrame:
    """The parameter table with the fitted values and their standard errors written in.

    Every row a parameter sets gets ``value``, ``std_error`` (a factor's standard error times
    the row's prior value), ``prior_value`` and ``prior_std_error`` (the prior it was fitted
    from, so that a refit starts from the same prior), ``method`` = ``calibrated``,
    ``source_date`` = ``date``, ``confidence`` = ``estimate``, ``observations`` (the fit rows
    used, ';'-separated), a note that says how it was fitted (``command``), its prior and, for
    a parameter the fit rows do not identify, so, and how far it moved from its prior where that
    is more than :data:`HELD_BY_PRIOR_SE` prior standard errors; and ``source`` (when
    given, added to the row's sources). A value held by its bound has no standard error (blank)
    and says so in its note. Other rows and columns are kept.
    """
    out = cf.prior.copy()
    for col in ("std_error", "observations", "prior_value", "prior_std_error",
                "fitted_parameter"):
        if col not in out:
            out[col] = ""
    out["fitted_parameter"] = out["fitted_parameter"].fillna("").astype(object)
    for col in ("value", "std_error", "prior_value", "prior_std_error"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("method", "source_date", "confidence", "observations",
                "note", "source"):
        out[col] = out[col].astype(object)
    base = pd.to_numeric(cf.prior["value"], errors="coerce").to_numpy(dtype=float)
    obs = ";".join(cf.fit.observation_ids)
    f = cf.fit
    if f.prior_values is not None and f.prior_std_errors is not None:
        mu, psd = f.prior_values, f.prior_std_errors
    else:
        # fitted without the prior (--no-prior): the table still records the prior the
        # parameters had, so that a later fit with the prior starts from the same one (the
        # rows' confidence becomes "estimate", which would give another prior)
        try:
            mu, psd = parameter_priors(cf.prior, cf.params)
        except InputError:
            mu = psd = np.full(len(cf.params), np.nan)
    ident = f.identified if f.identified is not None else np.ones(len(cf.params), bool)
    shrink = f.shrinkage if f.shrinkage is not None else np.full(len(cf.params), np.nan)
    dist = prior_distance(f)
    how = (f"maximum a posteriori: weighted least squares on {len(f.observation_ids)} fit rows "
           "of observed.csv plus the prior's penalty" if f.prior_values is not None else
           f"weighted least squares on {len(f.observation_ids)} fit rows of observed.csv")
    col = out.columns.get_loc
    for k, (p, v, se, at) in enumerate(zip(cf.params, f.values, f.std_errors, f.at_bound,
                                           strict=True)):
        for i in np.flatnonzero(p.rows(out)):
            one = base[i] if p.kind == "factor" else 1.0
            val = one * v
            sd = one * se
            out.iat[i, col("value")] = float(val)
            out.iat[i, col("std_error")] = float(sd) if np.isfinite(sd) else np.nan
            if np.isfinite(psd[k]):
                out.iat[i, col("prior_value")] = float(one * mu[k])
                out.iat[i, col("prior_std_error")] = float(one * psd[k])
            out.iat[i, col("method")] = "calibrated"
            out.iat[i, col("fitted_parameter")] = p.name
            out.iat[i, col("source_date")] = date
            out.iat[i, col("confidence")] = "estimate"
            out.iat[i, col("observations")] = obs
            note = (f"calibrated by {command or 'karvan calibrate --parameters'} ({p.name}, "
                    f"{how}); prior {_num(base[i])}")
            if np.isfinite(psd[k]):
                note += f" (standard error {_num(one * psd[k])})"
            if not ident[k]:
                note += ("; not identified by the fit rows at the solution (they reduce the "
                         f"prior's standard error by {max(0.0, 1 - shrink[k]):.0%}): its "
                         "standard error is about the prior's")
                if np.isfinite(dist[k]) and dist[k] > HELD_BY_PRIOR_SE:
                    note += (f"; all the same it lies {dist[k]:.1f} prior standard errors from "
                             "its prior (the fit rows pin it only together with other "
                             "parameters, or the objective is far from quadratic there): read "
                             "the value with care")
            if at:
                note += "; held by its bound (no standard error)"
            out.iat[i, col("note")] = note
            if source:
                srcs = [s for s in str(out.iat[i, col("source")]).split(";") if s.strip()]
                if source not in srcs:
                    srcs.append(source)
                out.iat[i, col("source")] = ";".join(srcs)
    return out


def calibrated_correlation(cf: ChoiceFit, *, date: str, source: str | None = None,
                           command: str | None = None) -> pd.DataFrame:
    """The fit's correlations as a table (``choice_parameter_correlation.csv``): one row per
    pair of fitted parameters that both have a standard error (``parameter_a`` before
    ``parameter_b`` in the fit's order), ``correlation`` from the covariance of the estimate,
    and its provenance (``source``, default ``KV_CALIBRATION``). ``karvan explore`` draws the
    fitted parameters jointly with it (:mod:`karvan.explore.choice_inputs`)."""
    f = cf.fit
    r = f.correlation()
    names = list(f.names)
    ok = np.isfinite(f.std_errors) & (f.std_errors > 0)
    how = (f"correlation of the estimates from the covariance of the fit "
           f"({command or 'karvan calibrate --parameters'}; the Jacobian at the solution, the "
           "prior's precision and the data variances' factor)")
    srcs = source or "KV_CALIBRATION"
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if ok[i] and ok[j] and np.isfinite(r[i, j]):
                rows.append((names[i], names[j], float(r[i, j]), srcs, date, "estimate",
                             "calibrated", how))
    return pd.DataFrame(rows, columns=["parameter_a", "parameter_b", "correlation", "source",
                                       "source_date", "confidence", "method", "note"])


def merged_correlation(before: pd.DataFrame | None, fitted: pd.DataFrame,
                       table: pd.DataFrame, names) -> pd.DataFrame:
    """The correlation table to write with ``table`` (a parameter table after a fit): the
    fit's pairs (``fitted``, :func:`calibrated_correlation`) and, from the table written
    before (``before``), the pairs of parameters this fit left alone that ``table`` still
    draws (a ``fitted_parameter`` with a standard error): their values and standard errors are
    those of the earlier fit, and so are their correlations. A pair of a parameter fitted now
    and one left alone has no known correlation: independent."""
    if before is None or not len(before):
        return fitted
    now = set(names)
    se = pd.to_numeric(table.get("std_error"), errors="coerce")
    drawn = (set(table.loc[se > 0, "fitted_parameter"].astype(str))
             if "fitted_parameter" in table else set())
    a = before["parameter_a"].astype(str).str.strip()
    b = before["parameter_b"].astype(str).str.strip()
    keep = before[~a.isin(now) & ~b.isin(now) & a.isin(drawn) & b.isin(drawn)]
    return pd.concat([keep.astype(object), fitted.astype(object)], ignore_index=True)


def _num(v: float) -> str:
    """A value for a note: 6 significant digits."""
    return f"{float(v):.6g}"
