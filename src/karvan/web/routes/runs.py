"""Stored runs: a run's page with its report, its tables as CSV and JSON, its manifest."""

from __future__ import annotations

import pathlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from karvan.errors import NotFoundError
from karvan.web.pages import render
from karvan.web.state import LANGS, Dashboard, dashboard

router = APIRouter(tags=["runs"])
State = Annotated[Dashboard, Depends(dashboard)]
Lang = Annotated[Literal["en", "ru", "fa"], Query(description="Language of the report.")]
#: a run id or a table name as a path segment: letters, digits, _ and -
RunId = Annotated[str, Path(max_length=120, pattern=r"^[A-Za-z0-9_\-]+$")]
TableName = Annotated[str, Path(max_length=60, pattern=r"^[A-Za-z0-9_\-]+$")]
#: most rows a table request returns
MAX_ROWS = 5000


def frame_json(df) -> Response:
    """A table as JSON records (NaN as null)."""
    return Response(df.to_json(orient="records", force_ascii=False),
                    media_type="application/json")


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: RunId, d: State, lang: Lang = "en") -> HTMLResponse:
    """A run: its facts, its tables as CSV links and its report in a frame; the run to compare
    it with is preselected as ``karvan compare`` chooses it (its like-year reference)."""
    rec = d.run(run_id)
    s = rec.summary
    facts = [f"run {rec.run_id}", f"{rec.scenario} · {s.get('year', '')}",
             str(rec.manifest.get("scenario", {}).get("title", ""))]
    return HTMLResponse(render(
        "viewer", heading=f"{rec.scenario}: {rec.run_id}", langs=LANGS, lang=lang,
        facts=facts, tables=rec.table_names, run_id=rec.run_id,
        others=[r for r in d.runs() if r["run_id"] != rec.run_id],
        other=d.pair(b=rec.run_id).a,
        src=f"/runs/{rec.run_id}/report?lang={lang}"))


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def run_report(run_id: RunId, d: State, lang: Lang = "en") -> HTMLResponse:
    """The self-contained report of a run."""
    return HTMLResponse(d.report([d.run(run_id)], lang))


@router.get("/runs/{run_id}/tables/{name}.csv")
def run_table_csv(run_id: RunId, name: TableName, d: State) -> Response:
    """One table of a run as the CSV file ``karvan run`` wrote.

    Raises
    ------
    NotFoundError
        No such run, table or CSV file (404).
    """
    rec = d.table(run_id, name)
    path = rec.path / f"{name}.csv"
    if not path.is_file():
        raise NotFoundError(f"run {run_id} has no CSV file of its table {name!r}.")
    return FileResponse(path, media_type="text/csv", filename=f"{run_id}_{name}.csv")


@router.get("/api/runs")
def api_runs(d: State) -> list[dict]:
    """Every stored run, in the order they were committed, with its summary."""
    return [{k: v for k, v in r.items() if k not in ("tkm", "no_path")} for r in d.runs()]


@router.get("/api/runs/{run_id}")
def api_run(run_id: RunId, d: State) -> JSONResponse:
    """A run's folder (relative to the run store: where the server keeps its files is not the
    client's to know, as in its error messages) and manifest."""
    rec = d.run(run_id)
    folder = pathlib.Path(rec.path).resolve()
    try:
        path = folder.relative_to(d.store.root.resolve()).as_posix()
    except ValueError:  # a store's runs are under it; a folder elsewhere is named alone
        path = folder.name
    return JSONResponse({"run_id": rec.run_id, "path": path, "manifest": rec.manifest})


@router.get("/api/runs/{run_id}/tables/{name}")
def api_table(run_id: RunId, name: TableName, d: State,
              limit: Annotated[int, Query(ge=0, le=MAX_ROWS)] = 100) -> Response:
    """The first ``limit`` rows of a run's table as JSON records."""
    return frame_json(d.table(run_id, name).table(name).head(limit))
