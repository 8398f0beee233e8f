"""Printing :class:`~karvan.scenario.summary.SummaryTable` objects as rich tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rich.console import Console

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


def print_tables(tables: Iterable[SummaryTable], console: Console) -> None:
    """Print each table: numbers right-aligned in their formats, missing values as ``-``."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    from rich.table import Table

    for st in tables:
        df = st.data
        t = Table(title=st.title, title_justify="left")
        numeric = {c for c in df.columns
                   if is_numeric_dtype(df[c].dtype) and not is_bool_dtype(df[c].dtype)}
        for c in df.columns:
            t.add_column(str(c), justify="right" if c in numeric else "left")
        for row in df.itertuples(index=False):
            t.add_row(*[_cell(v, st.formats.get(c)) for c, v in zip(df.columns, row, strict=True)])
        console.print(t)
