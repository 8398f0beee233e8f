"""The HTML pages: the index (scenario builder, jobs, stored runs) and its fragments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from karvan.scenario import builtin_scenarios, load_scenario
from karvan.web.pages import render
from karvan.web.state import Dashboard, dashboard

router = APIRouter(tags=["pages"])
State = Annotated[Dashboard, Depends(dashboard)]


@router.get("/", response_class=HTMLResponse)
def index(d: State) -> HTMLResponse:
    """The dashboard: build and run a scenario, follow runs, compare and open stored runs (the
    comparison preselected: the newest project run against its like-year reference)."""
    scenarios = [load_scenario(n) for n in builtin_scenarios()]
    return HTMLResponse(render("index", store=str(d.store.root), runs=d.runs(),
                               scenarios=scenarios, base_year=d.data().base_year,
                               pair=d.pair()))


@router.get("/fragments/runs", response_class=HTMLResponse)
def runs_fragment(d: State) -> HTMLResponse:
    """The table of stored runs (refreshed when a job finishes)."""
    return HTMLResponse(render("run_rows", runs=d.runs(), store=str(d.store.root)))


@router.get("/fragments/run-options", response_class=HTMLResponse)
def run_options_fragment(d: State) -> HTMLResponse:
    """The stored runs as ``<option>`` elements for the compare selectors."""
    return HTMLResponse(render("run_options", runs=d.runs(), selected=None))
