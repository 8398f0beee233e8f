"""CSV tables from columns of arrays, without pandas.

The text is what ``pandas.DataFrame(columns).to_csv(path, index=False)`` writes: floats in their
shortest round-trip form, missing values (NaN, None) as empty fields, minimal quoting. Commands
that write plain result tables (``karvan assign``) use it so that they need not load pandas.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping

import numpy as np


def _texts(values) -> list[str]:
    a = np.asarray(values)
    if a.dtype.kind == "f":
        return ["" if math.isnan(x) else repr(x) for x in a.tolist()]
    if a.dtype.kind in "iub":
        return [str(x) for x in a.tolist()]
    out = []
    for x in a.tolist():
        if x is None or (isinstance(x, float) and math.isnan(x)):
            out.append("")
        else:
            out.append(str(x))
    return out


def write_csv(path: str | os.PathLike, columns: Mapping[str, object]) -> None:
    """Write ``columns`` (name -> values, all of one length) as a CSV table with a header.

    Raises
    ------
    ValueError
        When the columns differ in length.
    """
    names = list(columns)
    cols = [_texts(columns[n]) for n in names]
    lengths = {len(c) for c in cols}
    if len(lengths) > 1:
        raise ValueError("columns differ in length: "
                         f"{dict(zip(names, map(len, cols), strict=True))}")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        w.writerows(zip(*cols, strict=True))
