"""What the dashboard's routes share: the run store, the corridor data (loaded once), the job
registry and a cache of rendered reports. One :class:`Dashboard` per application, on
``app.state.dashboard``; routes get it with :func:`dashboard`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from fastapi import Request

from karvan.errors import InputError, NotFoundError
from karvan.freight.corridor import CorridorData, load_corridor
from karvan.report import render_report
from karvan.scenario import load_scenario
from karvan.scenario.apply import apply_scenario
from karvan.store import RunRecord, RunStore
from karvan.web.experiments import ExperimentJobs
from karvan.web.forms import max_year
from karvan.web.jobs import JobRegistry
from karvan.web.pairs import Pair, compare_pair, missing_message

#: reports kept rendered in memory (runs never change once stored)
REPORT_CACHE = 16
LANGS = (("en", "English"), ("ru", "Русский"), ("fa", "فارسی"))


class Dashboard:
    """The shared state of one dashboard application.

    Parameters
    ----------
    store
        The run store.
    data
        The corridor data scenarios apply to; ``None``: the built-in dataset, loaded on first
        use.
    workers
        Scenario runs at the same time.
    max_queued
        Most runs waiting or running at once; more are refused.
    """

    def __init__(self, store: RunStore, data: CorridorData | None, *, workers: int,
                 max_queued: int) -> None:
        self.store = store
        self._data = data
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple, str] = OrderedDict()
        self._status: dict[str, dict] = {}
        self._tables: dict[str, list[str]] = {}  # run id -> the tables its manifest lists
        self.jobs = JobRegistry(store, self.data, workers=workers, max_queued=max_queued)
        self.experiments = ExperimentJobs(store.root, self.data)

    def data(self) -> CorridorData:
        """The corridor data (loaded on first use)."""
        with self._lock:
            if self._data is None:
                self._data = load_corridor()
            return self._data

    def run(self, run_id: str) -> RunRecord:
        """The stored run with this exact id.

        Raises
        ------
        NotFoundError
            No such run, or its folder is gone.
        """
        try:
            return self.store.get(run_id)
        except NotFoundError as e:
            if not str(e).startswith("no run "):
                raise  # its folder is gone: said by its path, which the answer makes relative
            # the store's advice is a command line on the server
            raise NotFoundError(f"no run {run_id!r} in the run store; the dashboard's Stored "
                                "runs (GET /api/runs) lists them.") from None

    def table(self, run_id: str, name: str) -> RunRecord:
        """The run ``run_id`` after checking it has the table ``name``.

        Raises
        ------
        NotFoundError
            No such run, or no such table in it, or its file is gone.
        """
        rec = self.run(run_id)
        if name not in rec.table_names:
            raise NotFoundError(f"run {run_id} has no table {name!r}; its tables: "
                                f"{', '.join(rec.table_names)}.")
        if not rec.has_table(name):  # listed, but its file is gone
            raise NotFoundError(missing_message({"run_id": run_id, "scenario": rec.scenario,
                                                 "missing": [name]}))
        return rec

    def report(self, records: Sequence[RunRecord], lang: str) -> str:
        """The HTML report of ``records`` (the first is the reference), cached.

        Raises
        ------
        NotFoundError
            A run that lost a table.
        InputError
            An unknown language or a run the report cannot read.
        """
        for r in records:
            self.whole(r)
        key = (tuple(str(r.path) for r in records), lang)
        with self._lock:
            if key in self._reports:
                self._reports.move_to_end(key)
                return self._reports[key]
        html = render_report(list(records), lang=lang, reference=0)
        with self._lock:
            self._reports[key] = html
            while len(self._reports) > REPORT_CACHE:
                self._reports.popitem(last=False)
        return html

    def options(self, parent: str) -> dict:
        """The form's choices, with link and border states as the parent scenario leaves them.

        Raises
        ------
        InputError
            ``parent`` cannot be loaded or applied.
        """
        with self._lock:
            if parent in self._status:
                return self._status[parent]
        data = self.data()
        scn = load_scenario(parent)
        links = apply_scenario(data, scn).links
        borders = []
        for bid, grp in links[links["border_id"].notna()].groupby("border_id", sort=True):
            st = set(grp["status"])
            borders.append({"border_id": str(bid), "names": [str(n) for n in grp["name"]],
                            "status": "open" if st == {"open"} else (
                                "closed" if "open" not in st else "mixed")})
        out = {
            "parent": parent, "parent_year": scn.year, "base_year": data.base_year,
            "max_year": max_year(data),
            "borders": borders,
            "links": [{"link_id": str(i), "name": str(r["name"]), "mode": str(r["mode"]),
                       "country": str(r["country"]), "status": str(r["status"]),
                       "capacity_tpy": None if pd.isna(r["capacity_tpy"])
                       else float(r["capacity_tpy"])}
                      for i, r in links.sort_index().iterrows()],
            "countries": sorted(set(data.zone_country().values())),
            "commodities": list(data.commodity_ids),
        }
        with self._lock:
            self._status[parent] = out
        return out

    def pair(self, a: str | None = None, b: str | None = None) -> Pair:
        """Runs A and B to compare, B - A: those given, else the default of
        :func:`karvan.web.pairs.compare_pair` (B's like-year reference as ``karvan compare``
        chooses it), with the note ``karvan compare`` gives on them.

        Raises
        ------
        NotFoundError
            ``a`` or ``b`` is not a stored run.
        """
        for x in (a, b):
            if x is not None:
                self.run(x)  # the store's message: which store, and how to list its runs
        return compare_pair(self.runs(), a=a, b=b, base_year=self.data().base_year)

    def runs(self) -> list[dict]:
        """The stored runs in the order they were committed (the newest last), as the pages and
        the API show them."""
        out = []
        for r in self.store.list().to_dict("records"):
            s = r["summary"] or {}
            missing = self._missing(r["run_id"], r["path"])
            tkm, nop = s.get("tonne_km"), s.get("no_path_t")
            out.append({"run_id": r["run_id"], "scenario": r["scenario"], "title": r["title"],
                        "year": None if pd.isna(r["year"]) else int(r["year"]),
                        "created": r["created"], "status": r["status"],
                        "tkm": f"{tkm / 1e9:,.1f}" if isinstance(tkm, (int, float)) else "",
                        "no_path": f"{nop / 1e6:,.2f}" if isinstance(nop, (int, float))
                        else "",
                        "calibration": _calibration_cell(s.get("calibration")),
                        "missing": missing, "summary": s})
        return out

    def _missing(self, run_id: str, folder: str) -> list[str]:
        """The tables a stored run lists but whose Parquet files are gone (its manifest read
        once: a stored run's never changes; its files are looked for every time)."""
        with self._lock:
            names = self._tables.get(run_id)
        if names is None:
            try:
                names = RunRecord.from_folder(folder).table_names
            except InputError:  # its manifest is gone or damaged
                return ["manifest"]
            with self._lock:
                self._tables[run_id] = names
        return [n for n in names if not (Path(folder) / f"{n}.parquet").is_file()]

    def whole(self, rec: RunRecord) -> RunRecord:
        """``rec`` after checking that it has every table it lists.

        Raises
        ------
        NotFoundError
            A table's file is gone (a 404 that names it and says what to do).
        """
        missing = [n for n in rec.table_names if not rec.has_table(n)]
        if missing:
            raise NotFoundError(missing_message({"run_id": rec.run_id or rec.label,
                                                 "scenario": rec.scenario,
                                                 "missing": missing}))
        return rec


def _calibration_cell(cal: object) -> str:
    """``fit 0.92 · validate 0.78 · check 0.18``: the median |ln M/C| of the fit, validation
    and check rows (totals of fit rows) of a run that compared any (karvan.calibrate), else
    empty."""
    if not isinstance(cal, dict):
        return ""
    parts = []
    for key, name in (("fit", "fit"), ("validate", "validate"), ("check", "check")):
        s = cal.get(key) or {}
        med = s.get("median_abs_log_ratio")
        if s.get("compared"):
            parts.append(f"{name} {med:.2f}" if isinstance(med, (int, float)) else
                         f"{name} {med}")
    return " · ".join(parts)


def dashboard(request: Request) -> Dashboard:
    """The application's :class:`Dashboard` (a FastAPI dependency)."""
    return request.app.state.dashboard
