"""Explore corridor scenarios: the scenarios, their like-year references, the uncertain inputs
and the experiment, in one call (what ``karvan explore`` runs)."""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from karvan.errors import InputError
from karvan.explore.analysis import analyse_experiment
from karvan.explore.corridor import build_corridor_model
from karvan.explore.inputs import InputSet, corridor_inputs
from karvan.explore.runner import ExperimentResult, ModelSpec, Progress, run_experiment
from karvan.io.hashing import hash_folder

log = logging.getLogger(__name__)


def like_year_reference(scenario, base) -> Any | None:
    """The scenario a project scenario is compared with: the base network with the demand of
    the same year (``reference_<year>``; the built-in one where it exists). None for the base
    scenario itself and for references."""
    from karvan.scenario import builtin_scenarios, load_scenario

    if scenario.name == base.name or scenario.name.startswith("reference_"):
        return None
    name = f"reference_{scenario.year}"
    if name in builtin_scenarios():
        return load_scenario(name)
    return dataclasses.replace(base, name=name, title=f"Reference {scenario.year}: the base "
                               "network with the demand of that year", year=scenario.year,
                               chain=(name, *base.chain), path=None)


def explore(scenarios: list[str] | None = None, *, draws: int, sampler: str = "lhs",
            seed: int = 0, data=None, uncertainty: str | Path | None = None,
            select: list[str] | None = None, groups: str | None = None,
            workers: int | None = None, scheduler: str | None = None, client: Any = None,
            out: str | Path | None = None, store: str | Path | None = None,
            batch_size: int | None = None, gap: float = 1e-8,
            progress: Progress | None = None) -> ExperimentResult:
    """Run an experiment on corridor scenarios and analyse it.

    Parameters
    ----------
    scenarios
        Built-in names or scenario files; default every built-in scenario. The like-year
        reference of each is added (``reference_<year>``).
    draws, sampler, seed
        The design (``lhs``, ``sobol`` or ``morris``; see :mod:`karvan.explore.sampling`).
    data
        A :class:`~karvan.freight.corridor.CorridorData` (default: the built-in dataset).
    uncertainty
        The uncertainty table (default: the dataset's ``uncertainty.csv``).
    select
        Names (or shell patterns) of the factors to vary; the others keep the dataset's figures.
    groups
        Sensitivity groups: ``factor`` or ``field`` (default ``field`` for sobol and morris,
        whose designs grow with the number of groups, ``factor`` for lhs).
    workers, scheduler, client, out, store, batch_size, progress
        See :func:`karvan.explore.runner.run_experiment`.
    gap
        Relative gap of each draw's equilibrium.

    Raises
    ------
    InputError
        Unknown scenarios or input names, a bad uncertainty table, bad design arguments, an
        unreachable scheduler: before any work starts.
    """
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import builtin_scenarios, load_scenario

    data = load_corridor() if data is None else data
    inputs: InputSet = corridor_inputs(data, uncertainty)
    if select:
        inputs = inputs.select(select)
    names = list(scenarios) if scenarios else builtin_scenarios()
    problems, specs = [], []
    for n in names:
        try:
            specs.append(load_scenario(n))
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    base = load_scenario("baseline")
    refs: dict[str, Any] = {}
    for s in specs:
        r = like_year_reference(s, base)
        if r is not None and r.name not in {x.name for x in specs}:
            refs.setdefault(r.name, r)
    all_specs = specs + list(refs.values())
    groups = groups or ("factor" if sampler == "lhs" else "field")
    model_specs = []
    for s in all_specs:
        r = like_year_reference(s, base)
        build = functools.partial(build_corridor_model, data, s, inputs, gap=gap)
        model_specs.append(ModelSpec(s.name, build, r.name if r is not None else None,
                                     {"scenario": s.to_dict()}))
    dataset = {"dataset": str(data.folder), "dataset_sha256": _hash_folder(data.folder),
               "gap": gap}
    option_names = {}
    if data.folder is not None and (data.folder / "route_option.csv").is_file():
        ro = pd.read_csv(data.folder / "route_option.csv", dtype=str)
        option_names = dict(zip(ro["option_id"], ro["name"]))
    return run_experiment(model_specs, inputs, draws=draws, sampler=sampler, seed=seed,
                          groups=groups, workers=workers, scheduler=scheduler, client=client,
                          folder=out, store=store, batch_size=batch_size, config=dataset,
                          progress=progress,
                          analyse=functools.partial(analyse_experiment,
                                                    option_names=option_names))


def _hash_folder(folder: Path | None) -> dict[str, str]:
    return hash_folder(folder)  # the one file hasher
