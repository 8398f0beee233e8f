"""The calibration table of a run: every reported volume against the run of its year, with the
statistics of docs/dataset.md ("Calibration and validation"), fit and validation apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from karvan.calibrate.statistics import row_statistics, summarize
from karvan.freight.accounting import calibration, calibration_with_cells
from karvan.freight.observed import RunFlows


def calibration_tables(observed: pd.DataFrame, runs: Mapping[int, RunFlows], *,
                       link_table: pd.DataFrame, zone_country: Mapping[str, str],
                       commodities: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-row table and the per-set summary.

    Returns
    -------
    (DataFrame, DataFrame)
        ``calibration``: :func:`karvan.freight.accounting.calibration` with ``abs_log_ratio``,
        ``geh``, ``within_30pct``, ``beyond_factor_2`` and ``set``; ``calibration_summary``: one
        row per set (:func:`karvan.calibrate.statistics.summarize`).

    Raises
    ------
    InputError
        From :func:`karvan.freight.observed.parse_observations`.
    """
    table = row_statistics(calibration(observed, runs, link_table=link_table,
                                       zone_country=zone_country, commodities=commodities))
    return table, summarize(table)


def calibration_report(observed: pd.DataFrame, runs: Mapping[int, RunFlows], *,
                       link_table: pd.DataFrame, zone_country: Mapping[str, str],
                       commodities: Iterable[str]
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`calibration_tables` and the table of what each compared row is made of
    (``calibration_cells``: one row per observation and demand cell that adds to it,
    :func:`karvan.freight.accounting.calibration_with_cells`).

    Raises
    ------
    InputError
        From :func:`karvan.freight.observed.parse_observations`.
    """
    table, cells = calibration_with_cells(observed, runs, link_table=link_table,
                                          zone_country=zone_country, commodities=commodities)
    table = row_statistics(table)
    return table, summarize(table), cells
