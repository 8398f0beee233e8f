"""The report: one self-contained HTML file per set of runs, read from results, never
recomputed.

``write_report(runs, out, lang=...)`` writes a page with a scenario selector; with several runs,
each run other than the reference also shows a difference map and tables against it.
"""

from __future__ import annotations

from karvan.report.build import render_report, write_report
from karvan.report.i18n import LANGS
from karvan.report.results import RunResults, read_run, run_differences
from karvan.store import diff_table

__all__ = ["LANGS", "RunResults", "diff_table", "read_run", "render_report", "run_differences",
           "write_report"]
