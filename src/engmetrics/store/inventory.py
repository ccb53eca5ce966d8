"""What is in the store: datasets with their row counts, and the quarantine."""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from .connection import Store
from .datasets import REGISTRY

__all__ = ["DatasetInfo", "dataset_inventory", "quarantine_rows"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    key: list[str]
    columns: list[dict[str, str]]
    rows: int


def dataset_inventory(store: Store) -> list[DatasetInfo]:
    """Every registered dataset with its schema and current row count."""
    return [
        DatasetInfo(ds.name, ds.description, list(ds.key),
                    [{"name": c.name, "type": c.type} for c in ds.columns], store.count(ds.name))
        for ds in REGISTRY.values()
    ]


def quarantine_rows(store: Store, dataset: str | None = None, limit: int | None = None) -> list[dict]:
    """Quarantined rows, newest batch first, then by file and line."""
    table = store.table("_quarantine")
    if dataset:
        REGISTRY.get_dataset(dataset)
        table = table.filter(table.dataset == dataset)
    ordered = table.order_by([ibis.desc("quarantined_at"), "source_file", "line"])
    if limit:
        ordered = ordered.limit(limit)
    columns = ["dataset", "source_file", "line", "column", "reason", "record", "quarantined_at", "batch_id"]
    return ordered.select(columns).to_pyarrow().to_pylist()
