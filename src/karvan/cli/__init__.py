"""The command line: parse, call, print; one module per command family.

Each module registers its commands on :data:`karvan.cli._app.app` and imports what a command needs
inside the command, so that ``karvan --help`` loads no report, store, web or geo code. A new
command family is a new module here and one line below.
"""

from __future__ import annotations

from karvan.cli import (  # noqa: F401
    assign,
    calibrate,
    compare,
    data,
    explore,
    export,
    report,
    run,
    runs,
    serve,
)
from karvan.cli._app import app, main

__all__ = ["app", "main"]
