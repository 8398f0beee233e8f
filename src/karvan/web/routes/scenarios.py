"""The scenario builder: the form's choices, a preview of the scenario file, and starting a
run.

A form arrives as JSON from this server's own pages (the guard, :mod:`karvan.web.guard`,
refuses any other content type and other sites' pages for every request that changes
something). It is checked in two steps: its
shape and size by :class:`~karvan.web.models.ScenarioForm` (422 with field locations), then its
meaning by :func:`~karvan.web.forms.build_scenario` (422 with every problem in words).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from karvan.errors import InputError
from karvan.scenario import Scenario, builtin_scenarios
from karvan.web.forms import build_scenario
from karvan.web.models import ScenarioForm
from karvan.web.state import Dashboard, dashboard

router = APIRouter(tags=["scenarios"])
State = Annotated[Dashboard, Depends(dashboard)]


async def read_form(request: Request) -> ScenarioForm:
    """The scenario form of a request, its shape checked.

    Raises
    ------
    InputError
        Not JSON.
    fastapi.exceptions.RequestValidationError
        The JSON does not have the form's shape (answered 422 with the locations).
    """
    try:
        raw = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise InputError("the request body is not JSON; send the scenario form as a JSON "
                         "object.", "scenario form") from None
    try:
        return ScenarioForm.model_validate(raw)
    except ValidationError as e:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None


Form = Annotated[ScenarioForm, Depends(read_form)]


async def _scenario(form: ScenarioForm, d: Dashboard) -> tuple[Scenario, str]:
    return await run_in_threadpool(build_scenario, form.as_form(), d.data())


@router.get("/api/options")
def api_options(d: State, extends: Annotated[str, Query(max_length=60)] = "baseline"
                ) -> JSONResponse:
    """The form's choices (links, borders and their states, countries, commodities) as the
    built-in scenario ``extends`` leaves them.

    Raises
    ------
    InputError
        ``extends`` is not a built-in scenario (422).
    """
    if extends not in builtin_scenarios():
        raise InputError(f"extends must be a built-in scenario: "
                         f"{', '.join(builtin_scenarios())}.", "scenario form")
    return JSONResponse(d.options(extends))


@router.post("/api/scenario/preview")
async def api_preview(form: Form, d: State) -> JSONResponse:
    """The scenario file the form makes, without running it, and what it warns of (values
    allowed but unusual)."""
    scenario, toml = await _scenario(form, d)
    return JSONResponse({"toml": toml, "scenario": scenario.to_dict(),
                         "warnings": list(scenario.warned)})


@router.post("/api/jobs", status_code=202)
async def api_submit(form: Form, d: State) -> JSONResponse:
    """Start a run of the form's scenario in the background; poll ``Location`` for it."""
    scenario, toml = await _scenario(form, d)
    lp = form.lp
    job = d.jobs.submit(scenario, toml, lp=lp is not False)
    return JSONResponse(job, status_code=202, headers={"Location": f"/api/jobs/{job['job_id']}"})
