"""Comparisons of two stored runs: a page with the report of both, the differences as JSON,
and the pair the dashboard compares by default (a run and its like-year reference, as
``karvan compare`` chooses it), with the note on what the difference measures."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from karvan.errors import InputError
from karvan.scenario.run import compare_runs
from karvan.scenario.summary import COMPARISON
from karvan.store import RunRecord, largest_changes
from karvan.web.pages import render
from karvan.web.pairs import one_run_message
from karvan.web.routes.runs import Lang
from karvan.web.state import LANGS, Dashboard, dashboard

router = APIRouter(tags=["compare"])
State = Annotated[Dashboard, Depends(dashboard)]
RunQuery = Annotated[str, Query(max_length=120, pattern=r"^[A-Za-z0-9_\-]+$",
                                description="A stored run's id.")]
OptionalRun = Annotated[str | None, Query(max_length=120, pattern=r"^[A-Za-z0-9_\-]+$",
                                          description="A stored run's id; omitted: the "
                                                      "default.")]


def _two_runs(d: Dashboard, a: str, b: str) -> tuple[RunRecord, RunRecord]:
    """Runs A and B, checked to be two runs that have every table.

    Raises
    ------
    InputError
        A and B are one run (422).
    NotFoundError
        A run, or a table of one, is not there (404).
    """
    ra, rb = d.whole(d.run(a)), d.whole(d.run(b))
    if a == b:
        raise InputError(one_run_message(a), "compare")
    return ra, rb


@router.get("/compare", response_class=HTMLResponse)
def compare_page(a: RunQuery, b: RunQuery, d: State, lang: Lang = "en") -> HTMLResponse:
    """Run B against run A (the reference): both reports, with B's differences, and whether A
    is of B's year (else the differences include the growth of demand in between)."""
    ra, rb = _two_runs(d, a, b)
    facts = [f"A (reference): {ra.scenario} · {ra.run_id}",
             f"B: {rb.scenario} · {rb.run_id}", "differences are B − A"]
    note = d.pair(a, b).note
    if note:
        facts.append(note)
    return HTMLResponse(render(
        "viewer", heading=f"{rb.scenario} vs {ra.scenario}", langs=LANGS, lang=lang,
        facts=facts, tables=[], run_id=rb.run_id, others=[], other=None,
        src=f"/compare/report?a={ra.run_id}&b={rb.run_id}&lang={lang}"))


@router.get("/compare/report", response_class=HTMLResponse)
def compare_report(a: RunQuery, b: RunQuery, d: State, lang: Lang = "en") -> HTMLResponse:
    """The report of runs A and B, B with its differences against A."""
    return HTMLResponse(d.report(list(_two_runs(d, a, b)), lang))


@router.get("/api/compare")
def api_compare(a: RunQuery, b: RunQuery, d: State,
                limit: Annotated[int, Query(ge=0, le=5000, description=(
                    "Rows per column a table is ranked by (links: tonnes, utilization), as "
                    "`karvan compare --top`; rows of other tables."))] = 20) -> Response:
    """The largest differences B - A of links, countries, borders and skims (and the choice
    model's capacities and the shipper comparison, where both runs have them): of links,
    borders, capacities and countries the rows among the ``limit`` largest changes of each
    column ``karvan compare`` shows (:func:`karvan.store.largest_changes`; ranked by the first
    alone, a capacity raised without a tonne moved had its utilization left out)."""
    diff = compare_runs(*_two_runs(d, a, b))
    tables = {}
    for k, v in diff.items():
        cols = [c for c in COMPARISON.get(k, ("", []))[1] if f"{c}_diff" in v]
        rows = largest_changes(v, cols, top=limit) if cols else v.head(limit)
        tables[k] = json.loads(rows.to_json(orient="records", force_ascii=False))
    return Response(json.dumps({"a": a, "b": b, **tables}, ensure_ascii=False),
                    media_type="application/json")


@router.get("/api/compare/pair")
def api_compare_pair(d: State, a: OptionalRun = None, b: OptionalRun = None) -> dict:
    """Runs A and B to compare, B - A, and the note ``karvan compare`` gives on them (whether A
    is B's like-year reference). B omitted: the newest run of a project scenario; A omitted: B's
    like-year reference, else the reference of the nearest year, else the newest other run
    (:func:`karvan.web.pairs.compare_pair`)."""
    p = d.pair(a, b)
    return {"a": p.a, "b": p.b, "like_year": p.like_year, "note": p.note}
