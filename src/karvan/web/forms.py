"""The scenario form: what the dashboard sends, checked and turned into a scenario TOML file.

The form is a JSON object::

    {"name": "my_case", "title": "...", "year": 2030, "extends": "baseline",
     "borders": {"AZ-IR_ASTARA": "close"},           # open | close (others: unchanged)
     "links": {"R_IR_RASHT_ASTARA": "open"},          # open | close
     "capacity": [{"target": "R_AZ_ALAT_OSMANLI", "capacity_mt": 15}],   # a link id
     "demand": [{"factor": 1.5, "origin_country": "RU", "destination_country": "",
                 "commodity": "containers"}]}

Numbers may come as text (from input boxes). Every problem is collected and reported at once,
named by the form field; then the TOML is written in the documented format
(``docs/model.md``, "Scenarios"), loaded with :func:`karvan.scenario.load_scenario` (which
validates it with the scenario schema and resolves ``extends``) and applied to the corridor
data, which finds any remaining bad reference.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from karvan.errors import InputError, format_ids
from karvan.freight.corridor import YEARS_AFTER_BASE, CorridorData
from karvan.scenario import Scenario, builtin_scenarios, load_scenario
from karvan.scenario.apply import applied_and_said
from karvan.scenario.reference import reserved_name
from karvan.scenario.spec import Place

NAME = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")
#: a number whose commas separate thousands (1,500 or 12,000,000.5)
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
FORM_KEYS = {"name", "title", "year", "extends", "borders", "links", "capacity", "demand", "lp"}


def max_year(data: CorridorData) -> int:
    """The latest scenario year the form accepts: the dataset's (its growth rates are not
    extrapolated further than ``YEARS_AFTER_BASE`` years past its base year)."""
    return data.base_year + YEARS_AFTER_BASE


def _number(raw, where: str, problems: list[str], *, minimum: float = 0.0) -> float | None:
    """``raw`` as a finite number >= ``minimum``, else a problem and ``None``."""
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        problems.append(f"{where}: a number is needed.")
        return None
    if isinstance(raw, str) and "," in raw and not THOUSANDS.match(raw.strip()):
        # "1,5" is a decimal comma, not 15
        problems.append(f"{where}: {raw!r}: use a point for decimals (1.5); a comma is read "
                        "only between groups of three digits (1,500).")
        return None
    try:
        x = float(str(raw).strip().replace(",", "")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        problems.append(f"{where}: {raw!r} is not a number.")
        return None
    if not math.isfinite(x):
        problems.append(f"{where}: {raw!r} is not a finite number.")
        return None
    if x < minimum:
        problems.append(f"{where}: {x:g} is below {minimum:g}.")
        return None
    return x


def _toggles(raw, kind: str, known: set[str], problems: list[str]) -> dict[str, list[str]]:
    """``{id: "open"|"close"}`` as ``{"open": [ids], "close": [ids]}``."""
    out: dict[str, list[str]] = {"open": [], "close": []}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        problems.append(f"{kind}s: expected an object of {kind} id to \"open\" or \"close\".")
        return out
    unknown = [str(k) for k in raw if str(k) not in known]
    if unknown:
        problems.append(f"{kind}s: unknown {kind} ids {format_ids(unknown)}; pick them from the "
                        "list.")
    bad = [f"{k}={v!r}" for k, v in raw.items() if v not in ("open", "close", "", None)]
    if bad:
        problems.append(f"{kind}s: the state must be \"open\" or \"close\" ({format_ids(bad)}).")
    for k, v in raw.items():
        if str(k) in known and v in out:
            out[v].append(str(k))
    return out


def modifications_from_form(form: Mapping, data: CorridorData) -> tuple[dict, list[str]]:
    """The scenario file contents (a dict in TOML shape) of a dashboard form, and the problems.

    Checks what the scenario schema cannot: ids against the corridor data, numbers typed as
    text, countries and commodities, the year against the data's base year.
    """
    problems: list[str] = []
    if not isinstance(form, Mapping):
        return {}, ["the request body must be a JSON object (the scenario form)."]
    extra = sorted(set(form) - FORM_KEYS)
    if extra:
        problems.append(f"unknown form fields {format_ids(extra)}; known: "
                        f"{', '.join(sorted(FORM_KEYS))}.")
    builtins = builtin_scenarios()
    raw_name = form.get("name")
    name = str(raw_name or "").strip()
    if isinstance(raw_name, (bool, int, float)):  # true made a scenario named "True"
        problems.append(f"name: {raw_name!r} is not a text; give the scenario a name of "
                        "letters, digits, _ or -.")
    elif not NAME.match(name):
        problems.append(f"name: {name!r} must be 1-60 letters, digits, _ or - (it names the "
                        "file and the run).")
    elif reserved_name(name):
        problems.append(f"name: {reserved_name(name)}; choose another name.")
    extends = str(form.get("extends") or "").strip() or None
    if extends is not None and extends not in builtins:
        problems.append(f"extends: {extends!r} is not a built-in scenario "
                        f"({', '.join(builtins)}).")
    year = None
    raw_year = form.get("year")
    try:
        year = int(str(raw_year).strip()) if not isinstance(raw_year, (bool, float)) else None
    except (TypeError, ValueError):
        year = None
    if isinstance(raw_year, float) and raw_year.is_integer():
        year = int(raw_year)
    if year is None:
        problems.append(f"year: {raw_year!r} is not a whole year.")
    elif not data.base_year <= year <= max_year(data):
        problems.append(f"year: {year} is out of range; give a year from the data's base year "
                        f"{data.base_year} to {max_year(data)}.")
    links = data.links
    border_ids = set(links["border_id"].dropna().astype(str))
    link_ids = set(links.index.astype(str))
    mods: list[dict] = []
    b = _toggles(form.get("borders"), "border", border_ids, problems)
    k = _toggles(form.get("links"), "link", link_ids, problems)
    labels: list[str] = []  # where each modification comes from in the form
    for action in ("open", "close"):
        if b[action]:
            mods.append({"action": action, "borders": sorted(b[action])})
            labels.append(f"borders to {action}")
        if k[action]:
            mods.append({"action": action, "links": sorted(k[action])})
            labels.append(f"links to {action}")
    caps = form.get("capacity") or []
    if not isinstance(caps, list):
        problems.append("capacity: expected a list of {target, capacity_mt}.")
        caps = []
    for i, row in enumerate(caps, 1):
        where = f"capacity row {i}"
        if not isinstance(row, Mapping):
            problems.append(f"{where}: expected {{target, capacity_mt}}.")
            continue
        target = str(row.get("target") or "").strip()
        mt = _number(row.get("capacity_mt"), f"{where} (Mt/yr)", problems)
        if target in link_ids:
            sel = {"links": [target]}
        elif target in border_ids:
            # a border is several links (rail, road): one figure would be set on each of them
            problems.append(f"{where}: {target!r} is a border of several links; set the capacity "
                            "of its rail or road link instead.")
            continue
        else:
            problems.append(f"{where}: {target!r} is not a link id."
                            if target else f"{where}: pick a link.")
            continue
        if mt is not None and mt <= 0:
            problems.append(f"{where}: capacity must be > 0 Mt/yr; to shut the link, close it.")
        elif mt is not None:
            mods.append({"action": "set", **sel, "field": "capacity_tpy",
                         "value": round(mt * 1e6, 3)})
            labels.append(f"{where} ({target}: {mt:g} Mt/yr = {mt * 1e6:g} t/yr)")
    dems = form.get("demand") or []
    if not isinstance(dems, list):
        problems.append("demand: expected a list of {factor, origin_country, "
                        "destination_country, commodity}.")
        dems = []
    countries = set(data.zone_country().values())
    commodities = set(data.commodity_ids)
    for i, row in enumerate(dems, 1):
        where = f"demand row {i}"
        if not isinstance(row, Mapping):
            problems.append(f"{where}: expected {{factor, origin_country, ...}}.")
            continue
        f = _number(row.get("factor"), f"{where} (factor)", problems)
        mod: dict = {"action": "demand_scale"}
        for key in ("origin_country", "destination_country"):
            c = str(row.get(key) or "").strip().upper()
            if c and c not in countries:
                problems.append(f"{where}: {key.replace('_', ' ')} {c!r} has no zones; known: "
                                f"{', '.join(sorted(countries))}.")
            elif c:
                mod[key] = c
        com = str(row.get("commodity") or "").strip()
        if com and com not in commodities:
            problems.append(f"{where}: unknown commodity {com!r}; known: "
                            f"{', '.join(data.commodity_ids)}.")
        elif com:
            mod["commodity"] = com
        if f is not None:
            mods.append({**mod, "factor": f})
            labels.append(where)
    for m in mods:
        m["source"] = "dashboard"
    title = str(form.get("title") or "").strip() or name
    spec = {"name": name, "title": title,
            "description": f"Built in the karvan dashboard "
                           f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC).",
            "year": year, "extends": extends, "modification": mods, "form_rows": labels}
    return spec, problems


def _in_form_terms(problems, labels: list[str]) -> list[str]:
    """The generated scenario file's messages (``line 11, modification[0].value: ...``) in the
    form's terms: the form's row (``capacity row 1 (...)``) instead of a line and an index of a
    file the user never saw."""
    out = []
    for p in problems:
        m = re.match(r"(?:line \d+, )?modification\[(\d+)\](?:\.(\w+))?: (.*)", p, re.S)
        if m and int(m.group(1)) < len(labels):
            field = f" {m.group(2)}" if m.group(2) else ""
            p = f"{labels[int(m.group(1))]}{field}: {m.group(3)}"
        out.append(p)
    return out


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, str):
        # a TOML basic string; TOML forbids DEL (0x7f) raw, which json leaves so
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def scenario_toml(spec: Mapping) -> str:
    """The scenario file text of ``spec`` (the dict of :func:`modifications_from_form`), in the
    documented format: top-level keys, then one ``[[modification]]`` table each.

    Examples
    --------
    >>> print(scenario_toml({"name": "t", "year": 2030, "extends": "baseline",
    ...                      "modification": [{"action": "close", "borders": ["AZ-IR_ASTARA"]}]}))
    name = "t"
    year = 2030
    extends = "baseline"
    <BLANKLINE>
    [[modification]]
    action = "close"
    borders = ["AZ-IR_ASTARA"]
    <BLANKLINE>
    """
    lines = [f"{k} = {_toml_value(spec[k])}" for k in ("name", "title", "description", "year",
                                                       "extends") if spec.get(k) is not None]
    for m in spec.get("modification", []):
        lines += ["", "[[modification]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in m.items() if v is not None]
    return "\n".join(lines) + "\n"


def build_scenario(form: Mapping, data: CorridorData) -> tuple[Scenario, str]:
    """Check a dashboard form and return the scenario and its TOML text.

    The TOML is written to a temporary file and loaded with :func:`load_scenario`, so that the
    scenario schema validates it and ``extends`` resolves against the built-in scenarios; the
    scenario is then applied to ``data`` to find unknown ids (nothing is solved).

    The warnings of values allowed but unusual are in the scenario's ``warned``.

    Raises
    ------
    InputError
        With every problem found (``problems``), form checks first.
    """
    spec, problems = modifications_from_form(form, data)
    if problems:
        raise InputError(problems, "scenario form")
    text = scenario_toml(spec)
    with tempfile.TemporaryDirectory(prefix="karvan-web-") as tmp:
        path = Path(tmp) / f"{spec['name']}.toml"
        path.write_text(text, encoding="utf-8")
        try:
            scenario = load_scenario(path)
        except InputError as e:
            raise InputError(_in_form_terms(e.problems, spec["form_rows"]),
                             "scenario form") from None
    # the scenarios it extends come first in the chain of modifications; the form's own are
    # named by their rows in what applying them says (not by a file the user never saw)
    offset = len(scenario.modifications) - len(spec["modification"])
    parents = [scenario.places[i] if i < len(scenario.places) else Place(None, i)
               for i in range(offset)]
    rows = [Place(None, k, name=label) for k, label in enumerate(spec["form_rows"])]
    scenario = Scenario(scenario.name, scenario.title, scenario.description, scenario.year,
                        scenario.modifications, scenario.chain, None, (*parents, *rows))
    # what applying it warns of (a capacity of 15 t/yr) is the user's to see, in the form's
    # answer and the job's messages, and stays with the scenario (``warned``), so that the run
    # records it; taken as texts, not caught: the warnings module's state is process-wide and
    # the dashboard's threads would catch each other's
    try:
        _, said = applied_and_said(data, scenario)
    except InputError as e:
        raise InputError(e.problems, "scenario form") from None
    return replace(scenario, warned=tuple(dict.fromkeys(said))), text
