"""The command line: parse, call, print; one module per command family.

Each module registers its commands on :data:`karvan.cli._app.app` and imports what a command needs
inside the command, so that ``karvan --help`` loads no report, store, web or geo code. A new
command family is a new module here and one line in :data:`COMMANDS`.

The command modules (and typer and rich with them) are imported when :data:`app` is first used
or :func:`main` hands over to it: a quiet ``karvan assign`` runs without them
(:mod:`karvan.cli._quick`).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    app: typer.Typer

#: the command modules, each registering its commands on the app
COMMANDS = ("assign", "calibrate", "compare", "data", "explore", "export", "report", "run",
            "runs", "serve")

__all__ = ["app", "main"]


def _load_app():
    for name in COMMANDS:
        importlib.import_module(f"karvan.cli.{name}")
    from karvan.cli._app import app

    return app


def main() -> None:
    """Entry point of the ``karvan`` command."""
    from karvan.cli._quick import quick_main

    code = quick_main(sys.argv[1:])
    if code is not None:
        import gc

        gc.freeze()  # as the full path does: no last collection walking every object
        sys.exit(code)
    _load_app()
    from karvan.cli._app import main as full_main

    full_main()


def __getattr__(name: str):
    if name == "app":
        value = _load_app()
        globals()["app"] = value
        return value
    raise AttributeError(f"module 'karvan.cli' has no attribute {name!r}")
