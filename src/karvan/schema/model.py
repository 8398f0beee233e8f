"""Table schemas as data: Frictionless Table Schema JSON files with a few karvan extensions.

Each input table has one file, ``<family>/<table>.schema.json`` in this package (``corridor/``,
``gmns/``, ``tntp/``). The standard keys are read as Table Schema defines them
(https://datapackage.org/standard/table-schema/); the extensions are documented in
``docs/schemas.md``:

- on a field: ``unit``, ``warnings`` (soft ``minimum``/``maximum``, as GMNS's own schemas have),
  ``aliases`` (other column names read as this one), ``severity`` (``"warning"``: a violation is
  reported but does not stop reading), ``fix`` (what to tell the user), ``default`` (the value
  karvan uses where the cell is blank, for documentation), ``expected`` (an optional column
  whose absence changes the answer: a file without it is read, with a warning);
- on a table: ``path`` (the file name), ``required`` (the file must exist), ``extends`` (schemas
  whose fields, keys and rules come first), ``rules`` (a condition on one field that requires
  something of another; ``severity`` ``"warning"`` on a rule reports it without stopping),
  ``coverage`` (a row must exist for every combination found in another table), ``keyFix``
  (what to say when the primary key repeats), and ``wildcard`` on a foreign key (a value such
  as ``*`` that matches any).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from karvan.errors import InputError

TYPES = ("string", "number", "integer", "boolean", "any", "list")
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")


@dataclass(frozen=True, slots=True)
class Field:
    """One column of a table schema."""

    name: str
    type: str = "string"
    description: str = ""
    unit: str | None = None
    required: bool = False
    unique: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    enum: tuple | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    warn_minimum: float | None = None
    warn_maximum: float | None = None
    categories: tuple | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    delimiter: str | None = None
    item_type: str = "string"
    aliases: tuple[str, ...] = ()
    severity: str = "error"
    fix: str | None = None
    default: Any = None
    expected: bool = False
    #: the fix of a value above the maximum (``maximumFix``), where it differs from ``fix``
    maximum_fix: str | None = None
    #: what ``pattern`` asks for in words (``patternText``), said instead of the expression
    pattern_text: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether the field holds numbers (number or integer)."""
        return self.type in ("number", "integer")


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """Values of ``fields`` must be values of ``ref_fields`` in table ``resource`` ('' = this
    table); ``wildcard`` values match anything; list fields resolve item by item."""

    fields: tuple[str, ...]
    resource: str
    ref_fields: tuple[str, ...]
    wildcard: str | None = None
    severity: str = "error"
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` is one of ``values`` (``in``), is present (non-blank) / blank, or is above
    ``above`` (``exclusiveMinimum``)."""

    field: str
    values: tuple | None = None
    present: bool | None = None
    above: float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """Where ``when`` holds, ``then`` (a field with constraints) must hold."""

    when: tuple[Condition, ...]
    then: Field
    message: str
    fix: str | None = None
    blank: bool = False  # then-field must be blank


@dataclass(frozen=True, slots=True)
class Coverage:
    """Every combination of ``of_fields`` in table ``of`` (optionally mapped through ``lookup``
    and skipping rows where any of ``unless_present`` is filled) needs a row of this table whose
    ``fields`` match it, a ``wildcard`` matching any value."""

    of: str
    of_fields: tuple[str, ...]
    fields: tuple[str, ...]
    wildcard: str | None
    unless_present: tuple[str, ...]
    lookup: dict[str, tuple[str, str, str]]
    message: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Schema:
    """One table's schema."""

    name: str
    path: str | None
    title: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    required: bool = False
    num_rows: int | None = None
    min_rows: int | None = None
    rules: tuple[Rule, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    key_fix: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def field_names(self) -> tuple[str, ...]:
        """The names of the fields, in order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def table(self) -> str:
        """The table name: the last part of the schema name (``corridor/link`` -> ``link``)."""
        return self.name.rsplit("/", 1)[-1]


def _field(d: dict) -> Field:
    c = d.get("constraints", {})
    w = d.get("warnings", {})
    unknown = set(c) - {"required", "unique", "minimum", "maximum", "exclusiveMinimum",
                        "exclusiveMaximum", "enum", "pattern", "minLength", "maxLength"}
    if unknown:
        raise ValueError(f"field {d.get('name')!r}: unknown constraints {sorted(unknown)}")
    if d.get("type", "string") not in TYPES:
        raise ValueError(f"field {d.get('name')!r}: unknown type {d.get('type')!r}")
    cats = d.get("categories")
    if cats is not None:
        cats = tuple(x["value"] if isinstance(x, dict) else x for x in cats)
    return Field(
        name=d["name"], type=d.get("type", "string"), description=d.get("description", ""),
        unit=d.get("unit"), required=bool(c.get("required", False)),
        unique=bool(c.get("unique", False)), minimum=c.get("minimum"), maximum=c.get("maximum"),
        exclusive_minimum=c.get("exclusiveMinimum"), exclusive_maximum=c.get("exclusiveMaximum"),
        enum=tuple(c["enum"]) if "enum" in c else None, pattern=c.get("pattern"),
        min_length=c.get("minLength"), max_length=c.get("maxLength"),
        warn_minimum=w.get("minimum"), warn_maximum=w.get("maximum"), categories=cats,
        true_values=tuple(d.get("trueValues", DEFAULT_TRUE)),
        false_values=tuple(d.get("falseValues", DEFAULT_FALSE)),
        delimiter=d.get("delimiter"), item_type=d.get("itemType", "string"),
        aliases=tuple(d.get("aliases", ())), severity=_severity(d, d.get("name")),
        fix=d.get("fix"), default=d.get("default"), expected=bool(d.get("expected", False)),
        maximum_fix=d.get("maximumFix"), pattern_text=d.get("patternText"))


def _names(v) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


def _condition(d: dict) -> Condition:
    unknown = set(d) - {"field", "in", "present", "exclusiveMinimum"}
    if unknown:
        raise ValueError(f"rule condition on {d.get('field')!r}: unknown keys {sorted(unknown)}")
    return Condition(d["field"], tuple(d["in"]) if "in" in d else None, d.get("present"),
                     d.get("exclusiveMinimum"))


def _severity(d: dict, what) -> str:
    """A field's or rule's ``severity``: error (the default) or warning.

    Raises
    ------
    ValueError
        For any other value: a misspelt severity would drop its violations, a fault of the
        schema file.
    """
    sev = d.get("severity", "error")
    if sev not in ("error", "warning"):
        raise ValueError(f"{what}: severity {sev!r} is neither 'error' nor 'warning'")
    return sev


def _rule(d: dict) -> Rule:
    when = d["if"]
    when = [when] if isinstance(when, dict) else when
    then = dict(d["then"])
    blank = bool(then.pop("blank", False))
    constraints = {k: v for k, v in then.items() if k != "field"}
    return Rule(tuple(_condition(c) for c in when),
                _field({"name": then["field"], "type": "any", "constraints": constraints,
                        "severity": _severity(d, f"rule on {then['field']}")}),
                d["message"], d.get("fix"), blank)


def _coverage(d: dict) -> Coverage:
    of = d["of"]
    lookup = {k: (v["resource"], v["key"], v["field"]) for k, v in of.get("lookup", {}).items()}
    return Coverage(of["resource"], _names(of["fields"]), _names(d["fields"]), d.get("wildcard"),
                    _names(of.get("unlessPresent", ())), lookup, d["message"], d.get("fix"))


def parse_schema(name: str, raw: dict) -> Schema:
    """Build a :class:`Schema` from its JSON object, merging the schemas it ``extends``.

    Raises
    ------
    ValueError
        For a constraint, type or rule the checker does not know (a fault of the schema file).
    """
    fields: dict[str, Field] = {}
    fks: list[ForeignKey] = []
    rules: list[Rule] = []
    for parent in raw.get("extends", []):
        base = load_schema(parent)
        fields.update({f.name: f for f in base.fields})
        fks.extend(base.foreign_keys)
        rules.extend(base.rules)
    for d in raw.get("fields", []):
        fields[d["name"]] = _field(d)
    for d in raw.get("foreignKeys", []):
        ref = d["reference"]
        fks.append(ForeignKey(_names(d["fields"]), ref.get("resource", ""),
                              _names(ref["fields"]), d.get("wildcard"),
                              d.get("severity", "error"), d.get("fix")))
    rules.extend(_rule(r) for r in raw.get("rules", []))
    for c in ("primaryKey",):
        for n in _names(raw.get(c, ())):
            if n not in fields:
                raise ValueError(f"{name}: primary key field {n!r} is not a field")
    for r in rules:
        for c in r.when:
            if c.field not in fields:
                raise ValueError(f"{name}: rule on unknown field {c.field!r}")
        if r.then.name not in fields:
            raise ValueError(f"{name}: rule requires unknown field {r.then.name!r}")
        if r.then.pattern:
            re.compile(r.then.pattern)
    for f in fields.values():
        if f.pattern:
            re.compile(f.pattern)
    return Schema(
        name=name, path=raw.get("path"), title=raw.get("title", name),
        description=raw.get("description", ""), fields=tuple(fields.values()),
        primary_key=_names(raw.get("primaryKey", ())), foreign_keys=tuple(fks),
        missing_values=tuple(raw.get("missingValues", [""])),
        required=bool(raw.get("required", False)), num_rows=raw.get("numRows"),
        min_rows=raw.get("minRows"),
        rules=tuple(rules), coverage=tuple(_coverage(c) for c in raw.get("coverage", [])),
        key_fix=raw.get("keyFix"), raw=raw)


@cache
def load_schema(name: str) -> Schema:
    """The schema ``<family>/<table>`` shipped with karvan (``"corridor/link"``).

    Raises
    ------
    InputError
        When there is no such schema.
    """
    family, _, table = name.partition("/")
    res = resources.files("karvan.schema") / family / f"{table}.schema.json"
    try:
        raw = json.loads(res.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no schema {name!r}; schemas are {', '.join(schema_names())}.") from None
    return parse_schema(name, raw)


def family_schemas(family: str) -> dict[str, Schema]:
    """Every table schema of a family (``"corridor"``), by table name; fragments whose file
    name starts with ``_`` are left out."""
    root = resources.files("karvan.schema") / family
    names = sorted(p.name.removesuffix(".schema.json") for p in root.iterdir()
                   if p.name.endswith(".schema.json") and not p.name.startswith("_"))
    return {n: load_schema(f"{family}/{n}") for n in names}


def schema_names() -> list[str]:
    """Names of every schema shipped with karvan."""
    root = resources.files("karvan.schema")
    out = []
    for fam in sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for p in sorted((root / fam).iterdir(), key=lambda p: p.name):
            if p.name.endswith(".schema.json"):
                out.append(f"{fam}/{p.name.removesuffix('.schema.json')}")
    return out


def with_fields(schema: Schema, **changes: dict[str, Any]) -> Schema:
    """A copy of ``schema`` with some fields changed: ``with_fields(s, lanes={"severity":
    "warning"})``."""
    fields = tuple(replace(f, **changes[f.name]) if f.name in changes else f
                   for f in schema.fields)
    return replace(schema, fields=fields)
