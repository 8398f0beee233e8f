"""Experiments: start one in the background, follow its progress, read its page."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from karvan.errors import NotFoundError
from karvan.web.state import Dashboard, dashboard

router = APIRouter(tags=["experiments"])
State = Annotated[Dashboard, Depends(dashboard)]
_ID = re.compile(r"^(?!\.+$)[A-Za-z0-9_\-.]+$")  # not "." or ".."


class ExperimentRequest(BaseModel):
    """An experiment to start: scenarios (none: every built-in one), draws, sampler, seed, choice
    model (none: what ``karvan run`` uses)."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[Annotated[str, Field(max_length=80, pattern=r"^[A-Za-z0-9_\-]+$")]] = Field(
        default_factory=list, max_length=20)
    draws: int = Field(ge=2, le=100_000)
    sampler: str = Field(default="lhs", pattern="^(lhs|sobol|morris)$")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    choice: str | None = Field(default=None, pattern="^(logit|deterministic)$")


@router.post("/api/experiments", status_code=202)
def api_start(req: ExperimentRequest, d: State) -> dict:
    """Start an experiment in the background (one at a time); its job."""
    return d.experiments.submit(req.scenarios, draws=req.draws, sampler=req.sampler,
                                seed=req.seed, choice=req.choice)


@router.get("/api/experiments")
def api_list(d: State) -> dict:
    """The experiments of this session (with their progress) and those in the store."""
    from karvan.explore.experiment import list_experiments

    stored = list_experiments(d.store.root)
    return {"jobs": d.experiments.list(),
            "stored": stored.drop(columns=["folder"]).to_dict(orient="records")}


@router.get("/api/experiments/{job_id}")
def api_job(job_id: Annotated[str, Path(max_length=40)], d: State) -> dict:
    """One experiment job: status, draws done of all, and its page when complete.

    Raises
    ------
    NotFoundError
        No such job in this dashboard session (404).
    """
    job = d.experiments.get(job_id)
    if job is None:
        raise NotFoundError(f"no experiment job {job_id!r} in this dashboard session; GET "
                            "/api/experiments lists them.")
    return job


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
def page(experiment_id: Annotated[str, Path(max_length=120)], d: State) -> HTMLResponse:
    """The page of a complete experiment in the store.

    Raises
    ------
    NotFoundError
        No such experiment in the store (404).
    """
    from karvan.report.uncertainty import render_experiment_page

    folder = d.store.root / "experiments" / experiment_id
    if not _ID.match(experiment_id) or not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no experiment {experiment_id!r} in the store.")
    return HTMLResponse(render_experiment_page(folder))
