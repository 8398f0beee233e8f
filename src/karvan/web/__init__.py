"""The local dashboard (``karvan serve``): list stored runs, show their report, build and run
scenarios in the background, compare runs. Sits above :mod:`karvan.scenario`; nothing below
imports it."""

from __future__ import annotations

from karvan.web.app import create_app

__all__ = ["create_app"]
