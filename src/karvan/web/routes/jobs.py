"""Background runs of this dashboard session: their state and progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from karvan.errors import NotFoundError
from karvan.web.state import Dashboard, dashboard

router = APIRouter(tags=["jobs"])
State = Annotated[Dashboard, Depends(dashboard)]


@router.get("/api/jobs")
def api_jobs(d: State) -> list[dict]:
    """Every job of this session, newest first."""
    return d.jobs.list()


@router.get("/api/jobs/{job_id}")
def api_job(job_id: Annotated[str, Path(max_length=40)], d: State) -> dict:
    """One job: status, stage, progress, messages and, when complete, its run id.

    Raises
    ------
    NotFoundError
        No such job in this session (404).
    """
    job = d.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r} in this dashboard session; GET /api/jobs lists "
                            "them.")
    return job
