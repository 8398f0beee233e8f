"""The choice model's parameters (``choice_parameter.csv``) as uncertain inputs.

Every row of the parameter table is an uncertain figure of table ``choice``, field its
``parameter`` (``theta``, ``asc_usd_per_t``, ``value_of_reliability``, ...), row key
``parameter>family>nest>link_ids>commodity`` (see :func:`choice_row_keys`). How a row is drawn:

- **calibrated** (a finite ``std_error`` > 0, written by ``karvan calibrate --parameters``): normal
  with the row's value as mean and its standard error as sd. Rows that one fitted parameter sets
  (the same ``fitted_parameter``; in a table without that column, the same ``parameter`` and
  ``observations`` and the same relative standard error ``std_error / |value|``: a fitted factor
  writes ``value = prior x v``, ``std_error = prior x se``) draw together: one factor
  ``normal(1, std_error / |value|)`` for all of them, so each row has its own mean and sd and
  the rows move as the fit says they do. Fitted parameters draw jointly with the correlations
  of the fit (``choice_parameter_correlation.csv`` beside the table, written by the same
  ``karvan calibrate --parameters``: :func:`read_choice_correlation`), a Gaussian copula on
  their factors (:class:`~karvan.explore.inputs.Correlation`); without that table,
  independently.
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
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.explore.distributions import Distribution
from karvan.explore.inputs import (
    Correlation,
    InputSet,
    UncertainInput,
    correlation_problems,
    read_uncertainty,
    source_key,
)

TABLE = "choice"
#: the table of a fit's correlations, beside its parameter table
CORRELATION_FILE = "choice_parameter_correlation.csv"
#: its columns (``correlation`` of fitted parameters ``parameter_a`` and ``parameter_b``)
CORRELATION_COLUMNS = ("parameter_a", "parameter_b", "correlation", "source", "source_date",
                       "confidence", "method")
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


def _blank(s: pd.Series) -> np.ndarray:
    raw = s.astype(str).str.strip()
    return (s.isna() | raw.isin(["", "nan", "NaN", "None"])).to_numpy()


def read_choice_correlation(path: str | os.PathLike) -> pd.DataFrame | None:
    """The correlation table beside a parameter table (``path``: the table, or the table of
    correlations itself), every column as text; None where there is none.

    Raises
    ------
    InputError
        Columns it lacks.
    """
    from karvan.schema.text import read_frame

    path = Path(path)
    if path.name != CORRELATION_FILE:
        path = path.parent / CORRELATION_FILE
    if not path.is_file():
        return None
    df = read_frame(path)
    lacking = [c for c in CORRELATION_COLUMNS if c not in df]
    if lacking:
        raise InputError(f"{path}: lacks columns {format_ids(lacking)}; `karvan calibrate "
                         "--parameters --write` writes the table whole.", str(path))
    return df


def correlation_matrix(corr: pd.DataFrame, names: list[str], *,
                       file: str = CORRELATION_FILE,
                       skip: Collection[str] = ()) -> tuple[np.ndarray, list[str]]:
    """The correlation matrix of fitted parameters ``names`` from a correlation table (pairs
    not in it: 0; rows naming a parameter of ``skip`` left out), and every problem with the
    table (empty when none): correlations that are not numbers in [-1, 1], a parameter with
    itself, a pair given twice (in either order), a name that is not a fitted parameter of the
    table, a matrix of no joint draw."""
    problems = []
    skip = set(skip)
    off = (corr["parameter_a"].astype(str).str.strip().isin(skip)
           | corr["parameter_b"].astype(str).str.strip().isin(skip)).to_numpy()
    corr = corr.assign(_line=np.arange(len(corr)) + 2)[~off]
    pos = {n: i for i, n in enumerate(names)}
    m = np.eye(len(names))
    line = corr["_line"].to_numpy()
    a = corr["parameter_a"].astype(str).str.strip().to_numpy()
    b = corr["parameter_b"].astype(str).str.strip().to_numpy()
    r = _num(corr["correlation"])
    bad = ~np.isfinite(r) | (np.abs(r) > 1.0)
    if bad.any():
        problems.append(f"{file}: correlation must be a number in [-1, 1] (lines "
                        f"{format_ids(line[bad])}).")
    same = a == b
    if same.any():
        problems.append(f"{file}: a parameter's correlation with itself is 1, not a row "
                        f"(lines {format_ids(line[same])}): delete those rows.")
    unknown = sorted({x for x in np.concatenate([a, b]) if x not in pos})
    if unknown:
        problems.append(f"{file}: {format_ids(unknown)} are not fitted parameters of the "
                        f"parameter table (its fitted_parameter column: "
                        f"{format_ids(names) if names else 'none'}); the two tables are written "
                        "together by `karvan calibrate --parameters --write`: write them again, "
                        "or delete the correlation table to draw the parameters independently.")
    seen: dict[frozenset, int] = {}
    twice = []
    for k in range(len(corr)):
        if same[k] or bad[k] or a[k] not in pos or b[k] not in pos:
            continue
        key = frozenset((a[k], b[k]))
        if key in seen:
            twice.append(f"{a[k]}/{b[k]} (lines {seen[key]} and {line[k]})")
            continue
        seen[key] = int(line[k])
        i, j = pos[a[k]], pos[b[k]]
        m[i, j] = m[j, i] = r[k]
    if twice:
        problems.append(f"{file}: pairs given twice: {'; '.join(twice)}; keep one row each.")
    if not problems:
        problems += [f"{file}: {x}" for x in correlation_problems(m, names)]
    return m, problems


def choice_inputs(table: pd.DataFrame, uncertainty: str | os.PathLike, *,
                  file: str = "choice_parameter.csv",
                  correlation: pd.DataFrame | None = None) -> InputSet:
    """The uncertain inputs of a choice parameter table (see the module notes).

    Parameters
    ----------
    table
        ``choice_parameter.csv`` or a calibrated table of its columns (``std_error`` optional).
    uncertainty
        The uncertainty table whose class rules draw the rows without a standard error.
    file
        The table's name in messages.
    correlation
        The fit's correlations (:func:`read_choice_correlation`), or None: fitted parameters
        draw independently.

    Returns
    -------
    InputSet
        Inputs of table ``choice``, one field per parameter; read a model's array with
        ``target("choice", parameter, keys, values)`` (keys: :func:`choice_row_keys`).

    Raises
    ------
    InputError
        Values that are not numbers, negative or non-numeric standard errors, a confidence
        class without a rule, a range rule on table ``choice`` (give ``std_error`` instead),
        rows of one fitted parameter with different relative standard errors, a bad correlation
        table (:func:`correlation_matrix`).
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
    if "fitted_parameter" in table:
        fitted = table["fitted_parameter"].astype(str).str.strip().to_numpy()
        named = ~_blank(table["fitted_parameter"])
    else:
        fitted = np.full(len(table), "", dtype=object)
        named = np.zeros(len(table), dtype=bool)
    # calibrated rows: one input per fitted parameter, [parameter, relative se, rows, name]
    # (rows named by fitted_parameter; else rows of one parameter, observations and relative
    # standard error)
    groups: list[list] = []
    by_name: dict[str, list] = {}
    for i in np.flatnonzero(calibrated):
        rse = se[i] / abs(value[i]) if value[i] != 0 else math.inf
        if named[i]:
            if fitted[i] not in by_name:
                by_name[fitted[i]] = [par[i], rse, [], fitted[i]]
                groups.append(by_name[fitted[i]])
            by_name[fitted[i]][2].append(i)
            continue
        for g in groups:
            if (g[3] is None and g[0] == par[i] and obs[g[2][0]] == obs[i]
                    and math.isfinite(rse) and math.isfinite(g[1])
                    and abs(rse - g[1]) <= _RSE_RTOL * g[1]):
                g[2].append(i)
                break
        else:
            groups.append([par[i], rse, [i], None])
    for name, g in by_name.items():
        rows = g[2]
        rs = np.array([se[i] / abs(value[i]) if value[i] != 0 else math.inf for i in rows])
        ps = sorted(set(par[rows]))
        if len(ps) > 1 or (len(rows) > 1 and not (
                np.isfinite(rs).all() and np.ptp(rs) <= _RSE_RTOL * rs.max())):
            problems.append(f"{file}: the rows of fitted parameter {name} (lines "
                            f"{format_ids([i + 2 for i in rows])}) "
                            + (f"are of parameters {format_ids(ps)}" if len(ps) > 1 else
                               "have different relative standard errors std_error / |value|")
                            + "; one fitted parameter sets rows of one parameter alike: write "
                              "them again with `karvan calibrate --parameters --write`.")
    prior_value = (_num(table["prior_value"]) if "prior_value" in table
                   else np.full(len(table), np.nan))
    fit_factor: dict[str, str] = {}
    # the sign that turns a group's draw into the fitted parameter's: a group of rows draws one
    # factor f with row = value x f, which moves the parameter v (row = a x v, a = 1 for a
    # value, the row's prior for a factor) as sign(v) x f does; a single row draws its value
    fit_sign: dict[str, float] = {}
    for p, rse, rows, fname in groups:
        first = table.iloc[rows[0]]
        label = _label(first) + (f"+{len(rows) - 1}" if len(rows) > 1 else "")
        name = f"{TABLE}.{p}:se[{label}]"
        if fname is not None:
            fit_factor[fname] = name
            i = rows[0]
            if len(rows) == 1 or (np.ptp(value[rows]) == 0 and not fname.endswith("|factor")):
                v_hat = value[i]  # a value: every row holds it
            elif np.isfinite(prior_value[i]) and prior_value[i] != 0:
                v_hat = value[i] / prior_value[i]  # a factor: value = prior x factor
            else:
                v_hat = 1.0  # a factor without its prior written: taken as positive
            fit_sign[fname] = -1.0 if (len(rows) > 1 and v_hat < 0) else 1.0
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
    # the fit's correlations, over the fitted parameters drawn with a standard error (one held
    # by its bound has none: its pairs are left out, and its rows draw by their class below),
    # in the fit's order (the order of the correlation table's names, which is the order the
    # fit lists them in): the order of the Cholesky factor
    corr = None
    if correlation is not None and len(correlation):
        seen = list(dict.fromkeys(
            x for pair in zip(correlation["parameter_a"].astype(str).str.strip(),
                              correlation["parameter_b"].astype(str).str.strip(), strict=True)
            for x in pair))
        drawn = [n for n in seen if n in fit_factor] + [n for n in fit_factor if n not in seen]
        held = set(fitted[named & ~calibrated]) - set(drawn)
        m, bad = correlation_matrix(correlation, drawn, skip=held)
        problems += bad
        sign = np.array([fit_sign[n] for n in drawn])
        m = m * np.outer(sign, sign)
        # the parameters correlated with some other (the rest draw independently)
        tied = np.flatnonzero((m - np.eye(len(drawn)) != 0).any(axis=1)) if not bad else []
        if len(tied):
            corr = Correlation(tuple(fit_factor[drawn[i]] for i in tied), m[np.ix_(tied, tied)])
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
    h = hashlib.sha256(
        pd.util.hash_pandas_object(table.astype(str), index=False).values.tobytes()
        + path.read_bytes())
    if corr is not None:
        h.update(np.ascontiguousarray(corr.matrix).tobytes())
        h.update("\n".join(corr.factors).encode())
    return InputSet(tuple(inputs), tuple(dict.fromkeys(x.factor for x in inputs)),
                    h.hexdigest()[:16], corr)


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
