"""Vendor connectors: PagerDuty, incident.io and GitHub issues -> `incidents`; Opsgenie -> `alerts`.

Each connector reads the vendor's documented JSON (recorded files, or the live API with a token) and
loads it through the normal ingestion, so every vendor item is accounted for
(`read = inserted + updated + unchanged + quarantined`), bad items are quarantined with a reason, and
re-ingesting the same data changes nothing. See `common` for how vendor-level reasons reach the
quarantine, and each module for its field mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ...ingest import IngestResult
from ...settings import IncidentSettings
from ...store import Store
from . import github, incidentio, opsgenie, pagerduty
from .common import Converted, Options, Page, load, read_pages

__all__ = ["CONNECTORS", "Connector", "Options", "connector_for", "ingest_vendor"]


@dataclass(frozen=True)
class Connector:
    """One vendor: the dataset it fills, its public API base, its converter and its live pull."""

    name: str
    dataset: str
    default_url: str
    convert: Callable[[Sequence[Page], IncidentSettings, Options | None], list[Converted]]
    fetch: Callable[[str, str, Options | None], list[Page]]


CONNECTORS = {m.__name__.rsplit(".", 1)[-1]: Connector(m.__name__.rsplit(".", 1)[-1], m.DATASET, m.DEFAULT_URL,
                                                        m.convert, m.fetch)
              for m in (pagerduty, opsgenie, incidentio, github)}


def connector_for(vendor: str, dataset: str) -> Connector:
    """The connector named `vendor`, checked to fill `dataset`; InputError otherwise."""
    connector = CONNECTORS.get(vendor)
    if connector is None:
        raise InputError(f"--from: unknown source {vendor!r}; one of {', '.join(CONNECTORS)}")
    if connector.dataset != dataset:
        raise InputError(f"--from {vendor} fills dataset {connector.dataset}, not {dataset}")
    return connector


def ingest_vendor(store: Store, connector: Connector, settings: IncidentSettings, *, files: Sequence[Path] = (),
                  token: str | None = None, url: str | None = None, options: Options | None = None,
                  pseudonym_key: bytes | None = None, strict: bool = False, assume_tz: str | None = None,
                  ) -> IngestResult:
    """Convert the recorded `files`, or with `token` the live API at `url` (default: the vendor's), and
    ingest the rows into the connector's dataset. Exactly one of `files` and `token` must be given."""
    if bool(files) == bool(token):
        raise InputError("give recorded FILEs or --token for a live pull (not both)")
    pages = read_pages(files) if files else connector.fetch(token or "", url or connector.default_url, options)
    converted = connector.convert(pages, settings, options)
    return load(store, connector.dataset, converted, pseudonym_key=pseudonym_key, strict=strict, assume_tz=assume_tz)
