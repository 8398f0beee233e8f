"""The corridor dataset: GMNS network tables with freight columns, and the freight tables beside
them (commodities, tariffs, demand, growth, observed volumes, sources).

Every row carries ``source``, ``source_date`` and ``confidence`` (official, press, estimate or
assumption); an assumption names its ``method``. :func:`load_corridor` checks all of that, with
the ids and references between tables, and reports every problem at once.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, format_ids
from karvan.io.gmns import GmnsWarning, read_gmns

CONFIDENCE = ("official", "press", "estimate", "assumption")
MODES = ("rail", "road", "sea", "ferry", "transfer", "border")
STATUSES = ("open", "closed", "planned", "under_construction")
TABLES = ("zone", "commodity", "tariff", "demand", "growth", "observed", "sources")
LINK_NUMERIC = ("length_km", "speed_kph", "dwell_h", "frequency_per_week", "capacity_tpy",
                "tariff_usd_per_tkm", "tariff_usd_per_t", "fee_usd_per_t", "vdf_alpha",
                "vdf_beta", "open_year", "gauge_mm", "capacity_value")
COMMODITY_NUMERIC = ("value_usd_per_t", "vot_usd_per_t_h", "t_per_teu", "t_per_wagon",
                     "t_per_truck")


@dataclass(frozen=True, slots=True, eq=False)
class CorridorData:
    """The tables of a corridor dataset, checked.

    ``nodes`` and ``links`` are indexed by their ids (GMNS), the other tables are plain frames.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    zones: pd.DataFrame
    commodities: pd.DataFrame
    tariffs: pd.DataFrame
    demand: pd.DataFrame
    growth: pd.DataFrame
    observed: pd.DataFrame
    sources: pd.DataFrame
    tariffs_by_commodity: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    folder: Path | None = None
    base_year: int = 2024

    @property
    def commodity_ids(self) -> list[str]:
        return list(self.commodities["commodity_id"])

    def zone_country(self) -> dict[str, str]:
        """zone_id -> ISO country code."""
        return dict(zip(self.zones["zone_id"], self.zones["country"]))


def builtin_corridor_folder() -> Path:
    """Folder of the dataset shipped with karvan."""
    return Path(str(resources.files("karvan") / "data" / "corridor"))


def load_corridor(folder: str | os.PathLike | None = None) -> CorridorData:
    """Read and check a corridor dataset folder (default: the built-in one).

    Raises
    ------
    InputError
        Listing every problem: missing tables or columns, rows without source, date or
        confidence, assumptions without a method, unknown ids between tables, bad numbers.
    """
    folder = Path(folder) if folder is not None else builtin_corridor_folder()
    problems: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GmnsWarning)
        try:
            net = read_gmns(folder)
        except InputError as e:
            # keep going on the raw tables, so that every problem is reported at once
            problems.extend(e.problems)
            net = None
    if net is None:
        try:
            raw_nodes = pd.read_csv(folder / "node.csv", dtype=str).set_index("node_id")
            raw_links = pd.read_csv(folder / "link.csv", dtype=str).set_index("link_id")
        except (FileNotFoundError, KeyError, pd.errors.ParserError):
            raise InputError(problems, str(folder)) from None
        config: dict = {}
    else:
        raw_nodes, raw_links, config = net.nodes, net.links, net.config
    tables = {}
    for name in TABLES:
        path = folder / f"{name}.csv"
        if not path.exists():
            problems.append(f"{name}.csv is missing from {folder}.")
            continue
        tables[name] = pd.read_csv(path, dtype=str, keep_default_na=False,
                                   na_values=[""]).rename(columns=str.strip)
    if any(f"{name}.csv is missing" in p for p in problems for name in TABLES):
        raise InputError(problems, str(folder))
    nodes = raw_nodes.copy()
    links = raw_links.copy()
    _check_provenance("node.csv", nodes.reset_index(), "node_id", problems)
    _check_provenance("link.csv", links.reset_index(), "link_id", problems)
    for name in TABLES:
        if name == "sources":
            continue
        key = {"zone": "zone_id", "commodity": "commodity_id", "observed": "observed_id"}.get(name)
        _check_provenance(f"{name}.csv", tables[name], key, problems)
    for col in LINK_NUMERIC:
        if col in links:
            vals = pd.to_numeric(links[col], errors="coerce")
            bad = links[col].notna() & vals.isna()
            if bad.any():
                problems.append(f"link.csv: non-numeric {col} on link_id "
                                f"{format_ids(links.index[bad])}.")
            if (vals < 0).any():
                problems.append(f"link.csv: negative {col} on link_id "
                                f"{format_ids(links.index[vals < 0])}.")
            links[col] = vals
    for col, allowed in (("mode", MODES), ("status", STATUSES)):
        if col not in links:
            problems.append(f"link.csv: no {col} column.")
            continue
        bad = ~links[col].isin(allowed)
        if bad.any():
            problems.append(f"link.csv: {col} must be one of {', '.join(allowed)}; link_id "
                            f"{format_ids(links.index[bad])} have "
                            f"{format_ids(links.loc[bad, col].unique())}.")
    moving = links["mode"].isin(["rail", "road", "sea", "ferry"]) if "mode" in links else None
    if moving is not None:
        for col in ("length_km", "speed_kph"):
            if col in links:
                bad = moving & ~(links[col] > 0)
                if bad.any():
                    problems.append(f"link.csv: {int(bad.sum())} rail/road/sea/ferry links have "
                                    f"no positive {col} (link_id {format_ids(links.index[bad])}).")
    com = tables["commodity"]
    for col in COMMODITY_NUMERIC:
        if col in com:
            com[col] = pd.to_numeric(com[col], errors="coerce")
    if "vot_usd_per_t_h" in com and not (com["vot_usd_per_t_h"] > 0).all():
        problems.append("commodity.csv: vot_usd_per_t_h must be > 0 for every commodity.")
    zones = tables["zone"]
    bad = ~zones["node_id"].isin(nodes.index)
    if bad.any():
        problems.append(f"zone.csv: zones whose node_id is not in node.csv: "
                        f"{format_ids(zones.loc[bad, 'zone_id'])}.")
    dem = tables["demand"]
    dem["tonnes_per_year"] = pd.to_numeric(dem["tonnes_per_year"], errors="coerce")
    for col, known, what in (("origin_zone_id", zones["zone_id"], "zone"),
                             ("destination_zone_id", zones["zone_id"], "zone"),
                             ("commodity_id", com["commodity_id"], "commodity")):
        bad = ~dem[col].isin(set(known))
        if bad.any():
            problems.append(f"demand.csv: {int(bad.sum())} rows name an unknown {what} in {col} "
                            f"(lines {format_ids(dem.index[bad] + 2)}: "
                            f"{format_ids(dem.loc[bad, col].unique())}).")
    if dem["tonnes_per_year"].isna().any() or (dem["tonnes_per_year"] < 0).any():
        problems.append("demand.csv: tonnes_per_year must be a number >= 0 on every row.")
    gr = tables["growth"]
    gr["growth_per_year"] = pd.to_numeric(gr["growth_per_year"], errors="coerce")
    if gr["growth_per_year"].isna().any():
        problems.append("growth.csv: growth_per_year must be a number on every row.")
    tar = tables["tariff"]
    for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
        tar[col] = pd.to_numeric(tar[col], errors="coerce")
    tc_path = folder / "tariff_commodity.csv"
    tar_c = None
    if tc_path.exists():
        tar_c = pd.read_csv(tc_path, dtype=str, keep_default_na=False, na_values=[""])
        _check_provenance("tariff_commodity.csv", tar_c, None, problems)
        for col in ("tariff_usd_per_tkm", "tariff_usd_per_t"):
            tar_c[col] = pd.to_numeric(tar_c[col], errors="coerce")
        bad = ~tar_c["commodity_id"].isin(set(com["commodity_id"]))
        if bad.any():
            problems.append(f"tariff_commodity.csv: unknown commodity_id "
                            f"{format_ids(tar_c.loc[bad, 'commodity_id'].unique())}.")
    obs = tables["observed"]
    obs["tonnes_per_year"] = pd.to_numeric(obs["tonnes_per_year"], errors="coerce")
    src_ids = set(tables["sources"]["source_id"].astype(str).str.strip())
    extra = (("tariff_commodity.csv", tar_c),) if tar_c is not None else ()
    for name, df in (("node.csv", nodes), ("link.csv", links)) + extra + tuple(
            (f"{n}.csv", tables[n]) for n in TABLES if n != "sources"):
        if "source" not in df:
            continue
        refs = df["source"].dropna().astype(str).str.split(";").explode().str.strip()
        unknown = sorted(set(refs[refs != ""]) - src_ids)
        if unknown:
            problems.append(f"{name}: sources not listed in sources.csv: {format_ids(unknown)}.")
    if problems:
        raise InputError(problems, str(folder))
    base_year = int(config["base_year"]) if str(config.get("base_year", "")).isdigit() else 2024
    return CorridorData(nodes=nodes, links=links, zones=zones, commodities=com, tariffs=tar,
                        demand=dem, growth=gr, observed=obs, sources=tables["sources"],
                        tariffs_by_commodity=tar_c,
                        config=config, folder=folder, base_year=base_year)


def _check_provenance(name: str, df: pd.DataFrame, key: str | None, problems: list[str]) -> None:
    missing = [c for c in ("source", "source_date", "confidence") if c not in df]
    if missing:
        problems.append(f"{name}: missing column(s) {', '.join(missing)}; every row carries its "
                        "source, date and confidence.")
        return
    label = (lambda idx: format_ids(df.loc[idx, key])) if key and key in df else (
        lambda idx: "lines " + format_ids(np.asarray(idx) + 2))
    for col in ("source", "source_date", "confidence"):
        blank = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if blank.any():
            problems.append(f"{name}: {int(blank.sum())} rows have no {col} "
                            f"({label(df.index[blank])}).")
    bad = df["confidence"].notna() & ~df["confidence"].isin(CONFIDENCE)
    if bad.any():
        problems.append(f"{name}: confidence must be one of {', '.join(CONFIDENCE)} "
                        f"({label(df.index[bad])}).")
    if "method" not in df:
        if (df["confidence"] == "assumption").any():
            problems.append(f"{name}: assumptions need a method column saying how they were "
                            "derived.")
        return
    nometh = (df["confidence"] == "assumption") & (df["method"].isna() | (
        df["method"].astype(str).str.strip() == ""))
    if nometh.any():
        problems.append(f"{name}: {int(nometh.sum())} assumptions have no method "
                        f"({label(df.index[nometh])}).")
