"""The canonical datasets with their row counts, and the quarantine of refused rows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...store import REGISTRY
from ...store.inventory import dataset_inventory, quarantine_rows
from ..auth import AUDITORS, READERS, requires
from ..deps import StoreDep
from ..problems import bad_parameter

router = APIRouter(tags=["datasets"])


@router.get("/datasets", dependencies=[requires(*READERS)])
def list_datasets(store: StoreDep) -> list[dict[str, Any]]:
    """Every dataset: name, description, key, columns and current row count."""
    return [asdict(info) for info in dataset_inventory(store)]


@router.get("/quarantine", dependencies=[requires(*AUDITORS)])
def list_quarantine(store: StoreDep,
                    dataset: Annotated[str | None, Query(description="Only this dataset.")] = None,
                    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many rows.")] = 1000,
                    ) -> list[dict[str, Any]]:
    """Rows refused at ingest, newest batch first: dataset, file, line, column, reason and the record."""
    if dataset is not None and dataset not in REGISTRY:
        raise bad_parameter("dataset", f"unknown dataset {dataset!r}; known: {', '.join(REGISTRY)}")
    return quarantine_rows(store, dataset, limit)
