"""The canonical datasets with their row counts, and the quarantine of refused rows (raw rows: scoped by the
access policy and audited, see `engmetrics.governance.access`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...governance.access import quarantine_for
from ...store import REGISTRY
from ...store.inventory import dataset_inventory
from ..auth import AUDITORS, READERS, requires
from ..deps import AccessDep, StoreDep
from ..problems import bad_parameter

router = APIRouter(tags=["datasets"])


@router.get("/datasets", dependencies=[requires(*READERS)])
def list_datasets(store: StoreDep) -> list[dict[str, Any]]:
    """Every dataset: name, description, key, columns and current row count."""
    return [asdict(info) for info in dataset_inventory(store)]


@router.get("/quarantine", dependencies=[requires(*AUDITORS)])
def list_quarantine(store: StoreDep, access: AccessDep,
                    dataset: Annotated[str | None, Query(description="Only this dataset.")] = None,
                    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many rows.")] = 1000,
                    ) -> list[dict[str, Any]]:
    """Rows refused at ingest, newest batch first: dataset, file, line, column, reason and the record. Only
    rows of datasets the access policy lets the role read (`policies/access.yaml`; those needing a reason only
    with one; naming such a dataset answers 403 or 428); the datasets shown are written to the audit log."""
    if dataset is not None and dataset not in REGISTRY:
        raise bad_parameter("dataset", f"unknown dataset {dataset!r}; known: {', '.join(REGISTRY)}")
    return quarantine_for(store, access, dataset, limit)
