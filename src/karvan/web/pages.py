"""The dashboard's pages: Jinja templates (``web/templates/*.html``), rendered with autoescaping;
style and script are package files too (``web/static/``, served under ``/static``). Nothing
is loaded from another host."""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

#: the folder of the dashboard's style and script
STATIC = resources.files("karvan.web") / "static"

_ENV = Environment(loader=PackageLoader("karvan.web", "templates"),
                   autoescape=select_autoescape(["html"], default=True),
                   undefined=StrictUndefined, trim_blocks=False)


def render(name: str, **context: Any) -> str:
    """One page or fragment (``templates/<name>.html``).

    Raises
    ------
    jinja2.TemplateNotFound
        No such template.
    """
    return _ENV.get_template(f"{name}.html").render(**context)
