"""Results on disk: versioned run folders (Parquet, CSV, manifest) and an SQLite catalog.

Imports only :mod:`karvan.io`, :mod:`karvan.errors` and :mod:`karvan._version`: scenarios save
into the store, the store knows nothing of scenarios. Never pickle. :class:`RunRecord` (the run
folder format lives in :mod:`karvan.io.run_folder`) is the one reader of a run;
:func:`resolve_run` finds one by id, scenario name or folder; :func:`diff_table` is the one diff
of two runs' tables and :func:`largest_changes` the one choice of its rows to show.
"""

from __future__ import annotations

from karvan.io.run_folder import RunRecord, read_manifest, write_run_folder
from karvan.store.diff import diff_table, largest_changes
from karvan.store.runstore import RunStore, StagedRun, new_run_id, resolve_run, stage_run

__all__ = ["RunRecord", "RunStore", "StagedRun", "diff_table", "largest_changes", "new_run_id",
           "read_manifest", "resolve_run", "stage_run", "write_run_folder"]
