"""SLOs: OpenSLO and Sloth specs in (`slos/*.yaml`), validated with file and line on every issue; indicator
sources (good and total per time bucket) from the store in `engmetrics.slo.sources`.

>>> from engmetrics.slo import check_files
>>> check_files([]).issues
[]
"""

from __future__ import annotations

from .budget import BudgetResult, slice_seconds
from .engine import error_budget, objective_budget
from .loader import SloReport, SloSet, SpecDocument, check_files, check_slos, load_slos, slos_dir
from .sources import bad_total, counter_increase, histogram_good_total, ratio_source, sli_events_source

__all__ = [
    "BudgetResult",
    "SloReport",
    "SloSet",
    "SpecDocument",
    "bad_total",
    "check_files",
    "check_slos",
    "counter_increase",
    "error_budget",
    "histogram_good_total",
    "load_slos",
    "objective_budget",
    "ratio_source",
    "sli_events_source",
    "slice_seconds",
    "slos_dir",
]
