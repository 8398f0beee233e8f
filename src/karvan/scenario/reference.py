"""The reference of a year: the network as built, with that year's demand.

A scenario's effect is its difference from the reference of the same year; against the baseline of
another year the difference also holds the growth of demand between the two years. The reference of

- the base year is ``baseline``;
- a later year Y is ``reference_Y``: the base-year network with the demand of Y and the
  modifications of the baseline in force in Y (``reference_2030`` is built in; any other year is
  made by :func:`reference_scenario`);
- an earlier year Y is the back-cast ``backcast_Y`` (``src/karvan/data/backcast/``): the network as
  built in Y, against which the reported volumes of Y are compared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import pandas as pd

from karvan.errors import InputError, raise_by_source
from karvan.freight.corridor import (
    YEARS_AFTER_BASE,
    CorridorData,
    is_reference,  # noqa: F401 (re-exported)
    reference_name,  # noqa: F401 (re-exported)
    separating_reference,
)
from karvan.scenario.spec import (
    Scenario,
    builtin_scenario_folder,
    builtin_scenarios,
    did_you_mean,
    load_scenario,
)

BASELINE = "baseline"
_REFERENCE = re.compile(r"reference_(\d{4})")


def backcast_folder() -> Path:
    """Folder of the built-in back-cast scenarios."""
    return Path(str(resources.files("karvan") / "data" / "backcast"))


def backcast_years() -> list[int]:
    """Years with a built-in back-cast, ascending."""
    years = []
    for p in backcast_folder().glob("backcast_*.toml"):
        tail = p.stem.removeprefix("backcast_")
        if tail.isdigit():
            years.append(int(tail))
    return sorted(years)


def backcast_scenario(year: int) -> Scenario:
    """The built-in back-cast of ``year``.

    Raises
    ------
    InputError
        No back-cast of that year is built in.
    """
    path = backcast_folder() / f"backcast_{year}.toml"
    if not path.is_file():
        raise InputError(f"no back-cast of {year}; built-in back-casts: "
                         f"{', '.join(map(str, backcast_years())) or 'none'}.")
    return load_scenario(path)




def reference_scenario(year: int, *, base_year: int = 2024) -> Scenario:
    """The reference of ``year`` as a scenario: a built-in one where there is one, else the
    baseline moved to ``year`` (the same network and modifications, the demand of ``year``).

    Raises
    ------
    InputError
        A year before the base year without a built-in back-cast.
    """
    name = reference_name(year, base_year=base_year)
    if year < base_year:
        return backcast_scenario(year)
    if name in builtin_scenarios():
        return load_scenario(name)
    base = load_scenario(BASELINE)
    return replace(base, name=name, year=year,
                   title=f"Reference {year}: the {base.year} network with {year} demand",
                   description=(f"The no-build case of {year}: the {base.year} network with the "
                                f"demand of {year} (growth.csv) and the baseline's modifications "
                                f"in force in {year}."),
                   chain=(name, *base.chain), path=None)




@dataclass(frozen=True, slots=True)
class Comparison:
    """Which run a scenario is compared with, and what the reader must know about it."""

    scenario: str
    scenario_year: int
    reference: str
    reference_year: int
    like_year: bool
    note: str
    want: str = ""  # the like-year reference's name


def choose_reference(scenario: str, year: int, available: dict[str, int], *,
                     base_year: int = 2024) -> Comparison:
    """The run to compare a scenario with, among ``available`` runs (name -> year).

    The like-year reference when it is available; else the available reference of the nearest
    year (the baseline on a tie), with a note that names both years and says that the
    difference includes the growth of demand in between.

    Raises
    ------
    InputError
        No reference at all among ``available``.
    """
    want = reference_name(year, base_year=base_year)
    if scenario == want:
        return Comparison(scenario, year, scenario, year, True,
                          f"{scenario} is itself the reference of {year}.", want)
    if available.get(want) == year:
        return Comparison(scenario, year, want, year, True,
                          f"{scenario} ({year}) against the like-year reference {want}: the "
                          "difference is the scenario's own effect.", want)
    refs = {n: y for n, y in available.items() if is_reference(n) and n != scenario}
    # a year before the base year has a reference only where a back-cast is built in
    runnable = year >= base_year or year in backcast_years()
    if not refs:
        raise InputError(f"no reference run to compare {scenario} with: run "
                         + (f"{want} (the {year} reference) or " if runnable else "")
                         + f"{BASELINE}.")
    name = min(refs, key=lambda n: (abs(refs[n] - year), n != BASELINE, n))
    ry = refs[name]
    advice = (f"run {want} to separate them" if runnable else
              f"no reference of {year} can be run (back-casts are built in for "
              f"{', '.join(map(str, backcast_years())) or 'no year'})")
    return Comparison(scenario, year, name, ry, ry == year,
                      f"{scenario} ({year}) against {name} ({ry}), not a like-year reference: the "
                      f"difference includes {abs(year - ry)} year(s) of demand growth as well as "
                      f"the scenario's own changes; {advice}.", want)


def describe_comparison(a: str, a_year: int, b: str, b_year: int, *, base_year: int = 2024
                        ) -> Comparison:
    """What a difference B - A measures: B's own changes when A is of the same year, else those
    changes and the growth of demand between the two years (the note says which years, and
    names the like-year reference that separates them: B's, or A's where B is itself the
    reference of its year; none where both runs are references)."""
    want = reference_name(b_year, base_year=base_year)
    if a == b:
        return Comparison(b, b_year, a, a_year, a_year == b_year,
                          f"{b} ({b_year}) against {a} ({a_year}): two runs of one scenario, "
                          "so the difference is what changed between the runs (the dataset, "
                          "the model or its settings"
                          + (", and the year" if a_year != b_year else "")
                          + "), not the scenario's effect.", want)
    if a_year == b_year:
        head = f"{b} ({b_year}) against {a} ({a_year}), "
        if a == want:
            note = f"the like-year reference: the difference is {b}'s own changes."
        elif b == want:
            note = (f"a run of the same year that is not the reference: the difference is "
                    f"minus {a}'s own changes (compare {a} with {want} for them).")
        else:
            note = (f"a run of the same year that is not the reference: the difference is "
                    f"{b}'s changes less {a}'s (compare each with {want} for its own).")
        return Comparison(b, b_year, a, a_year, True, head + note, want)
    # the reference that separates the two is never one of them (B may be A's year's)
    want = separating_reference(a, a_year, b, b_year, base_year=base_year) or ""
    return Comparison(b, b_year, a, a_year, False,
                      f"{b} ({b_year}) against {a} ({a_year}), not a like-year reference: the "
                      f"difference includes {abs(b_year - a_year)} year(s) of demand growth as "
                      f"well as the scenario's own changes"
                      + (f"; compare with {want} to separate them." if want else "."), want)


def comparison_table(c: Comparison) -> pd.DataFrame:
    """A one-row table of a :class:`Comparison`, to travel with the difference tables."""
    return pd.DataFrame([{"scenario": c.scenario, "scenario_year": c.scenario_year,
                          "reference": c.reference, "reference_year": c.reference_year,
                          "like_year": c.like_year, "note": c.note}])


def report_references(runs: Sequence[tuple[str, int]], *, base_year: int = 2024
                      ) -> list[Comparison | None]:
    """What each of several runs (name, year) is compared with in a report: nothing for a
    reference itself; else its like-year reference among the runs, or the nearest reference
    (:func:`choose_reference`), or, with no reference among them, the first other run; the
    :class:`Comparison` says which and whether it is of the same year."""
    years = dict(runs)
    out: list[Comparison | None] = []
    for name, year in runs:
        if is_reference(name):
            out.append(None)
            continue
        others = {n: y for n, y in years.items() if n != name}
        try:
            out.append(choose_reference(name, year, others, base_year=base_year))
        except InputError:
            first = next((n for n, _ in runs if n != name), None)
            out.append(None if first is None else describe_comparison(
                first, years[first], name, year, base_year=base_year))
    return out


def like_year_reference(scenario: Scenario, *, base_year: int = 2024) -> Scenario | None:
    """The reference a project scenario's effect is measured against: the reference of its own
    year (:func:`reference_scenario`: ``baseline`` in the base year, ``reference_<year>`` after
    it, the back-cast ``backcast_<year>`` before it). None for a reference itself, and for a
    year before the base year that has no built-in back-cast (no reference of it can be run).

    ``karvan run`` and ``karvan explore`` both add it to the scenarios they run.

    Examples
    --------
    >>> from karvan.scenario import load_scenario
    >>> like_year_reference(load_scenario("rasht_astara")).name
    'reference_2028'
    >>> like_year_reference(load_scenario("baseline")) is None
    True
    """
    if is_reference(scenario.name):
        return None
    year = scenario.year
    if year < base_year and year not in backcast_years():
        return None
    return reference_scenario(year, base_year=base_year)


def with_references(scenarios: Sequence[Scenario], *, base_year: int = 2024
                    ) -> list[Scenario]:
    """``scenarios`` followed by the like-year reference (:func:`like_year_reference`) of every
    year among them that has none, so that each project scenario can be compared with the
    reference of its own year."""
    have = {s.name for s in scenarios}
    out = list(scenarios)
    for s in scenarios:
        want = reference_name(s.year, base_year=base_year)
        if want not in have and (r := like_year_reference(s, base_year=base_year)) is not None:
            out.append(r)
            have.add(want)
    return out


def load_scenario_or_reference(name: str, *, base_year: int = 2024,
                               data: CorridorData | None = None, warn: bool = True) -> Scenario:
    """A scenario file or built-in scenario (:func:`~karvan.scenario.load_scenario`, checked
    against ``data`` where given), or the reference of a year by the name ``karvan run`` gives
    it (``reference_2028``, ``backcast_2023``; :func:`reference_scenario`).

    Raises
    ------
    InputError
        A file's or built-in scenario's problems (``load_scenario``'s error); for a name that
        is none of these, the names that can be run, with the nearest one.
    """
    p = Path(str(name))
    if p.suffix.lower() == ".toml" or (builtin_scenario_folder() / f"{p.name}.toml").exists():
        return load_scenario(name, data=data, warn=warn)
    m = re.fullmatch(r"(?:reference|backcast)_(\d{4})", str(name))
    if m is not None and reference_name(int(m.group(1)), base_year=base_year) == name:
        return reference_scenario(int(m.group(1)), base_year=base_year)
    if m is None:
        hint = did_you_mean(name, [*builtin_scenarios(),
                                   *(f"backcast_{y}" for y in backcast_years())])
    elif (year := int(m.group(1))) >= base_year or year in backcast_years():
        hint = f" (the reference of {year} is {reference_name(year, base_year=base_year)})"
    else:
        hint = f" (no back-cast of {year} is built in)"
    if p.name and Path(f"{p}.toml").is_file():
        hint = f" (the file {p.name}.toml is there: give the name with .toml)"
    backcasts = ", ".join(f"backcast_{y}" for y in backcast_years()) or "none built in"
    raise InputError(f"no built-in scenario {str(name)!r}{hint}; give a .toml file, a built-in "
                     f"scenario ({', '.join(builtin_scenarios())}), the reference of a year "
                     f"{base_year + 1}-{base_year + YEARS_AFTER_BASE} (reference_YYYY; that of "
                     f"{base_year} is {BASELINE}) or a back-cast ({backcasts}).")


def reserved_name(name: str) -> str | None:
    """Why a user's scenario may not be called ``name``, or None: the references
    (``baseline``, ``reference_<year>``, ``backcast_<year>``) are what projects are compared
    with, and the built-in scenarios are run and compared by name, so that a scenario of one
    of those names would be taken for it."""
    from karvan.scenario.spec import builtin_scenarios

    if is_reference(name):
        return (f"{name!r} is the name of a reference, which karvan builds itself and compares "
                "projects with")
    if name in builtin_scenarios():
        return f"{name!r} is the name of a built-in scenario"
    return None


def check_own_name(scenario: Scenario, *, base_year: int = 2024) -> None:
    """Refuse a scenario built in Python under a reserved name (:func:`reserved_name`) that is
    not that scenario: its runs would be taken for the reference's or the built-in scenario's
    (a "reference_2028" with a border closed was compared against as the like-year reference).
    A file under such a name is refused when it is loaded; the scenario of that name itself
    (its year and modifications) passes.

    Raises
    ------
    InputError
        ``scenario`` has a reserved name and other modifications or another year.
    """
    why = reserved_name(scenario.name)
    if why is None:
        return
    try:
        own = load_scenario_or_reference(scenario.name, base_year=base_year, warn=False)
    except InputError:  # a reference name of a year that has none: nothing to be taken for
        return
    if (own.year, own.modifications) != (scenario.year, scenario.modifications):
        raise InputError(f"scenario {scenario.name!r}: {why}, and this scenario is not it (other "
                         "year or modifications); give it a name of its own "
                         "(dataclasses.replace(scenario, name=...)).")


def _name_clashes(loaded: Sequence[tuple[str, Scenario]]) -> list[tuple[str, str]]:
    """Two scenarios of one batch under one name (the second run replaced the first in the
    results), as ``(source, problem)``; ``loaded`` pairs each name or file as given with its
    scenario; a user's file under a reserved name is refused by
    :func:`karvan.scenario.load_scenario`."""
    out = []
    seen: dict[str, str] = {}
    for n, s in loaded:
        if s.name in seen:
            out.append((str(n), f"name: {s.name!r} is also the name of {seen[s.name]}; each "
                                "scenario of a run needs a name of its own (its results and "
                                "run are kept under it)."))
        seen.setdefault(s.name, str(n))
    return out


def load_scenarios(names: Sequence[str], data: CorridorData) -> list[Scenario]:
    """The scenarios of a batch (:func:`load_scenario_or_reference`), each checked against
    ``data``: the problems of every file in one error, not those of the first bad file only.

    Raises
    ------
    InputError
        Every problem of every scenario, each named by its file, line and field or
        modification (a parent shared by several scenarios is reported once).

    Warns
    -----
    CorridorWarning
        Once there are no problems: what loading each scenario warns about (values its
        modifications leave allowed but unusual, such as a capacity of 11 t/yr), which its
        runs do not repeat.
    """
    import warnings

    from karvan.freight.corridor import CorridorWarning

    problems: list[tuple[str | None, str]] = []
    specs = []
    # the warnings come after the problems, only where there are none: with warnings as
    # errors, one of them was raised in place of the list of problems (each scenario keeps
    # them in its ``warned``: nothing is caught, whose state other threads share)
    loaded = []  # (name or file as given, scenario) of those that loaded
    for n in names:
        try:
            specs.append(load_scenario_or_reference(str(n), base_year=data.base_year,
                                                    data=data, warn=False))
            loaded.append((str(n), specs[-1]))
        except InputError as e:
            problems.extend(e.located)
    problems.extend(_name_clashes(loaded))
    raise_by_source(problems)
    # a parent shared by several scenarios is warned about once
    for text in dict.fromkeys(t for s in specs for t in s.warned):
        warnings.warn(text, CorridorWarning, stacklevel=2)
    return specs
