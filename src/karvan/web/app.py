"""The dashboard application: routes over the run store, the report and the job registry.

Pages (HTML) and a JSON API under ``/api``; input problems answer 422 with the list of
problems, unknown runs 404. The report of a run is :func:`karvan.report.render_report`, served
as its own page and shown in a frame; nothing is loaded from another host.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from karvan.errors import InputError
from karvan.freight.corridor import CorridorData, load_corridor
from karvan.report import render_report
from karvan.report.i18n import check_lang
from karvan.scenario import builtin_scenarios, load_scenario
from karvan.scenario.apply import apply_scenario
from karvan.scenario.run import compare_runs
from karvan.store import RunRecord, RunStore
from karvan.web.forms import MAX_YEAR, build_scenario
from karvan.web.jobs import JobRegistry
from karvan.web.pages import render

log = logging.getLogger(__name__)

LANGS = (("en", "English"), ("ru", "Русский"), ("fa", "فارسی"))
#: reports kept rendered in memory (runs never change once stored)
REPORT_CACHE = 16
#: most rows a table request returns
MAX_ROWS = 5000


class _Shared:
    """What the routes share: the store, the corridor data (loaded once), the jobs, caches."""

    def __init__(self, store: RunStore, data: CorridorData | None, workers: int) -> None:
        self.store = store
        self._data = data
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple, str] = OrderedDict()
        self._status: dict[str, dict] = {}
        self.jobs = JobRegistry(store, self.data, workers=workers)

    def data(self) -> CorridorData:
        with self._lock:
            if self._data is None:
                self._data = load_corridor()
            return self._data

    def report(self, records: Sequence[RunRecord], lang: str) -> str:
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
        """The form's choices, with link and border states as the parent scenario leaves them."""
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
            "max_year": MAX_YEAR,
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


def _problem(e: InputError, status: int = 422) -> JSONResponse:
    return JSONResponse({"detail": str(e), "problems": e.problems}, status_code=status)


def _runs(store: RunStore) -> list[dict]:
    df = store.list()
    out = []
    for r in df.to_dict("records"):
        s = r["summary"] or {}
        tkm, nop = s.get("tonne_km"), s.get("no_path_t")
        out.append({"run_id": r["run_id"], "scenario": r["scenario"], "title": r["title"],
                    "year": None if pd.isna(r["year"]) else int(r["year"]),
                    "created": r["created"], "status": r["status"],
                    "tkm": f"{tkm / 1e9:,.1f}" if isinstance(tkm, (int, float)) else "",
                    "no_path": f"{nop / 1e6:,.2f}" if isinstance(nop, (int, float)) else "",
                    "summary": s})
    return out


def _frame(df: pd.DataFrame) -> Response:
    """A table as JSON records (NaN as null)."""
    return Response(df.to_json(orient="records", force_ascii=False),
                    media_type="application/json")


def create_app(store_root: str | os.PathLike, *, data: CorridorData | None = None,
               workers: int = 2) -> FastAPI:
    """The dashboard over the run store at ``store_root`` (created if missing).

    Parameters
    ----------
    store_root
        The run store folder (``karvan run --store``).
    data
        The corridor data scenarios apply to; default: the built-in dataset, loaded on first
        use.
    workers
        Scenario runs at the same time; more wait in a queue.
    """
    shared = _Shared(RunStore(store_root), data, workers)
    store = shared.store

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        shared.jobs.shutdown(wait=False)

    app = FastAPI(title="karvan dashboard", lifespan=lifespan, docs_url="/api/docs",
                  redoc_url=None)
    app.state.shared = shared

    def get_run(run_id: str) -> RunRecord:
        return store.get(run_id)

    def error_page(heading: str, problems: list[str], status: int) -> HTMLResponse:
        return HTMLResponse(render("error", heading=heading, problems=problems),
                            status_code=status)

    # -- pages ---------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        scenarios = [load_scenario(n) for n in builtin_scenarios()]
        return HTMLResponse(render("index", store=str(store.root), runs=_runs(store),
                                   scenarios=scenarios, base_year=shared.data().base_year))

    @app.get("/fragments/runs", response_class=HTMLResponse)
    def runs_fragment() -> HTMLResponse:
        return HTMLResponse(render("run_rows", runs=_runs(store), store=str(store.root)))

    @app.get("/fragments/run-options", response_class=HTMLResponse)
    def run_options_fragment() -> HTMLResponse:
        return HTMLResponse(render("run_options", runs=_runs(store)))

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, lang: str = "en") -> HTMLResponse:
        try:
            rec = get_run(run_id)
            check_lang(lang)
        except InputError as e:
            return error_page(f"Run {run_id}", e.problems, 404)
        s = rec.summary
        facts = [f"run {rec.run_id}", f"{rec.scenario} · {s.get('year', '')}",
                 str(rec.manifest.get("scenario", {}).get("title", ""))]
        return HTMLResponse(render(
            "viewer", heading=f"{rec.scenario}: {rec.run_id}", langs=LANGS, lang=lang,
            facts=facts, tables=rec.table_names, run_id=rec.run_id,
            others=[r for r in _runs(store) if r["run_id"] != rec.run_id],
            src=f"/runs/{rec.run_id}/report?lang={lang}"))

    @app.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def run_report(run_id: str, lang: str = "en") -> Response:
        try:
            check_lang(lang)
            return HTMLResponse(shared.report([get_run(run_id)], lang))
        except InputError as e:
            return error_page(f"Run {run_id}", e.problems, 404)

    @app.get("/runs/{run_id}/tables/{name}.csv")
    def run_table_csv(run_id: str, name: str) -> Response:
        try:
            rec = get_run(run_id)
        except InputError as e:
            return _problem(e, 404)
        if name not in rec.table_names or not (rec.path / f"{name}.csv").is_file():
            return _problem(InputError(f"run {run_id} has no table {name!r}; its tables: "
                                       f"{', '.join(rec.table_names)}."), 404)
        return FileResponse(rec.path / f"{name}.csv", media_type="text/csv",
                            filename=f"{run_id}_{name}.csv")

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(a: str, b: str, lang: str = "en") -> HTMLResponse:
        try:
            ra, rb = get_run(a), get_run(b)
            check_lang(lang)
        except InputError as e:
            return error_page("Compare", e.problems, 404)
        facts = [f"A (reference): {ra.scenario} · {ra.run_id}",
                 f"B: {rb.scenario} · {rb.run_id}", "differences are B − A"]
        return HTMLResponse(render(
            "viewer", heading=f"{rb.scenario} vs {ra.scenario}", langs=LANGS, lang=lang,
            facts=facts, tables=[], run_id=rb.run_id, others=[],
            src=f"/compare/report?a={ra.run_id}&b={rb.run_id}&lang={lang}"))

    @app.get("/compare/report", response_class=HTMLResponse)
    def compare_report(a: str, b: str, lang: str = "en") -> Response:
        try:
            check_lang(lang)
            return HTMLResponse(shared.report([get_run(a), get_run(b)], lang))
        except InputError as e:
            return error_page("Compare", e.problems, 404)

    # -- API -----------------------------------------------------------------------------------

    @app.get("/api/runs")
    def api_runs() -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("tkm", "no_path")}
                for r in _runs(store)]

    @app.get("/api/runs/{run_id}")
    def api_run(run_id: str) -> Response:
        try:
            rec = get_run(run_id)
        except InputError as e:
            return _problem(e, 404)
        return JSONResponse({"run_id": rec.run_id, "path": str(rec.path),
                             "manifest": rec.manifest})

    @app.get("/api/runs/{run_id}/tables/{name}")
    def api_table(run_id: str, name: str, limit: int = 100) -> Response:
        try:
            rec = get_run(run_id)
            if name not in rec.table_names:
                raise InputError(f"run {run_id} has no table {name!r}; its tables: "
                                 f"{', '.join(rec.table_names)}.")
        except InputError as e:
            return _problem(e, 404)
        return _frame(rec.table(name).head(max(0, min(limit, MAX_ROWS))))

    @app.get("/api/compare")
    def api_compare(a: str, b: str, limit: int = 20) -> Response:
        try:
            diff = compare_runs(get_run(a), get_run(b))
        except InputError as e:
            return _problem(e, 404)
        n = max(0, min(limit, MAX_ROWS))
        body = ",".join(f'"{k}":{v.head(n).to_json(orient="records", force_ascii=False)}'
                        for k, v in diff.items())
        return Response(f'{{"a":"{a}","b":"{b}",{body}}}', media_type="application/json")

    @app.get("/api/options")
    def api_options(extends: str = "baseline") -> Response:
        from karvan.scenario import builtin_scenarios

        if extends not in builtin_scenarios():
            return _problem(InputError(f"extends must be a built-in scenario: "
                                       f"{', '.join(builtin_scenarios())}.", "scenario form"))
        try:
            return JSONResponse(shared.options(extends))
        except InputError as e:
            return _problem(e)

    async def _form(request: Request):
        # a page on another site can post text/plain across origins without asking: accept
        # JSON only, and only from this server's own pages
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise InputError("send the scenario form as application/json.", "scenario form")
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is not None and origin.split("://", 1)[-1].rstrip("/") != host:
            raise InputError(f"requests from {origin} are not accepted; use the dashboard's own "
                             "page.", "scenario form")
        try:
            form = await request.json()
        except ValueError:
            raise InputError("the request body is not JSON; send the scenario form as a JSON "
                             "object.", "scenario form") from None
        scenario, toml = await run_in_threadpool(build_scenario, form, shared.data())
        return form, scenario, toml

    @app.post("/api/scenario/preview")
    async def api_preview(request: Request) -> Response:
        try:
            _, scenario, toml = await _form(request)
        except InputError as e:
            return _problem(e)
        return JSONResponse({"toml": toml, "scenario": scenario.to_dict()})

    @app.post("/api/jobs", status_code=202)
    async def api_submit(request: Request) -> Response:
        try:
            form, scenario, toml = await _form(request)
        except InputError as e:
            return _problem(e)
        lp = form.get("lp", True)
        job = shared.jobs.submit(scenario, toml, lp=lp is not False and lp != "false")
        return JSONResponse(job, status_code=202,
                            headers={"Location": f"/api/jobs/{job['job_id']}"})

    @app.get("/api/jobs")
    def api_jobs() -> list[dict]:
        return shared.jobs.list()

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str) -> Response:
        job = shared.jobs.get(job_id)
        if job is None:
            return _problem(InputError(f"no job {job_id!r} in this dashboard session; "
                                       "GET /api/jobs lists them."), 404)
        return JSONResponse(job)

    log.info("dashboard over the run store %s", Path(store.root).resolve())
    return app
