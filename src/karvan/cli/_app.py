"""The ``karvan`` application, its consoles and the one error path of every command.

Every command module of :mod:`karvan.cli` registers its commands on :data:`app` and imports what
it needs inside its functions, so that ``karvan --help`` and the light commands load none of the
report, store, web or geo stacks.

Exit codes
----------
0
    done.
1
    done, but not as asked (an equilibrium that did not converge; an answer of "no"); or
    standard output was closed by its reader (``karvan ... | head``): the rest is dropped
    without a message.
2
    bad input: a :class:`~karvan.errors.KarvanError` (an :class:`~karvan.errors.InputError`
    names the file, line and id), a file that cannot be read or written, or a bad option.
3
    an internal error: a short message, where the traceback was written and where to report
    it; ``karvan --debug ...`` shows the traceback instead.
130
    interrupted (Ctrl-C); results are written whole or not at all, so nothing is half-written.
    An exception raised from a Ctrl-C or while handling one counts as Ctrl-C (numba turns one
    that arrives inside a compiled function into a ``SystemError``).

SIGTERM is not caught here: ``karvan run`` removes what it had not finished and stops its worker
processes, then the process ends as SIGTERM ends it (:mod:`karvan.scenario._signals`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import traceback
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from karvan._version import __version__

#: longest line of an error message that is shown whole; longer lines (a 40,000-character token
#: echoed by a reader, a long list of ids) are cut in the middle, with a count of what was left
#: out, so that their end, where a message gives its remedy, is kept
MAX_LINE = 400
#: characters kept from the end of a line that is cut
KEEP_END = 160
#: how far a cut moves to fall between words
_SNAP = 30
EXIT_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
REPORT_TO = ("please report it, with the command you ran and that file, on the karvan issue "
             "tracker")

console = Console(stderr=True)
out = Console()

#: width of the tables where standard output is a file or a pipe and COLUMNS is not set
PIPE_WIDTH = 120
#: width of messages and progress where standard error is a file or a pipe and COLUMNS is not set
PIPE_WIDTH_STDERR = 80


def fit_width(c: Console, pipe_width: int = PIPE_WIDTH) -> None:
    """Set the width of ``c`` for the command about to run: ``COLUMNS`` where it is set, else
    ``pipe_width`` for files and pipes, else the terminal's as rich measures it. Done per
    command, not once at import, so that every command of a process (a script or a test
    calling several) reads its own environment.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        c.width = int(columns)
    elif not c.is_terminal:
        c.width = pipe_width


def shorten(message: str, limit: int = MAX_LINE) -> str:
    r"""``message`` with every line longer than ``limit`` characters cut in the middle: its
    start and its last :data:`KEEP_END` characters (at most half of ``limit``) are kept, the cut
    moved to a space where one is near, so that the remedy at the end of a message stays. A
    line that the cut would not make shorter is kept whole.

    Examples
    --------
    >>> shorten("x" * 100 + "\nok", limit=40)
    'xxxxxxxxxxxxxxxxxxxx ... (60 more characters) ... xxxxxxxxxxxxxxxxxxxx\nok'
    >>> shorten("ids: " + ", ".join(map(str, range(200))) + "; delete them.", limit=60)
    'ids: 0, 1, 2, 3, 4, 5, 6, 7, ... (852 more characters) ... 197, 198, 199; delete them.'
    """
    lines = []
    for line in str(message).splitlines() or [""]:
        if len(line) > limit:
            tail = min(KEEP_END, limit // 2)
            head, start = limit - tail, len(line) - tail
            space = line.rfind(" ", max(0, head - _SNAP), head)
            head = space if space > 0 else head
            space = line.find(" ", start, start + _SNAP)
            start = space + 1 if space >= 0 else start
            cut = start - head
            short = (f"{line[:head]} ... ({cut:,} more character{'s' * (cut != 1)}) ... "
                     f"{line[start:]}")
            line = short if len(short) < len(line) else line
        lines.append(line)
    return "\n".join(lines)


def invocation(ctx: typer.Context) -> dict[str, Any]:
    """The command being run and every option's value (given or default), for a manifest:
    ``{"command": "karvan calibrate", "options": {"data": "...", "write": true, ...}}``."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, os.PathLike):  # where it was, whichever folder it was run from
            return os.path.abspath(v)
        return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)

    return {"command": ctx.command_path,
            "options": {k: plain(v) for k, v in sorted(ctx.params.items())}}


def print_error(message: str) -> None:
    """Print ``error: <message>`` to standard error, long lines cut, the message as plain text
    (square brackets in it are not read as markup)."""
    console.print(Text.assemble(("error: ", "bold red"), shorten(message)), soft_wrap=True)


def _write_traceback(exc: BaseException) -> str | None:
    """Write the traceback of ``exc`` to a new file in the temporary folder; its path, or
    ``None`` where that fails."""
    try:
        fd, path = tempfile.mkstemp(prefix="karvan-error-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"karvan {__version__}, Python {sys.version.split()[0]}\n")
            f.write(f"command: {' '.join(sys.argv)}\n\n")
            f.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


#: a numpydoc section header of a command's docstring ("Raises" over a line of dashes): the help
#: a user reads ends before it (the sections are for the API's readers)
_SECTION = re.compile(r"^[ \t]*[A-Z][A-Za-z ]*\n[ \t]*-{3,}[ \t]*$", re.MULTILINE)
#: a line that starts a list item or is indented: kept on a line of its own
_OWN_LINE = re.compile(r"^(\s|[-*] |\d+[.)] )")


def tidy_help(text: str | None) -> str | None:
    r"""A command's docstring as its ``--help`` shows it: cut before the first numpydoc section
    (``Raises``, ``Returns``, ...), the lines of each paragraph joined (the terminal wraps
    them to its width; list items and indented lines keep their own lines), reST's double
    backquotes made single.

    Examples
    --------
    >>> tidy_help("Run it.\n\nWrites a and\nb.\n\nRaises\n------\nInputError\n    Bad.")
    'Run it.\n\nWrites a and b.'
    >>> tidy_help("Lists:\n- one\n- two")
    'Lists:\n- one\n- two'
    """
    if not text:
        return text
    # typer hands over the docstring already dedented (inspect.getdoc): dedenting again would
    # take an indented example block's indentation away
    m = _SECTION.search(text)
    if m:
        text = text[:m.start()]
    paragraphs = []
    for para in re.split(r"\n[ \t]*\n", text.strip()):
        lines = para.split("\n")
        joined = [lines[0]]
        keep = lines[0].startswith("\b")  # click's mark: the paragraph's lines as written
        for line in lines[1:]:
            if keep or _OWN_LINE.match(line):
                joined.append(line)
            else:
                joined[-1] = f"{joined[-1].rstrip()} {line.strip()}"
        paragraphs.append("\n".join(joined))
    return "\n\n".join(paragraphs).replace("``", "`")


def _tidy_helps(group) -> None:
    for cmd in group.commands.values():
        cmd.help = tidy_help(cmd.help)
        if hasattr(cmd, "commands"):
            _tidy_helps(cmd)


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error on it)."""
    try:
        import select

        p = select.poll()
        p.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in p.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def warnings_as_lines():
    """Show karvan's own warnings as ``warning: <message>`` lines on standard error while the
    command runs, as ``karvan validate`` prints the problems it only warns of; Python's form
    (``/…/reference.py:215: CorridorWarning: …`` and a line of karvan's source) names a place
    in karvan's code, not in the user's input, which the message itself names.

    Which warnings are shown is still decided by the filters (``-W``, ``PYTHONWARNINGS``, a
    warning turned into an error is raised as before); other packages' warnings keep Python's
    form, whose file and line are then the useful part. The previous display is restored
    afterwards (a script or a test may call several commands in one process).
    """
    import warnings

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if file is not None or not category.__module__.startswith("karvan"):
            shown(message, category, filename, lineno, file, line)
            return
        console.print(Text.assemble(("warning:", "yellow"), " ", str(message)),
                      highlight=False, soft_wrap=True)

    log = logging.getLogger("karvan")
    handler = None
    if not logging.getLogger().handlers and not log.handlers:
        # nothing configured (the command line): karvan's log records at WARNING and above
        # would reach Python's last-resort handler, which prints the bare message
        handler = _LineHandler(logging.WARNING)
        log.addHandler(handler)
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        if handler is not None:
            log.removeHandler(handler)


class _LineHandler(logging.Handler):
    """Prints a log record as ``warning: <message>`` (``error: …`` at ERROR) on standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.print(Text.assemble((f"{record.levelname.lower()}:", "yellow"), " ",
                                        record.getMessage()), highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


class KarvanGroup(TyperGroup):
    """The command group that turns exceptions into messages and exit codes (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_helps(self)

    def invoke(self, ctx: typer.Context) -> Any:
        """Run the command; map its exceptions to a message and an exit code.

        Raises
        ------
        typer.Exit
            With the exit code of the module's table, after printing the message.
        typer.Abort
            Passed on: the command line's own exits, usage errors and aborts, as
            :class:`~typer.exceptions.TyperException` subclasses too.
        KarvanError
            Passed on with ``--debug``, as any other exception is (OSError included).
        TyperException
            As :class:`typer.Abort`.
        OSError
            As :class:`KarvanError`.
        BrokenPipeError
            Passed on: typer ends the process with 1, without a message.
        """
        from karvan.errors import KarvanError

        debug = bool(ctx.params.get("debug")) or os.environ.get("KARVAN_DEBUG") == "1"
        fit_width(out)
        fit_width(console, PIPE_WIDTH_STDERR)
        try:
            try:
                with warnings_as_lines():
                    return super().invoke(ctx)
            except (typer.Exit, typer.Abort, TyperException):
                raise
            except Exception as e:
                if interrupted_by(e):
                    # a Ctrl-C that code in between turned into another exception (numba's
                    # "SystemError: CPUDispatcher(...) returned a result with an exception set")
                    _interrupted(ctx.invoked_subcommand)
                raise
        except (typer.Exit, typer.Abort, TyperException):
            raise  # exit codes, usage errors and aborts of the command line itself
        except KeyboardInterrupt:
            _interrupted(ctx.invoked_subcommand)
        except BrokenPipeError:
            if _stdout_gone():
                raise  # the reader of standard output has gone (``| head``): typer exits 1
            # another pipe (a worker process's): an internal error, below
            if debug:
                raise
            _internal_error(sys.exc_info()[1])
        except KarvanError as e:
            if debug:
                raise
            print_error(str(e))
            raise typer.Exit(EXIT_INPUT) from None
        except OSError as e:
            # a file that cannot be read or written: the user's environment, not a bug
            if debug:
                raise
            what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
            print_error(f"{what} ({type(e).__name__}).")
            raise typer.Exit(EXIT_INPUT) from None
        except Exception as e:
            if debug:
                raise
            _internal_error(e)


#: what the same command again does after an interruption, where it does more than start over
RESUMES = {"explore": " The same command again resumes the experiment: every draw written is "
                      "kept.",
           "run": " The scenarios already saved are kept in the run store (karvan runs "
                  "list), whether or not the report was written; they are saved in the order "
                  "given, so one solved after an unfinished one is not."}


def _interrupted(command: str | None = None) -> None:
    """Say that the command was interrupted (and, for ``explore``, that it resumes), exit 130.

    Raises
    ------
    typer.Exit
        Always, with :data:`EXIT_INTERRUPTED`.
    """
    console.print()
    console.print("[yellow]interrupted[/]: nothing was half-written (results are written whole "
                  "or not at all)." + RESUMES.get(command or "", ""), highlight=False)
    raise typer.Exit(EXIT_INTERRUPTED) from None


def interrupted_by(e: BaseException) -> bool:
    """Whether ``e``, or an exception it was raised from or while handling (its causes and
    contexts, followed to the end), is a :class:`KeyboardInterrupt`.

    Examples
    --------
    >>> try:
    ...     try:
    ...         raise KeyboardInterrupt
    ...     except KeyboardInterrupt as k:
    ...         raise SystemError("returned a result with an exception set") from k
    ... except SystemError as e:
    ...     interrupted_by(e), interrupted_by(ValueError())
    (True, False)
    """
    todo, seen = [e], set()
    while todo:
        x = todo.pop()
        if x is None or id(x) in seen:
            continue
        if isinstance(x, KeyboardInterrupt):
            return True
        seen.add(id(x))
        todo += [x.__cause__, x.__context__]
    return False


def _internal_error(e: BaseException) -> None:
    """Print the short message of an internal error, write its traceback to a file, exit 3.

    Raises
    ------
    typer.Exit
        Always, with :data:`EXIT_INTERNAL`.
    """
    path = _write_traceback(e)
    print_error(f"internal error in karvan {__version__}: {type(e).__name__}: {e}")
    where = f"the traceback is in {path}; " if path else ""
    console.print(f"This is a bug: {where}{REPORT_TO}. `karvan --debug ...` shows the "
                  "traceback.", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    name="karvan",
    cls=KarvanGroup,
    help="karvan: an open freight-corridor network model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"karvan {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and stop.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error "
                                                        "instead of a short message.")] = False,
) -> None:
    """karvan: an open freight-corridor network model."""


def main() -> None:
    """Entry point of the ``karvan`` command."""
    try:
        app()
    except KeyboardInterrupt:  # before a command started (while importing, say)
        console.print("[yellow]interrupted[/]: nothing was written.", highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        # the process ends here: spare Python's last garbage collection the walk over every
        # object left (numba's registries alone take ~0.2 s of CPU); nothing is skipped
        import gc

        gc.freeze()
