"""Printing :class:`~karvan.scenario.summary.SummaryTable` objects as rich tables."""

from __future__ import annotations

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
    left (:func:`number_widths`) and their headers (scenario names) fold onto more lines; where
    not even the numbers fit, the table is printed wider than the console, whole.
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
                t.add_column(str(c), justify="right", overflow="fold", width=fixed[c])
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


def number_widths(columns: list[tuple[str, int]], room: int) -> list[int | None]:
    """Widths of number columns (header, widest value) that share ``room`` characters: none
    where they fit as they are; else each at least its widest value and, where there is room
    for it, its header's longest word, the rest shared evenly up to each header's length; the
    widest values where not even they fit (the table is then wider than ``room``).

    >>> number_widths([("baseline", 5), ("reference_2030", 5)], 40)
    [None, None]
    >>> number_widths([("baseline", 5), ("reference_2030", 5), ("LP unserved Mt", 4)], 25)
    [8, 8, 8]
    >>> number_widths([("baseline", 5), ("reference_2030", 5)], 6)
    [5, 5]
    """
    from rich.cells import cell_len

    natural = [max(cell_len(h), w) for h, w in columns]
    if sum(natural) <= room:
        return [None] * len(columns)
    values = [w for _, w in columns]
    words = [max([w] + [cell_len(x) for x in h.split()]) for h, w in columns]
    floor = words if sum(words) <= room else values
    if sum(floor) > room:
        return values
    level = max(floor)
    while level < max(natural) and sum(min(n, max(f, level + 1))
                                       for n, f in zip(natural, floor, strict=True)) <= room:
        level += 1
    while sum(min(n, max(f, level)) for n, f in zip(natural, floor, strict=True)) > room:
        level -= 1
    return [min(n, max(f, level)) for n, f in zip(natural, floor, strict=True)]
