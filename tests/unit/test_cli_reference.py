"""docs/cli.md is the reference of every command and option, written from the commands."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from karvan.cli import app
from karvan.cli.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_current():
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is not the commands' reference: write it anew with "
        "`python -m karvan.cli.reference > docs/cli.md`")


def test_every_option_that_help_lists_is_in_the_reference():
    # independent of how the reference is written: the options --help prints, command by command
    text = reference()
    for cmd in ("run", "assign", "validate", "calibrate", "explore", "compare", "export",
                "report", "serve", "runs list", "data sources"):
        out = CliRunner().invoke(app, [*cmd.split(), "--help"], env={"COLUMNS": "200"}).output
        section = text.split(f"## `karvan {cmd}", 1)[1].split("\n## ", 1)[0]
        # an option's row starts with it ("│ --out  <path>  Results folder..."); wrapped help
        # lines start with spaces
        rows = [line.strip().lstrip("│").split() for line in out.splitlines()]
        listed = {o for r in rows if r and r[0].startswith("--") for o in r[0].split(",")}
        assert listed, cmd
        for opt in listed - {"--help"}:
            assert f"`{opt}`" in section, (cmd, opt)
