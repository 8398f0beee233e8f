"""Printing :class:`~karvan.scenario.summary.SummaryTable` objects as rich tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from karvan.scenario.summary import SummaryTable


def _cell(v: object, fmt: str | None) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if fmt is not None:
        try:
            return fmt.format(v)
        except (TypeError, ValueError):
            return str(v)
    return str(v)


#: widest a text column of ids and names is kept on one line; wider text (notes) wraps
TEXT_WIDTH = 48


def print_tables(tables: Iterable[SummaryTable], console: Console) -> None:
    """Print each table: numbers right-aligned in their formats, missing values as ``-``.

    Ids and names are never cut short: a text column up to ``TEXT_WIDTH`` characters keeps its
    widest value on one line (three families cut to ``sea_sue…`` could not be told apart), wider
    text wraps. Where the table is wider than the console, the number columns share what is
    left (:func:`number_widths`) and their headers (scenario names) fold onto more lines, at
    spaces and after underscores where they can (:func:`wrap_header`); where not even the
    numbers fit, the table is printed wider than the console, whole.
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    from rich.cells import cell_len
    from rich.table import Table

    for st in tables:
        df = st.data
        t = Table(title=st.title, title_justify="left")
        numeric = {c for c in df.columns
                   if is_numeric_dtype(df[c].dtype) and not is_bool_dtype(df[c].dtype)}
        rows = [[_cell(v, st.formats.get(c)) for c, v in zip(df.columns, row, strict=True)]
                for row in df.itertuples(index=False)]
        widest = {c: max((cell_len(r[j]) for r in rows), default=0)
                  for j, c in enumerate(df.columns)}
        keys = [c for c in df.columns if c not in numeric and widest[c] <= TEXT_WIDTH]
        nums = [c for c in df.columns if c in numeric]
        # the box: a border each side of every column and a space of padding each side
        room = console.width - (3 * len(df.columns) + 1) - sum(
            max(widest[c], cell_len(str(c))) for c in df.columns if c not in nums)
        fixed = dict(zip(nums, number_widths([(str(c), widest[c]) for c in nums], room),
                         strict=True))
        for c in df.columns:
            if c in keys:  # ids and names: whole, on one line
                t.add_column(str(c), no_wrap=True, min_width=widest[c] or None)
            elif c in numeric:
                head = str(c) if fixed[c] is None else wrap_header(str(c), fixed[c])
                t.add_column(head, justify="right", overflow="fold", width=fixed[c])
            else:
                t.add_column(str(c), overflow="fold")
        for r in rows:
            t.add_row(*r)
        print_whole(t, console)


def print_whole(table: Table, console: Console) -> None:
    """Print ``table`` whole: where the minimum widths of its columns (ids kept on one line)
    add up to more than the console's width, the table is that wide and its lines wrap in a
    terminal; rich would otherwise squeeze a column to nothing or crop the lines."""
    from rich.measure import Measurement

    need = Measurement.get(console, console.options.update_width(10_000), table).minimum
    if need > console.width:
        table.width = need
    console.print(table, crop=False)


def header_pieces(header: str) -> list[list[str]]:
    """The words of a header, each cut after its underscores: where a header may break.

    >>> header_pieces("tonnes_tot Mt reference_2030")
    [['tonnes_', 'tot'], ['Mt'], ['reference_', '2030']]
    """
    return [re.findall(r"[^_]*_+|[^_]+", w) for w in header.split()]


def wrap_header(header: str, width: int) -> str:
    r"""``header`` on lines of at most ``width`` characters, broken at spaces and after
    underscores (``south_caucasus_`` / ``unblocked``); a piece longer than ``width`` is cut.

    >>> wrap_header("south_caucasus_unblocked", 10)
    'south_\ncaucasus_\nunblocked'
    >>> wrap_header("tonnes_tot Mt baseline", 10)
    'tonnes_tot\nMt\nbaseline'
    """
    from rich.cells import cell_len

    lines = [""]
    for word in header_pieces(header):
        for k, piece in enumerate(word):
            glue = " " if k == 0 and lines[-1] else ""
            if cell_len(lines[-1] + glue + piece) <= width:
                lines[-1] += glue + piece
                continue
            if lines[-1]:
                lines.append("")
            while cell_len(piece) > width:  # no break in it: cut
                lines[-1] = piece[:width]
                lines.append("")
                piece = piece[width:]
            lines[-1] = piece
    return "\n".join(x for x in lines if x)


def number_widths(columns: list[tuple[str, int]], room: int) -> list[int | None]:
    """Widths of number columns (header, widest value) that share ``room`` characters: none
    where they fit as they are; else each at least its widest value and, where there is room
    for it, its header's longest piece (a word, cut after its underscores:
    :func:`header_pieces`), the rest shared evenly up to each header's length; where not every
    header's longest piece fits, as many as fit, the shortest first; the widest values where
    not even they fit (the table is then wider than ``room``).

    >>> number_widths([("baseline", 5), ("reference_2030", 5)], 40)
    [None, None]
    >>> number_widths([("baseline", 5), ("reference_2030", 5), ("LP unserved Mt", 4)], 25)
    [8, 8, 8]
    >>> number_widths([("baseline", 5), ("reference_2030", 5)], 17)
    [8, 9]
    >>> number_widths([("baseline", 5), ("south_caucasus_unblocked", 5)], 14)
    [8, 6]
    >>> number_widths([("baseline", 5), ("reference_2030", 5)], 6)
    [5, 5]
    """
    from rich.cells import cell_len

    natural = [max(cell_len(h), w) for h, w in columns]
    if sum(natural) <= room:
        return [None] * len(columns)
    values = [w for _, w in columns]
    if sum(values) > room:
        return values
    words = [max([w] + [cell_len(p) for word in header_pieces(h) for p in word])
             for h, w in columns]
    floor = list(values)
    spare = room - sum(values)
    # each header's longest piece whole, the cheapest first, as far as the room goes
    for i in sorted(range(len(columns)), key=lambda i: words[i] - values[i]):
        if words[i] - values[i] <= spare:
            spare -= words[i] - values[i]
            floor[i] = words[i]
    level = max(floor)
    while level < max(natural) and sum(min(n, max(f, level + 1))
                                       for n, f in zip(natural, floor, strict=True)) <= room:
        level += 1
    while sum(min(n, max(f, level)) for n, f in zip(natural, floor, strict=True)) > room:
        level -= 1
    return [min(n, max(f, level)) for n, f in zip(natural, floor, strict=True)]
