"""docs/cli.md is the reference of every command and option, written from the commands."""

from __future__ import annotations

from pathlib import Path

from karvan.cli import app
from karvan.cli.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_current():
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is not the commands' reference: write it anew with "
        "`python -m karvan.cli.reference > docs/cli.md`")


def test_every_command_and_option_is_in_its_section():
    import typer

    text = reference()

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))

    commands = list(walk(typer.main.get_command(app), ("karvan",)))
    assert len(commands) > 15
    sections = {}
    for chunk in text.split("\n## `")[1:]:
        words = chunk.split("`", 1)[0].split()
        # the command's own words: then its arguments (upper case) or COMMAND
        own = tuple(w for w in words if w.islower() and not w.startswith("["))
        assert own not in sections, own
        sections[own] = chunk
    for path, cmd in commands:
        section = sections[path]
        for p in cmd.params:
            for opt in (*p.opts, *p.secondary_opts):
                shown = f"`{opt.upper()}" if p.param_type_name == "argument" else f"`{opt}`"
                assert shown in section, (path, opt)
