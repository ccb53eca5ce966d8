"""Experiments on process changes: did a change to how teams work move an operational indicator?

A spec (`experiments/NAME.yaml`, see `spec`) names the indicator, the units (teams or services) treated and
not, and the periods before and after the change. The engine computes the indicator per unit and day or
week with the catalog's own calculation (`panel`); the statistics finish in numpy/scipy on those small
arrays: Welch, permutation and CUPED (`stats`), difference-in-differences with randomisation inference
(`did`), interrupted time series with Newey-West errors (`its`), the sample-ratio and power checks (`power`).
`analyze` picks the method and returns the result; `design` sizes and randomises an experiment.
"""

from .analyze import Analysis, analyze, choose_method
from .design import Design, assign, design
from .spec import ExperimentSpec, SpecFile, experiments_dir, list_specs, load_spec

__all__ = ["Analysis", "Design", "ExperimentSpec", "SpecFile", "analyze", "assign", "choose_method", "design",
           "experiments_dir", "list_specs", "load_spec"]
