"""The indicator catalog: definitions in `metrics/*.yaml`, their loader and lint rules, evaluation with
RAG status, and the scorecard. See docs/catalog.md for the format and semantics."""

from .calculators import CALCULATORS, CalculatorResult, register_calculator
from .evaluate import MetricResult, evaluate, save_results
from .lint import lint
from .loader import Catalog, CatalogReport, Definition, check_catalog, load_catalog
from .model import Indicator, Thresholds
from .periods import Period, current_and_previous, default_as_of
from .rag import rag_status
from .version import definition_version

__all__ = [
    "CALCULATORS", "CalculatorResult", "Catalog", "CatalogReport", "Definition", "Indicator", "MetricResult",
    "Period", "Thresholds", "check_catalog", "current_and_previous", "default_as_of", "definition_version",
    "evaluate", "lint", "load_catalog", "rag_status", "register_calculator", "save_results",
]
