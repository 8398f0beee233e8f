"""The command-line reference (``docs/cli.md``), written from the commands themselves: every
command, argument and option with its default and help, as ``karvan COMMAND --help`` gives them.

    python -m karvan.cli.reference > docs/cli.md

A test checks that ``docs/cli.md`` is what this writes, so an option added without its
reference fails the tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import PurePath

HEADER = """# Command-line reference

Every command of `karvan` with its arguments and options, as `karvan COMMAND --help` gives them.
Written by `python -m karvan.cli.reference > docs/cli.md` from the commands themselves (a test
checks that it is current); README.md and docs/model.md say what the commands are for.
"""


def _commands(cmd, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], object]]:
    """The commands under ``cmd`` (a typer/click group or command), depth first in the order
    the group lists them."""
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        if not getattr(sub, "hidden", False):
            yield from _commands(sub, (*path, name))


def _text(text) -> str:
    r"""Help text as Markdown: ``<out>`` outside code spans escaped (else an HTML tag).

    >>> print(_text("Write <out>/report.html, not `<out>/x`."))
    Write \<out>/report.html, not `<out>/x`.
    """
    parts = str(text or "").split("`")
    parts[::2] = [p.replace("<", "\\<") for p in parts[::2]]
    return "`".join(parts)


def _cell(text) -> str:
    """Text for one cell of a Markdown table: on one line, its pipes escaped."""
    return _text(" ".join(str(text or "").split())).replace("|", "\\|")


def _default(p) -> str:
    """An option's default as ``--help`` means it: the flag that is on, the value, or blank."""
    d = p.default
    if getattr(p, "is_flag", False) and p.secondary_opts:
        return f"`{p.opts[0] if d else p.secondary_opts[0]}`"
    if d is None or getattr(p, "is_flag", False) or callable(d):
        return ""
    if isinstance(d, PurePath):
        d = str(d)
    if isinstance(d, (list, tuple)):
        return ", ".join(f"`{x}`" for x in d)
    return f"`{d}`"


def _usage(path: tuple[str, ...], cmd) -> str:
    """``karvan run [SCENARIOS]...`` for a command, ``karvan data COMMAND`` for a group, as
    ``--help`` writes them."""
    words = list(path)
    if getattr(cmd, "commands", None):
        words.append("COMMAND")
    for p in cmd.params:
        if p.param_type_name != "argument" or getattr(p, "hidden", False):
            continue
        name = p.name.upper() if p.required else f"[{p.name.upper()}]"
        words.append(name + ("..." if p.nargs == -1 else ""))
    return " ".join(words)


def reference(app=None) -> str:
    """``docs/cli.md``: every command of ``app`` (karvan's by default)."""
    import typer

    if app is None:
        from karvan.cli import app
    top = typer.main.get_command(app)
    lines = [HEADER]
    for path, cmd in _commands(top, ("karvan",)):
        lines.append(f"## `{_usage(path, cmd)}`\n")
        if cmd.help:
            lines.append(_text(cmd.help.strip()) + "\n")
        subs = getattr(cmd, "commands", {})
        if subs:
            lines.append("| command | |\n|---|---|")
            for n, s in subs.items():
                if not getattr(s, "hidden", False):
                    first = (s.help or "").split("\n\n")[0]  # the first paragraph
                    lines.append(f"| `{' '.join((*path, n))}` | {_cell(first)} |")
            lines.append("")
        params = [p for p in cmd.params if not getattr(p, "hidden", False)]
        if params:
            lines.append("| argument or option | default | |\n|---|---|---|")
            for p in params:
                if p.param_type_name == "argument":
                    name = f"`{p.name.upper()}{'...' if p.nargs == -1 else ''}` (argument)"
                else:
                    name = ", ".join(f"`{o}`" for o in p.opts) + "".join(
                        f" / `{o}`" for o in p.secondary_opts)
                lines.append(f"| {name} | {_default(p)} | {_cell(getattr(p, 'help', ''))} |")
            lines.append("")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Print :func:`reference`."""
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
