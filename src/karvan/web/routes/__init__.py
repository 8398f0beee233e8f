"""The dashboard's routers, one per concern: pages, runs, comparisons, scenarios, jobs."""

from __future__ import annotations

from karvan.web.routes import compare, jobs, pages, runs, scenarios

ROUTERS = (pages.router, runs.router, compare.router, scenarios.router, jobs.router)

__all__ = ["ROUTERS"]
