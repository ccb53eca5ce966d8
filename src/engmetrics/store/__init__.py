"""The store: connection, dataset registry, migrations."""

from .connection import Store
from .datasets import REGISTRY
from .registry import Column, Dataset, Rule

__all__ = ["REGISTRY", "Column", "Dataset", "Rule", "Store"]
