"""The one checker: a table (text read from a file, or typed columns built in code) against its
schema, then the references between tables.

Every violation is kept with its file, line, column, value (shortened) and fix
(:class:`karvan.errors.Violation`); messages sum them up per column and kind in the house style,
naming up to five lines, ids and values, then a count.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from karvan.errors import InputError, Problems, Violation, format_ids, shorten
from karvan.schema.model import Condition, Field, Schema
from karvan.schema.text import TextTable

#: shapefiles (dBASE) cut column names to this many characters
DBF_NAME_LENGTH = 10
_INT_LIMIT = 2.0**63
#: a number this close to 0 but not 0 is a warning: no quantity of a transport model is
TINY = 1e-30


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """A checked table: one typed NumPy array per column present.

    Numbers and integers are float64 (NaN where blank), booleans and strings object arrays (None
    where blank), lists object arrays of tuples (None where blank). ``lines`` are the file lines
    of the rows (None for tables built in code); ``ids`` the row labels used in messages.
    """

    name: str
    schema: Schema
    columns: dict[str, np.ndarray]
    lines: np.ndarray | None
    ids: np.ndarray | None
    id_label: str | None
    n_rows: int

    def __len__(self) -> int:
        return self.n_rows

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def to_frame(self):
        """The table as a pandas DataFrame, columns in file order: numbers as float (NaN where
        blank), text as object (None where blank), booleans as bool where none is blank, lists
        written back as text with their delimiter."""
        import pandas as pd

        cols = {}
        for k, v in self.columns.items():
            f = self.schema.field(k)
            if f is not None and f.type == "list":
                d = f.delimiter or ","
                v = np.asarray([None if x is None else d.join(x) for x in v], dtype=object)
            elif f is not None and f.type == "boolean" and not any(x is None for x in v):
                v = v.astype(bool)
            cols[k] = v
        return pd.DataFrame(cols, index=pd.RangeIndex(self.n_rows))


class Checker:
    """Collects violations over one or more tables, then reports or raises them together.

    Examples
    --------
    >>> from karvan.schema import load_schema, Checker
    >>> c = Checker()
    >>> t = c.table(load_schema("gmns/node"), {"node_id": ["1", "2"], "x_coord": ["0", "x"],
    ...                                        "y_coord": ["0", "0"]}, name="node.csv")
    >>> print(c.errors()[0])
    node.csv: x_coord is not a number on 1 row (node_id 2: 'x'); write a number.
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self._messages: list[tuple[str, str]] = []  # (severity, message) of table-level problems
        self._groups: dict[tuple, list[Violation]] = {}
        self._order: list[tuple] = []
        self._flag: set | None = None  # (column, line, row id) with an error, in the table now
        #: of the table now: field -> the columns its schema does not know that look most like
        #: it (each such column is counted to one field only)
        self._near: dict[str, list[str]] = {}
        #: of the table now: field -> the column it is read from, where that is an alias
        self._read_from: dict[str, str] = {}
        #: of the table now: field -> the error that its column looks misspelt, unless a rule
        #: that needs the field reports it
        self._dropped: dict[str, str] = {}

    # -- collecting -----------------------------------------------------------------------------

    def add(self, v: Violation) -> None:
        """Collect one violation."""
        if v.severity == "error" and v.column is not None and self._flag is not None:
            self._flag.add((v.column, v.line, v.row_id))
            for f, col in self._read_from.items():  # a field read from an alias: both names
                if col == v.column:
                    self._flag.add((f, v.line, v.row_id))
        self.violations.append(v)
        key = (v.severity, v.file, v.column, v.problem, v.fix)
        if key not in self._groups:
            self._groups[key] = []
            self._order.append(key)
        self._groups[key].append(v)

    def message(self, text: str, *, severity: str = "error", file: str | None = None,
                line: int | None = None, column: str | None = None) -> None:
        """A problem of a whole table or file (a missing file or column), ``text`` as shown."""
        self._messages.append((severity, text))
        self.violations.append(Violation(file, line, column, None, text, severity=severity))

    def _rows(self, t: _Rows, idx: np.ndarray, column: str | None, problem: str,
              fix: str | None, values=None, severity: str = "error") -> None:
        for k, i in enumerate(idx):
            val = None if values is None else shorten(_text_of(values[k]))
            self.add(Violation(t.name, t.line(i), column, val, problem, fix, t.row_id(i),
                               severity))

    # -- reporting ------------------------------------------------------------------------------

    def _summaries(self, severity: str) -> list[str]:
        out = [m for s, m in self._messages if s == severity]
        for key in self._order:
            if key[0] != severity:
                continue
            vs = self._groups[key]
            out.append(_summary(vs))
        return out

    def errors(self) -> list[str]:
        """One message per kind of error found."""
        return self._summaries("error")

    def warnings(self) -> list[str]:
        """One message per kind of warning found."""
        return self._summaries("warning")

    def notes(self) -> list[str]:
        """Notes: checks left out, each saying why (one that needs a table free of errors)."""
        return self._summaries("note")

    def has_errors(self, file: str) -> bool:
        """Whether an error was found in ``file`` (a table's name, ``demand.csv``)."""
        return any(v.severity == "error" and v.file == file for v in self.violations)

    def _reported(self, file: str) -> set[tuple]:
        """(line, row id, column) of every error found in ``file``: values already reported
        as wrong, which checks between tables leave aside (an unknown mode would otherwise
        also lack its tariff)."""
        return {(v.line, v.row_id, v.column) for v in self.violations
                if v.severity == "error" and v.file == file}

    def __bool__(self) -> bool:
        return bool(self.errors())

    def raise_if_errors(self, source: str | None = None) -> None:
        """Raise one :class:`InputError` with every error collected, if there is any.

        Raises
        ------
        InputError
            When an error was found.
        """
        errs = self.errors()
        if errs:
            raise InputError(errs, source, violations=[v for v in self.violations
                                                       if v.severity == "error"])

    def into(self, problems: Problems) -> None:
        """Hand the errors to a :class:`~karvan.errors.Problems` collector."""
        for msg in self.errors():
            problems.add(msg)
        problems.violations.extend(v for v in self.violations if v.severity == "error")

    # -- one table ------------------------------------------------------------------------------

    def table(self, schema: Schema, data: TextTable | Mapping, *, name: str | None = None,
              lines: np.ndarray | None = None, id_field: str | None = None) -> Table:
        """Check one table against ``schema`` and return it typed.

        ``data`` is a :class:`TextTable` read from a file or a mapping of column name to values
        (a dict of arrays or a DataFrame: put a named index back with ``reset_index()`` first).
        Columns outside the schema are kept as they are.
        """
        if isinstance(data, TextTable):
            header = list(data.header)
            raw = dict(data.columns)
            lines = data.lines
            name = name or data.name
            if data.cut:
                self.message(f"{name}: the last line (line {int(lines[-1])}) has no line end, "
                             "as in a file cut short; check that its last row is whole.",
                             severity="warning", file=name)
        else:
            header = [str(c) for c in data.keys()]
            raw = {str(c): _as_array(data[c]) for c in data.keys()}
            name = name or schema.path or schema.table
        n = len(next(iter(raw.values()))) if raw else 0
        self._flag = set()
        self._read_from, self._dropped = {}, {}
        header = self._aliases(schema, header, raw, name)
        self._near = _nearest(schema, [h for h in header if schema.field(h) is None])
        id_field = id_field or (schema.primary_key[0] if len(schema.primary_key) == 1 else None)
        ids = raw.get(id_field) if id_field else None
        rows = _Rows(name, lines, ids, id_field)
        self._columns(schema, header, raw, name, n)
        if schema.num_rows is not None and n != schema.num_rows:
            self.message(f"{name}: has {n} rows; it must have exactly {schema.num_rows}.",
                         file=name)
        if schema.min_rows is not None and n < schema.min_rows:
            self.message(f"{name}: has {'no' if n == 0 else n} rows below its header; it needs "
                         f"at least {schema.min_rows} ({schema.title or schema.table}).",
                         file=name)
        out: dict[str, np.ndarray] = {}
        missing: dict[str, np.ndarray] = {}
        for col in header:
            f = schema.field(col)
            if f is None:
                out[col] = raw[col]
                continue
            if col in self._read_from:  # messages name the column as the file has it
                f = replace(f, name=self._read_from[col])
            out[col], missing[col] = self._field(f, raw[col], rows, schema.missing_values)
        if ids is not None and id_field in out and schema.field(id_field) is not None:
            rows.ids = np.asarray([None if m else v for v, m in zip(
                out[id_field], missing[id_field], strict=True)], dtype=object)
        self._primary_key(schema, out, missing, rows)
        flagged, self._flag = self._flag, None
        for rule in schema.rules:
            self._rule(rule, out, missing, rows, n, flagged)
        for field, msg in self._dropped.items():
            self.message(msg, file=name, line=1, column=field)
        return Table(name, schema, out, lines, rows.ids, id_field, n)

    def _aliases(self, schema: Schema, header: list[str], raw: dict, name: str) -> list[str]:
        """Rename columns written under an alias of a schema field."""
        for f in schema.fields:
            if not f.aliases:
                continue
            lower = {h.lower(): h for h in header}
            hits = list(dict.fromkeys(lower[a.lower()] for a in (f.name, *f.aliases)
                                      if a.lower() in lower))
            if (f.name.lower() not in lower and len(hits) > 1
                    and any(not _same_values(raw[h], raw[hits[0]]) for h in hits[1:])):
                # two other tools' names for one field that disagree (a column named as the
                # field itself is the one read): which one is meant cannot be told
                self.message(f"{name}: {f.name} is given by {len(hits)} columns that differ "
                             f"({', '.join(map(repr, hits))}); keep one of them, or name it "
                             f"{f.name}.", file=name)
            if f.name in raw:
                continue
            hit = hits[0] if hits else None
            if hit is not None:
                if hit.lower() != f.name.lower():
                    # read from an alias while a column looks like the field itself misspelt:
                    # the alias may not be what the file means
                    near = _likely(f.name, [h for h in header if h != hit
                                            and schema.field(h) is None])
                    if near:
                        self.message(f"{name}: {f.name} is read from column {hit!r}, but "
                                     f"{near}.", severity="warning", file=name)
                raw[f.name] = raw.pop(hit)
                self._read_from[f.name] = hit
                header = [f.name if h == hit else h for h in header]
        return header

    def _columns(self, schema: Schema, header: list[str], raw: dict, name: str, n: int) -> None:
        """Missing required columns, and columns that look like a schema field renamed or cut."""
        absent = [f for f in schema.fields if f.name not in raw]
        extra = [h for h in header if schema.field(h) is None]
        # a corridor table is karvan's own format: a column that looks like one of its fields
        # misspelt, left unread, would drop that field without a word (GMNS and other tools'
        # tables have extra columns of their own: there only a name cut short or in another
        # case is pointed out, as a warning)
        own = schema.name.startswith("corridor/")
        for f in absent:
            hint = _likely(f.name, self._near.get(f.name, []))
            if f.required:
                msg = f"{name}: has no column {f.name} (required)"
                if hint:
                    msg += f"; {hint}"
                else:
                    d = f.description.rstrip(".")
                    what = f": {d[0].lower() + d[1:] if d[1:2].islower() else d}" if d else ""
                    msg += f"; add it to the header (line 1) and give every row its value{what}"
                    if extra or header:
                        msg += f"; its columns are {format_ids(header, 12)}"
                self.message(msg + ".", file=name, severity=f.severity, line=1, column=f.name)
            elif hint and own:
                # said after the rules, unless a rule says it (with the rows that need it)
                self._dropped[f.name] = (
                    f"{name}: {hint}; as it is, the column is not read and every row is read "
                    f"without {f.name} (if the column holds something else, give it a name "
                    f"less like {f.name}).")
            elif hint and "renamed or misspelt" not in hint:
                self.message(f"{name}: {hint} (otherwise it is kept as an extra column and "
                             f"{f.name} is read as absent).", severity="warning", file=name)
            elif f.expected and n:
                what = f" ({f.description.rstrip('.')})" if f.description else ""
                self.message(f"{name}: has no column {f.name}{what}; every row is read as if "
                             f"it were blank. Add the column, blank where it does not apply, "
                             f"to say that this is meant.", severity="warning", file=name)

    def _field(self, f: Field, raw: np.ndarray, rows: _Rows, missing_values
               ) -> tuple[np.ndarray, np.ndarray]:
        miss = _missing(raw, missing_values)
        sev = f.severity
        if f.required and miss.any():
            self._rows(rows, np.flatnonzero(miss), f.name, "is blank", f.fix or
                       f"every row needs a {f.name}", severity=sev)
        if f.numeric:
            vals, bad = _numbers(raw, miss)
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, "is not a number", _fix(f, "write a number"),
                           raw[idx], sev)
            ok = ~miss & ~bad
            nonfinite = ok & ~np.isfinite(vals)
            if nonfinite.any():
                idx = np.flatnonzero(nonfinite)
                self._rows(rows, idx, f.name, "is not finite",
                           _fix(f, "write a finite number, or leave the cell blank where the "
                                   "table allows it"), raw[idx], sev)
            ok &= ~nonfinite
            if f.type == "integer":
                frac = ok & ((np.abs(vals) >= _INT_LIMIT) | (vals != np.floor(vals)))
                if frac.any():
                    idx = np.flatnonzero(frac)
                    self._rows(rows, idx, f.name, "is not a whole number",
                               _fix(f, "write a whole number"), raw[idx], sev)
                ok &= ~frac
            vals = np.where(ok, vals, np.nan)
            self._range(f, vals, ok, rows, raw)
            if f.enum is not None:
                bad = ok & ~np.isin(vals, np.asarray(f.enum, dtype=float))
                self._enum(f, bad, rows, raw)
            return vals, miss | ~ok
        if f.type == "boolean":
            text = np.asarray([str(v) if not m else "" for v, m in zip(raw, miss, strict=True)],
                              dtype=object)
            t = np.isin(text, f.true_values)
            fa = np.isin(text, f.false_values)
            if raw.dtype == bool:
                t, fa = raw.copy(), ~raw
            bad = ~miss & ~t & ~fa
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, "is not true or false",
                           _fix(f, f"write {f.true_values[0]} or {f.false_values[0]}"),
                           raw[idx], sev)
            out = np.full(raw.shape[0], None, dtype=object)
            out[t & ~miss] = True
            out[fa & ~miss] = False
            return out, miss | bad
        if f.type == "list":
            out = np.full(raw.shape[0], None, dtype=object)
            delim = f.delimiter or ","
            item = Field(f.name, f.item_type, enum=f.enum, pattern=f.pattern,
                         max_length=f.max_length, fix=f.fix, severity=f.severity)
            flat, owner = [], []
            for i in np.flatnonzero(~miss):
                parts = tuple(p.strip() for p in str(raw[i]).split(delim) if p.strip())
                out[i] = parts if parts else None
                flat.extend(parts)
                owner.extend([i] * len(parts))
            if flat:
                self._text(item, np.asarray(flat, dtype=object), np.asarray(owner), rows)
            return out, np.asarray([o is None for o in out], dtype=bool)
        out = np.asarray([None if m else (v if isinstance(v, str) else _text_of(v))
                          for v, m in zip(raw, miss, strict=False)], dtype=object)
        if f.type == "string" or f.enum is not None or f.pattern:
            ok = ~miss
            self._text(f, out[ok], np.flatnonzero(ok), rows)
        if f.unique:
            self._duplicates(rows, [out], miss, (f.name,), f"each {f.name} may appear once",
                             sev)
        return out, miss

    def _text(self, f: Field, vals: np.ndarray, owner: np.ndarray, rows: _Rows) -> None:
        if not len(vals):
            return
        sev = f.severity
        allowed = f.enum if f.enum is not None else f.categories
        if allowed is not None:
            bad = ~np.isin(vals.astype(str), np.asarray([str(a) for a in allowed]))
            if bad.any():
                idx = np.flatnonzero(bad)
                sev2 = "warning" if f.enum is None and f.severity == "error" else sev
                self._rows(rows, owner[idx], f.name,
                           f"is not one of {format_ids(allowed, 12)}",
                           _fix(f, "use one of these values"), vals[idx], sev2)
        if f.pattern:
            rx = re.compile(f.pattern)
            bad = np.asarray([rx.fullmatch(str(v)) is None for v in vals], dtype=bool)
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, owner[idx], f.name,
                           f"is not {f.pattern_text}" if f.pattern_text
                           else f"does not match {f.pattern}",
                           _fix(f, f.description or "correct the value"), vals[idx], sev)
        if f.max_length is not None or f.min_length is not None:
            lens = np.asarray([len(str(v)) for v in vals])
            bad = np.zeros(len(vals), dtype=bool)
            if f.max_length is not None:
                bad |= lens > f.max_length
            if f.min_length is not None:
                bad |= lens < f.min_length
            if bad.any():
                idx = np.flatnonzero(bad)
                lo = f.min_length or 0
                hi = f.max_length if f.max_length is not None else "any"
                self._rows(rows, owner[idx], f.name, f"is not {lo} to {hi} characters long",
                           _fix(f, "shorten or complete it"), vals[idx], sev)

    def _range(self, f: Field, vals: np.ndarray, ok: np.ndarray, rows: _Rows, raw) -> None:
        unit = f" {f.unit}" if f.unit and f.unit != "1" else ""  # "1": a share, a ratio
        ok = ok.copy()  # values out of bounds are not also warned about as unusual
        checks = (
            (f.minimum, lambda v, b: v < b, "is below the minimum {b}{u}", "{n} must be >= {b}"),
            (f.exclusive_minimum, lambda v, b: v <= b, "is not above {b}{u}", "{n} must be > {b}"),
            (f.maximum, lambda v, b: v > b, "is above the maximum {b}{u}", "{n} must be <= {b}"),
            (f.exclusive_maximum, lambda v, b: v >= b, "is not below {b}{u}", "{n} must be < {b}"),
        )
        for k, (bound, test, problem, fix) in enumerate(checks):
            if bound is None:
                continue
            with np.errstate(invalid="ignore"):
                bad = ok & test(vals, bound)
            if bad.any():
                idx = np.flatnonzero(bad)
                above = k >= 2  # maximum, exclusive maximum
                text = (f.maximum_fix if above and f.maximum_fix else
                        fix.format(n=f.name, b=_num(bound)) if f.maximum_fix else
                        _fix(f, fix.format(n=f.name, b=_num(bound))))
                self._rows(rows, idx, f.name, problem.format(b=_num(bound), u=unit), text,
                           raw[idx], f.severity)
                if f.severity == "error":
                    ok &= ~bad
        for bound, test, problem in ((f.warn_minimum, lambda v, b: v < b, "is below {b}{u}"),
                                     (f.warn_maximum, lambda v, b: v > b, "is above {b}{u}")):
            if bound is None:
                continue
            with np.errstate(invalid="ignore"):
                bad = ok & test(vals, bound)
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, problem.format(b=_num(bound), u=unit),
                           "unusual; check it", raw[idx], "warning")
        with np.errstate(invalid="ignore"):
            tiny = ok & (vals != 0) & (np.abs(vals) < TINY)
        if tiny.any():  # no quantity of a transport model is this small but 0
            idx = np.flatnonzero(tiny)
            self._rows(rows, idx, f.name, f"is not 0 but below {TINY:g} in size",
                       "it is read as written; write 0 if 0 is meant", raw[idx], "warning")

    def _enum(self, f: Field, bad: np.ndarray, rows: _Rows, raw) -> None:
        if bad.any():
            idx = np.flatnonzero(bad)
            self._rows(rows, idx, f.name, f"is not one of {format_ids(f.enum, 12)}",
                       _fix(f, "use one of these values"), raw[idx], f.severity)

    def _primary_key(self, schema: Schema, out, missing, rows: _Rows) -> None:
        key = [k for k in schema.primary_key if k in out]
        absent = [k for k in schema.primary_key if k not in out]
        if not key or any(schema.field(k) is None or schema.field(k).required for k in absent):
            return  # a required key column is missing: reported as such
        blank = np.zeros(rows.n(out), dtype=bool)
        for k in key:
            blank |= missing[k]
        if len(key) > 1 and blank.any():
            for k in key:
                f = schema.field(k)
                if f is not None and not f.required and missing[k].any():
                    self._rows(rows, np.flatnonzero(missing[k]), k, "is blank",
                               f"{k} is part of the key ({', '.join(key)}) of every row")
        what = key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"
        self._duplicates(rows, [out[k] for k in key], blank, tuple(key),
                         schema.key_fix or f"each {what} may appear once", "error")

    def _duplicates(self, rows: _Rows, cols: list[np.ndarray], blank: np.ndarray,
                    key: tuple[str, ...], fix: str, severity: str) -> None:
        dup, first = _repeats(cols, ~blank)
        if not len(dup):
            return
        col = key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"
        for i, f0 in zip(dup, first, strict=False):
            val = ", ".join(shorten(_text_of(c[i])) for c in cols)
            where = f"line {rows.line(f0)}" if rows.line(f0) else f"row {f0 + 1}"
            self.add(Violation(rows.name, rows.line(i), col, f"{val} as on {where}",
                               "repeats an earlier row", fix, rows.row_id(i), severity))

    def _rule(self, rule, out, missing, rows: _Rows, n: int, flagged: set) -> None:
        when = np.ones(n, dtype=bool)
        for c in rule.when:
            when &= _holds(c, out, missing, n)
        if flagged:  # a value already reported as wrong is not reported again by a rule
            col = rule.then.name
            when &= np.asarray([(col, rows.line(i), rows.row_id(i)) not in flagged
                                for i in range(n)], dtype=bool)
        if not when.any():
            return
        f = rule.then
        fix = rule.fix or f.fix
        gone = [c.field for c in rule.when if c.field not in out]
        message = rule.message + (f" (the file has no column {', '.join(gone)})" if gone else "")
        if f.name not in out:
            if f.required:
                self._dropped.pop(f.name, None)
                k = int(when.sum())
                hint = _likely(f.name, self._near.get(f.name, []))
                self.message(f"{rows.name}: has no column {f.name}, which {k} row"
                             f"{'s' if k != 1 else ''} need ({f.name} {message}); "
                             f"{hint or fix or 'add the column'}.", file=rows.name,
                             severity=f.severity)
            return
        miss = missing[f.name]
        if rule.blank:
            bad = when & ~miss
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, message, fix, out[f.name][idx],
                           severity=f.severity)
            return
        if f.required:
            bad = when & miss
            if bad.any():
                self._rows(rows, np.flatnonzero(bad), f.name, message, fix,
                           severity=f.severity)
        vals = out[f.name]
        if any(b is not None for b in (f.minimum, f.maximum, f.exclusive_minimum,
                                       f.exclusive_maximum)):
            v = np.asarray([x if isinstance(x, (int, float)) else np.nan for x in vals],
                           dtype=float) if vals.dtype == object else vals.astype(float)
            bad = np.zeros(n, dtype=bool)
            with np.errstate(invalid="ignore"):
                if f.minimum is not None:
                    bad |= v < f.minimum
                if f.exclusive_minimum is not None:
                    bad |= v <= f.exclusive_minimum
                if f.maximum is not None:
                    bad |= v > f.maximum
                if f.exclusive_maximum is not None:
                    bad |= v >= f.exclusive_maximum
            bad &= when & ~miss
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, message, fix, vals[idx], severity=f.severity)
        if f.enum is not None:
            bad = when & ~miss & ~np.isin(vals.astype(str), [str(e) for e in f.enum])
            if bad.any():
                idx = np.flatnonzero(bad)
                self._rows(rows, idx, f.name, message, fix, vals[idx], severity=f.severity)

    # -- a folder of tables ---------------------------------------------------------------------

    def folder(self, folder, schemas: Mapping[str, Schema]) -> dict[str, Table]:
        """Read and check every table of ``schemas`` (by table name) found in ``folder``; a
        missing required file is reported. References between the tables are not checked here
        (:meth:`references`)."""
        from pathlib import Path

        from karvan.schema.text import read_csv

        folder = Path(folder)
        out: dict[str, Table] = {}
        for name, schema in schemas.items():
            path = folder / (schema.path or f"{name}.csv")
            if not path.is_file():
                if schema.required:
                    self.message(f"{path.name} is missing from {folder}.", file=path.name)
                continue
            try:
                text = read_csv(path)
            except InputError as e:
                for m in e.problems:
                    self.message(m, file=path.name)
                continue
            out[name] = self.table(schema, text)
        return out

    # -- between tables -------------------------------------------------------------------------

    def references(self, tables: Mapping[str, Table]) -> None:
        """Foreign keys and coverage of every table in ``tables`` (by table name); references
        to a table that is absent are skipped (its absence is reported where it matters)."""
        for t in tables.values():
            for fk in t.schema.foreign_keys:
                ref = t if fk.resource == "" else tables.get(fk.resource)
                if ref is None:
                    continue
                self.foreign_key(t, fk.fields, ref, fk.ref_fields, wildcard=fk.wildcard,
                                 severity=fk.severity, fix=fk.fix)
            for cov in t.schema.coverage:
                src = tables.get(cov.of)
                if src is not None:
                    self._coverage(t, cov, src, tables)

    def foreign_key(self, t: Table, fields: Iterable[str], ref: Table, ref_fields:
                    Iterable[str], *, wildcard: str | None = None, severity: str = "error",
                    fix: str | None = None) -> None:
        """Values of ``fields`` in ``t`` must be values of ``ref_fields`` in ``ref``."""
        fields, ref_fields = tuple(fields), tuple(ref_fields)
        if any(f not in t.columns for f in fields) or any(f not in ref.columns
                                                            for f in ref_fields):
            return
        cols = [t.columns[f] for f in fields]
        refs = [ref.columns[f] for f in ref_fields]
        rows = _Rows(t.name, t.lines, t.ids, t.id_label)
        bad_idx, bad_val = [], []
        if len(cols) == 1 and cols[0].dtype == object and any(isinstance(v, tuple)
                                                             for v in cols[0]):
            known = set(_keys(refs[0]).tolist())
            for i, items in enumerate(cols[0]):  # a list field: every item
                for item in items or ():
                    if item != wildcard and _text_of(item) not in known:
                        bad_idx.append(i)
                        bad_val.append(item)
        else:
            present = np.ones(t.n_rows, dtype=bool)
            for c in cols:
                present &= ~_blank(c)
            if wildcard is not None:
                for c in cols:
                    if c.dtype == object:
                        present &= ~np.asarray([v == wildcard for v in c], dtype=bool)
            found = _isin_rows(cols, refs, present)
            for i in np.flatnonzero(present & ~found):
                bad_idx.append(i)
                bad_val.append(", ".join(_text_of(c[i]) for c in cols))
        if bad_idx:
            what = ref_fields[0] if len(ref_fields) == 1 else "(" + ", ".join(ref_fields) + ")"
            col = fields[0] if len(fields) == 1 else "(" + ", ".join(fields) + ")"
            where = "this table" if ref is t else ref.name
            for i, v in zip(bad_idx, bad_val, strict=False):
                self.add(Violation(t.name, rows.line(i), col, shorten(v),
                                   f"is not a {what} of {where}",
                                   fix or f"add it to {where} or correct it", rows.row_id(i),
                                   severity))

    def _coverage(self, t: Table, cov, src: Table, tables: Mapping[str, Table]) -> None:
        if any(f not in t.columns for f in cov.fields) or any(f not in src.columns
                                                                for f in cov.of_fields):
            return
        maps = {}
        for f, (res, key, val) in cov.lookup.items():
            lt = tables.get(res)
            if lt is None or key not in lt.columns or val not in lt.columns:
                return
            maps[f] = dict(zip(map(_hashable, lt.columns[key]), lt.columns[val], strict=False))
        have = set(zip(*(map(_hashable, t.columns[f]) for f in cov.fields), strict=False))
        # rows that carry every one of these values themselves need no row here
        skip = np.full(src.n_rows, bool(cov.unless_present))
        for f in cov.unless_present:
            c = src.columns.get(f)
            if c is None:
                skip[:] = False
                break
            skip &= np.asarray([not (v is None or (isinstance(v, float) and np.isnan(v)))
                                for v in c], dtype=bool)
        srows = _Rows(src.name, src.lines, src.ids, src.id_label)
        reported = self._reported(src.name)
        if reported:  # a value already reported as wrong needs no row here
            skip |= np.asarray([any((srows.line(i), srows.row_id(i), f) in reported
                                    for f in cov.of_fields) for i in range(src.n_rows)],
                               dtype=bool)
        need: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(~skip):
            combo = []
            for f in cov.of_fields:
                v = _hashable(src.columns[f][i])
                if f in maps:
                    v = maps[f].get(v)
                combo.append(v)
            if any(v is None for v in combo):
                continue
            need.setdefault(tuple(combo), []).append(i)
        w = cov.wildcard
        missing = []
        for combo, where in need.items():
            ok = False
            for pattern in _wild_patterns(combo, w):
                if pattern in have:
                    ok = True
                    break
            if not ok:
                missing.append((combo, where))
        for combo, where in missing:
            label = ", ".join(f"{f} {v}" for f, v in zip(cov.fields, combo, strict=False))
            ids = format_ids([srows.row_id(i) or f"line {srows.line(i)}" for i in where])
            self.add(Violation(t.name, None, None, None,
                               f"has no row for {label}: {cov.message} (needed by {len(where)} "
                               f"rows of {src.name}: {ids})", cov.fix, None, "error"))


# -- helpers -------------------------------------------------------------------------------------


class _Rows:
    """How to name rows of one table in messages: file line, else row number; and the id."""

    def __init__(self, name, lines, ids, id_label) -> None:
        self.name = name
        self.lines = lines
        self.ids = ids
        self.id_label = id_label

    def n(self, out) -> int:
        return len(next(iter(out.values()))) if out else 0

    def line(self, i) -> int | None:
        return int(self.lines[i]) if self.lines is not None else None

    def row_id(self, i) -> str | None:
        v = None if self.ids is None else self.ids[i]
        if v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
            return None if self.lines is not None else f"row {i + 1}"
        return f"{self.id_label} {shorten(_text_of(v))}"


def _same_values(a, b) -> bool:
    """Two columns as read hold the same values: the same text, or the same numbers where both
    read as numbers (``100`` and ``100.0``)."""
    a, b = list(a), list(b)
    if a == b:
        return True
    try:
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                rtol=0.0, atol=0.0, equal_nan=True))
    except (TypeError, ValueError):
        return False


def _summary(vs: list[Violation]) -> str:
    """One message for violations of one kind: what, where (lines, ids, values), the fix."""
    v0 = vs[0]
    n = len(vs)
    head = f"{v0.file}: " if v0.file else ""
    col = f"{v0.column} " if v0.column else ""
    lines = list(dict.fromkeys(v.line for v in vs if v.line is not None))
    ids = list(dict.fromkeys(v.row_id for v in vs if v.row_id))
    vals = list(dict.fromkeys(v.value for v in vs if v.value is not None))
    parts = []
    if lines:
        parts.append(("line " if len(lines) == 1 else "lines ") + format_ids(lines))
    if ids:
        label = ids[0].split(" ", 1)[0]
        parts.append(f"{label} {format_ids([i.split(' ', 1)[1] for i in ids])}")
    detail = "; ".join(parts)
    if vals:
        shown = ", ".join(repr(x) for x in vals[:5]) + (
            f" and {len(vals) - 5} more" if len(vals) > 5 else "")
        detail = f"{detail}: {shown}" if detail else shown
    msg = f"{head}{col}{v0.problem}"
    if lines or ids:
        msg += f" on {n} row{'s' if n != 1 else ''}"
    if detail:
        msg += f" ({detail})"
    if v0.fix:
        msg += f"; {v0.fix}"
    return msg.rstrip(".") + "."


def _blank(c: np.ndarray) -> np.ndarray:
    if c.dtype.kind == "f":
        return np.isnan(c)
    if c.dtype == object:
        return np.asarray([v is None or (isinstance(v, float) and v != v) for v in c],
                          dtype=bool)
    return np.zeros(c.shape[0], dtype=bool)


def _keys(c: np.ndarray) -> np.ndarray:
    """Values as comparable keys: whole floats and their text agree (``1.0`` and ``"1"``)."""
    if c.dtype.kind == "f":
        out = np.empty(c.shape[0], dtype=object)
        whole = np.isfinite(c) & (c == np.floor(c)) & (np.abs(c) < 2**53)
        out[whole] = c[whole].astype(np.int64).astype(str)
        out[~whole] = c[~whole].astype(str)
        return out.astype(str)
    return np.asarray([_text_of(v) for v in c], dtype=str) if len(c) else np.zeros(0, dtype=str)


def _codes(cols: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """One integer per row of ``idx`` that is equal exactly where all ``cols`` are."""
    if all(c.dtype.kind == "f" for c in cols):  # whole numbers in a small range: mixed radix
        vs = [c[idx] for c in cols]
        if all(len(v) and np.isfinite(v).all() and (v == np.floor(v)).all() for v in vs):
            lo = [float(v.min()) for v in vs]
            spans = [float(v.max()) - a + 1 for v, a in zip(vs, lo, strict=False)]
            if float(np.prod(spans)) < 2.0**62:
                code = np.zeros(len(idx), dtype=np.int64)
                for v, a, span in zip(vs, lo, spans, strict=False):
                    code = code * int(span) + (v - a).astype(np.int64)
                return code
    code = np.zeros(len(idx), dtype=np.int64)
    for c in cols:
        v = c[idx]
        k = v if v.dtype.kind == "f" else _keys(v)
        uniq, inv = np.unique(k, return_inverse=True)
        code = np.unique(code * len(uniq) + inv.ravel(), return_inverse=True)[1].ravel()
    return code


def _repeats(cols: list[np.ndarray], valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that repeat an earlier row's key, and the earlier row of each (vectorised)."""
    idx = np.flatnonzero(valid)
    if len(idx) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    code = _codes(cols, idx)
    order = np.argsort(code, kind="stable")
    sc = code[order]
    same = sc[1:] == sc[:-1]
    if not same.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(~same) + 1]
    first = np.repeat(order[starts], np.diff(np.r_[starts, len(order)]))
    dup = order[1:][same]
    firsts = first[1:][same]
    back = np.argsort(dup, kind="stable")
    return idx[dup[back]], idx[firsts[back]]


def _isin_rows(cols: list[np.ndarray], refs: list[np.ndarray], present: np.ndarray
               ) -> np.ndarray:
    """Whether each row's combination of ``cols`` occurs among the rows of ``refs``."""
    n = cols[0].shape[0]
    found = np.zeros(n, dtype=bool)
    if not present.any():
        return found
    if len(cols) == 1:
        found[present] = np.isin(_keys(cols[0][present]), _keys(refs[0]))
        return found
    known = set(zip(*(_keys(r).tolist() for r in refs), strict=False))
    rows = np.flatnonzero(present)
    keys = list(zip(*(_keys(c[rows]).tolist() for c in cols), strict=False))
    found[rows] = np.asarray([k in known for k in keys], dtype=bool)
    return found


def _as_array(col) -> np.ndarray:
    a = np.asarray(col)
    if a.dtype.kind in "fiub":
        return a.astype(float) if a.dtype.kind in "iu" else a
    out = np.empty(a.shape[0], dtype=object)
    out[:] = list(a)
    return out


def _missing(raw: np.ndarray, missing_values) -> np.ndarray:
    if raw.dtype.kind == "f":
        return np.isnan(raw)
    if raw.dtype.kind in "biu":
        return np.zeros(raw.shape[0], dtype=bool)
    mv = set(missing_values)
    try:  # text read from a file: every value a stripped str
        text = raw.astype(str) if all(type(v) is str for v in raw[:64]) else None
    except (TypeError, ValueError):
        text = None
    if text is not None and len(text) == len(raw) and all(type(v) is str for v in raw):
        return np.isin(text, list(mv))
    return np.asarray([v is None or (isinstance(v, float) and v != v)
                       or (isinstance(v, str) and v.strip() in mv) for v in raw], dtype=bool)


def _numbers(raw: np.ndarray, miss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse to float64; ``bad`` marks text that is not a number (blank cells are NaN, not
    bad)."""
    n = raw.shape[0]
    if raw.dtype.kind in "fiub":
        return raw.astype(float), np.zeros(n, dtype=bool)
    vals = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(~miss)
    if not len(idx):
        return vals, bad
    sub = raw[idx]
    try:
        vals[idx] = np.asarray(sub, dtype=np.float64)
        return vals, bad
    except (ValueError, TypeError, OverflowError):
        pass
    for i, v in zip(idx, sub, strict=False):
        if isinstance(v, bool):
            bad[i] = True
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            vals[i] = float(v)
            continue
        s = str(v).strip()
        try:
            vals[i] = float(s)
        except (ValueError, OverflowError):
            bad[i] = True
    return vals, bad


def _holds(c: Condition, out, missing, n: int) -> np.ndarray:
    if c.field not in out:
        # a column the file lacks is blank on every row
        return np.full(n, c.present is False, dtype=bool)
    miss = missing[c.field]
    if c.present is not None:
        return ~miss if c.present else miss
    vals = out[c.field]
    if c.above is not None:
        v = vals.astype(float) if vals.dtype.kind == "f" else np.asarray(
            [x if isinstance(x, (int, float)) else np.nan for x in vals], dtype=float)
        with np.errstate(invalid="ignore"):
            return ~miss & (v > c.above)
    if c.values is None:
        return ~miss
    if vals.dtype.kind == "f":
        return ~miss & np.isin(vals, np.asarray([float(x) for x in c.values]))
    return ~miss & np.isin(vals.astype(str), np.asarray([str(x) for x in c.values]))


def _hashable(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, np.generic):
        return _hashable(v.item())
    return v


def _text_of(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _fix(f: Field, default: str) -> str:
    if f.fix:
        return f.fix
    return default + (f" in {f.unit}" if f.unit and default == "write a number" else "")


def _wild_patterns(combo: tuple, wildcard: str | None):
    """The combination itself, then every version of it with some values replaced by the
    wildcard (most specific first)."""
    yield combo
    if wildcard is None:
        return
    n = len(combo)
    for k in range(1, n + 1):
        for mask in _masks(n, k):
            yield tuple(wildcard if m else v for v, m in zip(combo, mask, strict=False))


def _masks(n: int, k: int):
    from itertools import combinations

    for pos in combinations(range(n), k):
        yield tuple(i in pos for i in range(n))


def _closeness(name: str, column: str) -> float:
    """How much ``column`` looks like the field ``name``: 3 written in another case, 2 cut to
    ten characters, else difflib's ratio where it is at least 0.75 (as :func:`_likely` takes
    it), else 0."""
    if column.lower() == name.lower():
        return 3.0
    if len(column) == DBF_NAME_LENGTH and name.startswith(column) \
            and len(name) > DBF_NAME_LENGTH:
        return 2.0
    r = difflib.SequenceMatcher(None, column, name).ratio()
    return r if r >= 0.75 else 0.0


def _nearest(schema: Schema, extra: list[str]) -> dict[str, list[str]]:
    """Each column of ``extra`` (not a field of ``schema``) under the field it looks most like,
    the first such field on a tie; columns like none are left out. A column is thus hinted at
    as one field only (``capacity_tp`` as ``capacity_tpy``, not also as ``capacity``), and not
    at all where the field it is most like is present."""
    out: dict[str, list[str]] = {}
    for c in extra:
        score, best = max(((_closeness(f.name, c), -k) for k, f in enumerate(schema.fields)),
                          default=(0.0, 0))
        if score > 0:
            out.setdefault(schema.fields[-best].name, []).append(c)
    return out


def _likely(name: str, candidates: list[str]) -> str | None:
    """A hint naming the column of ``candidates`` that is probably ``name``: cut to ten
    characters by a shapefile export, written in other case, or misspelt."""
    for c in candidates:
        if len(c) == DBF_NAME_LENGTH and name.startswith(c) and len(name) > DBF_NAME_LENGTH:
            return (f"column {c!r} looks like {name} cut to {DBF_NAME_LENGTH} characters (a "
                    f"shapefile export does that): rename it to {name}")
    for c in candidates:
        if c.lower() == name.lower():
            return f"column {c!r} looks like {name} written in another case: rename it to {name}"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    if close:
        return f"column {close[0]!r} looks like {name} renamed or misspelt: rename it to {name}"
    return None
