"""The choice model's parameters (``choice_parameter.csv``) as uncertain inputs.

Every row of the parameter table is an uncertain figure of table ``choice``, field its
``parameter`` (``theta``, ``asc_usd_per_t``, ``value_of_reliability``, ...), row key
``parameter>family>nest>link_ids>commodity`` (see :func:`choice_row_keys`). How a row is drawn:

- **calibrated** (a finite ``std_error`` > 0, written by ``karvan calibrate --parameters``): normal
  with the row's value as mean and its standard error as sd. Rows that one fitted parameter sets
  (the same ``parameter`` and ``observations`` and the same relative standard error
  ``std_error / |value|``: a fitted factor writes ``value = prior x v``, ``std_error = prior x se``)
  draw together: one factor ``normal(1, std_error / |value|)`` for all of them, so each row has
  its own mean and sd and the rows move as the fit says they do. Other fitted parameters draw
  independently (the table keeps no covariances).
- **not calibrated**: by its confidence class, as every other figure of the dataset (a lognormal
  factor with median 1 and the class's sigma from ``uncertainty.csv``; a rule with table
  ``choice`` and a field narrows it for one parameter). Rows of one parameter that cite the same
  sources with the same confidence share one factor (``choice.<parameter>:<class>[<sources>]``,
  the sources sorted, :func:`~karvan.explore.inputs.source_key`).
  A factor leaves a value of 0 at 0 (the constants and sanctions terms before calibration) and has
  no meaning on a nest scale, which is bounded by 1: such rows are drawn only from a
  ``std_error``.

The choice model bounds what it reads: a drawn ``theta`` is kept above 1e-9 per USD/t and a drawn
``nest_scale`` in [0.05, 1] (:func:`clip_choice_values`); the share of draws clipped is small when
the standard errors are small against the values, and the experiment records every drawn value.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.explore.distributions import Distribution
from karvan.explore.inputs import InputSet, UncertainInput, read_uncertainty, source_key

TABLE = "choice"
#: the columns of a row's scope (with ``parameter``, its key)
SCOPE = ("family", "nest", "link_ids", "commodity")
#: parameters a class factor does not draw (bounded by 1 at their prior)
NOT_BY_CLASS = ("nest_scale",)
#: bounds a drawn value is kept within (the choice model's domain)
BOUNDS = {"theta": (1e-9, math.inf), "nest_scale": (0.05, 1.0),
          "value_of_reliability": (0.0, math.inf), "reliability_buffer_h": (0.0, math.inf),
          "gauge_break_h": (0.0, math.inf), "gauge_break_usd_per_t": (0.0, math.inf),
          "path_size_gamma": (0.0, math.inf)}
#: relative standard errors within this of each other are one fitted factor's
_RSE_RTOL = 1e-6


def choice_row_keys(table: pd.DataFrame) -> list[str]:
    """One key per row: ``parameter>family>nest>link_ids>commodity`` (blank scopes as ``*``),
    with ``#2``, ``#3`` ... on repeats (additive terms may repeat a scope)."""
    cols = ["parameter", *SCOPE]
    parts = table.reindex(columns=cols).fillna("*").astype(str).apply(
        lambda s: s.str.strip().replace("", "*"))
    keys = [">".join(r) for r in parts.itertuples(index=False, name=None)]
    seen: dict[str, int] = {}
    out = []
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}#{seen[k]}")
    return out


def _label(row) -> str:
    """The non-``*`` parts of a row's scope (link lists by their first id and count)."""
    parts = []
    for c in SCOPE:
        v = str(row[c]).strip() if pd.notna(row[c]) else "*"
        if v in ("", "*"):
            continue
        ids = [s for s in v.split(";") if s.strip()]
        parts.append(ids[0] if len(ids) == 1 else f"{ids[0]}+{len(ids) - 1}")
    return "|".join(parts) or "*"


def _num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def check_choice_table(table: pd.DataFrame, file: str = "choice_parameter.csv") -> list[str]:
    """What is wrong with a parameter table's values and standard errors for drawing (empty
    when fine): values that are not numbers, standard errors that are negative or not numbers,
    a standard error on a value that a normal draw would leave outside the model's domain."""
    problems = []
    if "parameter" not in table or "value" not in table:
        return [f"{file}: needs columns parameter and value."]
    line = np.arange(len(table)) + 2
    v = _num(table["value"])
    bad = ~np.isfinite(v)
    if bad.any():
        problems.append(f"{file}: value must be a number (lines {format_ids(line[bad])}).")
    if "std_error" in table:
        raw = table["std_error"].astype(str).str.strip()
        blank = table["std_error"].isna() | raw.isin(["", "nan", "NaN"])
        se = _num(table["std_error"])
        bad = ~blank.to_numpy() & ~np.isfinite(se)
        if bad.any():
            problems.append(f"{file}: std_error must be a number or blank (lines "
                            f"{format_ids(line[bad])}).")
        neg = np.isfinite(se) & (se < 0)
        if neg.any():
            problems.append(f"{file}: std_error must be >= 0 (lines {format_ids(line[neg])}, "
                            f"values {format_ids([f'{x:g}' for x in se[neg]])}); a standard "
                            "error is the sd of the estimate: write its absolute value, or "
                            "leave it blank for a value that was not fitted.")
    return problems


def choice_inputs(table: pd.DataFrame, uncertainty: str | os.PathLike, *,
                  file: str = "choice_parameter.csv") -> InputSet:
    """The uncertain inputs of a choice parameter table (see the module notes).

    Parameters
    ----------
    table
        ``choice_parameter.csv`` or a calibrated table of its columns (``std_error`` optional).
    uncertainty
        The uncertainty table whose class rules draw the rows without a standard error.
    file
        The table's name in messages.

    Returns
    -------
    InputSet
        Inputs of table ``choice``, one field per parameter; read a model's array with
        ``target("choice", parameter, keys, values)`` (keys: :func:`choice_row_keys`).

    Raises
    ------
    InputError
        Values that are not numbers, negative or non-numeric standard errors, a confidence
        class without a rule, a range rule on table ``choice`` (give ``std_error`` instead).
    """
    problems = check_choice_table(table, file)
    if problems:
        raise InputError(problems, file)
    path = Path(uncertainty)
    rules = read_uncertainty(path)
    ranges = rules[(rules["kind"] == "range") & (rules["table"] == TABLE)]
    if len(ranges):
        problems.append(f"{path.name}: range rules on table choice "
                        f"({format_ids(ranges['rule_id'])}) are not read; give the "
                        f"parameter's std_error in {file} instead.")
    cls_rules = {(r["confidence_class"], r["table"], r["field"]): r
                 for _, r in rules[rules["kind"] == "class"].iterrows()}

    def class_rule(cls: str, fld: str):
        for t, f in ((TABLE, fld), (TABLE, "*"), ("*", "*")):
            if (cls, t, f) in cls_rules:
                return cls_rules[(cls, t, f)]
        return None

    keys = choice_row_keys(table)
    value = _num(table["value"])
    se = _num(table["std_error"]) if "std_error" in table else np.full(len(table), np.nan)
    obs = (table["observations"].fillna("").astype(str).to_numpy() if "observations" in table
           else np.full(len(table), "", dtype=object))
    conf = table["confidence"].fillna("").astype(str).to_numpy()
    src = table["source"].fillna("").astype(str).to_numpy()
    par = table["parameter"].astype(str).to_numpy()
    inputs: list[UncertainInput] = []
    calibrated = np.isfinite(se) & (se > 0)
    # calibrated rows: one input per fitted parameter
    groups: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(calibrated):
        rse = se[i] / abs(value[i]) if value[i] != 0 else math.inf
        key = (par[i], obs[i])
        for (p, o, r), rows in groups.items():
            if (p, o) == key and math.isfinite(rse) and math.isfinite(r) and abs(
                    rse - r) <= _RSE_RTOL * r:
                rows.append(i)
                break
        else:
            groups[(par[i], obs[i], rse)] = [i]
    for (p, _o, rse), rows in groups.items():
        first = table.iloc[rows[0]]
        label = _label(first) + (f"+{len(rows) - 1}" if len(rows) > 1 else "")
        name = f"{TABLE}.{p}:se[{label}]"
        if len(rows) == 1:
            i = rows[0]
            dist = Distribution("normal", sigma=float(se[i]), mean=float(value[i]))
            inputs.append(UncertainInput(name, TABLE, p, dist, (keys[i],), name, True,
                                         "std_error", src[i], conf[i], "value",
                                         (float(value[i]),)))
        else:
            dist = Distribution("normal", sigma=float(rse), mean=1.0)
            inputs.append(UncertainInput(name, TABLE, p, dist, tuple(keys[i] for i in rows),
                                         name, False, "std_error", src[rows[0]], conf[rows[0]],
                                         "value"))
    # the others by confidence class, rows of one parameter citing the same sources together
    unruled = set()
    by_class: dict[tuple[str, str, str], list[int]] = {}
    for i in np.flatnonzero(~calibrated):
        if value[i] == 0 or par[i] in NOT_BY_CLASS:
            continue
        by_class.setdefault((par[i], conf[i], source_key(src[i])), []).append(i)
    for (p, cls, s), rows in sorted(by_class.items()):
        rule = class_rule(cls, p)
        if rule is None:
            unruled.add(cls)
            continue
        name = f"{TABLE}.{p}:{cls}[{s}]"
        dist = Distribution(str(rule["distribution"]), sigma=float(rule["sigma"]),
                            low=float(rule["low"]), high=float(rule["high"]))
        inputs.append(UncertainInput(name, TABLE, p, dist, tuple(keys[i] for i in rows), name,
                                     False, str(rule["rule_id"]), s, cls, "value"))
    if unruled:
        problems.append(f"{path.name}: no class rule for confidence {format_ids(sorted(unruled))}"
                        f" of {file}; add a row of kind class for each.")
    if problems:
        raise InputError(problems, file)
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(table.astype(str), index=False).values.tobytes()
        + path.read_bytes()).hexdigest()[:16]
    return InputSet(tuple(inputs), tuple(dict.fromkeys(x.factor for x in inputs)), digest)


def choice_values(inputs: InputSet, table: pd.DataFrame):
    """A function input values -> the table's ``value`` column at those values (None: the
    table's own), clipped to :data:`BOUNDS`; built once per model (targets per parameter)."""
    keys = choice_row_keys(table)
    value = _num(table["value"])
    par = table["parameter"].astype(str).to_numpy()
    parts = []
    for p in dict.fromkeys(par):
        pos = np.flatnonzero(par == p)
        t = inputs.target(TABLE, p, [keys[i] for i in pos], value[pos])
        if t.uncertain:
            parts.append((pos, t, BOUNDS.get(p, (-math.inf, math.inf))))

    def at(values: np.ndarray | None) -> np.ndarray:
        out = value.copy()
        if values is None:
            return out
        for pos, t, (lo, hi) in parts:
            out[pos] = np.clip(t.apply(values), lo, hi)
        return out

    return at
