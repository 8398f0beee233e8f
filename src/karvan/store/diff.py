"""The one diff of two runs' tables: ``B - A`` of the same columns, rows matched on keys.

Used by ``karvan compare`` (:func:`karvan.scenario.run.compare_runs`), the report's difference
sections and the dashboard's comparisons, which show the rows among the largest changes of each
column (:func:`largest_changes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from karvan.errors import InputError, format_ids

if TYPE_CHECKING:
    from karvan.io.run_folder import RunRecord

#: columns where a row missing from one run stays missing: a ratio or a price has no zero, and
#: an OD pair without a path (or without demand) has no time, distance or cost, not one of 0
#: (filled with 0, cutting a pair off read as a fall in its cost)
NO_ZERO_FILL = frozenset({"utilization", "lp_utilization", "shadow_price_usd_per_t",
                          "shadow_price_h",
                          "capacity_utilization", "choice_shadow_price_usd_per_t",
                          "time_h", "time_days", "distance_km", "charge_usd_per_t",
                          "cost_usd_per_t", "expected_cost_usd_per_t"})


def diff_table(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], values: list[str], *,
               keep: tuple[str, ...] = (), strict: bool = True) -> pd.DataFrame:
    """``B - A`` of ``values`` for rows matched on ``keys``.

    Parameters
    ----------
    a, b
        The same table of two runs.
    keys
        Columns that identify a row (``link_id``; ``commodity, origin, destination``).
    values
        Columns to subtract; those missing from one table (a run of an older karvan) are left
        out, and with ``strict=False`` (karvan's own comparisons, over the columns a run may
        have) those missing from both.
    keep
        Descriptive columns (a name, a mode) taken from B, else from A.

    Returns
    -------
    pandas.DataFrame
        ``keys``, ``keep``, then ``<v>_a``, ``<v>_b`` and ``<v>_diff`` per value, sorted by the
        absolute change of the first value (largest first), and ``in_a``, ``in_b``: whether
        the row is in each run. A row present in one run only counts as 0 in the other for
        flows (tonnes, revenue); ratios, prices and an OD pair's time, distance and cost
        (:data:`NO_ZERO_FILL`) stay missing, and so does their difference.

    Examples
    --------
    >>> a = pd.DataFrame({"k": ["x", "y"], "t": [1.0, 5.0]})
    >>> b = pd.DataFrame({"k": ["y", "z"], "t": [2.0, 4.0]})
    >>> diff_table(a, b, ["k"], ["t"])[["k", "t_a", "t_b", "t_diff"]].values.tolist()
    [['z', 0.0, 4.0, 4.0], ['y', 5.0, 2.0, -3.0], ['x', 1.0, 0.0, -1.0]]

    Raises
    ------
    InputError
        A key not in both tables, or, unless ``strict=False``, a value in neither (a misspelt
        column); a key repeated or missing in either table.
    """
    unknown = [k for k in keys if k not in a.columns or k not in b.columns]
    if strict:
        unknown += [v for v in values if v not in a.columns and v not in b.columns]
    if unknown:  # a misspelt column gave a table of keys alone
        raise InputError(f"diff_table: {format_ids(unknown)} is not a column of both tables "
                         f"(keys must be in both, values in at least one); their columns: "
                         f"{format_ids(sorted(set(a.columns) | set(b.columns)), limit=30)}.")
    problems = []
    for side, t in (("A", a), ("B", b)):
        # a key given twice paired each of its rows with each of the other table's: every
        # difference of that key counted the other run's row twice
        blank = t[keys].isna().any(axis=1)
        if blank.any():
            problems.append(f"diff_table: {int(blank.sum())} rows of table {side} have no "
                            f"{format_ids(keys)} (rows {format_ids(t.index[blank].tolist())}); "
                            "every row needs its key.")
        dup = t[keys][~blank].duplicated(keep=False)
        if dup.any():
            ids = t.loc[dup[dup].index, keys].astype(str).agg(" | ".join, axis=1).unique()
            problems.append(f"diff_table: table {side} has more than one row for "
                            f"{format_ids(list(ids))} of {format_ids(keys)}; a row's key must "
                            "be unique (sum or drop the repeated rows first).")
    if problems:
        raise InputError(problems)
    values = [v for v in values if v in a.columns and v in b.columns]
    keep = tuple(k for k in keep if k in a.columns or k in b.columns)
    ca = a[keys + values + [k for k in keep if k in a.columns]]
    cb = b[keys + values + [k for k in keep if k in b.columns]]
    m = ca.assign(_in=True).merge(cb.assign(_in=True), on=keys, how="outer",
                                  suffixes=("_a", "_b"))
    m = m.rename(columns={"_in_a": "in_a", "_in_b": "in_b"})
    m["in_a"] = m["in_a"].fillna(False).astype(bool)
    m["in_b"] = m["in_b"].fillna(False).astype(bool)
    for k in keep:
        ka, kb = f"{k}_a", f"{k}_b"
        if ka in m and kb in m:
            m[k] = m[kb].where(m[kb].notna(), m[ka])
            m = m.drop(columns=[ka, kb])
    for v in values:
        if v not in NO_ZERO_FILL:
            m[f"{v}_a"] = m[f"{v}_a"].fillna(0.0)
            m[f"{v}_b"] = m[f"{v}_b"].fillna(0.0)
        m[f"{v}_diff"] = m[f"{v}_b"] - m[f"{v}_a"]
    if values:
        order = m[f"{values[0]}_diff"].abs().sort_values(ascending=False, kind="stable").index
        m = m.reindex(order)
    m = m[[c for c in m.columns if c not in ("in_a", "in_b")] + ["in_a", "in_b"]]
    return m.reset_index(drop=True)


def largest_changes(diff: pd.DataFrame, values: list[str], *, top: int = 10) -> pd.DataFrame:
    """The rows of a :func:`diff_table` among the ``top`` largest absolute changes of some
    column of ``values``, of the columns that change at all.

    Ranked by the first column alone, a capacity raised on a line its freight does not fill
    moved no tonnes, and its utilization (18.3 % -> 8.6 %) was not shown, nor Russia's revenue
    (+7.4 M USD/yr) among countries ranked by tonnes. ``karvan compare``, the report's links
    and the dashboard's ``/api/compare`` show these rows.

    Parameters
    ----------
    diff
        A table of :func:`diff_table` (a ``<v>_diff`` column per value).
    values
        The columns to rank by, without ``_diff``; the first orders the rows.
    top
        Rows per column.

    Returns
    -------
    pandas.DataFrame
        The rows of ``diff``, largest change of the first column first, then of the next
        (ties in the order of ``diff``); at most ``top`` per column, so up to ``top`` times
        ``len(values)``. Where no column changes in any row (or ``values`` is empty), the first
        ``top`` rows.

    Examples
    --------
    >>> a = pd.DataFrame({"k": ["x", "y", "z"], "t": [5.0, 1.0, 2.0], "u": [0.5, 0.1, 0.2]})
    >>> b = a.assign(t=[5.0, 4.0, 2.0], u=[0.1, 0.4, 0.2])
    >>> d = diff_table(a, b, ["k"], ["t", "u"])
    >>> d.head(1)["k"].tolist(), largest_changes(d, ["t", "u"], top=1)["k"].tolist()
    (['y'], ['y', 'x'])
    """
    if not values:
        return diff.head(top)
    size = pd.DataFrame({v: pd.to_numeric(diff[f"{v}_diff"], errors="coerce").abs()
                         .fillna(0.0) for v in values}, index=diff.index)
    keep = pd.Index([])
    for v in values:
        keep = keep.union(size.index[size[v] > 0].intersection(
            size[v].nlargest(top).index), sort=False)
    if not len(keep):
        return diff.head(top)
    order = size.loc[keep].sort_values(values, ascending=False, kind="stable").index
    return diff.loc[order]


def inputs_of(run: RunRecord) -> dict | None:
    """The file hashes of the dataset a run was made of (None where the manifest has none)."""
    return (run.manifest.get("inputs") or {}).get("sha256_16") or None


def unlike_runs(ra: RunRecord, rb: RunRecord) -> list[str]:
    """What makes a difference B - A hold more than B's own changes: another choice model,
    another dataset, or (under the choice model) skims of which one holds the queues at hard
    capacities and the other not (a run of a karvan before ``queue_h``)."""
    said = []
    ma, mb = ((r.summary or {}).get("choice", "deterministic") for r in (ra, rb))
    if ma != mb:
        said.append(f"{ra.label} is of the {ma} choice model and {rb.label} of the {mb} one: "
                    "the difference holds the change of model as well.")
    ia, ib = inputs_of(ra), inputs_of(rb)
    if ia and ib and ia != ib:
        files = sorted(k for k in set(ia) | set(ib) if ia.get(k) != ib.get(k))
        said.append(f"{ra.label} and {rb.label} were made of different datasets ("
                    f"{format_ids(files)} differ): the difference holds the change of data "
                    "as well.")
    if ma == mb == "logit" and all(r.has_table("skims") for r in (ra, rb)):
        queued = ["queue_h" in r.table("skims").columns for r in (ra, rb)]
        if queued[0] != queued[1]:
            old = ra if not queued[0] else rb
            said.append(f"{old.label} was made by a karvan whose skims and shipper comparison "
                        "time the best routes without the queues at hard capacities (no "
                        "queue_h); the other's hold them, so their differences of time and "
                        "cost mix the two (the users' benefit, on expected costs, does not): "
                        f"run {old.label}'s scenario again to compare them.")
    return said
