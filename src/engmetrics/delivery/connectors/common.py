"""What the delivery connectors share beyond `engmetrics.incidents.connectors.common` (which they reuse
for pages, refusals, HTTP and loading): the conversion context, its result, and environment names.

Environments: a vendor environment name is stored lower-cased, so several production environments
(`prod-eu`, `prod-us`) stay apart; which ones count as production is `settings.delivery.production_environments`
(compared case-insensitively by the metrics).

>>> from engmetrics.settings import DeliverySettings
>>> context = Context(DeliverySettings(production_environments=["production", "prod-eu"]))
>>> environment("Prod-EU", context), environment("Staging", context), environment(None, context)
('prod-eu', 'staging', None)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...incidents.connectors.common import Converted, parse_utc
from ...settings import DeliverySettings

__all__ = ["Context", "Conversion", "earliest", "environment"]


@dataclass(frozen=True)
class Context:
    """How to convert: the delivery settings (bots, production environments), the repository
    (`owner/name`, GitLab `group/project`) when the documents do not name it, the service of
    deployments (default: the repository's last path part), and the live page size."""

    settings: DeliverySettings = field(default_factory=DeliverySettings)
    repo: str | None = None
    service: str | None = None
    page_size: int = 100

    def service_of(self, repo: str) -> str:
        """The `service` of a deployment of `repo`."""
        return self.service or repo.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Conversion:
    """The rows to load (one `Converted` per document) and how many bot items were left out."""

    converted: list[Converted] = field(default_factory=list)
    skipped_bots: int = 0


def environment(name: Any, context: Context) -> Any:
    """The stored environment for a vendor environment `name` (see the module docstring)."""
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip().lower()


def earliest(values: Iterable[Any]) -> datetime | None:
    """The earliest of ISO-8601 texts with offsets (unreadable ones ignored); None when there is none."""
    times = [t for t in (parse_utc(v) for v in values) if t is not None]
    return min(times) if times else None
