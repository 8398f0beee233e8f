"""Read a run folder and shape its tables for the report; never recompute the model.

Everything here selects, sorts, joins and subtracts columns that ``karvan run`` wrote. The
differences of two runs are plain ``B - A`` of the same columns, with a row missing from one run
counted as zero tonnes (utilization stays missing).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError

#: tables the report reads; a run missing one of them is rejected up front
TABLES = ("links", "countries", "borders", "bottlenecks", "shipper")


@dataclass(frozen=True, slots=True, eq=False)
class RunResults:
    """The tables of one run folder and its manifest, as ``karvan run`` wrote them."""

    folder: Path
    manifest: dict
    tables: dict[str, pd.DataFrame]

    @property
    def name(self) -> str:
        return str(self.manifest.get("scenario", {}).get("name") or self.folder.name)

    @property
    def title(self) -> str:
        return str(self.manifest.get("scenario", {}).get("title") or self.name)

    @property
    def summary(self) -> dict:
        return dict(self.manifest.get("summary") or {})

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]


def read_run(folder: str | os.PathLike) -> RunResults:
    """Read the manifest and the report's tables of a run folder made by ``karvan run``.

    Raises
    ------
    InputError
        If the folder has no ``manifest.json`` or lacks one of the tables, naming them all.
    """
    folder = Path(folder)
    if not (folder / "manifest.json").is_file():
        raise InputError(f"{folder} is not a karvan run folder (no manifest.json); give a folder "
                         "written by `karvan run`, e.g. results/baseline.")
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").is_file()]
    if missing:
        raise InputError(f"{folder} lacks the table(s) {', '.join(missing)} (.parquet); "
                         "write the run again with this version of karvan.")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}
    # a run made without the capacity LP has no LP columns: show them as unknown
    for t in ("links", "bottlenecks", "borders"):
        if t in tables:
            for col in ("lp_tonnes_tot", "lp_utilization", "shadow_price_usd_per_t"):
                if col not in tables[t] and (t != "borders"
                                             or col == "shadow_price_usd_per_t"):
                    tables[t][col] = np.nan
    return RunResults(folder=folder, manifest=manifest, tables=tables)


def dataset_folder(run: RunResults) -> Path | None:
    """The corridor dataset folder the run was made from, if it still exists here."""
    p = (run.manifest.get("inputs") or {}).get("dataset")
    return Path(p) if p and Path(p).is_dir() else None


def transit_table(run: RunResults) -> pd.DataFrame:
    """Countries by transit tonnes (descending), with the transit share of their tonnes."""
    c = run["countries"].copy()
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


def diff_table(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], values: list[str], *,
               keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """``B - A`` of ``values`` for rows matched on ``keys``; columns ``<v>_a``, ``<v>_b``,
    ``<v>_diff``, sorted by the absolute change of the first value.

    A row present in one run only counts as 0 in the other, except utilization and shadow price
    (missing stays missing). ``keep`` columns (e.g. a name) are taken from B, else A.

    >>> a = pd.DataFrame({"k": ["x", "y"], "t": [1.0, 5.0]})
    >>> b = pd.DataFrame({"k": ["y", "z"], "t": [2.0, 4.0]})
    >>> diff_table(a, b, ["k"], ["t"])[["k", "t_a", "t_b", "t_diff"]].values.tolist()
    [['z', 0.0, 4.0, 4.0], ['y', 5.0, 2.0, -3.0], ['x', 1.0, 0.0, -1.0]]
    """
    values = [v for v in values if v in a.columns and v in b.columns]
    keep = tuple(k for k in keep if k in a.columns or k in b.columns)
    ca = a[keys + values + [k for k in keep if k in a.columns]]
    cb = b[keys + values + [k for k in keep if k in b.columns]]
    m = ca.merge(cb, on=keys, how="outer", suffixes=("_a", "_b"))
    for k in keep:
        ka, kb = f"{k}_a", f"{k}_b"
        if ka in m and kb in m:
            m[k] = m[kb].where(m[kb].notna(), m[ka])
            m = m.drop(columns=[ka, kb])
    for v in values:
        if v not in ("utilization", "lp_utilization", "shadow_price_usd_per_t"):
            m[f"{v}_a"] = m[f"{v}_a"].fillna(0.0)
            m[f"{v}_b"] = m[f"{v}_b"].fillna(0.0)
        m[f"{v}_diff"] = m[f"{v}_b"] - m[f"{v}_a"]
    if values:
        order = m[f"{values[0]}_diff"].abs().sort_values(ascending=False, kind="stable").index
        m = m.reindex(order)
    return m.reset_index(drop=True)


def run_differences(a: RunResults, b: RunResults) -> dict[str, pd.DataFrame]:
    """The difference tables the report shows for run B against run A."""
    return {
        "links": diff_table(a["links"], b["links"], ["link_id"],
                            ["tonnes_tot", "utilization"], keep=("name", "mode", "country")),
        "countries": diff_table(a["countries"], b["countries"], ["country"],
                                ["transit_tonnes", "tonnes", "transit_revenue_usd"]),
        "borders": diff_table(a["borders"], b["borders"], ["border_id"],
                              ["tonnes_tot", "utilization"]),
        "shipper": diff_table(a["shipper"], b["shipper"],
                              ["origin", "destination", "commodity", "option_id"],
                              ["cost_usd_per_t", "time_days"], keep=("option",)),
    }
