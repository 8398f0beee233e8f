"""The SQLite catalog of a run store: one row per complete run.

Every call opens its own short-lived connection (processes and threads never share one), in WAL
mode with a busy timeout, and every write is one ``BEGIN IMMEDIATE`` transaction, so several
processes can save and remove runs at once.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from karvan.errors import InputError

#: seconds a connection waits for another process's write lock before failing
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

COLUMNS = ("run_id", "scenario", "title", "year", "created", "karvan_version", "status",
           "summary", "path")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    scenario        TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    year            INTEGER,
    created         TEXT NOT NULL,  -- ISO 8601, UTC, microseconds
    karvan_version  TEXT NOT NULL,
    status          TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '{}',  -- JSON
    path            TEXT NOT NULL   -- the run folder, relative to the store root
);
CREATE INDEX IF NOT EXISTS runs_scenario_created ON runs (scenario, created);
"""


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit), closed on exit."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        con.row_factory = sqlite3.Row
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (take the write lock now, waiting up to the busy timeout), then
    ``COMMIT``; ``ROLLBACK`` on any exception, Ctrl-C included."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def init(path: Path) -> None:
    """Create the catalog if needed and switch it to WAL mode (kept in the file).

    Raises
    ------
    InputError
        The catalog was made by a newer karvan.
    sqlite3.OperationalError
        SQLite could not open or lock the catalog (after 50 tries while another process
        creates it).
    """
    with connect(path) as con:
        for attempt in range(50):
            try:
                mode = con.execute("PRAGMA journal_mode").fetchone()[0]
                if mode.lower() != "wal":
                    con.execute("PRAGMA journal_mode = WAL")
                with transaction(con):
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                    version = con.execute("PRAGMA user_version").fetchone()[0]
                    if version == 0:
                        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                if version > SCHEMA_VERSION:
                    raise InputError(f"{path}: catalog schema {version} comes from a newer "
                                     f"karvan (this one reads {SCHEMA_VERSION}); upgrade karvan.")
                return
            except sqlite3.OperationalError as e:
                # two processes creating one catalog: the journal-mode switch may not wait
                msg = str(e)
                if ("locked" not in msg and "busy" not in msg) or attempt == 49:
                    raise
                time.sleep(0.05)


_INSERT = f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def _values(row: dict) -> list:
    """A row's values in the order of :data:`COLUMNS`, ``summary`` as JSON."""
    return [json.dumps(row[c], default=str) if c == "summary" else row[c] for c in COLUMNS]


def insert(path: Path, row: dict) -> None:
    """Add one run in its own transaction."""
    with connect(path) as con, transaction(con):
        con.execute(_INSERT, _values(row))


def insert_in_order(path: Path, rows: list[dict]) -> int:
    """Add runs found again where they belong in the order of saving: each after the last
    listed row created no later than it (a batch's rows keep their own order), all in one
    transaction that writes the table anew; a run listed meanwhile is left as it is. The
    number added."""
    with connect(path) as con, transaction(con):
        have = [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY rowid").fetchall()]
        ids = {r["run_id"] for r in have}
        new = sorted((r for r in rows if r["run_id"] not in ids), key=lambda r: r["created"])
        if not new:
            return 0
        merged = [[r[c] for c in COLUMNS] for r in have]  # summary kept as stored (JSON)
        created = [r["created"] for r in have]
        for row in new:
            at = max((i + 1 for i, c in enumerate(created) if c <= row["created"]), default=0)
            merged.insert(at, _values(row))
            created.insert(at, row["created"])
        con.execute("DELETE FROM runs")
        con.executemany(_INSERT, merged)
    return len(new)


def delete(path: Path, run_ids: Iterable[str]) -> int:
    """Remove rows; the number removed."""
    ids = list(run_ids)
    if not ids:
        return 0
    with connect(path) as con, transaction(con):
        return con.executemany("DELETE FROM runs WHERE run_id = ?", [(i,) for i in ids]).rowcount


def select(path: Path, *, run_id: str | None = None, prefix: str | None = None,
           scenario: str | None = None) -> list[dict]:
    """Rows in the order they were inserted (not of ``created``), optionally one id, ids
    starting with ``prefix`` or one scenario; ``summary`` parsed from JSON."""
    where, args = [], []
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    if prefix is not None:
        where.append("substr(run_id, 1, ?) = ?")
        args += [len(prefix), prefix]
    if scenario is not None:
        where.append("scenario = ?")
        args.append(scenario)
    sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
    with connect(path) as con:
        # in the order the runs were committed (a batch commits them in the order of its
        # scenarios, whichever worker finished first)
        rows = con.execute(sql + " ORDER BY rowid", args).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        try:
            d["summary"] = json.loads(d["summary"])
        except json.JSONDecodeError:
            d["summary"] = {}
        out.append(d)
    return out
