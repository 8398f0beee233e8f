"""The corridor's OD estimation, run with the scenario machinery: the base year and the
back-casts of the observed years, with a demand given cell by cell (:mod:`karvan.calibrate`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from karvan.calibrate.choice import (
    ChoiceFit,
    ChoiceParameter,
    ParameterRunner,
    asc,
    factor,
    fit_choice_parameters,
)
from karvan.calibrate.corridor import CorridorEstimate, Runner, estimate_corridor_demand
from karvan.errors import InputError, format_ids
from karvan.freight.corridor import CorridorData
from karvan.freight.observed import RunFlows
from karvan.scenario.reference import backcast_scenario, backcast_years, reference_scenario
from karvan.scenario.run import run_scenario


def corridor_runner(data: CorridorData, *, gap: float | None = None, method: str | None = None,
                    max_iter: int | None = None, choice: str = "deterministic") -> Runner:
    """An assignment as an OD-estimation runner: base-year cell tonnes (the rows of
    ``data.demand``) -> the runs of the base year and of every back-cast year that has
    observations; the deterministic model unless ``choice`` is ``logit``."""
    base = reference_scenario(data.base_year, base_year=data.base_year)
    years = pd.to_numeric(data.observed["year"], errors="coerce")
    past = [y for y in backcast_years() if (years == y).any()]

    def run(q: np.ndarray) -> dict[int, RunFlows]:
        d = replace(data, demand=data.demand.assign(tonnes_per_year=np.asarray(q, float)))
        out = {}
        for spec in [base] + [backcast_scenario(y) for y in past]:
            out[spec.year] = run_scenario(d, spec, gap=gap, method=method, max_iter=max_iter,
                                          lp=False, backcasts=False, choice=choice).flows
        return out

    return run


def estimate_demand(data: CorridorData, *, runner: Runner | None = None, **kwargs
                    ) -> CorridorEstimate:
    """OD estimation of the corridor's base-year demand from the ``fit`` rows of its
    ``observed.csv`` (keywords: :func:`karvan.calibrate.corridor.estimate_corridor_demand`);
    the deterministic equilibrium unless another ``runner`` is given. The prior is
    ``demand.csv`` as written (:attr:`CorridorData.prior_demand`), also where the dataset has an
    ``od_estimate.csv`` from an earlier estimation."""
    prior = data.prior_demand
    if data.demand_estimated:
        data = replace(data, demand=prior)
    return estimate_corridor_demand(
        data.observed, prior, runner or corridor_runner(data), link_table=data.links,
        zone_country=data.zone_country(), commodities=data.commodity_ids, **kwargs)


def od_estimate_table(est: CorridorEstimate, *, choice: str, date: str,
                      source: str = "KV_ODME") -> pd.DataFrame:
    """The dataset's ``od_estimate.csv`` for an estimate: every demand row with its prior, the
    estimate and its standard error, the provenance columns (``confidence`` estimate) and
    ``observations``: the fit rows that count at least :data:`SEEN` of the row's tonnes in the
    estimate's last assignment (blank: no count sees it, so it stays at its prior)."""
    from karvan.freight.corridor import OD_KEY

    d = est.demand
    model = ("the logit choice model" if choice == "logit"
             else "the deterministic equilibrium")
    fitted = est.counts["observed_id"].astype(str)
    out = d[OD_KEY].copy()
    out["prior_tonnes_per_year"] = d["prior_tonnes_per_year"].to_numpy(dtype=float)
    out["tonnes_per_year"] = np.round(d["tonnes_per_year"].to_numpy(dtype=float), 1)
    out["std_error"] = np.round(d["std_error"].to_numpy(dtype=float), 1)
    out["source"] = source
    out["source_date"] = date
    out["confidence"] = "estimate"
    out["method"] = (f"OD estimation (generalized least squares, demand.csv as prior) bi-level "
                     f"with {model} on {len(fitted)} fit rows of observed.csv")
    # which fit rows see the row: those that count at least SEEN of its tonnes in the last
    # assignment (a logit model spreads some of every row over routes no count is on)
    seen = np.asarray(est.odme.proportions, dtype=float) >= SEEN
    ids = fitted.to_numpy()
    out["observations"] = [";".join(ids[seen[:, j]]) for j in range(seen.shape[1])]
    return out


#: the share of a demand row's tonnes a fit row must count for ``od_estimate.csv`` to name it
#: among the row's ``observations``
SEEN = 1e-3


# ------------------------------------------------------------------- choice parameters

#: the families whose constants are fitted by default: each has fit rows that count its routes
#: and no other family's (INSTC by rail through Azerbaijan: the ADY north-south transit; by road:
#: the Astara road crossing; across the Caspian: the Russian INSTC sea total; the eastern branch:
#: Sarakhs, Bolashak and the Russian eastern total; the Middle Corridor: the transit through
#: Azerbaijan, and its containers apart (``family:commodity``, the commodity's own row): the
#: Alat-Turkmenbashi and the Kazakh line's containers; trucks on its Ro-Pax ferries: the 2023
#: truck counts by line; Upper Lars: its truck count; the containers of the nest
#: ``overland_north``, the routes through Russia between Europe and Asia
#: (``nest:<nest>:<commodity>``, one row for the nest's families): the TITR containers,
#: China-EU's other route, since 2026-12-06). The all-water, Black Sea, Georgian-port and
#: other families, and the other commodities of the nest overland_north, keep a constant of 0:
#: the reference against which the others are measured (a logit share depends on differences
#: of constants only).
DEFAULT_CONSTANTS = ("instc_west_rail", "instc_west_road", "instc_caspian", "instc_east",
                     "middle_corridor", "middle_corridor:containers", "middle_corridor_road",
                     "upper_lars_road", "nest:overland_north:containers")


def choice_parameters_to_fit(table: pd.DataFrame, names: Sequence[str] | None = None,
                             route_families: pd.DataFrame | None = None
                             ) -> list[ChoiceParameter]:
    """The parameters ``karvan calibrate --parameters`` fits.

    ``names`` (default: every constant of :data:`DEFAULT_CONSTANTS` that the table has a row
    for, with a warning for a commodity's own constant it lacks, ``theta`` and
    ``value_of_reliability``) are
    ``asc:<family>`` (a family's constant, USD/t, within ±300; the row of commodity ``*``),
    ``asc:<family>:<commodity>`` (that commodity's own constant row), ``asc:nest:<nest>`` and
    ``asc:nest:<nest>:<commodity>`` (the row of family ``*`` and that nest: one constant for every
    family of the nest), ``theta`` (one factor on every commodity's dispersion, 0.1-10) or
    ``value_of_reliability`` (one factor on every commodity's value of reliability, 0-10: the
    reliability ratio relative to the prior's). With ``route_families`` (``route_family.csv``),
    a constant named for a family that takes another family's terms (``terms_of``) is refused
    with the name to give instead.

    Raises
    ------
    InputError
        An unknown name, or a family or nest the table has no constant row for.
    """
    # blank scope cells are * as the choice model reads them (ChoiceParameter.rows)
    rows = table.loc[table["parameter"].astype(str).str.strip() == "asc_usd_per_t",
                     ["family", "nest", "commodity"]].fillna("*").astype(str).apply(
        lambda col: col.str.strip().replace("", "*"))
    fam_rows = rows[rows["nest"] == "*"]
    families = set(fam_rows["family"]) - {"*"}
    keys = set(zip(fam_rows["family"], fam_rows["commodity"], strict=True))
    nest_rows = rows[(rows["family"] == "*") & (rows["nest"] != "*")]
    nest_keys = {(f"nest:{n}", c) for n, c in zip(nest_rows["nest"], nest_rows["commodity"],
                                                   strict=True)}

    def split(name: str) -> tuple[str, str]:
        """``<family>[:<commodity>]`` or ``nest:<nest>[:<commodity>]`` -> (scope, commodity)."""
        if name.startswith("nest:"):
            nest, _, com = name[5:].partition(":")
            return f"nest:{nest}", com or "*"
        fam, _, com = name.partition(":")
        return fam, com or "*"

    if not names:
        # a commodity's or a nest's own constant that the table has no row for (a copy of the
        # dataset made before the row was added) is left out of the default, and said so
        lacking = [f for f in DEFAULT_CONSTANTS if ":" in f
                   and split(f) not in keys | nest_keys]
        if lacking:
            import warnings

            from karvan.freight.corridor import CorridorWarning

            warnings.warn(f"choice_parameter.csv has no row for {format_ids(lacking)} (the "
                          "constants of one commodity that the built-in dataset fits): not "
                          "fitted; add the row (family, commodity, value 0, with its prior) to "
                          "fit it, as the built-in table has it.", CorridorWarning, stacklevel=2)
        names = ([f"asc:{f}" for f in DEFAULT_CONSTANTS if f not in lacking]
                 + ["theta", "value_of_reliability"])
    out, bad = [], []
    for n in names:
        kind, _, rest = n.partition(":")
        scope, com = split(rest)
        if kind == "asc" and (scope, com) in keys:
            out.append(asc(scope, com, step=10.0, bound=300.0))
        elif kind == "asc" and (scope, com) in nest_keys:
            out.append(asc("*", com, nest=scope[5:], step=10.0, bound=300.0))
        elif n == "theta":
            out.append(factor("theta", step=0.1, lower=0.1, upper=10.0))
        elif n == "value_of_reliability":
            out.append(factor("value_of_reliability", step=0.1, lower=0.0, upper=10.0))
        else:
            bad.append(n)
    if bad and route_families is not None:
        # a family that takes another's terms has no constant of its own: say whose to fit
        from karvan.freight.choice_model import terms_families

        src = terms_families(route_families)
        hint = []
        for n in bad:
            if n.startswith("asc:") and not n.startswith("asc:nest:"):
                fam, com = split(n[4:])
                if src.get(fam, fam) != fam:
                    hint.append(f"asc:{fam} is {src[fam]}'s constant (route_family.csv "
                                f"terms_of): fit asc:{src[fam]}"
                                + ("" if com == "*" else f":{com}") + ", which sets both")
        if hint:
            raise InputError("; ".join(hint) + ".", "karvan calibrate --parameters")
    if bad:
        nest_names = sorted(f"asc:{k}" + ("" if c == "*" else f":{c}") for k, c in nest_keys)
        raise InputError(f"unknown parameters to fit {format_ids(bad)}: give asc:<family> (one "
                         f"of {format_ids(sorted(families))}), asc:<family>:<commodity> where "
                         "choice_parameter.csv has that commodity's constant row, "
                         "asc:nest:<nest>[:<commodity>] where it has a row of family * for the "
                         f"nest and commodity ({format_ids(nest_names) if nest_names else 'none'}"
                         "), theta or value_of_reliability.",
                         "karvan calibrate --parameters")
    return out


def choice_table(data: CorridorData) -> pd.DataFrame:
    """The dataset's choice parameter table (``choice_parameter.csv``)."""
    table = getattr(data, "choice_parameters", None)
    if table is None:
        from karvan.freight.route_family import read_choice_parameters

        table = read_choice_parameters(data.folder)
    return table


def choice_runner(data: CorridorData, *, gap: float = 1e-10, max_iter: int = 5000,
                  choice: str = "logit") -> ParameterRunner:
    """The corridor under the logit choice model as a parameter runner: a choice parameter
    table -> the runs (route flows) of the base year and of every back-cast year that has
    observations, as :func:`run_scenario` with ``choice_parameters=table`` gives them.

    What does not depend on the parameters (each year's network, demand segments and classes)
    is built once; each call reads the table once and solves the nested-logit equilibrium of
    every year, without the run's accounting tables (a test holds the flows to
    :func:`run_scenario`'s). ``choice`` other than ``logit`` runs :func:`run_scenario` itself
    (``gap``, ``max_iter``: its settings for the deterministic model).
    """
    base = reference_scenario(data.base_year, base_year=data.base_year)
    years = pd.to_numeric(data.observed["year"], errors="coerce")
    past = [y for y in backcast_years() if (years == y).any()]
    specs = [base] + [backcast_scenario(y) for y in past]
    if choice != "logit":
        def run_any(table: pd.DataFrame) -> dict[int, RunFlows]:
            return {spec.year: run_scenario(data, spec, gap=gap, max_iter=max_iter, lp=False,
                                            backcasts=False, choice=choice,
                                            choice_parameters=table).flows for spec in specs}
        return run_any
    from karvan.freight.route_family import read_route_families
    from karvan.scenario import run as sr
    from karvan.scenario.choice_run import solve_choice

    families = read_route_families(data.folder)
    zc = data.zone_country()
    fixed = {}
    for spec in specs:
        inputs = sr.apply_scenario(data, spec)
        net = sr.build_network(data, inputs.links, name=spec.name)
        rows = sr.demand_segments(inputs.demand[inputs.demand["tonnes_per_year"] > 0],
                                  inputs.bans, zc)
        rows, _ = sr._split_unreachable(net, rows, inputs.bans)
        demand = sr.Demand.from_long(rows, origin="origin_zone_id",
                                     destination="destination_zone_id",
                                     value="tonnes_per_year", segment="segment",
                                     zone_ids=tuple(net.zones.index))
        classes = sr._classes(data, net, demand, inputs.bans)
        closed = set(data.links.index[data.links["status"] == "open"]) - set(
            inputs.links.index[inputs.links["status"] == "open"])
        fixed[spec.year] = (spec, inputs, net, demand, classes, closed)

    def run(table: pd.DataFrame) -> dict[int, RunFlows]:
        model = sr.corridor_choice(data, table, families)
        out = {}
        for year, (spec, inputs, net, demand, classes, closed) in fixed.items():
            crun = solve_choice(net, demand, classes, model, zone_country=zc,
                                closed_links=closed)
            out[year] = RunFlows(spec.name, spec.year, crun.routes, crun.result.graph,
                                 inputs.links, inputs.demand)
        return out

    return run


def calibrate_choice(data: CorridorData, params: Sequence[ChoiceParameter], *,
                     runner: ParameterRunner | None = None, **kwargs) -> ChoiceFit:
    """The corridor's choice parameters fitted to the ``fit`` rows of its ``observed.csv``
    (keywords: :func:`karvan.calibrate.choice.fit_choice_parameters`); the logit choice model
    of :func:`run_scenario` unless another ``runner`` is given."""
    return fit_choice_parameters(
        data.observed, choice_table(data), runner or choice_runner(data), params,
        link_table=data.links, zone_country=data.zone_country(),
        commodities=data.commodity_ids, **kwargs)
