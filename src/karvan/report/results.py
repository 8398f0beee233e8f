"""Read a run folder and shape its tables for the report; never recompute the model.

Everything here selects, sorts, joins and subtracts columns that ``karvan run`` wrote. The
differences of two runs are plain ``B - A`` of the same columns, with a row missing from one run
counted as zero tonnes (utilization stays missing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.store import RunRecord, RunStore, diff_table, resolve_run

#: tables the report reads; a run missing one of them is rejected up front
TABLES = ("links", "countries", "borders", "bottlenecks", "shipper")
#: tables the report shows when the run has them (runs made before they existed do not)
OPTIONAL = ("calibration", "calibration_summary", "calibration_cells", "family_shares",
            "capacities", "skims", "demand", "choice_unserved")


@dataclass(frozen=True, slots=True, eq=False)
class RunResults:
    """The report's view of one run: its :class:`~karvan.store.RunRecord` and the report's
    tables, with the LP columns of a run made without the LP present as missing values."""

    record: RunRecord
    tables: dict[str, pd.DataFrame]

    @property
    def folder(self) -> Path:
        """The run folder."""
        return self.record.path

    @property
    def manifest(self) -> dict:
        """The run's manifest."""
        return self.record.manifest

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.record.name

    @property
    def title(self) -> str:
        """The scenario's title."""
        return self.record.title

    @property
    def summary(self) -> dict:
        """The run's headline figures."""
        return self.record.summary

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]


def read_run(run: str | os.PathLike | RunRecord, *, store: RunStore | str | os.PathLike | None
             = None) -> RunResults:
    """The report's tables of a run made by ``karvan run``.

    Parameters
    ----------
    run
        A run folder, a :class:`~karvan.store.RunRecord`, or with ``store`` a run id, its unique
        start or a scenario name (its latest run).
    store
        The run store to look ``run`` up in.

    Raises
    ------
    InputError
        If the run cannot be found, has no ``manifest.json`` or lacks one of the tables, naming
        them all.
    """
    rec = resolve_run(run, store)
    rec.require(TABLES)
    tables = {t: rec.table(t).copy() for t in TABLES}
    tables.update({t: rec.table(t).copy() for t in OPTIONAL if t in rec.table_names})
    # a run made without the capacity LP has no LP columns: show them as unknown
    for t in ("links", "bottlenecks", "borders"):
        for col in ("lp_tonnes_tot", "lp_utilization", "shadow_price_usd_per_t"):
            if col not in tables[t] and (t != "borders" or col == "shadow_price_usd_per_t"):
                tables[t][col] = np.nan
    return RunResults(record=rec, tables=tables)


def dataset_folder(run: RunResults) -> Path | None:
    """The corridor dataset folder the run was made from, if it still exists here."""
    p = run.record.dataset
    return p if p is not None and p.is_dir() else None


def sea_only(*countries: pd.DataFrame) -> set[str]:
    """The countries crossed on sea legs only in any of ``countries`` (per-country tables): the
    open sea and the Caspian (:data:`~karvan.freight.accounting.SEA_COUNTRIES`) and those marked
    ``sea_legs_only`` (Egypt's Suez Canal), left out of transit as the summary leaves them."""
    from karvan.freight.accounting import SEA_COUNTRIES

    out = set(SEA_COUNTRIES)
    for c in countries:
        if "sea_legs_only" in c:
            out |= set(c.loc[c["sea_legs_only"].astype("boolean").fillna(False).astype(bool),
                             "country"].astype(str))
    return out


def transit_table(run: RunResults) -> pd.DataFrame:
    """Countries by transit tonnes (descending), with the transit share of their tonnes; those
    crossed on sea legs only (:func:`sea_only`) left out."""
    c = run["countries"].copy()
    c = c[~c["country"].astype(str).isin(sea_only(c))]
    c["transit_share"] = np.where(c["tonnes"] > 0, c["transit_tonnes"] / c["tonnes"].where(
        c["tonnes"] > 0, 1.0), np.nan)
    return c.sort_values(["transit_tonnes", "tonnes"], ascending=False, kind="stable") \
        .reset_index(drop=True)


def shipper_table(run: RunResults, *, reference_option: str = "suez") -> pd.DataFrame:
    """The shipper comparison with each option's time and cost minus those of Suez.

    Columns ``vs_ref_days`` and ``vs_ref_cost_usd_per_t`` are missing where the OD pair has no
    available ``reference_option`` row.
    """
    s = run["shipper"].copy()
    keys = ["origin", "destination", "commodity"]
    ref = s[(s["option_id"] == reference_option) & s["available"].astype(bool)]
    ref = ref[keys + ["time_days", "cost_usd_per_t"]].rename(
        columns={"time_days": "_ref_days", "cost_usd_per_t": "_ref_cost"})
    s = s.merge(ref, on=keys, how="left")
    s["vs_ref_days"] = s["time_days"] - s["_ref_days"]
    s["vs_ref_cost_usd_per_t"] = s["cost_usd_per_t"] - s["_ref_cost"]
    return s.drop(columns=["_ref_days", "_ref_cost"])


def run_differences(a: RunResults, b: RunResults) -> dict[str, pd.DataFrame]:
    """The difference tables the report shows for run B against run A (countries crossed on
    sea legs only left out, :func:`sea_only`)."""
    sea = sea_only(a["countries"], b["countries"])
    countries = diff_table(a["countries"], b["countries"], ["country"],
                           ["transit_tonnes", "tonnes", "transit_revenue_usd"], strict=False)
    return {
        "links": diff_table(a["links"], b["links"], ["link_id"],
                            ["tonnes_tot", "utilization"], keep=("name", "mode", "country"),
                            strict=False),
        "countries": countries[~countries["country"].astype(str).isin(sea)]
        .reset_index(drop=True),
        "borders": diff_table(a["borders"], b["borders"], ["border_id"],
                              ["tonnes_tot", "utilization"], strict=False),
        "shipper": diff_table(a["shipper"], b["shipper"],
                              ["origin", "destination", "commodity", "option_id"],
                              ["cost_usd_per_t", "time_days"], keep=("option",), strict=False),
    }


@dataclass(frozen=True, slots=True)
class StoredRuns:
    """The runs a report of a whole store shows, and the scenarios it leaves out with why."""

    runs: list[RunRecord]
    left_out: dict[str, str]


def latest_runs(store: RunStore | str | os.PathLike, *, first: Sequence[str] = (),
                choice: str | None = None, dataset: str | os.PathLike | None = None
                ) -> StoredRuns:
    """The latest run of every scenario in ``store``: the runs ``first`` names, then the latest
    run of each other scenario, in the order of those runs.

    Parameters
    ----------
    store
        The run store.
    first
        Run ids to show first (the runs just made), whatever else the store holds.
    choice, dataset
        Where given, each other scenario's latest run made with this choice model
        (``summary["choice"]``; runs without one are ``deterministic``) and from this dataset
        (the same files, by the hashes the manifests record, where both record them; else the
        same folder), so that no run is compared with one of another model or network: an
        older run of the scenario where its latest is of another model or dataset. A scenario
        with no such run, or whose run lacks a table the report reads, is left out.

    Returns
    -------
    StoredRuns
        The runs, and the scenarios left out (name -> why).

    Raises
    ------
    InputError
        ``store`` holds no run store.
    NotFoundError
        A run of ``first`` is not in the store.
    """
    if not isinstance(store, RunStore):
        store = RunStore(store, create=False)
    runs = [store.get(i) for i in first]
    have = {r.name for r in runs}
    want = None if dataset is None else Path(dataset).resolve()
    hashes = {json.dumps((r.manifest.get("inputs") or {}).get("sha256_16"), sort_keys=True)
              for r in runs if (r.manifest.get("inputs") or {}).get("sha256_16")}

    def same_dataset(rec) -> bool:
        h = (rec.manifest.get("inputs") or {}).get("sha256_16")
        if h and hashes:
            return json.dumps(h, sort_keys=True) in hashes
        return rec.dataset is not None and rec.dataset.resolve() == want

    listed = store.list()
    newest_first = listed.iloc[::-1]
    picked: dict[str, object] = {}
    left_out: dict[str, str] = {}
    for row in newest_first.itertuples(index=False):
        if row.scenario in have or row.scenario in picked:
            continue
        made = (row.summary or {}).get("choice", "deterministic")
        if choice is not None and made != choice:
            left_out.setdefault(row.scenario, f"no run of it is --choice {choice} (its latest "
                                              f"is --choice {made})")
            continue
        rec = store.get(row.run_id)
        if want is not None and not same_dataset(rec):
            left_out.setdefault(row.scenario, f"no run of it is of this dataset (its latest is "
                                              f"of {rec.dataset})")
            continue
        missing = [t for t in TABLES if not rec.has_table(t)]
        if missing:
            left_out.setdefault(row.scenario, f"its run {rec.run_id} lacks "
                                              f"{', '.join(missing)}")
            continue
        picked[row.scenario] = rec
        left_out.pop(row.scenario, None)
    # in the order of the runs picked (as committed), as the store lists them
    order = {r: i for i, r in enumerate(listed["run_id"])}
    runs += sorted(picked.values(), key=lambda r: order[r.run_id])
    return StoredRuns(runs, left_out)
