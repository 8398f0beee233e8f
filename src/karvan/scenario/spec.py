"""Scenario files: a base year plus an ordered list of dated modifications, in TOML.

The one place where pydantic is used: files are validated at load time and every problem is
reported with the file and the field (``modification[2].field``).

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

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from karvan.errors import InputError, shorten

SETTABLE_FIELDS = ("capacity_tpy", "dwell_h", "tariff_usd_per_tkm", "tariff_usd_per_t",
                   "fee_usd_per_t", "speed_kph", "length_km", "frequency_per_week")
#: years a scenario file may name; a dataset narrows this to its base year -10/+50
#: (:data:`karvan.freight.corridor.YEARS_BEFORE_BASE`, :data:`~karvan.freight.corridor.YEARS_AFTER_BASE`)
YEAR_MIN, YEAR_MAX = 2000, 2100
#: largest factor of a scale or demand_scale: a thousandfold change is already beyond any plan
FACTOR_MAX = 1000.0


class Modification(BaseModel):
    """One change to the base network or demand.

    Values and factors are finite numbers (``nan`` and ``inf`` are refused); a factor lies in
    0..:data:`FACTOR_MAX`. What a modification does to the tables is checked against the tables'
    schemas after it applies (:func:`karvan.scenario.apply.apply_scenario`).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    action: Literal["open", "close", "set", "scale", "demand_scale", "ban_transit"]
    links: list[str] = Field(default_factory=list)
    borders: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    modes: list[str] = Field(default_factory=list)
    field: str | None = None
    value: float | None = Field(default=None, ge=0, le=1e12)
    factor: float | None = Field(default=None, ge=0, le=FACTOR_MAX)
    year: int | None = Field(default=None, ge=1900, le=2200)
    until: int | None = Field(default=None, ge=1900, le=2200)
    od_countries: list[str] = Field(default_factory=list)
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
            raise ValueError(f"until ({self.until}) is before year ({self.year})")
        if a == "ban_transit" and not self.od_countries:
            raise ValueError("action 'ban_transit' needs od_countries = [...]: the countries whose "
                             "freight (origin or destination) may not use the links")
        if a != "ban_transit" and self.od_countries:
            raise ValueError("od_countries belongs to action 'ban_transit'")
        if a in ("open", "close", "set", "scale", "ban_transit") and not (self.links or self.borders
                                                           or self.countries):
            raise ValueError(f"action {a!r} needs links = [...], borders = [...] or "
                             "countries = [...]")
        if self.modes and not self.countries:
            raise ValueError("modes = [...] narrows countries = [...]; give the countries too")
        if a in ("set", "scale"):
            if self.field not in SETTABLE_FIELDS:
                raise ValueError(f"action {a!r} needs field = one of {', '.join(SETTABLE_FIELDS)}"
                                 f" (got {self.field!r})")
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


class ScenarioFile(BaseModel):
    """The contents of one scenario file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=100)
    title: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=10_000)
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    extends: str | None = None
    modification: list[Modification] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario with its parents resolved: the modifications in the order they apply."""

    name: str
    title: str
    description: str
    year: int
    modifications: tuple[Modification, ...]
    chain: tuple[str, ...]
    path: Path | None = None

    def active(self) -> list[Modification]:
        """Modifications in force in the scenario year."""
        return [m for m in self.modifications if m.in_force(self.year)]

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "description": self.description,
                "year": self.year, "chain": list(self.chain),
                "modifications": [m.model_dump(exclude_none=True) for m in self.modifications]}


def builtin_scenario_folder() -> Path:
    return Path(str(resources.files("karvan") / "data" / "scenarios"))


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios, in the order they are run."""
    order = ["baseline", "rasht_astara", "baku_astara_15mt", "south_caucasus_unblocked",
             "iran_disrupted", "combined_2030", "reference_2030"]
    found = sorted(p.stem for p in builtin_scenario_folder().glob("*.toml"))
    return [n for n in order if n in found] + [n for n in found if n not in order]


def read_scenario_file(path: str | os.PathLike) -> ScenarioFile:
    """Parse and validate one scenario file."""
    path = Path(path)
    from karvan.schema import read_text

    if not path.is_file():
        raise InputError(f"scenario file not found: {path}")
    try:
        raw = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path.name}: not valid TOML ({shorten(e, 200)}).") from None
    try:
        spec = ScenarioFile.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"])
            loc = loc.replace(".[", "[")
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] in ("finite_number",):
                msg += f" (got {shorten(err.get('input'))})"
            problems.append(f"{loc or 'file'}: {msg}")
        raise InputError(problems, str(path)) from None
    return spec


def load_scenario(name_or_path: str | os.PathLike, *, search: list[Path] | None = None
                  ) -> Scenario:
    """Load a scenario by file path or by built-in name, resolving ``extends``.

    A parent is looked for beside the file first, then among the built-in scenarios.
    """
    p = Path(name_or_path)
    builtin = builtin_scenario_folder()
    if p.suffix.lower() != ".toml":
        cand = builtin / f"{p.name}.toml"
        if not cand.exists():
            raise InputError(f"no built-in scenario {str(name_or_path)!r}; built-in scenarios "
                             f"are {', '.join(builtin_scenarios())}, or give a .toml file.")
        p = cand
    search = [p.parent, builtin] if search is None else search
    chain: list[ScenarioFile] = []
    paths: list[Path] = []
    cur: Path | None = p
    while cur is not None:
        spec = read_scenario_file(cur)
        if spec.name in [c.name for c in chain]:
            raise InputError(f"{cur.name}: 'extends' makes a cycle: "
                             f"{' -> '.join([c.name for c in chain] + [spec.name])}.")
        if cur.stem != spec.name:
            raise InputError(f"{cur.name}: name {spec.name!r} differs from the file name; make "
                             "them equal so that 'extends' can find it.")
        chain.append(spec)
        paths.append(cur)
        if spec.extends is None:
            cur = None
        else:
            nxt = next((d / f"{spec.extends}.toml" for d in search
                        if (d / f"{spec.extends}.toml").exists()), None)
            if nxt is None:
                raise InputError(f"{cur.name}: extends {spec.extends!r}, which is neither beside "
                                 f"it nor built in ({', '.join(builtin_scenarios())}).")
            cur = nxt
    top = chain[0]
    mods: list[Modification] = []
    for spec in reversed(chain):
        mods.extend(spec.modification)
    return Scenario(top.name, top.title or top.name, top.description, top.year, tuple(mods),
                    tuple(s.name for s in chain), paths[0])
