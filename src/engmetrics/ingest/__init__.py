"""Ingestion that loses nothing: readers, validation, quarantine and idempotent upserts."""

from .engine import IngestResult, ingest_files
from .sources import FORMATS

__all__ = ["FORMATS", "IngestResult", "ingest_files"]
