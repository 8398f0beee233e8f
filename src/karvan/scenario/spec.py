"""Scenario files: a base year plus an ordered list of dated modifications, in TOML.

The one place where pydantic is used: files are validated at load time and every problem is
reported with the file, the line and the field (``line 12, modification[2].field``). A
:class:`Modification` or :class:`ScenarioFile` built in Python gets the same words, named by its
field (``value: 'abc' is not a number; ...``), in an :class:`~karvan.errors.InputError`. Given the
dataset (``load_scenario(path, data=...)``, as ``karvan run`` does), loading also checks what the
modifications name (links, borders, countries, modes, commodities) and what they make of the
tables, and reports those problems in the same error as the file's own, for every modification
that can be read, and warns about the values they leave allowed but unusual (a capacity of
11 t/yr) then rather than when the scenario runs (:func:`karvan.scenario.apply.check_scenario`).

.. code-block:: toml

    name = "rasht_astara"
    title = "Rasht-Astara railway open"
    year = 2028
    extends = "baseline"            # optional; the parent's modifications apply first

    [[modification]]
    action = "open"                 # open | close | set | scale | demand_scale | ban_transit
    links = ["R_IR_RASHT_ASTARA"]   # and/or borders = ["AZ-IR_ASTARA"], or every link of
                                    # countries = ["IR"] (optionally only modes = ["rail"])
    year = 2028                     # applies when the scenario year >= this year
    source = "..."
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import numbers
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from karvan.errors import InputError, raise_by_source, shorten

if TYPE_CHECKING:
    from karvan.freight.corridor import CorridorData

SETTABLE_FIELDS = ("capacity_tpy", "dwell_h", "tariff_usd_per_tkm", "tariff_usd_per_t",
                   "fee_usd_per_t", "speed_kph", "length_km", "frequency_per_week")
#: years a scenario file may name; a dataset narrows this to its base year -10/+50
#: (:data:`karvan.freight.corridor.YEARS_BEFORE_BASE`,
#: :data:`~karvan.freight.corridor.YEARS_AFTER_BASE`)
YEAR_MIN, YEAR_MAX = 2000, 2100
#: largest factor of a scale or demand_scale: a thousandfold change is already beyond any plan
FACTOR_MAX = 1000.0
#: keys of a modification that name what the dataset has, list-valued and text-valued
REFERENCE_LISTS = ("links", "borders", "countries", "modes", "od_countries")
REFERENCE_TEXTS = ("origin_country", "destination_country", "commodity")


@contextlib.contextmanager
def _in_karvan_words(model: type[BaseModel], raw: Callable[[], Any]) -> Iterator[None]:
    """Pydantic's ``ValidationError`` in karvan's words; ``raw()`` gives the input the
    problems name.

    Raises
    ------
    InputError
        In place of the ``ValidationError``: every problem in the words a scenario file gets
        (:func:`_problems`).
    """
    try:
        yield
    except ValidationError as e:
        raise InputError(_problems(model, e, raw()), model.__name__) from None


class _Checked(BaseModel):
    """A pydantic model whose constructors raise :class:`~karvan.errors.InputError` with every
    problem in the words a scenario file gets for it (:func:`_schema_problem`), named by field
    rather than by line, in place of pydantic's ``ValidationError``.

    A file is validated through :meth:`_schema`, which keeps pydantic's error and its locations
    for the file's lines. Its fields cannot be assigned once it is built: the checks run as it
    is built, and an assignment would pass them by (``m.value = -5`` on a checked ``set``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} cannot be changed once built ({name}): it is checked as it "
            f"is built; build a changed one with .model_copy(update={{{name!r}: ...}}), which "
            "is checked again")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, a new one built from this one's fields and ``update``, and
        checked as any other (pydantic's own copies an update unchecked).

        Raises
        ------
        InputError
            ``update`` makes it break the schema: every problem, named by its field.
        """
        if not update:
            return super().model_copy(deep=deep)
        made = type(self)(**{**dict(self), **update})
        return made.model_copy(deep=True) if deep else made

    def __init__(self, /, **data: Any) -> None:
        with _in_karvan_words(type(self), lambda: data):
            super().__init__(**data)

    # pydantic's own flag (as on BaseModel.__init__ and RootModel.__init__): the model within a
    # file is validated by its schema, not by this __init__, so that its errors keep their
    # place in the file (``modification[2].value``) rather than being raised from within
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """:meth:`pydantic.BaseModel.model_validate`, in karvan's words.

        Raises
        ------
        InputError
            ``obj`` breaks the schema: every problem, named by its field.
        """
        with _in_karvan_words(cls, lambda: obj):
            return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """:meth:`pydantic.BaseModel.model_validate_json`, in karvan's words.

        Raises
        ------
        InputError
            ``json_data`` breaks the schema: every problem, named by its field.
        """
        def raw() -> Any:
            try:
                return json.loads(json_data)
            except ValueError:
                return None

        with _in_karvan_words(cls, raw):
            return super().model_validate_json(json_data, **kwargs)

    @classmethod
    def model_validate_strings(cls, obj: Any, **kwargs: Any) -> Self:
        """:meth:`pydantic.BaseModel.model_validate_strings`, in karvan's words.

        Raises
        ------
        InputError
            ``obj`` breaks the schema: every problem, named by its field.
        """
        with _in_karvan_words(cls, lambda: obj):
            return super().model_validate_strings(obj, **kwargs)

    @classmethod
    def _schema(cls, obj: Any) -> Self:
        """``obj`` validated, raising pydantic's ``ValidationError`` (for a file's lines)."""
        return cls.__pydantic_validator__.validate_python(obj)


def _problems(model: type[BaseModel], error: ValidationError, raw: Any) -> list[str]:
    """The problems of ``error``, raised by a ``model`` built in Python from ``raw``, in the
    words of a file's (:func:`_schema_problem`)."""
    return [_schema_problem(err, {}, raw, root=model, in_python=True) for err in error.errors()]


class Modification(_Checked):
    """One change to the base network or demand.

    Values, factors and years are finite numbers written as numbers (``nan``, ``inf`` and a
    number in quotes are refused); a factor lies in 0..:data:`FACTOR_MAX`. What a modification
    does to the tables is checked against the tables' schemas after it applies
    (:func:`karvan.scenario.apply.apply_scenario`).

    Raises
    ------
    InputError
        Built with a key it does not have, a value of the wrong type or out of range, or keys
        that do not make a modification together: every problem, as a scenario file gets it
        for the same mistake, with the remedy written as Python arguments.
    AttributeError
        On assigning to a field: a modification is checked once, as it is built, so it cannot
        change afterwards (:meth:`model_copy` with ``update`` builds a changed one, checked).

    Examples
    --------
    >>> Modification(action="sett", links=["X"], field="capacity_tpy", value="abc")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    karvan.errors.InputError: Modification: 2 problems:
      - action: Input should be 'open', ... (got 'sett'; did you mean set?)
      - value: 'abc' is not a number; value is the capacity_tpy to set, in t/yr; pass an ...
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    action: Literal["open", "close", "set", "scale", "demand_scale", "ban_transit"]
    links: tuple[str, ...] = Field(default_factory=tuple)
    borders: tuple[str, ...] = Field(default_factory=tuple)
    countries: tuple[str, ...] = Field(default_factory=tuple)
    modes: tuple[str, ...] = Field(default_factory=tuple)
    field: str | None = None
    # strict: a number written as text ("2030") is refused, not read
    value: float | None = Field(default=None, ge=0, le=1e12, strict=True)
    factor: float | None = Field(default=None, ge=0, le=FACTOR_MAX, strict=True)
    year: int | None = Field(default=None, ge=1900, le=2200, strict=True)
    until: int | None = Field(default=None, ge=1900, le=2200, strict=True)
    od_countries: tuple[str, ...] = Field(default_factory=tuple)
    origin_country: str | None = None
    destination_country: str | None = None
    commodity: str | None = None
    source: str | None = None
    note: str | None = None

    def in_force(self, year: int) -> bool:
        """Whether the modification applies to a scenario of ``year``: from ``year`` (if given)
        up to and including ``until`` (if given)."""
        return (self.year is None or self.year <= year) and (self.until is None
                                                             or year <= self.until)

    @model_validator(mode="after")
    def _complete(self) -> Modification:
        a = self.action
        if self.until is not None and self.year is not None and self.until < self.year:
            raise ValueError(f"until ({self.until}) is before year ({self.year}): the "
                             "modification would be in force in no year; give an until at or "
                             "after its year, or leave until out (in force from its year on)")
        if a == "ban_transit" and not self.od_countries:
            raise ValueError("action 'ban_transit' needs od_countries = [...]: the countries whose "
                             "freight (origin or destination) may not use the links")
        if a != "ban_transit" and self.od_countries:
            raise ValueError("od_countries belongs to action 'ban_transit'")
        if a == "ban_transit" and set(self.countries) & set(self.od_countries):
            # freight with an end in a country is not in transit there: the ban cut that
            # country's own freight off its links
            both = ", ".join(sorted(set(self.countries) & set(self.od_countries)))
            raise ValueError(f"{both} is in both countries and od_countries: freight with an "
                             "end in a country is not in transit there; ban a country's links "
                             "(countries) to other countries' freight (od_countries)")
        if a in ("open", "close", "set", "scale", "ban_transit") and not (self.links or self.borders
                                                           or self.countries):
            raise ValueError(f"action {a!r} needs links = [...], borders = [...] or "
                             "countries = [...]")
        if self.modes and not self.countries:
            raise ValueError("modes = [...] narrows countries = [...]; give the countries too")
        if a in ("set", "scale"):
            if self.field not in SETTABLE_FIELDS:
                near = (nearest_name(self.field, SETTABLE_FIELDS) if self.field is not None
                        else None)
                raise ValueError(f"action {a!r} needs field = one of {', '.join(SETTABLE_FIELDS)}"
                                 f" (got {self.field!r}"
                                 f"{f'; did you mean {near}?' if near else ''})")
        if a == "set" and self.value is None:
            raise ValueError("action 'set' needs value = <number>")
        if a == "set" and self.value is not None and self.value < 0:
            raise ValueError("value must be >= 0")
        if a in ("set", "scale") and self.field == "capacity_tpy" and (
                (a == "set" and self.value is not None and self.value <= 0)
                or (a == "scale" and self.factor is not None and self.factor <= 0)):
            raise ValueError("a capacity must stay > 0 (a blank capacity means unlimited); to "
                             "shut links, use action = \"close\"")
        if a in ("open", "close", "ban_transit") and (self.field is not None
                                                      or self.value is not None
                                                      or self.factor is not None):
            raise ValueError(f"action {a!r} takes no field, value or factor")
        if a in ("set",) and self.factor is not None:
            raise ValueError("action 'set' takes value, not factor")
        if a == "scale" and self.value is not None:
            raise ValueError("action 'scale' takes factor, not value")
        if a in ("scale", "demand_scale") and (self.factor is None or self.factor < 0):
            raise ValueError(f"action {a!r} needs factor = <number >= 0>")
        if a == "demand_scale" and (self.links or self.borders or self.countries):
            raise ValueError("demand_scale filters by origin_country, destination_country and "
                             "commodity, not by links")
        if a == "demand_scale" and self.field is not None:
            raise ValueError("action 'demand_scale' takes no field: it scales the demand's "
                             "tonnes")
        given = [k for k in ("commodity", "origin_country", "destination_country")
                 if getattr(self, k) is not None]
        if a != "demand_scale" and given:
            hint = (" (od_countries names the countries whose freight may not use the links)"
                    if a == "ban_transit" else "")
            raise ValueError(
                f"action {a!r} acts on links for every commodity and origin and does not filter "
                f"by {' or '.join(given)}; only demand_scale does{hint}. To stop one "
                "commodity or country pair, use demand_scale with factor = 0")
        return self


class ScenarioFile(_Checked):
    """The contents of one scenario file.

    Raises
    ------
    InputError
        Built in Python from contents that break the schema: every problem, named by its field
        (``modification[0].value``).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=100)
    title: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=10_000)
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX, strict=True)
    extends: str | None = None
    modification: tuple[Modification, ...] = Field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a modification is written: its file, its position among the file's
    ``[[modification]]`` tables (from 0) and the line of its header, where known."""

    file: Path | None
    index: int
    line: int | None = None
    #: how a modification that no file holds is named (a row of the dashboard's form)
    name: str | None = None

    def label(self) -> str:
        """``"line 12, modification[2]"``: the modification's place within its file (or its
        ``name``, where it has one)."""
        if self.name:
            return self.name
        return (f"line {self.line}, " if self.line else "") + f"modification[{self.index}]"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario with its parents resolved: the modifications in the order they apply, and
    where each is written (``places``, parallel to ``modifications`` where known).

    ``warned`` holds the warnings given when it was loaded against a dataset, which applying it
    does not repeat.

    Built in Python, it is checked as it is built: a modification may be given as a dict of a
    :class:`Modification`'s keys, and lists become tuples.

    Raises
    ------
    InputError
        A name that is not a non-empty text, a year that is not a whole number, a modification
        that is neither a :class:`Modification` nor a dict that makes one: every problem.
    """

    name: str
    title: str
    description: str
    year: int
    modifications: tuple[Modification, ...]
    chain: tuple[str, ...]
    path: Path | None = None
    places: tuple[Place, ...] = ()
    warned: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not isinstance(self.name, str) or not self.name:
            problems.append(f"name: give a non-empty text (got {shorten(repr(self.name))}).")
        for key in ("title", "description"):
            if not isinstance(getattr(self, key), str):
                problems.append(f"{key}: give a text (got {shorten(repr(getattr(self, key)))}).")
        year = self.year
        if isinstance(year, bool) or not isinstance(year, numbers.Integral):
            problems.append(f"year: give a whole number (got {shorten(repr(year))}).")
        else:
            object.__setattr__(self, "year", int(year))
        mods = self.modifications
        if isinstance(mods, (Modification, dict, str)) or not isinstance(mods, Iterable):
            problems.append("modifications: give a sequence of modifications (each a "
                            f"Modification or a dict of its keys), not {type(mods).__name__}.")
            mods = ()
        made = []
        for i, m in enumerate(mods):
            if isinstance(m, dict):
                try:
                    m = Modification(**m)
                except InputError as e:
                    problems.extend(f"modifications[{i}]: {x}" for x in e.problems)
                    continue
            elif not isinstance(m, Modification):
                problems.append(f"modifications[{i}]: a {type(m).__name__}, not a Modification "
                                "or a dict of its keys.")
                continue
            made.append(m)
        if problems:
            raise InputError(problems, "Scenario")
        object.__setattr__(self, "modifications", tuple(made))
        object.__setattr__(self, "chain", tuple(self.chain))
        object.__setattr__(self, "places", tuple(self.places))

    def active(self) -> list[Modification]:
        """Modifications in force in the scenario year."""
        return [m for m in self.modifications if m.in_force(self.year)]

    def to_dict(self) -> dict:
        """The scenario as plain data (a run's manifest keeps it)."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "year": self.year, "chain": list(self.chain),
                # as JSON has them (lists, not the tuples a Modification holds): a manifest's
                # scenario read back equals it
                "modifications": [m.model_dump(mode="json", exclude_none=True)
                                  for m in self.modifications]}


def _reserved_here(path: Path, name: str) -> str | None:
    """Why the scenario file ``path`` may not be called ``name``
    (:func:`karvan.scenario.reference.reserved_name`), or None; karvan's own files (the built-in
    scenarios and back-casts) take their names."""
    from karvan.scenario.reference import backcast_folder, reserved_name

    where = path.resolve().parent
    if where in (builtin_scenario_folder().resolve(), backcast_folder().resolve()):
        return None
    return reserved_name(name)


def builtin_scenario_folder() -> Path:
    """Folder of the built-in scenario files."""
    return Path(str(resources.files("karvan") / "data" / "scenarios"))


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios, in the order they are run."""
    order = ["baseline", "rasht_astara", "baku_astara_15mt", "south_caucasus_unblocked",
             "iran_disrupted", "combined_2030", "reference_2030"]
    found = sorted(p.stem for p in builtin_scenario_folder().glob("*.toml"))
    return [n for n in order if n in found] + [n for n in found if n not in order]


#: the fewest characters a name must have to be taken for a part of a known name
PART_MIN = 3


def nearest_name(name: object, known, *, cutoff: float = 0.6) -> str | None:
    """The spelling among ``known`` nearest to ``name`` (a typo's likely meaning), if any is
    at least ``cutoff`` alike (:func:`difflib.get_close_matches`); else the known name that
    ``name`` is the start of, or a part of (of :data:`PART_MIN` characters or more, in any
    case: ``frequency`` for ``frequency_per_week``), the most alike of several.

    >>> nearest_name("baselin", ["baseline", "rasht_astara"])
    'baseline'
    >>> nearest_name("r_ir_rasht_astara", ["R_IR_RASHT_ASTARA", "R_IR_RASHT_QAZVIN"])
    'R_IR_RASHT_ASTARA'
    >>> nearest_name("frequency", ["speed_kph", "frequency_per_week"])
    'frequency_per_week'
    >>> nearest_name("per_week", ["speed_kph", "frequency_per_week"])
    'frequency_per_week'
    >>> nearest_name("AM-AZ_AGHBAND", ["AZ-AM_AGHBAND", "AM-AZ_YERASKH"])
    'AZ-AM_AGHBAND'
    """
    names = [str(k) for k in known]
    text = str(name).casefold()
    # another case of a known name is that name (r_ir_rasht_astara for R_IR_RASHT_ASTARA)
    same = [k for k in names if k.casefold() == text]
    if same:
        return same[0]
    # a border id with its two countries the other way round (AM-AZ_AGHBAND for AZ-AM_AGHBAND)
    turned = re.fullmatch(r"([a-z]{2})-([a-z]{2})_(.+)", text)
    if turned:
        a, b, rest = turned.groups()
        same = [k for k in names if k.casefold() == f"{b}-{a}_{rest}"]
        if same:
            return same[0]
    near = difflib.get_close_matches(str(name), names, n=1, cutoff=cutoff)
    if near:
        return near[0]
    if len(text) < PART_MIN:
        return None
    # a name cut short (frequency, capacity) is too unlike the whole for difflib
    part = ([k for k in names if k.casefold().startswith(text)]
            or [k for k in names if text in k.casefold()])
    if not part:
        return None
    return max(part, key=lambda k: difflib.SequenceMatcher(None, text, k.casefold()).ratio())


def did_you_mean(name: object, known, *, cutoff: float = 0.6) -> str:
    """``" (did you mean baseline?)"`` for the nearest of ``known`` to ``name``
    (:func:`nearest_name`), or ``""``."""
    near = nearest_name(name, known, cutoff=cutoff)
    return f" (did you mean {near}?)" if near is not None else ""


def read_scenario_file(path: str | os.PathLike) -> ScenarioFile:
    """Parse and validate one scenario file (without a dataset: the ids it names are checked
    by :func:`load_scenario` given ``data``, or when the scenario is applied).

    Raises
    ------
    InputError
        The file is missing or not TOML, or breaks the scenario schema: every problem, each with
        its line and field and what to write instead.
    """
    parsed = _parse(Path(path))
    if parsed.problems or parsed.spec is None:
        raise InputError(parsed.problems, str(parsed.path))
    return parsed.spec


def load_scenario(name_or_path: str | os.PathLike, *, search: list[Path] | None = None,
                  data: CorridorData | None = None, warn: bool = True) -> Scenario:
    """Load a scenario by file path or by built-in name, resolving ``extends``.

    A parent is looked for beside the file first, then among the built-in scenarios.

    Parameters
    ----------
    name_or_path
        A ``.toml`` file or the name of a built-in scenario.
    search
        Folders to look for parents in (default: beside the file, then the built-in ones).
    data
        The dataset the scenario will run on. Given, the modifications that can be read are
        checked against it as well (:func:`karvan.scenario.apply.check_scenario`), so that a
        file's schema problems and its unknown ids come in one error, and the values they leave
        allowed but unusual are warned about now, not again when the scenario is applied.

    Raises
    ------
    InputError
        Every problem of the scenario's files together: schema problems, an ``extends`` that
        finds no file or makes a cycle, a name unlike its file's and, with ``data``, ids the
        dataset does not have and values outside its tables' schemas. Each is named by its file,
        line and field or modification.

    Warns
    -----
    CorridorWarning
        With ``data``, once there are no problems: each modification that leaves a value
        allowed but unusual (a capacity of 11 t/yr, a unit slip for 11 Mt/yr); with ``warn``
        False they are only in the scenario's ``warned``.
    """
    p = Path(name_or_path)
    builtin = builtin_scenario_folder()
    if p.suffix.lower() != ".toml":
        cand = builtin / f"{p.name}.toml"
        if not cand.exists():
            if re.fullmatch(r"(?:reference|backcast)_\d{4}", p.name):
                # the references are built, not files: named by the function that builds them
                raise InputError(f"{p.name!r} is a reference, which karvan builds: "
                                 "karvan.scenario.reference.load_scenario_or_reference"
                                 f"({p.name!r}), or run_scenario(data, {p.name!r}).")
            raise InputError(f"no built-in scenario {str(name_or_path)!r}"
                             f"{did_you_mean(p.name, builtin_scenarios())}; built-in scenarios "
                             f"are {', '.join(builtin_scenarios())}, or give a .toml file.")
        p = cand
    search = [p.parent, builtin] if search is None else search
    problems: list[tuple[str, str]] = []
    chain: list[_Parsed] = []
    cur: Path | None = p
    while cur is not None:
        f = _parse(cur)
        here = str(cur)
        problems.extend((here, x) for x in f.problems)
        names = [c.name for c in chain]
        if f.name in names:
            first = chain[names.index(f.name)]
            if first.path.resolve() == cur.resolve():
                beside = (f" (a file beside it is found before the built-in {f.name})"
                          if (builtin / f"{f.name}.toml").exists()
                          and cur.resolve().parent != builtin.resolve() else "")
                problems.append((here, f"'extends' makes a cycle: "
                                       f"{' -> '.join([*names, f.name])}{beside}; remove one "
                                       "of the extends."))
                break
            # not a cycle: another file of one name, most often a user's scenario named like
            # the built-in one it extends (it was said to be a cycle in the built-in file)
            which = ("the built-in scenario" if cur.resolve().parent == builtin.resolve()
                     else "the scenario")
            problems.append((str(first.path), f"name {f.name!r} is also the name of {which} "
                                              f"that {chain[-1].path.name} extends ({cur}): two "
                                              "scenarios of one name in one chain, which "
                                              "'extends' cannot tell apart; give this scenario "
                                              "another name."))
            break
        if f.given_name is not None and cur.stem != f.given_name:
            problems.append((here, f"name {f.given_name!r} differs from the file name; make "
                                   "them equal so that 'extends' can find it."))
        why = _reserved_here(cur, f.name)
        if why:
            # a user's file of such a name is taken for the reference or the built-in one: by
            # a comparison (as the like-year reference), or by 'extends' (a copy of
            # baseline.toml beside a scenario stood in for the built-in one, in silence)
            problems.append((here, f"name: {why}; give the scenario another name (and its file: "
                                   f"{cur.name}"
                                   + (f", extended by {chain[-1].name}" if chain else "")
                                   + "), as karvan would take it for that one."))
        chain.append(f)
        cur = None
        if f.extends is not None:
            cur = next((d / f"{f.extends}.toml" for d in search
                        if (d / f"{f.extends}.toml").exists()), None)
            if cur is None and re.fullmatch(r"reference_\d{4}", f.extends):
                # karvan builds these (the baseline's network at that year's demand): a file
                # extends the baseline and gives the year
                year = f.extends.rsplit("_", 1)[1]
                problems.append((here, f"extends {f.extends!r}: karvan builds the references "
                                       "itself, no file holds them; write extends = "
                                       f"\"baseline\" and year = {year} (the baseline's "
                                       f"network at {year}'s demand, as {f.extends})."))
            elif cur is None and f.extends.endswith(".toml"):
                # a scenario's name, as in its file's name = "...", not its file's
                stem = Path(f.extends).name.removesuffix(".toml")
                there = any((d / f"{stem}.toml").exists() for d in search)
                problems.append((here, f"extends {f.extends!r}: extends takes a scenario's "
                                       f"name, without .toml; write extends = \"{stem}\""
                                       + ("" if there else f" (no {stem}.toml is beside it or "
                                          "built in either)") + "."))
            elif cur is None:
                known = [q.stem for d in search for q in sorted(d.glob("*.toml"))]
                problems.append((here, f"extends {f.extends!r}"
                                       f"{did_you_mean(f.extends, dict.fromkeys(known))}, which "
                                       "is neither beside it nor built in "
                                       f"({', '.join(builtin_scenarios())})."))
    top = chain[0]
    mods = [m for f in reversed(chain) for m in f.modifications]
    year = top.year if top.year is not None else (data.base_year if data is not None
                                                  else YEAR_MIN)
    title = top.spec.title if top.spec is not None else ""
    description = top.spec.description if top.spec is not None else ""
    scenario = Scenario(top.name, title or top.name, description, year,
                        tuple(m for _, m in mods), tuple(c.name for c in chain), p,
                        tuple(pl for pl, _ in mods))
    unusual: list[tuple[str, str]] = []
    if data is not None:
        from karvan.scenario.apply import check_scenario

        unparsed = [u for f in reversed(chain) for u in f.unparsed]
        found, unusual = check_scenario(data, scenario, unparsed=unparsed)
        problems.extend(found)
    # read top-down: file by file (the scenario's first), each from its first line on
    files = list(dict.fromkeys([str(f.path) for f in chain] + [f for f, _ in problems]))
    raise_by_source(sorted(problems, key=lambda fp: (files.index(fp[0]), _line_in(fp[1]))))
    if unusual:
        # after the problems: with warnings as errors, one was raised in place of their list
        import warnings

        from karvan.freight.corridor import CorridorWarning

        texts = tuple(f"{f}: {t}" for f, t in unusual)
        for t in texts if warn else ():
            warnings.warn(t, CorridorWarning, stacklevel=2)
        scenario = replace(scenario, warned=texts)
    return scenario


# -- reading one file -------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[\s*modification\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_EXAMPLE = {"name": '"<the file name without .toml>"', "year": "<the scenario year>",
            "action": '"open" (or close, set, scale, demand_scale, ban_transit)'}


@dataclass(slots=True)
class _Parsed:
    """One scenario file as far as it can be read, and its problems (without the file name)."""

    path: Path
    raw: dict
    spec: ScenarioFile | None
    problems: list[str]
    #: the modifications that pass the schema, with their places
    modifications: list[tuple[Place, Modification]]
    #: those that do not: what they name that is well typed, to be checked against a dataset
    #: (built without validation, so their action may be anything)
    unparsed: list[tuple[Place, Modification]]

    @property
    def given_name(self) -> str | None:
        name = self.raw.get("name")
        return name if isinstance(name, str) else None

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else (self.given_name or self.path.stem)

    @property
    def extends(self) -> str | None:
        ext = self.raw.get("extends")
        return ext if isinstance(ext, str) else None

    @property
    def year(self) -> int | None:
        y = self.spec.year if self.spec is not None else self.raw.get("year")
        return y if isinstance(y, int) and not isinstance(y, bool) and (
            YEAR_MIN <= y <= YEAR_MAX) else None


def _parse(path: Path) -> _Parsed:
    """Read ``path`` as far as it goes: the problems of the file are collected, not raised.

    Raises
    ------
    InputError
        Only when the file is missing or cannot be read as text.
    """
    from karvan.schema import read_text

    if path.is_dir():
        raise InputError(f"{path} is a folder, not a scenario file: give a .toml file (or a "
                         "built-in scenario's name).")
    if not path.is_file():
        raise InputError(f"scenario file not found: {path}")
    text = read_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return _Parsed(path, {}, None, [f"not valid TOML ({shorten(e, 200)})."], [], [])
    lines = _key_lines(text)
    rows = raw.get("modification")
    rows = rows if isinstance(rows, list) else []
    places = [Place(path, i, lines.get(("modification", i))) for i in range(len(rows))]
    try:
        spec = ScenarioFile._schema(raw)
    except ValidationError as e:
        out = _Parsed(path, raw, None, [_schema_problem(err, lines, raw) for err in e.errors()],
                      [], [])
        for place, row in zip(places, rows, strict=True):
            try:
                out.modifications.append((place, Modification._schema(row)))
            except ValidationError:
                if isinstance(row, dict):
                    out.unparsed.append((place, _references_of(row)))
        return out
    return _Parsed(path, raw, spec, [], list(zip(places, spec.modification, strict=True)), [])


def _references_of(raw: dict) -> Modification:
    """The keys of a modification that fails the schema that name things in the dataset, where
    they are well typed, as a modification built without validation."""
    keep: dict = {k: raw[k] for k in REFERENCE_LISTS if isinstance(raw.get(k), list)
                  and all(isinstance(x, str) for x in raw[k])}
    keep.update({k: raw[k] for k in REFERENCE_TEXTS if isinstance(raw.get(k), str)})
    action = raw.get("action")
    return Modification.model_construct(action=action if isinstance(action, str) else None,
                                        **keep)


def _key_lines(text: str) -> dict[tuple, int]:
    """Line (from 1) of each top-level key, each ``[[modification]]`` header and each key
    within one, as written in the usual layout of a scenario file (a key is looked up by its
    pydantic location: ``("year",)``, ``("modification", 2)``, ``("modification", 2, "field")``).
    Keys written otherwise (inline tables, dotted keys) have no line."""
    out: dict[tuple, int] = {}
    table: tuple | None = ()
    n = -1
    quote = None  # the delimiter of a multi-line string being read
    for no, line in enumerate(text.splitlines(), 1):
        if quote is not None:
            if line.count(quote) % 2:
                quote = None
            continue
        if _HEADER.match(line):
            n += 1
            table = ("modification", n)
            out.setdefault(table, no)
        elif line.lstrip().startswith("["):
            table = None  # a table of no known meaning: the schema reports it
        elif (m := _KEY.match(line)) and table is not None:
            out.setdefault((*table, m.group(1)), no)
        for q in ('"""', "'''"):
            if line.count(q) % 2:
                quote = q
                break
    return out


def _line_in(problem: str) -> int:
    """The line a problem message starts with (``"line 7, ..."``), 0 for a whole file's."""
    m = re.match(r"line (\d+), ", problem)
    return int(m.group(1)) if m else 0


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for k in range(len(loc), 0, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


#: pydantic's error types of a value that is not a list (the lists are held as tuples)
_SEQUENCE = ("list_type", "tuple_type")


def _schema_problem(err: dict, lines: dict[tuple, int], raw: Any, *,
                    root: type[BaseModel] | None = None, in_python: bool = False) -> str:
    """One pydantic error as ``"line 7, modification[1].factor: what is wrong; the fix"``
    (``raw``: the file as parsed, whose modification names the field a value is of).

    ``root`` is the model validated (default :class:`ScenarioFile`); a :class:`Modification`
    built in Python is validated by itself, its errors named by field (``factor: ...``), and
    one of the whole modification by its text alone. ``in_python``: the remedy is written as
    Python arguments (``year=2028``) rather than as a file's TOML (``year = 2028``).
    """
    root = ScenarioFile if root is None else root
    loc = tuple(err["loc"])
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    msg = err["msg"].removeprefix("Value error, ")
    kind = err["type"]
    if kind == "tuple_type":  # lists are held as tuples, so that they cannot change
        msg = msg.replace("valid tuple", "valid list")
    key = loc[-1] if loc else None
    got = err.get("input")
    within = _within_modification(loc, raw, root)
    if kind == "extra_forbidden":
        model = Modification if within is not None and len(within[1]) == 1 else ScenarioFile
        known = [k for k in model.model_fields if k != "modification"]
        what = ("a modification's keys are" if model is Modification else
                "ScenarioFile's keys are" if in_python else "a scenario file's keys are")
        msg = (f"unknown key{did_you_mean(key, known)}; {what} "
               f"{', '.join(known)}"
               + (" and modification" if model is ScenarioFile and in_python else
                  " and [[modification]] tables" if model is ScenarioFile else "") + ".")
    elif kind in _SEQUENCE and loc == ("modification",) and in_python:
        msg = (f"give a list of modifications (each a dict or a Modification), not "
               f"{type(got).__name__ if got is not None else 'None'}.")
    elif kind in _SEQUENCE and loc == ("modification",) and root is ScenarioFile:
        # [modification] (one bracket) is one table where a list of them is read
        msg = ("write each modification as a [[modification]] table (two brackets), not "
               "[modification].")
    elif kind == "missing":
        example = ('"<letters, digits, _ and ->"' if in_python and key == "name" else
                   _EXAMPLE.get(str(key), "..."))
        msg = (f"missing; pass {key}={example}." if in_python else
               f"missing; add {key} = {_EXAMPLE.get(str(key), '...')}.")
    elif kind == "literal_error" and key == "action" and isinstance(got, str):
        near = nearest_name(got, get_args(Modification.model_fields["action"].annotation))
        msg += f" (got {shorten(repr(got))}{f'; did you mean {near}?' if near else ''})"
    elif kind in ("int_type", "float_type") and key in _NUMBERS:
        msg = _not_a_number(str(key), got, _unit_of(within), in_python=in_python)
    elif key in _NUMBERS and kind in ("greater_than_equal", "less_than_equal"):
        msg += f" (got {shorten(got)}){_unit_of(within)}."
    elif "input" in err and not isinstance(got, dict):
        msg += f" (got {shorten(repr(got) if isinstance(got, str) else got)})"
    line = _line_of(loc, lines)
    if not where and root is Modification:
        return msg
    return (f"line {line}, " if line else "") + f"{where or 'file'}: {msg}"


def _within_modification(loc: tuple, raw: Any, root: type[BaseModel]
                         ) -> tuple[dict | None, tuple] | None:
    """The modification (as given, where it is a table) that the location ``loc`` of an error
    of a ``root`` built from ``raw`` lies in, and the location within it; None where ``loc``
    is not within a modification."""
    if root is Modification:
        return (raw if isinstance(raw, dict) else None), loc
    if len(loc) >= 2 and loc[0] == "modification" and isinstance(loc[1], int):
        rows = raw.get("modification") if isinstance(raw, dict) else None
        row = rows[loc[1]] if isinstance(rows, list) and loc[1] < len(rows) else None
        return (row if isinstance(row, dict) else None), loc[2:]
    return None


#: the numeric keys of a scenario file and its modifications
_NUMBERS = ("year", "until", "value", "factor")


def _unit_of(within: tuple[dict | None, tuple] | None) -> str:
    """``"; value is the capacity_tpy to set, in t/yr"`` for the value or factor of a
    modification (``within``: the modification and the location in it,
    :func:`_within_modification`) whose field is one of :data:`SETTABLE_FIELDS`, else ``""``."""
    if within is None or within[1] not in (("value",), ("factor",)):
        return ""
    row, (key,) = within
    name = row.get("field") if row is not None else None
    if name not in SETTABLE_FIELDS:
        return ""
    if key == "factor":
        return f"; factor multiplies {name}"
    from karvan.schema import load_schema

    unit = load_schema("corridor/link").field(name).unit
    return f"; value is the {name} to set" + (f", in {unit}" if unit else "")


def _not_a_number(key: str, got: object, unit: str, *, in_python: bool = False) -> str:
    """What is wrong with a ``key`` that is not a number of its kind, and what to write (as a
    file's TOML, or ``in_python`` as a keyword argument)."""
    whole = key in ("year", "until")
    eq = "=" if in_python else " = "
    if isinstance(got, str):
        try:
            number = float(got.strip())
        except ValueError:
            number = None
        if number is not None and math.isfinite(number) and (not whole or number.is_integer()):
            text = got.strip() if not whole else str(int(number))
            if in_python:
                return (f"a number given as text ({shorten(repr(got))}){unit}; pass it as a "
                        f"number: {key}={text}.")
            return (f"a number written as text ({shorten(repr(got))}){unit}; write it without "
                    f"quotes: {key} = {text}.")
        if in_python:
            return (f"{shorten(repr(got))} is not a number{unit}; pass an int or a float, "
                    "without a unit.")
        return (f"{shorten(repr(got))} is not a number{unit}; write a plain number, without "
                "quotes or a unit.")
    if whole and isinstance(got, float) and got.is_integer():
        return f"not a whole number ({got!r}); write {key}{eq}{int(got)}."
    what = "a whole number" if whole else "a number"
    return f"must be {what} (got {shorten(repr(got))}){unit}."
