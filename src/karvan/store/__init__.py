"""Results on disk: versioned run folders (Parquet, CSV, manifest) and an SQLite catalog.

Imports only :mod:`karvan.io`, :mod:`karvan.errors` and :mod:`karvan._version`: scenarios save
into the store, the store knows nothing of scenarios. Never pickle.
"""

from __future__ import annotations

from karvan.store.folder import RunRecord, read_manifest, write_run_folder
from karvan.store.runstore import RunStore, new_run_id

__all__ = ["RunRecord", "RunStore", "new_run_id", "read_manifest", "write_run_folder"]
