"""Calibration: reported volumes against runs of their year, the fit/validate split and its
statistics, OD matrix estimation from counts, and parameter fitting."""

from __future__ import annotations

from karvan.calibrate.statistics import (
    abs_log_ratio,
    geh_tonnes,
    row_statistics,
    summarize,
    summary_dict,
)
from karvan.calibrate.table import calibration_tables

__all__ = ["abs_log_ratio", "calibration_tables", "geh_tonnes", "row_statistics", "summarize",
           "summary_dict"]
