"""An experiment on disk: a folder that fills batch by batch and resumes where it stopped.

Layout of ``<folder>`` (by default ``<store>/experiments/<experiment_id>/`` beside the run
store's ``runs/``, or the ``--out`` folder)::

    manifest.json                      settings, inputs, design, status (running | complete)
    inputs.csv                         the uncertain inputs (name, factor, table, field, ...)
    design.parquet                     the design's points in the unit cube, one row per draw
    draws/scenario=<name>/part-<first>-<last>.parquet
                                       one file per completed batch: draw, the drawn inputs
                                       (``in:<input>``) and the headline outputs
                                       (``out:<output>``); draw -1 is the central case
    bands.parquet, bands.csv           one row per scenario and output: central, mean, p5, p50, p95
    statements.csv, sensitivity.csv    probabilities of statements, sensitivity indices
    fan_chart.csv, tornado.csv         the chart tables

Every file is written under a temporary name and renamed into place, so a batch file is whole or
absent: an experiment killed at any moment keeps every batch written before, and the next run with
the same settings (same ``config_hash``) skips those draws. The analysis's tables are written
together (:meth:`Experiment.write_tables`): an analysis that fails or is interrupted leaves the
tables of the one before, every one, or none if there was none.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError
from karvan.io.atomic import atomic_file, atomic_files, atomic_write_text

log = logging.getLogger(__name__)

EXPERIMENTS = "experiments"
_SAFE = re.compile(r"[^A-Za-z0-9_\-.]+")


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_file(path) as tmp:  # the one atomic writer
        df.to_parquet(tmp, index=False)


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` as CSV through a temporary name and a rename."""
    atomic_write_text(path, df.to_csv(index=False))


def new_experiment_id(label: str, config_hash: str) -> str:
    """``YYYYMMDD-HHMMSS-<label>-<8 hex of the settings>-<2 hex>`` (UTC)."""
    slug = _SAFE.sub("_", label).strip("_")[:30] or "explore"
    now = datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{slug}-{config_hash[:8]}-{secrets.token_hex(1)}"


class Experiment:
    """The folder of one experiment (see the module notes)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @property
    def manifest_path(self) -> Path:
        """The path of ``manifest.json`` in the folder."""
        return self.folder / "manifest.json"

    def exists(self) -> bool:
        """Whether the folder holds an experiment (its manifest)."""
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        """The manifest.

        Raises
        ------
        InputError
            No experiment in the folder.
        """
        if not self.exists():
            raise InputError(f"{self.folder} holds no experiment (no manifest.json).")
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def write_manifest(self, manifest: dict) -> None:
        """Write ``manifest`` as ``manifest.json`` atomically, creating the folder if needed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, default=str))

    def partition(self, scenario: str) -> Path:
        """The folder of the draws of ``scenario`` (``draws/scenario=<name>``, the name's
        characters other than ``A-Za-z0-9_-.`` written ``_``)."""
        return self.folder / "draws" / f"scenario={partition_name(scenario)}"

    def _scenario_names(self) -> dict[str, str]:
        """The scenario each partition holds (by the manifest; none where it has none)."""
        if not self.exists():
            return {}
        return {partition_name(s): s for s in self.manifest().get("scenarios", [])}

    def write_batch(self, scenario: str, draws, data: bytes) -> Path:
        """Persist one completed batch (the Parquet bytes of draws ``draws`` of one scenario)
        atomically: written under a temporary name, then renamed into place."""
        d = np.asarray(draws)
        path = self.partition(scenario) / f"part-{int(d.min()):+07d}-{int(d.max()):+07d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            tmp.write_bytes(data)
        return path

    def completed(self) -> dict[str, set[int]]:
        """Draw ids already written, per scenario partition name."""
        out: dict[str, set[int]] = {}
        root = self.folder / "draws"
        if not root.is_dir():
            return out
        for part in sorted(root.glob("scenario=*")):
            name = part.name.split("=", 1)[1]
            ids: set[int] = set()
            for f in sorted(part.glob("part-*.parquet")):
                ids.update(int(x) for x in pd.read_parquet(f, columns=["draw"])["draw"])
            out[name] = ids
        return out

    def draws(self, scenario: str | None = None) -> pd.DataFrame:
        """Every written row (one per scenario and draw; draw -1 the central case), with a
        ``scenario`` column."""
        root = self.folder / "draws"
        frames = []
        parts = [self.partition(scenario)] if scenario else sorted(root.glob("scenario=*"))
        # the scenario's own name, not its partition's: "Rasht–Astara 2028" was read back as
        # "Rasht_Astara_2028", which the manifest's references did not know (no effect)
        names = self._scenario_names()
        for part in parts:
            files = sorted(part.glob("part-*.parquet"))
            if not files:
                continue
            df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
            own = part.name.split("=", 1)[1]
            name = pd.Series(scenario or names.get(own, own), index=df.index, name="scenario")
            frames.append(pd.concat([name, df], axis=1))
        if not frames:
            return pd.DataFrame(columns=["scenario", "draw"])
        out = pd.concat(frames, ignore_index=True)
        return out.drop_duplicates(["scenario", "draw"]).sort_values(
            ["scenario", "draw"], ignore_index=True)

    def write_tables(self, tables: dict[str, pd.DataFrame], *,
                     parquet: tuple[str, ...] = ()) -> None:
        """Write the tables of an analysis (``<name>.csv``, and ``<name>.parquet`` too for
        those named in ``parquet``) into the folder, all together: staged, then renamed into
        place in one last step. If any fails (Ctrl-C included) the folder keeps the tables it
        had, every one, and none of these."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_files(self.folder) as stage:
            for name, df in tables.items():
                if name in parquet:
                    write_parquet_atomic(df, stage / f"{name}.parquet")
                write_csv_atomic(df, stage / f"{name}.csv")

    def table(self, name: str) -> pd.DataFrame:
        """A result table of a complete experiment (``bands``, ``statements``,
        ``sensitivity``, ...).

        Raises
        ------
        InputError
            The table is not there (the experiment is not complete, or has no such table).
        """
        for ext in ("parquet", "csv"):
            p = self.folder / f"{name}.{ext}"
            if p.is_file():
                return pd.read_parquet(p) if ext == "parquet" else pd.read_csv(p)
        raise InputError(f"{self.folder}: no table {name!r}"
                         + ("" if self.manifest().get("status") == "complete"
                            else " (the experiment is not complete; run it again to resume)")
                         + ".")


def partition_name(scenario: str) -> str:
    """The name of the folder that holds a scenario's draws: its characters other than
    ``A-Za-z0-9_-.`` written ``_``."""
    return _SAFE.sub("_", scenario)


def find_resumable(root: str | os.PathLike, config_hash: str) -> Experiment | None:
    """The latest incomplete experiment under ``root/experiments`` with these settings."""
    base = Path(root) / EXPERIMENTS
    if not base.is_dir():
        return None
    for p in sorted(base.iterdir(), reverse=True):
        e = Experiment(p)
        if not e.exists():
            continue
        try:
            m = e.manifest()
        except (json.JSONDecodeError, OSError):
            continue
        if m.get("config_hash") == config_hash and m.get("status") != "complete":
            return e
    return None


def list_experiments(root: str | os.PathLike) -> pd.DataFrame:
    """The experiments under ``root/experiments``: id, created, status, scenarios, draws,
    sampler, seed, folder."""
    base = Path(root) / EXPERIMENTS
    rows = []
    if base.is_dir():
        for p in sorted(base.iterdir()):
            e = Experiment(p)
            if not e.exists():
                continue
            m = e.manifest()
            rows.append((p.name, m.get("created"), m.get("status"),
                         ";".join(m.get("scenarios", [])), m.get("draws"), m.get("sampler"),
                         m.get("seed"), str(p)))
    return pd.DataFrame(rows, columns=["experiment_id", "created", "status", "scenarios",
                                       "draws", "sampler", "seed", "folder"])


def design_frame(u: np.ndarray, factors) -> pd.DataFrame:
    """The design's points ``u`` (draws x factors) as a table: ``draw`` and one ``u:<factor>``
    column per factor."""
    df = pd.DataFrame(u, columns=[f"u:{f}" for f in factors])
    df.insert(0, "draw", np.arange(len(df)))
    return df
