"""Is a reported volume independent of the inputs? The judgement lives in
:mod:`karvan.freight.independence`, where the dataset's loader also applies it."""

from __future__ import annotations

from karvan.freight.independence import GENERIC_SOURCES, judge_independence

__all__ = ["GENERIC_SOURCES", "judge_independence"]
