"""Calibration: reported volumes against runs of their year, the fit/validate split and its
statistics, OD matrix estimation from counts, and parameter fitting."""

from __future__ import annotations

from karvan.calibrate.choice import (
    ChoiceFit,
    ChoiceParameter,
    calibrated_correlation,
    calibrated_table,
    fit_choice_parameters,
)
from karvan.calibrate.crossval import cv_summary, leave_one_source_out, source_family
from karvan.calibrate.independence import judge_independence
from karvan.calibrate.odme import OdmeResult, estimate_od, gls_estimate
from karvan.calibrate.parameters import (
    ParameterFit,
    fit_parameters,
    fit_rows,
    fit_to_table,
    update_parameter_table,
)
from karvan.calibrate.proportions import arc_proportions
from karvan.calibrate.statistics import (
    abs_log_ratio,
    geh_tonnes,
    row_statistics,
    summarize,
    summary_dict,
)
from karvan.calibrate.table import calibration_report, calibration_tables

__all__ = ["ChoiceFit", "ChoiceParameter", "OdmeResult", "ParameterFit", "abs_log_ratio",
           "arc_proportions", "calibrated_correlation", "calibrated_table", "calibration_report",
           "calibration_tables",
           "cv_summary",
           "estimate_od", "fit_choice_parameters", "fit_parameters", "fit_rows",
           "fit_to_table", "geh_tonnes", "gls_estimate", "judge_independence",
           "leave_one_source_out",
           "row_statistics", "source_family", "summarize", "summary_dict",
           "update_parameter_table"]
