"""Demand: OD matrices over an ordered list of zones, one matrix per named segment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from karvan.errors import InputError, format_ids

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Demand:
    """OD matrices: ``matrices[name][i, j]`` is the demand from ``zone_ids[i]`` to ``zone_ids[j]``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = Demand.from_long(pd.DataFrame({"origin": [1], "destination": [2], "volume": [6.0]}))
    >>> d.total()
    6.0
    """

    zone_ids: tuple
    matrices: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        n = len(self.zone_ids)
        problems = []
        if not isinstance(self.matrices, Mapping):
            raise TypeError(f"matrices must be a mapping of name -> square array, got "
                            f"{type(self.matrices).__name__}.")
        # lists of lists and integer arrays are taken as the float arrays the solvers use
        arrays = {}
        for name, m in self.matrices.items():
            try:
                arrays[name] = np.asarray(m, dtype=float)
            except (TypeError, ValueError):
                problems.append(f"matrix {name!r} is not a square array of numbers.")
        object.__setattr__(self, "matrices", arrays)
        for name, m in arrays.items():
            if m.shape != (n, n):
                problems.append(f"matrix {name!r} has shape {m.shape}, expected ({n}, {n}).")
            elif not np.all(np.isfinite(m)):
                problems.append(f"matrix {name!r} has NaN or infinite entries.")
            elif (m < 0).any():
                problems.append(f"matrix {name!r} has negative demand.")
        if len(set(self.zone_ids)) != n:
            problems.append("zone ids repeat.")
        if problems:
            raise InputError(problems, "demand")

    @property
    def names(self) -> list[str]:
        """The matrices' names."""
        return list(self.matrices)

    def total(self, name: str | None = None) -> float:
        """The sum of matrix ``name``, or of every matrix when ``name`` is None."""
        if name is not None:
            return float(self.matrices[name].sum())
        return float(sum(m.sum() for m in self.matrices.values()))

    @classmethod
    def from_long(
        cls,
        table: pd.DataFrame,
        *,
        origin: str = "origin",
        destination: str = "destination",
        value: str = "volume",
        segment: str | None = None,
        zone_ids: tuple | None = None,
    ) -> Demand:
        """Build from a long table of (origin, destination, [segment,] value) rows.

        Repeated (origin, destination, segment) rows are summed.

        Raises
        ------
        InputError
            When a column is missing, a value is missing, non-numeric or negative, a zone is
            not in ``zone_ids``, a row has a blank segment, or two segment values differ only
            in type.
        """
        import pandas as pd

        missing = [c for c in (origin, destination, value) if c not in table]
        if segment is not None and segment not in table:
            missing.append(segment)
        if missing:
            raise InputError(f"demand table lacks column(s) {', '.join(missing)}.")
        vals = pd.to_numeric(table[value], errors="coerce")
        bad = table.index[vals.isna() | (vals < 0)]
        if len(bad):
            raise InputError(
                f"{len(bad)} demand rows have a missing, non-numeric or negative {value} "
                f"(rows {format_ids(bad)})."
            )
        if zone_ids is None:
            zone_ids = tuple(pd.unique(pd.concat([table[origin], table[destination]])))
        index = {z: i for i, z in enumerate(zone_ids)}
        unknown = set(table[origin]) - index.keys() | (set(table[destination]) - index.keys())
        if unknown:
            raise InputError(
                f"demand names {len(unknown)} zones that are not in the network "
                f"({format_ids(sorted(map(str, unknown)))}); add them as zones or drop the rows."
            )
        if segment is not None:
            seg = table[segment]
            blank = table.index[seg.isna() | (seg.astype(str).str.strip() == "")]
            if len(blank):
                raise InputError(
                    f"{len(blank)} demand rows have no {segment} (rows {format_ids(blank)}); "
                    f"give each row its {segment}, or leave the column out for one matrix."
                )
            names = pd.Series(seg.unique()).astype(str)
            same = names[names.duplicated()].unique()
            if len(same):
                raise InputError(
                    f"demand {segment} values that differ only in type ({format_ids(same)}, "
                    f"e.g. 1 and '1') would name one matrix; write each the same way."
                )
        segs = [None] if segment is None else list(pd.unique(table[segment]))
        n = len(zone_ids)
        matrices = {}
        for s in segs:
            rows = table if s is None else table[table[segment] == s]
            m = np.zeros((n, n))
            oi = rows[origin].map(index).to_numpy()
            di = rows[destination].map(index).to_numpy()
            np.add.at(m, (oi, di), vals.loc[rows.index].to_numpy(dtype=float))
            matrices["demand" if s is None else str(s)] = m
        return cls(tuple(zone_ids), matrices)

    def to_long(self) -> pd.DataFrame:
        """Long table of non-zero entries: segment, origin, destination, volume."""
        import pandas as pd

        parts = []
        z = np.asarray(self.zone_ids, dtype=object)
        for name, m in self.matrices.items():
            i, j = np.nonzero(m)
            parts.append(pd.DataFrame({"segment": name, "origin": z[i], "destination": z[j],
                                       "volume": m[i, j]}))
        if not parts:
            return pd.DataFrame(columns=["segment", "origin", "destination", "volume"])
        return pd.concat(parts, ignore_index=True)
