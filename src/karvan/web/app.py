"""The dashboard application: the guard, the routers and the one error mapping.

Pages (HTML) and a JSON API under ``/api``. Every error answers in one format,
``{"detail": <message>, "problems": [<message>, ...]}``, with ``errors`` (each with ``loc``,
``msg`` and ``type``) where the request's shape was wrong; pages get the same as an HTML page:

======================================  ======
what                                    status
======================================  ======
a ``Host`` this server does not answer  400
a change from another site's page       403
a run, table or job that is not there   404
a body larger than the limit            413
a change not sent as JSON               415
malformed or bad input (shape, values)  422
too many runs queued                    429
the run store gone or unreadable        503
======================================  ======

Nothing is loaded from another host (so there are no ``/api/docs`` pages: FastAPI's load
Swagger UI from a CDN; the API's description is ``/openapi.json``); the report of a run is
:func:`karvan.report.render_report`, served as its own page and shown in a frame.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from karvan.errors import InputError, NotFoundError
from karvan.freight.corridor import CorridorData
from karvan.store import RunStore
from karvan.web.guard import MAX_BODY_BYTES, Guard, allowed_hosts
from karvan.web.jobs import MAX_QUEUED, BusyError
from karvan.web.pages import STATIC, render
from karvan.web.routes import ROUTERS
from karvan.web.state import Dashboard

log = logging.getLogger(__name__)


def create_app(store_root: str | os.PathLike, *, data: CorridorData | None = None,
               workers: int = 2, host: str | None = None, allow_hosts: Iterable[str] = (),
               max_body_bytes: int = MAX_BODY_BYTES, max_queued: int = MAX_QUEUED) -> Guard:
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
    host
        The address the server is bound to; it is accepted in ``Host`` headers besides
        127.0.0.1, localhost and ::1 (unless it is a wildcard such as 0.0.0.0).
    allow_hosts
        More names to accept in ``Host`` headers (the machine's name, when serving others).
    max_body_bytes
        Longest request body.
    max_queued
        Most runs queued or running at once.

    Returns
    -------
    Guard
        The ASGI application: :class:`~karvan.web.guard.Guard` in front of the FastAPI
        application (``.app``).

    Raises
    ------
    InputError
        ``store_root`` cannot hold a run store.
    """
    d = Dashboard(RunStore(store_root), data, workers=workers, max_queued=max_queued)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        running = d.jobs.shutdown(wait=False) + d.experiments.shutdown(wait=False)
        if running:
            # they end with the process; a run or an experiment is saved whole or not at all
            log.warning("the dashboard stops with %d job(s) running (%s): what they had not "
                        "saved is lost; start them again when the dashboard is back.",
                        len(running), ", ".join(_job_name(j) for j in running))

    app = FastAPI(title="karvan dashboard", lifespan=lifespan, docs_url=None,
                  redoc_url=None)  # their pages load scripts from a CDN (see the module)
    app.state.dashboard = d
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_exception_handler(NotFoundError, _handler(404))
    app.add_exception_handler(BusyError, _handler(429))
    app.add_exception_handler(InputError, _handler(422))
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(sqlite3.Error, _store_gone)
    log.info("dashboard over the run store %s", d.store.root.resolve())
    return Guard(app, hosts=allowed_hosts(host, allow_hosts), max_body_bytes=max_body_bytes)


def _job_name(job: dict) -> str:
    """A job as the dashboard's log names it: its scenario, or an experiment's scenarios."""
    if "scenario" in job:
        return str(job["scenario"])
    return "experiment of " + (", ".join(map(str, job.get("scenarios") or []))
                               or "the built-in scenarios")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/fragments/")) or \
        request.url.path.endswith(".csv")


def _answer(request: Request, status: int, message: str, problems: list[str],
            errors: list[dict] | None = None) -> Response:
    if _wants_json(request):
        body: dict = {"detail": message, "problems": problems}
        if errors is not None:
            body["errors"] = errors
        return JSONResponse(body, status_code=status)
    heading = {404: "Not found", 429: "Busy"}.get(status, "Cannot do that")
    return HTMLResponse(render("error", heading=heading, problems=problems),
                        status_code=status)


def _handler(status: int):
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        root = request.app.state.dashboard.store.root
        return _answer(request, status, in_store_terms(str(exc), root),
                       [in_store_terms(p, root) for p in exc.problems])
    return handle


def in_store_terms(text: str, root: str | os.PathLike) -> str:
    """``text`` with the run store's folder left out: a path in the store relative to it
    (``runs/<run id>/links.parquet``), the store itself as "the run store". The layers below
    name files by their full paths, which an answer must not show (where the server keeps its
    files is none of a client's business).

    Examples
    --------
    >>> in_store_terms("/srv/k/runs/r1/links.parquet is missing; /srv/k holds it", "/srv/k")
    'runs/r1/links.parquet is missing; the run store holds it'
    >>> in_store_terms("no file /srv/k2/data.csv", "/srv/k")
    'no file /srv/k2/data.csv'
    """
    root = Path(root)
    forms = {str(root), str(root.resolve())}
    for form in sorted(forms, key=len, reverse=True):
        # whole path components only: /srv/k is not the start of /srv/k2, and a store called
        # runs is not cut from runs/<run id> within it
        head = rf"(?<![\w.\-{re.escape(os.sep)}]){re.escape(form)}"
        text = re.sub(head + re.escape(os.sep), "", text)
        if os.path.isabs(form):  # a relative name may be a word of the message
            text = re.sub(head + r"(?![\w.\-])", "the run store", text)
    return text


async def _store_gone(request: Request, exc: Exception) -> Response:
    """The run store's catalog cannot be read (its folder deleted or moved while the dashboard
    runs): 503 with what to do, not a bare 500."""
    root = request.app.state.dashboard.store.root.resolve()
    cat = root / "catalog.sqlite"
    if cat.is_file() and cat.stat().st_size == 0:
        # SQLite made an empty file where the catalog was deleted: not left for a backup to
        # be put over, and said as gone
        with contextlib.suppress(OSError):
            cat.unlink()
    gone = not cat.is_file()
    log.error("the run store %s cannot be read: %s", root, exc)
    # the folder is in the server's log, not in the answer (where the server keeps its files
    # is none of a client's business)
    message = ("the run store " + ("is gone (its catalog.sqlite is missing)" if gone
                                   else f"cannot be read ({in_store_terms(str(exc), root)})")
               + "; put it back, or stop the dashboard and start it again with --store (its "
               "folder is in the server's log).")
    return _answer(request, 503, message, [message])


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    problems = [f"{'.'.join(e['loc'][1:] if len(e['loc']) > 1 else e['loc'])}: {e['msg']}"
                for e in errors]
    return _answer(request, 422, f"{len(problems)} problem(s) in the request: "
                                 + "; ".join(problems[:5]), problems, errors)
