"""SLOs: OpenSLO and Sloth specs in (`slos/*.yaml`), validated with file and line on every issue.

>>> from engmetrics.slo import check_files
>>> check_files([]).issues
[]
"""

from __future__ import annotations

from .loader import SloReport, SloSet, SpecDocument, check_files, check_slos, load_slos, slos_dir

__all__ = ["SloReport", "SloSet", "SpecDocument", "check_files", "check_slos", "load_slos", "slos_dir"]
