"""Delivery connectors: GitHub and GitLab REST -> `changes`, `reviews`, `deployments`; a local git
repository -> `commit_files`.

They reuse the incident connectors' machinery (`engmetrics.incidents.connectors.common`): documents are
`Page`s, rows are `Converted` per document, problems an item has are `refuse()`d into the quarantine
with their reason, and `load` ingests them, so `read = inserted + updated + unchanged + quarantined`,
one read per vendor item, and re-ingesting the same documents changes nothing.

Bots (`settings.delivery.bots`, see `bots`): a bot's change, and a bot's commit in `commit_files`, is
ingested with `is_bot` = true (so the changes it shipped stay linkable and its merge commits still scope
changes by path; delivery metrics leave them out); a bot's review is left out before ingest and counted in
`skipped_bots` (not part of `read`). Deployments have no person column: bots do not apply to them.

Changes and deployments of one repository get the same `service` (`common.Context.service_of`), and the
deployment flags `is_hotfix` and `is_rollback` follow the rules in `common`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ...incidents.connectors.common import Page, load, read_pages
from ...ingest import IngestResult
from ...store import Store
from . import git, github, gitlab
from .common import Context, Conversion

__all__ = ["CONNECTORS", "DATASETS", "Context", "DeliveryConnector", "DeliveryResult", "connector_for",
           "ingest_delivery", "ingest_git"]

DATASETS = ("changes", "reviews", "deployments")


@dataclass(frozen=True)
class DeliveryConnector:
    """One vendor: the datasets it fills, its public API base, its converter and its live pull."""

    name: str
    datasets: tuple[str, ...]
    default_url: str
    convert: Callable[[Sequence[Page], str, Context], Conversion]
    fetch: Callable[[str, str, str, Context], list[Page]]


@dataclass
class DeliveryResult(IngestResult):
    """The ingest accounting plus the bot items left out before ingest (`--json` field `skipped_bots`)."""

    skipped_bots: int = 0


CONNECTORS = {m.__name__.rsplit(".", 1)[-1]: DeliveryConnector(m.__name__.rsplit(".", 1)[-1], m.DATASETS,
                                                                m.DEFAULT_URL, m.convert, m.fetch)
              for m in (github, gitlab)}


def connector_for(vendor: str, dataset: str) -> DeliveryConnector:
    """The connector named `vendor`, checked to fill `dataset`; InputError otherwise."""
    connector = CONNECTORS.get(vendor)
    if connector is None:
        raise InputError(f"--from: unknown source {vendor!r} for {dataset}; one of {', '.join(CONNECTORS)}")
    if dataset not in connector.datasets:
        raise InputError(f"--from {vendor} fills {', '.join(connector.datasets)}, not {dataset}")
    return connector


def _loaded(store: Store, dataset: str, conversion: Conversion, pseudonym_key: bytes | None, strict: bool,
            assume_tz: str | None) -> DeliveryResult:
    result = load(store, dataset, conversion.converted, pseudonym_key=pseudonym_key, strict=strict,
                  assume_tz=assume_tz)
    return DeliveryResult(**vars(result), skipped_bots=conversion.skipped_bots)


def ingest_delivery(store: Store, connector: DeliveryConnector, dataset: str, context: Context, *,
                    files: Sequence[Path] = (), token: str | None = None, url: str | None = None,
                    pseudonym_key: bytes | None = None, strict: bool = False, assume_tz: str | None = None,
                    ) -> DeliveryResult:
    """Convert the recorded `files`, or with `token` the live API at `url` (default: the vendor's), and
    ingest the `dataset` rows. Exactly one of `files` and `token` must be given."""
    if bool(files) == bool(token):
        raise InputError("give recorded FILEs or --token for a live pull (not both)")
    if dataset not in connector.datasets:
        raise InputError(f"--from {connector.name} fills {', '.join(connector.datasets)}, not {dataset}")
    pages = read_pages(files) if files else connector.fetch(token or "", url or connector.default_url, dataset,
                                                             context)
    return _loaded(store, dataset, connector.convert(pages, dataset, context), pseudonym_key, strict, assume_tz)


def ingest_git(store: Store, path: Path, context: Context, *, pseudonym_key: bytes | None = None,
               strict: bool = False) -> DeliveryResult:
    """Ingest the `commit_files` of the local git repository at `path` (see `git`)."""
    return _loaded(store, git.DATASET, git.convert(path, context), pseudonym_key, strict, None)
