"""The corridor dataset: GMNS network tables with freight columns, and the freight tables beside
them (commodities, tariffs, demand, growth, observed volumes, sources).

Every row carries ``source``, ``source_date`` and ``confidence`` (official, operator, press,
estimate or assumption); an assumption names its ``method``. :func:`load_corridor` checks all of
that against the tables' schemas (``karvan/schema/corridor``), with the ids and references
between tables, and reports every problem at once.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from karvan.errors import InputError

CONFIDENCE = ("official", "operator", "press", "estimate", "assumption")
MODES = ("rail", "road", "sea", "ferry", "transfer", "border")
STATUSES = ("open", "closed", "planned", "under_construction")


class CorridorWarning(UserWarning):
    """A value of a corridor table that is allowed but unusual (beyond a schema's ``warnings``
    bounds), or read leniently: the data load, and the warning says what to check."""


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
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Every table read, checked and typed, by table name (including those without a field of
    their own here, such as ``route_option`` and ``shipper_od``)."""

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

    Every table is checked against its schema (``karvan/schema/corridor/*.schema.json``, see
    ``docs/schemas.md``): types, units and ranges of every column, unique ids, references between
    tables, the provenance of every row, and coverage (a default tariff for every mode and
    country that has links, a growth rule for every demand row). Every problem is reported at
    once; values that are allowed but unusual (beyond a schema's ``warnings`` bounds) are each a
    :class:`CorridorWarning`.

    Raises
    ------
    InputError
        Listing every problem with its file, line, id and the fix.
    """
    from karvan.io.gmns import normalise_config
    from karvan.schema import Checker, family_schemas

    folder = Path(folder) if folder is not None else builtin_corridor_folder()
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; a corridor dataset is a folder of CSV "
                         "tables (node.csv, link.csv, zone.csv, ...).")
    checker = Checker()
    tables = checker.folder(folder, family_schemas("corridor"))
    checker.references(tables)
    config: dict = {}
    if "config" in tables and len(tables["config"]):
        row = {k: v[0] for k, v in tables["config"].columns.items()}
        try:
            config = normalise_config(row)
        except InputError as e:
            for m in e.problems:
                checker.message(m, file="config.csv")
    checker.raise_if_errors(str(folder))
    for w in checker.warnings():
        warnings.warn(f"{folder.name}: {w}", CorridorWarning, stacklevel=2)
    frames = {name: t.to_frame() for name, t in tables.items()}
    nodes = frames["node"].set_index("node_id", drop=True)
    links = frames["link"].set_index("link_id", drop=True)
    zones = frames["zone"]
    config["source"] = str(folder)
    config["tables"] = {"zone": zones}
    base_year = int(config.get("base_year", 2024))
    return CorridorData(nodes=nodes, links=links, zones=zones, commodities=frames["commodity"],
                        tariffs=frames["tariff"], demand=frames["demand"],
                        growth=frames["growth"], observed=frames["observed"],
                        sources=frames["sources"],
                        tariffs_by_commodity=frames.get("tariff_commodity"), config=config,
                        folder=folder, base_year=base_year, tables=frames)

