"""Calibration: reported volumes against runs of their year, the fit/validate split and its
statistics, OD matrix estimation from counts, and parameter fitting."""

from __future__ import annotations

from karvan.calibrate.odme import OdmeResult, estimate_od, gls_estimate
from karvan.calibrate.proportions import arc_proportions
from karvan.calibrate.statistics import (
    abs_log_ratio,
    geh_tonnes,
    row_statistics,
    summarize,
    summary_dict,
)
from karvan.calibrate.table import calibration_tables

__all__ = ["OdmeResult", "abs_log_ratio", "arc_proportions", "calibration_tables",
           "estimate_od", "geh_tonnes", "gls_estimate", "row_statistics", "summarize",
           "summary_dict"]
