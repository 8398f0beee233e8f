"""Uncertain inputs of the corridor dataset, from the table ``uncertainty.csv``.

Every figure of the dataset carries a confidence class; ``uncertainty.csv`` maps each class to a
distribution (``kind=class``: a lognormal factor with median 1 and a spread per class, possibly
narrower for one table and field), and gives ranges where a source does (``kind=range``: low and
high in the units of the figure, for named rows or every row ``*`` of a table).

Inputs draw together where one source stands behind many rows: the figures of one field of one
table whose rows cite the same sources and have the same confidence share one factor (their
input is named ``table.field:class[sources]``, the sources sorted: the order in which a row
lists them does not matter, :func:`source_key`). Range rules with the same ``group`` share one point
of the unit cube (each mapped through its own range). A rule of kind ``together`` names rows of
one table and field that draw one factor of their (common) confidence class whatever sources
each cites: the truck deck and the wagon deck of a ferry line, two links of the same vessels,
have one sailing frequency; its input is named ``table.field:rule_id``. The design's
dimensions, the *factors* a sensitivity analysis ranks, are these groups; each input belongs
to one.

Uncertain fields (the keys of ``confidence_detail`` for links):

- link: length, speed, dwell, frequency, capacity, tariff, fee (``length_km``, ``speed_kph``,
  ``dwell_h``, ``frequency_per_week``, ``capacity_tpy`` or ``capacity_value``, the link's own
  ``tariff_usd_per_tkm``/``tariff_usd_per_t``, ``fee_usd_per_t``);
- demand: tonnes (``tonnes_per_year``);
- tariff, tariff_commodity: tariff (both tariff columns);
- speed_commodity: speed (``speed_kph``, a commodity's own speed on line links);
- commodity: vot (``vot_usd_per_t_h``; a range on ``vot_pct_value_per_day`` scales it);
- growth: growth (``growth_per_year``);
- choice: one field per parameter of ``choice_parameter.csv`` (read by
  :mod:`karvan.explore.choice_inputs`, for the logit choice model only).

Other tables (the parameters of a choice model with their standard errors) plug in through
:func:`parameter_inputs`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.explore.distributions import Distribution
from karvan.freight.route_family import PARAMETERS as _CHOICE_PARAMETERS
from karvan.io.hashing import file_sha256

#: confidence classes, weakest last (``operator`` is accepted for tables that use it)
CLASSES = ("official", "operator", "press", "estimate", "assumption")

#: field -> the columns holding its figure, per table
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "link": {"length": ("length_km",), "speed": ("speed_kph",), "dwell": ("dwell_h",),
             "frequency": ("frequency_per_week",), "capacity": ("capacity_tpy", "capacity_value"),
             "tariff": ("tariff_usd_per_t", "tariff_usd_per_tkm"), "fee": ("fee_usd_per_t",)},
    "demand": {"tonnes": ("tonnes_per_year",)},
    "tariff": {"tariff": ("tariff_usd_per_tkm", "tariff_usd_per_t")},
    "tariff_commodity": {"tariff": ("tariff_usd_per_tkm", "tariff_usd_per_t")},
    "speed_commodity": {"speed": ("speed_kph",)},
    "commodity": {"vot": ("vot_usd_per_t_h", "vot_pct_value_per_day")},
    "growth": {"growth": ("growth_per_year",)},
    # the choice model's parameters (choice_parameter.csv): see karvan.explore.choice_inputs
    "choice": {p: (p,) for p in _CHOICE_PARAMETERS},
}
#: fields a drawn value must keep above 0 (others may be 0; growth may be negative)
POSITIVE_FIELDS = ("capacity", "length", "speed", "vot", "frequency")
#: the kinds of rule of an uncertainty table
KINDS = ("class", "range", "together")
COLUMNS = ("rule_id", "kind", "confidence_class", "table", "field", "row_id", "distribution",
           "sigma", "low", "high", "group", "source", "source_date", "confidence", "method")


def _field_of(table: str, name: str) -> str | None:
    """The field key of a column or field name of ``table`` (``capacity_tpy`` -> capacity)."""
    fields = FIELDS.get(table, {})
    if name in fields:
        return name
    for key, cols in fields.items():
        if name in cols:
            return key
    return None


@dataclass(frozen=True, slots=True)
class UncertainInput:
    """One uncertain input: a distribution and the rows of one field of one table it sets.

    ``replace`` False: the drawn value multiplies each row's figure (a factor, median 1);
    True: it replaces the figure (a range in the figure's units).
    """

    name: str
    table: str
    field: str
    distribution: Distribution
    rows: tuple[str, ...]
    factor: str
    replace: bool = False
    rule_id: str = ""
    source: str = ""
    confidence: str = ""
    column: str = ""
    central: tuple[float, ...] = ()


def central_quantile(x: UncertainInput) -> float:
    """The quantile of ``x``'s distribution at the central case: the dataset's figure (the
    median of its rows') for a range, 1 for a factor; NaN where there is no figure."""
    if x.replace:
        if not x.central:
            return math.nan
        return x.distribution.cdf(float(np.median(x.central)))
    return x.distribution.cdf(1.0)


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """One model array (a field's figure per row, in the model's row order) and the inputs that
    set it: :meth:`apply` returns the array of a draw."""

    idx: np.ndarray
    replace: np.ndarray
    central: np.ndarray
    ref: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """The array at input ``values``: a factor multiplies the figure; a value replaces the
        rule's figure (NaN keeps the dataset's figures), and scales the model's figure by the
        same ratio where the two differ (a range on ``vot_pct_value_per_day`` scales
        ``vot_usd_per_t_h``)."""
        out = self.central.copy()
        m = self.idx >= 0
        if m.any():
            v = values[self.idx[m]]
            c = self.central[m]
            ref = self.ref[m]
            with np.errstate(divide="ignore", invalid="ignore"):
                rep = np.where(ref != 0, c * (v / ref), v)
            out[m] = np.where(np.isnan(v), c, np.where(self.replace[m], rep, c * v))
        return out

    @property
    def uncertain(self) -> bool:
        """Whether some input sets a row of the array."""
        return bool((self.idx >= 0).any())


#: the least eigenvalue a correlation matrix of drawn factors may have (a fit's correlation
#: matrix is positive semi-definite by construction; written to 6 digits it may dip below 0)
CORRELATION_EIG_TOL = 1e-6


#: the name of the factors that draw jointly as a sensitivity group (Sobol and Morris designs,
#: :func:`karvan.explore.sampling.factor_groups`), and as ``--input`` selects them
JOINT_GROUP = "drawn_jointly"


@dataclass(frozen=True, slots=True, eq=False)
class Correlation:
    """Factors that draw together through a Gaussian copula: ``matrix`` (k x k, symmetric, unit
    diagonal, positive semi-definite) is the correlation of their standard normal scores
    ``z = Phi^-1(u)``. A design point's independent scores ``z`` become ``L z`` (``L`` the
    Cholesky factor, in the order of ``factors``), so each factor keeps its own distribution and
    the factors their correlation. For normal inputs (the choice model's fitted parameters,
    drawn from their estimates and standard errors) this is the joint normal of the fit.

    In that order the first factor's design dimension is all of its score, and a later one's the
    part of its score the earlier ones do not give; through ``L`` that part moves the factors
    after it too. A Sobol or Morris index of a correlated factor's dimension measures what that
    part moves: for the first factor its whole influence with what it shares with the others,
    for the last its own part alone (Mara, Tarantola and Annoni 2015). Sobol and Morris designs
    therefore take the correlated factors as one sensitivity group
    (:data:`JOINT_GROUP`), whose Sobol indices do not depend on the order.
    """

    factors: tuple[str, ...]
    matrix: np.ndarray

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=float)
        object.__setattr__(self, "matrix", m)
        problems = correlation_problems(m, self.factors)
        if problems:
            raise InputError(problems)

    @property
    def cholesky(self) -> np.ndarray:
        """The lower Cholesky factor of the matrix (its eigenvalues raised to at least 1e-12
        first, and the diagonal set to 1 again, for a singular one)."""
        m = self.matrix
        try:
            return np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(m)
            r = (v * np.maximum(w, 1e-12)) @ v.T
            d = np.sqrt(np.diag(r))
            return np.linalg.cholesky(r / np.outer(d, d))

    def select(self, factors) -> Correlation | None:
        """The correlation of the factors of ``factors`` that are among its own (the marginal
        block; None for fewer than two)."""
        keep = [i for i, f in enumerate(self.factors) if f in set(factors)]
        if len(keep) < 2:
            return None
        return Correlation(tuple(self.factors[i] for i in keep),
                           self.matrix[np.ix_(keep, keep)])

    def manifest(self) -> dict:
        """The correlation as plain lists (an experiment's manifest)."""
        return {"factors": list(self.factors), "matrix": self.matrix.tolist()}

    @classmethod
    def from_manifest(cls, d: dict | None) -> Correlation | None:
        """The correlation of a manifest's entry (None for none)."""
        if not d:
            return None
        return cls(tuple(d["factors"]), np.asarray(d["matrix"], dtype=float))

    def apply(self, u: np.ndarray, factors) -> np.ndarray:
        """Design points ``u`` (columns: ``factors``) with this correlation's columns made
        dependent; other columns as they are.

        Raises
        ------
        InputError
            When ``factors`` lacks some of the correlated factors.
        """
        from scipy.special import ndtr, ndtri

        pos = {f: i for i, f in enumerate(factors)}
        cols = [pos[f] for f in self.factors if f in pos]
        if len(cols) != len(self.factors):
            raise InputError(f"the design lacks correlated factors "
                             f"{format_ids([f for f in self.factors if f not in pos])}.")
        out = np.array(u, dtype=float, copy=True)
        z = ndtri(np.clip(out[:, cols], 1e-15, 1.0 - 1e-15))
        out[:, cols] = ndtr(z @ self.cholesky.T)
        return out


def correlation_problems(m: np.ndarray, names) -> list[str]:
    """What keeps ``m`` from being the correlation matrix of ``names`` (empty when it is)."""
    names = list(names)
    m = np.asarray(m, dtype=float)
    if m.shape != (len(names), len(names)):
        return [f"a correlation of {len(names)} factors needs a {len(names)} x {len(names)} "
                f"matrix, got {m.shape}."]
    out = []
    if len(set(names)) != len(names):
        out.append(f"factors repeat in a correlation: {format_ids(names)}.")
    if not np.isfinite(m).all():
        out.append("a correlation matrix has entries that are not numbers.")
        return out
    if not np.allclose(m, m.T, rtol=0.0, atol=1e-12):
        out.append("a correlation matrix must be symmetric.")
    if not np.allclose(np.diag(m), 1.0, rtol=0.0, atol=1e-12):
        out.append("a correlation matrix must have 1 on its diagonal.")
    if (np.abs(m) > 1.0 + 1e-12).any():
        out.append("correlations lie in [-1, 1].")
    if not out:
        w = np.linalg.eigvalsh(m)
        if w.min() < -CORRELATION_EIG_TOL:
            out.append(f"the correlations of {format_ids(names)} are not those of any joint "
                       f"draw (the matrix's least eigenvalue is {w.min():.3g} < 0): take them "
                       "from one fit, not from several.")
    return out


@dataclass(frozen=True, slots=True, eq=False)
class InputSet:
    """The uncertain inputs of an experiment and the factors (design dimensions) they form;
    ``correlation``: factors that draw together (:class:`Correlation`), the others draw
    independently."""

    inputs: tuple[UncertainInput, ...]
    factors: tuple[str, ...]
    table_hash: str = ""
    correlation: Correlation | None = None
    _by_field: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        by: dict = {}
        for i, x in enumerate(self.inputs):
            for r in x.rows:
                by.setdefault((x.table, x.field), {})[r] = i
        object.__setattr__(self, "_by_field", by)

    @property
    def names(self) -> list[str]:
        """The inputs' names, in their order."""
        return [x.name for x in self.inputs]

    def __len__(self) -> int:
        return len(self.inputs)

    def factor_index(self) -> np.ndarray:
        """For each input, the position of its factor in :attr:`factors`."""
        pos = {f: i for i, f in enumerate(self.factors)}
        return np.array([pos[x.factor] for x in self.inputs], dtype=np.int64)

    def dependent_u(self, u: np.ndarray) -> np.ndarray:
        """Design points ``u`` (n, n_factors) with the correlated factors made dependent
        (:meth:`Correlation.apply`); ``u`` itself where no factors are correlated."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        if self.correlation is None:
            return u
        return self.correlation.apply(u, self.factors)

    def values(self, u: np.ndarray) -> np.ndarray:
        """Input values of design points ``u`` (n, n_factors) in the unit cube: (n, n_inputs);
        correlated factors draw together (:attr:`correlation`).

        Raises
        ------
        InputError
            When ``u`` has not one column per factor.
        """
        u = np.atleast_2d(np.asarray(u, dtype=float))
        if u.shape[1] != len(self.factors):
            raise InputError(f"design has {u.shape[1]} columns, the inputs {len(self.factors)} "
                             "factors.")
        u = self.dependent_u(u)
        fi = self.factor_index()
        out = np.empty((u.shape[0], len(self.inputs)))
        for i, x in enumerate(self.inputs):
            out[:, i] = x.distribution.ppf(u[:, fi[i]])
        return out

    def central_values(self) -> np.ndarray:
        """Values that reproduce the dataset: factor 1, and NaN for a range (a value that
        :meth:`Target.apply` reads as "keep each row's figure")."""
        return np.array([1.0 if not x.replace else math.nan for x in self.inputs])

    def target(self, table: str, field_: str, rows, central) -> Target:
        """The mapping of a model array (``central`` per row key ``rows``) to the inputs."""
        rows = list(rows)
        central = np.asarray(central, dtype=float)
        by = self._by_field.get((table, field_), {})
        idx = np.array([by.get(r, -1) for r in rows], dtype=np.int64)
        replace = np.array([self.inputs[i].replace if i >= 0 else False for i in idx], dtype=bool)
        ref = np.full(len(rows), np.nan)
        for j, (r, i) in enumerate(zip(rows, idx, strict=True)):
            if i >= 0 and self.inputs[i].replace:
                x = self.inputs[i]
                ref[j] = x.central[x.rows.index(r)] if x.central else central[j]
        return Target(idx, replace, central, ref)

    def table(self) -> pd.DataFrame:
        """One row per input: name, factor, table, field, rows, distribution, rule, source,
        and ``central_quantile``: the quantile of its distribution at the central case (the
        dataset's figure, the median of its rows' for a range; 1 for a factor), 0.5 where the
        central case is the draws' median. A dataset's figure at the end of its range makes
        the central case no middle of the draws (Samur's rail border at 11 Mt/yr, drawn from
        7-11: the quantile 1); ``drawn_jointly``: whether its factor draws together with others
        (:attr:`correlation`)."""
        joint = set(self.correlation.factors) if self.correlation is not None else set()
        return pd.DataFrame(
            [(x.name, x.factor, x.table, x.field, len(x.rows), x.distribution.describe(),
              "value" if x.replace else "factor", x.rule_id, x.confidence, x.source,
              central_quantile(x), x.factor in joint)
             for x in self.inputs],
            columns=["input", "factor", "table", "field", "rows", "distribution", "drawn",
                     "rule_id", "confidence", "source", "central_quantile", "drawn_jointly"])

    def select(self, patterns) -> InputSet:
        """The inputs of the factors that ``patterns`` name (factor or input names, exact or as
        shell patterns such as ``demand.*``, or :data:`JOINT_GROUP` for the factors that draw
        jointly, as a sensitivity table names them); the others stay at the dataset's figures.

        Raises
        ------
        InputError
            A name or pattern that matches no factor (with the closest names).
        """
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        keep: set[str] = set()
        bad = []
        for p in patterns:
            hit = [f for f in self.factors if fnmatch.fnmatchcase(f, p)]
            hit += [x.factor for x in self.inputs if fnmatch.fnmatchcase(x.name, p)]
            if p == JOINT_GROUP and self.correlation is not None:
                hit += list(self.correlation.factors)  # the sensitivity group's name
            if not hit:
                bad.append(p)
            keep.update(hit)
        if bad:
            import difflib

            known = list(self.factors) + self.names
            hints = sorted({h for b in bad for h in difflib.get_close_matches(b, known, 3, 0.5)})
            raise InputError(
                f"{len(bad)} unknown input names ({format_ids(bad)}); "
                + (f"did you mean {format_ids(hints)}? " if hints else "")
                + "`karvan explore --list-inputs` (corridor_inputs(data).table() in Python) "
                  "lists them.")
        ins = tuple(x for x in self.inputs if x.factor in keep)
        factors = tuple(f for f in self.factors if f in keep)
        corr = self.correlation.select(factors) if self.correlation is not None else None
        return InputSet(ins, factors, self.table_hash, corr)

    def __add__(self, other: InputSet) -> InputSet:
        clash = set(self.factors) & set(other.factors)
        if clash:
            raise InputError(f"factors defined twice: {format_ids(sorted(clash))}.")
        a, b = self.correlation, other.correlation
        if a is not None and b is not None:
            k, n = len(a.factors), len(b.factors)
            m = np.eye(k + n)
            m[:k, :k], m[k:, k:] = a.matrix, b.matrix
            corr = Correlation(a.factors + b.factors, m)
        else:
            corr = a if a is not None else b
        return InputSet(self.inputs + other.inputs, self.factors + other.factors,
                        hashlib.sha256((self.table_hash + other.table_hash).encode()
                                       ).hexdigest()[:16], corr)


def builtin_uncertainty_path() -> Path:
    """``uncertainty.csv`` of the built-in dataset."""
    from karvan.freight.corridor import builtin_corridor_folder

    return builtin_corridor_folder() / "uncertainty.csv"


#: the widest spread of a confidence class's factor (sigma of its logarithm): 2 puts one
#: draw in 40 beyond x55 or /55; the built-in classes go from 0.05 to 0.5
MAX_CLASS_SIGMA = 2.0


def read_uncertainty(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check an uncertainty table; every problem is reported at once.

    Raises
    ------
    InputError
        Missing columns, unknown kinds, tables, fields or distributions, invalid parameters,
        rows without source, confidence or (for assumptions) method, repeated rule ids.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no uncertainty table there; the built-in one is "
                         f"{builtin_uncertainty_path()}.")
    from karvan.schema.text import read_frame

    df = read_frame(path, blank_as_nan=True)
    problems: list[str] = []
    missing = [c for c in COLUMNS if c not in df]
    if missing:
        raise InputError(f"{path.name}: missing columns {', '.join(missing)}.", str(path))
    for c in ("sigma", "low", "high"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    dup = df["rule_id"][df["rule_id"].duplicated()]
    if len(dup):
        problems.append(f"rule_id repeats: {format_ids(dup.unique())}.")
    for i, r in df.iterrows():
        where = f"line {i + 2} ({r['rule_id']})"
        kind = r["kind"]
        for c in ("rule_id", "kind", "distribution", "source", "confidence"):
            if c == "distribution" and kind == "together":
                continue
            if pd.isna(r[c]) or not str(r[c]).strip():
                problems.append(f"{where}: no {c}.")
        if r["confidence"] == "assumption" and pd.isna(r["method"]):
            problems.append(f"{where}: an assumption needs a method saying how it was set.")
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}.")
            continue
        table, fld = r["table"], r["field"]
        if kind == "together":
            problems += [f"{where}: {p}." for p in _together_problems(r)]
            continue
        if kind == "class":
            if r["confidence_class"] not in CLASSES:
                problems.append(f"{where}: confidence_class must be one of {', '.join(CLASSES)}, "
                                f"got {r['confidence_class']!r}.")
            if r["distribution"] != "lognormal":
                problems.append(f"{where}: a class rule draws a lognormal factor, got "
                                f"{r['distribution']!r}.")
            elif math.isfinite(r["sigma"]) and r["sigma"] > MAX_CLASS_SIGMA:
                problems.append(f"{where}: sigma {r['sigma']:g} draws factors beyond "
                                f"x{math.exp(2 * r['sigma']):.3g} one time in 40; sigma is the "
                                "standard deviation of the factor's logarithm (0.2: about "
                                f"+-20 %), at most {MAX_CLASS_SIGMA:g}; a percent?")
        else:
            if pd.isna(r["row_id"]):
                problems.append(f"{where}: a range names its rows in row_id (ids separated by "
                                "';', or * for every row).")
            if r["distribution"] in ("lognormal", "normal") and table != "choice":
                problems.append(f"{where}: a range replaces the figure by a value drawn in the "
                                f"figure's units, and a {r['distribution']} is a factor around "
                                "1 here; use uniform, loguniform or triangular between the "
                                "lowest and highest figures, or a class rule for a factor.")
            fkey = _field_of(str(table), str(fld)) if table in FIELDS else None
            low = r["low"]
            if fkey is not None and fkey != "growth" and math.isfinite(low) and (
                    low < 0 or (low == 0 and fkey in POSITIVE_FIELDS)):
                problems.append(f"{where}: low {low:g} would draw a {fkey} "
                                f"{'<= 0' if fkey in POSITIVE_FIELDS else 'below 0'}; give a "
                                f"low {'> 0' if fkey in POSITIVE_FIELDS else '>= 0'}.")
        if kind == "class" and table == "*" and fld != "*" and not pd.isna(fld):
            problems.append(f"{where}: a class rule on every table (table *) takes field *; "
                            f"name the table for a rule on {fld!r} alone.")
        if not (table == "*" and kind == "class"):
            if table not in FIELDS:
                problems.append(f"{where}: unknown table {table!r}; uncertain tables are "
                                f"{', '.join(FIELDS)}.")
            elif not (fld == "*" and kind == "class") and _field_of(table, fld) is None:
                problems.append(f"{where}: unknown field {fld!r} of {table}; use one of "
                                f"{', '.join(FIELDS[table])}.")
        mode = math.nan
        dist = _distribution(r, mode)
        for p in dist.problems() if dist.kind != "triangular" else Distribution(
                dist.kind, low=dist.low, high=dist.high, mode=dist.low).problems():
            problems.append(f"{where}: {p}.")
    cls = df[df["kind"] == "class"]
    key = cls[["confidence_class", "table", "field"]].astype(str).agg("/".join, axis=1)
    for k, g in cls.groupby(key, sort=False):
        if len(g) > 1:
            problems.append(f"lines {format_ids(np.asarray(g.index) + 2)} "
                            f"({format_ids(g['rule_id'])}): class rules for the same "
                            f"confidence class, table and field ({k}); only one can apply, "
                            "keep one.")
    if problems:
        raise InputError(problems, str(path))
    return df


def _together_problems(r) -> list[str]:
    """What is wrong with a rule of kind ``together`` (rows that draw one class factor)."""
    out = []
    table, fld = r["table"], r["field"]
    rows = [] if pd.isna(r["row_id"]) else [s.strip() for s in str(r["row_id"]).split(";")
                                             if s.strip()]
    if table == "choice" or table not in FIELDS:
        out.append(f"a together rule names rows of one of the tables "
                   f"{', '.join(t for t in FIELDS if t != 'choice')}, got {table!r}")
    elif _field_of(str(table), str(fld)) is None:
        out.append(f"unknown field {fld!r} of {table}; use one of {', '.join(FIELDS[table])}")
    if len(set(rows)) < 2 or "*" in rows:
        out.append("a together rule names the rows that draw one factor in row_id, two ids or "
                   "more separated by ';' (not *)")
    given = [c for c in ("distribution", "sigma", "low", "high")
             if not pd.isna(r[c]) and str(r[c]).strip()]
    if given:
        out.append(f"a together rule draws its rows' class factor (the class rule sets the "
                   f"distribution); leave {', '.join(given)} blank")
    return out


def source_key(source: object) -> str:
    """The sources a row cites, as one key: its ids sorted, each once, joined by ``;``
    (``B;A;B`` -> ``A;B``), so that rows citing the same sources in another order share a
    factor and its name does not depend on the order in which any row lists them."""
    from karvan.schema.text import id_list

    return ";".join(sorted(set(id_list(source))))


#: the units of the columns that ranges are most often written in (for the message of a range
#: far from the dataset's figure)
_UNITS = {"capacity_tpy": "tonnes per year", "growth_per_year": "a fraction per year, 0.05 for "
          "5 %", "tonnes_per_year": "tonnes per year", "length_km": "km", "speed_kph": "km/h",
          "vot_pct_value_per_day": "percent of the value per day"}


def _far_outside(mode: float, low: float, high: float) -> str | None:
    """"far above" or "far below" where the dataset's figure ``mode`` lies more than a factor 3
    outside a positive range (more than twice the range's size outside one that reaches 0):
    a range written in another unit than its column (Mt for t, % for a fraction), not an
    uncertainty about the figure."""
    if not (math.isfinite(mode) and math.isfinite(low) and math.isfinite(high)):
        return None
    if low > 0:
        return ("far above" if mode > 3 * high else "far below" if mode < low / 3 else None)
    span = max(high - low, abs(low), abs(high))
    return ("far above" if mode > high + 2 * span else
            "far below" if mode < low - 2 * span else None)


def _distribution(r, mode: float) -> Distribution:
    return Distribution(str(r["distribution"]), sigma=float(r["sigma"]), low=float(r["low"]),
                        high=float(r["high"]), mode=mode)


def _row_keys(table: str, df: pd.DataFrame) -> list[str]:
    if table == "link":
        return [str(i) for i in df.index]
    if table in ("demand", "growth"):
        o = "origin_zone_id" if table == "demand" else "origin_country"
        d = "destination_zone_id" if table == "demand" else "destination_country"
        return [f"{a}>{b}>{c}" for a, b, c in zip(df[o], df[d], df["commodity_id"], strict=True)]
    if table == "tariff":
        return [f"{a}>{b}" for a, b in zip(df["mode"], df["country"], strict=True)]
    if table in ("tariff_commodity", "speed_commodity"):
        return [f"{a}>{b}>{c}"
                for a, b, c in zip(df["mode"], df["country"], df["commodity_id"], strict=True)]
    if table == "commodity":
        return [str(c) for c in df["commodity_id"]]
    raise KeyError(table)


def _tables(data) -> dict[str, pd.DataFrame]:
    out = {"link": data.links, "demand": data.demand, "tariff": data.tariffs,
           "commodity": data.commodities, "growth": data.growth}
    if data.tariffs_by_commodity is not None:
        out["tariff_commodity"] = data.tariffs_by_commodity
    if getattr(data, "speeds_by_commodity", None) is not None:
        out["speed_commodity"] = data.speeds_by_commodity
    return out


def _detail(s) -> dict[str, str]:
    if not isinstance(s, str):
        return {}
    out = {}
    for part in s.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _present(df: pd.DataFrame, cols: tuple[str, ...]) -> np.ndarray:
    m = np.zeros(len(df), dtype=bool)
    for c in cols:
        if c in df:
            m |= pd.to_numeric(df[c], errors="coerce").notna().to_numpy()
    return m


def corridor_inputs(data, path: str | os.PathLike | None = None) -> InputSet:
    """The uncertain inputs of a corridor dataset under an uncertainty table (default: the
    dataset's own ``uncertainty.csv``, else the built-in one).

    Raises
    ------
    InputError
        A bad table (see :func:`read_uncertainty`), a range naming rows the dataset does not
        have or whose figure is blank, a together rule naming such rows, rows of another
        together rule or of a range, or rows of two confidence classes, a confidence class
        without a rule.
    """
    if path is None:
        own = data.folder / "uncertainty.csv" if data.folder is not None else None
        path = own if own is not None and own.is_file() else builtin_uncertainty_path()
    path = Path(path)
    from karvan.schema.text import id_list

    rules = read_uncertainty(path)
    digest = file_sha256(path)
    problems: list[str] = []
    tables = _tables(data)
    known = (set(data.sources["source_id"].astype(str)) if getattr(data, "sources", None)
             is not None and "source_id" in data.sources else None)
    for i, r in rules.iterrows():
        unknown = [s for s in id_list(r["source"]) if known is not None and s not in known]
        if unknown:
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): source "
                            f"{format_ids(unknown)} is not a source_id of sources.csv; add it "
                            "there (title, publisher, date, url) or correct the id.")
    inputs: list[UncertainInput] = []
    taken: dict[tuple[str, str], set[str]] = {}
    taken_by: dict[tuple[str, str, str], str] = {}
    # ranges first: their rows leave the class groups
    for i, r in rules[(rules["kind"] == "range") & (rules["table"] != "choice")].iterrows():
        table = r["table"]
        fld = _field_of(table, r["field"])
        df = tables.get(table)
        if df is None:
            problems.append(f"{path.name} line {i + 2}: the dataset has no {table} table.")
            continue
        keys = _row_keys(table, df)
        col = r["field"] if r["field"] in df else next(
            (c for c in FIELDS[table][fld] if c in df), FIELDS[table][fld][0])
        vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float) if col in df \
            else np.full(len(df), np.nan)
        want = keys if r["row_id"].strip() == "*" else [s.strip() for s in
                                                         r["row_id"].split(";") if s.strip()]
        pos = {k: j for j, k in enumerate(keys)}
        unknown = [w for w in want if w not in pos]
        if unknown:
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): {table} has no rows "
                            f"{format_ids(unknown)}.")
            continue
        blank = [w for w in want if not np.isfinite(vals[pos[w]])]
        if blank and r["row_id"].strip() != "*":
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): {col} is blank on "
                            f"{table} rows {format_ids(blank)}.")
            continue
        want = [w for w in want if w not in blank]
        central = vals[[pos[w] for w in want]]
        mode = float(np.median(central)) if len(central) else math.nan
        far = _far_outside(mode, float(r["low"]), float(r["high"]))
        if far:
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): the dataset's figure "
                            f"of {col} ({mode:.4g}, the median of its rows) lies {far} the "
                            f"range {float(r['low']):g}–{float(r['high']):g}: a range is in the "
                            f"column's own unit ({_UNITS.get(col, 'as in ' + table + '.csv')}); "
                            "check the unit of low and high.")
            continue
        dist = _distribution(r, mode)
        if dist.kind == "triangular" and dist.problems():
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): the dataset's figure "
                            f"{mode:g} lies outside the range; " + "; ".join(dist.problems()))
            continue
        if fld != "growth" and col != "vot_pct_value_per_day" and (central <= 0).any():
            low = [w for w, c in zip(want, central, strict=True) if c <= 0]
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): a range replaces a "
                            f"figure by a value, which needs figures > 0 (rows "
                            f"{format_ids(low)}).")
            continue
        twice = {w: taken_by[(table, fld, w)] for w in want if (table, fld, w) in taken_by}
        if twice:
            problems.append(f"{path.name} line {i + 2} ({r['rule_id']}): {table} rows "
                            f"{format_ids(twice)} already have a range for {fld} (rule "
                            f"{format_ids(sorted(set(twice.values())))}); one rule per row "
                            "and field.")
            continue
        taken_by.update({(table, fld, w): r["rule_id"] for w in want})
        name = f"{table}.{fld}:{r['rule_id']}"
        group = r["group"] if isinstance(r["group"], str) and r["group"].strip() else name
        inputs.append(UncertainInput(name, table, fld, dist, tuple(want), group, True,
                                     r["rule_id"], str(r["source"]), str(r["confidence"]), col,
                                     tuple(float(c) for c in central)))
        taken.setdefault((table, fld), set()).update(want)
    class_rules = {(r["confidence_class"], r["table"], r["field"]): r
                   for _, r in rules[rules["kind"] == "class"].iterrows()}

    def class_rule(cls: str, table: str, fld: str):
        for t, f in ((table, fld), (table, "*"), ("*", "*")):
            if (cls, t, f) in class_rules:
                return class_rules[(cls, t, f)]
        return None

    together, where = _together_rows(rules, tables, taken_by, path.name, problems)
    unruled: set[str] = set()
    for table, df in tables.items():
        keys = np.array(_row_keys(table, df), dtype=object)
        detail = [_detail(s) for s in df["confidence_detail"]] if "confidence_detail" in df \
            else [{}] * len(df)
        conf = df["confidence"].astype(str).to_numpy()
        src = np.array([source_key(x) for x in df["source"]], dtype=object)
        for fld, cols in FIELDS[table].items():
            if table == "commodity":
                cols = cols[:1]
            present = _present(df, cols)
            if table == "link" and fld == "speed":
                present &= pd.to_numeric(df["speed_kph"], errors="coerce").fillna(0).to_numpy() > 0
            # rows of a together rule form one group whatever sources each cites
            tog = together.get((table, fld), {})
            groups: dict[tuple[str, str, str], list[str]] = {}
            done = taken.get((table, fld), set())
            for j in np.flatnonzero(present):
                if keys[j] in done:
                    continue
                cls = detail[j].get(fld, conf[j])
                t = tog.get(keys[j], "")
                groups.setdefault((t, cls, "" if t else src[j]), []).append(keys[j])
            if tog:
                problems += _together_group_problems(tog, groups, keys[present], table,
                                                     cols[0], where)
            srcs = dict(zip(keys, src, strict=True))
            for (t, cls, s), rows in sorted(groups.items()):
                rule = class_rule(cls, table, fld)
                if rule is None:
                    unruled.add(cls)
                    continue
                rule_id = str(rule["rule_id"])
                if t:
                    s = source_key(";".join(srcs[w] for w in rows))
                    name, rule_id = f"{table}.{fld}:{t}", f"{rule_id};{t}"
                else:
                    name = f"{table}.{fld}:{cls}[{s}]"
                inputs.append(UncertainInput(name, table, fld, _distribution(rule, math.nan),
                                             tuple(rows), name, False, rule_id, s, cls, cols[0]))
    if unruled:
        problems.append(f"{path.name}: no class rule for confidence {format_ids(sorted(unruled))}"
                        "; add a row of kind class for each.")
    if problems:
        raise InputError(problems, str(path))
    factors = tuple(dict.fromkeys(x.factor for x in inputs))
    return InputSet(tuple(inputs), factors, digest)


def _together_rows(rules: pd.DataFrame, tables: dict, taken_by: dict, file: str,
                   problems: list[str]) -> tuple[dict, dict]:
    """The rows of each ``together`` rule: {(table, field): {row: rule_id}}, and where each rule
    is written ({rule_id: "file line n (rule_id)"}); problems (unknown rows, rows of two
    together rules or of a range) are appended to ``problems``."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    where: dict[str, str] = {}
    for i, r in rules[rules["kind"] == "together"].iterrows():
        rid, table = str(r["rule_id"]), r["table"]
        fld = _field_of(table, r["field"])
        at = where[rid] = f"{file} line {i + 2} ({rid})"
        df = tables.get(table)
        if df is None:
            problems.append(f"{at}: the dataset has no {table} table.")
            continue
        want = list(dict.fromkeys(s.strip() for s in str(r["row_id"]).split(";") if s.strip()))
        keys = set(_row_keys(table, df))
        unknown = [w for w in want if w not in keys]
        mine = out.setdefault((table, fld), {})
        twice = {w: mine[w] for w in want if w in mine}
        ranged = {w: taken_by[(table, fld, w)] for w in want if (table, fld, w) in taken_by}
        if unknown:
            problems.append(f"{at}: {table} has no rows {format_ids(unknown)}.")
        if twice:
            problems.append(f"{at}: {table} rows {format_ids(twice)} already draw together "
                            f"for {fld} (rule {format_ids(sorted(set(twice.values())))}); one "
                            "together rule per row and field.")
        if ranged:
            problems.append(f"{at}: {table} rows {format_ids(ranged)} have a range for {fld} "
                            f"(rule {format_ids(sorted(set(ranged.values())))}), which draws "
                            "them; name every row that draws together in the range's row_id "
                            "instead.")
        if not (unknown or twice or ranged):
            mine.update({w: rid for w in want})
    return out, where


def _together_group_problems(tog: dict[str, str], groups: dict, present, table: str,
                             col: str, where: dict[str, str]) -> list[str]:
    """Rows of a together rule whose figure is blank, or whose confidence classes differ (their
    class rules would draw different factors)."""
    out = []
    have = set(present)
    for rid in dict.fromkeys(tog.values()):
        blank = [w for w, t in tog.items() if t == rid and w not in have]
        if blank:
            out.append(f"{where[rid]}: {col} is blank on {table} rows {format_ids(blank)}; "
                       "name rows that have the figure.")
        classes = {cls: rows for (t, cls, _s), rows in groups.items() if t == rid}
        if len(classes) > 1:
            out.append(f"{where[rid]}: the rows have confidence classes "
                       + ", ".join(f"{c} ({format_ids(r)})" for c, r in sorted(classes.items()))
                       + f" for {col}; rows that draw one factor need one class: correct "
                         "the class of the rows (confidence_detail) or leave them apart.")
    return out


def parameter_inputs(params: pd.DataFrame, *, table: str = "parameter") -> InputSet:
    """Inputs from a table of estimated parameters with standard errors: columns
    ``parameter_id``, ``value``, ``std_error``, ``source`` (e.g. the choice model's calibrated
    constants and dispersion). Each parameter is a normal input named
    ``<table>.<parameter_id>``; a model reads its array with ``target(table, "value", ids, ...)``.

    Raises
    ------
    InputError
        Missing columns, non-finite values or standard errors <= 0.
    """
    need = ("parameter_id", "value", "std_error")
    miss = [c for c in need if c not in params]
    if miss:
        raise InputError(f"parameter table: missing columns {', '.join(miss)}.")
    problems, out = [], []
    for r in params.itertuples(index=False):
        d = Distribution("normal", sigma=float(r.std_error), mean=float(r.value))
        bad = d.problems()
        if bad:
            problems.append(f"parameter {r.parameter_id}: " + "; ".join(bad) + ".")
            continue
        name = f"{table}.{r.parameter_id}"
        out.append(UncertainInput(name, table, "value", d, (str(r.parameter_id),), name, True,
                                  "", str(getattr(r, "source", "")), "calibrated", "value",
                                  (float(r.value),)))
    if problems:
        raise InputError(problems)
    digest = hashlib.sha256(pd.util.hash_pandas_object(params, index=False).values.tobytes()
                            ).hexdigest()[:16]
    return InputSet(tuple(out), tuple(x.factor for x in out), digest)


def ranges_inputs(ranges: dict[str, tuple[float, float]], *, table: str = "x") -> InputSet:
    """Independent uniform inputs ``<table>.<name>`` on the given ranges (test functions,
    scripted studies); a model reads them with ``target(table, "value", names, ...)``.

    Raises
    ------
    InputError
        A range with low >= high.
    """
    out, problems = [], []
    for k, (lo, hi) in ranges.items():
        d = Distribution("uniform", low=float(lo), high=float(hi))
        if d.problems():
            problems.append(f"{k}: " + "; ".join(d.problems()) + ".")
        name = f"{table}.{k}"
        out.append(UncertainInput(name, table, "value", d, (k,), name, True))
    if problems:
        raise InputError(problems)
    return InputSet(tuple(out), tuple(x.factor for x in out), "ranges")
