"""Exceptions raised by karvan.

Every input problem is reported with what is wrong, where (file, line, id) and how to fix it.
Validators collect all problems first and raise once with the whole list.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

#: longest value echoed in a message; longer ones are cut with a count of what was left out
SHOWN_CHARS = 40


class KarvanError(Exception):
    """Base class of karvan's own exceptions."""


class InputError(KarvanError, ValueError):
    """Bad input: a file, a table or an argument that cannot be used as given.

    Parameters
    ----------
    problems
        One message per problem found. All of them are shown.
    source
        The file or object the problems were found in, shown as a heading.
    violations
        The same problems one by one, with file, line, column and value, where the checker that
        found them keeps them (:class:`Violation`).

    Attributes
    ----------
    located
        Each problem with the source it was found in, as ``(source, problem)`` pairs: for an
        error of several sources (:func:`raise_by_source`), the problem without its source.
    """

    def __init__(self, problems: str | Sequence[str], source: str | None = None, *,
                 violations: Sequence[Violation] = ()) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        self.source = source
        self.violations: list[Violation] = list(violations)
        self.located: list[tuple[str | None, str]] = [(source, p) for p in self.problems]
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = head + f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


class NotFoundError(InputError, LookupError):
    """A run, job, table or scenario that the given name does not find (a web 404)."""


class NoPathError(InputError):
    """Demand between zones that the network does not connect."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before reaching the requested gap."""


class CostFactorWarning(UserWarning):
    """An assignment leaves out the cost weights a network's files state."""


#: held while a thread is inside :func:`catch_warnings`
_WARNINGS_LOCK = threading.RLock()
#: per thread: the lists :func:`recording_warnings` appends to
_RECORDING = threading.local()


@contextlib.contextmanager
def catch_warnings(*, record: bool = False) -> Iterator[list | None]:
    """:func:`warnings.catch_warnings`, entered by one thread at a time.

    The warnings module keeps its filters and its display in process-wide state, which
    ``catch_warnings`` saves on entry and restores on exit. Two threads inside at once (two
    scenario runs of the dashboard) restore each other's state in the wrong order and can leave
    a filter "ignore", or a recorder in place of the display, for the rest of the process.
    karvan's code enters it only through this function (a test holds it to that), and the
    code that runs in the dashboard's threads (applying and running a scenario) not at all: it
    takes what it would warn of as texts (:func:`karvan.scenario.apply.applied_and_said`). A
    thread that warns while another is inside still meets the other's filters meanwhile.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=record) as caught:
        yield caught


def _recording() -> list[list[str]]:
    lists = getattr(_RECORDING, "lists", None)
    if lists is None:
        lists = _RECORDING.lists = []
    return lists


class _Recorder(logging.Handler):
    """Appends karvan's log records at WARNING and above to the lists of the thread that logs
    them; prints them as Python's last-resort handler would where no other handler is
    configured (a handler of its own stops the last resort)."""

    users = 0  # recordings open, in all threads

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        for into in _recording():
            into.append(text)
        others, lg = False, logging.getLogger(record.name)
        while lg is not None and not others:
            others = any(h is not self for h in lg.handlers)
            lg = lg.parent if lg.propagate else None
        if not others and logging.lastResort is not None:
            logging.lastResort.handle(record)


_RECORDER = _Recorder(logging.WARNING)


def _show_and_record(shown):
    def show(message, category, filename, lineno, file=None, line=None):
        # a wrapper that another display wraps in turn (a batch names its warnings) can be
        # installed twice: the outermost records, the others pass the warning on
        if getattr(_RECORDING, "showing", False):
            shown(message, category, filename, lineno, file, line)
            return
        _RECORDING.showing = True
        try:
            if file is None and category.__module__.startswith("karvan"):
                for into in _recording():
                    into.append(str(message))
            shown(message, category, filename, lineno, file, line)
        finally:
            _RECORDING.showing = False
    show.karvan_records = True
    return show


@contextlib.contextmanager
def recording_warnings(into: list[str]) -> Iterator[list[str]]:
    """Append to ``into`` the text of each of karvan's warnings shown by this thread while the
    block runs, and of karvan's log records at WARNING and above; they are shown as before.

    Only warnings that are shown are recorded: the filters decide as always (Python's default
    shows a warning once per place and text in a process, a filter "error" raises it).
    Safe to use in several threads at once (the dashboard's runs): each records its own.
    """
    log = logging.getLogger("karvan")
    with _WARNINGS_LOCK:
        if not getattr(warnings.showwarning, "karvan_records", False):
            warnings.showwarning = _show_and_record(warnings.showwarning)
        if _Recorder.users == 0:
            log.addHandler(_RECORDER)
        _Recorder.users += 1
    lists = _recording()
    lists.append(into)
    try:
        yield into
    finally:
        # by identity: an inner recording's list may equal the outer one's (both empty)
        del lists[next(i for i, x in enumerate(lists) if x is into)]
        with _WARNINGS_LOCK:
            _Recorder.users -= 1
            if _Recorder.users == 0:
                log.removeHandler(_RECORDER)


@dataclass(frozen=True, slots=True)
class Violation:
    """One departure of an input from its schema, where it was found and how to fix it.

    Attributes
    ----------
    file
        File name (or table name for tables built in code).
    line
        1-based line of the file (the header is line 1), where known.
    column
        Column (field) name, where the problem is in one column.
    value
        The offending value as written, shortened (:func:`shorten`).
    problem
        What is wrong, in a few words (``"not a number"``, ``"below the minimum 0"``).
    fix
        What to do about it.
    row_id
        The row's id (``link_id``, ``zone_id``...), where the table has one.
    severity
        ``"error"`` stops reading; ``"warning"`` is reported and read leniently.
    """

    file: str | None
    line: int | None
    column: str | None
    value: str | None
    problem: str
    fix: str | None = None
    row_id: str | None = None
    severity: Literal["error", "warning"] = "error"


def shorten(value: object, limit: int = SHOWN_CHARS) -> str:
    """``value`` as text of at most about ``limit`` characters, saying how much was cut.

    Examples
    --------
    >>> shorten("x" * 100, 10)
    'xxxxxxxxxx... (100 characters)'
    """
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def format_ids(ids: Iterable[object], limit: int = 5) -> str:
    """Name up to ``limit`` ids, then a count of the rest: ``"17, 42, 90 and 3 more"``.

    Each id is shortened to :data:`SHOWN_CHARS` characters; a blank one is shown quoted.

    >>> format_ids(["", "a"])
    "'', a"
    """
    ids = list(ids)
    # a blank id is shown as one ('', not nothing between two commas)
    shown = ", ".join(repr(i) if isinstance(i, str) and not i.strip() else shorten(i)
                      for i in ids[:limit])
    if len(ids) > limit:
        shown += f" and {len(ids) - limit} more"
    return shown


class Problems:
    """Collects input problems, then raises them together.

    Examples
    --------
    >>> p = Problems("link.csv")
    >>> p.add("2 links have capacity <= 0 (link_id 4, 9); BPR needs positive capacity.")
    >>> bool(p)
    True
    """

    def __init__(self, source: str | None = None) -> None:
        self.source = source
        self.items: list[str] = []
        self.violations: list[Violation] = []

    def add(self, message: str, violations: Iterable[Violation] = ()) -> None:
        """Add one problem (and the violations it sums up, if any)."""
        self.items.append(message)
        self.violations.extend(violations)

    def extend(self, messages: Iterable[str]) -> None:
        """Add several problems."""
        self.items.extend(messages)

    def absorb(self, error: InputError) -> None:
        """Add the problems of an :class:`InputError` raised by a reader called on the way."""
        self.items.extend(error.problems)
        self.violations.extend(error.violations)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, cls: type[InputError] = InputError) -> None:
        """Raise ``cls`` with every problem collected, if there is any.

        Raises
        ------
        InputError
            When at least one problem was added.
        """
        if self.items:
            raise cls(self.items, self.source, violations=self.violations)


def raise_by_source(problems: Iterable[tuple[str | None, str]], *,
                    violations: Sequence[Violation] = ()) -> None:
    """Raise one :class:`InputError` of problems found in one or more sources (files), given as
    ``(source, problem)`` pairs, if there is any: headed by the source where they all come from
    one, else each problem led by its own. A problem given twice is shown once.

    Raises
    ------
    InputError
        When ``problems`` is not empty.

    Examples
    --------
    >>> raise_by_source([("a.toml", "year: missing."), ("b.toml", "name: missing."),
    ...                  ("a.toml", "year: missing.")])
    Traceback (most recent call last):
    ...
    karvan.errors.InputError: 2 problems:
      - a.toml: year: missing.
      - b.toml: name: missing.
    """
    pairs = list(dict.fromkeys(problems))
    if not pairs:
        return
    sources = {s for s, _ in pairs}
    if len(sources) == 1:
        raise InputError([p for _, p in pairs], next(iter(sources)), violations=violations)
    error = InputError([f"{s}: {p}" if s else p for s, p in pairs], violations=violations)
    error.located = pairs
    raise error
