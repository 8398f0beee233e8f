"""Explore corridor scenarios: the scenarios, their like-year references, the uncertain inputs
and the experiment, in one call (what ``karvan explore`` runs)."""

from __future__ import annotations

import functools
import hashlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from karvan.errors import InputError
from karvan.explore.analysis import analyse_experiment
from karvan.explore.corridor import build_corridor_model, changed_links, diverted_links
from karvan.explore.inputs import InputSet, corridor_inputs
from karvan.explore.runner import ExperimentResult, ModelSpec, Progress, run_experiment
from karvan.freight.accounting import sea_leg_countries
from karvan.io.hashing import hash_folder
from karvan.schema.text import read_frame

log = logging.getLogger(__name__)


#: the relative gap of each draw's user equilibrium under ``choice="deterministic"``
DEFAULT_GAP = 1e-8

#: the choice models an experiment can run (as ``karvan run --choice``)
CHOICES = ("logit", "deterministic")


def default_choice() -> str:
    """What ``karvan run`` defaults to: its ``choice`` default where it has one (logit, issue 8),
    else the deterministic equilibrium."""
    import inspect

    from karvan.scenario.run import run_scenario

    p = inspect.signature(run_scenario).parameters.get("choice")
    return str(p.default) if p is not None else "deterministic"


def check_choice(choice: str | None) -> str:
    """The choice model an experiment runs (default :func:`default_choice`).

    Raises
    ------
    InputError
        An unknown name, or logit while the corridor run has no logit choice model.
    """
    import inspect

    from karvan.scenario.run import run_scenario

    choice = default_choice() if choice is None else choice
    if choice not in CHOICES:
        raise InputError(f"unknown choice model {choice!r}; use {' or '.join(CHOICES)} (--choice)"
                         ".")
    if choice == "logit" and "choice" not in inspect.signature(run_scenario).parameters:
        raise InputError("the corridor run has no logit choice model yet (issue 8); use "
                         "--choice deterministic.")
    return choice


def choice_table(data, path: str | Path | None = None) -> pd.DataFrame:
    """The choice parameter table as written (every column as text, ``std_error`` where
    calibrated): ``path`` (a calibrated table, ``karvan calibrate --parameters``' output), else
    the dataset's ``choice_parameter.csv``; checked as the choice model reads it.

    Raises
    ------
    InputError
        No such table; every problem the choice model finds in it (unknown families, theta <= 0,
        ...) and every bad value or standard error (:func:`check_choice_table`).
    """
    from karvan.explore.choice_inputs import check_choice_table
    from karvan.freight.choice_model import choice_parameters
    from karvan.freight.route_family import read_route_families

    folder = data.folder
    if path is None:
        path = folder / "choice_parameter.csv" if folder is not None else None
        if path is None or not path.is_file():
            raise InputError(f"the logit choice model needs choice_parameter.csv in the "
                             f"dataset ({folder}); use --choice deterministic.")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no choice parameter table there (give the choice_parameter"
                         ".csv of `karvan calibrate --parameters`, or leave out "
                         "--choice-parameters for the dataset's).")
    table = read_frame(path)
    problems = check_choice_table(table, path.name)
    if problems:
        raise InputError(problems, str(path))
    choice_parameters(table, read_route_families(folder), data.commodities,
                      link_ids=list(data.links.index), file=path.name)
    return table


def choice_correlation(data, path: str | Path | None = None) -> pd.DataFrame | None:
    """The fit's correlations beside a choice parameter table (``choice_parameter_correlation.csv``
    in the folder of ``path``, else of the dataset): None where there is none, and then, if
    the table has more than one fitted parameter, a warning that they draw independently.

    Raises
    ------
    InputError
        A correlation table without its columns.
    """
    from karvan.explore.choice_inputs import CORRELATION_FILE, read_choice_correlation

    if path is None:
        if data.folder is None:
            return None
        path = data.folder / "choice_parameter.csv"
    path = Path(path)
    corr = read_choice_correlation(path)
    if corr is None and path.is_file():
        table = read_frame(path)
        if "std_error" in table:
            se = pd.to_numeric(table["std_error"], errors="coerce")
            # one fitted parameter may set several rows (a factor): count parameters where the
            # table names them, else rows
            if "fitted_parameter" in table:
                n, what = table.loc[se > 0, "fitted_parameter"].nunique(), "fitted parameters"
            else:
                n, what = int((se > 0).sum()), "rows with a standard error"
            if n > 1:
                log.warning("%s has %d %s and no %s beside it: they are drawn independently, as "
                            "if the fit had not correlated them (`karvan calibrate --parameters "
                            "--out` writes the two tables together)", path, n, what,
                            CORRELATION_FILE)
    return corr


def experiment_inputs(data, uncertainty: str | Path | None = None, *, choice: str,
                      table: pd.DataFrame | None = None,
                      correlation: pd.DataFrame | None = None) -> InputSet:
    """The uncertain inputs of an experiment under a choice model: the dataset's figures, and
    under logit the choice model's parameters (:mod:`karvan.explore.choice_inputs`), drawn
    with the fit's ``correlation`` (:func:`choice_correlation`; with no ``table``, the
    dataset's table and correlations).

    Raises
    ------
    InputError
        A bad uncertainty table or parameter table (every problem of each).
    """
    from karvan.explore.choice_inputs import choice_inputs
    from karvan.explore.inputs import builtin_uncertainty_path

    inputs = corridor_inputs(data, uncertainty)
    if choice != "logit":
        return inputs
    if uncertainty is None:
        own = data.folder / "uncertainty.csv" if data.folder is not None else None
        uncertainty = own if own is not None and own.is_file() else builtin_uncertainty_path()
    if table is None:
        table, correlation = choice_table(data), choice_correlation(data)
    return inputs + choice_inputs(table, uncertainty, correlation=correlation)


def explore(scenarios: list | None = None, *, draws: int, sampler: str = "lhs",
            seed: int = 0, data=None, uncertainty: str | Path | None = None,
            choice: str | None = None, choice_parameters: str | Path | None = None,
            select: list[str] | None = None, groups: str | None = None,
            workers: int | None = None, scheduler: str | None = None, client: Any = None,
            out: str | Path | None = None, store: str | Path | None = None,
            batch_size: int | None = None, gap: float = DEFAULT_GAP,
            progress: Progress | None = None) -> ExperimentResult:
    """Run an experiment on corridor scenarios and analyse it.

    Parameters
    ----------
    scenarios
        Built-in names, scenario files or :class:`~karvan.scenario.spec.Scenario` objects;
        default every built-in scenario. The like-year reference of each is added, as
        ``karvan run`` adds it (:func:`karvan.scenario.reference.like_year_reference`:
        ``baseline``, ``reference_<year>`` or ``backcast_<year>``); a scenario of a year before
        the base year without a built-in back-cast has no effect, only levels (a warning
        says so).
    draws, sampler, seed
        The design (``lhs``, ``sobol`` or ``morris``; see :mod:`karvan.explore.sampling`).
    data
        A :class:`~karvan.freight.corridor.CorridorData` (default: the built-in dataset).
    uncertainty
        The uncertainty table (default: the dataset's ``uncertainty.csv``).
    choice
        ``logit`` (the nested-logit route-family model with capacities; its parameters are
        uncertain inputs too) or ``deterministic`` (user equilibrium); default what
        ``karvan run`` uses.
    choice_parameters
        Under logit, a parameter table instead of the dataset's ``choice_parameter.csv`` (a
        calibrated one, whose standard errors set its parameters' distributions).
    select
        Names (or shell patterns) of the factors to vary; the others keep the dataset's figures.
    groups
        Sensitivity groups: ``factor`` or ``field`` (default ``field`` for sobol and morris,
        whose designs grow with the number of groups, ``factor`` for lhs).
    workers, scheduler, client, out, store, batch_size, progress
        See :func:`karvan.explore.runner.run_experiment`.
    gap
        Relative gap of each draw's user equilibrium (``choice="deterministic"`` only).

    Raises
    ------
    InputError
        Unknown scenarios or input names, a bad uncertainty table, bad design arguments, an
        unreachable scheduler: before any work starts.
    """
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios
    from karvan.scenario.apply import apply_scenario
    from karvan.scenario.reference import (
        backcast_years,
        check_own_name,
        is_reference,
        like_year_reference,
        load_scenarios,
        with_references,
    )
    from karvan.scenario.spec import Scenario

    choice = check_choice(choice)
    if sampler == "lhs" and groups not in (None, "factor"):
        # the Latin hypercube draws every factor apart and ranks each: groups would change
        # nothing but the experiment's settings
        raise InputError(f"groups={groups!r} (--groups) groups the inputs of a sobol or morris "
                         "design, whose evaluations grow with the number of groups; a Latin "
                         "hypercube (lhs) draws and ranks every factor apart: leave --groups "
                         "out, or use --sampler morris or sobol.")
    if choice != "deterministic" and gap != DEFAULT_GAP:
        # recorded and ignored: the logit draws solve no user equilibrium
        raise InputError(f"gap={gap!r} sets each draw's user equilibrium, which only "
                         "choice='deterministic' solves; leave gap out under logit.")
    if not (isinstance(gap, (int, float)) and 0 <= gap < float("inf")):
        raise InputError(f"gap must be a finite number >= 0, got {gap!r}.")
    data = load_corridor() if data is None else data
    if choice_parameters is not None and choice != "logit":
        raise InputError("choice_parameters (--choice-parameters) is a table of the logit "
                         "choice model: use it with --choice logit (choice='logit'), or leave it "
                         "out.")
    table = corr = None
    if choice == "logit":
        table = choice_table(data, choice_parameters)
        corr = choice_correlation(data, choice_parameters)
    inputs: InputSet = experiment_inputs(data, uncertainty, choice=choice, table=table,
                                         correlation=corr)
    if select:
        inputs = inputs.select(select)
    given = list(scenarios) if scenarios else builtin_scenarios()
    # names and files are loaded, every problem of every file at once; scenarios built in
    # Python are taken as they are, their ids checked here, before any draw
    loaded = iter(load_scenarios([s for s in given if not isinstance(s, Scenario)], data))
    specs = [s if isinstance(s, Scenario) else next(loaded) for s in given]
    for g, s in zip(given, specs, strict=True):
        check_own_name(s, base_year=data.base_year)
        if isinstance(g, Scenario):
            apply_scenario(data, s)
    # each project scenario's effect is against the reference of its own year, as in karvan run
    reference = {s.name: like_year_reference(s, base_year=data.base_year) for s in specs}
    for s in specs:
        if reference[s.name] is None and not is_reference(s.name):
            log.warning("scenario %s (%d): no reference of %d can be run (back-casts are built "
                        "in for %s), so its effect is not computed, only its levels.", s.name,
                        s.year, s.year, ", ".join(map(str, backcast_years())) or "no year")
    all_specs = with_references(specs, base_year=data.base_year)
    reference |= {s.name: None for s in all_specs[len(specs):]}
    groups = groups or ("factor" if sampler == "lhs" else "field")
    # the links any scenario changes: outputs of every model, so that a project's effect on
    # them is against its reference's tonnes there; so are the links a scenario diverts
    # freight onto or off, chosen once the central cases are solved (run_experiment(diverted=))
    watch = changed_links(data, all_specs)
    model_specs = []
    for s in all_specs:
        r = reference[s.name]
        if choice == "logit":
            from karvan.explore.choice_corridor import build_choice_model

            build = functools.partial(build_choice_model, data, s, inputs, table, watch=watch)
        else:
            build = functools.partial(build_corridor_model, data, s, inputs, gap=gap,
                                      watch=watch)
        model_specs.append(ModelSpec(s.name, build, r.name if r is not None else None,
                                     {"scenario": s.to_dict()}))
    dataset = {"dataset": str(data.folder), "dataset_sha256": _hash_folder(data.folder),
               "gap": gap, "choice": choice}
    if table is not None:
        dataset["choice_parameters"] = str(choice_parameters or "dataset")
        dataset["choice_parameters_sha256"] = hashlib.sha256(
            table.to_csv(index=False).encode()).hexdigest()
    option_names = {}
    if data.folder is not None and (data.folder / "route_option.csv").is_file():
        ro = read_frame(data.folder / "route_option.csv", blank_as_nan=True)
        option_names = dict(zip(ro["option_id"], ro["name"], strict=True))
    return run_experiment(model_specs, inputs, draws=draws, sampler=sampler, seed=seed,
                          groups=groups, workers=workers, scheduler=scheduler, client=client,
                          folder=out, store=store, batch_size=batch_size, config=dataset,
                          progress=progress, diverted=diverted_links,
                          analyse=functools.partial(analyse_experiment,
                                                    option_names=option_names,
                                                    sea_countries=sea_countries(data)))


def sea_countries(data) -> list[str]:
    """The countries of ``data`` whose links are all sea legs (mode sea or ferry: the Caspian
    ``XC``, the open sea ``XX``, Egypt's Suez Canal): no country's transit by land, and no
    statement of their own (an experiment analysed again reads them from its dataset's
    link.csv)."""
    return sea_leg_countries(data.links)


def _hash_folder(folder: Path | None) -> dict[str, str]:
    return hash_folder(folder)  # the one file hasher
