"""Exceptions raised by karvan.

Every input problem is reported with what is wrong, where (file, line, id) and how to fix it.
Validators collect all problems first and raise once with the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


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
    """

    def __init__(self, problems: str | Sequence[str], source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        self.source = source
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


def format_ids(ids: Iterable[object], limit: int = 5) -> str:
    """Name up to ``limit`` ids, then a count of the rest: ``"17, 42, 90 and 3 more"``."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
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

    def add(self, message: str) -> None:
        self.items.append(message)

    def extend(self, messages: Iterable[str]) -> None:
        self.items.extend(messages)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, cls: type[InputError] = InputError) -> None:
        if self.items:
            raise cls(self.items, self.source)
