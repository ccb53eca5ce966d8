"""`POST /api/v1/datasets/{dataset}/ingest`: upload files into a dataset, with the CLI's accounting."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from ...ingest import FORMATS, ingest_files
from ...ingest.keys import ingest_key
from ...store import REGISTRY
from ...telemetry.clocks import ingest_rules
from ..auth import WRITERS, requires
from ..deps import SettingsDep, WriteStoreDep
from ..problems import Problem, bad_parameter

router = APIRouter(tags=["ingest"])


class IngestAccounting(BaseModel):
    """`read == inserted + updated + unchanged + quarantined`, as `engmetrics ingest --json`."""

    dataset: str
    files: list[str]
    read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    replaced: int | None = Field(None, description="stored rows of the batch's partitions that it no longer has "
                                 "(datasets replaced by partition, such as cost); absent for the others")


def _upload_name(upload: UploadFile, index: int) -> str:
    """The upload's own base name (its suffix picks the format), stripped of any directories."""
    raw = upload.filename or ""
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    if name in ("", ".", ".."):
        raise bad_parameter("files", f"upload {index + 1} has no file name; its suffix names the format", "body")
    return name


@router.post("/datasets/{dataset}/ingest", dependencies=[requires(*WRITERS)], response_model_exclude_none=True)
def ingest_dataset(
    dataset: str, store: WriteStoreDep, settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description="CSV, JSON Lines or Parquet files, optionally .gz.")],
    fmt: Annotated[str | None, Form(alias="format", description=f"One of {', '.join(FORMATS)} "
                                                                 "(default: by file suffix).")] = None,
    assume_tz: Annotated[str | None, Form(description="IANA zone for timestamps without an offset.")] = None,
    strict: Annotated[bool, Form(description="Fail the whole batch if any row is invalid.")] = False,
) -> IngestAccounting:
    """Validate and load the uploaded files into `dataset` in one transaction; invalid rows go to the
    quarantine under the uploaded file names."""
    if dataset not in REGISTRY:
        raise Problem(404, f"unknown dataset {dataset!r}; see GET /api/v1/datasets")
    names = [_upload_name(u, i) for i, u in enumerate(files)]
    key = ingest_key(store, settings.pseudonym_key_file)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="engmetrics-upload-") as tmp:
        paths = []
        for index, (upload, name) in enumerate(zip(files, names, strict=True)):
            path = Path(tmp) / str(index) / name
            path.parent.mkdir()
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out)
            paths.append(path)
        result = ingest_files(store, dataset, paths, fmt=fmt, assume_tz=assume_tz, strict=strict,
                              pseudonym_key=key, names=names, bots=settings.delivery.bots,
                              rules=ingest_rules(dataset, settings.telemetry.clocks))
    return IngestAccounting.model_validate(result.as_dict())
