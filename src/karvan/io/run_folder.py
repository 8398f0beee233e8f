"""The run folder format: a folder of tables (Parquet, and CSV for people) and
``manifest.json``; :class:`RunRecord`, the one reader of run folders (the report, the exports,
``compare`` and the dashboard all read runs through it).

The manifest is written last, so a folder with a manifest is complete. Whole-or-nothing
appearance is the caller's job (a temporary folder and a rename: see :mod:`karvan.store.runstore`
and :func:`karvan.io.atomic.atomic_folder`). :mod:`karvan.store` keeps versioned run folders and
re-exports :class:`RunRecord`; :func:`karvan.store.resolve_run` finds a run by id, scenario name
or folder.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from karvan.errors import InputError, NotFoundError

MANIFEST = "manifest.json"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def write_run_folder(folder: str | os.PathLike, tables: Mapping[str, pd.DataFrame],
                     manifest: Mapping) -> None:
    """Write each table as ``<name>.parquet`` and ``<name>.csv``, then ``manifest.json``.

    Parameters
    ----------
    folder
        An existing, empty folder (normally a temporary one that is renamed into place after).
    tables
        Table name (letters, digits, ``_``, ``-``) to DataFrame. The index is not written.
    manifest
        JSON-able mapping; NumPy scalars are written as numbers. A ``tables`` entry listing the
        table names is added when missing.

    Raises
    ------
    InputError
        A table name that cannot be a file name.
    """
    folder = Path(folder)
    bad = [n for n in tables if not _TABLE_NAME.match(str(n))]
    if bad:
        raise InputError(f"table names {bad} cannot be file names; use letters, digits, _ and -.")
    for name, df in tables.items():
        _write_table(folder, name, df)
    write_manifest(folder, {"tables": sorted(tables), **manifest})


def write_manifest(folder: str | os.PathLike, manifest: Mapping) -> None:
    """Write ``manifest.json``: indented, NumPy scalars as numbers, NaN and infinities as null
    (standard JSON, which browsers parse)."""
    text = json.dumps(_finite(dict(manifest)), indent=2, default=_json, allow_nan=False)
    (Path(folder) / MANIFEST).write_text(text, encoding="utf-8")


def _write_table(folder: Path, name: str, df: pd.DataFrame) -> None:
    out = yes_no_as_boolean(df.copy())
    for c in out.columns:
        if out[c].dtype == object:
            # mixed object columns (ids that are sometimes ints) become text, as Parquet needs
            out[c] = out[c].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    out.to_parquet(folder / f"{name}.parquet", index=False)
    # the same text as from the string columns themselves, written in about half the time
    text = {c: object for c in out.columns if pd.api.types.is_string_dtype(out[c].dtype)
            and out[c].dtype != object}
    (out.astype(text) if text else out).to_csv(folder / f"{name}.csv", index=False)


def yes_no_as_boolean(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each object column whose values are all booleans or blank (a target met or
    none to meet; a country without a row in a run's table) as a nullable boolean: as Python
    objects they were written as the text "True" and "False" (Parquet, GeoPackage), which a
    reader takes as true whenever not empty. Changed in place; returned for chaining."""
    for c in df.columns:
        if df[c].dtype != object:
            continue
        given = df[c].dropna()
        if len(given) and given.map(lambda v: isinstance(v, (bool, np.bool_))).all():
            df[c] = df[c].astype("boolean")
    return df


#: the sets of a calibration summary that have no target ("-" where shown): rows that built the
#: inputs (their fit is no evidence) and totals of fit rows (role check: no test of their own)
NO_TARGET = ("fit_by_construction", "check")


def target_met(value) -> bool:
    """Whether a ``target_met`` cell says yes: True (a boolean column, blank where a set has no
    target), or the text "True" of the runs stored before the column was written as a boolean
    (their Parquet files hold "False" as text, which is not empty and so was read as yes)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value is not None and not pd.isna(value) and value)


def _finite(v):
    if isinstance(v, Mapping):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if hasattr(v, "item") and callable(v.item) and not isinstance(v, (str, bytes)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return v
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _json(v):
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return str(v)


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a run folder.

    Raises
    ------
    NotFoundError
        The folder has no ``manifest.json`` (an :class:`InputError` too).
    InputError
        ``manifest.json`` is not valid JSON.
    """
    folder = Path(folder)
    p = folder / MANIFEST
    if not p.is_file():
        raise NotFoundError(f"{folder} is not a karvan run folder (no {MANIFEST}); give a "
                            "folder written by `karvan run`, e.g. results/baseline, or a run "
                            "id.")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: not valid JSON ({e}); the run folder is damaged.") from None


@dataclass(frozen=True, slots=True, eq=False)
class RunRecord:
    """A stored run: its folder and manifest; tables are read when asked for, then kept.

    ``run_id`` is ``None`` for a results folder outside a run store that has no run id.
    """

    path: Path
    manifest: dict
    run_id: str | None = None
    _tables: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> RunRecord:
        """The run in a results folder (a store's run folder or a plain ``results/<scenario>``)."""
        folder = Path(folder)
        man = read_manifest(folder)
        return cls(folder, man, man.get("run_id"))

    @property
    def label(self) -> str:
        """The run id, else the folder name: how the run is named in messages and titles."""
        return self.run_id or self.path.name

    @property
    def scenario(self) -> str:
        """The scenario's name ("" when the manifest names none)."""
        spec = self.manifest.get("scenario")
        return str(spec.get("name", "")) if isinstance(spec, dict) else str(spec or "")

    @property
    def name(self) -> str:
        """The scenario's name, else the folder name: how a run is shown in a report."""
        return self.scenario or self.path.name

    @property
    def title(self) -> str:
        """The scenario's title, else its name."""
        spec = self.manifest.get("scenario")
        title = spec.get("title") if isinstance(spec, dict) else None
        return str(title or self.name)

    @property
    def dataset(self) -> Path | None:
        """The dataset folder the run was made from (``inputs.dataset``), if recorded."""
        p = (self.manifest.get("inputs") or {}).get("dataset")
        return Path(p) if p else None

    def has_table(self, name: str) -> bool:
        """Whether the run folder holds ``<name>.parquet``."""
        return name in self._tables or (self.path / f"{name}.parquet").is_file()

    def require(self, names: Sequence[str]) -> None:
        """Check that the run has every table of ``names``.

        Raises
        ------
        InputError
            Naming every missing table.
        """
        missing = [n for n in names if not self.has_table(n)]
        if missing and (self.path / "design.parquet").is_file():
            # an experiment of karvan explore, not a run
            raise InputError(f"{self.path} is an experiment of karvan explore, not a run: its "
                             f"page is {self.path / 'report.html'} (karvan explore writes it; "
                             "the same command again rewrites it).")
        listed = set(self.manifest.get("tables") or ())
        lost = [n for n in missing if n in listed]
        older = [n for n in missing if n not in listed]
        problems = []
        if lost:
            # the run wrote them (its manifest lists them) and their files are gone since
            problems.append(f"run {self.label} ({self.path}) has lost the file(s) "
                            f"{', '.join(f'{n}.parquet' for n in lost)} that it wrote: run the "
                            f"scenario {self.name} again (karvan run), or use another run.")
        if older:
            problems.append(f"run {self.label} ({self.path}) lacks the table(s) "
                            f"{', '.join(older)} (.parquet), which the karvan that made it did "
                            "not write; write the run again with this version of karvan.")
        if problems:
            raise InputError(problems)

    @property
    def created(self) -> str | None:
        """When the run was saved (ISO 8601, UTC), where recorded."""
        return self.manifest.get("created")

    @property
    def status(self) -> str | None:
        """The run's status (``complete``), where recorded."""
        return self.manifest.get("status")

    @property
    def summary(self) -> dict:
        """The run's headline figures (a copy)."""
        return dict(self.manifest.get("summary") or {})

    @property
    def table_names(self) -> list[str]:
        """Names of the run's tables: from the manifest, else the Parquet files present."""
        names = self.manifest.get("tables")
        if names is None:
            names = sorted(p.stem for p in self.path.glob("*.parquet"))
        return list(names)

    def table(self, name: str) -> pd.DataFrame:
        """One table of the run, read from Parquet on first use (later calls return the same
        DataFrame: copy it before changing it).

        Raises
        ------
        NotFoundError
            The run has no such table (an :class:`InputError` too).
        """
        if name not in self._tables:
            p = self.path / f"{name}.parquet"
            if not p.is_file():
                raise NotFoundError(f"run {self.label} has no table {name!r} ({p} is missing); "
                                    f"its tables: {', '.join(self.table_names) or 'none'}.")
            self._tables[name] = pd.read_parquet(p)
        return self._tables[name]
