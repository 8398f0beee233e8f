"""The dashboard's routers, one per concern: pages, runs, comparisons, scenarios, jobs,
experiments."""

from __future__ import annotations

from karvan.web.routes import compare, experiments, jobs, pages, runs, scenarios

ROUTERS = (pages.router, runs.router, compare.router, scenarios.router, jobs.router,
           experiments.router)

__all__ = ["ROUTERS"]
